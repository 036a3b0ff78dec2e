//! The server's connections: HTTP/1.1 over hyper with the limits a deployment needs against slow
//! or idle clients, which would otherwise each hold a connection (a task and a file) for ever.
//!
//! - **Header-read timeout** (`--header-read-timeout-s`, default 10 s): a client must send a
//!   request's whole header within this time of connecting or of starting it; hyper's own timer.
//! - **Idle timeout** (`--idle-timeout-s`, default 60 s): a keep-alive connection with no request
//!   in progress and no byte read or written for this long is closed.
//! - **Connection cap** (`--max-connections`, default 4,096): a connection over the cap is
//!   answered `503` with `Retry-After: 1` and closed at once, so the process never runs out of
//!   files and the clients already connected go on being served.
//!
//! axum's own `serve` has none of these knobs, so the accept loop is written here, on hyper's
//! connection API, with the same graceful stop: on shutdown, idle connections close at once and
//! a request in progress is answered first.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt;

pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;

/// How long and how many clients may hold connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// What happened to connections, over every life of the server (for `/metrics`).
#[derive(Debug, Default)]
pub struct ConnectionCounts {
    pub accepted: AtomicU64,
    pub open: AtomicU64,
    /// Turned away at the cap.
    pub refused: AtomicU64,
    /// Closed because the header did not arrive in time.
    pub header_timeouts: AtomicU64,
    /// Closed after the idle timeout.
    pub idle_closed: AtomicU64,
}

impl ConnectionCounts {
    /// The counts as Prometheus text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (name, kind, help, value) in [
            (
                "accepted_total",
                "counter",
                "Connections accepted.",
                &self.accepted,
            ),
            ("open", "gauge", "Connections open now.", &self.open),
            (
                "refused_total",
                "counter",
                "Connections turned away (503) at the cap, --max-connections.",
                &self.refused,
            ),
            (
                "header_timeouts_total",
                "counter",
                "Connections closed because a request's header did not arrive within \
                 --header-read-timeout-s.",
                &self.header_timeouts,
            ),
            (
                "idle_closed_total",
                "counter",
                "Keep-alive connections closed after --idle-timeout-s without a request.",
                &self.idle_closed,
            ),
        ] {
            let v = value.load(Ordering::Relaxed);
            out.push_str(&format!(
                "# HELP baoan_connections_{name} {help}\n# TYPE baoan_connections_{name} {kind}\n\
                 baoan_connections_{name} {v}\n"
            ));
        }
        out
    }
}

/// Serves `router` on `listener` until `stop` resolves, then stops gracefully: no new
/// connections, idle ones closed, requests in progress answered.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    counts: Arc<ConnectionCounts>,
    stop: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let (stopping, stopped) = watch::channel(false);
    let mut stop = std::pin::pin!(stop);
    loop {
        let (stream, _) = tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                // Out of files or a connection reset before it was taken: not the server's end.
                Err(e) => {
                    eprintln!("twin: cannot accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        counts.accepted.fetch_add(1, Ordering::Relaxed);
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            counts.refused.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(turn_away(stream));
            continue;
        };
        counts.open.fetch_add(1, Ordering::Relaxed);
        let (router, counts, stopped) = (router.clone(), Arc::clone(&counts), stopped.clone());
        tokio::spawn(async move {
            connection(stream, router, limits, &counts, stopped).await;
            counts.open.fetch_sub(1, Ordering::Relaxed);
            drop(permit);
        });
    }
    drop(listener);
    let _ = stopping.send(true);
    // Every connection holds a permit until it has closed.
    let _ = permits.acquire_many(limits.max_connections as u32).await;
    Ok(())
}

/// Answers a connection over the cap `503` and closes it.
async fn turn_away(mut stream: TcpStream) {
    let body = baoan_api::http::error_body(
        "too_many_connections",
        "the server holds as many connections as it may; retry in a second",
    );
    let body = serde_json::Value::Object(body).to_string();
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\n\
         connection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(answer.as_bytes())).await;
    let _ = stream.shutdown().await;
}

/// One connection, its timeouts watched.
async fn connection(
    stream: TcpStream,
    router: Router,
    limits: ConnectionLimits,
    counts: &ConnectionCounts,
    mut stopped: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched {
        inner: stream,
        activity: Arc::clone(&activity),
    });
    let in_flight = Arc::clone(&activity);
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let router = router.clone();
        let guard = InFlight::start(Arc::clone(&in_flight));
        async move {
            let response = router
                .oneshot(request.map(Body::new))
                .await
                .unwrap_or_else(|e: Infallible| match e {});
            drop(guard);
            Ok::<_, Infallible>(response)
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    let conn = builder.serve_connection(io, service);
    let mut conn = std::pin::pin!(conn);
    let check = (limits.idle_timeout / 4).clamp(Duration::from_millis(10), Duration::from_secs(1));
    let mut closing = false;
    loop {
        tokio::select! {
            served = conn.as_mut() => {
                if let Err(e) = served
                    && e.is_timeout()
                {
                    counts.header_timeouts.fetch_add(1, Ordering::Relaxed);
                }
                return;
            }
            _ = stopped.changed(), if !closing => {
                closing = true;
                conn.as_mut().graceful_shutdown();
            }
            _ = tokio::time::sleep(check), if !closing => {
                if activity.idle_for() >= limits.idle_timeout {
                    counts.idle_closed.fetch_add(1, Ordering::Relaxed);
                    closing = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// When a connection last moved a byte, and how many of its requests are being answered.
struct Activity {
    born: Instant,
    /// Milliseconds since `born`.
    last: AtomicU64,
    in_flight: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Activity {
            born: Instant::now(),
            last: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        self.last
            .store(self.born.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    /// How long the connection has been idle: zero while a request is being answered.
    fn idle_for(&self) -> Duration {
        if self.in_flight.load(Ordering::Relaxed) > 0 {
            return Duration::ZERO;
        }
        let now = self.born.elapsed().as_millis() as u64;
        Duration::from_millis(now.saturating_sub(self.last.load(Ordering::Relaxed)))
    }
}

/// A request being answered; the connection is active until it is dropped.
struct InFlight(Arc<Activity>);

impl InFlight {
    fn start(activity: Arc<Activity>) -> Self {
        activity.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(activity)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A socket that notes each byte it moves.
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
        if buf.filled().len() > before {
            self.activity.touch();
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
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
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
