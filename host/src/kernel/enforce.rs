//! Applying a principal's [`Access`] inside `Kernel::execute`: object permissions, the fields a query may
//! name, the fields a write may set, the rows an operation may touch, and masking of unreadable fields.

use super::{Kernel, Principal, id_filter};
use crate::data::catalog::FieldSchema;
use crate::data::catalog::ObjectSchema;
use crate::data::driver::Record;
use crate::data::driver::Transaction;
use crate::data::error::DataError;
use crate::data::filter::{Condition, Filter, Operand};
use crate::data::query::Query;
use crate::security::permissions::{Access, Operation};
use serde_json::Value;

pub(super) const DENIED: &str = "You do not have permission to perform this action. Contact your administrator if you need access.";

impl Kernel {
    /// The caller's access to an object, refused outright when it lacks the object permission for `op`.
    pub(crate) fn access(
        &self,
        principal: &Principal,
        schema: &ObjectSchema,
        op: Operation,
    ) -> Result<Access, DataError> {
        let access = self.permissions.access(principal, schema);
        if let Some(plugin) = &principal.plugin {
            // A plugin reaches only the objects its grants name, whatever else it could see as elevated code.
            let (granted, verb) = match op {
                Operation::Read => (plugin.may_read(&schema.name, schema.internal), "read"),
                _ => (plugin.may_write(&schema.name, schema.internal), "write"),
            };
            if !granted {
                return Err(DataError::PermissionDenied {
                    object: schema.name.clone(),
                    field: None,
                    message: format!(
                        "plugin {} is not granted data:{verb}:{}",
                        plugin.id, schema.name
                    ),
                });
            }
        }
        if !access.allows(op) {
            return Err(DataError::PermissionDenied {
                object: schema.name.clone(),
                field: None,
                message: DENIED.into(),
            });
        }
        Ok(access)
    }

    /// The caller's access to a related object it meets through `expand`: none when a plugin is not granted
    /// to read it.
    pub(crate) fn related_access(&self, principal: &Principal, schema: &ObjectSchema) -> Access {
        self.access(principal, schema, Operation::Read)
            .unwrap_or_default()
    }

    /// The query restricted to the rows `principal` may touch for `op`: its organization's, then the
    /// owner scope and RLS of its permission sets, all in the WHERE clause.
    pub fn scoped_for(
        &self,
        principal: &Principal,
        schema: &ObjectSchema,
        q: &Query,
        op: Operation,
    ) -> Query {
        if principal.is_system || schema.internal {
            return self.scoped(principal, schema, q);
        }
        let access = self.permissions.access(principal, schema);
        self.scoped_with(principal, schema, q, &access, op)
    }

    /// [`Kernel::scoped_for`] with the caller's access already in hand.
    pub(crate) fn scoped_with(
        &self,
        principal: &Principal,
        schema: &ObjectSchema,
        q: &Query,
        access: &Access,
        op: Operation,
    ) -> Query {
        let mut q = self.scoped(principal, schema, q);
        if op == Operation::Read
            && let Some(master) = self.master_scope(principal, schema, 0)
        {
            q.filter = Some(match q.filter {
                Some(f) => Filter::And(vec![master, f]),
                None => master,
            });
        }
        let Some(rows) = access.row_filter(op, schema.has_owner) else {
            return q;
        };
        let filter = match q.filter {
            Some(f) => Filter::And(vec![rows, f]),
            None => rows,
        };
        Query {
            filter: Some(filter),
            ..q
        }
    }
}

/// Refuses a query that filters, sorts, groups, aggregates, searches or expands by a field the caller may not
/// read (answering it would reveal the field through counts or order): 403, as the real server's "filter
/// oracle" guard answers. A `select` of such a field is not refused: [`readable_select`] drops it.
pub(crate) fn check_query_fields(
    access: &Access,
    schema: &ObjectSchema,
    q: &Query,
) -> Result<(), DataError> {
    if access.unreadable.is_empty() {
        return Ok(());
    }
    let mut named: Vec<&str> = Vec::new();
    let mut filtered = Vec::new();
    if let Some(f) = &q.filter {
        filter_fields(f, &mut filtered);
    }
    named.extend(filtered.iter().map(String::as_str));
    named.extend(q.order_by.iter().map(|o| o.field.as_str()));
    named.extend(q.group_by.iter().map(|g| g.field.as_str()));
    named.extend(q.aggregations.iter().filter_map(|a| a.field.as_deref()));
    named.extend(q.expand.iter().map(|(f, _)| f.as_str()));
    if let Some(s) = &q.search {
        named.extend(s.fields.iter().map(String::as_str));
    }
    let mut hidden: Vec<&str> = Vec::new();
    for name in named {
        let root = name.split('.').next().unwrap_or(name);
        if access.unreadable.contains(root) && !hidden.contains(&root) {
            hidden.push(root);
        }
    }
    if hidden.is_empty() {
        return Ok(());
    }
    Err(DataError::PermissionDenied {
        object: schema.name.clone(),
        field: None,
        message: format!(
            "[Security] Access denied: query on '{}' references field(s) not readable by the caller: {}. \
             Filtering, sorting, grouping, or aggregating by a hidden field would leak its values (filter oracle) \
             \u{2014} remove these predicates or grant field read access.",
            schema.name,
            hidden.join(", ")
        ),
    })
}

/// A `select` that names fields the caller may not read gets the readable ones (the real server drops the
/// others silently; masking would remove them anyway).
pub(crate) fn readable_select(access: &Access, q: &mut Query) {
    if let Some(fields) = &mut q.fields {
        fields.retain(|f| !access.unreadable.contains(f.split('.').next().unwrap_or(f)));
    }
}

/// A search over the object's default search fields skips the ones the caller may not read; search fields
/// the caller named itself are checked like every other field it names.
pub(crate) fn readable_search(access: &Access, q: &mut Query) {
    if let Some(s) = &mut q.search
        && !s.named
    {
        s.fields.retain(|f| !access.unreadable.contains(f));
    }
}

fn filter_fields(f: &Filter, out: &mut Vec<String>) {
    match f {
        Filter::And(parts) | Filter::Or(parts) => parts.iter().for_each(|p| filter_fields(p, out)),
        Filter::Not(p) => filter_fields(p, out),
        // Built by the kernel's own scoping, never by the caller.
        Filter::Within(_) => {}
        Filter::Cond(Condition { field, operand, .. }) => {
            out.push(field.clone());
            if let Operand::Field(other) = operand {
                out.push(other.clone());
            }
        }
    }
}

/// Refuses a write whose payload sets a field the caller may not edit.
pub(crate) fn check_editable(
    access: &Access,
    schema: &ObjectSchema,
    payload: &Record,
) -> Result<(), DataError> {
    if access.bypass {
        return Ok(());
    }
    let denied: Vec<&str> = payload
        .keys()
        .filter(|k| access.uneditable.contains(k.as_str()))
        .map(String::as_str)
        .collect();
    match denied.first() {
        None => Ok(()),
        Some(first) => Err(DataError::PermissionDenied {
            object: schema.name.clone(),
            field: Some(first.to_string()),
            message: format!(
                "[Security] Field write denied: not permitted to edit [{}] on '{}'",
                denied.join(", "),
                schema.name
            ),
        }),
    }
}

/// Refuses a written record that fails the RLS `check` of the caller's policies.
pub(crate) fn check_rls(
    access: &Access,
    schema: &ObjectSchema,
    op: Operation,
    record: &Record,
) -> Result<(), DataError> {
    if access.check_passes(op, record) {
        return Ok(());
    }
    Err(DataError::PermissionDenied {
        object: schema.name.clone(),
        field: None,
        message: format!(
            "[Security] Row-level security: this {} on '{}' does not satisfy the caller's policy check",
            match op {
                Operation::Create => "insert",
                _ => "update",
            },
            schema.name
        ),
    })
}

/// The filter of a scoped query (everything, when it has none).
fn organization_filter_of(q: Query) -> Filter {
    q.filter.unwrap_or(Filter::And(vec![]))
}

/// Removes the fields the caller may not read from records it is given.
pub(crate) fn mask(access: &Access, records: &mut [Record]) {
    if access.unreadable.is_empty() {
        return;
    }
    for r in records {
        r.retain(|k, _| !access.unreadable.contains(k));
    }
}

/// How many `controlled_by_parent` levels a read scope follows (a master that is itself a child, and so on).
const MAX_MASTER_DEPTH: usize = 4;

impl Kernel {
    /// `sharingModel: controlled_by_parent`: a child record is read only by a caller who may read its master
    /// record (the real server's rule): the rows whose master-detail field names a master within the caller's
    /// read scope there (organization, owner scope, RLS, and that master's own master, if any). `None` when
    /// the object is not such a child or the caller bypasses permission sets.
    pub(crate) fn master_scope(
        &self,
        principal: &Principal,
        schema: &ObjectSchema,
        depth: usize,
    ) -> Option<Filter> {
        if principal.bypasses_permission_sets()
            || principal.is_system
            || schema.sharing_model.as_deref() != Some("controlled_by_parent")
        {
            return None;
        }
        let field = schema
            .fields
            .iter()
            .find(|f| f.ftype == crate::artifact::fields::FieldType::MasterDetail)?;
        let Some(master) = field
            .reference
            .as_deref()
            .and_then(|r| self.catalog.object(r))
        else {
            return Some(Filter::Or(vec![]));
        };
        let access = self.permissions.access(principal, master);
        if !access.allows(Operation::Read) || depth >= MAX_MASTER_DEPTH {
            // No master is readable: no child is.
            return Some(Filter::Or(vec![]));
        }
        let mut parts = vec![organization_filter_of(self.scoped(
            principal,
            master,
            &Query::default(),
        ))];
        if let Some(rows) = access.row_filter(Operation::Read, master.has_owner) {
            parts.push(rows);
        }
        if let Some(grand) = self.master_scope(principal, master, depth + 1) {
            parts.push(grand);
        }
        Some(Filter::Within(Box::new(crate::data::filter::Within {
            field: field.name.clone(),
            parent: master.clone(),
            filter: Filter::And(parts),
        })))
    }

    /// `sharingModel: controlled_by_parent`: a child record is written only by a caller who may edit its
    /// master record (the real server's rule), whatever the child's own object permissions say.
    pub(crate) async fn check_master_writable(
        &self,
        tx: &mut dyn crate::data::driver::Transaction,
        principal: &Principal,
        schema: &ObjectSchema,
        verb: &str,
        record: &Record,
    ) -> Result<(), DataError> {
        if principal.bypasses_permission_sets()
            || schema.sharing_model.as_deref() != Some("controlled_by_parent")
        {
            return Ok(());
        }
        let Some(field) = schema
            .fields
            .iter()
            .find(|f| f.ftype == crate::artifact::fields::FieldType::MasterDetail)
        else {
            return Ok(());
        };
        let (Some(master), Some(Value::String(master_id))) = (
            field
                .reference
                .as_deref()
                .and_then(|r| self.catalog.object(r)),
            record.get(&field.name),
        ) else {
            return Ok(());
        };
        // The reasons are the real server's, leg by leg (plugin-security's assertMasterRowEditable).
        let denied = |why: String| DataError::PermissionDenied {
            object: schema.name.clone(),
            field: None,
            message: format!(
                "[Security] Access denied: {verb} on '{}' requires edit access to its master record ({why})",
                schema.name
            ),
        };
        let master_access = self.permissions.access(principal, master);
        if !master_access.allows(Operation::Edit) {
            return Err(denied(format!(
                "no edit permission on master '{}'",
                master.name
            )));
        }
        match self
            .check_row_writable(
                tx,
                principal,
                master,
                &master_access,
                master_id,
                Operation::Edit,
            )
            .await
        {
            Ok(()) => Ok(()),
            // The master exists in the caller's organization (the lookup check found it), so a master the
            // caller cannot even see is refused the same way as one it sees but may not edit.
            Err(DataError::PermissionDenied { .. } | DataError::RecordNotFound { .. }) => {
                Err(denied(format!(
                    "master '{}' not editable by this user (row-level security)",
                    master.name
                )))
            }
            Err(e) => Err(e),
        }
    }
}

/// Ownership changes hands only with `allowTransfer` (or for a bypassing caller): a payload may name the
/// owner it already has (the caller on create), anything else is a transfer.
pub(crate) fn check_transfer(
    access: &Access,
    schema: &ObjectSchema,
    payload: &Record,
    current_owner: Option<&str>,
) -> Result<(), DataError> {
    let Some(given) = payload.get("owner_id") else {
        return Ok(());
    };
    if !schema.has_owner {
        return Ok(());
    }
    // Empty means "the default" on create; on update it is refused as no user.
    let unchanged = match given {
        Value::String(s) => s.is_empty() || current_owner == Some(s.as_str()),
        Value::Null => true,
        _ => false,
    };
    if unchanged || access.may_transfer() {
        return Ok(());
    }
    Err(DataError::PermissionDenied {
        object: schema.name.clone(),
        field: Some("owner_id".into()),
        message: format!(
            "[Security] Ownership transfer denied: giving a '{}' record to another owner needs allowTransfer",
            schema.name
        ),
    })
}

impl Kernel {
    /// A new owner must be a user of the caller's organization.
    pub(crate) async fn check_owner_exists(
        &self,
        tx: &mut dyn crate::data::driver::Transaction,
        principal: &Principal,
        schema: &ObjectSchema,
        owner: &Value,
    ) -> Result<(), DataError> {
        let Value::String(owner) = owner else {
            return Err(DataError::invalid_field(
                &schema.name,
                "owner_id",
                "owner_id must be the id of a user",
            ));
        };
        if principal.is_system || principal.user_id.as_deref() == Some(owner.as_str()) {
            return Ok(());
        }
        let users = self.object(crate::security::system_objects::USER)?.clone();
        let parts = vec![
            Filter::Cond(Condition {
                field: "id".into(),
                op: crate::data::filter::Op::Eq,
                operand: Operand::Value(Value::String(owner.clone())),
            }),
            super::organization_filter(principal),
        ];
        let q = Query {
            filter: Some(Filter::And(parts)),
            limit: Some(1),
            ..Query::default()
        };
        let id_col: Vec<_> = users.field("id").into_iter().collect();
        if tx.find(&users, &q, &id_col, None).await?.is_empty() {
            let mut e = crate::data::error::FieldError::new(
                "owner_id",
                "Owner",
                "reference_not_found",
                format!("Owner: no user of this organization has id \"{owner}\""),
            );
            e.value = Some(Box::new(Value::String(owner.clone())));
            return Err(DataError::validation(&schema.name, vec![e]));
        }
        Ok(())
    }
}

impl Kernel {
    /// Refuses an update or delete of a row the caller can see but may not write (owner scope, RLS `using`).
    pub(crate) async fn check_row_writable(
        &self,
        tx: &mut dyn Transaction,
        principal: &Principal,
        schema: &ObjectSchema,
        access: &Access,
        id: &str,
        op: Operation,
    ) -> Result<(), DataError> {
        if principal.is_system
            || schema.internal
            || access.row_filter(op, schema.has_owner).is_none()
        {
            return Ok(());
        }
        let base = Query {
            filter: Some(id_filter(id)),
            limit: Some(1),
            ..Query::default()
        };
        let q = self.scoped_with(principal, schema, &base, access, op);
        // A row the caller cannot even see is not found (no hint that it exists).
        self.load(tx, Some(principal), schema, id).await?;
        let id_col: Vec<&FieldSchema> = schema.field("id").into_iter().collect();
        if tx.find(schema, &q, &id_col, None).await?.is_empty() {
            return Err(DataError::PermissionDenied {
                object: schema.name.clone(),
                field: None,
                // The real server's words for a record one may read but not write.
                message: "You do not have access to this record. Contact the person who owns it, or your \
                          administrator, if you need access."
                    .into(),
            });
        }
        Ok(())
    }
}
