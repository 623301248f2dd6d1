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
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

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
    /// A service plugin's method (function bodies only).
    Service {
        plugin: String,
        method: String,
        payload: String,
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
    stdout_seen: usize,
    stderr_seen: usize,
    max_log_bytes: usize,
    http: WasiHttpCtx,
    /// Where a plugin granted `http:outbound:<host>` may send requests (nobody else links wasi:http).
    pub(super) outbound: OutboundHttp,
    /// When the current call must end: the epoch callback lets the guest run on, a tick at a time, until then.
    pub(super) deadline: Option<std::time::Instant>,
    /// Set when a data call outlived the host-call timeout (its milliseconds): the invocation then fails.
    pub(super) host_call_timed_out: Option<u128>,
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
            stdout_seen: 0,
            stderr_seen: 0,
            max_log_bytes,
            http: WasiHttpCtx::new(),
            outbound: OutboundHttp::default(),
            deadline: None,
            host_call_timed_out: None,
        }
    }

    /// A long-lived (plugin) instance's stdout and stderr go nowhere: a capped pipe would fill and then fail
    /// the guest's writes for the rest of its life. Plugins log through the `log` interface.
    pub(super) fn discard_stdio(&mut self) {
        self.wasi = wasmtime_wasi::WasiCtxBuilder::new().build();
    }

    /// Before each call into a long-lived (plugin) instance: its data calls go to `bridge`, and its log
    /// allowance and memory-limit flag start afresh.
    pub(super) fn rearm(&mut self, bridge: Option<DataBridge>) {
        self.bridge = bridge;
        self.log_left = self.max_log_bytes;
        self.limiter.hit = false;
        self.host_call_timed_out = None;
    }

    /// Whatever the guest printed, into the host log (capped by the pipes). A long-lived instance's pipes
    /// keep filling; only what is new since the last call is logged.
    pub(super) fn flush_output(&mut self) {
        for (stream, pipe, seen) in [
            ("stdout", &self.stdout, &mut self.stdout_seen),
            ("stderr", &self.stderr, &mut self.stderr_seen),
        ] {
            let all = pipe.contents();
            let bytes = all.get(*seen..).unwrap_or_default();
            *seen = all.len();
            if !bytes.is_empty() {
                tracing::info!(body = %self.body, stream, "{}", String::from_utf8_lossy(bytes).trim_end());
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

impl WasiHttpView for GuestState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.outbound,
        }
    }
}

/// The host side of a plugin's outbound HTTP: a request goes out only to an authority (`host` or
/// `host:port`) the operator granted with `http:outbound:<host[:port]>`; anything else is refused
/// (`HTTP-request-denied` to the guest) before a connection is made.
#[derive(Clone, Debug, Default)]
pub struct OutboundHttp {
    pub plugin: String,
    /// Lowercase `host` (default ports only) or `host:port`.
    pub allowed: Vec<String>,
}

impl OutboundHttp {
    /// Whether `uri` is one of the granted destinations. A grant without a port admits the scheme's
    /// default port only, so `http:outbound:example.com` does not open `example.com:22`.
    pub fn allows(&self, uri: &http::Uri) -> bool {
        let Some(host) = uri.host() else {
            return false;
        };
        let host = host.to_ascii_lowercase();
        let default_port = match uri.scheme_str() {
            Some("https") => 443,
            _ => 80,
        };
        let port = uri.port_u16().unwrap_or(default_port);
        self.allowed.iter().any(|a| match a.rsplit_once(':') {
            Some((h, p)) if !h.is_empty() && p.chars().all(|c| c.is_ascii_digit()) => {
                *h == host && p.parse::<u16>().ok() == Some(port)
            }
            _ => *a == host && port == default_port,
        })
    }
}

type SendResult = wasmtime_wasi_http::Result<(
    http::Response<wasmtime_wasi_http::WasiBody>,
    Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
)>;

impl WasiHttpHooks for OutboundHttp {
    fn send_request(
        &mut self,
        request: http::Request<wasmtime_wasi_http::WasiBody>,
        options: Option<wasmtime_wasi_http::RequestOptions>,
        fut: Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> Box<dyn Future<Output = SendResult> + Send> {
        drop(fut);
        if !self.allows(request.uri()) {
            tracing::warn!(plugin = %self.plugin, uri = %request.uri(), "outbound HTTP refused: not granted");
            return Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) });
        }
        tracing::debug!(plugin = %self.plugin, uri = %request.uri(), "outbound HTTP");
        // Resolved, checked and connected by the host (DNS rebinding, private ranges): sandbox/outbound.rs.
        let plugin = self.plugin.clone();
        Box::new(async move { super::outbound::send(&plugin, request, options).await })
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
            Err(_) => {
                let ms = self.host_call_timeout.as_millis();
                self.host_call_timed_out = Some(ms);
                Err(GuestError::Internal(format!(
                    "FUNCTION_HOST_CALL_TIMEOUT: the data call did not answer within {ms} ms"
                )))
            }
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

impl super::bindings::function::objectos::host::services::Host for GuestState {
    async fn call(
        &mut self,
        plugin: String,
        method: String,
        payload: String,
    ) -> Result<String, GuestError> {
        self.forward(GuestCall::Service {
            plugin,
            method,
            payload,
        })
        .await
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
