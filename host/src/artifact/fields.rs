//! Field types and the typed field definition (PROTOCOL.md §2).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

macro_rules! field_types {
    ($($variant:ident => $name:literal),* $(,)?) => {
        /// Every field type of protocol 17.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum FieldType { $($variant),* }

        impl FieldType {
            pub const ALL: &'static [FieldType] = &[$(FieldType::$variant),*];

            pub fn parse(name: &str) -> Option<FieldType> {
                match name { $($name => Some(FieldType::$variant),)* _ => None }
            }

            pub fn as_str(self) -> &'static str {
                match self { $(FieldType::$variant => $name),* }
            }
        }
    };
}

field_types! {
    Text => "text", Textarea => "textarea", Email => "email", Url => "url", Phone => "phone",
    Password => "password", Secret => "secret", Markdown => "markdown", Html => "html", Richtext => "richtext",
    Number => "number", Currency => "currency", Percent => "percent",
    Date => "date", Datetime => "datetime", Time => "time",
    Boolean => "boolean", Toggle => "toggle",
    Select => "select", Multiselect => "multiselect", Radio => "radio", Checkboxes => "checkboxes",
    Lookup => "lookup", MasterDetail => "master_detail", Tree => "tree", User => "user",
    Image => "image", File => "file", Avatar => "avatar", Video => "video", Audio => "audio",
    Formula => "formula", Summary => "summary", Autonumber => "autonumber",
    Composite => "composite", Repeater => "repeater", Record => "record", Location => "location",
    Address => "address", Code => "code", Json => "json", Color => "color", Rating => "rating",
    Slider => "slider", Signature => "signature", Qrcode => "qrcode", Progress => "progress",
    Tags => "tags", Vector => "vector",
}

/// How a field's value is stored in a column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StorageKind {
    Text,
    /// A number; `Some(scale)` stores an exact decimal with that many fraction digits.
    Number(Option<u32>),
    Boolean,
    Date,
    DateTime,
    /// Arrays and objects: JSON text in SQLite, `jsonb` in PostgreSQL.
    Json,
}

impl FieldType {
    /// Values computed by the runtime, never written by a caller and never stored as a column.
    pub fn is_virtual(self) -> bool {
        matches!(self, FieldType::Formula | FieldType::Summary)
    }

    pub fn is_reference(self) -> bool {
        matches!(
            self,
            FieldType::Lookup | FieldType::MasterDetail | FieldType::Tree | FieldType::User
        )
    }

    pub fn has_options(self) -> bool {
        matches!(
            self,
            FieldType::Select | FieldType::Multiselect | FieldType::Radio | FieldType::Checkboxes
        )
    }

    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            FieldType::Number
                | FieldType::Currency
                | FieldType::Percent
                | FieldType::Rating
                | FieldType::Slider
                | FieldType::Progress
        )
    }

    /// Text a search can match.
    pub fn is_textual(self) -> bool {
        matches!(
            self,
            FieldType::Text
                | FieldType::Textarea
                | FieldType::Email
                | FieldType::Url
                | FieldType::Phone
                | FieldType::Markdown
                | FieldType::Html
                | FieldType::Richtext
                | FieldType::Code
                | FieldType::Autonumber
                | FieldType::Select
                | FieldType::Radio
        )
    }

    /// Types whose value is always a list.
    pub fn is_list(self) -> bool {
        matches!(
            self,
            FieldType::Multiselect | FieldType::Checkboxes | FieldType::Tags
        )
    }
}

/// `unique: false | true | "global" | "organization"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Uniqueness {
    None,
    Global,
    PerOrganization,
}

impl Uniqueness {
    pub fn from_json(v: Option<&Value>) -> Option<Uniqueness> {
        match v {
            None | Some(Value::Null) | Some(Value::Bool(false)) => Some(Uniqueness::None),
            Some(Value::Bool(true)) => Some(Uniqueness::Global),
            Some(Value::String(s)) if s == "global" => Some(Uniqueness::Global),
            Some(Value::String(s)) if s == "organization" => Some(Uniqueness::PerOrganization),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeleteBehavior {
    SetNull,
    Cascade,
    Restrict,
}

impl DeleteBehavior {
    pub fn parse(s: &str) -> Option<DeleteBehavior> {
        match s {
            "set_null" => Some(DeleteBehavior::SetNull),
            "cascade" => Some(DeleteBehavior::Cascade),
            "restrict" => Some(DeleteBehavior::Restrict),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SelectOption {
    pub value: String,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub default: bool,
    /// Who may choose this option (`current_user`, `record` in scope): a write that sets it when the
    /// condition does not hold is refused.
    #[serde(
        default,
        rename = "visibleWhen",
        skip_serializing_if = "Option::is_none"
    )]
    pub visible_when: Option<super::model::Expression>,
}

/// The raw field definition, as the artifact spells it.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldDef {
    #[serde(rename = "type")]
    pub type_name: String,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub unique: Option<Value>,
    #[serde(default)]
    pub multiple: bool,
    #[serde(default)]
    pub searchable: bool,
    #[serde(default)]
    pub readonly: bool,
    #[serde(default)]
    pub max_length: Option<i64>,
    #[serde(default)]
    pub min_length: Option<i64>,
    #[serde(default)]
    pub precision: Option<i64>,
    #[serde(default)]
    pub scale: Option<i64>,
    #[serde(default)]
    pub min: Option<f64>,
    #[serde(default)]
    pub max: Option<f64>,
    #[serde(default)]
    pub options: Vec<SelectOption>,
    #[serde(default)]
    pub reference: Option<String>,
    #[serde(default)]
    pub delete_behavior: Option<String>,
    #[serde(default)]
    pub expression: Option<Value>,
    #[serde(default)]
    pub return_type: Option<String>,
    #[serde(default)]
    pub autonumber_format: Option<String>,
    #[serde(default)]
    pub currency_config: Option<Map<String, Value>>,
    #[serde(default)]
    pub dimensions: Option<i64>,
    #[serde(default)]
    pub default_value: Option<Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl FieldDef {
    /// The label used in messages: the declared label, else the field name in title case.
    pub fn display_label(&self, name: &str) -> String {
        match &self.label {
            Some(l) if !l.trim().is_empty() => l.clone(),
            _ => title_case(name),
        }
    }
}

pub fn title_case(name: &str) -> String {
    name.split('_')
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().collect::<String>() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Object and field names: `^[a-z_][a-z0-9_]*$`. These become SQL identifiers, so nothing else passes.
pub fn is_valid_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_lowercase() || c == '_' => {}
        _ => return false,
    }
    name.len() <= 63 && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Select option values: `^[a-z][a-z0-9_.]*$`.
pub fn is_valid_option_value(value: &str) -> bool {
    let mut chars = value.chars();
    match chars.next() {
        Some(c) if c.is_ascii_lowercase() => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.')
}
