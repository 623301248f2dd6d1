//! `/api/v1/meta/*`: the artifact's metadata as the real server lists it (objects with their system fields).

use super::errors::ApiError;
use super::{Shared, identity, json_response, params};
use crate::data::catalog::ObjectSchema;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use serde_json::{Map, Value, json};

/// Metadata type → the artifact section it comes from.
const TYPES: &[(&str, &str, &str)] = &[
    ("object", "objects", "Object"),
    ("permission", "permissions", "Permission Set"),
    ("position", "positions", "Position"),
    ("hook", "hooks", "Hook"),
    ("action", "actions", "Action"),
    ("flow", "flows", "Flow"),
    ("app", "apps", "App"),
    ("view", "views", "View"),
    ("page", "pages", "Page"),
    ("dashboard", "dashboards", "Dashboard"),
    ("report", "reports", "Report"),
    ("dataset", "datasets", "Dataset"),
    ("seed", "data", "Seed"),
    ("datasource", "datasources", "Datasource"),
    ("doc", "docs", "Doc"),
    ("job", "jobs", "Job"),
    ("email_template", "emailTemplates", "Email Template"),
    ("translation", "translations", "Translation"),
];

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/api/v1/meta", get(types))
        .route("/api/v1/meta/types", get(types))
        .route("/api/v1/meta/{kind}", get(list))
        .route("/api/v1/meta/{kind}/{name}", get(item))
        .route(
            "/api/v1/meta/object/{name}/state/{field}",
            get(state_transitions),
        )
}

async fn types(State(s): State<Shared>, headers: HeaderMap) -> Result<Response, ApiError> {
    identity(&s, &headers).await?;
    let entries: Vec<Value> = TYPES
        .iter()
        .map(|(t, section, label)| json!({"type": t, "label": label, "section": section}))
        .collect();
    Ok(json_response(
        200,
        json!({"types": TYPES.iter().map(|t| t.0).collect::<Vec<_>>(), "entries": entries}),
    ))
}

fn system_field_meta(f: &crate::data::catalog::FieldSchema) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), json!(f.ftype.as_str()));
    if let Some(r) = &f.reference {
        m.insert("reference".into(), json!(r));
    }
    m.insert("label".into(), json!(f.label));
    m.insert("required".into(), json!(f.name == "id"));
    m.insert("readonly".into(), json!(true));
    m.insert("system".into(), json!(true));
    Value::Object(m)
}

/// The artifact's object with the system fields it gets at run time (not `id`, as the real server lists it).
pub fn object_item(s: &Shared, schema: &ObjectSchema) -> Value {
    let raw = s
        .kernel
        .artifact()
        .raw
        .get("objects")
        .and_then(Value::as_array)
        .and_then(|objs| {
            objs.iter()
                .find(|o| o.get("name").and_then(Value::as_str) == Some(&schema.name))
        })
        .cloned()
        .unwrap_or_else(|| json!({"name": schema.name}));
    let mut item = raw.as_object().cloned().unwrap_or_default();
    let declared = item
        .get("fields")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut fields = Map::new();
    for f in schema.fields.iter().filter(|f| f.system && f.name != "id") {
        fields.insert(
            f.name.clone(),
            declared
                .get(&f.name)
                .cloned()
                .unwrap_or_else(|| system_field_meta(f)),
        );
    }
    for (k, v) in declared {
        fields.entry(k).or_insert(v);
    }
    item.insert("fields".into(), Value::Object(fields));
    let actions: Vec<Value> = s
        .kernel
        .artifact()
        .raw
        .get("actions")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter(|x| x.get("objectName").and_then(Value::as_str) == Some(&schema.name))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    if !actions.is_empty() {
        item.insert("actions".into(), Value::Array(actions));
    }
    Value::Object(item)
}

fn not_found(kind: &str, name: &str) -> ApiError {
    ApiError::Plain {
        status: 404,
        code: "RESOURCE_NOT_FOUND",
        message: format!("Metadata item {kind}/{name} not found"),
        object: None,
    }
}

fn section_items(s: &Shared, kind: &str) -> Option<Vec<Value>> {
    let (_, section, _) = TYPES.iter().find(|(t, _, _)| *t == kind)?;
    Some(match s.kernel.artifact().raw.get(*section) {
        Some(Value::Array(items)) => items.clone(),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| json!({"name": k, "item": v}))
            .collect(),
        _ => vec![],
    })
}

async fn list(
    State(s): State<Shared>,
    Path(kind): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    identity(&s, &headers).await?;
    if kind == "object" {
        let items: Vec<Value> = s
            .kernel
            .catalog()
            .public_objects()
            .map(|o| object_item(&s, o))
            .collect();
        return Ok(json_response(
            200,
            json!({"type": "object", "items": items}),
        ));
    }
    let items = section_items(&s, &kind).ok_or_else(|| not_found(&kind, "*"))?;
    Ok(json_response(200, json!({"type": kind, "items": items})))
}

async fn item(
    State(s): State<Shared>,
    Path((kind, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    identity(&s, &headers).await?;
    if kind == "object" {
        let schema = s
            .kernel
            .catalog()
            .object(&name)
            .filter(|o| !o.internal)
            .ok_or_else(|| not_found(&kind, &name))?;
        let mut sortability = Map::new();
        for f in &schema.fields {
            let v = if f.is_sortable() {
                json!({"sortable": true})
            } else {
                json!({"sortable": false, "reason": "virtual-type"})
            };
            sortability.insert(f.name.clone(), v);
        }
        return Ok(json_response(
            200,
            json!({"type": "object", "name": name, "sortability": {"fields": sortability}, "item": object_item(&s, schema)}),
        ));
    }
    let items = section_items(&s, &kind).ok_or_else(|| not_found(&kind, &name))?;
    let found = items
        .into_iter()
        .find(|i| i.get("name").and_then(Value::as_str) == Some(&name))
        .ok_or_else(|| not_found(&kind, &name))?;
    Ok(json_response(
        200,
        json!({"type": kind, "name": name, "item": found}),
    ))
}

/// `GET /meta/object/:name/state/:field?from=` → the states a state machine allows next.
async fn state_transitions(
    State(s): State<Shared>,
    Path((name, field)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    identity(&s, &headers).await?;
    let def = s
        .kernel
        .artifact()
        .definition
        .objects
        .iter()
        .find(|o| o.name == name)
        .ok_or_else(|| not_found("object", &name))?;
    let from = params::pairs(raw.as_deref())
        .into_iter()
        .find(|(k, _)| k == "from")
        .map(|(_, v)| v);
    let next = from.as_ref().and_then(|from| {
        def.validations.iter().find_map(|r| match r {
            crate::artifact::model::ValidationRule::StateMachine {
                field: f,
                transitions,
                ..
            } if *f == field => Some(transitions.get(from).cloned().unwrap_or_default()),
            _ => None,
        })
    });
    Ok(json_response(
        200,
        json!({"object": name, "field": field, "from": from, "next": next}),
    ))
}
