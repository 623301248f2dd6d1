//! The kernel's side of running plugins: starting them in dependency order, their calls (service methods,
//! hooks) with their data calls served as the plugin's own principal, restarts after a broken call, and
//! stopping them at shutdown.

use super::hooks::{WriteCx, caller_of};
use super::{Kernel, Principal};
use crate::data::driver::Transaction;
use crate::data::error::{DataError, ErrorKind};
use crate::plugins::manifest::PluginKind;
use crate::plugins::runtime::RunningPlugin;
use crate::sandbox::plugin::PluginInstance;
use crate::sandbox::{DataBridge, HookEvent, HookOutcome, Sandbox, SandboxError};
use serde_json::Value;
use std::sync::Arc;

/// The principal a plugin acts as: the runtime, restricted to the plugin's grants, within the organization
/// of the caller it acts for (none for `init`).
pub fn plugin_principal(plugin: &RunningPlugin, on_behalf_of: Option<&Principal>) -> Principal {
    Principal {
        user_id: None,
        organization_id: on_behalf_of.and_then(|p| p.organization_id.clone()),
        positions: Vec::new(),
        is_system: false,
        elevated: true,
        email: None,
        request_id: on_behalf_of.and_then(|p| p.request_id.clone()),
        plugin: Some(plugin.principal.clone()),
    }
}

impl Kernel {
    /// Starts every plugin in order (`init(config)`). A plugin that fails stops the boot, or, with
    /// `skip_bad`, is reported as failed (and logged) while the rest start.
    pub(crate) async fn start_plugins(&self, skip_bad: bool) -> Result<(), DataError> {
        for plugin in &self.plugins.plugins {
            if let Some(dep) = plugin.dependencies.iter().find(|d| {
                self.plugins
                    .get(d)
                    .is_none_or(|p| p.status().status != "running")
            }) {
                let message = format!("plugin {}: its dependency {dep} is not running", plugin.id);
                plugin.set_status("failed", Some(message.clone()));
                if !skip_bad {
                    return Err(DataError::Schema(message));
                }
                tracing::error!("{message} (left out: --skip-bad-plugins)");
                continue;
            }
            let mut slot = plugin.instance.lock().await;
            let acting = plugin_principal(plugin, None);
            let mut cx = WriteCx::default();
            let started = self
                .serve_guest(None, &acting, &mut cx, |bridge| {
                    self.start_instance(plugin, bridge)
                })
                .await;
            match started {
                Ok(instance) => {
                    *slot = Some(instance);
                    plugin.set_status("running", None);
                    tracing::info!(plugin = %plugin.id, "plugin started");
                }
                Err(e) => {
                    plugin.set_status("failed", Some(e.to_string()));
                    let message = format!("plugin {}: init failed: {e}", plugin.id);
                    if !skip_bad {
                        return Err(DataError::Schema(message));
                    }
                    tracing::error!("{message} (left out: --skip-bad-plugins)");
                }
            }
        }
        Ok(())
    }

    async fn start_instance(
        &self,
        plugin: &RunningPlugin,
        bridge: DataBridge,
    ) -> Result<PluginInstance, SandboxError> {
        let sandbox = self.sandbox.as_ref().ok_or_else(|| SandboxError::Refused {
            body: plugin.id.clone(),
            reason: "no sandbox was started".into(),
        })?;
        sandbox
            .start_plugin(
                &plugin.component,
                &plugin.limits,
                &plugin.config,
                Some(bridge),
            )
            .await
    }

    /// Calls `stop` on every running plugin, last started first.
    pub async fn stop_plugins(&self) {
        let Some(sandbox) = &self.sandbox else {
            return;
        };
        for plugin in self.plugins.plugins.iter().rev() {
            let mut slot = plugin.instance.lock().await;
            if let Some(mut instance) = slot.take() {
                if let Err(e) = sandbox
                    .stop_plugin(&plugin.component, &mut instance, &plugin.limits)
                    .await
                {
                    tracing::warn!(plugin = %plugin.id, "stop failed: {e}");
                }
                plugin.set_status("stopped", None);
            }
        }
    }

    /// One call into a plugin's instance, its data calls served as the plugin (within `on_behalf_of`'s
    /// organization) inside `tx` when there is one. An instance a failed call left unusable is dropped; the
    /// next call makes a new one and runs `init` again.
    async fn plugin_call<R>(
        &self,
        tx: Option<&mut dyn Transaction>,
        plugin: &RunningPlugin,
        on_behalf_of: &Principal,
        cx: &mut WriteCx,
        call: impl AsyncFnOnce(&Sandbox, &mut PluginInstance, DataBridge) -> Result<R, SandboxError>,
    ) -> Result<R, DataError> {
        let sandbox = self.sandbox_ref()?;
        let status = plugin.status();
        if status.status == "failed" {
            return Err(DataError::Service {
                kind: ErrorKind::Unavailable,
                code: "PLUGIN_FAILED",
                message: format!(
                    "plugin {} is not running: {}",
                    plugin.id,
                    status.last_error.unwrap_or_default()
                ),
            });
        }
        // Calls into one instance are serialized; one that cannot get its turn within its own deadline is busy
        // (this also ends a cycle of plugins calling back into each other).
        let mut slot = tokio::time::timeout(plugin.limits.timeout, plugin.instance.lock())
            .await
            .map_err(|_| {
                DataError::Sandbox(SandboxError::Busy {
                    body: plugin.id.clone(),
                })
            })?;
        let acting = plugin_principal(plugin, Some(on_behalf_of));
        let result = self
            .serve_guest(tx, &acting, cx, |bridge| async {
                let mut instance = match slot.take() {
                    Some(i) => i,
                    None => {
                        sandbox
                            .start_plugin(
                                &plugin.component,
                                &plugin.limits,
                                &plugin.config,
                                Some(bridge.clone()),
                            )
                            .await?
                    }
                };
                let r = call(sandbox, &mut instance, bridge).await;
                Ok::<_, SandboxError>((instance, r))
            })
            .await;
        match result {
            Ok((instance, Ok(r))) => {
                *slot = Some(instance);
                Ok(r)
            }
            Ok((instance, Err(e))) => {
                if plugin.note_failure(&e) {
                    tracing::warn!(plugin = %plugin.id, "plugin call failed; its instance is made again on the next call: {e}");
                } else {
                    *slot = Some(instance);
                }
                Err(cx.failure(None, DataError::Sandbox(e)))
            }
            Err(e) => {
                plugin.note_failure(&e);
                tracing::warn!(plugin = %plugin.id, "plugin could not be started again: {e}");
                Err(DataError::Sandbox(e))
            }
        }
    }

    /// `POST /api/v1/services/:plugin/:method`: the caller must hold one of the plugin's `callers`
    /// positions (or be a platform admin).
    pub async fn call_service(
        &self,
        principal: &Principal,
        plugin_id: &str,
        method: &str,
        payload: &Value,
    ) -> Result<Value, DataError> {
        self.call_service_in(None, principal, plugin_id, method, payload)
            .await
    }

    /// [`Kernel::call_service`] with the plugin's data calls inside `tx` (an action's transaction) when given.
    pub(crate) async fn call_service_in(
        &self,
        tx: Option<&mut dyn Transaction>,
        principal: &Principal,
        plugin_id: &str,
        method: &str,
        payload: &Value,
    ) -> Result<Value, DataError> {
        let plugin = self
            .plugins
            .get(plugin_id)
            .filter(|p| p.kind == PluginKind::Service)
            .ok_or_else(|| DataError::Service {
                kind: ErrorKind::NotFound,
                code: "SERVICE_NOT_FOUND",
                message: format!("No service plugin {plugin_id} is loaded"),
            })?
            .clone();
        let allowed = principal.is_platform_admin()
            || principal
                .positions
                .iter()
                .any(|p| plugin.callers.iter().any(|c| c == p));
        if !allowed {
            return Err(DataError::Service {
                kind: ErrorKind::Denied,
                code: "PERMISSION_DENIED",
                message: format!(
                    "Calling service {plugin_id} needs one of the positions {:?} (the trust policy's callers)",
                    plugin.callers
                ),
            });
        }
        let caller = caller_of(principal);
        let payload = payload.to_string();
        let mut cx = WriteCx::default();
        let text = self
            .plugin_call(
                tx,
                &plugin,
                principal,
                &mut cx,
                async |sandbox, instance, bridge| {
                    sandbox
                        .call_plugin_service(
                            &plugin.component,
                            instance,
                            &plugin.limits,
                            &caller,
                            method,
                            &payload,
                            Some(bridge),
                        )
                        .await
                },
            )
            .await?;
        crate::sandbox::parse_result(&plugin.id, &text).map_err(DataError::Sandbox)
    }

    /// A hooks plugin's hook. A before-hook that replaces the record needs `data:write:<object>`.
    pub(crate) async fn plugin_hook(
        &self,
        tx: Option<&mut dyn Transaction>,
        plugin: &Arc<RunningPlugin>,
        principal: &Principal,
        cx: &mut WriteCx,
        event: &HookEvent,
    ) -> Result<HookOutcome, DataError> {
        let outcome = self
            .plugin_call(
                tx,
                plugin,
                principal,
                cx,
                async |sandbox, instance, bridge| {
                    sandbox
                        .call_plugin_hook(
                            &plugin.component,
                            instance,
                            &plugin.limits,
                            event,
                            Some(bridge),
                        )
                        .await
                },
            )
            .await?;
        if let HookOutcome::Proceed(Some(_)) = &outcome {
            let internal = self
                .catalog
                .object(&event.object)
                .is_some_and(|o| o.internal);
            if event.event.starts_with("before")
                && !plugin.principal.may_write(&event.object, internal)
            {
                return Err(DataError::PermissionDenied {
                    object: event.object.clone(),
                    field: None,
                    message: format!(
                        "plugin {} changed a record of {} without the capability data:write:{}",
                        plugin.id, event.object, event.object
                    ),
                });
            }
        }
        Ok(outcome)
    }
}
