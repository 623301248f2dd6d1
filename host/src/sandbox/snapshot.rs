//! Pre-initialised JS runtime (the Wizer approach). Building a Boa context, loading the `ctx` prelude and
//! parsing a body cost ≈1.5 ms, far more than the body itself. So at artifact load the host runs the runtime's
//! `prepare` once, with every JS body of the artifact, on a throw-away instance, and snapshots that instance's
//! memory and globals into a new component (wasmtime-wizer). Every call still gets a fresh instance: it is
//! made from the snapshot, so it starts with the context built and the bodies compiled, and nothing one call
//! does is seen by the next.
//!
//! What a snapshot fixes for every instance made from it: the heap layout and anything the runtime computed
//! while preparing, including the seeds of the runtime's hash tables (drawn while preparing, so the instances
//! of one snapshot share them; a new snapshot draws new ones). `prepare` holds no host resource (no output
//! stream), so no stale handle is baked in; `ctx.crypto.randomUUID()` asks the host for randomness per call.

use super::bindings::script::JsRuntime;
use super::host_calls::GuestState;
use super::{Limits, Sandbox, SandboxError};
use ring::digest::{Context as Sha256, SHA256};
use std::sync::Arc;
use std::time::Duration;
use wasmtime::Store;
use wasmtime::component::{Instance, Lift, WasmList};
use wasmtime_wizer::{ComponentInstanceState, Wizer};

/// Bumped when what `prepare` is asked to do changes, so that old snapshots in the cache are not reused.
const SNAPSHOT_FORMAT: &[u8] = b"objectos-js-snapshot-1";

/// `prepare` runs once per artifact load, with room to compile many bodies.
const PREPARE_LIMITS: Limits = Limits {
    fuel: 2_000_000_000,
    timeout: Duration::from_secs(30),
    memory_bytes: 256 << 20,
};

/// Reads a prepared instance's state for Wizer (its memories and globals, through the accessor functions
/// Wizer's instrumentation exported). A failure is remembered and reported after the snapshot: the trait
/// itself cannot return one.
struct PreparedInstance<'a> {
    store: &'a mut Store<GuestState>,
    instance: Instance,
    failure: Option<String>,
}

impl PreparedInstance<'_> {
    /// Calls `instance#func` (no parameters, one result); a failure is remembered and answers `None`.
    async fn call<R: Lift + 'static>(&mut self, instance: &str, func: &str) -> Option<R> {
        let found = self
            .instance
            .get_export_index(&mut *self.store, None, instance)
            .and_then(|i| {
                self.instance
                    .get_export_index(&mut *self.store, Some(&i), func)
            });
        let Some(index) = found else {
            self.failure = Some(format!(
                "the instrumented runtime has no export {instance}#{func}"
            ));
            return None;
        };
        let result = match self
            .instance
            .get_typed_func::<(), (R,)>(&mut *self.store, index)
        {
            Ok(f) => f.call_async(&mut *self.store, ()).await,
            Err(e) => Err(e),
        };
        match result {
            Ok((r,)) => Some(r),
            Err(e) => {
                self.failure = Some(format!("{instance}#{func}: {e:#}"));
                None
            }
        }
    }
}

impl ComponentInstanceState for PreparedInstance<'_> {
    async fn call_func_ret_list_u8(
        &mut self,
        instance: &str,
        func: &str,
        contents: impl FnOnce(&[u8]) + Send,
    ) {
        match self.call::<WasmList<u8>>(instance, func).await {
            Some(list) => contents(list.as_le_slice(&*self.store)),
            None => contents(&[]),
        }
    }

    async fn call_func_ret_s32(&mut self, instance: &str, func: &str) -> i32 {
        self.call::<i32>(instance, func).await.unwrap_or_default()
    }

    async fn call_func_ret_s64(&mut self, instance: &str, func: &str) -> i64 {
        self.call::<i64>(instance, func).await.unwrap_or_default()
    }

    async fn call_func_ret_f32(&mut self, instance: &str, func: &str) -> u32 {
        self.call::<f32>(instance, func)
            .await
            .map(f32::to_bits)
            .unwrap_or_default()
    }

    async fn call_func_ret_f64(&mut self, instance: &str, func: &str) -> u64 {
        self.call::<f64>(instance, func)
            .await
            .map(f64::to_bits)
            .unwrap_or_default()
    }
}

/// What a snapshot is made from: the runtime's bytes and the bodies, in order.
fn snapshot_key(runtime: &[u8], sources: &[String]) -> String {
    let mut h = Sha256::new(&SHA256);
    h.update(SNAPSHOT_FORMAT);
    h.update(ring::digest::digest(&SHA256, runtime).as_ref());
    for s in sources {
        h.update(&(s.len() as u64).to_le_bytes());
        h.update(s.as_bytes());
    }
    hex::encode(h.finish())
}

impl Sandbox {
    /// The JS runtime `runtime`, pre-initialised with `sources` compiled (see the module's text). Taken from the
    /// cache when the same runtime was prepared with the same bodies before.
    pub async fn preinitialize_js(
        &self,
        runtime: &[u8],
        sources: &[String],
    ) -> Result<Arc<Vec<u8>>, SandboxError> {
        let key = snapshot_key(runtime, sources);
        // Held while preparing: kernels booting side by side prepare the same runtime once.
        let mut made = self.shared.snapshots.lock().await;
        if let Some(bytes) = made.get(&key) {
            return Ok(bytes.clone());
        }
        let bytes = Arc::new(self.make_snapshot(&key, runtime, sources).await?);
        made.insert(key, bytes.clone());
        Ok(bytes)
    }

    async fn make_snapshot(
        &self,
        key: &str,
        runtime: &[u8],
        sources: &[String],
    ) -> Result<Vec<u8>, SandboxError> {
        let name = "js-runtime (pre-initialisation)";
        let failed = |reason: String| SandboxError::Refused {
            body: name.to_string(),
            reason,
        };
        if let Some(bytes) = self
            .shared
            .cache
            .as_ref()
            .and_then(|c| c.load_snapshot(key))
        {
            return Ok(bytes);
        }
        let wizer = Wizer::new();
        let (cx, instrumented) = wizer
            .instrument_component(runtime)
            .map_err(|e| failed(format!("cannot be instrumented: {e:#}")))?;
        let (component, _, _) = self.compile(&instrumented, failed)?;
        let body: std::sync::Arc<str> = std::sync::Arc::from(name);
        let mut store = self.store(&body, &PREPARE_LIMITS, None)?;
        let instance = self
            .shared
            .linker
            .instantiate_async(&mut store, &component)
            .await
            .map_err(|e| failed(format!("cannot be instantiated: {e:#}")))?;
        let runtime_exports = JsRuntime::new(&mut store, &instance)
            .map_err(|e| failed(format!("does not export objectos:host/script: {e:#}")))?;
        let compiled = runtime_exports
            .objectos_host_script()
            .call_prepare(&mut store, sources)
            .await
            .map_err(|e| self.classify(name, &PREPARE_LIMITS, &store, e))?;
        store.data_mut().flush_output();
        tracing::debug!(
            bodies = sources.len(),
            compiled,
            "JS runtime prepared; taking the snapshot"
        );
        let mut prepared = PreparedInstance {
            store: &mut store,
            instance,
            failure: None,
        };
        let snapshot = wizer
            .snapshot_component(&cx, &mut prepared)
            .await
            .map_err(|e| failed(format!("the snapshot failed: {e:#}")))?;
        if let Some(reason) = prepared.failure {
            return Err(failed(format!("the snapshot failed: {reason}")));
        }
        if let Some(cache) = &self.shared.cache {
            cache.store_snapshot(key, &snapshot);
        }
        Ok(snapshot)
    }
}
