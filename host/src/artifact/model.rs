//! The typed model of an ObjectStack definition: everything the runtime executes.
//!
//! Sections that objectos does not execute (apps, views, dashboards, …) are kept as raw JSON in
//! [`Definition::other_sections`] so `artifact inspect` can list them and nothing is silently lost.

use super::fields::FieldDef;
use indexmap::IndexMap;
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
    pub fields: IndexMap<String, FieldDef>,
    #[serde(default)]
    pub indexes: Vec<IndexDef>,
    #[serde(default)]
    pub validations: Vec<ValidationRule>,
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
    pub fields: IndexMap<String, FieldDef>,
    #[serde(default)]
    pub validations: Vec<ValidationRule>,
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
    pub condition: Option<Expression>,
    #[serde(default)]
    pub retry_policy: Option<RetryPolicy>,
    #[serde(default)]
    pub timeout: Option<u64>,
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
    pub params: Vec<ActionParam>,
    #[serde(default)]
    pub visible: Option<Expression>,
    #[serde(default)]
    pub disabled: Option<Expression>,
    #[serde(default)]
    pub required_permissions: Option<Value>,
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
    pub variables: Vec<FlowVariable>,
    #[serde(default)]
    pub nodes: Vec<FlowNode>,
    #[serde(default)]
    pub edges: Vec<FlowEdge>,
    #[serde(default)]
    pub run_as: Option<String>,
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
    pub objects: std::collections::BTreeMap<String, ObjectPermission>,
    /// `"object.field" → {readable, editable}`.
    #[serde(default)]
    pub fields: std::collections::BTreeMap<String, FieldPermission>,
    #[serde(default)]
    pub system_permissions: Vec<String>,
    #[serde(default)]
    pub row_level_security: Vec<RlsPolicy>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RetryPolicy {
    #[serde(default = "default_retries")]
    pub max_retries: u32,
    #[serde(default = "default_backoff")]
    pub backoff_ms: u64,
}

fn default_retries() -> u32 {
    3
}

fn default_backoff() -> u64 {
    1000
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

/// A CEL expression: a bare string, `{dialect: "cel", source}`, or a boolean literal (the constant).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Expression {
    pub dialect: String,
    pub source: String,
}

impl<'de> Deserialize<'de> for Expression {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            /// A constant (`visible: false`): the CEL literal.
            Flag(bool),
            Object {
                #[serde(default)]
                dialect: Option<String>,
                source: String,
            },
        }
        Ok(match Raw::deserialize(d)? {
            Raw::Text(source) => Expression {
                dialect: "cel".into(),
                source,
            },
            Raw::Flag(b) => Expression {
                dialect: "cel".into(),
                source: b.to_string(),
            },
            Raw::Object { dialect, source } => Expression {
                dialect: dialect.unwrap_or_else(|| "cel".into()),
                source,
            },
        })
    }
}

/// Keys every validation rule carries.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleCommon {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default = "yes")]
    pub active: bool,
    /// `insert` | `update`; empty means both.
    #[serde(default)]
    pub events: Vec<String>,
    #[serde(default)]
    pub priority: Option<i64>,
    /// `error` (blocks) | `warning` | `info`.
    #[serde(default)]
    pub severity: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

fn yes() -> bool {
    true
}

/// Object validation rules (PROTOCOL.md §2), discriminated by `type`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ValidationRule {
    /// Fails when the condition is TRUE.
    Script {
        #[serde(flatten)]
        common: RuleCommon,
        condition: Expression,
    },
    StateMachine {
        #[serde(flatten)]
        common: RuleCommon,
        field: String,
        transitions: std::collections::BTreeMap<String, Vec<String>>,
        #[serde(default, rename = "initialStates")]
        initial_states: Option<Vec<String>>,
    },
    Format {
        #[serde(flatten)]
        common: RuleCommon,
        field: String,
        #[serde(default)]
        regex: Option<String>,
        #[serde(default)]
        format: Option<String>,
    },
    CrossField {
        #[serde(flatten)]
        common: RuleCommon,
        condition: Expression,
        #[serde(default)]
        fields: Vec<String>,
    },
    JsonSchema {
        #[serde(flatten)]
        common: RuleCommon,
        field: String,
        schema: Value,
    },
    Conditional {
        #[serde(flatten)]
        common: RuleCommon,
        when: Expression,
        /// Nested rules, kept as JSON until the rule engine runs them.
        then: Value,
        #[serde(default)]
        otherwise: Option<Value>,
    },
}

impl ValidationRule {
    pub fn common(&self) -> &RuleCommon {
        match self {
            ValidationRule::Script { common, .. }
            | ValidationRule::StateMachine { common, .. }
            | ValidationRule::Format { common, .. }
            | ValidationRule::CrossField { common, .. }
            | ValidationRule::JsonSchema { common, .. }
            | ValidationRule::Conditional { common, .. } => common,
        }
    }
}

/// What a permission set allows on one object.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectPermission {
    #[serde(default)]
    pub allow_create: bool,
    #[serde(default)]
    pub allow_read: bool,
    #[serde(default)]
    pub allow_edit: bool,
    #[serde(default)]
    pub allow_delete: bool,
    #[serde(default)]
    pub allow_transfer: bool,
    #[serde(default)]
    pub allow_restore: bool,
    #[serde(default)]
    pub allow_purge: bool,
    #[serde(default)]
    pub allow_export: Option<bool>,
    #[serde(default)]
    pub view_all_records: bool,
    #[serde(default)]
    pub modify_all_records: bool,
    /// `own | own_and_reports | unit | unit_and_below | org`
    #[serde(default)]
    pub read_scope: Option<String>,
    #[serde(default)]
    pub write_scope: Option<String>,
}

/// Field-level permission: readable by default, not editable unless granted.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FieldPermission {
    #[serde(default = "yes")]
    pub readable: bool,
    #[serde(default)]
    pub editable: bool,
}

/// A row-level security policy; `using`/`check` are CEL.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RlsPolicy {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub object: Option<String>,
    #[serde(default)]
    pub operation: Option<String>,
    #[serde(default)]
    pub using: Option<Expression>,
    #[serde(default)]
    pub check: Option<Expression>,
    #[serde(default)]
    pub positions: Option<Vec<String>>,
    #[serde(default = "yes")]
    pub enabled: bool,
}

/// A named function: its handler (an export of the runtime module) and whether it writes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FunctionDef {
    pub name: String,
    pub handler: String,
    pub effect: Option<String>,
}

impl Definition {
    /// The `functions` section in either spelling (map `name → ref | {handler, effect}` or array).
    pub fn function_list(&self) -> Vec<FunctionDef> {
        let Some(functions) = &self.functions else {
            return vec![];
        };
        let entry = |name: &str, v: &Value| -> FunctionDef {
            match v {
                Value::String(h) => FunctionDef {
                    name: name.into(),
                    handler: h.clone(),
                    effect: None,
                },
                other => FunctionDef {
                    name: name.into(),
                    handler: other
                        .get("handler")
                        .and_then(Value::as_str)
                        .unwrap_or(name)
                        .to_string(),
                    effect: other
                        .get("effect")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                },
            }
        };
        match functions {
            Value::Object(m) => m.iter().map(|(k, v)| entry(k, v)).collect(),
            Value::Array(items) => items
                .iter()
                .filter_map(|i| i.get("name").and_then(Value::as_str).map(|n| entry(n, i)))
                .collect(),
            _ => vec![],
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionParam {
    pub name: String,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub required: bool,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowVariable {
    pub name: String,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub is_input: bool,
    #[serde(default)]
    pub is_output: bool,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowNode {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub config: Value,
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowEdge {
    #[serde(default)]
    pub id: Option<String>,
    pub source: String,
    pub target: String,
    #[serde(default)]
    pub condition: Option<Expression>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub is_default: bool,
}
