//! The typed model of an ObjectStack definition: everything the runtime executes.
//!
//! Sections that objectos does not execute (apps, views, dashboards, …) are kept as raw JSON in
//! [`Definition::other_sections`] so `artifact inspect` can list them and nothing is silently lost.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Top-level keys the protocol allows (PROTOCOL.md §1).
pub const ALLOWED_TOP_LEVEL_KEYS: &[&str] = &[
    "manifest",
    "datasources",
    "datasourceMapping",
    "translations",
    "i18n",
    "objects",
    "objectExtensions",
    "apps",
    "views",
    "pages",
    "dashboards",
    "reports",
    "datasets",
    "actions",
    "flows",
    "jobs",
    "emailTemplates",
    "docs",
    "books",
    "positions",
    "permissions",
    "capabilities",
    "sharingRules",
    "apis",
    "webhooks",
    "api",
    "server",
    "agents",
    "tools",
    "skills",
    "hooks",
    "functions",
    "mappings",
    "analyticsCubes",
    "connectors",
    "data",
    "plugins",
    "requires",
    "tiers",
    "devPlugins",
    "runtimeModule",
];

/// Keys retired in protocol 17: an artifact that carries them was built for an older protocol.
pub const RETIRED_TOP_LEVEL_KEYS: &[&str] = &[
    "workflows",
    "approvals",
    "portals",
    "themes",
    "viewItems",
    "onDisable",
];

/// The sections this build executes; every other allowed section is kept raw.
pub const EXECUTED_SECTIONS: &[&str] = &[
    "manifest",
    "datasources",
    "datasourceMapping",
    "objects",
    "objectExtensions",
    "actions",
    "flows",
    "positions",
    "permissions",
    "hooks",
    "functions",
    "data",
    "runtimeModule",
];

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Definition {
    #[serde(default)]
    pub manifest: Option<Manifest>,
    #[serde(default)]
    pub datasources: Vec<Datasource>,
    #[serde(default)]
    pub datasource_mapping: Option<Value>,
    #[serde(default)]
    pub objects: Vec<ObjectDef>,
    #[serde(default)]
    pub object_extensions: Vec<ObjectExtension>,
    #[serde(default)]
    pub actions: Vec<ActionDef>,
    #[serde(default)]
    pub flows: Vec<FlowDef>,
    #[serde(default)]
    pub positions: Vec<PositionDef>,
    #[serde(default)]
    pub permissions: Vec<PermissionSetDef>,
    #[serde(default)]
    pub hooks: Vec<HookDef>,
    #[serde(default)]
    pub functions: Option<Value>,
    #[serde(default)]
    pub data: Vec<SeedDef>,
    #[serde(default)]
    pub runtime_module: Option<String>,
    /// Allowed sections that this build keeps but does not execute (apps, views, …).
    #[serde(flatten)]
    pub other_sections: Map<String, Value>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub default_datasource: Option<String>,
    #[serde(default)]
    pub engines: Option<Engines>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Engines {
    #[serde(default)]
    pub protocol: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Datasource {
    pub name: String,
    #[serde(default)]
    pub driver: Option<String>,
    #[serde(default)]
    pub schema_mode: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectDef {
    pub name: String,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub plural_label: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub is_system: bool,
    #[serde(default)]
    pub datasource: Option<String>,
    /// `user` (default) | `business_unit` | `org` | `none`: `org`/`none` have no `owner_id`.
    #[serde(default)]
    pub ownership: Option<String>,
    /// The protocol's map `name → Field`, in declaration order.
    #[serde(default)]
    pub fields: Map<String, Value>,
    #[serde(default)]
    pub indexes: Vec<IndexDef>,
    #[serde(default)]
    pub validations: Vec<Value>,
    #[serde(default)]
    pub sharing_model: Option<String>,
    #[serde(default)]
    pub name_field: Option<String>,
    #[serde(default)]
    pub display_name_field: Option<String>,
    #[serde(default)]
    pub searchable_fields: Option<Vec<String>>,
    #[serde(default)]
    pub enable: Option<Map<String, Value>>,
    #[serde(default)]
    pub actions: Vec<Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IndexDef {
    #[serde(default)]
    pub name: Option<String>,
    pub fields: Vec<String>,
    /// `false | true | "global" | "organization"`
    #[serde(default)]
    pub unique: Option<Value>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectExtension {
    pub extend: String,
    #[serde(default)]
    pub fields: Map<String, Value>,
    #[serde(default)]
    pub validations: Vec<Value>,
    #[serde(default)]
    pub indexes: Vec<IndexDef>,
    #[serde(default)]
    pub priority: Option<i64>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A hook or action body. `js` and `expression` come from `os compile`; `wasm` is objectos' superset.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BodyDef {
    pub language: String,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub capabilities: Vec<String>,
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    #[serde(default)]
    pub memory_mb: Option<u64>,
    /// `wasm` bodies: the component, base64.
    #[serde(default)]
    pub component: Option<String>,
    #[serde(default)]
    pub sha256: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HookDef {
    pub name: String,
    /// A name, a list of names or `"*"`.
    pub object: Value,
    #[serde(default)]
    pub events: Vec<String>,
    #[serde(default)]
    pub handler: Option<String>,
    #[serde(default)]
    pub body: Option<BodyDef>,
    #[serde(default)]
    pub priority: Option<i64>,
    #[serde(default, rename = "async")]
    pub is_async: bool,
    #[serde(default)]
    pub condition: Option<Value>,
    #[serde(default)]
    pub on_error: Option<String>,
    #[serde(default)]
    pub run_as: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionDef {
    pub name: String,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub object_name: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub target: Option<String>,
    #[serde(default)]
    pub body: Option<BodyDef>,
    #[serde(default)]
    pub params: Vec<Value>,
    #[serde(default)]
    pub visible: Option<Value>,
    #[serde(default)]
    pub disabled: Option<Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowDef {
    pub name: String,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub nodes: Vec<Value>,
    #[serde(default)]
    pub edges: Vec<Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PositionDef {
    pub name: String,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PermissionSetDef {
    pub name: String,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub is_default: bool,
    #[serde(default)]
    pub objects: Map<String, Value>,
    #[serde(default)]
    pub fields: Map<String, Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SeedDef {
    pub object: String,
    /// A field name or a list of field names that identify a seed row (default `name`).
    #[serde(default)]
    pub external_id: Option<Value>,
    #[serde(default)]
    pub mode: Option<String>,
    #[serde(default)]
    pub env: Option<Vec<String>>,
    #[serde(default)]
    pub records: Vec<Map<String, Value>>,
}

impl SeedDef {
    /// The fields that identify a seed row.
    pub fn external_id_fields(&self) -> Vec<String> {
        match &self.external_id {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            _ => vec!["name".to_string()],
        }
    }
}

impl HookDef {
    /// The object names this hook is bound to (`["*"]` for all).
    pub fn object_names(&self) -> Vec<String> {
        match &self.object {
            Value::String(s) => vec![s.clone()],
            Value::Array(items) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        }
    }
}
