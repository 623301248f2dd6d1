//! Permission sets (PROTOCOL §5), compiled from the artifact: object permissions, field-level security and
//! row-level security, union-merged over the sets a principal holds. A user holds the `isDefault` sets (the
//! built-in `everyone` position) and the sets an administrator bound to one of the user's positions.
//! `Kernel::execute` asks [`PermissionSets::access`] once per object per operation; nothing else decides.
//!
//! An artifact with no permission sets at all is open: every signed-in user of an organization may do
//! everything on its objects (as before permission sets existed). With at least one set, access is denied
//! unless a set grants it.

use super::principal::Principal;
use super::rls::{CurrentUser, RowPredicate};
use crate::artifact::Artifact;
use crate::artifact::model::{ObjectPermission, PermissionSetDef};
use crate::data::catalog::{Catalog, ObjectSchema};
use crate::data::filter::{Condition, Filter, Op, Operand};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::RwLock;

pub use super::principal::{EVERYONE, PLATFORM_ADMIN};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Read,
    Create,
    Edit,
    Delete,
}

impl Operation {
    fn policy_applies(self, operation: &str) -> bool {
        matches!(
            (self, operation),
            (_, "all")
                | (Operation::Read, "select")
                | (Operation::Create, "insert")
                | (Operation::Edit, "update")
                | (Operation::Delete, "delete")
        )
    }
}

struct Policy {
    set: String,
    object: String,
    operation: String,
    using: Option<RowPredicate>,
    check: Option<RowPredicate>,
    positions: Option<Vec<String>>,
}

/// A criteria sharing rule (`sharingRules[]`, `type: criteria`): the rows of `object` where `condition` holds
/// are shared with the holders of `position`, to read (or, with `accessLevel: edit`, to edit too) beyond the
/// object's sharing model. It widens the owner scope only: object permissions and RLS still apply.
struct SharingRule {
    object: String,
    condition: RowPredicate,
    edit: bool,
    position: String,
}

pub struct PermissionSets {
    enforced: bool,
    sets: BTreeMap<String, PermissionSetDef>,
    defaults: Vec<String>,
    policies: Vec<Policy>,
    sharing: Vec<SharingRule>,
    /// position → permission sets bound to it by an administrator.
    bindings: RwLock<HashMap<String, BTreeSet<String>>>,
}

/// What one principal may do on one object, merged over its sets.
#[derive(Clone, Debug, Default)]
pub struct Access {
    /// The runtime itself or a platform administrator: no check applies.
    pub bypass: bool,
    pub create: bool,
    pub read: bool,
    pub edit: bool,
    pub delete: bool,
    /// May give a record to another owner (`allowTransfer`): set `owner_id` to someone else on create, change
    /// it on update. Bypassing callers may.
    pub transfer: bool,
    /// Every row of the organization is readable (else only the caller's own, `owner_id`).
    pub read_all_rows: bool,
    /// Every row of the organization may be edited or deleted (else only the caller's own).
    pub write_all_rows: bool,
    /// Fields the caller may not see (for a bypassing caller: only write-only `password`/`secret` fields).
    pub unreadable: BTreeSet<String>,
    /// Fields the caller may not write.
    pub uneditable: BTreeSet<String>,
    /// RLS `using` filters for reads / for the rows an update or delete may target (OR-ed per operation).
    pub read_filter: Option<Filter>,
    pub write_filter: Option<Filter>,
    pub delete_filter: Option<Filter>,
    /// Rows shared with the caller by criteria sharing rules, to read / to edit (OR-ed with its own rows).
    pub shared_read: Option<Filter>,
    pub shared_write: Option<Filter>,
    /// RLS `check`s a created / updated record must pass (any one of them).
    pub create_checks: Vec<RowPredicate>,
    pub update_checks: Vec<RowPredicate>,
    pub user: CurrentUser,
}

impl Access {
    pub fn may_transfer(&self) -> bool {
        self.bypass || self.transfer
    }

    pub fn allows(&self, op: Operation) -> bool {
        self.bypass
            || match op {
                Operation::Read => self.read,
                Operation::Create => self.create,
                Operation::Edit => self.edit,
                Operation::Delete => self.delete,
            }
    }

    /// The row filter for `op` (owner scope and RLS), `None` when every row of the organization qualifies.
    /// An object without owners (`ownership: org | none`) has no "own" rows: only RLS applies to it.
    pub fn row_filter(&self, op: Operation, has_owner: bool) -> Option<Filter> {
        if self.bypass {
            return None;
        }
        let (all_rows, rls, shared) = match op {
            Operation::Read => (self.read_all_rows, &self.read_filter, &self.shared_read),
            Operation::Edit => (self.write_all_rows, &self.write_filter, &self.shared_write),
            Operation::Delete => (self.write_all_rows, &self.delete_filter, &None),
            Operation::Create => return None,
        };
        let own = (!all_rows && has_owner).then(|| {
            let mine = Filter::Cond(Condition {
                field: "owner_id".into(),
                op: Op::Eq,
                operand: Operand::Value(
                    self.user
                        .id
                        .clone()
                        .map(Value::String)
                        .unwrap_or(Value::Null),
                ),
            });
            // Rows shared with the caller join its own.
            match shared {
                Some(s) => Filter::Or(vec![mine, s.clone()]),
                None => mine,
            }
        });
        match (own, rls.clone()) {
            (None, None) => None,
            (Some(f), None) | (None, Some(f)) => Some(f),
            (Some(a), Some(b)) => Some(Filter::And(vec![a, b])),
        }
    }

    /// Whether a written record passes the RLS checks of `op`.
    pub fn check_passes(&self, op: Operation, record: &serde_json::Map<String, Value>) -> bool {
        let checks = match op {
            Operation::Create => &self.create_checks,
            Operation::Edit => &self.update_checks,
            _ => return true,
        };
        self.bypass || checks.is_empty() || checks.iter().any(|c| c.holds(record, &self.user))
    }
}

impl PermissionSets {
    /// Compiles the artifact's sets; every RLS policy must lower to a row filter (errors name its path).
    pub fn compile(artifact: &Artifact, catalog: &Catalog) -> Result<PermissionSets, Vec<String>> {
        let mut errors = Vec::new();
        let mut sets = BTreeMap::new();
        let mut defaults = Vec::new();
        let mut policies = Vec::new();
        for (i, set) in artifact.definition.permissions.iter().enumerate() {
            if set.is_default {
                defaults.push(set.name.clone());
            }
            for (j, p) in set.row_level_security.iter().enumerate() {
                let path = format!("permissions[{i}].rowLevelSecurity[{j}]");
                if !p.enabled {
                    continue;
                }
                let Some(object) = p.object.clone() else {
                    errors.push(format!("{path}.object: a policy names its object"));
                    continue;
                };
                let Some(schema) = catalog.object(&object) else {
                    errors.push(format!("{path}.object: no object named {object}"));
                    continue;
                };
                let mut lower = |key: &str, e: &Option<crate::artifact::model::Expression>| {
                    e.as_ref()
                        .map(|e| super::rls::lower(&e.source, schema))
                        .transpose()
                        .map_err(|m| errors.push(format!("{path}.{key}: {m}")))
                        .ok()
                        .flatten()
                };
                let using = lower("using", &p.using);
                let check = lower("check", &p.check);
                policies.push(Policy {
                    set: set.name.clone(),
                    object,
                    operation: p.operation.clone().unwrap_or_else(|| "all".into()),
                    using,
                    check,
                    positions: p.positions.clone(),
                });
            }
            sets.insert(set.name.clone(), set.clone());
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(PermissionSets {
            enforced: !sets.is_empty(),
            sets,
            defaults,
            policies,
            sharing: sharing_rules(artifact, catalog),
            bindings: RwLock::new(HashMap::new()),
        })
    }

    pub fn is_enforced(&self) -> bool {
        self.enforced
    }

    pub fn has_set(&self, name: &str) -> bool {
        self.sets.contains_key(name)
    }

    /// Replaces every binding (position → permission sets).
    pub fn replace_bindings(&self, bound: std::collections::BTreeMap<String, BTreeSet<String>>) {
        if let Ok(mut b) = self.bindings.write() {
            *b = bound.into_iter().collect();
        }
    }

    /// Replaces the sets bound to a position.
    pub fn bind(&self, position: &str, sets: BTreeSet<String>) {
        if let Ok(mut b) = self.bindings.write() {
            if sets.is_empty() {
                b.remove(position);
            } else {
                b.insert(position.to_string(), sets);
            }
        }
    }

    pub fn bound_to(&self, position: &str) -> Vec<String> {
        self.bindings
            .read()
            .ok()
            .and_then(|b| b.get(position).map(|s| s.iter().cloned().collect()))
            .unwrap_or_default()
    }

    /// The names of the sets a principal holds.
    pub fn sets_of(&self, principal: &Principal) -> BTreeSet<String> {
        let mut held: BTreeSet<String> = self.defaults.iter().cloned().collect();
        if let Ok(b) = self.bindings.read() {
            for p in &principal.positions {
                if let Some(sets) = b.get(p) {
                    held.extend(sets.iter().cloned());
                }
            }
        }
        held
    }

    /// The capabilities (`systemPermissions`) of the sets a principal holds.
    pub fn system_permissions_of(&self, principal: &Principal) -> BTreeSet<String> {
        self.sets_of(principal)
            .iter()
            .filter_map(|name| self.sets.get(name))
            .flat_map(|set| set.system_permissions.iter().cloned())
            .collect()
    }

    /// What `principal` may do on `schema`.
    pub fn access(&self, principal: &Principal, schema: &ObjectSchema) -> Access {
        let user = CurrentUser::of(principal);
        if principal.is_system {
            return Access {
                bypass: true,
                user,
                ..Access::default()
            };
        }
        if schema.internal {
            return internal_access(principal, schema, user);
        }
        if principal.bypasses_permission_sets() {
            return Access {
                bypass: true,
                unreadable: write_only_fields(schema),
                user,
                ..Access::default()
            };
        }
        let sharing = schema
            .sharing_model
            .as_deref()
            .unwrap_or("public_read_write");
        if !self.enforced {
            return Access {
                unreadable: write_only_fields(schema),
                create: true,
                read: true,
                edit: true,
                delete: true,
                read_all_rows: sharing != "private",
                write_all_rows: !matches!(sharing, "private" | "public_read"),
                user,
                ..Access::default()
            };
        }
        let held = self.sets_of(principal);
        let mut a = Access {
            unreadable: write_only_fields(schema),
            user,
            ..Access::default()
        };
        // Field grants are OR-ed over the held sets that mention the field; unmentioned fields follow the object.
        let mut field_grants: HashMap<&str, (bool, bool)> = HashMap::new();
        for name in &held {
            let Some(set) = self.sets.get(name) else {
                continue;
            };
            if let Some(p) = set.objects.get(&schema.name) {
                merge_object(&mut a, p, sharing);
            }
            let prefix = format!("{}.", schema.name);
            for (key, fp) in &set.fields {
                if let Some(field) = key.strip_prefix(&prefix) {
                    let e = field_grants.entry(field).or_insert((false, false));
                    e.0 |= fp.readable;
                    e.1 |= fp.editable;
                }
            }
        }
        for (field, (readable, editable)) in field_grants {
            if !readable {
                a.unreadable.insert(field.to_string());
            }
            if !editable {
                a.uneditable.insert(field.to_string());
            }
        }
        let rls = |op: Operation, a: &Access| -> Option<Filter> {
            let filters: Vec<Filter> = self
                .applicable(principal, &held, &schema.name, op)
                .filter_map(|p| p.using.as_ref())
                .map(|u| u.to_filter(&a.user))
                .collect();
            match filters.len() {
                0 => None,
                1 => filters.into_iter().next(),
                _ => Some(Filter::Or(filters)),
            }
        };
        let shared = |edit: bool, a: &Access| -> Option<Filter> {
            let filters: Vec<Filter> = self
                .sharing
                .iter()
                .filter(|r| {
                    r.object == schema.name
                        && (r.edit || !edit)
                        && principal.positions.contains(&r.position)
                })
                .map(|r| r.condition.to_filter(&a.user))
                .collect();
            match filters.len() {
                0 => None,
                1 => filters.into_iter().next(),
                _ => Some(Filter::Or(filters)),
            }
        };
        a.shared_read = shared(false, &a);
        a.shared_write = shared(true, &a);
        a.read_filter = rls(Operation::Read, &a);
        a.write_filter = rls(Operation::Edit, &a);
        a.delete_filter = rls(Operation::Delete, &a);
        a.create_checks = self
            .applicable(principal, &held, &schema.name, Operation::Create)
            .filter_map(|p| p.check.clone())
            .collect();
        a.update_checks = self
            .applicable(principal, &held, &schema.name, Operation::Edit)
            .filter_map(|p| p.check.clone())
            .collect();
        a
    }

    fn applicable<'a>(
        &'a self,
        principal: &'a Principal,
        held: &'a BTreeSet<String>,
        object: &'a str,
        op: Operation,
    ) -> impl Iterator<Item = &'a Policy> + 'a {
        self.policies.iter().filter(move |p| {
            p.object == object
                && held.contains(&p.set)
                && op.policy_applies(&p.operation)
                && p.positions
                    .as_ref()
                    .is_none_or(|ps| ps.iter().any(|x| principal.positions.contains(x)))
        })
    }
}

/// The artifact's criteria sharing rules shared with a position. A rule of another kind (owner-based, shared
/// with a user or group) or whose condition does not lower to a row filter shares nothing (a warning says so):
/// sharing only ever widens access, so leaving one out fails closed.
fn sharing_rules(artifact: &Artifact, catalog: &Catalog) -> Vec<SharingRule> {
    let mut out = Vec::new();
    let Some(Value::Array(rules)) = artifact.raw.get("sharingRules") else {
        return out;
    };
    for (i, r) in rules.iter().enumerate() {
        if r.get("active").and_then(Value::as_bool) == Some(false) {
            continue;
        }
        let text = |k: &str| r.get(k).and_then(Value::as_str);
        let source = match r.get("condition") {
            Some(Value::String(s)) => Some(s.as_str()),
            Some(c) => c.get("source").and_then(Value::as_str),
            None => None,
        };
        let shared_with = r.get("sharedWith");
        let position = shared_with
            .filter(|w| w.get("type").and_then(Value::as_str) == Some("position"))
            .and_then(|w| w.get("value"))
            .and_then(Value::as_str);
        let schema = text("object").and_then(|o| catalog.object(o));
        let (Some("criteria"), Some(schema), Some(source), Some(position)) =
            (text("type"), schema, source, position)
        else {
            tracing::warn!(
                "sharingRules[{i}]: only criteria rules shared with a position are applied; this one shares nothing"
            );
            continue;
        };
        match super::rls::lower(source, schema) {
            Ok(condition) => out.push(SharingRule {
                object: schema.name.clone(),
                condition,
                edit: matches!(text("accessLevel"), Some("edit" | "full" | "read_write")),
                position: position.to_string(),
            }),
            Err(e) => tracing::warn!("sharingRules[{i}].condition: {e}; the rule shares nothing"),
        }
    }
    out
}

/// `password` and `secret` fields are written, never read back (nor filtered, sorted or searched on) by
/// anyone but the runtime itself.
fn write_only_fields(schema: &ObjectSchema) -> BTreeSet<String> {
    use crate::artifact::fields::FieldType;
    schema
        .fields
        .iter()
        .filter(|f| matches!(f.ftype, FieldType::Password | FieldType::Secret))
        .map(|f| f.name.clone())
        .collect()
}

/// A runtime-provided object (`sys_*`), as anyone but the runtime meets it: through a lookup of an artifact
/// record (`created_by`, `owner_id`, …). Only [`Catalog::INTERNAL_EXPANDABLE`] fields may be read, filtered,
/// sorted or selected; nothing is writable. Platform administrators read the audit log in full (it is
/// append-only for everyone).
fn internal_access(principal: &Principal, schema: &ObjectSchema, user: CurrentUser) -> Access {
    if schema.name == crate::audit::AUDIT_LOG && principal.is_platform_admin() {
        return Access {
            read: true,
            read_all_rows: true,
            user,
            ..Access::default()
        };
    }
    if crate::security::system_objects::ADMIN_MANAGED.contains(&schema.name.as_str())
        && principal.is_platform_admin()
    {
        // The security rows, managed by platform administrators (the mirrors stay read-only in the kernel).
        return Access {
            create: true,
            read: true,
            edit: true,
            delete: true,
            read_all_rows: true,
            write_all_rows: true,
            user,
            ..Access::default()
        };
    }
    let hidden: BTreeSet<String> = schema
        .fields
        .iter()
        .filter(|f| !Catalog::INTERNAL_EXPANDABLE.contains(&f.name.as_str()))
        .map(|f| f.name.clone())
        .collect();
    Access {
        read: true,
        read_all_rows: true,
        uneditable: schema.fields.iter().map(|f| f.name.clone()).collect(),
        unreadable: hidden,
        user,
        ..Access::default()
    }
}

fn merge_object(a: &mut Access, p: &ObjectPermission, sharing: &str) {
    a.create |= p.allow_create;
    a.read |= p.allow_read || p.view_all_records;
    a.edit |= p.allow_edit || p.modify_all_records;
    a.delete |= p.allow_delete || p.modify_all_records;
    a.transfer |= p.allow_transfer;
    // Rows beyond the caller's own: granted outright, by an `org` scope, or by the object's sharing model.
    let read_all = p.view_all_records
        || p.modify_all_records
        || match p.read_scope.as_deref() {
            Some("own") => false,
            Some(_) => true,
            None => sharing != "private",
        };
    let write_all = p.modify_all_records
        || match p.write_scope.as_deref() {
            Some("own") => false,
            Some(_) => true,
            None => !matches!(sharing, "private" | "public_read"),
        };
    a.read_all_rows |= read_all && (p.allow_read || p.view_all_records);
    a.write_all_rows |= write_all && (p.allow_edit || p.allow_delete || p.modify_all_records);
}
