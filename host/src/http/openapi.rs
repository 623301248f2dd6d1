//! OpenAPI 3.1 generated from the artifact: one schema per object, every data route, the error envelope.

use super::Shared;
use super::json_response;
use crate::artifact::fields::{FieldType, StorageKind};
use crate::data::catalog::{FieldSchema, ObjectSchema};
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use serde_json::{Map, Value, json};

pub fn routes() -> Router<Shared> {
    Router::new().route("/api/v1/openapi.json", get(openapi))
}

fn field_schema(f: &FieldSchema) -> Value {
    let mut s = match f.storage {
        Some(StorageKind::Number(_)) => json!({"type": "number"}),
        Some(StorageKind::Boolean) => json!({"type": "boolean"}),
        Some(StorageKind::Date) => json!({"type": "string", "format": "date"}),
        Some(StorageKind::DateTime) => json!({"type": "string", "format": "date-time"}),
        Some(StorageKind::Json) if f.ftype.is_list() || f.multiple => json!({"type": "array"}),
        Some(StorageKind::Json) => json!({}),
        _ => json!({"type": "string"}),
    };
    let m = s.as_object_mut().expect("object");
    m.insert("title".into(), json!(f.label));
    if !f.options.is_empty() {
        let e = json!(f.options);
        if f.ftype.is_list() || f.multiple {
            m.insert("items".into(), json!({"type": "string", "enum": e}));
        } else {
            m.insert("enum".into(), e);
        }
    }
    if let Some(n) = f.max_length {
        m.insert("maxLength".into(), json!(n));
    }
    if let Some(n) = f.min {
        m.insert("minimum".into(), json!(n));
    }
    if let Some(n) = f.max {
        m.insert("maximum".into(), json!(n));
    }
    if f.system || f.storage.is_none() || f.ftype == FieldType::Autonumber {
        m.insert("readOnly".into(), json!(true));
    }
    if f.ftype == FieldType::Email {
        m.insert("format".into(), json!("email"));
    }
    if f.ftype == FieldType::Url {
        m.insert("format".into(), json!("uri"));
    }
    s
}

fn object_schema(o: &ObjectSchema) -> Value {
    let mut props = Map::new();
    for f in &o.fields {
        props.insert(f.name.clone(), field_schema(f));
    }
    let required: Vec<&str> = o
        .fields
        .iter()
        .filter(|f| f.required && !f.system)
        .map(|f| f.name.as_str())
        .collect();
    json!({"type": "object", "title": o.label, "properties": props, "required": required})
}

fn error_ref() -> Value {
    json!({"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

fn ok(schema: Value) -> Value {
    json!({"description": "OK", "content": {"application/json": {"schema": schema}}})
}

pub fn document(s: &Shared) -> Value {
    let mut paths = Map::new();
    let mut schemas = Map::new();
    let errors = json!({"400": error_ref(), "401": error_ref(), "403": error_ref(), "404": error_ref(), "409": error_ref()});
    let list_params = json!([
        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 0}, "description": "aliases: top, $top"},
        {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}, "description": "aliases: skip, $skip"},
        {"name": "orderBy", "in": "query", "schema": {"type": "string"}, "description": "aliases: sort, $orderby; -field or 'field desc'"},
        {"name": "fields", "in": "query", "schema": {"type": "string"}, "description": "aliases: select, $select"},
        {"name": "where", "in": "query", "schema": {"type": "string"}, "description": "JSON filter, object or array form; aliases: filter, filters, $filter"},
        {"name": "expand", "in": "query", "schema": {"type": "string"}, "description": "aliases: populate, $expand"},
        {"name": "search", "in": "query", "schema": {"type": "string"}},
        {"name": "count", "in": "query", "schema": {"type": "boolean"}}
    ]);
    for o in s.kernel.catalog().public_objects() {
        let name = &o.name;
        schemas.insert(name.clone(), object_schema(o));
        let r = json!({"$ref": format!("#/components/schemas/{name}")});
        let list = json!({"type": "object", "properties": {"object": {"type": "string"}, "records": {"type": "array", "items": r}, "total": {"type": "integer"}, "hasMore": {"type": "boolean"}}});
        let single = json!({"type": "object", "properties": {"object": {"type": "string"}, "id": {"type": "string"}, "record": r}});
        let with = |responses: Value, extra: Value| {
            let mut m = errors.as_object().cloned().unwrap_or_default();
            for (k, v) in responses.as_object().cloned().unwrap_or_default() {
                m.insert(k, v);
            }
            let mut op = extra.as_object().cloned().unwrap_or_default();
            op.insert("tags".into(), json!([name]));
            op.insert("responses".into(), Value::Object(m));
            Value::Object(op)
        };
        paths.insert(
            format!("/api/v1/data/{name}"),
            json!({
                "get": with(json!({"200": ok(list.clone())}), json!({"operationId": format!("list_{name}"), "parameters": list_params})),
                "post": with(json!({"201": ok(single.clone())}), json!({"operationId": format!("create_{name}"), "requestBody": {"required": true, "content": {"application/json": {"schema": r}}}}))
            }),
        );
        paths.insert(
            format!("/api/v1/data/{name}/query"),
            json!({"post": with(json!({"200": ok(list.clone())}), json!({"operationId": format!("query_{name}"), "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/QueryAST"}}}}}))}),
        );
        paths.insert(
            format!("/api/v1/data/{name}/createMany"),
            json!({"post": with(json!({"201": ok(json!({"type": "object", "properties": {"object": {"type": "string"}, "records": {"type": "array", "items": r}, "count": {"type": "integer"}}}))}),
                json!({"operationId": format!("create_many_{name}"), "requestBody": {"content": {"application/json": {"schema": {"type": "array", "items": r}}}}}))}),
        );
        let id_param =
            json!([{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}]);
        paths.insert(
            format!("/api/v1/data/{name}/{{id}}"),
            json!({
                "parameters": id_param,
                "get": with(json!({"200": ok(single.clone())}), json!({"operationId": format!("get_{name}"), "parameters": [{"name": "select", "in": "query", "schema": {"type": "string"}}, {"name": "expand", "in": "query", "schema": {"type": "string"}}]})),
                "patch": with(json!({"200": ok(single.clone())}), json!({"operationId": format!("update_{name}"), "parameters": [{"name": "If-Match", "in": "header", "schema": {"type": "string"}}], "requestBody": {"content": {"application/json": {"schema": r}}}})),
                "delete": with(json!({"200": ok(json!({"type": "object", "properties": {"object": {"type": "string"}, "id": {"type": "string"}, "success": {"type": "boolean"}}}))}), json!({"operationId": format!("delete_{name}")}))
            }),
        );
    }
    paths.insert("/api/v1/batch".into(), json!({"post": {"operationId": "batch", "responses": {"200": {"description": "OK"}, "400": error_ref()}}}));
    schemas.insert(
        "Error".into(),
        json!({"type": "object", "required": ["error", "code"], "properties": {
            "error": {"type": "string"}, "code": {"type": "string"}, "object": {"type": "string"}, "field": {"type": "string"},
            "fields": {"type": "array", "items": {"type": "object", "required": ["field", "code", "message"], "properties": {
                "field": {"type": "string"}, "code": {"type": "string"}, "message": {"type": "string"}, "label": {"type": "string"}, "constraint": {"type": "object"}, "options": {"type": "array", "items": {"type": "string"}}}}}}}),
    );
    schemas.insert(
        "QueryAST".into(),
        json!({"type": "object", "properties": {"where": {}, "fields": {"type": "array", "items": {"type": "string"}}, "orderBy": {"type": "array"}, "limit": {"type": "integer"}, "offset": {"type": "integer"},
            "expand": {}, "search": {}, "groupBy": {"type": "array"}, "aggregations": {"type": "array"}, "count": {"type": "boolean"}}}),
    );
    let manifest = s
        .kernel
        .artifact()
        .definition
        .manifest
        .clone()
        .unwrap_or_default();
    json!({
        "openapi": "3.1.0",
        "info": {"title": manifest.name.unwrap_or_else(|| "objectos".into()), "version": manifest.version.unwrap_or_else(|| "0.0.0".into()),
                 "description": "Generated by objectos from the artifact's objects."},
        "servers": [{"url": "/", "description": "This server"}],
        "tags": s.kernel.catalog().public_objects().map(|o| json!({"name": o.name})).collect::<Vec<_>>(),
        "components": {"schemas": schemas, "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearerAuth": []}],
        "paths": paths
    })
}

async fn openapi(State(s): State<Shared>) -> Response {
    json_response(200, document(&s))
}
