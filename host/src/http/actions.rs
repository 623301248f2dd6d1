//! `POST /api/v1/actions/:object/:action[/:recordId]`: runs a declared action for the caller. As on the real
//! server, the body is `{params?: {…}, recordId?: "…"}`: the params are `body.params` (other keys are not
//! params), and the record id comes from the path or else from `body.recordId`. Answers
//! `{success: true, data: <result>}`, or `{success: false, error: {code, message, httpStatus, details?}}`
//! for every failure, the anonymous caller (401) included. Any other method is 405 in the same envelope.

use super::errors::ApiError;
use super::{Shared, identity};
use crate::data::error::DataError;
use crate::security::auth::AuthError;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::{Map, Value, json};

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/api/v1/actions/{object}/{action}", any(run_without_record))
        .route(
            "/api/v1/actions/{object}/{action}/{id}",
            any(run_with_record),
        )
}

/// What the route was asked.
struct Call {
    method: Method,
    path: String,
    object: String,
    action: String,
    id: Option<String>,
}

async fn run_without_record(
    State(s): State<Shared>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    Path((object, action)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let call = Call {
        method,
        path: uri.path().to_string(),
        object,
        action,
        id: None,
    };
    run(s, call, headers, body).await
}

async fn run_with_record(
    State(s): State<Shared>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    Path((object, action, id)): Path<(String, String, String)>,
    headers: axum::http::HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let call = Call {
        method,
        path: uri.path().to_string(),
        object,
        action,
        id: Some(id),
    };
    run(s, call, headers, body).await
}

async fn run(
    s: Shared,
    call: Call,
    headers: axum::http::HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    // The caller first, ahead of the method: an anonymous caller learns nothing about the route.
    let who = match identity(&s, &headers).await {
        Ok(w) => w,
        Err(e) => return failure(e),
    };
    if call.method != Method::POST {
        return method_not_allowed(&call.method, &call.path);
    }
    let body = match body {
        Ok(b) => b,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return failure(ApiError::Plain {
                status: 413,
                code: "PAYLOAD_TOO_LARGE",
                message: "The request body is larger than the server accepts".into(),
                object: None,
            });
        }
        Err(e) => {
            return failure(ApiError::bad_request(
                "VALIDATION_ERROR",
                format!("Cannot read the request body: {e}"),
            ));
        }
    };
    let body: Map<String, Value> = if body.iter().all(u8::is_ascii_whitespace) {
        Map::new()
    } else {
        match serde_json::from_slice(&body) {
            Ok(Value::Object(m)) => m,
            // Like the real server, a body that is not an object carries neither params nor a record id.
            Ok(_) => Map::new(),
            Err(e) => {
                return failure(ApiError::bad_request(
                    "VALIDATION_ERROR",
                    format!("The request body is not JSON: {e}"),
                ));
            }
        }
    };
    let id = match (call.id, body.get("recordId")) {
        (Some(id), _) => Some(id),
        (None, None | Some(Value::Null)) => None,
        (None, Some(Value::String(s))) if s.is_empty() => None,
        (None, Some(Value::String(s))) => Some(s.clone()),
        (None, Some(Value::Number(n))) => Some(n.to_string()),
        (None, Some(other)) => {
            return failure(ApiError::bad_request(
                "VALIDATION_ERROR",
                format!("recordId must be a string, found {other}"),
            ));
        }
    };
    let params = match body.get("params") {
        Some(Value::Object(p)) => p.clone(),
        _ => Map::new(),
    };
    match s
        .kernel
        .run_action(
            &who.principal,
            &call.object,
            &call.action,
            id.as_deref(),
            params,
        )
        .await
    {
        Ok(result) => axum::Json(json!({"success": true, "data": result})).into_response(),
        Err(e) => failure(ApiError::Data(e)),
    }
}

/// 405 in the real server's words (its envelope has no `httpStatus` here).
fn method_not_allowed(method: &Method, path: &str) -> Response {
    let body = json!({"success": false, "error": {
        "code": "METHOD_NOT_ALLOWED",
        "message": format!("{method} is not supported for {path}. Allowed: POST."),
        "details": {"method": method.as_str(), "path": path, "allowed": ["POST"]},
    }});
    let mut response = (StatusCode::METHOD_NOT_ALLOWED, axum::Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    response
}

/// The action route's error envelope, built from the one error mapping (status, code, message) plus the
/// real server's `details` (a validation's `fields`).
pub(super) fn failure(e: ApiError) -> Response {
    let status = e.status();
    let wire = e.body();
    let wire_code = wire.get("code").cloned();
    // The families' wire shapes differ: `{error: "msg", code}`, `{message, code}`, `{error: {code, message}}`.
    let (code, message) = match (&e, wire.get("error")) {
        (ApiError::Auth(AuthError::Unauthenticated), _) => (
            json!("UNAUTHENTICATED"),
            json!(AuthError::Unauthenticated.to_string()),
        ),
        (_, Some(Value::Object(inner))) => (
            inner
                .get("code")
                .cloned()
                .or(wire_code)
                .unwrap_or(Value::Null),
            inner.get("message").cloned().unwrap_or(Value::Null),
        ),
        (_, Some(m @ Value::String(_))) => (wire_code.unwrap_or(Value::Null), m.clone()),
        _ => (
            wire_code.unwrap_or(Value::Null),
            wire.get("message").cloned().unwrap_or(Value::Null),
        ),
    };
    let code = if code.is_null() {
        json!("INTERNAL_ERROR")
    } else {
        code
    };
    let message = if message.is_null() {
        json!("Action failed")
    } else {
        message
    };
    let mut error = json!({"code": code, "message": message, "httpStatus": status});
    let details = match &e {
        ApiError::Data(DataError::ActionRefused {
            details: Some(d), ..
        }) => Some((**d).clone()),
        _ => wire.get("fields").map(|f| json!({ "fields": f })),
    };
    if let Some(d) = details {
        error["details"] = d;
    }
    if status >= 500 {
        tracing::error!(status, "action failed: {:?}", e);
    }
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (code, axum::Json(json!({"success": false, "error": error}))).into_response()
}
