//! Admitted plugins, running: each is compiled against a linker holding only what its grants allow, started
//! in dependency order (`init(config)`), called through one long-lived instance (calls serialized), and
//! stopped at shutdown. A plugin acts as its own principal: its `data` calls are checked against its grants
//! (`data:read:<object>`, `data:write:<object>`) inside the kernel's access decision (`Kernel::access`).

use super::loader::{AdmittedPlugin, PluginStatus};
use super::manifest::{Capability, PluginHook, PluginKind, object_pattern_matches};
use crate::sandbox::plugin::{
    DriverAnswer, DriverCall, PluginComponent, PluginInstance, PluginLinks, PluginWorld,
};
use crate::sandbox::{Limits, Sandbox, SandboxConfig, SandboxError};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

/// The principal a plugin's data calls act as: its id and granted capabilities.
#[derive(Debug, PartialEq, Eq)]
pub struct PluginPrincipal {
    pub id: String,
    pub capabilities: BTreeSet<Capability>,
}

impl PluginPrincipal {
    pub fn may_read(&self, object: &str, internal: bool) -> bool {
        self.capabilities.iter().any(|c| match c {
            Capability::DataRead(p) => object_pattern_matches(p, object, internal),
            _ => false,
        })
    }

    pub fn may_write(&self, object: &str, internal: bool) -> bool {
        self.capabilities.iter().any(|c| match c {
            Capability::DataWrite(p) => object_pattern_matches(p, object, internal),
            _ => false,
        })
    }
}

/// What the kernel keeps of one plugin.
pub struct RunningPlugin {
    pub id: String,
    pub kind: PluginKind,
    pub principal: Arc<PluginPrincipal>,
    /// Positions that may call a service plugin's methods over REST.
    pub callers: Vec<String>,
    /// A hooks plugin's subscriptions.
    pub hooks: Vec<PluginHook>,
    /// Plugin ids it depends on (started before it).
    pub dependencies: Vec<String>,
    pub(crate) component: PluginComponent,
    pub(crate) limits: Limits,
    pub(crate) config: String,
    /// The live instance; `None` before `init`, after a failed call (made again on the next call) and after
    /// `stop`.
    pub(crate) instance: tokio::sync::Mutex<Option<PluginInstance>>,
    state: Mutex<PluginStatus>,
    /// The objects a driver serves (its `sync-schema` argument), sent again to an instance made after a failure.
    schema: Mutex<Option<String>>,
}

impl RunningPlugin {
    /// Compiles an admitted plugin against the linker its grants allow.
    pub fn load(
        sandbox: &Sandbox,
        config: &SandboxConfig,
        plugin: &AdmittedPlugin,
    ) -> Result<RunningPlugin, String> {
        let a = &plugin.admitted;
        let m = &a.manifest;
        let world = match m.kind {
            PluginKind::Service => PluginWorld::Service,
            PluginKind::Hooks => PluginWorld::Hooks,
            PluginKind::Driver => PluginWorld::Driver,
        };
        let links = PluginLinks {
            data: a
                .capabilities
                .iter()
                .any(|c| matches!(c, Capability::DataRead(_) | Capability::DataWrite(_))),
            log: a.capabilities.contains(&Capability::Log),
            http: a
                .capabilities
                .iter()
                .filter_map(|c| match c {
                    Capability::HttpOutbound(h) => Some(h.clone()),
                    _ => None,
                })
                .collect(),
        };
        let component = sandbox
            .load_plugin(&m.id, world, &plugin.bytes, links)
            .map_err(|e| format!("{}: {e}", plugin.status.file))?;
        let limits = plugin_limits(config, &m.limits, &a.grant);
        let config_json = a
            .grant
            .config
            .as_ref()
            .map(|t| serde_json::to_string(t).unwrap_or_else(|_| "{}".into()))
            .unwrap_or_else(|| "{}".into());
        let mut status = plugin.status.clone();
        status.status = "loaded".into();
        Ok(RunningPlugin {
            id: m.id.clone(),
            kind: m.kind.clone(),
            principal: Arc::new(PluginPrincipal {
                id: m.id.clone(),
                capabilities: a.capabilities.clone(),
            }),
            callers: a.grant.callers.clone(),
            hooks: m.hooks.clone(),
            dependencies: m.dependencies.keys().cloned().collect(),
            component,
            limits,
            config: config_json,
            instance: tokio::sync::Mutex::new(None),
            state: Mutex::new(status),
            schema: Mutex::new(None),
        })
    }

    pub fn status(&self) -> PluginStatus {
        self.state
            .lock()
            .map(|s| s.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    pub(crate) fn set_status(&self, status: &str, error: Option<String>) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.status = status.to_string();
        if error.is_some() {
            s.last_error = error;
        }
    }

    /// A call failed in a way that leaves the instance unusable (trap, fuel, deadline, memory): it is dropped
    /// and made again (with `init`) on the next call.
    pub(crate) fn note_failure(&self, e: &SandboxError) -> bool {
        let broken = !matches!(e, SandboxError::Guest { .. } | SandboxError::Busy { .. });
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.last_error = Some(e.to_string());
        if broken {
            s.restarts += 1;
        }
        broken
    }
}

impl RunningPlugin {
    pub(crate) fn remember_schema(&self, objects: &str) {
        *self.schema.lock().unwrap_or_else(|p| p.into_inner()) = Some(objects.to_string());
    }

    /// One call of a driver plugin. A driver has no data access, so no bridge is served; an instance made
    /// again after a failure gets `init` and its `sync-schema` before the call (an in-memory driver starts
    /// empty then).
    pub(crate) async fn driver_call(
        &self,
        sandbox: &Sandbox,
        call: &DriverCall,
    ) -> Result<DriverAnswer, SandboxError> {
        let status = self.status();
        if status.status == "failed" {
            return Err(SandboxError::Refused {
                body: self.id.clone(),
                reason: format!(
                    "the plugin is not running: {}",
                    status.last_error.unwrap_or_default()
                ),
            });
        }
        let mut slot = tokio::time::timeout(self.limits.timeout, self.instance.lock())
            .await
            .map_err(|_| SandboxError::Busy {
                body: self.id.clone(),
            })?;
        let mut instance = match slot.take() {
            Some(i) => i,
            None => {
                let mut i = sandbox
                    .start_plugin(&self.component, &self.limits, &self.config, None)
                    .await
                    .inspect_err(|e| {
                        self.note_failure(e);
                    })?;
                let schema = self
                    .schema
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone();
                if let Some(objects) = schema
                    && !matches!(call, DriverCall::SyncSchema { .. })
                {
                    sandbox
                        .call_plugin_driver(
                            &self.component,
                            &mut i,
                            &self.limits,
                            &DriverCall::SyncSchema { objects },
                        )
                        .await
                        .inspect_err(|e| {
                            self.note_failure(e);
                        })?;
                }
                i
            }
        };
        let result = sandbox
            .call_plugin_driver(&self.component, &mut instance, &self.limits, call)
            .await;
        match &result {
            Err(e) if self.note_failure(e) => {
                tracing::warn!(plugin = %self.id, "driver call failed; its instance is made again on the next call: {e}");
            }
            _ => *slot = Some(instance),
        }
        result
    }
}

/// A plugin's limits: what it asked for, within what the operator granted (or, without a grant, the
/// function defaults), never above the sandbox maxima.
fn plugin_limits(
    config: &SandboxConfig,
    requested: &super::manifest::RequestedLimits,
    grant: &super::trust::Grant,
) -> Limits {
    let base = config.function;
    let fuel_ceiling = grant.fuel.unwrap_or(base.fuel);
    let memory_ceiling = grant.memory_mb.map_or(base.memory_bytes, |mb| {
        (mb.min(crate::sandbox::limits::MAX_BODY_MEMORY_MB) as usize) << 20
    });
    let timeout_ceiling = grant.timeout_ms.map_or(base.timeout, |ms| {
        std::time::Duration::from_millis(ms.min(crate::sandbox::limits::MAX_BODY_TIMEOUT_MS))
    });
    Limits {
        fuel: requested.fuel.map_or(fuel_ceiling, |f| f.min(fuel_ceiling)),
        memory_bytes: requested.memory_mb.map_or(memory_ceiling, |mb| {
            ((mb as usize) << 20).min(memory_ceiling)
        }),
        timeout: requested.timeout_ms.map_or(timeout_ceiling, |ms| {
            std::time::Duration::from_millis(ms).min(timeout_ceiling)
        }),
    }
}

/// The plugins of a kernel, in start order.
#[derive(Default)]
pub struct PluginHost {
    pub plugins: Vec<Arc<RunningPlugin>>,
}

impl PluginHost {
    pub fn get(&self, id: &str) -> Option<&Arc<RunningPlugin>> {
        self.plugins.iter().find(|p| p.id == id)
    }

    pub fn statuses(&self) -> Vec<PluginStatus> {
        self.plugins.iter().map(|p| p.status()).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.plugins.is_empty()
    }
}
