//! `/api/v1/auth/*`: sign-up, sign-in, session, sign-out with better-auth's shapes and headers, plus the
//! administrator routes that create users, assign positions, ban, and the API key routes (issue, list, revoke).
//! Who may administer whom is decided in `security::admin`; the client IP comes from `client`.

use super::errors::ApiError;
use super::{JsonBody, SESSION_COOKIE, Shared, identity, json_response, presented_credentials};
use crate::security::admin::MAX_POSITION_LEN;
use crate::security::auth::{AuthError, SignedIn, public_session, public_user};
use axum::Router;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use axum::routing::{delete, get, post};
use serde_json::{Value, json};
use std::net::SocketAddr;

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/api/v1/auth/sign-up/email", post(sign_up))
        .route("/api/v1/auth/sign-in/email", post(sign_in))
        .route("/api/v1/auth/get-session", get(get_session))
        .route("/api/v1/auth/sign-out", post(sign_out))
        .route("/api/v1/auth/change-password", post(change_password))
        .route("/api/v1/auth/admin/create-user", post(create_user))
        .route("/api/v1/auth/admin/set-positions", post(set_positions))
        .route(
            "/api/v1/auth/admin/bind-permission-sets",
            post(bind_permission_sets),
        )
        .route("/api/v1/auth/admin/ban-user", post(ban_user))
        .route("/api/v1/auth/admin/unban-user", post(unban_user))
        .route(
            "/api/v1/auth/api-keys",
            post(create_api_key).get(list_api_keys),
        )
        .route("/api/v1/auth/api-keys/{id}", delete(revoke_api_key))
}

fn text<'a>(body: &'a Value, key: &'static str) -> Result<&'a str, ApiError> {
    body.get(key).and_then(Value::as_str).ok_or_else(|| {
        ApiError::Auth(AuthError::Invalid {
            field: key,
            message: format!("{key} is required"),
        })
    })
}

/// The client IP (through trusted proxies), the user agent, and whether the session cookie gets `Secure`.
fn client(s: &Shared, headers: &HeaderMap, addr: SocketAddr) -> (String, String, bool) {
    let c = super::client::client(&s.config.trusted_proxies, addr.ip(), headers);
    let ua = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (c.ip.to_string(), ua, c.https || s.config.secure_cookies)
}

fn session_cookie(value: &str, max_age: u32, secure: bool) -> Option<HeaderValue> {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; Max-Age={max_age}; Path=/; HttpOnly; SameSite=Lax{secure}"
    ))
    .ok()
}

/// better-auth's answer: the token in the body, the signed token in `set-auth-token` and the session cookie.
fn signed_in(done: SignedIn, redirect: bool, secure: bool) -> Response {
    let user = public_user(&done.identity.user, false);
    let body = if redirect {
        json!({"redirect": false, "token": done.token, "user": user})
    } else {
        json!({"token": done.token, "user": user})
    };
    let mut r = json_response(200, body);
    if let Ok(v) = HeaderValue::from_str(&done.signed_token) {
        r.headers_mut().insert("set-auth-token", v);
    }
    let value = percent_encoding::utf8_percent_encode(
        &done.signed_token,
        percent_encoding::NON_ALPHANUMERIC,
    )
    .to_string();
    if let Some(v) = session_cookie(&value, 604800, secure) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

async fn sign_up(
    State(s): State<Shared>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let (ip, ua, secure) = client(&s, &headers, addr);
    let name = optional_text(&body, "name")?;
    let done = s
        .auth
        .sign_up(
            text(&body, "email")?,
            text(&body, "password")?,
            name,
            &ip,
            &ua,
        )
        .await?;
    Ok(signed_in(done, false, secure))
}

async fn sign_in(
    State(s): State<Shared>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let (ip, ua, secure) = client(&s, &headers, addr);
    let done = s
        .auth
        .sign_in(text(&body, "email")?, text(&body, "password")?, &ip, &ua)
        .await?;
    Ok(signed_in(done, true, secure))
}

async fn get_session(State(s): State<Shared>, headers: HeaderMap) -> Result<Response, ApiError> {
    let who = super::identity_any(&s, &headers).await?;
    Ok(json_response(
        200,
        json!({"user": public_user(&who.user, true), "session": public_session(&who)}),
    ))
}

async fn sign_out(
    State(s): State<Shared>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let presented = presented_credentials(&headers).ok_or(AuthError::Unauthenticated)?;
    s.auth.sign_out(&presented).await?;
    let (_, _, secure) = client(&s, &headers, addr);
    let mut r = json_response(200, json!({"success": true}));
    if let Some(v) = session_cookie("", 0, secure) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(r)
}

async fn change_password(
    State(s): State<Shared>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let who = super::identity_any(&s, &headers).await?;
    let revoke = body
        .get("revokeOtherSessions")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    s.auth
        .change_password(
            &who,
            text(&body, "currentPassword")?,
            text(&body, "newPassword")?,
            revoke,
        )
        .await?;
    Ok(json_response(
        200,
        json!({"token": null, "user": public_user(&who.user, false)}),
    ))
}

/// An optional text (absent or null: empty); anything else is the caller's 400 naming the field.
fn optional_text<'a>(body: &'a Value, key: &'static str) -> Result<&'a str, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(""),
        Some(Value::String(v)) => Ok(v.as_str()),
        Some(_) => Err(ApiError::Auth(AuthError::Invalid {
            field: key,
            message: format!("{key} must be a string"),
        })),
    }
}

/// Permission sets one position may be bound to in one `bind-permission-sets` call.
pub const MAX_PERMISSION_SETS: usize = 100;

/// An optional list of texts (absent: none); anything else is the caller's 400 naming the field.
fn strings(body: &Value, key: &'static str) -> Result<Vec<String>, ApiError> {
    let invalid = || {
        ApiError::Auth(AuthError::Invalid {
            field: key,
            message: format!("{key} must be an array of strings"),
        })
    };
    match body.get(key) {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|p| p.as_str().map(str::to_string).ok_or_else(invalid))
            .collect(),
        Some(_) => Err(invalid()),
    }
}

async fn create_user(
    State(s): State<Shared>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let who = identity(&s, &headers).await?;
    let name = optional_text(&body, "name")?;
    let user = s
        .auth
        .admin_create_user(
            &who,
            text(&body, "email")?,
            text(&body, "password")?,
            name,
            &strings(&body, "positions")?,
        )
        .await
        .map_err(|e| match e {
            // As the real server's admin route answers an e-mail address that already has a user.
            AuthError::UserExists => ApiError::Shaped {
                status: 409,
                body: json!({"success": false, "error": {"code": "USER_ALREADY_EXISTS",
                    "message": "User already exists. Use another email."}}),
            },
            other => ApiError::Auth(other),
        })?;
    let field = |k: &str| user.get(k).cloned().unwrap_or(Value::Null);
    // The real server's answer: the new user's id, email and name, and that the password must change.
    Ok(json_response(
        200,
        json!({"success": true, "data": {
            "user": {"id": field("id"), "email": field("email"), "name": field("name")},
            "placeholderEmail": false, "mustChangePassword": true,
            "organizationId": field("organizationId"), "membershipCreated": false}}),
    ))
}

async fn set_positions(
    State(s): State<Shared>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let who = identity(&s, &headers).await?;
    let user = s
        .auth
        .admin_set_positions(&who, text(&body, "userId")?, &strings(&body, "positions")?)
        .await?;
    Ok(json_response(
        200,
        json!({"success": true, "data": {"user": user}}),
    ))
}

/// `{position, permissionSets: [...]}`: the artifact's permission sets a position grants (replaces the list).
async fn bind_permission_sets(
    State(s): State<Shared>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let who = identity(&s, &headers).await?;
    let position = text(&body, "position")?;
    if position.trim().is_empty() || position.chars().count() > MAX_POSITION_LEN {
        return Err(ApiError::Auth(AuthError::Invalid {
            field: "position",
            message: format!("position is 1 to {MAX_POSITION_LEN} characters"),
        }));
    }
    let sets = strings(&body, "permissionSets")?;
    if sets.len() > MAX_PERMISSION_SETS {
        return Err(ApiError::Auth(AuthError::Invalid {
            field: "permissionSets",
            message: format!("at most {MAX_PERMISSION_SETS} permission sets"),
        }));
    }
    let bound = s
        .kernel
        .bind_permission_sets(&who.principal, position, &sets)
        .await?;
    Ok(json_response(
        200,
        json!({"success": true, "data": {"position": position, "permissionSets": bound}}),
    ))
}

async fn create_api_key(
    State(s): State<Shared>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let who = identity(&s, &headers).await?;
    let (key, record) = s
        .auth
        .create_api_key(
            &who,
            text(&body, "name")?,
            body.get("expiresIn"),
            body.get("expiresAt"),
        )
        .await?;
    Ok(json_response(
        201,
        json!({"success": true, "data": {"key": key, "apiKey": record}}),
    ))
}

/// The caller's own keys (never the keys themselves).
async fn list_api_keys(State(s): State<Shared>, headers: HeaderMap) -> Result<Response, ApiError> {
    let who = super::identity_any(&s, &headers).await?;
    let keys = s.auth.list_api_keys(&who).await?;
    Ok(json_response(
        200,
        json!({"success": true, "data": {"apiKeys": keys}}),
    ))
}

async fn revoke_api_key(
    State(s): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let who = super::identity_any(&s, &headers).await?;
    let key = s.auth.revoke_api_key(&who, &id).await?;
    Ok(json_response(
        200,
        json!({"success": true, "data": {"apiKey": key}}),
    ))
}

async fn set_banned(
    s: Shared,
    headers: HeaderMap,
    body: Value,
    banned: bool,
) -> Result<Response, ApiError> {
    let who = identity(&s, &headers).await?;
    let user = s
        .auth
        .admin_set_banned(&who, text(&body, "userId")?, banned)
        .await?;
    Ok(json_response(
        200,
        json!({"success": true, "data": {"user": user}}),
    ))
}

/// `{userId}`: the user's sessions end; sign-in, sessions and API keys are refused until unbanned.
async fn ban_user(
    State(s): State<Shared>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    set_banned(s, headers, body, true).await
}

async fn unban_user(
    State(s): State<Shared>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    set_banned(s, headers, body, false).await
}
