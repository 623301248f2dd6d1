//! `POST /api/v1/services/:plugin/:method`: calls a method of a service plugin as the signed-in caller
//! (who must hold one of the positions the trust policy lists as the plugin's `callers`). The body is the
//! method's payload; the answer is `{success: true, data: <result>}` or the action route's error envelope.

use super::errors::ApiError;
use super::{Shared, identity};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

pub fn routes() -> Router<Shared> {
    Router::new().route("/api/v1/services/{plugin}/{method}", post(call))
}

async fn call(
    State(s): State<Shared>,
    Path((plugin, method)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    let who = match identity(&s, &headers).await {
        Ok(w) => w,
        Err(e) => return e.into_response(),
    };
    let payload: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => {
                return super::actions::failure(ApiError::bad_request(
                    "VALIDATION_ERROR",
                    format!("The request body is not JSON: {e}"),
                ));
            }
        }
    };
    match s
        .kernel
        .call_service(&who.principal, &plugin, &method, &payload)
        .await
    {
        Ok(result) => axum::Json(json!({"success": true, "data": result})).into_response(),
        Err(e) => super::actions::failure(ApiError::Data(e)),
    }
}
