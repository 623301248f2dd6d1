//! `/api/v1/health` (liveness + database reachability) and `/metrics` (Prometheus text: request counts and
//! latency histograms per route family, database pool). Health answers anyone `{status}` with the HTTP status
//! (200 `ok`, 503 `degraded`); the details (version, database, plugins, errors) only to a platform administrator.

use super::{Shared, json_response};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
};
use serde_json::json;
use std::time::{Duration, Instant};

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "objectos_http_requests_total",
                "HTTP requests by route family, method and status",
            ),
            &["family", "method", "status"],
        )
        .expect("metric definition");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "objectos_http_request_duration_seconds",
                "HTTP request latency by route family",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ]),
            &["family"],
        )
        .expect("metric definition");
        let _ = registry.register(Box::new(requests.clone()));
        let _ = registry.register(Box::new(latency.clone()));
        Metrics {
            registry,
            requests,
            latency,
        }
    }

    pub fn observe(&self, family: &str, method: &str, status: u16, elapsed: Duration) {
        self.requests
            .with_label_values(&[family, method, &status.to_string()])
            .inc();
        self.latency
            .with_label_values(&[family])
            .observe(elapsed.as_secs_f64());
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// The family a matched route belongs to (bounded label values).
pub fn route_family(path: &str) -> &'static str {
    let p = path.trim_start_matches("/api/v1");
    if p.starts_with("/data") {
        "data"
    } else if p.starts_with("/actions") {
        "actions"
    } else if p.starts_with("/batch") {
        "batch"
    } else if p.starts_with("/meta") {
        "meta"
    } else if p.starts_with("/auth") {
        "auth"
    } else if p.starts_with("/health") || path == "/metrics" {
        "health"
    } else if p.starts_with("/openapi") {
        "openapi"
    } else {
        "discovery"
    }
}

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/api/v1/health", get(health))
        .route("/metrics", get(metrics))
}

async fn health(State(s): State<Shared>, headers: HeaderMap) -> Response {
    let admin = match super::identity(&s, &headers).await {
        Ok(who) => who.principal.is_platform_admin(),
        Err(_) => false,
    };
    let started = Instant::now();
    let db = s.kernel.ping_database().await;
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let (status, db_status, error) = match db {
        Ok(()) => (200, "up", None),
        Err(e) => (503, "down", Some(e.to_string())),
    };
    let headline = if status == 200 { "ok" } else { "degraded" };
    if !admin {
        return json_response(status, json!({ "status": headline }));
    }
    json_response(
        status,
        json!({"status": headline, "version": env!("CARGO_PKG_VERSION"),
               "database": {"status": db_status, "driver": s.kernel.driver_name(), "latencyMs": latency_ms, "error": error},
               "plugins": s.kernel.plugins().statuses()}),
    )
}

async fn metrics(State(s): State<Shared>) -> Response {
    let mut families = s.metrics.registry.gather();
    let pool = s.kernel.pool_stats();
    let mut extra = String::new();
    extra.push_str("# HELP objectos_db_pool_connections Database pool connections by state\n# TYPE objectos_db_pool_connections gauge\n");
    extra.push_str(&format!(
        "objectos_db_pool_connections{{state=\"open\"}} {}\n",
        pool.0
    ));
    extra.push_str(&format!(
        "objectos_db_pool_connections{{state=\"idle\"}} {}\n",
        pool.1
    ));
    let attempts = s.auth.attempt_stats();
    extra.push_str("# HELP objectos_auth_attempt_keys Keys (IPs, accounts, users) the sign-in failure table tracks\n# TYPE objectos_auth_attempt_keys gauge\n");
    extra.push_str(&format!("objectos_auth_attempt_keys {}\n", attempts.keys));
    extra.push_str("# HELP objectos_auth_attempt_keys_dropped_total Keys dropped from the failure table, by reason\n# TYPE objectos_auth_attempt_keys_dropped_total counter\n");
    extra.push_str(&format!(
        "objectos_auth_attempt_keys_dropped_total{{reason=\"expired\"}} {}\n",
        attempts.expired_total
    ));
    extra.push_str(&format!(
        "objectos_auth_attempt_keys_dropped_total{{reason=\"evicted\"}} {}\n",
        attempts.evicted_total
    ));
    let mut buf = Vec::new();
    families.sort_by(|a, b| a.name().cmp(b.name()));
    let _ = TextEncoder::new().encode(&families, &mut buf);
    let mut body = String::from_utf8(buf).unwrap_or_default();
    body.push_str(&extra);
    let mut r = body.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    r
}
