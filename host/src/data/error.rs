//! Data-layer errors, each with its [`ErrorKind`] and the protocol's error code (WIRE.md §4.5). Which HTTP
//! status a kind answers with is decided in one place only, `http/errors.rs`.

use serde_json::{Map, Value, json};

/// One field's problem, in the wire shape `{field, code, message, label?, constraint?, options?, value?}`.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldError {
    pub field: String,
    pub code: &'static str,
    pub message: String,
    pub label: Option<String>,
    pub constraint: Option<Box<Value>>,
    pub options: Option<Box<Vec<String>>>,
    pub value: Option<Box<Value>>,
}

impl FieldError {
    pub fn new(field: &str, label: &str, code: &'static str, message: String) -> FieldError {
        FieldError {
            field: field.to_string(),
            code,
            message,
            label: Some(label.to_string()),
            constraint: None,
            options: None,
            value: None,
        }
    }

    pub fn with_constraint(mut self, constraint: Value) -> FieldError {
        self.constraint = Some(Box::new(constraint));
        self
    }

    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("field".into(), json!(self.field));
        m.insert("code".into(), json!(self.code));
        m.insert("message".into(), json!(self.message));
        if let Some(l) = &self.label {
            m.insert("label".into(), json!(l));
        }
        if let Some(c) = &self.constraint {
            m.insert("constraint".into(), (**c).clone());
        }
        if let Some(o) = &self.options {
            m.insert("options".into(), json!(**o));
        }
        if let Some(v) = &self.value {
            m.insert("value".into(), (**v).clone());
        }
        Value::Object(m)
    }
}

pub use crate::error_kind::ErrorKind;

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("Object '{0}' is not registered")]
    ObjectNotFound(String),
    #[error("Record {id} not found in {object}")]
    RecordNotFound { object: String, id: String },
    #[error("{message}")]
    InvalidField {
        object: String,
        field: String,
        message: String,
    },
    #[error("{message}")]
    InvalidSort { object: String, message: String },
    #[error("{message}")]
    InvalidFilter { object: String, message: String },
    #[error("{message}")]
    InvalidQuery { object: String, message: String },
    /// A query body whose shape is wrong (an unknown key on a sort node, a missing alias): the real server's
    /// `Invalid query request` with one entry per problem, `field` being the path in the body (`query.orderBy.0`).
    #[error("Invalid query request")]
    QueryShape {
        object: String,
        fields: Vec<FieldError>,
    },
    #[error("{}", .fields.iter().map(|f| f.message.as_str()).collect::<Vec<_>>().join("; "))]
    Validation {
        object: String,
        fields: Vec<FieldError>,
    },
    #[error("{message}")]
    Unique {
        object: String,
        field: Option<String>,
        message: String,
    },
    #[error("{message}")]
    DeleteRestricted {
        object: String,
        id: String,
        message: String,
        /// The referencing object and how many of its records hold the reference, with the message for the
        /// developer (the real server's `dependentObject`, `dependentCount`, `developerMessage`).
        dependents: Option<Box<(String, u64, String)>>,
    },
    #[error("Record {id} in {object} was changed by someone else (expected version {expected})")]
    ConcurrentUpdate {
        object: String,
        id: String,
        expected: String,
    },
    #[error("The datasource is unavailable: {0}")]
    Unavailable(String),
    #[error("{0}")]
    Schema(String),
    #[error("Internal error: {0}")]
    Internal(String),
    /// Untrusted code (a hook, action or function body) failed; the error says how.
    #[error("{0}")]
    Sandbox(crate::sandbox::SandboxError),
    /// A body that cannot run here (a JavaScript body before the JS runtime, a `runtimeModule` handler).
    #[error("{name} cannot run: {reason}")]
    FunctionUnavailable { name: String, reason: String },
    /// The action route refuses the call (undeclared, `requiredPermissions`, not runnable, bad params,
    /// `visible` / `disabled`), or its body failed in a way the route answers with its own code.
    #[error("{message}")]
    ActionRefused {
        object: String,
        action: String,
        kind: ErrorKind,
        code: &'static str,
        message: String,
        /// The real server's `error.details` (e.g. `{fields}` of a validation a body let through).
        details: Option<Box<Value>>,
    },
    /// The caller's permission sets do not allow this (object permission, a non-editable field, an RLS check).
    #[error("{message}")]
    PermissionDenied {
        object: String,
        field: Option<String>,
        message: String,
    },
    /// A plugin service that does not exist, is not running, or that the caller may not call.
    #[error("{message}")]
    Service {
        kind: ErrorKind,
        code: &'static str,
        message: String,
    },
    /// A hook refused the operation (a `before*` body threw, or answered `abort`): the real server answers
    /// `{error, object}` with no code, 400, or 404 when it refused reading one record.
    #[error("{message}")]
    HookRefused {
        object: String,
        message: String,
        reading_one: bool,
    },
    /// Hooks writing records whose hooks write records… deeper than the limit.
    #[error("Hooks nest deeper than {0} levels (a hook's write fired hooks that wrote again)")]
    HookDepth(usize),
    /// A `{"$ref": n}` in a batch operation's data that names no earlier operation's record.
    #[error("{0}")]
    UnresolvedRef(String),
    /// Operation `index` of a batch failed with `cause`, so the whole batch was rolled back. `done` holds the
    /// record id each earlier operation had written (now undone). Everything else about the error is the
    /// cause's: its kind, code and wire envelope.
    #[error("{cause}")]
    BatchAborted {
        index: usize,
        done: Vec<Option<String>>,
        cause: Box<DataError>,
    },
}

impl DataError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            DataError::ObjectNotFound(_) | DataError::RecordNotFound { .. } => ErrorKind::NotFound,
            DataError::InvalidField { .. }
            | DataError::InvalidSort { .. }
            | DataError::InvalidFilter { .. }
            | DataError::InvalidQuery { .. }
            | DataError::QueryShape { .. }
            | DataError::Validation { .. } => ErrorKind::Invalid,
            DataError::Unique { .. }
            | DataError::DeleteRestricted { .. }
            | DataError::ConcurrentUpdate { .. } => ErrorKind::Conflict,
            DataError::Unavailable(_) => ErrorKind::Unavailable,
            DataError::Schema(_) | DataError::Internal(_) | DataError::HookDepth(_) => {
                ErrorKind::Internal
            }
            DataError::Sandbox(e) => e.kind(),
            DataError::FunctionUnavailable { .. } => ErrorKind::NotImplemented,
            DataError::ActionRefused { kind, .. } => *kind,
            DataError::PermissionDenied { .. } => ErrorKind::Denied,
            DataError::Service { kind, .. } => *kind,
            DataError::HookRefused {
                reading_one: true, ..
            } => ErrorKind::NotFound,
            DataError::HookRefused { .. } => ErrorKind::Invalid,
            DataError::UnresolvedRef(_) => ErrorKind::Invalid,
            DataError::BatchAborted { cause, .. } => cause.kind(),
        }
    }

    /// The error itself, without the batch that carried it.
    pub fn into_cause(self) -> DataError {
        match self {
            DataError::BatchAborted { cause, .. } => cause.into_cause(),
            other => other,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            DataError::ObjectNotFound(_) => "OBJECT_NOT_FOUND",
            DataError::RecordNotFound { .. } => "RECORD_NOT_FOUND",
            DataError::InvalidField { .. } => "INVALID_FIELD",
            DataError::InvalidSort { .. } => "INVALID_SORT",
            DataError::InvalidFilter { .. } => "INVALID_FILTER",
            DataError::InvalidQuery { .. } => "INVALID_QUERY",
            DataError::Validation { .. } | DataError::QueryShape { .. } => "VALIDATION_FAILED",
            DataError::Unique { .. } => "UNIQUE_VIOLATION",
            DataError::DeleteRestricted { .. } => "DELETE_RESTRICTED",
            DataError::ConcurrentUpdate { .. } => "CONCURRENT_UPDATE",
            DataError::Unavailable(_) => "ERR_DATASOURCE_UNAVAILABLE",
            DataError::Schema(_) => "SCHEMA_SYNC_FAILED",
            DataError::Internal(_) => "INTERNAL_ERROR",
            DataError::Sandbox(e) => e.code(),
            DataError::FunctionUnavailable { .. } => "FUNCTION_UNAVAILABLE",
            DataError::ActionRefused { code, .. } => code,
            DataError::HookDepth(_) => "HOOK_DEPTH_EXCEEDED",
            DataError::PermissionDenied { .. } => "PERMISSION_DENIED",
            DataError::Service { code, .. } => code,
            DataError::HookRefused { .. } => "HOOK_REFUSED",
            DataError::UnresolvedRef(_) => "BATCH_UNRESOLVED_REF",
            DataError::BatchAborted { cause, .. } => cause.code(),
        }
    }

    pub fn object(&self) -> Option<&str> {
        match self {
            DataError::ObjectNotFound(o) => Some(o),
            DataError::RecordNotFound { object, .. }
            | DataError::InvalidField { object, .. }
            | DataError::InvalidSort { object, .. }
            | DataError::InvalidFilter { object, .. }
            | DataError::InvalidQuery { object, .. }
            | DataError::QueryShape { object, .. }
            | DataError::Validation { object, .. }
            | DataError::Unique { object, .. }
            | DataError::DeleteRestricted { object, .. }
            | DataError::ConcurrentUpdate { object, .. }
            | DataError::ActionRefused { object, .. }
            | DataError::PermissionDenied { object, .. }
            | DataError::HookRefused { object, .. } => Some(object),
            DataError::BatchAborted { cause, .. } => cause.object(),
            _ => None,
        }
    }

    /// The wire envelope `{error, code, object?, field?, fields?}` (a hook's refusal: `{error, object}`).
    pub fn to_wire(&self) -> Value {
        if let DataError::BatchAborted { cause, .. } = self {
            return cause.to_wire();
        }
        let mut m = Map::new();
        if let DataError::HookRefused {
            object, message, ..
        } = self
        {
            return json!({"error": message, "object": object});
        }
        m.insert("error".into(), json!(self.to_string()));
        m.insert("code".into(), json!(self.code()));
        match self {
            DataError::Validation { fields, .. } | DataError::QueryShape { fields, .. } => {
                m.insert(
                    "fields".into(),
                    Value::Array(fields.iter().map(FieldError::to_json).collect()),
                );
            }
            DataError::InvalidField { field, .. } => {
                m.insert("field".into(), json!(field));
            }
            DataError::Unique { object, .. } => {
                m.insert(
                    "developerMessage".into(),
                    json!(format!(
                        "Duplicate record refused on '{object}': a unique constraint already holds these values. \
                         No record was written."
                    )),
                );
            }
            DataError::DeleteRestricted {
                dependents: Some(d),
                ..
            } => {
                let (dependent, count, developer) = &**d;
                m.insert("developerMessage".into(), json!(developer));
                m.insert("dependentObject".into(), json!(dependent));
                m.insert("dependentCount".into(), json!(count));
            }
            _ => {}
        }
        if let Some(o) = self.object() {
            m.insert("object".into(), json!(o));
        }
        Value::Object(m)
    }

    pub fn invalid_field(object: &str, field: &str, message: impl Into<String>) -> DataError {
        DataError::InvalidField {
            object: object.to_string(),
            field: field.to_string(),
            message: message.into(),
        }
    }

    pub fn invalid_query(object: &str, message: impl Into<String>) -> DataError {
        DataError::InvalidQuery {
            object: object.to_string(),
            message: message.into(),
        }
    }

    /// `Invalid query request` with one problem at `path` (no label, as the real server words it).
    pub fn query_shape(
        object: &str,
        path: String,
        code: &'static str,
        message: impl Into<String>,
    ) -> DataError {
        let mut f = FieldError::new(&path, "", code, message.into());
        f.label = None;
        DataError::QueryShape {
            object: object.to_string(),
            fields: vec![f],
        }
    }

    pub fn validation(object: &str, fields: Vec<FieldError>) -> DataError {
        DataError::Validation {
            object: object.to_string(),
            fields,
        }
    }
}

impl From<sqlx::Error> for DataError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                DataError::Unavailable(e.to_string())
            }
            _ => DataError::Internal(e.to_string()),
        }
    }
}
