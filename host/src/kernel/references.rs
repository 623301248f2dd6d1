//! Lookup values: every id a write names must be an existing record of the target object in the caller's
//! organization. The probe is scoped to the organization only, as the real server's is unscoped by
//! permissions: linking to a record the caller may not read (a portal customer's ticket naming an account
//! the customer cannot list) is ordinary, and whether the caller may write the link is the permission
//! layer's decision (object and field edit rights, master-detail edit access). Another organization's
//! records do not exist for the caller, so no lookup reaches or reveals them.

use super::{Kernel, Principal};
use crate::data::catalog::{FieldSchema, ObjectSchema};
use crate::data::driver::{Record, Transaction};
use crate::data::error::{DataError, FieldError};
use crate::data::filter::{Condition, Filter, Op, Operand};
use crate::data::query::Query;
use serde_json::{Value, json};
use std::collections::BTreeSet;

impl Kernel {
    /// Every lookup value must name an existing record of its target object, in the caller's organization.
    pub(crate) async fn check_references(
        &self,
        tx: &mut dyn Transaction,
        principal: &Principal,
        schema: &ObjectSchema,
        values: &Record,
    ) -> Result<(), DataError> {
        let mut errors = Vec::new();
        for (key, value) in values {
            let Some(f) = schema.field(key) else { continue };
            if !f.ftype.is_reference() || f.system {
                continue;
            }
            let Some(target) = f.reference.as_deref().and_then(|t| self.catalog.object(t)) else {
                continue;
            };
            let ids: Vec<String> = match value {
                Value::String(s) => vec![s.clone()],
                Value::Array(items) => items
                    .iter()
                    .filter_map(|i| i.as_str().map(str::to_string))
                    .collect(),
                _ => continue,
            };
            if ids.is_empty() {
                continue;
            }
            let q = Query {
                filter: Some(Filter::Cond(Condition {
                    field: "id".into(),
                    op: Op::In,
                    operand: Operand::List(ids.iter().cloned().map(Value::String).collect()),
                })),
                ..Query::default()
            };
            let q = self.scoped(principal, target, &q);
            let id_col = target.field("id").into_iter().collect::<Vec<_>>();
            let found: BTreeSet<String> = tx
                .find(target, &q, &id_col, None)
                .await?
                .into_iter()
                .filter_map(|r| r.get("id").and_then(Value::as_str).map(str::to_string))
                .collect();
            if let Some(missing) = ids.iter().find(|i| !found.contains(*i)) {
                errors.push(reference_not_found(f, target, missing));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(DataError::validation(&schema.name, errors))
        }
    }
}

pub(crate) fn reference_not_found(
    f: &FieldSchema,
    target: &ObjectSchema,
    missing: &str,
) -> FieldError {
    let mut e = FieldError::new(
        &f.name,
        &f.label,
        "reference_not_found",
        format!(
            "{}: no {} record has id \"{missing}\"",
            f.label, target.name
        ),
    )
    .with_constraint(json!({ "target": target.name }));
    e.value = Some(Box::new(Value::String(missing.to_string())));
    e
}
