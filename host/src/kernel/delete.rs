//! Deletes: the caller's delete with its hooks, and the delete behaviours of the records that point at it
//! (restrict, cascade, set null), bounded in depth.

use super::hooks::{EventInput, WriteCx};
use super::{Kernel, Principal};
use crate::data::catalog::ObjectSchema;
use crate::data::driver::Transaction;
use crate::data::error::DataError;
use crate::data::filter::{Condition, Filter, Op, Operand};
use crate::data::query::Query;
use crate::security::permissions::Operation;
use futures_util::future::BoxFuture;
use serde_json::{Value, json};

/// Cascading deletes stop at this depth (a guard against pathological chains).
const MAX_CASCADE_DEPTH: usize = 16;

impl Kernel {
    /// A caller's delete: its hooks around the delete itself (cascaded deletes fire no hooks).
    pub(crate) async fn delete_checked(
        &self,
        tx: &mut dyn Transaction,
        principal: &Principal,
        schema: &ObjectSchema,
        id: &str,
        expected: Option<&str>,
        cx: &mut WriteCx,
    ) -> Result<(), DataError> {
        let access = self.access(principal, schema, Operation::Delete)?;
        if schema.sharing_model.as_deref() == Some("controlled_by_parent") {
            let existing = self.load(tx, Some(principal), schema, id).await?;
            self.check_master_writable(tx, principal, schema, "delete", &existing)
                .await?;
        }
        self.check_row_writable(tx, principal, schema, &access, id, Operation::Delete)
            .await?;
        let before = self.hooks.listens(&schema.name, "beforeDelete");
        let after = self.hooks.listens(&schema.name, "afterDelete");
        let previous = if before || after {
            Some(self.load(tx, Some(principal), schema, id).await?)
        } else {
            None
        };
        if before {
            self.run_hooks(
                Some(&mut *tx),
                principal,
                cx,
                EventInput {
                    object: &schema.name,
                    event: "beforeDelete",
                    input: json!({ "id": id }),
                    previous: previous.as_ref(),
                    record_id: Some(id),
                },
            )
            .await?;
        }
        self.delete_in(&mut *tx, principal, schema, id, expected, 0)
            .await?;
        if after {
            self.run_hooks(
                Some(tx),
                principal,
                cx,
                EventInput {
                    object: &schema.name,
                    event: "afterDelete",
                    input: json!({ "id": id }),
                    previous: previous.as_ref(),
                    record_id: Some(id),
                },
            )
            .await?;
        }
        Ok(())
    }

    /// Deletes one record and applies the delete behaviours of the records pointing at it. `depth` 0 is the
    /// caller's own delete; deeper ones are cascaded: read and logged as the cascade, but each needs the
    /// caller's delete permission on its object and row, as the real server cascades as the caller (a user
    /// who may not delete comments cannot erase them by deleting their ticket).
    pub(crate) fn delete_in<'a>(
        &'a self,
        tx: &'a mut dyn Transaction,
        caller: &'a Principal,
        schema: &'a ObjectSchema,
        id: &'a str,
        expected: Option<&'a str>,
        depth: usize,
    ) -> BoxFuture<'a, Result<(), DataError>> {
        Box::pin(async move {
            let principal = (depth == 0).then_some(caller);
            let (existing, current_version) = self
                .load_at_version(tx, principal, schema, id, expected)
                .await?;
            if depth > MAX_CASCADE_DEPTH {
                return Err(DataError::DeleteRestricted {
                    object: schema.name.clone(),
                    id: id.to_string(),
                    message: format!(
                        "Cannot delete {} {id}: cascading deletes go deeper than {MAX_CASCADE_DEPTH} levels",
                        schema.name
                    ),
                    dependents: None,
                });
            }
            for inbound in self.catalog.inbound_references(&schema.name).to_vec() {
                if inbound.multiple {
                    continue;
                }
                let Some(child) = self.catalog.object(&inbound.object).cloned() else {
                    continue;
                };
                let Some(field) = child.field(&inbound.field).cloned() else {
                    continue;
                };
                let q = Query {
                    filter: Some(Filter::Cond(Condition {
                        field: field.name.clone(),
                        op: Op::Eq,
                        operand: Operand::Value(Value::String(id.to_string())),
                    })),
                    ..Query::default()
                };
                match inbound.behavior {
                    crate::artifact::fields::DeleteBehavior::Restrict => {
                        let n = tx.count(&child, &q).await?;
                        if n > 0 {
                            return Err(DataError::DeleteRestricted {
                                object: schema.name.clone(),
                                id: id.to_string(),
                                message: format!(
                                    "This {} is still referenced by {n} {} record(s) through \u{201c}{}\u{201d}. Delete or reassign them first.",
                                    schema.label, child.label, field.label
                                ),
                                dependents: Some(Box::new((
                                    child.name.clone(),
                                    n,
                                    format!(
                                        "Cannot delete {} ({id}): {n} dependent {} record(s) reference it via {}. Delete or reassign them first, or set deleteBehavior:'cascade' on {}.{}.",
                                        schema.name, child.name, field.name, child.name, field.name
                                    ),
                                ))),
                            });
                        }
                    }
                    crate::artifact::fields::DeleteBehavior::Cascade => {
                        let id_col = child.field("id").into_iter().collect::<Vec<_>>();
                        let rows = tx.find(&child, &q, &id_col, None).await?;
                        if !rows.is_empty() {
                            self.check_cascade_allowed(tx, caller, schema, &child, &q, rows.len())
                                .await?;
                        }
                        // A controlled_by_parent child reached through another reference than its master:
                        // deleting it needs edit access to its master too, as the caller's own delete would.
                        let through_master = field.ftype
                            == crate::artifact::fields::FieldType::MasterDetail
                            && !field.multiple;
                        if !through_master
                            && child.sharing_model.as_deref() == Some("controlled_by_parent")
                            && !caller.is_system
                        {
                            for row in &rows {
                                if let Some(child_id) = row.get("id").and_then(Value::as_str) {
                                    let record = self.load(tx, None, &child, child_id).await?;
                                    self.check_master_writable(
                                        tx, caller, &child, "delete", &record,
                                    )
                                    .await
                                    .map_err(|_| {
                                        DataError::PermissionDenied {
                                            object: schema.name.clone(),
                                            field: None,
                                            message: super::enforce::DENIED.into(),
                                        }
                                    })?;
                                }
                            }
                        }
                        for row in rows {
                            if let Some(child_id) = row.get("id").and_then(Value::as_str) {
                                if child.name == schema.name && child_id == id {
                                    continue;
                                }
                                self.delete_in(&mut *tx, caller, &child, child_id, None, depth + 1)
                                    .await?;
                            }
                        }
                    }
                    crate::artifact::fields::DeleteBehavior::SetNull => {
                        tx.clear_reference(&child, &field, id).await?;
                    }
                }
            }
            let guard = if current_version.is_empty() {
                None
            } else {
                Some(current_version.as_str())
            };
            let n = tx.delete(schema, id, guard).await?;
            if n == 0 {
                return Err(DataError::ConcurrentUpdate {
                    object: schema.name.clone(),
                    id: id.to_string(),
                    expected: current_version,
                });
            }
            crate::audit::record(
                tx,
                &self.catalog,
                principal,
                "delete",
                schema,
                id,
                Some(&existing),
                None,
            )
            .await
        })
    }

    /// Refuses a cascade into `child` unless the caller may delete every one of its `dependents` rows there
    /// (object permission and the delete row scope). The refusal names the record being deleted and tells
    /// nothing about the dependents.
    async fn check_cascade_allowed(
        &self,
        tx: &mut dyn Transaction,
        caller: &Principal,
        parent: &ObjectSchema,
        child: &ObjectSchema,
        dependents_query: &Query,
        dependents: usize,
    ) -> Result<(), DataError> {
        if caller.is_system {
            return Ok(());
        }
        let denied = || DataError::PermissionDenied {
            object: parent.name.clone(),
            field: None,
            message: super::enforce::DENIED.into(),
        };
        let access = self
            .access(caller, child, Operation::Delete)
            .map_err(|_| denied())?;
        if child.internal
            || access
                .row_filter(Operation::Delete, child.has_owner)
                .is_none()
        {
            return Ok(());
        }
        let scoped = self.scoped_with(caller, child, dependents_query, &access, Operation::Delete);
        if (tx.count(child, &scoped).await? as usize) < dependents {
            return Err(denied());
        }
        Ok(())
    }
}
