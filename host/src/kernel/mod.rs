//! The kernel: the one place every read and write goes through (`Kernel::execute`), whoever asks — REST,
//! actions, a guest's `data` host call. Permission checks, hooks and audit join this path in later issues;
//! nothing reaches a driver around it.

pub mod actions;
mod enforce;
mod group_commit;
pub mod hooks;
pub mod plugins;
mod seeds;

use crate::artifact::Artifact;
use crate::artifact::fields::{FieldType, StorageKind};
use crate::config::RuntimeConfig;
use crate::data::catalog::{Catalog, FieldSchema, ObjectSchema};
use crate::data::driver::{Driver, Record, Transaction};
use crate::data::error::{DataError, FieldError};
use crate::data::filter::{Condition, Filter, MacroContext, Op, Operand};
use crate::data::query::{Query, check_sort_fields};
use crate::data::schema::SyncReport;
use crate::data::values::{SqlValue, coerce, format_datetime, is_blank, parse_datetime, to_sql};
use futures_util::future::BoxFuture;
use rand::Rng;
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Weak};

use crate::security::permissions::{Access, Operation, PermissionSets};
use enforce::{check_editable, check_query_fields, check_rls, mask, readable_search};
use hooks::{EventInput, WriteCx};
pub use seeds::SeedReport;

/// Who is asking. Every operation runs as a principal; there is no anonymous data access.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Principal {
    pub user_id: Option<String>,
    pub organization_id: Option<String>,
    pub positions: Vec<String>,
    pub is_system: bool,
    /// The user's email (`current_user.email` in RLS policies).
    pub email: Option<String>,
    /// The HTTP request this principal acts in (recorded in the audit log).
    pub request_id: Option<String>,
    /// Set when a plugin acts: its data calls are limited to its granted capabilities.
    pub plugin: Option<Arc<crate::plugins::runtime::PluginPrincipal>>,
}

impl Principal {
    /// The runtime itself (seeds, migrations).
    pub fn system() -> Principal {
        Principal {
            is_system: true,
            ..Principal::default()
        }
    }

    pub fn user(user_id: &str, organization_id: Option<&str>) -> Principal {
        Principal {
            user_id: Some(user_id.to_string()),
            organization_id: organization_id.map(str::to_string),
            positions: vec!["everyone".to_string()],
            is_system: false,
            email: None,
            request_id: None,
            plugin: None,
        }
    }

    /// Holds the built-in `platform_admin` position: permission sets do not restrict it (its writes are
    /// audited as such).
    pub fn is_platform_admin(&self) -> bool {
        !self.is_system
            && self
                .positions
                .iter()
                .any(|p| p == crate::security::permissions::PLATFORM_ADMIN)
    }

    pub fn macro_context(&self) -> MacroContext {
        MacroContext::now(self.user_id.clone(), self.organization_id.clone())
    }
}

/// A data operation, as every entry point expresses it.
#[derive(Clone, Debug)]
pub enum DataOp {
    Find {
        object: String,
        query: Query,
    },
    Get {
        object: String,
        id: String,
        query: Query,
    },
    Create {
        object: String,
        record: Record,
    },
    /// All or nothing.
    CreateMany {
        object: String,
        records: Vec<Record>,
    },
    Update {
        object: String,
        id: String,
        patch: Record,
        expected_version: Option<String>,
    },
    Delete {
        object: String,
        id: String,
        expected_version: Option<String>,
    },
    /// Creates, updates and deletes across objects, all or nothing.
    Batch {
        operations: Vec<DataOp>,
    },
}

impl DataOp {
    /// The object an operation names (none for a batch).
    pub fn object(&self) -> Option<&str> {
        match self {
            DataOp::Find { object, .. }
            | DataOp::Get { object, .. }
            | DataOp::Create { object, .. }
            | DataOp::CreateMany { object, .. }
            | DataOp::Update { object, .. }
            | DataOp::Delete { object, .. } => Some(object),
            DataOp::Batch { .. } => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum OpResult {
    List {
        records: Vec<Record>,
        total: Option<u64>,
        has_more: bool,
    },
    Record(Record),
    Records(Vec<Record>),
    Deleted {
        id: String,
    },
    /// One result per operation of a batch, in order.
    Batch(Vec<OpResult>),
}

/// Cascading deletes stop at this depth (a guard against pathological chains).
const MAX_CASCADE_DEPTH: usize = 16;

pub struct Kernel {
    pub artifact: Arc<Artifact>,
    pub catalog: Arc<Catalog>,
    pub driver: Arc<dyn Driver>,
    /// Formula fields, compiled once: (object, field) → expression.
    formulas: HashMap<(String, String), crate::expr::Compiled>,
    /// Single-writer databases batch concurrent writes into one transaction.
    group_commit: Option<group_commit::GroupCommit>,
    /// The artifact's hooks, compiled.
    pub hooks: hooks::Hooks,
    /// Actions and functions, compiled.
    pub actions: actions::Actions,
    /// Where Wasm bodies run (none when the artifact has none).
    pub sandbox: Option<crate::sandbox::Sandbox>,
    sandbox_config: crate::sandbox::SandboxConfig,
    /// The artifact's permission sets (object permissions, FLS, RLS) and their bindings to positions.
    pub permissions: PermissionSets,
    /// Validation rules per object.
    rules: crate::automation::validation::Rules,
    /// Plugins the trust policy admitted at start-up, loaded and (after boot) running.
    pub plugins: crate::plugins::runtime::PluginHost,
    /// This kernel, for work that outlives a request (async after-hooks).
    me: Weak<Kernel>,
}

/// What `Kernel::boot` did.
#[derive(Clone, Debug)]
pub struct BootReport {
    pub schema: SyncReport,
    pub seeds: SeedReport,
}

impl Kernel {
    /// Connects the database, syncs the schema and applies seeds.
    pub async fn boot(
        artifact: Artifact,
        config: &RuntimeConfig,
    ) -> Result<(Arc<Kernel>, BootReport), DataError> {
        let driver = crate::data::connect(&config.database_url, config.max_connections).await?;
        Self::boot_with_driver(artifact, Arc::new(driver), config).await
    }

    pub async fn boot_with_driver(
        artifact: Artifact,
        driver: Arc<dyn Driver>,
        config: &RuntimeConfig,
    ) -> Result<(Arc<Kernel>, BootReport), DataError> {
        let catalog = Catalog::with_internal(
            &artifact.definition,
            &crate::security::system_objects::definitions(),
        );
        // Objects whose datasource names a driver plugin are stored by it, not in SQL.
        let routed_objects = plugin_routed_objects(&artifact, &config.plugins)?;
        let schema = if routed_objects.is_empty() {
            driver
                .sync_schema(&catalog, config.allow_destructive_migrations)
                .await?
        } else {
            let mut sql_only = artifact.definition.clone();
            sql_only
                .objects
                .retain(|o| !routed_objects.contains_key(&o.name));
            let sql_catalog =
                Catalog::with_internal(&sql_only, &crate::security::system_objects::definitions());
            driver
                .sync_schema(&sql_catalog, config.allow_destructive_migrations)
                .await?
        };
        let formulas = compile_formulas(&artifact);
        let rules = crate::automation::validation::Rules::compile(&artifact).map_err(|errors| {
            DataError::Schema(format!("validation rules: {}", errors.join("; ")))
        })?;
        let permissions = PermissionSets::compile(&artifact, &catalog).map_err(|errors| {
            DataError::Schema(format!(
                "row-level security policies that cannot become row filters: {}",
                errors.join("; ")
            ))
        })?;
        let js_sources = js_sources(&artifact);
        let runs_js = config.js_runtime.is_some() && !js_sources.is_empty();
        let sandbox = if artifact_has_wasm(&artifact) || runs_js || !config.plugins.is_empty() {
            Some(match &config.shared_sandbox {
                Some(shared) => shared.with_config(config.sandbox.clone()),
                None => crate::sandbox::Sandbox::new(config.engine.clone(), config.sandbox.clone())
                    .map_err(DataError::Internal)?,
            })
        } else {
            None
        };
        let mut components = HashMap::new();
        if let (true, Some(sandbox), Some(bytes)) = (runs_js, &sandbox, &config.js_runtime) {
            // Instances start from a snapshot with the context built and every body compiled; if the
            // snapshot cannot be made, the plain runtime still runs the bodies (≈1.5 ms a call slower).
            let prepared = match sandbox.preinitialize_js(bytes, &js_sources).await {
                Ok(snapshot) => {
                    tracing::info!(
                        bodies = js_sources.len(),
                        "JS runtime: instances start from a pre-initialised snapshot"
                    );
                    Some(snapshot)
                }
                Err(e) => {
                    tracing::warn!(
                        "JS runtime: no pre-initialised snapshot ({e}); running bodies without it"
                    );
                    None
                }
            };
            let runtime = sandbox
                .load(
                    hooks::JS_RUNTIME,
                    crate::sandbox::BodyKind::Script,
                    prepared.as_ref().map_or(bytes.as_slice(), |b| b.as_slice()),
                )
                .map_err(DataError::Sandbox)?;
            components.insert(
                (
                    hooks::JS_RUNTIME.to_string(),
                    crate::sandbox::BodyKind::Script,
                ),
                Arc::new(runtime),
            );
        }
        let mut plugins = crate::plugins::runtime::PluginHost::default();
        if let Some(sandbox) = &sandbox {
            for admitted in &config.plugins {
                match crate::plugins::runtime::RunningPlugin::load(
                    sandbox,
                    &config.sandbox,
                    admitted,
                ) {
                    Ok(p) => plugins.plugins.push(Arc::new(p)),
                    Err(e) if config.skip_bad_plugins => {
                        tracing::error!("plugin left out (--skip-bad-plugins): {e}");
                    }
                    Err(e) => return Err(DataError::Schema(format!("plugin {e}"))),
                }
            }
        }
        let hooks = hooks::Hooks::compile(&artifact, sandbox.as_ref(), &mut components)?
            .with_plugins(&plugins.plugins);
        let routed = match (&sandbox, routed_objects.is_empty()) {
            (Some(sandbox), false) => {
                let mut routes = HashMap::new();
                for (object, plugin_id) in &routed_objects {
                    let plugin = plugins.get(plugin_id).ok_or_else(|| {
                        DataError::Schema(format!(
                            "object {object} is stored by driver plugin {plugin_id}, which did not load"
                        ))
                    })?;
                    routes.insert(object.clone(), plugin.clone());
                }
                Some(Arc::new(crate::data::plugin_driver::RoutedDriver {
                    sql: driver.clone(),
                    routes: Arc::new(routes),
                    sandbox: sandbox.clone(),
                }))
            }
            _ => None,
        };
        let driver: Arc<dyn Driver> = match &routed {
            Some(r) => r.clone(),
            None => driver,
        };
        let actions = actions::Actions::compile(&artifact, sandbox.as_ref(), &mut components)?;
        let kernel = Arc::new_cyclic(|me| Kernel {
            artifact: Arc::new(artifact),
            catalog: Arc::new(catalog),
            group_commit: driver
                .single_writer()
                .then(group_commit::GroupCommit::default),
            driver,
            formulas,
            hooks,
            actions,
            sandbox,
            sandbox_config: config.sandbox.clone(),
            permissions,
            rules,
            plugins,
            me: me.clone(),
        });
        kernel.start_plugins(config.skip_bad_plugins).await?;
        if let Some(routed) = &routed {
            routed.sync_plugins(&kernel.catalog).await?;
        }
        kernel.load_permission_bindings().await?;
        let seeds = seeds::apply(&kernel, config.seed_environment).await?;
        Ok((kernel, BootReport { schema, seeds }))
    }

    /// An object as `principal` may address it: runtime-provided (internal) objects exist only for the runtime.
    pub fn object_for(
        &self,
        principal: &Principal,
        name: &str,
    ) -> Result<&Arc<ObjectSchema>, DataError> {
        match self.catalog.object(name) {
            Some(o) if !o.internal || principal.is_system => Ok(o),
            Some(o) if o.name == crate::audit::AUDIT_LOG && principal.is_platform_admin() => Ok(o),
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
        let scope = Filter::Cond(match &principal.organization_id {
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
        });
        let filter = match &q.filter {
            Some(f) => Filter::And(vec![scope, f.clone()]),
            None => scope,
        };
        Query {
            filter: Some(filter),
            ..q.clone()
        }
    }

    /// Gives rows that belong to no organization (seeds inserted at boot) to `organization_id`, owned by
    /// `owner_id`: the first administrator adopts them, as the real server does at the first sign-up.
    pub async fn adopt_unowned_rows(
        &self,
        organization_id: &str,
        owner_id: &str,
    ) -> Result<u64, DataError> {
        let mut tx = self.driver.begin().await?;
        let mut n = 0;
        for schema in self.catalog.objects.values().filter(|o| !o.internal) {
            n += tx.adopt_unowned(schema, organization_id, owner_id).await?;
        }
        tx.commit().await?;
        Ok(n)
    }

    /// Fills formula fields from the stored fields (a formula that cannot be evaluated reads as null).
    /// Only the selected ones when the query selects fields.
    fn compute_formulas(
        &self,
        schema: &ObjectSchema,
        selected: Option<&Vec<String>>,
        records: &mut [Record],
    ) {
        let formulas: Vec<(&str, &crate::expr::Compiled)> = schema
            .fields
            .iter()
            .filter(|f| f.ftype == FieldType::Formula)
            .filter(|f| selected.is_none_or(|names| names.contains(&f.name)))
            .filter_map(|f| {
                self.formulas
                    .get(&(schema.name.clone(), f.name.clone()))
                    .map(|c| (f.name.as_str(), c))
            })
            .collect();
        if formulas.is_empty() {
            return;
        }
        let now = chrono::Utc::now();
        for r in records.iter_mut() {
            for (name, compiled) in &formulas {
                let v = compiled.evaluate_on(r, now).unwrap_or_else(|e| {
                    tracing::debug!(object = %schema.name, field = %name, "formula not evaluated: {e}");
                    Value::Null
                });
                r.insert((*name).to_string(), v);
            }
        }
    }

    /// Parses a QueryAST body for an object, resolving macros for the principal.
    pub fn parse_query(
        &self,
        principal: &Principal,
        object: &str,
        body: &Value,
    ) -> Result<Query, DataError> {
        let schema = self.object_for(principal, object)?;
        Query::from_json(&self.catalog, schema, body, &principal.macro_context())
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
                    // Validate the object before taking a write transaction.
                    if let Some(object) = write.object() {
                        self.object_for(principal, object)?;
                        refuse_audit_write(object)?;
                    }
                    if let Some(group) = &self.group_commit {
                        return group.submit(self, principal, write, depth).await;
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

    /// One write inside the caller's transaction (a batch runs several in one).
    pub(crate) fn write_in<'a>(
        &'a self,
        tx: &'a mut dyn Transaction,
        principal: &'a Principal,
        op: DataOp,
        cx: &'a mut WriteCx,
    ) -> BoxFuture<'a, Result<OpResult, DataError>> {
        Box::pin(async move {
            match op {
                DataOp::Create { object, record } => {
                    refuse_audit_write(&object)?;
                    let schema = self.object_for(principal, &object)?.clone();
                    Ok(OpResult::Record(
                        self.insert_in(tx, principal, &schema, record, cx).await?,
                    ))
                }
                DataOp::CreateMany { object, records } => {
                    refuse_audit_write(&object)?;
                    let schema = self.object_for(principal, &object)?.clone();
                    let mut out = Vec::with_capacity(records.len());
                    for (i, record) in records.into_iter().enumerate() {
                        out.push(
                            self.insert_in(&mut *tx, principal, &schema, record, &mut *cx)
                                .await
                                .map_err(|e| at_index(e, "records", i))?,
                        );
                    }
                    Ok(OpResult::Records(out))
                }
                DataOp::Update {
                    object,
                    id,
                    patch,
                    expected_version,
                } => {
                    refuse_audit_write(&object)?;
                    let schema = self.object_for(principal, &object)?.clone();
                    Ok(OpResult::Record(
                        self.update_in(
                            tx,
                            principal,
                            &schema,
                            &id,
                            patch,
                            expected_version.as_deref(),
                            cx,
                        )
                        .await?,
                    ))
                }
                DataOp::Delete {
                    object,
                    id,
                    expected_version,
                } => {
                    refuse_audit_write(&object)?;
                    let schema = self.object_for(principal, &object)?.clone();
                    self.delete_checked(
                        tx,
                        principal,
                        &schema,
                        &id,
                        expected_version.as_deref(),
                        cx,
                    )
                    .await?;
                    Ok(OpResult::Deleted { id })
                }
                DataOp::Batch { operations } => {
                    let mut out = Vec::with_capacity(operations.len());
                    for (i, op) in operations.into_iter().enumerate() {
                        if matches!(
                            op,
                            DataOp::Find { .. } | DataOp::Get { .. } | DataOp::Batch { .. }
                        ) {
                            return Err(DataError::InvalidQuery {
                                object: op.object().unwrap_or_default().to_string(),
                                message: format!(
                                    "operations[{i}]: a batch holds creates, updates and deletes only"
                                ),
                            });
                        }
                        out.push(
                            self.write_in(&mut *tx, principal, op, &mut *cx)
                                .await
                                .map_err(|e| at_index(e, "operations", i))?,
                        );
                    }
                    Ok(OpResult::Batch(out))
                }
                DataOp::Find { .. } | DataOp::Get { .. } => Err(DataError::Internal(
                    "reads do not take a write transaction".into(),
                )),
            }
        })
    }

    async fn find(
        &self,
        principal: &Principal,
        object: &str,
        q: &Query,
        depth: usize,
    ) -> Result<OpResult, DataError> {
        self.object_for(principal, object)?;
        let mut cx = WriteCx::at_depth(depth);
        self.find_hooks(principal, &mut cx, object, "beforeFind", json!({}), None)
            .await?;
        let mut result = {
            let mut tx = self.driver.reader().await?;
            self.find_in(&mut *tx, principal, object, q, depth).await?
        };
        if let OpResult::List { records, .. } = &mut result {
            let found = std::mem::take(records);
            *records = self
                .after_find(principal, &mut cx, object, found, None)
                .await?;
        }
        Ok(result)
    }

    /// Runs the hooks of a read (outside any transaction): `beforeFind` may abort it.
    async fn find_hooks(
        &self,
        principal: &Principal,
        cx: &mut WriteCx,
        object: &str,
        event: &'static str,
        input: Value,
        record_id: Option<&str>,
    ) -> Result<Value, DataError> {
        self.run_hooks(
            None,
            principal,
            cx,
            EventInput {
                object,
                event,
                input,
                previous: None,
                record_id,
            },
        )
        .await
    }

    /// Runs `afterFind` hooks, which may replace the records (`{"records": [...]}`).
    async fn after_find(
        &self,
        principal: &Principal,
        cx: &mut WriteCx,
        object: &str,
        records: Vec<Record>,
        record_id: Option<&str>,
    ) -> Result<Vec<Record>, DataError> {
        if !self.hooks.listens(object, "afterFind") {
            return Ok(records);
        }
        let out = self
            .find_hooks(
                principal,
                cx,
                object,
                "afterFind",
                json!({ "records": records }),
                record_id,
            )
            .await?;
        Ok(match out.get("records") {
            Some(Value::Array(replaced)) => replaced
                .iter()
                .filter_map(|r| r.as_object().cloned())
                .collect(),
            _ => records,
        })
    }

    /// A find inside a given transaction (a hook's reads see its write's uncommitted rows).
    pub(crate) async fn find_in(
        &self,
        tx: &mut dyn Transaction,
        principal: &Principal,
        object: &str,
        q: &Query,
        _depth: usize,
    ) -> Result<OpResult, DataError> {
        let schema = self.object_for(principal, object)?;
        let access = self.access(principal, schema, Operation::Read)?;
        let mut q = q.clone();
        readable_search(&access, &mut q);
        check_query_fields(&access, schema, &q)?;
        let scoped = self.scoped_with(principal, schema, &q, &access, Operation::Read);
        let q = &scoped;
        if q.is_aggregate() {
            let (records, total) = tx.aggregate(schema, q).await?;
            let has_more = page_has_more(q, records.len(), total);
            return Ok(OpResult::List {
                records,
                total,
                has_more,
            });
        }
        check_sort_fields(schema, &q.order_by)?;
        let columns = select_columns(schema, q);
        let mut records = tx.find(schema, q, &columns, None).await?;
        let total = if q.count {
            // A first page shorter than the limit already tells the total.
            match (q.offset.unwrap_or(0), q.limit) {
                (0, Some(l)) if (records.len() as u64) < l => Some(records.len() as u64),
                (0, None) => Some(records.len() as u64),
                _ => Some(tx.count(schema, q).await?),
            }
        } else {
            None
        };
        self.expand(tx, principal, schema, q, &mut records).await?;
        self.compute_formulas(schema, q.fields.as_ref(), &mut records);
        project(q, &mut records);
        mask(&access, &mut records);
        let has_more = page_has_more(q, records.len(), total);
        Ok(OpResult::List {
            records,
            total,
            has_more,
        })
    }

    async fn get(
        &self,
        principal: &Principal,
        object: &str,
        id: &str,
        q: &Query,
        depth: usize,
    ) -> Result<Record, DataError> {
        self.object_for(principal, object)?;
        let mut cx = WriteCx::at_depth(depth);
        self.find_hooks(
            principal,
            &mut cx,
            object,
            "beforeFind",
            json!({ "id": id }),
            Some(id),
        )
        .await?;
        let record = {
            let mut tx = self.driver.reader().await?;
            self.get_in(&mut *tx, principal, object, id, q).await?
        };
        let mut out = self
            .after_find(principal, &mut cx, object, vec![record], Some(id))
            .await?;
        if out.is_empty() {
            return Err(DataError::RecordNotFound {
                object: object.to_string(),
                id: id.to_string(),
            });
        }
        Ok(out.swap_remove(0))
    }

    /// A get inside a given transaction.
    pub(crate) async fn get_in(
        &self,
        tx: &mut dyn Transaction,
        principal: &Principal,
        object: &str,
        id: &str,
        q: &Query,
    ) -> Result<Record, DataError> {
        let schema = self.object_for(principal, object)?;
        let access = self.access(principal, schema, Operation::Read)?;
        check_query_fields(&access, schema, q)?;
        let q1 = self.scoped_with(
            principal,
            schema,
            &Query {
                limit: Some(1),
                filter: Some(id_filter(id)),
                count: false,
                ..q.clone()
            },
            &access,
            Operation::Read,
        );
        let columns = select_columns(schema, &q1);
        let mut records = tx.find(schema, &q1, &columns, None).await?;
        if records.is_empty() {
            return Err(DataError::RecordNotFound {
                object: object.to_string(),
                id: id.to_string(),
            });
        }
        self.expand(tx, principal, schema, &q1, &mut records)
            .await?;
        self.compute_formulas(schema, q1.fields.as_ref(), &mut records);
        project(&q1, &mut records);
        mask(&access, &mut records);
        Ok(records.remove(0))
    }

    /// Replaces lookup ids with the related records (nested expands recurse).
    fn expand<'a>(
        &'a self,
        tx: &'a mut dyn Transaction,
        principal: &'a Principal,
        schema: &'a ObjectSchema,
        q: &'a Query,
        records: &'a mut [Record],
    ) -> BoxFuture<'a, Result<(), DataError>> {
        Box::pin(async move {
            for (field, sub) in &q.expand {
                let Some(f) = schema.field(field) else {
                    continue;
                };
                let Some(target) = f.reference.as_deref().and_then(|t| self.catalog.object(t))
                else {
                    continue;
                };
                // A related object the caller may not read stays an id.
                let target_access = self.permissions.access(principal, target);
                if !target_access.allows(Operation::Read) {
                    continue;
                }
                check_query_fields(&target_access, target, sub)?;
                let mut ids = BTreeSet::new();
                for r in records.iter() {
                    match r.get(field) {
                        Some(Value::String(s)) => {
                            ids.insert(s.clone());
                        }
                        Some(Value::Array(items)) => {
                            ids.extend(items.iter().filter_map(|i| i.as_str().map(str::to_string)))
                        }
                        _ => {}
                    }
                }
                if ids.is_empty() {
                    continue;
                }
                let filter = Filter::Cond(Condition {
                    field: "id".into(),
                    op: Op::In,
                    operand: Operand::List(ids.into_iter().map(Value::String).collect()),
                });
                let mut sub_q = sub.clone();
                sub_q.limit = None;
                sub_q.offset = None;
                let mut cols = select_columns(target, &sub_q);
                if target.internal {
                    cols.retain(|c| Catalog::INTERNAL_EXPANDABLE.contains(&c.name.as_str()));
                }
                if !cols.iter().any(|c| c.name == "id") {
                    cols.extend(target.field("id"));
                }
                let sub_q =
                    self.scoped_with(principal, target, &sub_q, &target_access, Operation::Read);
                let mut related = tx.find(target, &sub_q, &cols, Some(&filter)).await?;
                self.compute_formulas(target, sub_q.fields.as_ref(), &mut related);
                mask(&target_access, &mut related);
                self.expand(&mut *tx, principal, target, &sub_q, &mut related)
                    .await?;
                let by_id: HashMap<String, Record> = related
                    .into_iter()
                    .filter_map(|mut r| {
                        let id = r.get("id").and_then(Value::as_str).map(str::to_string)?;
                        if let Some(fields) = &sub.fields
                            && !fields.iter().any(|f| f == "id")
                        {
                            r.shift_remove("id");
                        }
                        Some((id, r))
                    })
                    .collect();
                for r in records.iter_mut() {
                    let replaced = match r.get(field) {
                        Some(Value::String(s)) => by_id
                            .get(s)
                            .cloned()
                            .map(Value::Object)
                            .unwrap_or(Value::Null),
                        Some(Value::Array(items)) => Value::Array(
                            items
                                .iter()
                                .filter_map(|i| {
                                    i.as_str()
                                        .and_then(|s| by_id.get(s))
                                        .cloned()
                                        .map(Value::Object)
                                })
                                .collect(),
                        ),
                        _ => continue,
                    };
                    r.insert(field.clone(), replaced);
                }
            }
            Ok(())
        })
    }

    /// Coerces and validates a new record, stamps system fields, and inserts it.
    async fn insert_in(
        &self,
        tx: &mut dyn Transaction,
        principal: &Principal,
        schema: &ObjectSchema,
        input: Record,
        cx: &mut WriteCx,
    ) -> Result<Record, DataError> {
        // The caller's own payload is checked; what its before-hooks add is the artifact's logic.
        let access = self.access(principal, schema, Operation::Create)?;
        check_editable(&access, schema, &input)?;
        let input = self
            .before_write(tx, principal, cx, schema, "beforeInsert", input, None, None)
            .await?;
        reject_unwritable_keys(schema, &input)?;
        let now = crate::data::values::now_iso();
        let mut record = Record::with_capacity(schema.fields.len());
        let mut errors: Vec<FieldError> = Vec::new();
        for f in schema.stored_fields() {
            if f.system {
                continue;
            }
            if f.ftype == FieldType::Autonumber {
                continue;
            }
            let given = input.get(&f.name).cloned().filter(|v| !v.is_null());
            let value = match given {
                Some(v) => v,
                None => default_value(f, principal, &now, &input).unwrap_or(Value::Null),
            };
            if f.required && is_blank(&value) {
                errors.push(FieldError::new(
                    &f.name,
                    &f.label,
                    "required",
                    format!("{} is required", f.label),
                ));
                continue;
            }
            match coerce(f, &value) {
                Ok(v) => {
                    record.insert(f.name.clone(), v);
                }
                Err(e) => errors.push(e),
            }
        }
        if !errors.is_empty() {
            return Err(DataError::validation(&schema.name, errors));
        }
        self.rules.check(
            schema,
            crate::automation::validation::Event::Insert,
            &record,
            None,
            &user_scope(principal),
        )?;
        self.check_references(tx, principal, schema, &record)
            .await?;
        for f in schema
            .stored_fields()
            .filter(|f| f.ftype == FieldType::Autonumber)
        {
            let n = tx.next_sequence(&schema.name, &f.name).await?;
            let text = match &f.autonumber {
                Some(fmt) => fmt.render(
                    n,
                    parse_datetime(&Value::String(now.clone())).unwrap_or_default(),
                    &record,
                ),
                None => format!("{n:04}"),
            };
            record.insert(f.name.clone(), Value::String(text));
        }
        let id = match input.get("id") {
            Some(Value::String(s)) => check_client_id(&schema.name, s)?,
            Some(Value::Null) | None => new_id(),
            Some(other) => {
                return Err(DataError::invalid_field(
                    &schema.name,
                    "id",
                    format!("id must be a string, found {other}"),
                ));
            }
        };
        let owner = match input.get("owner_id") {
            Some(Value::String(s)) if !s.is_empty() => Value::String(s.clone()),
            _ => principal
                .user_id
                .clone()
                .map(Value::String)
                .unwrap_or(Value::Null),
        };
        let mut full = Record::with_capacity(schema.fields.len());
        for f in schema.stored_fields() {
            let v = match f.name.as_str() {
                "id" => Value::String(id.clone()),
                "organization_id" => principal
                    .organization_id
                    .clone()
                    .map(Value::String)
                    .unwrap_or(Value::Null),
                "created_at" | "updated_at" => Value::String(now.clone()),
                "created_by" | "updated_by" => principal
                    .user_id
                    .clone()
                    .map(Value::String)
                    .unwrap_or(Value::Null),
                "owner_id" => owner.clone(),
                _ => record.shift_remove(&f.name).unwrap_or(Value::Null),
            };
            full.insert(f.name.clone(), v);
        }
        let values: Vec<(&FieldSchema, SqlValue)> = schema
            .stored_fields()
            .filter(|f| !full.get(&f.name).is_none_or(Value::is_null))
            .map(|f| {
                (
                    f,
                    to_sql(f.storage.unwrap_or(StorageKind::Text), &full[&f.name]),
                )
            })
            .collect();
        check_rls(&access, schema, Operation::Create, &full)?;
        self.check_master_writable(tx, principal, schema, "insert", &full)
            .await?;
        tx.insert(schema, values).await?;
        crate::audit::record(
            tx,
            &self.catalog,
            Some(principal),
            "create",
            schema,
            &id,
            None,
            Some(&full),
        )
        .await?;
        let mut out = [full];
        self.compute_formulas(schema, None, &mut out);
        let [full] = out;
        if self.hooks.listens(&schema.name, "afterInsert") {
            self.run_hooks(
                Some(tx),
                principal,
                cx,
                EventInput {
                    object: &schema.name,
                    event: "afterInsert",
                    input: Value::Object(full.clone()),
                    previous: None,
                    record_id: Some(&id),
                },
            )
            .await?;
        }
        let mut out = [full];
        mask(&access, &mut out);
        let [full] = out;
        Ok(full)
    }

    /// Loads one record by id, as `principal` may see it (cascades pass `None`: they act inside the tenant
    /// whose record started them).
    async fn load(
        &self,
        tx: &mut dyn Transaction,
        principal: Option<&Principal>,
        schema: &ObjectSchema,
        id: &str,
    ) -> Result<Record, DataError> {
        let base = Query {
            filter: Some(id_filter(id)),
            limit: Some(1),
            ..Query::default()
        };
        let q = match principal {
            Some(p) => self.scoped_for(p, schema, &base, Operation::Read),
            None => base,
        };
        let cols: Vec<&FieldSchema> = schema.stored_fields().collect();
        let mut rows = tx.find(schema, &q, &cols, None).await?;
        if rows.is_empty() {
            return Err(DataError::RecordNotFound {
                object: schema.name.clone(),
                id: id.to_string(),
            });
        }
        Ok(rows.remove(0))
    }

    /// Loads a record and checks the caller's `expectedVersion` (its `updated_at`) against it.
    async fn load_at_version(
        &self,
        tx: &mut dyn Transaction,
        principal: Option<&Principal>,
        schema: &ObjectSchema,
        id: &str,
        expected: Option<&str>,
    ) -> Result<(Record, String), DataError> {
        let existing = self.load(tx, principal, schema, id).await?;
        let current_version = existing
            .get("updated_at")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if let Some(expected) = expected
            && !same_version(expected, &current_version)
        {
            return Err(DataError::ConcurrentUpdate {
                object: schema.name.clone(),
                id: id.to_string(),
                expected: expected.to_string(),
            });
        }
        Ok((existing, current_version))
    }

    #[allow(clippy::too_many_arguments)]
    async fn update_in(
        &self,
        tx: &mut dyn Transaction,
        principal: &Principal,
        schema: &ObjectSchema,
        id: &str,
        patch: Record,
        expected: Option<&str>,
        cx: &mut WriteCx,
    ) -> Result<Record, DataError> {
        let access = self.access(principal, schema, Operation::Edit)?;
        check_editable(&access, schema, &patch)?;
        let (existing, current_version) = self
            .load_at_version(tx, Some(principal), schema, id, expected)
            .await?;
        self.check_row_writable(tx, principal, schema, &access, id, Operation::Edit)
            .await?;
        let patch = self
            .before_write(
                tx,
                principal,
                cx,
                schema,
                "beforeUpdate",
                patch,
                Some(&existing),
                Some(id),
            )
            .await?;
        reject_unwritable_keys(schema, &patch)?;
        let mut changes = Record::new();
        let mut errors = Vec::new();
        for (key, value) in &patch {
            let Some(f) = schema.field(key) else { continue };
            if f.system && key != "owner_id" {
                continue;
            }
            if f.required && is_blank(value) {
                errors.push(FieldError::new(
                    &f.name,
                    &f.label,
                    "required",
                    format!("{} is required and cannot be cleared", f.label),
                ));
                continue;
            }
            match coerce(f, value) {
                Ok(v) => {
                    changes.insert(key.clone(), v);
                }
                Err(e) => errors.push(e),
            }
        }
        if !errors.is_empty() {
            return Err(DataError::validation(&schema.name, errors));
        }
        self.check_references(tx, principal, schema, &changes)
            .await?;
        let mut candidate = existing.clone();
        candidate.extend(changes.clone());
        check_rls(&access, schema, Operation::Edit, &candidate)?;
        self.check_master_writable(tx, principal, schema, "update", &existing)
            .await?;
        self.check_master_writable(tx, principal, schema, "update", &candidate)
            .await?;
        self.rules.check(
            schema,
            crate::automation::validation::Event::Update,
            &candidate,
            Some(&existing),
            &user_scope(principal),
        )?;
        let mut now = crate::data::values::now_iso();
        if now == current_version {
            // The version must change with every write, even within one millisecond.
            now = parse_datetime(&Value::String(now.clone()))
                .map(|d| format_datetime(d + chrono::Duration::milliseconds(1)))
                .unwrap_or(now);
        }
        changes.insert("updated_at".into(), Value::String(now));
        changes.insert(
            "updated_by".into(),
            principal
                .user_id
                .clone()
                .map(Value::String)
                .unwrap_or(Value::Null),
        );
        let values: Vec<(&FieldSchema, SqlValue)> = changes
            .iter()
            .filter_map(|(k, v)| {
                schema
                    .field(k)
                    .map(|f| (f, to_sql(f.storage.unwrap_or(StorageKind::Text), v)))
            })
            .collect();
        let version_guard = if current_version.is_empty() {
            None
        } else {
            Some(current_version.as_str())
        };
        let n = tx.update(schema, id, values, version_guard).await?;
        if n == 0 {
            return Err(DataError::ConcurrentUpdate {
                object: schema.name.clone(),
                id: id.to_string(),
                expected: current_version,
            });
        }
        let mut stored = existing.clone();
        stored.extend(changes.clone());
        crate::audit::record(
            tx,
            &self.catalog,
            Some(principal),
            "update",
            schema,
            id,
            Some(&existing),
            Some(&stored),
        )
        .await?;
        let after_hooks = self.hooks.listens(&schema.name, "afterUpdate");
        let previous = if after_hooks {
            Some(existing.clone())
        } else {
            None
        };
        let mut merged = existing;
        for (k, v) in changes {
            merged.insert(k, v);
        }
        let mut out = [merged];
        self.compute_formulas(schema, None, &mut out);
        let [merged] = out;
        if after_hooks {
            self.run_hooks(
                Some(tx),
                principal,
                cx,
                EventInput {
                    object: &schema.name,
                    event: "afterUpdate",
                    input: Value::Object(merged.clone()),
                    previous: previous.as_ref(),
                    record_id: Some(id),
                },
            )
            .await?;
        }
        let mut out = [merged];
        mask(&access, &mut out);
        let [merged] = out;
        Ok(merged)
    }

    /// Refuses an update or delete of a row the caller can see but may not write (owner scope, RLS `using`).
    async fn check_row_writable(
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
                message: format!(
                    "You may not {} this {} record (it is not yours, or a row-level security policy excludes it)",
                    if op == Operation::Delete {
                        "delete"
                    } else {
                        "edit"
                    },
                    schema.name
                ),
            });
        }
        Ok(())
    }

    /// Runs the before-hooks of an insert or update inside its transaction; they may replace the record.
    #[allow(clippy::too_many_arguments)]
    async fn before_write(
        &self,
        tx: &mut dyn Transaction,
        principal: &Principal,
        cx: &mut WriteCx,
        schema: &ObjectSchema,
        event: &'static str,
        record: Record,
        previous: Option<&Record>,
        record_id: Option<&str>,
    ) -> Result<Record, DataError> {
        let out = self
            .run_hooks(
                Some(tx),
                principal,
                cx,
                EventInput {
                    object: &schema.name,
                    event,
                    input: Value::Object(record),
                    previous,
                    record_id,
                },
            )
            .await?;
        // Before-hooks only ever replace a record with a record.
        Ok(match out {
            Value::Object(m) => m,
            _ => Record::new(),
        })
    }

    /// A caller's delete: its hooks around the delete itself (cascaded deletes fire no hooks).
    async fn delete_checked(
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
        self.delete_in(&mut *tx, Some(principal), schema, id, expected, 0)
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

    fn delete_in<'a>(
        &'a self,
        tx: &'a mut dyn Transaction,
        principal: Option<&'a Principal>,
        schema: &'a ObjectSchema,
        id: &'a str,
        expected: Option<&'a str>,
        depth: usize,
    ) -> BoxFuture<'a, Result<(), DataError>> {
        Box::pin(async move {
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
                                    "Cannot delete {} {id}: {n} {} record(s) still reference it through '{}' (deleteBehavior: restrict)",
                                    schema.name, child.name, field.name
                                ),
                            });
                        }
                    }
                    crate::artifact::fields::DeleteBehavior::Cascade => {
                        let id_col = child.field("id").into_iter().collect::<Vec<_>>();
                        let rows = tx.find(&child, &q, &id_col, None).await?;
                        for row in rows {
                            if let Some(child_id) = row.get("id").and_then(Value::as_str) {
                                if child.name == schema.name && child_id == id {
                                    continue;
                                }
                                self.delete_in(&mut *tx, None, &child, child_id, None, depth + 1)
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

    /// Every lookup value must name an existing record of its target object.
    async fn check_references(
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
            // A record of another organization does not exist for this caller.
            let q = self.scoped(principal, target, &q);
            let id_col = target.field("id").into_iter().collect::<Vec<_>>();
            let found: BTreeSet<String> = tx
                .find(target, &q, &id_col, None)
                .await?
                .into_iter()
                .filter_map(|r| r.get("id").and_then(Value::as_str).map(str::to_string))
                .collect();
            if let Some(missing) = ids.iter().find(|i| !found.contains(*i)) {
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
                e.value = Some(Box::new(Value::String(missing.clone())));
                errors.push(e);
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(DataError::validation(&schema.name, errors))
        }
    }
}

/// Does any hook, action or function carry a Wasm component (then the engine starts)?
fn artifact_has_wasm(artifact: &Artifact) -> bool {
    let wasm = |b: &Option<crate::artifact::model::BodyDef>| {
        b.as_ref().is_some_and(|b| b.language == "wasm")
    };
    artifact.definition.hooks.iter().any(|h| wasm(&h.body))
        || artifact.definition.actions.iter().any(|a| wasm(&a.body))
        || artifact
            .definition
            .functions
            .as_ref()
            .and_then(Value::as_object)
            .is_some_and(|m| {
                m.values().any(|f| {
                    f.get("body")
                        .and_then(|b| b.get("language"))
                        .is_some_and(|l| l == "wasm")
                })
            })
}

/// Does any hook or action carry a JavaScript body?
/// The audit log is written by the kernel alone.
fn refuse_audit_write(object: &str) -> Result<(), DataError> {
    if object == crate::audit::AUDIT_LOG {
        return Err(DataError::PermissionDenied {
            object: object.to_string(),
            field: None,
            message: format!(
                "{object} is append-only: it is written by the runtime, never through the API"
            ),
        });
    }
    Ok(())
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

/// The sources of the artifact's JavaScript bodies (hooks and actions), each once, in artifact order.
fn js_sources(artifact: &Artifact) -> Vec<String> {
    let bodies = artifact
        .definition
        .hooks
        .iter()
        .map(|h| &h.body)
        .chain(artifact.definition.actions.iter().map(|a| &a.body));
    let mut sources: Vec<String> = Vec::new();
    for body in bodies.flatten() {
        if body.language == "js"
            && let Some(source) = &body.source
            && !sources.contains(source)
        {
            sources.push(source.clone());
        }
    }
    sources
}

fn id_filter(id: &str) -> Filter {
    Filter::Cond(Condition {
        field: "id".into(),
        op: Op::Eq,
        operand: Operand::Value(Value::String(id.to_string())),
    })
}

/// `expectedVersion` is the record's `updated_at`; accept any spelling that denotes the same instant.
fn same_version(expected: &str, current: &str) -> bool {
    let expected = expected.trim().trim_matches('"');
    expected == current
        || match (
            parse_datetime(&Value::String(expected.to_string())),
            parse_datetime(&Value::String(current.to_string())),
        ) {
            (Some(a), Some(b)) => a == b,
            _ => false,
        }
}

fn page_has_more(q: &Query, returned: usize, total: Option<u64>) -> bool {
    match total {
        Some(t) => q.offset.unwrap_or(0) + (returned as u64) < t,
        None => q.limit.is_some_and(|l| returned as u64 >= l && l > 0),
    }
}

/// The stored columns a query reads: the selection plus what `expand` needs, or every stored field.
fn select_columns<'a>(schema: &'a ObjectSchema, q: &Query) -> Vec<&'a FieldSchema> {
    match &q.fields {
        None => schema.stored_fields().collect(),
        // A formula needs the fields it is computed from: read them all, the projection trims afterwards.
        Some(names)
            if names
                .iter()
                .any(|n| schema.field(n).is_some_and(|f| f.storage.is_none())) =>
        {
            schema.stored_fields().collect()
        }
        Some(names) => {
            let mut cols: Vec<&FieldSchema> = names
                .iter()
                .filter_map(|n| schema.field(n))
                .filter(|f| f.storage.is_some())
                .collect();
            for (e, _) in &q.expand {
                if let Some(f) = schema.field(e)
                    && !cols.iter().any(|c| c.name == f.name)
                {
                    cols.push(f);
                }
            }
            cols
        }
    }
}

/// Formula expressions of the artifact, compiled; one that does not parse is reported and reads as null.
fn compile_formulas(artifact: &Artifact) -> HashMap<(String, String), crate::expr::Compiled> {
    let mut out = HashMap::new();
    for o in &artifact.definition.objects {
        for (name, f) in &o.fields {
            if f.type_name != "formula" {
                continue;
            }
            let Some(source) = f
                .expression
                .as_ref()
                .and_then(|e| e.as_str().or_else(|| crate::expr::expression_source(e)))
            else {
                continue;
            };
            match crate::expr::compile(source) {
                Ok(c) => {
                    out.insert((o.name.clone(), name.clone()), c);
                }
                Err(e) => {
                    tracing::warn!(object = %o.name, field = %name, "formula cannot be compiled: {e}")
                }
            }
        }
    }
    out
}

/// Keeps only the selected keys, in the order they were asked for.
fn project(q: &Query, records: &mut [Record]) {
    let Some(names) = &q.fields else { return };
    for r in records.iter_mut() {
        let mut out = Record::with_capacity(names.len());
        for n in names {
            if let Some(v) = r.shift_remove(n) {
                out.insert(n.clone(), v);
            }
        }
        *r = out;
    }
}

fn reject_unwritable_keys(schema: &ObjectSchema, input: &Record) -> Result<(), DataError> {
    for key in input.keys() {
        match schema.field(key) {
            None => {
                return Err(DataError::invalid_field(
                    &schema.name,
                    key,
                    format!("Unknown field '{key}' on object '{}'", schema.name),
                ));
            }
            Some(f) if f.storage.is_none() || f.ftype == FieldType::Autonumber => {
                return Err(DataError::invalid_field(
                    &schema.name,
                    key,
                    format!(
                        "Field '{key}' on object '{}' is a {} field: its value is computed and cannot be written",
                        schema.name,
                        f.ftype.as_str()
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

fn default_value(
    f: &FieldSchema,
    principal: &Principal,
    now: &str,
    input: &Record,
) -> Option<Value> {
    match f.default_value.as_ref()? {
        Value::String(s) if matches!(s.as_str(), "NOW()" | "now") => {
            Some(Value::String(match f.ftype {
                FieldType::Date => now[..10].to_string(),
                _ => now.to_string(),
            }))
        }
        Value::String(s) if matches!(s.as_str(), "TODAY()" | "today") => {
            Some(Value::String(now[..10].to_string()))
        }
        Value::String(s) if matches!(s.as_str(), "current_user" | "CURRENT_USER") => {
            principal.user_id.clone().map(Value::String)
        }
        // CEL: clock-only (`daysFromNow(7)`) or over the values given in this insert (`record.amount * 0.1`,
        // `current_user.id`); a default that cannot be evaluated leaves the field empty.
        v @ Value::Object(_) => {
            let src = crate::expr::expression_source(v)?;
            crate::expr::evaluate_constant(src, chrono::Utc::now())
                .ok()
                .or_else(|| {
                    let user = user_scope(principal);
                    crate::expr::compile(src)
                        .ok()?
                        .evaluate_in(
                            input,
                            &[("current_user", &user), ("user", &user)],
                            chrono::Utc::now(),
                        )
                        .ok()
                })
                .filter(|v| !v.is_null())
        }
        v => Some(v.clone()),
    }
}

const ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";

/// A 16-character random id (96 bits), the shape the real server uses.
pub fn new_id() -> String {
    let mut rng = rand::rng();
    (0..16)
        .map(|_| ID_ALPHABET[rng.random_range(0..ID_ALPHABET.len())] as char)
        .collect()
}

fn check_client_id(object: &str, id: &str) -> Result<String, DataError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
    if ok {
        Ok(id.to_string())
    } else {
        Err(DataError::invalid_field(
            object,
            "id",
            "a client-supplied id must be 1–64 characters of A–Z, a–z, 0–9, '_', '-', '.'",
        ))
    }
}

/// Names the record or operation of a multi-part write that failed (`records[2].qty`, `operations[1].title`).
fn at_index(e: DataError, list: &str, i: usize) -> DataError {
    match e {
        DataError::Validation { object, fields } => DataError::Validation {
            object,
            fields: fields
                .into_iter()
                .map(|mut f| {
                    f.message = format!("{list}[{i}]: {}", f.message);
                    f.field = format!("{list}[{i}].{}", f.field);
                    f
                })
                .collect(),
        },
        DataError::InvalidField {
            object,
            field,
            message,
        } => DataError::InvalidField {
            object,
            field: format!("{list}[{i}].{field}"),
            message: format!("{list}[{i}]: {message}"),
        },
        other => other,
    }
}

/// Object → driver plugin id, for objects whose datasource's `driver` names an admitted driver plugin
/// (`"com.example.kv"` or `"plugin:com.example.kv"`). A `plugin:` driver that names no admitted driver plugin
/// is an error.
fn plugin_routed_objects(
    artifact: &Artifact,
    plugins: &[crate::plugins::loader::AdmittedPlugin],
) -> Result<HashMap<String, String>, DataError> {
    use crate::plugins::manifest::PluginKind;
    let drivers: Vec<&str> = plugins
        .iter()
        .filter(|p| p.admitted.manifest.kind == PluginKind::Driver)
        .map(|p| p.admitted.manifest.id.as_str())
        .collect();
    let mut datasources = HashMap::new();
    for (i, d) in artifact.definition.datasources.iter().enumerate() {
        let Some(driver) = d.driver.as_deref() else {
            continue;
        };
        let explicit = driver.strip_prefix("plugin:");
        let id = explicit.unwrap_or(driver);
        if drivers.contains(&id) {
            datasources.insert(d.name.clone(), id.to_string());
        } else if explicit.is_some() {
            return Err(DataError::Schema(format!(
                "datasources[{i}].driver: {driver} names no loaded driver plugin"
            )));
        }
    }
    Ok(artifact
        .definition
        .objects
        .iter()
        .filter_map(|o| {
            o.datasource
                .as_ref()
                .and_then(|ds| datasources.get(ds))
                .map(|id| (o.name.clone(), id.clone()))
        })
        .collect())
}
