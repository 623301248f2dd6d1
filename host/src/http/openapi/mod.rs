//! OpenAPI 3.1 generated from the artifact: every route the router serves, per object its record, create,
//! update and query schemas (field types as JSON Schema, required fields, enums for selects, read-only system
//! fields), every parameter with its limits, and every error status with its body. It needs credentials and
//! describes only what the caller may read: the objects the kernel's access computation lets it read, without
//! the fields it may not read.
//!
//! What JSON Schema cannot say (validation rules, hooks, whether a referenced record exists, uniqueness) is
//! named in each operation's `x-objectos-rules`, so a client knows a schema-valid write may still be refused
//! with 400 `VALIDATION_FAILED` or 409.

mod fixed;
mod objects;
mod schemas;

use super::errors::ApiError;
use super::meta::Viewer;
use super::{Shared, identity, json_response};
use crate::artifact::fields::{FieldType, StorageKind};
use crate::data::catalog::{FieldSchema, ObjectSchema};
use crate::data::limits;
use crate::data::shapes::schema as shapes;
use crate::security::auth;
use crate::security::permissions::Access;
use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use fixed::{common_responses, common_schemas, fixed_paths};
use objects::object_paths;
use serde_json::{Map, Value, json};

pub fn routes() -> Router<Shared> {
    Router::new().route("/api/v1/openapi.json", get(openapi))
}

pub(super) fn content(schema: Value) -> Value {
    json!({"application/json": {"schema": schema}})
}

pub(super) fn ok(description: &str, schema: Value) -> Value {
    json!({"description": description, "content": content(schema)})
}

pub(super) fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

pub(super) fn response_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/responses/{name}")})
}

/// The error statuses of a data route.
pub(super) fn data_errors(extra: &[&str]) -> Map<String, Value> {
    let mut m = Map::new();
    for (status, name) in [
        ("400", "BadRequest"),
        ("401", "Unauthenticated"),
        ("403", "Forbidden"),
        ("404", "NotFound"),
        ("413", "PayloadTooLarge"),
        ("500", "ServerError"),
        ("503", "Unavailable"),
        ("504", "Timeout"),
    ] {
        m.insert(status.into(), response_ref(name));
    }
    for e in extra {
        let name = match *e {
            "409" => "Conflict",
            "501" => "NotImplemented",
            _ => "ServerError",
        };
        m.insert((*e).to_string(), response_ref(name));
    }
    m
}

pub(super) fn operation(
    tag: &str,
    id: String,
    summary: &str,
    success: &[(&str, Value)],
    errors: Map<String, Value>,
) -> Map<String, Value> {
    let mut responses = errors;
    // The HTTP layer's own refusals of an oversized request line or header block (no body).
    responses.insert("414".into(), json!({"description": "URI too long"}));
    responses.insert(
        "431".into(),
        json!({"description": "Request header fields too large"}),
    );
    for (status, r) in success {
        responses.insert((*status).to_string(), r.clone());
    }
    let mut op = Map::new();
    op.insert("tags".into(), json!([tag]));
    op.insert("operationId".into(), json!(id));
    op.insert("summary".into(), json!(summary));
    op.insert("responses".into(), Value::Object(responses));
    op
}

pub(super) fn with(op: impl Into<Value>, key: &str, v: Value) -> Value {
    let mut op = match op.into() {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    op.insert(key.into(), v);
    Value::Object(op)
}

pub(super) fn body(schema: Value) -> Value {
    json!({"required": true, "content": content(schema)})
}

pub(super) fn errors_of(statuses: &[(&str, &str)]) -> Map<String, Value> {
    statuses
        .iter()
        .map(|(s, r)| ((*s).to_string(), response_ref(r)))
        .collect()
}

/// The document as `viewer` may see it.
pub fn document(s: &Shared, viewer: &Viewer) -> Value {
    let readable: Vec<_> = s
        .kernel
        .catalog()
        .public_objects()
        .filter_map(|o| Some((o, viewer.readable(s, o)?)))
        .collect();
    let mut paths = Map::new();
    let mut schemas = Map::new();
    common_schemas(&mut schemas);
    schemas.insert(
        "Discovery".into(),
        json!({"type": "object", "required": ["name", "version", "routes"], "properties": {
            "name": {"type": "string"}, "apiName": {"type": "string"}, "version": {"type": "string"}, "environment": {"type": "string"},
            "routes": {"type": "object", "additionalProperties": {"type": "string"}}, "locale": {"type": "object"},
            "services": {"type": "object"}, "capabilities": {"type": "object"}, "scoping": {"type": "object"}}}),
    );
    for (o, access) in &readable {
        object_paths(s, o, access, &mut paths, &mut schemas);
    }
    let sets: Vec<String> = s
        .kernel
        .artifact()
        .definition
        .permissions
        .iter()
        .map(|p| p.name.clone())
        .collect();
    fixed_paths(&mut paths, &sets, s.config.auth.api_key_max_ttl.as_secs());
    let manifest = s
        .kernel
        .artifact()
        .definition
        .manifest
        .clone()
        .unwrap_or_default();
    let mut tags: Vec<Value> = readable
        .iter()
        .map(|(o, _)| json!({"name": o.name}))
        .collect();
    for t in [
        "batch",
        "metadata",
        "auth",
        "services",
        "discovery",
        "health",
    ] {
        tags.push(json!({"name": t}));
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": manifest.name.unwrap_or_else(|| "objectos".into()), "version": manifest.version.unwrap_or_else(|| "0.0.0".into()),
                 "description": format!("Generated by objectos {} from the artifact's objects, as the caller may see them. Request bodies are limited by the server's body limit (413 PAYLOAD_TOO_LARGE); multi-record writes hold at most {} records; filters at most {} conditions; text values at most {} characters unless the field says less.",
                    env!("CARGO_PKG_VERSION"), limits::MAX_WRITE_BATCH, limits::MAX_FILTER_NODES, limits::MAX_VALUE_CHARS)},
        "servers": [{"url": "/", "description": "This server"}],
        "tags": tags,
        "components": {"schemas": schemas, "responses": common_responses(), "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearerAuth": []}],
        "paths": paths
    })
}

async fn openapi(State(s): State<Shared>, headers: HeaderMap) -> Result<Response, ApiError> {
    let viewer = Viewer::new(identity(&s, &headers).await?.principal);
    Ok(json_response(200, document(&s, &viewer)))
}
