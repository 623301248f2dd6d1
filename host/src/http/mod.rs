//! The REST surface, wire-compatible with ObjectStack 17 (WIRE.md §4). One file per route family; every data
//! call goes through `Kernel::execute` as the authenticated principal.

pub mod actions;
pub mod auth;
pub mod bulk;
pub mod client;
pub mod data;
pub mod discovery;
pub mod errors;
pub mod health;
pub mod listener;
pub mod meta;
pub mod openapi;
pub mod params;
pub mod services;

use crate::kernel::Kernel;
use crate::security::auth::{AuthError, AuthService, Identity};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use errors::ApiError;
use serde_json::Value;
use std::sync::Arc;
use std::time::Instant;
use tower_http::cors::{Any, CorsLayer};
use tracing::Instrument;

/// HTTP settings (flags / `OS_*` env).
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// Page size of a list without `limit` (an unbounded list is a denial-of-service door).
    pub default_page_size: u64,
    /// The largest `limit` honoured; larger ones are clamped.
    pub max_page_size: u64,
    /// Largest request body, in bytes.
    pub body_limit: usize,
    /// Let anyone sign up after the first user.
    pub open_signup: bool,
    /// A request's head must be complete this long after its first byte, or the connection is closed.
    pub header_timeout: std::time::Duration,
    /// A keep-alive connection with no request under way and nothing moving is closed after this long (also the
    /// time a new connection has to start its first request).
    pub idle_timeout: std::time::Duration,
    /// A handler that has not answered after this long gets 503 `REQUEST_TIMEOUT`.
    pub request_timeout: std::time::Duration,
    /// Open connections at most; one more is answered 503 `TOO_MANY_CONNECTIONS` and closed.
    pub max_connections: usize,
    /// Sign-in and password-change limits, the password hasher's slots, API key lifetime.
    pub auth: crate::security::limits::AuthLimits,
    /// Peers whose `X-Forwarded-For` / `X-Forwarded-Proto` are believed (`--trusted-proxy`); none by default.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Always mark the session cookie `Secure` (otherwise only when a trusted proxy says the request was https).
    pub secure_cookies: bool,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            default_page_size: 100,
            max_page_size: 1000,
            body_limit: 1024 * 1024,
            open_signup: false,
            header_timeout: std::time::Duration::from_secs(10),
            idle_timeout: std::time::Duration::from_secs(60),
            request_timeout: std::time::Duration::from_secs(60),
            max_connections: 512,
            auth: Default::default(),
            trusted_proxies: Vec::new(),
            secure_cookies: false,
        }
    }
}

pub struct AppState {
    pub kernel: Arc<Kernel>,
    pub auth: Arc<AuthService>,
    pub config: HttpConfig,
    pub metrics: health::Metrics,
}

pub type Shared = Arc<AppState>;

impl AppState {
    pub fn new(kernel: Arc<Kernel>, secret: &[u8], config: HttpConfig) -> Shared {
        let auth = Arc::new(AuthService::new(
            kernel.clone(),
            secret,
            config.open_signup,
            config.auth.clone(),
        ));
        Arc::new(AppState {
            kernel,
            auth,
            config,
            metrics: health::Metrics::new(),
        })
    }
}

pub const SESSION_COOKIE: &str = "better-auth.session_token";

/// The bearer token or session cookie of a request, if any.
pub fn presented_credentials(headers: &HeaderMap) -> Option<String> {
    if let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let v = v.trim();
        return Some(
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
                .unwrap_or(v)
                .trim()
                .to_string(),
        );
    }
    let cookies = headers.get_all(header::COOKIE);
    for c in cookies.iter().filter_map(|c| c.to_str().ok()) {
        for part in c.split(';') {
            if let Some((k, v)) = part.trim().split_once('=')
                && k == SESSION_COOKIE
            {
                return percent_encoding::percent_decode_str(v)
                    .decode_utf8()
                    .ok()
                    .map(|s| s.into_owned());
            }
        }
    }
    None
}

/// The caller, or 401 `UNAUTHENTICATED`: there is no anonymous data or metadata access. A user who must
/// change their password gets 403 `PASSWORD_EXPIRED` until they do.
pub async fn identity(state: &AppState, headers: &HeaderMap) -> Result<Identity, ApiError> {
    let mut who = identity_any(state, headers).await?;
    who.principal.request_id = headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if who.user.get("must_change_password") == Some(&Value::Bool(true)) {
        return Err(ApiError::Expired);
    }
    Ok(who)
}

/// The caller, even one whose password has expired (for the password change itself and the session).
pub async fn identity_any(state: &AppState, headers: &HeaderMap) -> Result<Identity, ApiError> {
    let presented = presented_credentials(headers).ok_or(AuthError::Unauthenticated)?;
    Ok(state.auth.authenticate(&presented).await?)
}

/// A JSON request body: size-limited, content-type checked, with precise parse errors.
pub struct JsonBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_ascii_lowercase);
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::Plain {
                    status: 413,
                    code: "PAYLOAD_TOO_LARGE",
                    message: "The request body is larger than the server accepts".into(),
                    object: None,
                }
            } else {
                ApiError::bad_request("INVALID_BODY", format!("Cannot read the request body: {e}"))
            }
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(JsonBody(Value::Null));
        }
        match content_type {
            Some(ct) if ct.contains("json") => {}
            Some(ct) => {
                return Err(ApiError::bad_request(
                    "UNSUPPORTED_CONTENT_TYPE",
                    format!("Expected content-type application/json, got '{ct}'"),
                ));
            }
            None => {
                return Err(ApiError::bad_request(
                    "UNSUPPORTED_CONTENT_TYPE",
                    "Expected content-type application/json",
                ));
            }
        }
        serde_json::from_slice(&bytes).map(JsonBody).map_err(|e| {
            ApiError::bad_request(
                "INVALID_JSON",
                format!(
                    "Malformed JSON body at line {}, column {}: {e}",
                    e.line(),
                    e.column()
                ),
            )
        })
    }
}

/// Records per-route-family counts and latencies, and tags every response with a request id.
async fn observe(State(state): State<Shared>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let family = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| health::route_family(p.as_str()))
        .unwrap_or("unmatched");
    let method = req.method().clone();
    let request_id = crate::data::ids::new_id();
    // Handlers read it from here (the audit log records it); a client's own x-request-id is replaced.
    let mut req = req;
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        req.headers_mut()
            .insert(HeaderName::from_static("x-request-id"), v);
    }
    let span = tracing::info_span!("request", id = %request_id, method = %method, path = %req.uri().path());
    let mut response = next.run(req).instrument(span.clone()).await;
    let status = response.status().as_u16();
    state
        .metrics
        .observe(family, method.as_str(), status, started.elapsed());
    tracing::debug!(parent: &span, status, elapsed_ms = started.elapsed().as_secs_f64() * 1000.0, "done");
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response
            .headers_mut()
            .insert(HeaderName::from_static("x-request-id"), v);
    }
    response
}

/// Runs each request in its own task. A client that disconnects drops only the wait for the answer, never the
/// handler half-way through a transaction (a cancelled `begin` once left a pooled SQLite connection holding the
/// write lock, and every later write failed).
///
/// The task carries the request's span (its logs have the request id), and a panic in it is contained: the
/// client gets 500 `INTERNAL_ERROR` with the request id (in the body and the `x-request-id` header), the log
/// says what panicked, and the server goes on.
async fn detach(req: Request, next: Next) -> Response {
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_string();
    match tokio::spawn(next.run(req).in_current_span()).await {
        Ok(response) => response,
        Err(e) => {
            tracing::error!(request_id, "request task failed: {e}");
            json_response(
                500,
                serde_json::json!({"error": "Internal server error", "code": "INTERNAL_ERROR", "requestId": request_id}),
            )
        }
    }
}

async fn not_found(method: Method, uri: axum::http::Uri) -> ApiError {
    ApiError::Plain {
        status: 404,
        code: "ROUTE_NOT_FOUND",
        message: format!("No route {method} {}", uri.path()),
        object: None,
    }
}

pub fn router(state: Shared) -> Router {
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods(Any)
        .allow_headers(Any)
        .expose_headers([
            HeaderName::from_static("set-auth-token"),
            HeaderName::from_static("x-objectstack-dropped-fields"),
        ]);
    Router::new()
        .merge(discovery::routes())
        .merge(health::routes())
        .merge(auth::routes())
        .merge(meta::routes())
        .merge(data::routes())
        .merge(bulk::routes())
        .merge(actions::routes())
        .merge(services::routes())
        .merge(openapi::routes())
        .fallback(not_found)
        .layer(middleware::from_fn(detach))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            listener::request_deadline,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .layer(axum::extract::DefaultBodyLimit::max(
            state.config.body_limit,
        ))
        .layer(cors)
        .with_state(state)
}

/// Serves until `shutdown` resolves, with the connection limits of `state.config` (see [`listener`]).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Shared,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    listener::serve(listener, state, shutdown).await
}

/// A JSON response with a status.
pub fn json_response(status: u16, body: Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    (status, axum::Json(body)).into_response()
}
