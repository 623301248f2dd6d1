//! `/api/v1/data/*`: CRUD, queries, export (multi-record writes are in `bulk.rs`).

use super::errors::ApiError;
use super::{JsonBody, Shared, identity, json_response, params};
use crate::data::driver::Record;
use crate::data::error::{DataError, FieldError};
use crate::kernel::{DataOp, OpResult};
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
        .route("/api/v1/data/{object}/export", get(export))
        .route(
            "/api/v1/data/{object}/{id}",
            get(get_one).patch(update).delete(remove),
        )
}

/// A refused body shape, e.g. an array where a record belongs (the real server's wording and field names).
pub(super) fn invalid_type(object: &str, message: &str, field: &str, detail: &str) -> ApiError {
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
    result.into_record().unwrap_or_default()
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

/// Takes out of a create or update payload the fields no caller writes, as the real server does for
/// autonumbers: the write goes on without them and the answer lists them. Autonumbers (the runtime numbers
/// them) and summaries (the runtime rolls them up; the real server stores a written value, so a client
/// could forge a roll-up) are both dropped with the reason `readonly`.
fn drop_readonly(s: &Shared, object: &str, record: &mut Record) -> Option<Value> {
    use crate::artifact::fields::FieldType;
    let schema = s.kernel.catalog().object(object)?;
    let fields: Vec<String> = record
        .keys()
        .filter(|k| {
            schema
                .field(k)
                .is_some_and(|f| matches!(f.ftype, FieldType::Autonumber | FieldType::Summary))
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
    let mut dropped = drop_readonly(&s, &object, &mut patch);
    let op = DataOp::Update {
        object: object.clone(),
        id: id.clone(),
        patch,
        expected_version: expected,
    };
    let result = s.kernel.execute(&who.principal, op).await?;
    let when = match &result {
        OpResult::Updated { readonly_when, .. } => readonly_when.clone(),
        _ => Vec::new(),
    };
    if !when.is_empty() {
        let entry = json!({"object": object, "fields": when, "reason": "readonly_when"});
        match dropped.as_mut().and_then(Value::as_array_mut) {
            Some(list) => list.push(entry),
            None => dropped = Some(json!([entry])),
        }
    }
    let record = record_of(result);
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

/// The caller, who must be able to address `object` (404 `OBJECT_NOT_FOUND` otherwise).
pub(super) async fn caller_on(
    s: &Shared,
    headers: &HeaderMap,
    object: &str,
) -> Result<crate::security::auth::Identity, ApiError> {
    let who = identity(s, headers).await?;
    s.kernel.object_for(&who.principal, object)?;
    Ok(who)
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
