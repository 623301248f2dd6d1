//! `/api/v1/meta/*`: the artifact's metadata as the real server lists it (objects with their system fields),
//! cut to what the caller may see:
//! - an object (and its state machines, its actions, a view or report naming it) only when the kernel's access
//!   computation lets the caller read it; otherwise it does not exist for the caller (lists leave it out, the
//!   item answers 404 `RESOURCE_NOT_FOUND` as for an unknown name); fields the caller may not read are left out;
//! - the kinds in [`ADMIN_ONLY`] (permission sets with their RLS policies, hooks, flows, jobs, seed data,
//!   datasources) and code ([`CODE_KEYS`]: action bodies, handlers, sources) only for a platform administrator;
//!   for anyone else those kinds are not listed by `/meta/types` and answer 404 `RESOURCE_NOT_FOUND`.

use super::errors::ApiError;
use super::{Shared, identity, json_response, params};
use crate::data::catalog::ObjectSchema;
use crate::kernel::Principal;
use crate::security::permissions::{Access, Operation};
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

/// Every metadata type the real 17.4 server declares.
const REAL_TYPES: &[&str] = &[
    "package",
    "page",
    "dashboard",
    "dataset",
    "permission",
    "hook",
    "data",
    "app",
    "doc",
    "object",
    "field",
    "seed",
    "mapping",
    "view",
    "action",
    "report",
    "flow",
    "job",
    "datasource",
    "external_catalog",
    "api",
    "translation",
    "email_template",
    "book",
    "position",
    "capability",
    "agent",
    "tool",
    "skill",
];

/// Kinds only a platform administrator sees: policies, code, data and connection details.
pub const ADMIN_ONLY: &[&str] = &["permission", "hook", "flow", "job", "seed", "datasource"];

/// Keys that hold code (bodies, handlers, sources), left out of every item for all but a platform administrator.
pub const CODE_KEYS: &[&str] = &[
    "body",
    "handler",
    "source",
    "script",
    "code",
    "component",
    "execute",
];

/// Who is looking, and what the kernel lets them read.
pub struct Viewer {
    pub principal: Principal,
}

impl Viewer {
    pub fn new(principal: Principal) -> Viewer {
        Viewer { principal }
    }

    /// The runtime's platform administrator (permission sets do not restrict it).
    pub fn is_admin(&self) -> bool {
        self.principal.is_platform_admin()
    }

    /// The caller's access to `schema`, when it may read it (internal objects never).
    pub fn readable(&self, s: &Shared, schema: &ObjectSchema) -> Option<Access> {
        if schema.internal {
            return None;
        }
        let access = s.kernel.permissions().access(&self.principal, schema);
        access.allows(Operation::Read).then_some(access)
    }

    /// Whether the object named `name` exists and the caller may read it.
    pub fn can_read_object(&self, s: &Shared, name: &str) -> bool {
        s.kernel
            .catalog()
            .object(name)
            .is_some_and(|o| self.readable(s, o).is_some())
    }

    fn sees_kind(&self, kind: &str) -> bool {
        self.is_admin() || !ADMIN_ONLY.contains(&kind)
    }

    /// An item of a non-object kind as this viewer may see it: `None` when it names an object the viewer cannot
    /// read; without code unless the viewer is an administrator.
    fn item(&self, s: &Shared, item: &Value) -> Option<Value> {
        if self.is_admin() {
            return Some(item.clone());
        }
        for key in ["object", "objectName", "object_name"] {
            if let Some(name) = item.get(key).and_then(Value::as_str)
                && !self.can_read_object(s, name)
            {
                return None;
            }
        }
        Some(without_code(item))
    }
}

/// Whether `key: value` holds code: a [`CODE_KEYS`] key with a string or a body (`{language, source}`,
/// `{component}`). A field that happens to be named `body` or `code` (an object without those) is not code.
fn is_code(key: &str, value: &Value) -> bool {
    CODE_KEYS.contains(&key)
        && match value {
            Value::String(_) => true,
            Value::Object(m) => ["language", "source", "component", "sha256"]
                .iter()
                .any(|k| m.contains_key(*k)),
            _ => false,
        }
}

/// `v` without code (see [`is_code`]), at any depth.
pub fn without_code(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, v)| !is_code(k, v))
                .map(|(k, v)| (k.clone(), without_code(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(without_code).collect()),
        other => other.clone(),
    }
}

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
    let viewer = Viewer::new(identity(&s, &headers).await?.principal);
    let shown: Vec<_> = TYPES.iter().filter(|t| viewer.sees_kind(t.0)).collect();
    let entries: Vec<Value> = shown
        .iter()
        .map(|(t, section, label)| json!({"type": t, "label": label, "section": section}))
        .collect();
    Ok(json_response(
        200,
        json!({"types": shown.iter().map(|t| t.0).collect::<Vec<_>>(), "entries": entries}),
    ))
}

/// The system fields as the real server describes them: name, type, label, hidden, readonly, description.
const SYSTEM_FIELDS: &[(&str, &str, &str, bool, bool, &str)] = &[
    (
        "created_at",
        "datetime",
        "Created At",
        false,
        true,
        "Timestamp when the record was created (auto-populated by the driver).",
    ),
    (
        "updated_at",
        "datetime",
        "Last Modified At",
        false,
        true,
        "Timestamp of the most recent modification (auto-populated by the driver).",
    ),
    (
        "organization_id",
        "lookup",
        "Organization",
        true,
        true,
        "Tenant scope (auto-populated by org-scoping on insert; NULL on single-tenant stacks).",
    ),
    (
        "created_by",
        "lookup",
        "Created By",
        false,
        true,
        "User who created the record (populated when an authenticated session is present).",
    ),
    (
        "updated_by",
        "lookup",
        "Last Modified By",
        false,
        true,
        "User who last modified the record (populated when an authenticated session is present).",
    ),
    (
        "owner_id",
        "lookup",
        "Owner",
        false,
        false,
        "Record owner (auto-stamped to the creating user on insert; reassignable). Drives owner-scoped views, reports and notifications.",
    ),
    (
        "owning_business_unit_id",
        "lookup",
        "Owning Business Unit",
        true,
        true,
        "Record-level business-unit ownership (ADR-0117 D1). Server-stamped scope anchor; NULL until the stamping middleware lands.",
    ),
];

fn system_field_meta(f: &crate::data::catalog::FieldSchema) -> Value {
    let known = SYSTEM_FIELDS.iter().find(|d| d.0 == f.name);
    let mut m = Map::new();
    m.insert(
        "type".into(),
        json!(known.map_or(f.ftype.as_str(), |d| d.1)),
    );
    if let Some(r) = &f.reference {
        m.insert("reference".into(), json!(r));
    }
    m.insert(
        "label".into(),
        json!(known.map_or(f.label.as_str(), |d| d.2)),
    );
    m.insert("required".into(), json!(f.name == "id"));
    if known.is_some_and(|d| d.3) {
        m.insert("hidden".into(), json!(true));
    }
    m.insert("readonly".into(), json!(known.is_none_or(|d| d.4)));
    m.insert("system".into(), json!(true));
    if let Some(d) = known {
        m.insert("description".into(), json!(d.5));
    }
    Value::Object(m)
}

/// The keys the real server adds to every metadata item it serves from a package.
fn with_provenance(s: &Shared, mut item: Value) -> Value {
    let manifest = s.kernel.artifact().raw.get("manifest");
    let get = |k: &str| {
        manifest
            .and_then(|m| m.get(k))
            .cloned()
            .unwrap_or(Value::Null)
    };
    if let Value::Object(m) = &mut item {
        m.insert("_packageId".into(), get("id"));
        m.insert("_packageVersion".into(), get("version"));
        m.insert("_provenance".into(), json!("package"));
        m.insert("_diagnostics".into(), json!({"valid": true}));
    }
    item
}

/// The artifact's object with the system fields it gets at run time (not `id`, as the real server lists it),
/// as `viewer` may see it: without the fields it may not read, its actions without code.
pub fn object_item(s: &Shared, schema: &ObjectSchema, viewer: &Viewer, access: &Access) -> Value {
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
    // The record's display field, as the real server derives it when none is declared: `name`, else the
    // first text field.
    if !item.contains_key("nameField") {
        let text = |v: &Value| v.get("type").and_then(Value::as_str) == Some("text");
        let derived = declared
            .get("name")
            .filter(|v| text(v))
            .map(|_| "name".to_string())
            .or_else(|| {
                declared
                    .iter()
                    .find(|(_, v)| text(v))
                    .map(|(k, _)| k.clone())
            });
        if let Some(name) = derived {
            item.insert("nameField".into(), json!(name));
        }
    }
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
    fields.retain(|name, _| !access.unreadable.contains(name));
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
                .filter_map(|x| viewer.item(s, x))
                .collect()
        })
        .unwrap_or_default();
    if !actions.is_empty() {
        item.insert("actions".into(), Value::Array(actions));
    }
    let item = with_provenance(s, Value::Object(item));
    if viewer.is_admin() {
        item
    } else {
        without_code(&item)
    }
}

/// Every kind `/meta/{kind}` knows: the real server's and the ones this runtime serves (any other is a 400).
pub(crate) fn known_kinds() -> Vec<&'static str> {
    let mut kinds: Vec<&'static str> = REAL_TYPES.to_vec();
    for (t, _, _) in TYPES {
        if !kinds.contains(t) {
            kinds.push(t);
        }
    }
    kinds
}

/// A kind the real server does not declare is a bad request; one it declares that the caller may not see (or
/// that this runtime does not serve) is an unknown item.
fn unknown_kind(kind: &str) -> ApiError {
    if REAL_TYPES.contains(&kind) {
        return not_found(kind, "*");
    }
    ApiError::Plain {
        status: 400,
        code: "INVALID_REQUEST",
        message: format!(
            "[invalid_request] '{kind}' is not a metadata type. The platform declares no such type and this deployment \
             has registered no items under it, so an empty collection here would be indistinguishable from a type that \
             exists and holds nothing. GET /api/v1/meta/types lists the types this deployment carries."
        ),
        object: None,
    }
}

fn not_found(kind: &str, name: &str) -> ApiError {
    ApiError::Plain {
        status: 404,
        code: "RESOURCE_NOT_FOUND",
        message: format!("Metadata item {kind}/{name} not found"),
        object: None,
    }
}

/// The items of a non-object kind `viewer` may see; `None` for a kind unknown or hidden from it.
fn section_items(s: &Shared, kind: &str, viewer: &Viewer) -> Option<Vec<Value>> {
    let (_, section, _) = TYPES.iter().find(|(t, _, _)| *t == kind)?;
    if !viewer.sees_kind(kind) {
        return None;
    }
    let items: Vec<Value> = match s.kernel.artifact().raw.get(*section) {
        Some(Value::Array(items)) => items.clone(),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| json!({"name": k, "item": v}))
            .collect(),
        _ => vec![],
    };
    Some(
        items
            .iter()
            .filter_map(|i| viewer.item(s, i))
            .map(|i| with_provenance(s, i))
            .collect(),
    )
}

async fn list(
    State(s): State<Shared>,
    Path(kind): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let viewer = Viewer::new(identity(&s, &headers).await?.principal);
    if kind == "object" {
        // In the artifact's order, as the real server lists them.
        let order: Vec<String> = s
            .kernel
            .artifact()
            .definition
            .objects
            .iter()
            .map(|o| o.name.clone())
            .collect();
        let mut objects: Vec<_> = s.kernel.catalog().public_objects().collect();
        objects.sort_by_key(|o| {
            order
                .iter()
                .position(|n| *n == o.name)
                .unwrap_or(usize::MAX)
        });
        let items: Vec<Value> = objects
            .into_iter()
            .filter_map(|o| Some(object_item(&s, o, &viewer, &viewer.readable(&s, o)?)))
            .map(|mut item| {
                // The real server's object list carries no package version (one object's item does).
                if let Value::Object(m) = &mut item {
                    m.remove("_packageVersion");
                }
                item
            })
            .collect();
        return Ok(json_response(
            200,
            json!({"type": "object", "items": items}),
        ));
    }
    let items = section_items(&s, &kind, &viewer).ok_or_else(|| unknown_kind(&kind))?;
    Ok(json_response(200, json!({"type": kind, "items": items})))
}

async fn item(
    State(s): State<Shared>,
    Path((kind, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let viewer = Viewer::new(identity(&s, &headers).await?.principal);
    if kind == "object" {
        // An object the caller may not read answers exactly as one that does not exist.
        let (schema, access) = s
            .kernel
            .catalog()
            .object(&name)
            .and_then(|o| Some((o, viewer.readable(&s, o)?)))
            .ok_or_else(|| not_found(&kind, &name))?;
        let mut sortability = Map::new();
        for f in schema
            .fields
            .iter()
            .filter(|f| !access.unreadable.contains(&f.name))
        {
            // As on the real server: every stored field sorts; a formula is computed, so it does not.
            let v = if f.ftype != crate::artifact::fields::FieldType::Formula {
                json!({"sortable": true})
            } else {
                json!({"sortable": false, "reason": "virtual-type"})
            };
            sortability.insert(f.name.clone(), v);
        }
        return Ok(json_response(
            200,
            json!({"type": "object", "name": name, "sortability": {"fields": sortability}, "item": object_item(&s, schema, &viewer, &access)}),
        ));
    }
    let items = section_items(&s, &kind, &viewer).ok_or_else(|| unknown_kind(&kind))?;
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
    let viewer = Viewer::new(identity(&s, &headers).await?.principal);
    let access = s
        .kernel
        .catalog()
        .object(&name)
        .and_then(|o| viewer.readable(&s, o))
        .ok_or_else(|| not_found("object", &name))?;
    if access.unreadable.contains(&field) {
        return Err(not_found("object", &format!("{name}.{field}")));
    }
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
