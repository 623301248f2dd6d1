//! The accept loop and the per-connection limits `axum::serve` does not offer: a header-read timeout (a client
//! must finish a request's head within it, counted from its first byte), a keep-alive idle timeout (a connection
//! with no request under way and no byte moving is closed), a cap on open connections (a connection past it is
//! answered 503 `TOO_MANY_CONNECTIONS` and closed, never queued), and graceful shutdown (stop accepting, let
//! requests under way finish, close idle connections). The per-request timeout is a router layer
//! ([`request_deadline`]). Each connection is served by hyper's HTTP/1.1 server; the peer address reaches handlers
//! as axum's `ConnectInfo<SocketAddr>`.

use super::{HttpConfig, Shared};
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;
use tower::ServiceExt;

/// Connections past the cap being answered 503 at once; past this many, they are closed without an answer.
const REFUSALS_IN_FLIGHT: usize = 64;
/// How long a refused connection is given to take its 503 (and have its request read and dropped).
const REFUSAL_GRACE: Duration = Duration::from_secs(1);

/// Serves `state`'s router on `listener` until `shutdown` resolves, then waits for the open connections to
/// finish their requests.
pub async fn serve(
    listener: TcpListener,
    state: Shared,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = Limits::from(&state.config);
    let app = super::router(state);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let refusals = Arc::new(Semaphore::new(REFUSALS_IN_FLIGHT));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut builder = hyper::server::conn::http1::Builder::new();
    // The header timeout is enforced by `watch_connection` (hyper's own would also cut keep-alive idle time).
    builder.header_read_timeout(None).keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait a moment instead of spinning.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            if let Ok(permit) = refusals.clone().try_acquire_owned() {
                tokio::spawn(async move {
                    refuse(stream).await;
                    drop(permit);
                });
            }
            continue;
        };
        let _ = stream.set_nodelay(true);
        let activity = Arc::new(Activity::new());
        let io = TokioIo::new(Watched {
            inner: stream,
            activity: activity.clone(),
        });
        let service = hyper::service::service_fn({
            let app = app.clone();
            let activity = activity.clone();
            move |mut req: hyper::Request<Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                let busy = activity.begin_request();
                let app = app.clone();
                async move {
                    let response = app.oneshot(req).await;
                    drop(busy);
                    response
                }
            }
        });
        let conn = builder.serve_connection(io, service);
        let stop = stop_rx.clone();
        tokio::spawn(async move {
            watch_connection(conn, activity, limits, stop).await;
            drop(slot);
        });
    }
    let _ = stop_tx.send(true);
    // Every connection holds a slot until it ends: holding all of them means all have ended.
    let _ = slots.acquire_many(limits.max_connections as u32).await;
    Ok(())
}

#[derive(Clone, Copy, Debug)]
struct Limits {
    header_timeout: Duration,
    idle_timeout: Duration,
    max_connections: usize,
}

impl From<&HttpConfig> for Limits {
    fn from(c: &HttpConfig) -> Self {
        Limits {
            header_timeout: c.header_timeout.max(Duration::from_millis(1)),
            idle_timeout: c.idle_timeout.max(Duration::from_millis(1)),
            max_connections: c
                .max_connections
                .clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize)),
        }
    }
}

/// Drives one connection, closing it when a limit runs out, and gracefully when the server stops.
async fn watch_connection<S>(
    conn: hyper::server::conn::http1::Connection<TokioIo<Watched>, S>,
    activity: Arc<Activity>,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) where
    S: hyper::service::HttpService<Incoming, ResBody = axum::body::Body>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    tokio::pin!(conn);
    let mut stopping = *stop.borrow();
    if stopping {
        conn.as_mut().graceful_shutdown();
    }
    loop {
        // A deadline moves later on its own (bytes moving); when it may come nearer (a request head began, with
        // a header timeout shorter than the idle one) `nearer` wakes the loop. While a request runs, look again
        // after an idle period.
        let deadline = activity.deadline(&limits);
        let wake = deadline.unwrap_or_else(|| Instant::now() + limits.idle_timeout);
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!("connection ended: {e}");
                }
                return;
            }
            _ = tokio::time::sleep_until(wake) => {
                if let Some(d) = activity.deadline(&limits)
                    && d <= Instant::now()
                {
                    tracing::debug!("connection closed: {}", activity.phase_name());
                    return;
                }
            }
            _ = activity.nearer.notified() => {}
            changed = stop.changed(), if !stopping => {
                stopping = true;
                if changed.is_ok() {
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// Answers a connection past the cap with 503 and closes it.
async fn refuse(mut stream: TcpStream) {
    let body = r#"{"error":"The server has as many open connections as it accepts; retry shortly","code":"TOO_MANY_CONNECTIONS"}"#;
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let answer = async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body.as_bytes()).await?;
        stream.shutdown().await?;
        // Read (and drop) what the client sent, so closing does not reset the connection before it reads the 503.
        let mut sink = [0u8; 4096];
        let mut left = 64 * 1024usize;
        while left > 0 {
            let n = stream.read(&mut sink).await?;
            if n == 0 {
                break;
            }
            left = left.saturating_sub(n);
        }
        std::io::Result::Ok(())
    };
    let _ = tokio::time::timeout(REFUSAL_GRACE, answer).await;
}

/// Where a connection stands, for its timeouts.
#[derive(Clone, Copy, Debug)]
enum Phase {
    /// Waiting for a request (after the connection opened, or since the last byte of the previous exchange).
    Idle { since: Instant },
    /// A request's head has begun arriving and is not complete.
    Head { since: Instant },
    /// A request is being handled (its head was complete).
    Busy,
}

#[derive(Debug)]
struct Activity {
    phase: Mutex<(Phase, usize)>,
    /// Told when the deadline may have come nearer (a request head began).
    nearer: tokio::sync::Notify,
}

impl Activity {
    fn new() -> Self {
        Activity {
            phase: Mutex::new((
                Phase::Idle {
                    since: Instant::now(),
                },
                0,
            )),
            nearer: tokio::sync::Notify::new(),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut (Phase, usize)) -> R) -> R {
        let mut guard = match self.phase.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard)
    }

    /// Bytes arrived: the first ones while idle start a request head.
    fn read(&self) {
        let began = self.with(|(phase, _)| {
            if let Phase::Idle { .. } = phase {
                *phase = Phase::Head {
                    since: Instant::now(),
                };
                return true;
            }
            false
        });
        if began {
            self.nearer.notify_one();
        }
    }

    /// Bytes left: an answer still streaming keeps an idle connection alive.
    fn wrote(&self) {
        self.with(|(phase, _)| {
            if let Phase::Idle { since } = phase {
                *since = Instant::now();
            }
        });
    }

    fn begin_request(self: &Arc<Self>) -> Busy {
        self.with(|(phase, running)| {
            *running += 1;
            *phase = Phase::Busy;
        });
        Busy(self.clone())
    }

    fn deadline(&self, limits: &Limits) -> Option<Instant> {
        self.with(|(phase, _)| match *phase {
            Phase::Idle { since } => Some(since + limits.idle_timeout),
            Phase::Head { since } => Some(since + limits.header_timeout),
            Phase::Busy => None,
        })
    }

    fn phase_name(&self) -> &'static str {
        self.with(|(phase, _)| match phase {
            Phase::Idle { .. } => "keep-alive idle timeout",
            Phase::Head { .. } => "header read timeout",
            Phase::Busy => "busy",
        })
    }
}

/// A request under way; when its handler is done the connection is idle again.
struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.with(|(phase, running)| {
            *running = running.saturating_sub(1);
            if *running == 0 {
                *phase = Phase::Idle {
                    since: Instant::now(),
                };
            }
        });
    }
}

/// A TCP stream that reports its reads and writes to the connection's [`Activity`].
struct Watched {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled
            && buf.filled().len() > before
        {
            self.activity.read();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = polled
            && n > 0
        {
            self.activity.wrote();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = polled
            && n > 0
        {
            self.activity.wrote();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Router layer: a handler that has not answered within the request timeout gets 503 `REQUEST_TIMEOUT`. The
/// handler itself runs on in its own task (see `detach`) so a transaction is never cut half-way.
pub(super) async fn request_deadline(
    axum::extract::State(state): axum::extract::State<Shared>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let limit = state.config.request_timeout.max(Duration::from_millis(1));
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => super::errors::ApiError::Plain {
            status: 503,
            code: "REQUEST_TIMEOUT",
            message: format!(
                "The request was not answered within the server's request timeout ({} ms)",
                limit.as_millis()
            ),
            object: None,
        }
        .into_response(),
    }
}
