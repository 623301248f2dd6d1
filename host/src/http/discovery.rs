//! Discovery: `/.well-known/objectstack` (wrapped) and `/api/v1`, `/api/v1/discovery` (bare), listing only the
//! routes and services this build really serves.

use super::{Shared, json_response};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use axum::routing::get;
use serde_json::{Value, json};

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/.well-known/objectstack", get(well_known))
        .route("/api/v1", get(bare))
        .route("/api/v1/discovery", get(bare))
}

/// What this build serves; it does not depend on the artifact.
pub fn discovery() -> Value {
    let available = |route: &str| json!({"enabled": true, "status": "available", "handlerReady": true, "route": route, "provider": "objectos"});
    let missing = |why: &str| json!({"enabled": false, "status": "unavailable", "handlerReady": false, "message": why});
    json!({
        "name": "objectos",
        "apiName": "ObjectStack API",
        "version": env!("CARGO_PKG_VERSION"),
        "environment": "production",
        "routes": {"data": "/api/v1/data", "metadata": "/api/v1/meta", "auth": "/api/v1/auth", "batch": "/api/v1/batch",
                   "openapi": "/api/v1/openapi.json", "health": "/api/v1/health"},
        "locale": {"default": "en", "supported": ["en"], "timezone": "UTC"},
        "services": {
            "metadata": available("/api/v1/meta"),
            "data": available("/api/v1/data"),
            "auth": available("/api/v1/auth"),
            "automation": missing("Hooks, actions and flows run in the Wasm sandbox, which this build does not have yet"),
            "ai": missing("Not provided by objectos"),
            "realtime": missing("Not provided by objectos"),
        },
        "capabilities": {
            "comments": {"enabled": false}, "automation": {"enabled": false}, "cron": {"enabled": false},
            "search": {"enabled": false}, "export": {"enabled": true, "features": ["csv"]}, "chunkedUpload": {"enabled": false},
            "transactionalBatch": {"enabled": true}, "websockets": {"enabled": false}, "files": {"enabled": false},
            "analytics": {"enabled": false}, "ai": {"enabled": false}, "notifications": {"enabled": false}, "i18n": {"enabled": false}
        },
        "scoping": {"organization": {"enabled": true, "field": "organization_id"}}
    })
}

/// Discovery with the running plugins' services (`plugin:<id>`; a service plugin's route is where its
/// methods are called).
fn with_plugins(mut d: Value, s: &Shared) -> Value {
    for p in s.kernel.plugins().statuses() {
        let running = p.status == "running";
        let mut entry = json!({"enabled": running, "status": if running { "available" } else { "unavailable" },
                               "handlerReady": running, "provider": p.id, "version": p.version, "kind": p.kind});
        if p.kind == "service" {
            entry["route"] = json!(format!("/api/v1/services/{}", p.id));
        }
        if let Some(e) = &p.last_error
            && !running
        {
            entry["message"] = json!(e);
        }
        d["services"][format!("plugin:{}", p.id)] = entry;
    }
    d
}

/// The wrapped `/.well-known` form carries fewer keys than the bare one, as the real server's does.
fn well_known_payload(s: &Shared) -> Value {
    let mut d = with_plugins(discovery(), s);
    if let Some(m) = d.as_object_mut() {
        for k in ["apiName", "scoping"] {
            m.shift_remove(k);
        }
    }
    d
}

fn no_store(mut r: Response) -> Response {
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

async fn well_known(State(s): State<Shared>) -> Response {
    no_store(json_response(
        200,
        json!({"success": true, "data": well_known_payload(&s)}),
    ))
}

async fn bare(State(s): State<Shared>) -> Response {
    no_store(json_response(200, with_plugins(discovery(), &s)))
}
