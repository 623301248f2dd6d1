//! The one mapping from every failure to the wire: status code, the protocol's error code, and the shape the real
//! server uses for that family (`{error, code, object?, field?, fields?}` for data, better-auth's `{message, code}`
//! for sign-in, `{error: {code, message}}` for strict-parameter refusals). Client mistakes are never a 500.

use crate::data::error::{DataError, ErrorKind};
use crate::security::auth::AuthError;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// The HTTP status of each kind of failure: the only place it is decided.
pub fn status_of(kind: ErrorKind) -> u16 {
    match kind {
        ErrorKind::Denied => 403,
        ErrorKind::NotFound => 404,
        ErrorKind::Invalid => 400,
        ErrorKind::Conflict => 409,
        ErrorKind::Unavailable => 503,
        ErrorKind::Timeout => 504,
        ErrorKind::NotImplemented => 501,
        ErrorKind::Internal => 500,
    }
}

/// Sign-in, sign-up and administration failures, in better-auth's statuses.
fn auth_status(e: &AuthError) -> u16 {
    match e {
        AuthError::Unauthenticated | AuthError::InvalidCredentials => 401,
        AuthError::RegistrationClosed | AuthError::Forbidden(_) => 403,
        AuthError::UserExists => 422,
        AuthError::RateLimited(_) | AuthError::PasswordChangeLimited(_) => 429,
        AuthError::TooBusy(_) => 503,
        AuthError::Invalid { .. } => 400,
        AuthError::Data(e) => status_of(e.kind()),
    }
}

#[derive(Debug)]
pub enum ApiError {
    Data(DataError),
    Auth(AuthError),
    /// `{error, code, object?}` with a chosen status.
    Plain {
        status: u16,
        code: &'static str,
        message: String,
        object: Option<String>,
    },
    /// `{error: {code: "VALIDATION_ERROR", message}}`: a parameter the endpoint does not accept.
    StrictParam(String),
    /// 403 `PASSWORD_EXPIRED`: an administrator created the user, who must change the password first.
    Expired,
    /// 400 `VALIDATION_FAILED` with its own headline (`Invalid create request`) over field errors.
    Titled {
        title: String,
        object: String,
        fields: Vec<crate::data::error::FieldError>,
    },
    /// A data error answered without its `object` (the cross-object batch's failures name no object).
    Unscoped(DataError),
    /// A refusal whose body is built by its route (`BATCH_TOO_LARGE` with its counts, a schema refusal
    /// listing its `issues`).
    Shaped {
        status: u16,
        body: Value,
    },
}

impl ApiError {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::Plain {
            status: 400,
            code,
            message: message.into(),
            object: None,
        }
    }

    pub fn with_object(self, object: &str) -> ApiError {
        match self {
            ApiError::Plain {
                status,
                code,
                message,
                ..
            } => ApiError::Plain {
                status,
                code,
                message,
                object: Some(object.to_string()),
            },
            other => other,
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            ApiError::Data(e) => status_of(e.kind()),
            ApiError::Auth(e) => auth_status(e),
            ApiError::Plain { status, .. } => *status,
            ApiError::StrictParam(_) | ApiError::Titled { .. } => 400,
            ApiError::Expired => 403,
            ApiError::Unscoped(e) => status_of(e.kind()),
            ApiError::Shaped { status, .. } => *status,
        }
    }

    pub fn body(&self) -> Value {
        match self {
            // Internal details go to the log (with the request id), not to the client.
            ApiError::Data(DataError::Internal(_))
            | ApiError::Unscoped(DataError::Internal(_))
            | ApiError::Auth(AuthError::Data(DataError::Internal(_))) => {
                json!({"error": "Internal server error", "code": "INTERNAL_ERROR"})
            }
            ApiError::Data(e) => e.to_wire(),
            ApiError::Unscoped(e) => {
                let mut body = e.to_wire();
                if let Some(m) = body.as_object_mut() {
                    m.remove("object");
                }
                body
            }
            ApiError::Shaped { body, .. } => body.clone(),
            ApiError::Auth(AuthError::Unauthenticated) => {
                json!({"error": "UNAUTHENTICATED", "code": "UNAUTHENTICATED", "message": AuthError::Unauthenticated.to_string()})
            }
            ApiError::Auth(AuthError::Data(e)) => e.to_wire(),
            ApiError::Auth(e @ AuthError::Invalid { field, .. }) => {
                json!({"error": e.to_string(), "code": e.code(),
                "fields": [{"field": field, "code": "invalid", "message": e.to_string()}]})
            }
            ApiError::Auth(e @ AuthError::Forbidden(_)) => {
                json!({"error": e.to_string(), "code": e.code()})
            }
            ApiError::Auth(e) => json!({"message": e.to_string(), "code": e.code()}),
            ApiError::Plain {
                code,
                message,
                object,
                ..
            } => match object {
                Some(o) => json!({"error": message, "code": code, "object": o}),
                None => json!({"error": message, "code": code}),
            },
            ApiError::StrictParam(message) => {
                json!({"error": {"code": "VALIDATION_ERROR", "message": message}})
            }
            ApiError::Expired => json!({"error": {"code": "PASSWORD_EXPIRED",
                "message": "You must change your password before continuing."}}),
            ApiError::Titled {
                title,
                object,
                fields,
            } => json!({"error": title, "code": "VALIDATION_FAILED",
                "fields": fields.iter().map(|f| f.to_json()).collect::<Vec<_>>(), "object": object}),
        }
    }
}

impl From<DataError> for ApiError {
    fn from(e: DataError) -> Self {
        // A failed batch answers with the error of the operation that failed.
        ApiError::Data(e.into_cause())
    }
}

/// One failed record of a multi-record write, as its `results[i].errors[0]`: `{code, message, httpStatus}`.
/// A server-side failure says only that it failed (its reason goes to the log) and carries no status.
pub fn row_error(e: &DataError, operation: &str) -> Value {
    let status = status_of(e.kind());
    if status >= 500 {
        tracing::error!("a record of a multi-record {operation} failed: {e:?}");
        return json!({"code": e.code(),
            "message": format!("The {operation} of this record failed. The reason is in the server log.")});
    }
    json!({"code": e.code(), "message": e.to_string(), "httpStatus": status})
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        ApiError::Auth(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::error!(status = status.as_u16(), "request failed: {:?}", self);
        }
        let mut response = (status, axum::Json(self.body())).into_response();
        if let ApiError::Auth(e) = &self
            && let Some(secs) = e.retry_after()
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        response
    }
}
