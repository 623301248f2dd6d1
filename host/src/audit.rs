//! The audit log: every create, update and delete of the artifact's records (REST, batch, actions, hooks'
//! data calls, cascades) writes one `sys_audit_log` row in the SAME transaction as the change, so a rolled-back write leaves no
//! row and a committed one always has its row. Platform administrators read it through the normal data API
//! (scoped to their organization); no API writes, updates or deletes it (append-only).

use crate::artifact::fields::{FieldType, StorageKind};
use crate::data::catalog::{Catalog, FieldSchema, ObjectSchema};
use crate::data::driver::{Record, Transaction};
use crate::data::error::DataError;
use crate::data::values::{SqlValue, to_sql};
use crate::security::principal::Principal;
use serde_json::{Value, json};

pub const AUDIT_LOG: &str = "sys_audit_log";

/// The runtime object behind the log (an internal object of the catalog).
pub fn definition() -> Value {
    json!({
        "name": AUDIT_LOG, "label": "Audit Log", "ownership": "none",
        "fields": {
            "action": {"type": "text", "required": true, "maxLength": 20},
            "user_id": {"type": "text"},
            "actor": {"type": "text", "maxLength": 40},
            "object_name": {"type": "text", "required": true},
            "record_id": {"type": "text", "required": true},
            "old_value": {"type": "json"},
            "new_value": {"type": "json"},
            "request_id": {"type": "text"},
            "metadata": {"type": "json"}
        }
    })
}

/// Who made a change, as the log says it: a user, a platform administrator (who bypasses permission sets),
/// a body running as system on a user's behalf, a plugin (as its own principal), the runtime itself, or a
/// cascade of another delete.
fn actor(principal: Option<&Principal>) -> &'static str {
    match principal {
        None => "cascade",
        Some(p) if p.plugin.is_some() => "plugin",
        Some(p) if p.elevated && p.user_id.is_some() => "system_on_behalf_of_user",
        Some(p) if p.elevated => "system",
        Some(p) if p.is_system => "system",
        Some(p) if p.is_platform_admin() => "platform_admin",
        Some(_) => "user",
    }
}

/// Secrets never reach the log.
fn masked(schema: &ObjectSchema, record: &Record) -> Value {
    let mut out = record.clone();
    for f in &schema.fields {
        if matches!(f.ftype, FieldType::Secret | FieldType::Password) && out.contains_key(&f.name) {
            out.insert(f.name.clone(), Value::String("***".into()));
        }
    }
    Value::Object(out)
}

/// Writes the audit row of one change inside the change's transaction.
#[allow(clippy::too_many_arguments)]
pub async fn record(
    tx: &mut dyn Transaction,
    catalog: &Catalog,
    principal: Option<&Principal>,
    action: &str,
    schema: &ObjectSchema,
    record_id: &str,
    old: Option<&Record>,
    new: Option<&Record>,
) -> Result<(), DataError> {
    // The runtime's own bookkeeping (users, sessions, keys, bindings) is not business data.
    if schema.internal {
        return Ok(());
    }
    let log = catalog
        .object(AUDIT_LOG)
        .ok_or_else(|| DataError::Internal("the audit log object is missing".into()))?;
    let now = crate::data::values::now_iso();
    // The change's organization: the caller's, else the record's own (cascades, the runtime).
    let organization = principal
        .and_then(|p| p.organization_id.clone())
        .or_else(|| {
            new.or(old)
                .and_then(|r| r.get("organization_id"))
                .and_then(Value::as_str)
                .map(str::to_string)
        });
    let text = |s: Option<String>| s.map(Value::String).unwrap_or(Value::Null);
    let row: Vec<(&str, Value)> = vec![
        ("id", Value::String(crate::data::ids::new_id())),
        ("created_at", Value::String(now.clone())),
        ("updated_at", Value::String(now)),
        ("organization_id", text(organization)),
        (
            "created_by",
            text(principal.and_then(|p| p.user_id.clone())),
        ),
        ("action", Value::String(action.to_string())),
        ("user_id", text(principal.and_then(|p| p.user_id.clone()))),
        ("actor", Value::String(actor(principal).to_string())),
        ("object_name", Value::String(schema.name.clone())),
        ("record_id", Value::String(record_id.to_string())),
        (
            "old_value",
            old.map(|r| masked(schema, r)).unwrap_or(Value::Null),
        ),
        (
            "new_value",
            new.map(|r| masked(schema, r)).unwrap_or(Value::Null),
        ),
        (
            "request_id",
            text(principal.and_then(|p| p.request_id.clone())),
        ),
    ];
    let values: Vec<(&FieldSchema, SqlValue)> = row
        .iter()
        .filter(|(_, v)| !v.is_null())
        .filter_map(|(name, v)| {
            log.field(name)
                .map(|f| (f, to_sql(f.storage.unwrap_or(StorageKind::Text), v)))
        })
        .collect();
    tx.insert(log, values).await
}
