//! The host side of the guest's imports: `data` (forwarded to the kernel, which runs it as the invocation's
//! caller) and `log`. WASI is linked with an empty context: no files, environment, arguments or sockets.

use super::bindings::GuestError;
use super::bindings::hook::objectos::host::{data, log, types};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// A guest's data call, for the kernel to run.
#[derive(Debug)]
pub enum GuestCall {
    Find {
        object: String,
        query: String,
    },
    Get {
        object: String,
        id: String,
    },
    Insert {
        object: String,
        values: String,
    },
    Update {
        object: String,
        id: String,
        patch: String,
    },
    Delete {
        object: String,
        id: String,
    },
}

/// A data call with the channel its answer goes back on.
pub struct DataRequest {
    pub call: GuestCall,
    pub reply: oneshot::Sender<Result<String, GuestError>>,
}

/// Where a guest's data calls go. The kernel serves the other end inside the transaction that triggered the
/// invocation, so a guest's writes commit or roll back with it.
pub type DataBridge = mpsc::Sender<DataRequest>;

/// What each store holds: the WASI context (empty), the memory limiter and the way back to the kernel.
pub struct GuestState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(super) limiter: MemoryLimiter,
    bridge: Option<DataBridge>,
    body: Arc<str>,
    log_left: usize,
    host_call_timeout: Duration,
    pub(super) stdout: MemoryOutputPipe,
    pub(super) stderr: MemoryOutputPipe,
}

impl GuestState {
    pub fn new(
        body: Arc<str>,
        memory_bytes: usize,
        bridge: Option<DataBridge>,
        max_log_bytes: usize,
        host_call_timeout: Duration,
    ) -> GuestState {
        let stdout = MemoryOutputPipe::new(max_log_bytes);
        let stderr = MemoryOutputPipe::new(max_log_bytes);
        let wasi = wasmtime_wasi::WasiCtxBuilder::new()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .build();
        GuestState {
            wasi,
            table: ResourceTable::new(),
            limiter: MemoryLimiter {
                max_bytes: memory_bytes,
                hit: false,
            },
            bridge,
            body,
            log_left: max_log_bytes,
            host_call_timeout,
            stdout,
            stderr,
        }
    }

    /// Whatever the guest printed, into the host log (capped by the pipes).
    pub(super) fn flush_output(&self) {
        for (stream, pipe) in [("stdout", &self.stdout), ("stderr", &self.stderr)] {
            let bytes = pipe.contents();
            if !bytes.is_empty() {
                tracing::info!(body = %self.body, stream, "{}", String::from_utf8_lossy(&bytes).trim_end());
            }
        }
    }
}

impl WasiView for GuestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Caps linear memory per invocation and remembers that the cap was hit, so the failure reads as
/// "memory limit" rather than as whatever trap the guest's allocator turns it into.
pub struct MemoryLimiter {
    max_bytes: usize,
    pub(super) hit: bool,
}

/// Tables, instances and memories a component may create (Rust components need a handful).
const MAX_TABLE_ELEMENTS: usize = 100_000;
const MAX_INSTANCES: usize = 32;
const MAX_TABLES: usize = 32;
const MAX_MEMORIES: usize = 8;

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_bytes {
            self.hit = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }
    fn tables(&self) -> usize {
        MAX_TABLES
    }
    fn memories(&self) -> usize {
        MAX_MEMORIES
    }
}

impl GuestState {
    async fn forward(&mut self, call: GuestCall) -> Result<String, GuestError> {
        let Some(bridge) = &self.bridge else {
            return Err(GuestError::Denied(
                "data access is not available to this invocation".into(),
            ));
        };
        let (reply, answer) = oneshot::channel();
        if bridge.send(DataRequest { call, reply }).await.is_err() {
            return Err(GuestError::Internal("the data call was not served".into()));
        }
        match tokio::time::timeout(self.host_call_timeout, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(GuestError::Internal("the data call was dropped".into())),
            Err(_) => Err(GuestError::Internal(format!(
                "the data call did not answer within {} ms",
                self.host_call_timeout.as_millis()
            ))),
        }
    }
}

impl types::Host for GuestState {}

impl data::Host for GuestState {
    async fn find(&mut self, object: String, query: String) -> Result<String, GuestError> {
        self.forward(GuestCall::Find { object, query }).await
    }

    async fn get(&mut self, object: String, id: String) -> Result<String, GuestError> {
        self.forward(GuestCall::Get { object, id }).await
    }

    async fn insert(&mut self, object: String, values: String) -> Result<String, GuestError> {
        self.forward(GuestCall::Insert { object, values }).await
    }

    async fn update(
        &mut self,
        object: String,
        id: String,
        patch: String,
    ) -> Result<String, GuestError> {
        self.forward(GuestCall::Update { object, id, patch }).await
    }

    async fn delete(&mut self, object: String, id: String) -> Result<(), GuestError> {
        self.forward(GuestCall::Delete { object, id })
            .await
            .map(|_| ())
    }
}

impl log::Host for GuestState {
    async fn log(&mut self, level: log::Level, message: String) {
        if self.log_left == 0 {
            return;
        }
        let message: String = message.chars().take(self.log_left).collect();
        self.log_left = self.log_left.saturating_sub(message.len().max(1));
        let body = &self.body;
        match level {
            log::Level::Debug => tracing::debug!(%body, "{message}"),
            log::Level::Info => tracing::info!(%body, "{message}"),
            log::Level::Warn => tracing::warn!(%body, "{message}"),
            log::Level::Error => tracing::error!(%body, "{message}"),
        }
    }
}
