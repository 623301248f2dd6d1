//! The sandbox: every piece of untrusted code (hook and action bodies, functions) runs here as a WebAssembly
//! component, in a fresh instance per invocation, under fuel, a wall-clock deadline and a memory cap.
//!
//! One `Engine` (pooling allocator, fuel, epochs) and one `Linker` serve every component; each component is
//! compiled once (or loaded from the compile cache) into an `InstancePre`, so an invocation only instantiates
//! from the pool and makes one typed call.
//!
//! Guests never hold a request worker: artifact bodies run on the guest pool (a runtime of its own, threads at
//! a lower priority), and every guest, there or in a long-lived plugin instance, yields to its executor at each
//! epoch tick until its wall-clock deadline, when it is stopped (`FUNCTION_TIMEOUT`).

pub mod bindings;
mod cache;
pub mod host_calls;
pub mod limits;
pub mod outbound;
pub mod plugin;
mod snapshot;

pub use bindings::{Caller, GuestError};
pub use host_calls::{DataBridge, DataRequest, GuestCall};
pub use limits::{BodyKind, EngineConfig, Limits, SandboxConfig};

use bindings::function::FunctionBodyPre;
use bindings::hook::HookBodyPre;
use bindings::hook::exports::objectos::host::hook as wit_hook;
use bindings::script::JsRuntimePre;
use host_calls::GuestState;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use std::time::Instant;
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Engine, Store, Trap, UpdateDeadline};

/// Bytes of a pool slot's memory, tables and stack reset in place rather than unmapped between calls.
const KEEP_RESIDENT: usize = 4 << 20;

/// How often the deadline clock ticks. A deadline is rounded up to whole ticks.
const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Imports a component may have, by interface-name prefix. Anything else (files, sockets, HTTP, other
/// packages) is refused when the component is loaded.
const ALLOWED_IMPORTS: &[&str] = &[
    "objectos:host/types@",
    "objectos:host/data@",
    "objectos:host/log@",
    "objectos:host/services@",
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

/// Why an invocation (or loading a component) failed. Each has a protocol-style code.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum SandboxError {
    #[error("{body}: ran out of fuel ({fuel} units)")]
    FuelExhausted { body: String, fuel: u64 },
    #[error("{body}: did not finish within {ms} ms")]
    Timeout { body: String, ms: u128 },
    #[error("{body}: exceeded its memory limit of {mb} MiB")]
    MemoryLimit { body: String, mb: usize },
    #[error("{body}: trapped: {reason}")]
    Trapped { body: String, reason: String },
    #[error("{body}: returned {size} bytes, more than the {max} allowed")]
    OutputTooLarge {
        body: String,
        size: usize,
        max: usize,
    },
    #[error("{body}: refused: {reason}")]
    Refused { body: String, reason: String },
    #[error("{body}: every sandbox slot is busy")]
    Busy { body: String },
    /// A `data` (or service) call of the guest did not answer within the host-call timeout. The invocation
    /// fails whatever the guest made of it: the call's effect is unknown to it.
    #[error("{body}: a data call did not answer within {ms} ms")]
    HostCallTimeout { body: String, ms: u128 },
    /// The guest answered something that is not what its kind of body must return (not JSON, nested too
    /// deep, too large to read).
    #[error("{body}: returned an invalid result: {reason}")]
    InvalidResult { body: String, reason: String },
    #[error("{body}: {error}")]
    Guest { body: String, error: GuestFailure },
}

/// An error a guest returned on purpose (the WIT `error` variant).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GuestFailure {
    #[error("{0}")]
    Denied(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Internal(String),
}

impl From<GuestError> for GuestFailure {
    fn from(e: GuestError) -> Self {
        match e {
            GuestError::Denied(m) => GuestFailure::Denied(m),
            GuestError::NotFound(m) => GuestFailure::NotFound(m),
            GuestError::Invalid(m) => GuestFailure::Invalid(m),
            GuestError::Conflict(m) => GuestFailure::Conflict(m),
            GuestError::Internal(m) => GuestFailure::Internal(m),
        }
    }
}

impl SandboxError {
    /// What kind of failure this is: the guest's own verdicts keep their meaning (denied, not found,
    /// invalid, conflict); a guest that broke a limit or trapped is a server-side failure, a timeout is a
    /// timeout, a full pool is unavailable.
    pub fn kind(&self) -> crate::error_kind::ErrorKind {
        use crate::error_kind::ErrorKind;
        match self {
            SandboxError::Timeout { .. } | SandboxError::HostCallTimeout { .. } => {
                ErrorKind::Timeout
            }
            SandboxError::Busy { .. } => ErrorKind::Unavailable,
            SandboxError::Guest { error, .. } => match error {
                GuestFailure::Denied(_) => ErrorKind::Denied,
                GuestFailure::NotFound(_) => ErrorKind::NotFound,
                GuestFailure::Invalid(_) => ErrorKind::Invalid,
                GuestFailure::Conflict(_) => ErrorKind::Conflict,
                GuestFailure::Internal(_) => ErrorKind::Internal,
            },
            _ => ErrorKind::Internal,
        }
    }

    /// The protocol-style error code.
    pub fn code(&self) -> &'static str {
        match self {
            SandboxError::FuelExhausted { .. } => "FUNCTION_FUEL_EXHAUSTED",
            SandboxError::Timeout { .. } => "FUNCTION_TIMEOUT",
            SandboxError::MemoryLimit { .. } => "FUNCTION_MEMORY_LIMIT",
            SandboxError::Trapped { .. } => "FUNCTION_TRAPPED",
            SandboxError::OutputTooLarge { .. } => "FUNCTION_OUTPUT_TOO_LARGE",
            SandboxError::Refused { .. } => "FUNCTION_REFUSED",
            SandboxError::Busy { .. } => "FUNCTION_BUSY",
            SandboxError::HostCallTimeout { .. } => "FUNCTION_HOST_CALL_TIMEOUT",
            SandboxError::InvalidResult { .. } => "FUNCTION_INVALID_RESULT",
            SandboxError::Guest { error, .. } => match error {
                GuestFailure::Denied(_) => "PERMISSION_DENIED",
                GuestFailure::NotFound(_) => "RECORD_NOT_FOUND",
                GuestFailure::Invalid(_) => "VALIDATION_ERROR",
                GuestFailure::Conflict(_) => "CONFLICT",
                GuestFailure::Internal(_) => "FUNCTION_FAILED",
            },
        }
    }
}

/// The engine and linker, shared by every sandbox configuration in the process.
struct Shared {
    engine: Engine,
    linker: Linker<GuestState>,
    cache: Option<cache::CompileCache>,
    /// Components compiled in this process, by SHA-256: kernels sharing the engine compile each once.
    compiled: std::sync::Mutex<std::collections::HashMap<String, Component>>,
    /// Pre-initialised JS runtimes made in this process, by what they were made from (`snapshot.rs`): a
    /// snapshot is not byte-for-byte reproducible, so making it again would also mean compiling it again.
    snapshots: tokio::sync::Mutex<std::collections::HashMap<String, Arc<Vec<u8>>>>,
    config: EngineConfig,
    ticker_stop: Arc<AtomicBool>,
    /// The guest pool (`None` when `guest_threads` is 0). An `Option` so that dropping it can be done
    /// without blocking (`shutdown_background`), even from inside another runtime.
    pool: Option<tokio::runtime::Runtime>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
        if let Some(pool) = self.pool.take() {
            pool.shutdown_background();
        }
    }
}

/// How much lower than the request workers the guest pool's threads run (a `nice` increment): when the
/// machine is busy with guests, the kernel still runs a woken request worker first.
const GUEST_NICENESS: i32 = 10;

/// The runtime artifact bodies run on.
fn guest_pool(threads: usize) -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name("objectos-guest")
        .on_thread_start(|| {
            // SAFETY: setpriority with PRIO_PROCESS and 0 changes the calling thread's niceness on Linux
            // (each thread has its own); it reads no memory of ours. A failure leaves the priority as it was.
            #[cfg(target_os = "linux")]
            unsafe {
                libc::setpriority(libc::PRIO_PROCESS, 0, GUEST_NICENESS);
            }
        })
        .enable_all()
        .build()
        .map_err(|e| format!("starting the guest pool: {e}"))
}

/// A task on the guest pool, cancelled if whoever waits for it goes away.
struct PoolTask<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for PoolTask<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A configured sandbox. Cheap to clone; clones share the engine.
#[derive(Clone)]
pub struct Sandbox {
    shared: Arc<Shared>,
    pub config: SandboxConfig,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("engine", &self.shared.config)
            .field("limits", &self.config)
            .finish()
    }
}

/// A component ready to run: checked, compiled, pre-instantiated.
pub struct LoadedComponent {
    pub name: Arc<str>,
    pub sha256: String,
    pub kind: BodyKind,
    /// Loaded from the compile cache (or compiled earlier in this process) rather than compiled now.
    pub from_cache: bool,
    pre: Pre,
}

enum Pre {
    Hook(HookBodyPre<GuestState>),
    Function(FunctionBodyPre<GuestState>),
    Script(JsRuntimePre<GuestState>),
}

/// A hook event as the sandbox hands it to a guest (the WIT record itself).
pub use wit_hook::Event as HookEvent;

/// What a hook decided.
#[derive(Clone, Debug, PartialEq)]
pub enum HookOutcome {
    Proceed(Option<String>),
    Abort(String),
}

impl Sandbox {
    pub fn new(engine_config: EngineConfig, config: SandboxConfig) -> Result<Sandbox, String> {
        let mut wasm = wasmtime::Config::new();
        wasm.wasm_component_model(true)
            .consume_fuel(engine_config.fuel)
            .epoch_interruption(engine_config.epochs)
            .max_wasm_stack(512 * 1024)
            .async_stack_size(2 * 1024 * 1024);
        let mut pool = wasmtime::PoolingAllocationConfig::new();
        let n = engine_config.pool_instances.max(1);
        pool.total_component_instances(n)
            .total_core_instances(n * 8)
            .total_memories(n * 2)
            .total_tables(n * 8)
            .total_stacks(n)
            .max_memories_per_component(8)
            .max_tables_per_component(32)
            .max_core_instances_per_component(32)
            .max_memory_size((limits::MAX_BODY_MEMORY_MB as usize) << 20)
            // Resetting a slot for the next call: with PAGEMAP_SCAN (Linux 6.7+) only the pages the guest
            // dirtied are restored, in place, instead of being unmapped and faulted in again on the next call
            // (page faults and madvise were ~40 % of a call's time without this).
            .pagemap_scan(wasmtime::Enabled::Auto)
            .linear_memory_keep_resident(KEEP_RESIDENT)
            .table_keep_resident(KEEP_RESIDENT)
            .async_stack_keep_resident(KEEP_RESIDENT);
        wasm.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&wasm).map_err(|e| format!("starting the Wasm engine: {e:#}"))?;
        let mut linker = Linker::<GuestState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(|e| format!("linking WASI: {e:#}"))?;
        bindings::hook::HookBody::add_to_linker::<GuestState, HasSelf<GuestState>>(
            &mut linker,
            |s| s,
        )
        .map_err(|e| format!("linking the objectos:host imports: {e:#}"))?;
        bindings::function::objectos::host::services::add_to_linker::<
            GuestState,
            HasSelf<GuestState>,
        >(&mut linker, |s| s)
        .map_err(|e| format!("linking objectos:host/services: {e:#}"))?;
        let cache = match &engine_config.cache_dir {
            Some(dir) => Some(
                cache::CompileCache::open(dir, &engine)
                    .map_err(|e| format!("opening the compile cache {}: {e}", dir.display()))?,
            ),
            None => None,
        };
        let ticker_stop = Arc::new(AtomicBool::new(false));
        if engine_config.epochs {
            let engine = engine.weak();
            let stop = ticker_stop.clone();
            std::thread::Builder::new()
                .name("objectos-epoch".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(EPOCH_TICK);
                        match engine.upgrade() {
                            Some(e) => e.increment_epoch(),
                            None => return,
                        }
                    }
                })
                .map_err(|e| format!("starting the epoch clock: {e}"))?;
        }
        let pool = match engine_config.guest_threads {
            0 => None,
            n => Some(guest_pool(n)?),
        };
        Ok(Sandbox {
            shared: Arc::new(Shared {
                engine,
                linker,
                cache,
                compiled: Default::default(),
                snapshots: Default::default(),
                config: engine_config,
                ticker_stop,
                pool,
            }),
            config,
        })
    }

    /// The same engine with other limits.
    pub fn with_config(&self, config: SandboxConfig) -> Sandbox {
        Sandbox {
            shared: self.shared.clone(),
            config,
        }
    }

    pub fn engine(&self) -> &Engine {
        &self.shared.engine
    }

    /// Compiles a component, or takes it from this process's memo or the compile cache on disk.
    /// Answers the component, its SHA-256 and whether it was compiled earlier.
    fn compile(
        &self,
        bytes: &[u8],
        refused: impl Fn(String) -> SandboxError,
    ) -> Result<(Component, String, bool), SandboxError> {
        let sha256 = hex::encode(ring::digest::digest(&ring::digest::SHA256, bytes));
        let engine = &self.shared.engine;
        // Held while compiling: kernels booting side by side compile a component once, not once each.
        let mut compiled = self
            .shared
            .compiled
            .lock()
            .map_err(|_| refused("the compile lock is poisoned".into()))?;
        if let Some(c) = compiled.get(&sha256) {
            return Ok((c.clone(), sha256, true));
        }
        let cached = self
            .shared
            .cache
            .as_ref()
            .and_then(|c| c.load(engine, &sha256));
        let from_cache = cached.is_some();
        let component = match cached {
            Some(c) => c,
            None => {
                let c = Component::new(engine, bytes)
                    .map_err(|e| refused(format!("not a valid component: {e:#}")))?;
                if let Some(cache) = &self.shared.cache {
                    cache.store(&sha256, &c);
                }
                c
            }
        };
        compiled.insert(sha256.clone(), component.clone());
        Ok((component, sha256, from_cache))
    }

    /// Checks, compiles (or loads from the cache) and pre-instantiates a component.
    pub fn load(
        &self,
        name: &str,
        kind: BodyKind,
        bytes: &[u8],
    ) -> Result<LoadedComponent, SandboxError> {
        let refused = |reason: String| SandboxError::Refused {
            body: name.to_string(),
            reason,
        };
        let engine = &self.shared.engine;
        let (component, sha256, from_cache) = self.compile(bytes, refused)?;
        let ty = component.component_type();
        for (import, _) in ty.imports(engine) {
            if kind == BodyKind::Hook && import.starts_with("objectos:host/services@") {
                return Err(refused(format!(
                    "it imports `{import}`, which hooks are not given: a hook runs inside a write (call services from an action)"
                )));
            }
            if !ALLOWED_IMPORTS.iter().any(|p| import.starts_with(p)) {
                return Err(refused(format!(
                    "it imports `{import}`, which a {} body is not given (only objectos:host data and log, and WASI clocks, random, io and stdio)",
                    match kind {
                        BodyKind::Hook => "hook",
                        BodyKind::Function => "function",
                        BodyKind::Script => "script runtime",
                    }
                )));
            }
        }
        let pre = self
            .shared
            .linker
            .instantiate_pre(&component)
            .map_err(|e| refused(format!("cannot be linked: {e:#}")))?;
        let pre = match kind {
            BodyKind::Hook => Pre::Hook(HookBodyPre::new(pre).map_err(|e| {
                refused(format!(
                    "does not export the objectos:host/hook interface: {e:#}"
                ))
            })?),
            BodyKind::Function => Pre::Function(FunctionBodyPre::new(pre).map_err(|e| {
                refused(format!(
                    "does not export the objectos:host/function interface: {e:#}"
                ))
            })?),
            BodyKind::Script => Pre::Script(JsRuntimePre::new(pre).map_err(|e| {
                refused(format!(
                    "does not export the objectos:host/script interface: {e:#}"
                ))
            })?),
        };
        Ok(LoadedComponent {
            name: Arc::from(name),
            sha256,
            kind,
            from_cache,
            pre,
        })
    }

    fn store(
        &self,
        name: &Arc<str>,
        limits: &Limits,
        bridge: Option<DataBridge>,
    ) -> Result<Store<GuestState>, SandboxError> {
        let state = GuestState::new(
            name.clone(),
            limits.memory_bytes,
            bridge,
            self.config.max_log_bytes,
            self.config.host_call_timeout,
        );
        let mut store = Store::new(&self.shared.engine, state);
        store.limiter(|s| &mut s.limiter);
        if self.shared.config.fuel {
            store.set_fuel(limits.fuel).map_err(|e| internal(name, e))?;
        }
        if self.shared.config.epochs {
            // At every tick the guest yields to its executor (other tasks run), and goes on until its
            // deadline; then it is stopped with an interrupt trap (`FUNCTION_TIMEOUT`).
            store.epoch_deadline_callback(|ctx| {
                Ok(match ctx.data().deadline {
                    Some(deadline) if Instant::now() < deadline => UpdateDeadline::Yield(1),
                    _ => UpdateDeadline::Interrupt,
                })
            });
            self.arm_deadline(&mut store, limits);
        }
        Ok(store)
    }

    /// Starts a call's wall-clock limit: the guest runs one tick at a time until then.
    fn arm_deadline(&self, store: &mut Store<GuestState>, limits: &Limits) {
        if self.shared.config.epochs {
            store.data_mut().deadline = Some(Instant::now() + limits.timeout);
            store.set_epoch_deadline(1);
        }
    }

    /// Runs `work` (an artifact body's whole invocation) on the guest pool, or here without one.
    async fn on_pool<T: Send + 'static>(
        &self,
        name: &str,
        work: impl Future<Output = Result<T, SandboxError>> + Send + 'static,
    ) -> Result<T, SandboxError> {
        use tracing::Instrument;
        let Some(pool) = &self.shared.pool else {
            return work.await;
        };
        let mut task = PoolTask(pool.spawn(work.in_current_span()));
        match (&mut task.0).await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(body = name, "a guest invocation's task failed: {e}");
                Err(SandboxError::Trapped {
                    body: name.to_string(),
                    reason: "the sandbox task failed (see the server log)".into(),
                })
            }
        }
    }

    /// Turns a failed call into the error that says what the guest did.
    fn classify(
        &self,
        name: &str,
        limits: &Limits,
        store: &Store<GuestState>,
        e: wasmtime::Error,
    ) -> SandboxError {
        let body = name.to_string();
        if store.data().limiter.hit {
            return SandboxError::MemoryLimit {
                body,
                mb: limits.memory_bytes >> 20,
            };
        }
        match e.downcast_ref::<Trap>() {
            Some(Trap::OutOfFuel) => SandboxError::FuelExhausted {
                body,
                fuel: limits.fuel,
            },
            Some(Trap::Interrupt) => SandboxError::Timeout {
                body,
                ms: limits.timeout.as_millis(),
            },
            Some(Trap::StackOverflow) => SandboxError::Trapped {
                body,
                reason: "stack overflow (call stack exhausted)".into(),
            },
            Some(trap) => SandboxError::Trapped {
                body,
                reason: trap.to_string(),
            },
            None => {
                let text = format!("{e:#}");
                if text.contains("maximum concurrent") || text.contains("pooling") {
                    SandboxError::Busy { body }
                } else {
                    SandboxError::Trapped { body, reason: text }
                }
            }
        }
    }

    /// Runs `call` under the wall-clock deadline: epochs stop a guest that computes, this timer one that waits.
    async fn bounded<T>(
        &self,
        name: &str,
        limits: &Limits,
        call: impl Future<Output = Result<T, SandboxError>>,
    ) -> Result<T, SandboxError> {
        // A little slack so that a computing guest is stopped by its epoch deadline (which names the cause
        // precisely) before this timer fires.
        let slack = EPOCH_TICK * 4;
        let started = std::time::Instant::now();
        let mut call = std::pin::pin!(call);
        // Most calls finish without ever waiting on the host: they never need a timer (arming and dropping
        // one was a measurable part of a short call).
        let first = std::future::poll_fn(|cx| std::task::Poll::Ready(call.as_mut().poll(cx))).await;
        if let std::task::Poll::Ready(r) = first {
            return r;
        }
        let left = (limits.timeout + slack).saturating_sub(started.elapsed());
        match tokio::time::timeout(left, call).await {
            Ok(r) => r,
            Err(_) => Err(SandboxError::Timeout {
                body: name.to_string(),
                ms: limits.timeout.as_millis(),
            }),
        }
    }

    fn check_output(&self, name: &str, text: &str) -> Result<(), SandboxError> {
        if text.len() > self.config.max_output_bytes {
            return Err(SandboxError::OutputTooLarge {
                body: name.to_string(),
                size: text.len(),
                max: self.config.max_output_bytes,
            });
        }
        Ok(())
    }

    /// One invocation in a fresh store: `call` instantiates and calls; the store's limits, the deadline,
    /// the classification of a failure and the guest's output all live here, once for every kind of body.
    async fn invoke<R>(
        &self,
        name: &Arc<str>,
        limits: &Limits,
        bridge: Option<DataBridge>,
        call: impl AsyncFnOnce(&mut Store<GuestState>) -> wasmtime::Result<Result<R, GuestError>>,
    ) -> Result<R, SandboxError> {
        let mut store = self.store(name, limits, bridge)?;
        self.run_in(&mut store, name, limits, call).await
    }

    /// Runs `call` in `store` under the deadline, names a failure, and logs what the guest printed. Fresh
    /// instances (`invoke`) and long-lived plugin instances share it.
    async fn run_in<R>(
        &self,
        store: &mut Store<GuestState>,
        name: &Arc<str>,
        limits: &Limits,
        call: impl AsyncFnOnce(&mut Store<GuestState>) -> wasmtime::Result<Result<R, GuestError>>,
    ) -> Result<R, SandboxError> {
        let result = self
            .bounded(name, limits, async {
                match call(&mut *store).await {
                    Ok(r) => Ok(r),
                    Err(e) => Err(self.classify(name, limits, store, e)),
                }
            })
            .await;
        store.data_mut().flush_output();
        if let Some(ms) = store.data_mut().host_call_timed_out.take() {
            tracing::warn!(body = %name, "a data call did not answer within {ms} ms: the invocation fails");
            return Err(SandboxError::HostCallTimeout {
                body: name.to_string(),
                ms,
            });
        }
        result?.map_err(|e| SandboxError::Guest {
            body: name.to_string(),
            error: e.into(),
        })
    }

    /// One hook invocation in a fresh instance, on the guest pool.
    pub async fn call_hook(
        &self,
        component: &Arc<LoadedComponent>,
        limits: &Limits,
        event: &HookEvent,
        bridge: Option<DataBridge>,
    ) -> Result<HookOutcome, SandboxError> {
        let (this, component, limits, event) =
            (self.clone(), component.clone(), *limits, event.clone());
        let name = component.name.clone();
        self.on_pool(&name, async move {
            this.hook_here(&component, &limits, &event, bridge).await
        })
        .await
    }

    async fn hook_here(
        &self,
        component: &LoadedComponent,
        limits: &Limits,
        event: &HookEvent,
        bridge: Option<DataBridge>,
    ) -> Result<HookOutcome, SandboxError> {
        let Pre::Hook(pre) = &component.pre else {
            return Err(SandboxError::Refused {
                body: component.name.to_string(),
                reason: "it is a function body, not a hook body".into(),
            });
        };
        let outcome = self
            .invoke(&component.name, limits, bridge, async |store| {
                let instance = pre.instantiate_async(&mut *store).await?;
                instance
                    .objectos_host_hook()
                    .call_handle(store, event)
                    .await
            })
            .await?;
        match outcome {
            wit_hook::Outcome::Proceed(replacement) => {
                if let Some(text) = &replacement {
                    self.check_output(&component.name, text)?;
                }
                Ok(HookOutcome::Proceed(replacement))
            }
            wit_hook::Outcome::Abort(message) => {
                self.check_output(&component.name, &message)?;
                Ok(HookOutcome::Abort(message))
            }
        }
    }

    /// One function invocation in a fresh instance, on the guest pool; the result is JSON text.
    pub async fn call_function(
        &self,
        component: &Arc<LoadedComponent>,
        limits: &Limits,
        caller: &Caller,
        input: &str,
        bridge: Option<DataBridge>,
    ) -> Result<String, SandboxError> {
        let (this, component, limits, caller, input) = (
            self.clone(),
            component.clone(),
            *limits,
            caller.clone(),
            input.to_string(),
        );
        let name = component.name.clone();
        self.on_pool(&name, async move {
            let Pre::Function(pre) = &component.pre else {
                return Err(SandboxError::Refused {
                    body: component.name.to_string(),
                    reason: "it is a hook body, not a function body".into(),
                });
            };
            let text = this
                .invoke(&component.name, &limits, bridge, async |store| {
                    let instance = pre.instantiate_async(&mut *store).await?;
                    instance
                        .objectos_host_function()
                        .call_call(store, &caller, &input)
                        .await
                })
                .await?;
            this.check_output(&component.name, &text)?;
            Ok(text)
        })
        .await
    }

    /// Runs a JavaScript body in a fresh instance of the JS runtime component, on the guest pool. `hook`
    /// picks `run-hook` (`payload` is the event) or `run-function` (`payload` is the input); the answer is
    /// JSON text.
    #[allow(clippy::too_many_arguments)]
    pub async fn call_script(
        &self,
        runtime: &Arc<LoadedComponent>,
        body_name: &str,
        limits: &Limits,
        hook: bool,
        source: &str,
        capabilities: &[String],
        caller: &Caller,
        payload: &str,
        bridge: Option<DataBridge>,
    ) -> Result<String, SandboxError> {
        // Errors and logs name the body, not the runtime that ran it.
        let name: Arc<str> = Arc::from(body_name);
        let (this, runtime, limits, caller) =
            (self.clone(), runtime.clone(), *limits, caller.clone());
        let (source, capabilities, payload) = (
            source.to_string(),
            capabilities.to_vec(),
            payload.to_string(),
        );
        self.on_pool(body_name, async move {
            let Pre::Script(pre) = &runtime.pre else {
                return Err(SandboxError::Refused {
                    body: name.to_string(),
                    reason: "the JS runtime component does not export objectos:host/script".into(),
                });
            };
            let text = this
                .invoke(&name, &limits, bridge, async |store| {
                    let instance = pre.instantiate_async(&mut *store).await?;
                    let script = instance.objectos_host_script();
                    if hook {
                        script
                            .call_run_hook(store, &source, &capabilities, &caller, &payload)
                            .await
                    } else {
                        script
                            .call_run_function(store, &source, &capabilities, &caller, &payload)
                            .await
                    }
                })
                .await?;
            this.check_output(&name, &text)?;
            Ok(text)
        })
        .await
    }

    /// An instance kept across calls: NOT how objectos runs artifact code (every invocation gets a fresh
    /// instance); it exists to measure what the fresh instance costs (`benches/sandbox.rs`).
    pub async fn reusable_hook(
        &self,
        component: &LoadedComponent,
        limits: &Limits,
    ) -> Result<ReusableHook, SandboxError> {
        let Pre::Hook(pre) = &component.pre else {
            return Err(SandboxError::Refused {
                body: component.name.to_string(),
                reason: "not a hook body".into(),
            });
        };
        let mut store = self.store(&component.name, limits, None)?;
        let instance = pre
            .instantiate_async(&mut store)
            .await
            .map_err(|e| internal(&component.name, e))?;
        Ok(ReusableHook {
            store,
            instance,
            limits: *limits,
            fuel: self.shared.config.fuel,
            epochs: self.shared.config.epochs,
        })
    }
}

/// See [`Sandbox::reusable_hook`].
pub struct ReusableHook {
    store: Store<GuestState>,
    instance: bindings::hook::HookBody,
    limits: Limits,
    fuel: bool,
    epochs: bool,
}

impl ReusableHook {
    pub async fn call(&mut self, event: &HookEvent) -> Result<HookOutcome, String> {
        if self.fuel {
            self.store
                .set_fuel(self.limits.fuel)
                .map_err(|e| e.to_string())?;
        }
        if self.epochs {
            self.store.data_mut().deadline = Some(Instant::now() + self.limits.timeout);
            self.store.set_epoch_deadline(1);
        }
        match self
            .instance
            .objectos_host_hook()
            .call_handle(&mut self.store, event)
            .await
            .map_err(|e| format!("{e:#}"))?
        {
            Ok(wit_hook::Outcome::Proceed(r)) => Ok(HookOutcome::Proceed(r)),
            Ok(wit_hook::Outcome::Abort(m)) => Ok(HookOutcome::Abort(m)),
            Err(e) => Err(format!("{e:?}")),
        }
    }
}

/// Reads a guest's JSON answer. Text that is not JSON, or JSON nested deeper than the reader allows (128
/// levels), is the body's fault: `FUNCTION_INVALID_RESULT`, not a trap. (Its size is already bounded by
/// `max_output_bytes`.)
pub fn parse_result(body: &str, text: &str) -> Result<serde_json::Value, SandboxError> {
    serde_json::from_str(text).map_err(|e| {
        let reason = if e.to_string().contains("recursion limit") {
            "its JSON nests deeper than 128 levels".to_string()
        } else {
            format!("it is not JSON ({e})")
        };
        tracing::warn!(body, "the body returned an invalid result: {reason}");
        SandboxError::InvalidResult {
            body: body.to_string(),
            reason,
        }
    })
}

/// A failure of the engine itself around a body (not something the guest did).
fn internal(name: &str, e: wasmtime::Error) -> SandboxError {
    SandboxError::Trapped {
        body: name.to_string(),
        reason: format!("{e:#}"),
    }
}
