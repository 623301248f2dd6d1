//! Per-invocation limits and the settings an operator can change (flags `--sandbox-*`, env `OS_SANDBOX_*`).

use std::path::PathBuf;
use std::time::Duration;

/// What a body is: hooks get the tight limits, actions and functions the wider ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BodyKind {
    Hook,
    Function,
    /// The JavaScript runtime component (runs `js` bodies of either kind).
    Script,
}

/// The limits one invocation runs under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Wasm fuel (roughly one unit per instruction).
    pub fuel: u64,
    /// Wall-clock deadline, enforced by epochs while the guest computes and by a timer while it waits on the host.
    pub timeout: Duration,
    /// Largest linear memory.
    pub memory_bytes: usize,
}

/// The largest `timeoutMs` and `memoryMb` a body may ask for (the protocol's maxima).
pub const MAX_BODY_TIMEOUT_MS: u64 = 30_000;
pub const MAX_BODY_MEMORY_MB: u64 = 256;

const MIB: usize = 1 << 20;

/// Engine-wide settings: fixed when the engine starts.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Concurrent invocations the instance pool holds; one more waits for a slot ("busy" after the deadline).
    pub pool_instances: u32,
    /// Fuel metering. Off only to measure its cost (benches).
    pub fuel: bool,
    /// Epoch deadlines. Off only to measure their cost (benches); a timer still bounds every call.
    pub epochs: bool,
    /// Where compiled components are cached (`None`: compile at every start).
    pub cache_dir: Option<PathBuf>,
    /// Threads of the guest pool that runs artifact bodies (hooks, actions, functions), apart from the
    /// runtime that serves requests, so a computing guest never holds a request worker. 0 runs guests on
    /// the caller's runtime (they still yield every epoch tick).
    pub guest_threads: usize,
}

/// One guest thread per core: guests get the machine's compute, and the request workers (woken by the
/// kernel ahead of the guests, which run at a lower priority) keep answering.
pub fn default_guest_threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            pool_instances: 128,
            fuel: true,
            epochs: true,
            cache_dir: None,
            guest_threads: default_guest_threads(),
        }
    }
}

/// Limits per kind of body, and the caps every invocation shares.
#[derive(Clone, Debug)]
pub struct SandboxConfig {
    pub hook: Limits,
    pub function: Limits,
    /// Largest JSON a guest may hand back (a replaced record, a function result).
    pub max_output_bytes: usize,
    /// Log lines and captured stdout/stderr per invocation, in bytes.
    pub max_log_bytes: usize,
    /// Each `data` host call must answer within this.
    pub host_call_timeout: Duration,
    /// Hooks fired by writes that hooks made, at most this deep.
    pub max_hook_depth: usize,
    /// Fault injection for the tests of the panic boundaries, off (`None`) by default and set by no flag or
    /// environment variable: a write whose record holds this exact string as a top-level value panics
    /// before its before-hooks run.
    #[doc(hidden)]
    pub panic_on_marker: Option<String>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            hook: Limits {
                fuel: 10_000_000,
                timeout: Duration::from_millis(250),
                memory_bytes: 32 * MIB,
            },
            function: Limits {
                fuel: 100_000_000,
                timeout: Duration::from_secs(5),
                memory_bytes: 64 * MIB,
            },
            max_output_bytes: MIB,
            max_log_bytes: 16 * 1024,
            host_call_timeout: Duration::from_secs(5),
            max_hook_depth: 4,
            panic_on_marker: None,
        }
    }
}

impl SandboxConfig {
    /// The limits of a body of `kind`, with its own `timeoutMs` / `memoryMb` (already validated ≤ the maxima).
    pub fn limits(
        &self,
        kind: BodyKind,
        timeout_ms: Option<u64>,
        memory_mb: Option<u64>,
    ) -> Limits {
        let base = match kind {
            BodyKind::Hook => self.hook,
            BodyKind::Function | BodyKind::Script => self.function,
        };
        Limits {
            fuel: base.fuel,
            timeout: timeout_ms
                .map(|ms| Duration::from_millis(ms.min(MAX_BODY_TIMEOUT_MS)))
                .unwrap_or(base.timeout),
            memory_bytes: memory_mb
                .map(|mb| mb.min(MAX_BODY_MEMORY_MB) as usize * MIB)
                .unwrap_or(base.memory_bytes),
        }
    }
}
