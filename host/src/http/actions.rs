//! `POST /api/v1/actions/:object/:action[/:recordId]`: runs an action as the caller. The body is the params,
//! either bare (`{"reason": …}`) or wrapped (`{"params": {…}}`). Answers as the real server does:
//! `{success: true, data: <result>}`, or `{success: false, error: {code, message, httpStatus, …}}`.

use super::errors::ApiError;
use super::{Shared, identity};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Map, Value, json};

pub fn routes() -> Router<Shared> {
    Router::new()
        .route(
            "/api/v1/actions/{object}/{action}",
            post(run_without_record),
        )
        .route(
            "/api/v1/actions/{object}/{action}/{id}",
            post(run_with_record),
        )
}

async fn run_without_record(
    State(s): State<Shared>,
    Path((object, action)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    run(s, object, action, None, headers, body).await
}

async fn run_with_record(
    State(s): State<Shared>,
    Path((object, action, id)): Path<(String, String, String)>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    run(s, object, action, Some(id), headers, body).await
}

async fn run(
    s: Shared,
    object: String,
    action: String,
    id: Option<String>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    let who = match identity(&s, &headers).await {
        Ok(w) => w,
        Err(e) => return e.into_response(),
    };
    let body: Option<Value> = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => Some(v),
            Err(e) => {
                return failure(ApiError::bad_request(
                    "VALIDATION_ERROR",
                    format!("The request body is not JSON: {e}"),
                ));
            }
        }
    };
    let params = match body {
        Some(Value::Object(mut m)) => match m.remove("params") {
            Some(p) if m.is_empty() => p,
            Some(p) => {
                m.insert("params".into(), p);
                Value::Object(m)
            }
            None => Value::Object(m),
        },
        Some(Value::Null) | None => Value::Object(Map::new()),
        Some(other) => other,
    };
    match s
        .kernel
        .run_action(&who.principal, &object, &action, id.as_deref(), params)
        .await
    {
        Ok(result) => axum::Json(json!({"success": true, "data": result})).into_response(),
        Err(e) => failure(ApiError::Data(e)),
    }
}

/// The action route's error envelope, built from the one error mapping (status, code, message, fields).
pub(super) fn failure(e: ApiError) -> Response {
    let status = e.status();
    let wire = e.body();
    let code = wire.get("code").cloned().unwrap_or(json!("INTERNAL_ERROR"));
    let message = wire
        .get("error")
        .filter(|v| v.is_string())
        .or_else(|| wire.get("message"))
        .cloned()
        .unwrap_or(json!("Action failed"));
    let mut error = json!({"code": code, "message": message, "httpStatus": status});
    if let Some(fields) = wire.get("fields") {
        error["fields"] = fields.clone();
    }
    if status >= 500 {
        tracing::error!(status, "action failed: {:?}", e);
    }
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (code, axum::Json(json!({"success": false, "error": error}))).into_response()
}
