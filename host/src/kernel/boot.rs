//! Booting a kernel: the database connected and its schema synced, rules, permission sets and formulas
//! compiled, the sandbox started with the artifact's bodies and the admitted plugins, seeds applied.

use super::{BootReport, Kernel, actions, group_commit, hooks, seeds};
use crate::artifact::Artifact;
use crate::config::RuntimeConfig;
use crate::data::catalog::Catalog;
use crate::data::driver::Driver;
use crate::data::error::DataError;
use crate::security::permissions::PermissionSets;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

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
        let option_gates = super::options::OptionGates::compile(&artifact)?;
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
            page_cap: config.max_page_size.max(1),
            permissions,
            rules,
            option_gates,
            plugins,
            me: me.clone(),
            security_epoch: Default::default(),
        });
        kernel.start_plugins(config.skip_bad_plugins).await?;
        if let Some(routed) = &routed {
            routed.sync_plugins(&kernel.catalog).await?;
        }
        kernel.mirror_security_definitions().await?;
        kernel.load_permission_bindings().await?;
        let seeds = seeds::apply(&kernel, config.seed_environment).await?;
        Ok((kernel, BootReport { schema, seeds }))
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
