//! Multi-record writes: `POST /api/v1/data/:object/{createMany, updateMany, deleteMany, batch}` and the
//! cross-object `POST /api/v1/batch`, answered as the real server answers them.
//!
//! * `createMany` and `/batch` are all or nothing: the first failing record's error is the whole answer, worded
//!   as for one write (the cross-object batch's without `object`).
//! * `updateMany`, `deleteMany` and the per-object `batch` answer 200 with one result per record. Without
//!   `options.continueOnError` they stop at the first failure (what came before stays written, the rest is
//!   `NOT_ATTEMPTED`); with `options.atomic: true` the first failure rolls everything back (`ROLLED_BACK`).
//!
//! Every record goes through `Kernel::execute` as the caller; an atomic run is one `DataOp::Batch`, so one
//! transaction. Sizes are bounded by [`limits::MAX_WRITE_BATCH`].

use super::data::{caller_on, invalid_type};
use super::errors::{ApiError, row_error};
use super::{JsonBody, Shared, identity, json_response};
use crate::data::driver::Record;
use crate::data::error::{DataError, FieldError};
use crate::data::limits;
use crate::kernel::{DataOp, OpResult, Principal};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;
use serde_json::{Map, Value, json};

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/api/v1/data/{object}/createMany", post(create_many))
        .route("/api/v1/data/{object}/updateMany", post(update_many))
        .route("/api/v1/data/{object}/deleteMany", post(delete_many))
        .route("/api/v1/data/{object}/batch", post(object_batch))
        .route("/api/v1/batch", post(batch))
}

// ---------------------------------------------------------------------------------------------------------
// Request shapes, checked as the real server's schemas check them (zod 4 issues).

/// A path into the request body, as a zod issue names it: `["operations", 0, "action"]`.
#[derive(Clone, Default)]
struct At(Vec<Value>);

impl At {
    fn key(&self, k: &str) -> At {
        let mut p = self.0.clone();
        p.push(json!(k));
        At(p)
    }

    fn item(&self, i: usize) -> At {
        let mut p = self.0.clone();
        p.push(json!(i));
        At(p)
    }

    /// `records.0.id`, the field name of a refusal's `fields`.
    fn dotted(&self) -> String {
        self.0
            .iter()
            .map(|s| match s {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join(".")
    }
}

/// What zod calls a value's type in `received …`.
fn kind_of(v: Option<&Value>) -> &'static str {
    match v {
        None => "undefined",
        Some(Value::Null) => "null",
        Some(Value::Bool(_)) => "boolean",
        Some(Value::Number(_)) => "number",
        Some(Value::String(_)) => "string",
        Some(Value::Array(_)) => "array",
        Some(Value::Object(_)) => "object",
    }
}

/// The issues found in one request body, in the order zod reports them.
#[derive(Default)]
struct Issues(Vec<Value>);

impl Issues {
    fn wrong_type(&mut self, at: &At, expected: &str, got: Option<&Value>) {
        self.0.push(
            json!({"expected": expected, "code": "invalid_type", "path": at.0,
            "message": format!("Invalid input: expected {expected}, received {}", kind_of(got))}),
        );
    }

    /// `v` must be a JSON object (`record` for data, `object` for a schema's own object).
    fn object<'a>(
        &mut self,
        at: &At,
        v: Option<&'a Value>,
        expected: &str,
    ) -> Option<&'a Map<String, Value>> {
        match v {
            Some(Value::Object(m)) => Some(m),
            other => {
                self.wrong_type(at, expected, other);
                None
            }
        }
    }

    fn array<'a>(&mut self, at: &At, v: Option<&'a Value>) -> Option<&'a Vec<Value>> {
        match v {
            Some(Value::Array(a)) => Some(a),
            other => {
                self.wrong_type(at, "array", other);
                None
            }
        }
    }

    fn string(&mut self, at: &At, v: Option<&Value>) {
        if !matches!(v, Some(Value::String(_))) {
            self.wrong_type(at, "string", v);
        }
    }

    fn optional(&mut self, at: &At, v: Option<&Value>, expected: &str) {
        let ok = matches!(
            (v, expected),
            (None, _)
                | (Some(Value::String(_)), "string")
                | (Some(Value::Bool(_)), "boolean")
                | (Some(Value::Object(_)), "record" | "object")
        );
        if !ok {
            self.wrong_type(at, expected, v);
        }
    }

    fn one_of(&mut self, at: &At, v: Option<&Value>, values: &[&str]) {
        if v.and_then(Value::as_str)
            .is_some_and(|s| values.contains(&s))
        {
            return;
        }
        let listed = values
            .iter()
            .map(|v| format!("\"{v}\""))
            .collect::<Vec<_>>()
            .join("|");
        self.0.push(
            json!({"code": "invalid_value", "values": values, "path": at.0,
            "message": format!("Invalid option: expected one of {listed}")}),
        );
    }

    /// `options` of a multi-record write (`BatchOptions`).
    fn options(&mut self, body: &Map<String, Value>) {
        let at = At::default().key("options");
        if body.contains_key("options")
            && let Some(o) = self.object(&at, body.get("options"), "object")
        {
            for flag in ["atomic", "returnRecords", "continueOnError"] {
                self.optional(&at.key(flag), o.get(flag), "boolean");
            }
        }
    }

    /// The refusal of a per-object route: `{error: title, code, fields: [{field, code, message}], object}`.
    fn refusal(self, object: &str, title: &str, input: &Value) -> Result<(), ApiError> {
        if self.0.is_empty() {
            return Ok(());
        }
        let fields = self
            .0
            .iter()
            .map(|issue| {
                let path: Vec<Value> = issue["path"].as_array().cloned().unwrap_or_default();
                let present = path
                    .iter()
                    .try_fold(input, |v, seg| match seg {
                        Value::String(k) => v.get(k),
                        Value::Number(n) => n.as_u64().and_then(|i| v.get(i as usize)),
                        _ => None,
                    })
                    .is_some();
                let code = match issue["code"].as_str() {
                    Some("invalid_type") if !present => "required",
                    Some("invalid_type") => "invalid_type",
                    Some("invalid_value") => "invalid_option",
                    _ => "invalid_value",
                };
                let mut f = FieldError::new(
                    &At(path).dotted(),
                    "",
                    code,
                    issue["message"].as_str().unwrap_or_default().to_string(),
                );
                f.label = None;
                f
            })
            .collect();
        Err(ApiError::Titled {
            title: title.to_string(),
            object: object.to_string(),
            fields,
        })
    }
}

/// 400 `BATCH_TOO_LARGE`, past [`limits::MAX_WRITE_BATCH`] records.
fn check_size(n: usize, object: Option<&str>) -> Result<(), ApiError> {
    let max = limits::MAX_WRITE_BATCH;
    if n <= max {
        return Ok(());
    }
    let mut body = json!({"error": format!("Batch too large: {n} records (max {max})"),
        "code": "BATCH_TOO_LARGE", "count": n, "max": max});
    if let Some(o) = object {
        body["object"] = json!(o);
    }
    Err(ApiError::Shaped { status: 400, body })
}

// ---------------------------------------------------------------------------------------------------------
// createMany

const CREATE_MANY_REFUSED: &str =
    "Invalid createMany request — the body must be a JSON array of record objects";

async fn create_many(
    State(s): State<Shared>,
    Path(object): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let who = caller_on(&s, &headers, &object).await?;
    // No body at all is refused like any other non-array (an empty list is the way to create nothing).
    let items = match body {
        Value::Array(ref items) => items.clone(),
        other => {
            return Err(invalid_type(
                &object,
                CREATE_MANY_REFUSED,
                "records",
                &format!(
                    "Invalid input: expected array, received {}",
                    kind_of(Some(&other))
                ),
            ));
        }
    };
    let mut records = Vec::with_capacity(items.len());
    let mut issues = Issues::default();
    for (i, item) in items.into_iter().enumerate() {
        match item {
            Value::Object(m) => records.push(m),
            other => issues.wrong_type(
                &At::default().key("records").item(i),
                "record",
                Some(&other),
            ),
        }
    }
    issues.refusal(&object, CREATE_MANY_REFUSED, &json!({ "records": body }))?;
    check_size(records.len(), Some(&object))?;
    let OpResult::Records(created) = s
        .kernel
        .execute(
            &who.principal,
            DataOp::CreateMany {
                object: object.clone(),
                records,
            },
        )
        .await?
    else {
        return Err(DataError::Internal("unexpected result".into()).into());
    };
    let count = created.len();
    Ok(json_response(
        201,
        json!({"object": object, "records": created, "count": count}),
    ))
}

// ---------------------------------------------------------------------------------------------------------
// updateMany, deleteMany, per-object batch: one result per record.

/// One record of a per-record run: what to do, or why it cannot be tried (an update without an id).
struct Row {
    /// The id the request named (echoed in its result).
    id: Option<String>,
    op: Result<DataOp, DataError>,
}

/// How a per-record run goes.
#[derive(Clone, Copy)]
struct RunOptions {
    /// One transaction: the first failure rolls everything back.
    atomic: bool,
    /// Go on after a failure (when not atomic).
    continue_on_error: bool,
    /// Results carry the written record as `data`.
    return_records: bool,
}

impl RunOptions {
    fn of(body: &Value) -> RunOptions {
        let flag = |k: &str| {
            body.get("options")
                .and_then(|o| o.get(k))
                .and_then(Value::as_bool)
        };
        RunOptions {
            atomic: flag("atomic") == Some(true),
            continue_on_error: flag("continueOnError") == Some(true),
            return_records: flag("returnRecords") != Some(false),
        }
    }
}

/// The failure of a row that names no record for an operation that needs one.
fn missing_id(object: &str, operation: &str) -> DataError {
    let mut f = FieldError::new(
        "id",
        "",
        "required",
        format!("Record id is required for {operation}"),
    );
    f.label = None;
    DataError::validation(object, vec![f])
}

/// A succeeded record: `{id, success: true, index, data?}`.
fn succeeded(r: OpResult, id: &Option<String>, index: usize, return_records: bool) -> Value {
    let mut m = Map::new();
    let (id, data) = match r.into_record() {
        Some(rec) => (
            id.clone()
                .or_else(|| rec.get("id").and_then(Value::as_str).map(str::to_string)),
            Some(rec),
        ),
        _ => (id.clone(), None),
    };
    if let Some(id) = id {
        m.insert("id".into(), json!(id));
    }
    m.insert("success".into(), json!(true));
    if return_records && let Some(d) = data {
        m.insert("data".into(), Value::Object(d));
    }
    m.insert("index".into(), json!(index));
    Value::Object(m)
}

/// A record that did not succeed: `{id?, success: false, index, errors: [error]}`.
fn failed(id: Option<&str>, index: usize, error: Value) -> Value {
    let mut m = Map::new();
    if let Some(id) = id {
        m.insert("id".into(), json!(id));
    }
    m.insert("success".into(), json!(false));
    m.insert("index".into(), json!(index));
    m.insert("errors".into(), json!([error]));
    Value::Object(m)
}

fn report(operation: &str, results: Vec<Value>) -> Value {
    let total = results.len();
    let ok = results
        .iter()
        .filter(|r| r["success"] == json!(true))
        .count();
    json!({"success": ok == total, "operation": operation, "total": total, "succeeded": ok,
        "failed": total - ok, "results": results})
}

/// Runs the rows as the options say and reports each.
async fn run_rows(
    s: &Shared,
    principal: &Principal,
    operation: &str,
    rows: Vec<Row>,
    o: RunOptions,
) -> Result<Value, ApiError> {
    if o.atomic {
        return run_atomic(s, principal, operation, rows, o).await;
    }
    let ids: Vec<Option<String>> = rows.iter().map(|r| r.id.clone()).collect();
    let mut results = Vec::with_capacity(rows.len());
    let mut stopped: Option<(usize, String)> = None;
    for (index, row) in rows.into_iter().enumerate() {
        let outcome = match row.op {
            Ok(op) => s
                .kernel
                .execute(principal, op)
                .await
                .map_err(DataError::into_cause),
            Err(e) => Err(e),
        };
        match outcome {
            Ok(r) => results.push(succeeded(r, &row.id, index, o.return_records)),
            Err(e) => {
                let error = row_error(&e, operation);
                let message = error["message"].as_str().unwrap_or_default().to_string();
                results.push(failed(row.id.as_deref(), index, error));
                if !o.continue_on_error {
                    stopped = Some((index, message));
                    break;
                }
            }
        }
    }
    if let Some((cause, message)) = stopped {
        for (index, id) in ids.iter().enumerate().skip(results.len()) {
            results.push(failed(
                id.as_deref(),
                index,
                json!({"code": "NOT_ATTEMPTED", "message": format!(
                    "record {cause} failed — {message}; the batch stopped there. Set options.continueOnError to process the remaining records."
                )}),
            ));
        }
    }
    Ok(report(operation, results))
}

/// All rows in one transaction (one `DataOp::Batch`); the first failure rolls back every earlier write.
async fn run_atomic(
    s: &Shared,
    principal: &Principal,
    operation: &str,
    rows: Vec<Row>,
    o: RunOptions,
) -> Result<Value, ApiError> {
    let ids: Vec<Option<String>> = rows.iter().map(|r| r.id.clone()).collect();
    let mut ops = Vec::with_capacity(rows.len());
    // A row that cannot be tried ends the batch there: the rows before it still run (and are rolled back), and
    // a read, which a batch refuses, stands in for it so the transaction fails at its index.
    let mut refused: Option<(usize, DataError)> = None;
    for (index, row) in rows.into_iter().enumerate() {
        match row.op {
            Ok(op) => ops.push(op),
            Err(e) => {
                ops.push(DataOp::Get {
                    object: String::new(),
                    id: String::new(),
                    query: Default::default(),
                });
                refused = Some((index, e));
                break;
            }
        }
    }
    let outcome = s
        .kernel
        .execute(
            principal,
            DataOp::Batch {
                operations: ops,
                resolve_refs: false,
            },
        )
        .await;
    match outcome {
        Ok(OpResult::Batch(done)) => {
            let results = done
                .into_iter()
                .enumerate()
                .map(|(index, r)| succeeded(r, &ids[index], index, o.return_records))
                .collect();
            Ok(report(operation, results))
        }
        Ok(_) => Err(DataError::Internal("unexpected result".into()).into()),
        Err(DataError::BatchAborted { index, done, cause }) => {
            let cause = match refused {
                Some((at, e)) if at == index => e,
                _ => *cause,
            };
            let error = row_error(&cause, operation);
            let message = error["message"].as_str().unwrap_or_default().to_string();
            let mut results = Vec::with_capacity(ids.len());
            for (i, id) in ids.iter().enumerate() {
                let id = done.get(i).cloned().flatten().or_else(|| id.clone());
                results.push(if i < index {
                    failed(
                        id.as_deref(),
                        i,
                        json!({"code": "ROLLED_BACK", "message": format!("record {index} failed — {message}")}),
                    )
                } else if i == index {
                    failed(id.as_deref(), i, error.clone())
                } else {
                    failed(
                        id.as_deref(),
                        i,
                        json!({"code": "NOT_ATTEMPTED", "message": format!("atomic batch aborted by record {index}")}),
                    )
                });
            }
            Ok(report(operation, results))
        }
        Err(e) => Err(e.into()),
    }
}

async fn update_many(
    State(s): State<Shared>,
    Path(object): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let who = caller_on(&s, &headers, &object).await?;
    let root = At::default();
    let mut issues = Issues::default();
    let mut rows = Vec::new();
    if let Some(m) = issues.object(&root, Some(&body), "object") {
        if let Some(items) = issues.array(&root.key("records"), m.get("records")) {
            for (i, item) in items.iter().enumerate() {
                let at = root.key("records").item(i);
                let Some(r) = issues.object(&at, Some(item), "object") else {
                    continue;
                };
                issues.string(&at.key("id"), r.get("id"));
                let data = issues.object(&at.key("data"), r.get("data"), "record");
                let (Some(Value::String(id)), Some(data)) = (r.get("id"), data) else {
                    continue;
                };
                let mut patch = data.clone();
                let expected = patch
                    .shift_remove("expectedVersion")
                    .and_then(|v| v.as_str().map(str::to_string));
                rows.push(Row {
                    id: Some(id.clone()),
                    op: if id.is_empty() {
                        Err(missing_id(&object, "update"))
                    } else {
                        Ok(DataOp::Update {
                            object: object.clone(),
                            id: id.clone(),
                            patch,
                            expected_version: expected,
                        })
                    },
                });
            }
        }
        issues.options(m);
    }
    issues.refusal(&object, "Invalid updateMany request", &body)?;
    check_size(rows.len(), Some(&object))?;
    let o = RunOptions {
        return_records: true,
        ..RunOptions::of(&body)
    };
    Ok(json_response(
        200,
        run_rows(&s, &who.principal, "update", rows, o).await?,
    ))
}

async fn delete_many(
    State(s): State<Shared>,
    Path(object): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let who = caller_on(&s, &headers, &object).await?;
    let root = At::default();
    let mut issues = Issues::default();
    let mut ids = Vec::new();
    if let Some(m) = issues.object(&root, Some(&body), "object") {
        if let Some(items) = issues.array(&root.key("ids"), m.get("ids")) {
            for (i, item) in items.iter().enumerate() {
                issues.string(&root.key("ids").item(i), Some(item));
                if let Value::String(id) = item {
                    ids.push(id.clone());
                }
            }
        }
        issues.options(m);
    }
    issues.refusal(&object, "Invalid deleteMany request", &body)?;
    check_size(ids.len(), Some(&object))?;
    if ids.iter().any(String::is_empty) {
        return Err(ApiError::Shaped {
            status: 400,
            body: json!({"error": format!("deleteMany on '{object}' requires 'ids' to be an array of record ids"),
                "code": "VALIDATION_FAILED", "fields": [], "object": object}),
        });
    }
    let rows = ids
        .into_iter()
        .map(|id| Row {
            id: Some(id.clone()),
            op: Ok(DataOp::Delete {
                object: object.clone(),
                id,
                expected_version: None,
            }),
        })
        .collect();
    let o = RunOptions::of(&body);
    Ok(json_response(
        200,
        run_rows(&s, &who.principal, "delete", rows, o).await?,
    ))
}

async fn object_batch(
    State(s): State<Shared>,
    Path(object): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let who = caller_on(&s, &headers, &object).await?;
    let input = if body.is_null() { json!({}) } else { body };
    let root = At::default();
    let mut issues = Issues::default();
    let mut items: Vec<Map<String, Value>> = Vec::new();
    if let Some(m) = issues.object(&root, Some(&input), "object") {
        issues.one_of(
            &root.key("operation"),
            m.get("operation"),
            &["create", "update", "upsert", "delete"],
        );
        if let Some(list) = issues.array(&root.key("records"), m.get("records")) {
            for (i, item) in list.iter().enumerate() {
                let at = root.key("records").item(i);
                let Some(r) = issues.object(&at, Some(item), "object") else {
                    continue;
                };
                issues.optional(&at.key("id"), r.get("id"), "string");
                issues.optional(&at.key("data"), r.get("data"), "record");
                issues.optional(&at.key("externalId"), r.get("externalId"), "string");
                items.push(r.clone());
            }
        }
        issues.options(m);
    }
    issues.refusal(&object, "Invalid batch request", &input)?;
    check_size(items.len(), Some(&object))?;
    let operation = input["operation"].as_str().unwrap_or_default().to_string();
    let mut rows = Vec::with_capacity(items.len());
    for item in items {
        let id = item
            .get("id")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty())
            .map(str::to_string);
        // A create without `data` takes the record itself as its data.
        let data = match item.get("data") {
            Some(Value::Object(d)) => Some(d.clone()),
            _ => None,
        };
        let op = match (operation.as_str(), id.clone()) {
            ("create", _) | ("upsert", None) => Ok(DataOp::Create {
                object: object.clone(),
                record: data.unwrap_or_else(|| item.clone()),
            }),
            ("update", Some(id)) => Ok(DataOp::Update {
                object: object.clone(),
                id,
                patch: data.unwrap_or_default(),
                expected_version: None,
            }),
            ("delete", Some(id)) => Ok(DataOp::Delete {
                object: object.clone(),
                id,
                expected_version: None,
            }),
            ("upsert", Some(id)) => Ok(upsert(&s, &who.principal, &object, id, data).await),
            (other, None) => Err(missing_id(&object, other)),
            (_, Some(_)) => Err(DataError::Internal("unknown batch operation".into())),
        };
        rows.push(Row { id, op });
    }
    let o = RunOptions::of(&input);
    Ok(json_response(
        200,
        run_rows(&s, &who.principal, &operation, rows, o).await?,
    ))
}

/// An upsert by id: an update of the record when the caller can see it, else a create with that id.
async fn upsert(
    s: &Shared,
    principal: &Principal,
    object: &str,
    id: String,
    data: Option<Record>,
) -> DataOp {
    let exists = s
        .kernel
        .execute(
            principal,
            DataOp::Get {
                object: object.to_string(),
                id: id.clone(),
                query: Default::default(),
            },
        )
        .await
        .is_ok();
    let data = data.unwrap_or_default();
    if exists {
        DataOp::Update {
            object: object.to_string(),
            id,
            patch: data,
            expected_version: None,
        }
    } else {
        let mut record = data;
        record.insert("id".into(), Value::String(id));
        DataOp::Create {
            object: object.to_string(),
            record,
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// The cross-object batch.

/// The most operations one cross-object batch holds, as its schema says (and [`limits::MAX_WRITE_BATCH`]).
const MAX_OPERATIONS: usize = limits::MAX_WRITE_BATCH;

/// `POST /api/v1/batch`: creates, updates and deletes across objects in one transaction; a value
/// `{"$ref": n}` in an operation's data is the id of the record operation `n` wrote.
async fn batch(
    State(s): State<Shared>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let who = identity(&s, &headers).await?;
    let input = if body.is_null() { json!({}) } else { body };
    let root = At::default();
    let mut issues = Issues::default();
    let mut parsed: Vec<&Map<String, Value>> = Vec::new();
    if let Some(m) = issues.object(&root, Some(&input), "object") {
        let at = root.key("operations");
        if let Some(list) = issues.array(&at, m.get("operations")) {
            for (i, item) in list.iter().enumerate() {
                let at = at.item(i);
                let Some(op) = issues.object(&at, Some(item), "object") else {
                    continue;
                };
                match op.get("object") {
                    Some(Value::String(o)) if o.is_empty() => issues.0.push(json!({
                        "origin": "string", "code": "too_small", "minimum": 1, "inclusive": true,
                        "path": at.key("object").0,
                        "message": "Too small: expected string to have >=1 characters"})),
                    other => issues.string(&at.key("object"), other),
                }
                if op.contains_key("action") {
                    issues.one_of(
                        &at.key("action"),
                        op.get("action"),
                        &["create", "update", "delete"],
                    );
                }
                issues.optional(&at.key("id"), op.get("id"), "string");
                issues.optional(&at.key("data"), op.get("data"), "record");
                parsed.push(op);
            }
            if list.len() > MAX_OPERATIONS {
                issues.0.push(json!({"origin": "array", "code": "too_big", "maximum": MAX_OPERATIONS,
                    "inclusive": true, "path": at.0,
                    "message": format!("Too big: expected array to have <={MAX_OPERATIONS} items")}));
            }
        }
        issues.optional(&root.key("atomic"), m.get("atomic"), "boolean");
    }
    if !issues.0.is_empty() {
        return Err(ApiError::Shaped {
            status: 400,
            body: json!({"error": "Invalid batch request", "code": "VALIDATION_FAILED", "issues": issues.0}),
        });
    }
    if input.get("atomic") == Some(&Value::Bool(false)) {
        return Err(ApiError::Shaped {
            status: 400,
            body: json!({"error": "Cross-object batch is always atomic; use POST /data/:object/batch for non-atomic per-object batches",
                "code": "BATCH_NOT_ATOMIC"}),
        });
    }
    if parsed.is_empty() {
        return Ok(json_response(200, json!({"results": []})));
    }
    check_size(parsed.len(), None)?;
    let mut ops = Vec::with_capacity(parsed.len());
    for op in &parsed {
        let object = op["object"].as_str().unwrap_or_default().to_string();
        let action = op.get("action").and_then(Value::as_str).unwrap_or("create");
        let mut data = op
            .get("data")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let id = op
            .get("id")
            .or_else(|| data.get("id"))
            .and_then(Value::as_str)
            .map(str::to_string);
        ops.push(match (action, id) {
            ("update", Some(id)) => {
                data.shift_remove("id");
                DataOp::Update {
                    object,
                    id,
                    patch: data,
                    expected_version: None,
                }
            }
            ("delete", Some(id)) => DataOp::Delete {
                object,
                id,
                expected_version: None,
            },
            ("update" | "delete", None) => {
                return Err(ApiError::bad_request(
                    "VALIDATION_FAILED",
                    format!("Operation '{action}' on '{object}' requires an id"),
                ));
            }
            _ => DataOp::Create {
                object,
                record: data,
            },
        });
    }
    for op in &ops {
        if let Some(object) = op.object() {
            s.kernel.object_for(&who.principal, object)?;
        }
    }
    let outcome = s
        .kernel
        .execute(
            &who.principal,
            DataOp::Batch {
                operations: ops,
                resolve_refs: true,
            },
        )
        .await;
    let results = match outcome {
        Ok(OpResult::Batch(results)) => results,
        Ok(_) => return Err(DataError::Internal("unexpected result".into()).into()),
        Err(e) => {
            return Err(match e.into_cause() {
                e @ DataError::ObjectNotFound(_) => ApiError::Data(e),
                e => ApiError::Unscoped(e),
            });
        }
    };
    let results: Vec<Value> = results
        .into_iter()
        .map(|r| match r {
            OpResult::Deleted { .. } => Value::Bool(true),
            other => other.into_record().map_or(Value::Null, Value::Object),
        })
        .collect();
    Ok(json_response(200, json!({"results": results})))
}
