//! Plugins in the sandbox: a third party's component runs as ONE long-lived instance (its `init` once, its
//! `stop` at shutdown), each call under its own fuel and deadline, calls serialized by the caller.
//!
//! The linker of a plugin holds only what its grants allow: `objectos:host/data` with a `data:*` grant,
//! `objectos:host/log` with `log`, `wasi:http/outgoing-handler` with `http:outbound:<host>` (and then only
//! for those hosts). A plugin importing anything else is refused when it is loaded, naming the import.

use super::bindings::driver_plugin::{DriverPlugin, DriverPluginPre};
use super::bindings::hook::objectos::host::{data, log, types};
use super::bindings::hooks_plugin::{HooksPlugin, HooksPluginPre};
use super::bindings::service_plugin::{ServicePlugin, ServicePluginPre};
use super::host_calls::{GuestState, OutboundHttp};
use super::{Caller, DataBridge, HookEvent, HookOutcome, Limits, Sandbox, SandboxError};
use std::sync::Arc;
use wasmtime::Store;
use wasmtime::component::{HasSelf, Linker};

/// Which world a plugin component implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PluginWorld {
    Service,
    Hooks,
    Driver,
}

/// What a plugin's linker is given, derived from its grants.
#[derive(Clone, Debug, Default)]
pub struct PluginLinks {
    pub data: bool,
    pub log: bool,
    /// Authorities (`host` or `host:port`) it may send HTTP requests to; empty: no `wasi:http` at all.
    pub http: Vec<String>,
}

/// WASI interfaces every plugin gets (no files, sockets, environment: its context is empty).
const PLUGIN_WASI: &[&str] = &[
    "objectos:host/types@",
    "wasi:io/",
    "wasi:clocks/",
    "wasi:random/",
    "wasi:cli/environment@",
    "wasi:cli/exit@",
    "wasi:cli/stdin@",
    "wasi:cli/stdout@",
    "wasi:cli/stderr@",
    "wasi:cli/terminal-",
];

/// A plugin component checked, compiled and pre-instantiated against its own linker.
pub struct PluginComponent {
    pub name: Arc<str>,
    pub sha256: String,
    pub world: PluginWorld,
    links: PluginLinks,
    pre: PluginPre,
}

enum PluginPre {
    Service(ServicePluginPre<GuestState>),
    Hooks(HooksPluginPre<GuestState>),
    Driver(DriverPluginPre<GuestState>),
}

enum PluginBindings {
    Service(ServicePlugin),
    Hooks(HooksPlugin),
    Driver(DriverPlugin),
}

/// One call of the `driver` interface (JSON as the WIT describes it).
#[derive(Debug)]
pub enum DriverCall {
    SyncSchema {
        objects: String,
    },
    Find {
        object: String,
        query: String,
    },
    Count {
        object: String,
        filter: String,
    },
    Insert {
        object: String,
        record: String,
    },
    Update {
        object: String,
        id: String,
        patch: String,
        expected_version: Option<String>,
    },
    Delete {
        object: String,
        id: String,
        expected_version: Option<String>,
    },
}

/// What a driver call answered.
#[derive(Debug)]
pub enum DriverAnswer {
    Done,
    Json(String),
    Count(u64),
}

/// A started plugin. Dropped (and made again) after a call that trapped or broke a limit: an instance
/// left half-way through a call is never entered again.
pub struct PluginInstance {
    store: Store<GuestState>,
    bindings: PluginBindings,
}

impl Sandbox {
    /// The linker for one plugin: WASI (empty context) plus exactly the interfaces its grants allow.
    fn plugin_linker(&self, links: &PluginLinks) -> Result<Linker<GuestState>, String> {
        let mut linker = Linker::<GuestState>::new(&self.shared.engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(|e| format!("{e:#}"))?;
        types::add_to_linker::<GuestState, HasSelf<GuestState>>(&mut linker, |s| s)
            .map_err(|e| format!("{e:#}"))?;
        if links.data {
            data::add_to_linker::<GuestState, HasSelf<GuestState>>(&mut linker, |s| s)
                .map_err(|e| format!("{e:#}"))?;
        }
        if links.log {
            log::add_to_linker::<GuestState, HasSelf<GuestState>>(&mut linker, |s| s)
                .map_err(|e| format!("{e:#}"))?;
        }
        if !links.http.is_empty() {
            wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)
                .map_err(|e| format!("{e:#}"))?;
        }
        Ok(linker)
    }

    /// Checks a plugin's imports against its grants, compiles it and pre-instantiates it.
    pub fn load_plugin(
        &self,
        name: &str,
        world: PluginWorld,
        bytes: &[u8],
        links: PluginLinks,
    ) -> Result<PluginComponent, SandboxError> {
        let refused = |reason: String| SandboxError::Refused {
            body: name.to_string(),
            reason,
        };
        let (component, sha256, _) = self.compile(bytes, refused)?;
        for (import, _) in component.component_type().imports(&self.shared.engine) {
            let granted = PLUGIN_WASI.iter().any(|p| import.starts_with(p))
                || (links.data && import.starts_with("objectos:host/data@"))
                || (links.log && import.starts_with("objectos:host/log@"))
                || (!links.http.is_empty() && import.starts_with("wasi:http/"));
            if !granted {
                let why = if import.starts_with("objectos:host/data@") {
                    "its grants hold no data:read:<object> or data:write:<object> capability"
                } else if import.starts_with("objectos:host/log@") {
                    "its grants do not hold the log capability"
                } else if import.starts_with("wasi:http/") {
                    "its grants hold no http:outbound:<host> capability"
                } else {
                    "plugins are never given it (no files, sockets or environment)"
                };
                return Err(refused(format!(
                    "it imports `{import}`, which is not linked: {why}"
                )));
            }
        }
        let linker = self.plugin_linker(&links).map_err(&refused)?;
        let pre = linker
            .instantiate_pre(&component)
            .map_err(|e| refused(format!("cannot be linked: {e:#}")))?;
        let pre = match world {
            PluginWorld::Service => PluginPre::Service(ServicePluginPre::new(pre).map_err(|e| {
                refused(format!(
                    "does not implement the service-plugin world (exports objectos:host/plugin and objectos:host/service): {e:#}"
                ))
            })?),
            PluginWorld::Hooks => PluginPre::Hooks(HooksPluginPre::new(pre).map_err(|e| {
                refused(format!(
                    "does not implement the hooks-plugin world (exports objectos:host/plugin and objectos:host/hook): {e:#}"
                ))
            })?),
            PluginWorld::Driver => PluginPre::Driver(DriverPluginPre::new(pre).map_err(|e| {
                refused(format!(
                    "does not implement the driver-plugin world (exports objectos:host/plugin and objectos:host/driver): {e:#}"
                ))
            })?),
        };
        Ok(PluginComponent {
            name: Arc::from(name),
            sha256,
            world,
            links,
            pre,
        })
    }

    /// One call into a long-lived instance: fuel and deadline set afresh, data calls to `bridge`.
    async fn plugin_call<R>(
        &self,
        name: &Arc<str>,
        instance: &mut PluginInstance,
        limits: &Limits,
        bridge: Option<DataBridge>,
        call: impl AsyncFnOnce(
            &PluginBindings,
            &mut Store<GuestState>,
        ) -> wasmtime::Result<Result<R, super::GuestError>>,
    ) -> Result<R, SandboxError> {
        let PluginInstance { store, bindings } = instance;
        store.data_mut().rearm(bridge);
        if self.shared.config.fuel {
            store
                .set_fuel(limits.fuel)
                .map_err(|e| super::internal(name, e))?;
        }
        self.arm_deadline(store, limits);
        let result = self
            .run_in(store, name, limits, async |s| call(bindings, s).await)
            .await;
        store.data_mut().rearm(None);
        result
    }

    /// Instantiates a plugin and calls its `init(config)`.
    pub async fn start_plugin(
        &self,
        component: &PluginComponent,
        limits: &Limits,
        config: &str,
        bridge: Option<DataBridge>,
    ) -> Result<PluginInstance, SandboxError> {
        let name = &component.name;
        let mut store = self.store(name, limits, None)?;
        store.data_mut().discard_stdio();
        store.data_mut().outbound = OutboundHttp {
            plugin: name.to_string(),
            allowed: component.links.http.clone(),
        };
        let instantiated = self
            .bounded(name, limits, async {
                let r = match &component.pre {
                    PluginPre::Service(pre) => pre
                        .instantiate_async(&mut store)
                        .await
                        .map(PluginBindings::Service),
                    PluginPre::Hooks(pre) => pre
                        .instantiate_async(&mut store)
                        .await
                        .map(PluginBindings::Hooks),
                    PluginPre::Driver(pre) => pre
                        .instantiate_async(&mut store)
                        .await
                        .map(PluginBindings::Driver),
                };
                r.map_err(|e| self.classify(name, limits, &store, e))
            })
            .await?;
        let mut instance = PluginInstance {
            store,
            bindings: instantiated,
        };
        let config = config.to_string();
        self.plugin_call(
            name,
            &mut instance,
            limits,
            bridge,
            async |bindings, store| match bindings {
                PluginBindings::Service(b) => {
                    b.objectos_host_plugin().call_init(store, &config).await
                }
                PluginBindings::Hooks(b) => {
                    b.objectos_host_plugin().call_init(store, &config).await
                }
                PluginBindings::Driver(b) => {
                    b.objectos_host_plugin().call_init(store, &config).await
                }
            },
        )
        .await?;
        Ok(instance)
    }

    /// Calls a plugin's `stop`.
    pub async fn stop_plugin(
        &self,
        component: &PluginComponent,
        instance: &mut PluginInstance,
        limits: &Limits,
    ) -> Result<(), SandboxError> {
        self.plugin_call(
            &component.name,
            instance,
            limits,
            None,
            async |bindings, store| {
                match bindings {
                    PluginBindings::Service(b) => b.objectos_host_plugin().call_stop(store).await,
                    PluginBindings::Hooks(b) => b.objectos_host_plugin().call_stop(store).await,
                    PluginBindings::Driver(b) => b.objectos_host_plugin().call_stop(store).await,
                }
                .map(Ok)
            },
        )
        .await
    }

    /// A service plugin's `call(caller, method, payload)`.
    #[allow(clippy::too_many_arguments)]
    pub async fn call_plugin_service(
        &self,
        component: &PluginComponent,
        instance: &mut PluginInstance,
        limits: &Limits,
        caller: &Caller,
        method: &str,
        payload: &str,
        bridge: Option<DataBridge>,
    ) -> Result<String, SandboxError> {
        let (method, payload) = (method.to_string(), payload.to_string());
        let text = self
            .plugin_call(
                &component.name,
                instance,
                limits,
                bridge,
                async |bindings, store| match bindings {
                    PluginBindings::Service(b) => {
                        b.objectos_host_service()
                            .call_call(store, caller, &method, &payload)
                            .await
                    }
                    PluginBindings::Hooks(_) | PluginBindings::Driver(_) => Ok(Err(
                        super::GuestError::Invalid("this plugin has no service methods".into()),
                    )),
                },
            )
            .await?;
        self.check_output(&component.name, &text)?;
        Ok(text)
    }

    /// A hooks plugin's `handle(event)`.
    pub async fn call_plugin_hook(
        &self,
        component: &PluginComponent,
        instance: &mut PluginInstance,
        limits: &Limits,
        event: &HookEvent,
        bridge: Option<DataBridge>,
    ) -> Result<HookOutcome, SandboxError> {
        use super::bindings::hooks_plugin::exports::objectos::host::hook as plugin_hook;
        let event = plugin_hook::Event {
            object: event.object.clone(),
            event: event.event.clone(),
            input: event.input.clone(),
            previous: event.previous.clone(),
            record_id: event.record_id.clone(),
            caller: event.caller.clone(),
        };
        let outcome = self
            .plugin_call(
                &component.name,
                instance,
                limits,
                bridge,
                async |bindings, store| match bindings {
                    PluginBindings::Hooks(b) => {
                        b.objectos_host_hook().call_handle(store, &event).await
                    }
                    PluginBindings::Service(_) | PluginBindings::Driver(_) => Ok(Err(
                        super::GuestError::Invalid("this plugin has no hooks".into()),
                    )),
                },
            )
            .await?;
        match outcome {
            plugin_hook::Outcome::Proceed(replacement) => {
                if let Some(text) = &replacement {
                    self.check_output(&component.name, text)?;
                }
                Ok(HookOutcome::Proceed(replacement))
            }
            plugin_hook::Outcome::Abort(message) => {
                self.check_output(&component.name, &message)?;
                Ok(HookOutcome::Abort(message))
            }
        }
    }
}

impl Sandbox {
    /// One call of a driver plugin's `driver` interface.
    pub async fn call_plugin_driver(
        &self,
        component: &PluginComponent,
        instance: &mut PluginInstance,
        limits: &Limits,
        call: &DriverCall,
    ) -> Result<DriverAnswer, SandboxError> {
        let answer = self
            .plugin_call(
                &component.name,
                instance,
                limits,
                None,
                async |bindings, store| {
                    let PluginBindings::Driver(b) = bindings else {
                        return Ok(Err(super::GuestError::Invalid(
                            "this plugin is not a driver".into(),
                        )));
                    };
                    let d = b.objectos_host_driver();
                    Ok(match call {
                        DriverCall::SyncSchema { objects } => d
                            .call_sync_schema(store, objects)
                            .await?
                            .map(|()| DriverAnswer::Done),
                        DriverCall::Find { object, query } => d
                            .call_find(store, object, query)
                            .await?
                            .map(DriverAnswer::Json),
                        DriverCall::Count { object, filter } => d
                            .call_count(store, object, filter)
                            .await?
                            .map(DriverAnswer::Count),
                        DriverCall::Insert { object, record } => d
                            .call_insert(store, object, record)
                            .await?
                            .map(|()| DriverAnswer::Done),
                        DriverCall::Update {
                            object,
                            id,
                            patch,
                            expected_version,
                        } => d
                            .call_update(store, object, id, patch, expected_version.as_deref())
                            .await?
                            .map(DriverAnswer::Count),
                        DriverCall::Delete {
                            object,
                            id,
                            expected_version,
                        } => d
                            .call_delete(store, object, id, expected_version.as_deref())
                            .await?
                            .map(DriverAnswer::Count),
                    })
                },
            )
            .await?;
        if let DriverAnswer::Json(text) = &answer {
            self.check_output(&component.name, text)?;
        }
        Ok(answer)
    }
}
