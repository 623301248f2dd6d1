//! `/api/v1/data/*` and `/api/v1/batch`: CRUD, queries, multi-record writes, export.

use super::errors::ApiError;
use super::{JsonBody, Shared, identity, json_response, params};
use crate::data::driver::Record;
use crate::data::error::{DataError, FieldError};
use crate::data::limits;
use crate::kernel::{DataOp, OpResult, Principal};
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/api/v1/data/{object}", get(list).post(create))
        .route("/api/v1/data/{object}/query", post(query))
        .route("/api/v1/data/{object}/createMany", post(create_many))
        .route("/api/v1/data/{object}/updateMany", post(update_many))
        .route("/api/v1/data/{object}/deleteMany", post(delete_many))
        .route("/api/v1/data/{object}/batch", post(object_batch))
        .route("/api/v1/data/{object}/export", get(export))
        .route(
            "/api/v1/data/{object}/{id}",
            get(get_one).patch(update).delete(remove),
        )
        .route("/api/v1/batch", post(batch))
}

/// A refused body shape, e.g. an array where a record belongs (the real server's wording and field names).
fn invalid_type(object: &str, message: &str, field: &str, detail: &str) -> ApiError {
    let mut f = FieldError::new(field, "", "invalid_type", detail.to_string());
    f.label = None;
    ApiError::Titled {
        title: message.to_string(),
        object: object.to_string(),
        fields: vec![f],
    }
}

fn list_body(object: &str, result: OpResult) -> Value {
    match result {
        OpResult::List {
            records,
            total,
            has_more,
        } => {
            let mut m = Map::new();
            m.insert("object".into(), json!(object));
            m.insert(
                "records".into(),
                Value::Array(records.into_iter().map(Value::Object).collect()),
            );
            if let Some(t) = total {
                m.insert("total".into(), json!(t));
            }
            m.insert("hasMore".into(), json!(has_more));
            Value::Object(m)
        }
        _ => Value::Null,
    }
}

fn record_of(result: OpResult) -> Record {
    match result {
        OpResult::Record(r) => r,
        _ => Record::new(),
    }
}

async fn list(
    State(s): State<Shared>,
    Path(object): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let who = identity(&s, &headers).await?;
    let schema = s.kernel.object_for(&who.principal, &object)?;
    let (body, opts) = params::list_query(schema, raw.as_deref(), &s.config)?;
    let query = s
        .kernel
        .parse_query_with(&who.principal, &object, &body, &opts)?;
    let result = s
        .kernel
        .execute(
            &who.principal,
            DataOp::Find {
                object: object.clone(),
                query,
            },
        )
        .await?;
    Ok(json_response(200, list_body(&object, result)))
}

async fn query(
    State(s): State<Shared>,
    Path(object): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let who = caller_on(&s, &headers, &object).await?;
    let mut body = match body {
        Value::Object(m) => m,
        Value::Null => Map::new(),
        other => {
            return Err(ApiError::bad_request(
                "INVALID_QUERY",
                format!("A query must be a JSON object, found {other}"),
            )
            .with_object(&object));
        }
    };
    body.remove("object");
    params::apply_page_size(&mut body, &s.config);
    let opts = crate::data::query::ParseOptions {
        body: true,
        ..Default::default()
    };
    let query = s
        .kernel
        .parse_query_with(&who.principal, &object, &Value::Object(body), &opts)?;
    let result = s
        .kernel
        .execute(
            &who.principal,
            DataOp::Find {
                object: object.clone(),
                query,
            },
        )
        .await?;
    Ok(json_response(200, list_body(&object, result)))
}

async fn get_one(
    State(s): State<Shared>,
    Path((object, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let who = caller_on(&s, &headers, &object).await?;
    let body = params::get_query(raw.as_deref())?;
    let query = s.kernel.parse_query(&who.principal, &object, &body)?;
    let record = record_of(
        s.kernel
            .execute(
                &who.principal,
                DataOp::Get {
                    object: object.clone(),
                    id: id.clone(),
                    query,
                },
            )
            .await?,
    );
    Ok(json_response(
        200,
        json!({"object": object, "id": id, "record": record}),
    ))
}

async fn create(
    State(s): State<Shared>,
    Path(object): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let who = caller_on(&s, &headers, &object).await?;
    let record = match body {
        Value::Object(m) => m,
        other => {
            let kind = if other.is_array() {
                "array"
            } else {
                crate::artifact::load::json_kind(&other)
                    .trim_start_matches("a ")
                    .trim_start_matches("an ")
            };
            return Err(invalid_type(
                &object,
                "Invalid create request",
                "data",
                &format!("Invalid input: expected record, received {kind}"),
            ));
        }
    };
    let mut record = record;
    let dropped = drop_readonly(&s, &object, &mut record);
    let record = record_of(
        s.kernel
            .execute(
                &who.principal,
                DataOp::Create {
                    object: object.clone(),
                    record,
                },
            )
            .await?,
    );
    let id = record.get("id").cloned().unwrap_or(Value::Null);
    Ok(json_response(
        201,
        with_dropped(
            json!({"object": object, "id": id, "record": record}),
            dropped,
        ),
    ))
}

/// Takes out of a create or update payload the fields no caller writes (autonumbers: the runtime numbers
/// them), as the real server does: the write goes on without them and the answer lists them.
fn drop_readonly(s: &Shared, object: &str, record: &mut Record) -> Option<Value> {
    let schema = s.kernel.catalog().object(object)?;
    let fields: Vec<String> = record
        .keys()
        .filter(|k| {
            schema
                .field(k)
                .is_some_and(|f| f.ftype == crate::artifact::fields::FieldType::Autonumber)
        })
        .cloned()
        .collect();
    if fields.is_empty() {
        return None;
    }
    for f in &fields {
        record.shift_remove(f);
    }
    Some(json!([{"object": object, "fields": fields, "reason": "readonly"}]))
}

/// A write's answer, with `droppedFields` when the payload had fields the write left out.
fn with_dropped(mut answer: Value, dropped: Option<Value>) -> Value {
    if let (Some(d), Some(m)) = (dropped, answer.as_object_mut()) {
        m.insert("droppedFields".into(), d);
    }
    answer
}

/// `expectedVersion` from the body, else `If-Match` (quotes and `W/` removed).
fn expected_version(body: &mut Record, headers: &HeaderMap) -> Option<String> {
    if let Some(v) = body.shift_remove("expectedVersion") {
        return match v {
            Value::String(s) => Some(s),
            Value::Null => None,
            other => Some(other.to_string()),
        };
    }
    headers
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.trim()
                .trim_start_matches("W/")
                .trim_matches('"')
                .to_string()
        })
        .filter(|v| !v.is_empty() && v != "*")
}

async fn update(
    State(s): State<Shared>,
    Path((object, id)): Path<(String, String)>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let who = caller_on(&s, &headers, &object).await?;
    let mut patch = match body {
        Value::Object(m) => m,
        other => {
            let kind = if other.is_array() {
                "array"
            } else {
                "non-object"
            };
            return Err(invalid_type(
                &object,
                "Invalid update request",
                "data",
                &format!("Invalid input: expected record, received {kind}"),
            ));
        }
    };
    let expected = expected_version(&mut patch, &headers);
    let dropped = drop_readonly(&s, &object, &mut patch);
    let op = DataOp::Update {
        object: object.clone(),
        id: id.clone(),
        patch,
        expected_version: expected,
    };
    let record = record_of(s.kernel.execute(&who.principal, op).await?);
    Ok(json_response(
        200,
        with_dropped(
            json!({"object": object, "id": id, "record": record}),
            dropped,
        ),
    ))
}

async fn remove(
    State(s): State<Shared>,
    Path((object, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let who = caller_on(&s, &headers, &object).await?;
    let mut from_query = Record::new();
    for (k, v) in params::pairs(raw.as_deref()) {
        if k == "expectedVersion" {
            from_query.insert(k, Value::String(v));
        } else {
            return Err(ApiError::StrictParam(format!(
                "The \"{k}\" query parameter is not supported by this endpoint. Supported parameters: expectedVersion."
            )));
        }
    }
    let expected = expected_version(&mut from_query, &headers);
    s.kernel
        .execute(
            &who.principal,
            DataOp::Delete {
                object: object.clone(),
                id: id.clone(),
                expected_version: expected,
            },
        )
        .await?;
    Ok(json_response(
        200,
        json!({"object": object, "id": id, "success": true}),
    ))
}

fn records_array(object: &str, body: Value, what: &str) -> Result<Vec<Record>, ApiError> {
    match body {
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::Object(m) => Ok(m),
                _ => Err(invalid_type(
                    object,
                    &format!("Invalid {what} request"),
                    &format!("records[{i}]"),
                    "Invalid input: expected record",
                )),
            })
            .collect(),
        _ => Err(invalid_type(
            object,
            &format!("Invalid {what} request — the body must be a JSON array of record objects"),
            "records",
            "Invalid input: expected array, received object",
        )),
    }
}

/// Multi-record writes are bounded ([`limits::MAX_WRITE_BATCH`]).
fn check_batch_size(n: usize) -> Result<(), ApiError> {
    if n > limits::MAX_WRITE_BATCH {
        return Err(ApiError::bad_request(
            "VALIDATION_FAILED",
            format!(
                "a multi-record write holds at most {} records or operations (limit MAX_WRITE_BATCH), got {n}",
                limits::MAX_WRITE_BATCH
            ),
        ));
    }
    Ok(())
}

async fn create_many(
    State(s): State<Shared>,
    Path(object): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let who = caller_on(&s, &headers, &object).await?;
    let records = records_array(&object, body, "createMany")?;
    check_batch_size(records.len())?;
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

/// One succeeded operation of a batch: `{id, success: true, index, data?}`.
fn result_entry(r: OpResult, id: &Option<String>, index: usize, return_records: bool) -> Value {
    let (id, data) = match r {
        OpResult::Record(rec) => (
            rec.get("id").cloned().unwrap_or(Value::Null),
            Some(Value::Object(rec)),
        ),
        OpResult::Deleted { id } => (Value::String(id), None),
        _ => (id.clone().map(Value::String).unwrap_or(Value::Null), None),
    };
    let mut m = Map::new();
    m.insert("id".into(), id);
    m.insert("success".into(), Value::Bool(true));
    m.insert("index".into(), json!(index));
    if return_records && let Some(d) = data {
        m.insert("data".into(), d);
    }
    Value::Object(m)
}

/// `{success, total, succeeded, failed, results}` of a batch that ran.
fn batch_report(results: Vec<Value>, failed: usize) -> Value {
    let n = results.len();
    json!({"success": failed == 0, "total": n, "succeeded": n - failed, "failed": failed, "results": results})
}

async fn run_batch(
    s: &Shared,
    principal: &Principal,
    ops: Vec<DataOp>,
    atomic: bool,
    return_records: bool,
) -> Result<Value, ApiError> {
    check_batch_size(ops.len())?;
    let meta: Vec<(Option<String>, usize)> = ops
        .iter()
        .enumerate()
        .map(|(i, op)| match op {
            DataOp::Update { id, .. } | DataOp::Delete { id, .. } => (Some(id.clone()), i),
            _ => (None, i),
        })
        .collect();
    if atomic {
        let OpResult::Batch(results) = s
            .kernel
            .execute(principal, DataOp::Batch { operations: ops })
            .await?
        else {
            return Err(DataError::Internal("unexpected result".into()).into());
        };
        let entries = results
            .into_iter()
            .zip(&meta)
            .map(|(r, (id, index))| result_entry(r, id, *index, return_records))
            .collect();
        return Ok(batch_report(entries, 0));
    }
    // continueOnError: each operation commits or fails on its own.
    let mut results = Vec::with_capacity(ops.len());
    let mut failed = 0;
    for (op, (id, index)) in ops.into_iter().zip(&meta) {
        match s.kernel.execute(principal, op).await {
            Ok(r) => results.push(result_entry(r, id, *index, return_records)),
            Err(e) => {
                failed += 1;
                results.push(
                    json!({"id": id, "success": false, "index": index, "errors": [e.to_wire()]}),
                );
            }
        }
    }
    Ok(batch_report(results, failed))
}

fn options(body: &Value) -> (bool, bool) {
    let o = body.get("options");
    let atomic = o
        .and_then(|o| o.get("atomic"))
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let continue_on_error = o
        .and_then(|o| o.get("continueOnError"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let return_records = o
        .and_then(|o| o.get("returnRecords"))
        .and_then(Value::as_bool)
        .unwrap_or(true);
    (atomic && !continue_on_error, return_records)
}

/// The caller, who must be able to address `object` (404 `OBJECT_NOT_FOUND` otherwise).
async fn caller_on(
    s: &Shared,
    headers: &HeaderMap,
    object: &str,
) -> Result<crate::security::auth::Identity, ApiError> {
    let who = identity(s, headers).await?;
    s.kernel.object_for(&who.principal, object)?;
    Ok(who)
}

/// A multi-record body without its list: say what the route takes.
fn usage(object: &str, what: &str) -> ApiError {
    ApiError::bad_request("VALIDATION_FAILED", what.to_string()).with_object(object)
}

fn bad_item(object: &str, i: usize, what: &str) -> ApiError {
    ApiError::bad_request("VALIDATION_FAILED", format!("records[{i}]: {what}")).with_object(object)
}

async fn update_many(
    State(s): State<Shared>,
    Path(object): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let who = caller_on(&s, &headers, &object).await?;
    let items = body
        .get("records")
        .and_then(Value::as_array)
        .cloned()
        .ok_or_else(|| {
            usage(
                &object,
                "updateMany takes {records: [{id, data}], options?}",
            )
        })?;
    let mut ops = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let id = item
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| bad_item(&object, i, "needs an id"))?;
        let mut patch = item
            .get("data")
            .and_then(Value::as_object)
            .cloned()
            .ok_or_else(|| bad_item(&object, i, "needs a data object"))?;
        let expected = patch
            .shift_remove("expectedVersion")
            .and_then(|v| v.as_str().map(str::to_string));
        ops.push(DataOp::Update {
            object: object.clone(),
            id: id.to_string(),
            patch,
            expected_version: expected,
        });
    }
    let (atomic, return_records) = options(&body);
    Ok(json_response(
        200,
        run_batch(&s, &who.principal, ops, atomic, return_records).await?,
    ))
}

async fn delete_many(
    State(s): State<Shared>,
    Path(object): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let who = caller_on(&s, &headers, &object).await?;
    let ids = body
        .get("ids")
        .and_then(Value::as_array)
        .cloned()
        .ok_or_else(|| usage(&object, "deleteMany takes {ids: [...], options?}"))?;
    let mut ops = Vec::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
        let id = id
            .as_str()
            .ok_or_else(|| bad_item(&object, i, "ids must be strings"))?;
        ops.push(DataOp::Delete {
            object: object.clone(),
            id: id.to_string(),
            expected_version: None,
        });
    }
    let (atomic, _) = options(&body);
    Ok(json_response(
        200,
        run_batch(&s, &who.principal, ops, atomic, false).await?,
    ))
}

async fn object_batch(
    State(s): State<Shared>,
    Path(object): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let who = caller_on(&s, &headers, &object).await?;
    let operation = body.get("operation").and_then(Value::as_str).unwrap_or("");
    let items = body
        .get("records")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut ops = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let id = item.get("id").and_then(Value::as_str).map(str::to_string);
        let data = item
            .get("data")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        ops.push(match (operation, id) {
            ("create", _) => DataOp::Create {
                object: object.clone(),
                record: data,
            },
            ("update", Some(id)) => DataOp::Update {
                object: object.clone(),
                id,
                patch: data,
                expected_version: None,
            },
            ("delete", Some(id)) => DataOp::Delete {
                object: object.clone(),
                id,
                expected_version: None,
            },
            ("upsert", Some(id)) => {
                let exists = s
                    .kernel
                    .execute(
                        &who.principal,
                        DataOp::Get {
                            object: object.clone(),
                            id: id.clone(),
                            query: Default::default(),
                        },
                    )
                    .await
                    .is_ok();
                if exists {
                    DataOp::Update {
                        object: object.clone(),
                        id,
                        patch: data,
                        expected_version: None,
                    }
                } else {
                    let mut record = data;
                    record.insert("id".into(), Value::String(id));
                    DataOp::Create {
                        object: object.clone(),
                        record,
                    }
                }
            }
            ("upsert", None) => DataOp::Create {
                object: object.clone(),
                record: data,
            },
            ("update" | "delete", None) => {
                return Err(bad_item(&object, i, &format!("{operation} needs an id")));
            }
            (other, _) => {
                return Err(ApiError::bad_request(
                    "VALIDATION_FAILED",
                    format!("unknown batch operation '{other}' (create, update, upsert, delete)"),
                )
                .with_object(&object));
            }
        });
    }
    let (atomic, return_records) = options(&body);
    Ok(json_response(
        200,
        run_batch(&s, &who.principal, ops, atomic, return_records).await?,
    ))
}

/// `POST /api/v1/batch`: creates, updates and deletes across objects in one transaction.
async fn batch(
    State(s): State<Shared>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let who = identity(&s, &headers).await?;
    let items = body
        .get("operations")
        .and_then(Value::as_array)
        .cloned()
        .ok_or_else(|| {
            ApiError::bad_request(
                "VALIDATION_FAILED",
                "batch takes {operations: [{op, object, id?, data?}]}",
            )
        })?;
    check_batch_size(items.len())?;
    let mut ops = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let object = item
            .get("object")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                ApiError::bad_request(
                    "VALIDATION_FAILED",
                    format!("operations[{i}] needs an object"),
                )
            })?
            .to_string();
        s.kernel.object_for(&who.principal, &object)?;
        let action = item
            .get("op")
            .or_else(|| item.get("action"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let id = item.get("id").and_then(Value::as_str).map(str::to_string);
        let data = item
            .get("data")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        ops.push(match (action, id) {
            ("create" | "insert", _) => DataOp::Create {
                object,
                record: data,
            },
            ("update", Some(id)) => DataOp::Update {
                object,
                id,
                patch: data,
                expected_version: None,
            },
            ("delete", Some(id)) => DataOp::Delete {
                object,
                id,
                expected_version: None,
            },
            (a, _) => {
                return Err(ApiError::bad_request(
                    "VALIDATION_FAILED",
                    format!(
                        "operations[{i}]: '{a}' needs to be create, or update/delete with an id"
                    ),
                ));
            }
        });
    }
    let OpResult::Batch(results) = s
        .kernel
        .execute(&who.principal, DataOp::Batch { operations: ops })
        .await?
    else {
        return Err(DataError::Internal("unexpected result".into()).into());
    };
    let results: Vec<Value> = results
        .into_iter()
        .map(|r| match r {
            OpResult::Record(rec) => Value::Object(rec),
            OpResult::Deleted { id } => json!({"id": id, "success": true}),
            _ => Value::Null,
        })
        .collect();
    Ok(json_response(200, json!({"results": results})))
}

/// A text cell a spreadsheet would read as a formula (it starts with `=`, `+`, `-`, `@`, a tab or a carriage
/// return) gets a leading `'`, so opening the export never runs it (OWASP "CSV injection").
pub fn csv_safe_text(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_string()
    }
}

/// CSV export, for objects a default permission set lets everyone export (`allowExport`). Text cells are
/// neutralised against formula injection ([`csv_safe_text`]).
async fn export(
    State(s): State<Shared>,
    Path(object): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let who = identity(&s, &headers).await?;
    let schema = s.kernel.object_for(&who.principal, &object)?.clone();
    let allowed = s.kernel.artifact().definition.permissions.iter().any(|p| {
        p.is_default
            && p.objects
                .get(&object)
                .is_some_and(|o| o.allow_export == Some(true))
    });
    if !allowed {
        return Ok(json_response(
            403,
            json!({"code": "EXPORT_NOT_PERMITTED", "error": format!("Export is not permitted on object '{object}' for this user"), "object": object}),
        ));
    }
    if let Some((_, f)) = params::pairs(raw.as_deref())
        .into_iter()
        .find(|(k, _)| k == "format")
        && f != "csv"
    {
        return Err(ApiError::bad_request(
            "UNSUPPORTED_FORMAT",
            format!("export format '{f}' is not supported (csv)"),
        )
        .with_object(&object));
    }
    // One page at most, like every list: `offset`/`skip` and `limit`/`top` page through a larger export, and
    // the `x-total-count` / `x-has-more` headers say how much there is.
    let mut page = Map::new();
    for (k, v) in params::pairs(raw.as_deref()) {
        match k.as_str() {
            "offset" | "skip" => page.insert("offset".into(), Value::String(v)),
            "limit" | "top" => page.insert("limit".into(), Value::String(v)),
            _ => None,
        };
    }
    page.insert("count".into(), Value::Bool(true));
    // Without `limit`, an export is one full page (not the default page of a list).
    page.entry("limit")
        .or_insert_with(|| Value::from(s.config.max_page_size));
    params::apply_page_size(&mut page, &s.config);
    let query = s
        .kernel
        .parse_query(&who.principal, &object, &Value::Object(page))?;
    let OpResult::List {
        records,
        total,
        has_more,
    } = s
        .kernel
        .execute(
            &who.principal,
            DataOp::Find {
                object: object.clone(),
                query,
            },
        )
        .await?
    else {
        return Err(DataError::Internal("unexpected result".into()).into());
    };
    // Columns the caller may not read are left out (their values are masked anyway).
    let unreadable = s
        .kernel
        .permissions()
        .access(&who.principal, &schema)
        .unreadable;
    let columns: Vec<&str> = schema
        .stored_fields()
        .map(|f| f.name.as_str())
        .filter(|c| !unreadable.contains(*c))
        .collect();
    let mut csv = columns.join(",");
    csv.push('\n');
    for r in &records {
        let row: Vec<String> = columns
            .iter()
            .map(|c| {
                let text = match r.get(*c) {
                    None | Some(Value::Null) => String::new(),
                    Some(Value::String(s)) => csv_safe_text(s),
                    Some(other) => other.to_string(),
                };
                if text.contains([',', '"', '\n', '\r']) {
                    format!("\"{}\"", text.replace('"', "\"\""))
                } else {
                    text
                }
            })
            .collect();
        csv.push_str(&row.join(","));
        csv.push('\n');
    }
    let mut response = csv.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Some(t) = total {
        h.insert("x-total-count", HeaderValue::from(t));
    }
    h.insert(
        "x-has-more",
        HeaderValue::from_static(if has_more { "true" } else { "false" }),
    );
    Ok(response)
}
