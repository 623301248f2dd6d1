//! The kernel: the one place every read and write goes through (`Kernel::execute`), whoever asks — REST,
//! actions, a guest's `data` host call, a plugin. This file holds the kernel and its entry point; the stages
//! of the spine live beside it: `op` (what is asked), `boot`, `read`, `write`, `delete`, `references`,
//! `enforce` (the caller's access applied), `hooks`, `actions`, `plugins`, `seeds`. Its fields are private:
//! nothing embedding the library reaches the driver, the sandbox or the permission sets around it.

pub mod actions;
mod bindings;
mod boot;
mod delete;
mod enforce;
mod group_commit;
pub mod hooks;
mod op;
mod options;
pub mod plugins;
mod read;
mod references;
mod seeds;
mod summaries;
mod write;

use crate::artifact::Artifact;
use crate::data::catalog::{Catalog, ObjectSchema};
use crate::data::driver::Driver;
use crate::data::error::DataError;
use crate::data::filter::{Condition, Filter, Op, Operand};
use crate::data::query::Query;
use crate::data::schema::SyncReport;
use crate::security::permissions::PermissionSets;
use futures_util::future::BoxFuture;
use hooks::WriteCx;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Weak};
use write::{check_write_size, refuse_runtime_write};

pub use crate::data::ids::new_id;
pub use crate::security::principal::Principal;
pub use op::{DataOp, OpResult};
pub use seeds::SeedReport;

pub struct Kernel {
    artifact: Arc<Artifact>,
    catalog: Arc<Catalog>,
    driver: Arc<dyn Driver>,
    /// Formula fields, compiled once: (object, field) → expression.
    formulas: HashMap<(String, String), crate::expr::Compiled>,
    /// Single-writer databases batch concurrent writes into one transaction.
    group_commit: Option<group_commit::GroupCommit>,
    /// The artifact's hooks, compiled.
    hooks: hooks::Hooks,
    /// Actions and functions, compiled.
    actions: actions::Actions,
    /// Where Wasm bodies run (none when the artifact has none).
    sandbox: Option<crate::sandbox::Sandbox>,
    sandbox_config: crate::sandbox::SandboxConfig,
    /// The most rows or groups one read returns (`RuntimeConfig::max_page_size`).
    page_cap: u64,
    /// The artifact's permission sets (object permissions, FLS, RLS) and their bindings to positions.
    permissions: PermissionSets,
    /// Validation rules per object.
    rules: crate::automation::validation::Rules,
    /// Select options only some callers may choose.
    option_gates: options::OptionGates,
    /// Plugins the trust policy admitted at start-up, loaded and (after boot) running.
    plugins: crate::plugins::runtime::PluginHost,
    /// This kernel, for work that outlives a request (async after-hooks).
    me: Weak<Kernel>,
    /// Moves whenever a security row changes (see `bindings.rs`).
    security_epoch: std::sync::atomic::AtomicU64,
}

/// What `Kernel::boot` did.
#[derive(Clone, Debug)]
pub struct BootReport {
    pub schema: SyncReport,
    pub seeds: SeedReport,
}

impl Kernel {
    /// The artifact this kernel serves.
    pub fn artifact(&self) -> &Arc<Artifact> {
        &self.artifact
    }

    /// The objects (the artifact's and the runtime's internal ones) with their fields.
    pub fn catalog(&self) -> &Arc<Catalog> {
        &self.catalog
    }

    /// The artifact's permission sets and their bindings (read-only outside the kernel).
    pub fn permissions(&self) -> &PermissionSets {
        &self.permissions
    }

    /// The compiled hooks.
    pub fn hooks(&self) -> &hooks::Hooks {
        &self.hooks
    }

    /// The admitted plugins and their status.
    pub fn plugins(&self) -> &crate::plugins::runtime::PluginHost {
        &self.plugins
    }

    /// The database driver's name (`sqlite`, `postgres`).
    pub fn driver_name(&self) -> &'static str {
        self.driver.name()
    }

    /// Whether the database answers.
    pub async fn ping_database(&self) -> Result<(), DataError> {
        self.driver.ping().await
    }

    /// The connection pool's figures (for metrics).
    pub fn pool_stats(&self) -> (u32, usize) {
        self.driver.pool_stats()
    }

    /// An object as `principal` may address it: runtime-provided (internal) objects exist only for the runtime.
    pub fn object_for(
        &self,
        principal: &Principal,
        name: &str,
    ) -> Result<&Arc<ObjectSchema>, DataError> {
        match self.catalog.object(name) {
            Some(o) if !o.internal || principal.is_system => Ok(o),
            // Code (a plugin, a `runAs: system` body) never reaches the runtime's own objects.
            Some(o) if principal.plugin.is_some() => Err(DataError::PermissionDenied {
                object: o.name.clone(),
                field: None,
                message: format!(
                    "{} is a runtime object: no plugin is ever granted it",
                    o.name
                ),
            }),
            Some(o) if o.name == crate::audit::AUDIT_LOG && principal.is_platform_admin() => Ok(o),
            // The security rows, as a platform administrator manages them on the real server.
            Some(o) if Self::is_security_row(&o.name) && principal.is_platform_admin() => Ok(o),
            _ => Err(DataError::ObjectNotFound(name.to_string())),
        }
    }

    pub fn object(&self, name: &str) -> Result<&Arc<ObjectSchema>, DataError> {
        self.catalog
            .object(name)
            .ok_or_else(|| DataError::ObjectNotFound(name.to_string()))
    }

    /// The query restricted to the rows `principal` may see: its organization's (records of callers without an
    /// organization are the ones with none). The runtime itself and internal objects are not scoped.
    pub fn scoped(&self, principal: &Principal, schema: &ObjectSchema, q: &Query) -> Query {
        if principal.is_system || (schema.internal && schema.name != crate::audit::AUDIT_LOG) {
            return q.clone();
        }
        let scope = organization_filter(principal);
        let filter = match &q.filter {
            Some(f) => Filter::And(vec![scope, f.clone()]),
            None => scope,
        };
        Query {
            filter: Some(filter),
            ..q.clone()
        }
    }

    /// The one enforcement point.
    pub async fn execute(&self, principal: &Principal, op: DataOp) -> Result<OpResult, DataError> {
        self.execute_at(principal, op, 0).await
    }

    /// `execute` for a call made by code that hooks or functions run (`depth` > 0).
    pub(crate) fn execute_at<'a>(
        &'a self,
        principal: &'a Principal,
        op: DataOp,
        depth: usize,
    ) -> BoxFuture<'a, Result<OpResult, DataError>> {
        Box::pin(async move {
            match op {
                DataOp::Find { object, query } => {
                    self.find(principal, &object, &query, depth).await
                }
                DataOp::Get { object, id, query } => self
                    .get(principal, &object, &id, &query, depth)
                    .await
                    .map(OpResult::Record),
                write => {
                    check_write_size(&write)?;
                    // Validate the object before taking a write transaction.
                    let security_row = write.touches(&Self::is_security_row);
                    if let Some(object) = write.object() {
                        self.object_for(principal, object)?;
                        refuse_runtime_write(principal, object)?;
                    }
                    if let Some(group) = &self.group_commit {
                        let result = group.submit(self, principal, write, depth).await?;
                        if security_row {
                            self.security_rows_changed().await?;
                        }
                        return Ok(result);
                    }
                    let mut cx = WriteCx::at_depth(depth);
                    let mut tx = self.driver.begin().await?;
                    let result = match self.write_in(&mut *tx, principal, write, &mut cx).await {
                        Ok(r) => r,
                        Err(e) => {
                            if let Err(undo) = tx.rollback().await {
                                tracing::error!("rolling back a failed write: {undo}");
                            }
                            return Err(e);
                        }
                    };
                    tx.commit().await?;
                    self.spawn_after_commit(cx.after_commit);
                    if security_row {
                        self.security_rows_changed().await?;
                    }
                    Ok(result)
                }
            }
        })
    }

    pub(crate) fn sandbox_ref(&self) -> Result<&crate::sandbox::Sandbox, DataError> {
        self.sandbox
            .as_ref()
            .ok_or_else(|| DataError::Internal("no sandbox was started".into()))
    }
}

/// The rows of `principal`'s organization (`organization_id IS NULL` for a caller without one).
pub(crate) fn organization_filter(principal: &Principal) -> Filter {
    Filter::Cond(match &principal.organization_id {
        Some(org) => Condition {
            field: "organization_id".into(),
            op: Op::Eq,
            operand: Operand::Value(Value::String(org.clone())),
        },
        None => Condition {
            field: "organization_id".into(),
            op: Op::Null(true),
            operand: Operand::None,
        },
    })
}

/// `current_user` / `user` as CEL sees it.
fn user_scope(principal: &Principal) -> Value {
    json!({
        "id": principal.user_id,
        "email": principal.email,
        "organizationId": principal.organization_id,
        "positions": principal.positions,
        "isPlatformAdmin": principal.is_platform_admin(),
    })
}

fn id_filter(id: &str) -> Filter {
    Filter::Cond(Condition {
        field: "id".into(),
        op: Op::Eq,
        operand: Operand::Value(Value::String(id.to_string())),
    })
}
