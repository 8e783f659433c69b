//! The loopback HTTP endpoint of `kiosk run`: `/healthz` (the process is alive and its loop
//! turns), `/readyz` (it serves people) and `/metrics` (Prometheus text format). A minimal
//! HTTP/1.1 responder: GET/HEAD only, one request per connection, bounded head and time, so
//! a stuck or hostile client cannot hold the kiosk.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::metrics::Metrics;

/// Largest request head read; anything longer is refused.
const MAX_HEAD: usize = 8 * 1024;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// `/healthz` fails when the session loop has not ticked for this long (it ticks at every turn,
/// at least every input timeout; a device step may hold it for seconds).
const STALE_AFTER_MS: i64 = 30_000;

/// What the endpoint reports; shared with the service loop.
#[derive(Debug)]
pub struct HealthState {
    pub metrics: Arc<Metrics>,
    /// Last tick of the service loop, ms since the epoch.
    last_tick_ms: AtomicI64,
    /// Ticks older than this mean the loop is hung.
    stale_after_ms: i64,
}

impl HealthState {
    pub fn new(metrics: Arc<Metrics>) -> Arc<HealthState> {
        Self::with_stale_after(metrics, Duration::from_millis(STALE_AFTER_MS as u64))
    }

    /// A loop that has not ticked for `stale_after` is hung (tests shorten it).
    pub fn with_stale_after(metrics: Arc<Metrics>, stale_after: Duration) -> Arc<HealthState> {
        let stale_after_ms = i64::try_from(stale_after.as_millis()).unwrap_or(i64::MAX);
        Arc::new(HealthState { metrics, last_tick_ms: AtomicI64::new(crate::store::unix_ms_now()), stale_after_ms })
    }

    /// The service loop is alive.
    pub fn tick(&self) {
        self.last_tick_ms.store(crate::store::unix_ms_now(), Ordering::Relaxed);
    }

    /// The service loop ticked recently (what `/healthz` and the watchdog pings follow).
    pub fn alive(&self) -> bool {
        crate::store::unix_ms_now() - self.last_tick_ms.load(Ordering::Relaxed) < self.stale_after_ms
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HealthError {
    #[error("health endpoint cannot listen on {address}: {source}. Another process holds the port, or `health.listen` is wrong")]
    Bind { address: String, source: std::io::Error },
}

/// Binds the listener (before READY is sent, so a bad address stops the start).
pub async fn bind(address: &str) -> Result<TcpListener, HealthError> {
    TcpListener::bind(address).await.map_err(|source| HealthError::Bind { address: address.to_owned(), source })
}

/// Serves until `stop` turns true.
pub async fn serve(listener: TcpListener, state: Arc<HealthState>, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = stop.changed() => {
                if *stop.borrow() { break; }
            }
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let state = Arc::clone(&state);
                    tokio::spawn(async move {
                        if let Err(error) = tokio::time::timeout(REQUEST_TIMEOUT, answer(stream, &state)).await {
                            tracing::debug!(%error, "health request timed out");
                        }
                    });
                }
                Err(error) => {
                    tracing::warn!(%error, "health endpoint accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
}

/// The response to a request line: status, content type, body.
pub fn route(method: &str, path: &str, state: &HealthState) -> (u16, &'static str, String) {
    const TEXT: &str = "text/plain; charset=utf-8";
    if method != "GET" && method != "HEAD" {
        return (405, TEXT, "only GET and HEAD\n".into());
    }
    match path.split('?').next().unwrap_or("") {
        "/healthz" if state.alive() => (200, TEXT, "ok\n".into()),
        "/healthz" => (503, TEXT, "service loop stalled\n".into()),
        "/readyz" if state.alive() && state.metrics.ready() => (200, TEXT, "ready\n".into()),
        "/readyz" => (503, TEXT, "not ready: starting, stopping or a device is out of service\n".into()),
        "/metrics" => (200, "text/plain; version=0.0.4; charset=utf-8", state.metrics.render()),
        _ => (404, TEXT, "not found; try /healthz, /readyz or /metrics\n".into()),
    }
}

async fn answer(mut stream: TcpStream, state: &HealthState) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
        if head.len() > MAX_HEAD {
            return respond(&mut stream, 431, "text/plain", "request head too large\n", false).await;
        }
    }
    let line = head.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.trim_end().split(' ');
    let (method, path, version) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    if !version.starts_with("HTTP/1.") {
        return respond(&mut stream, 400, "text/plain", "expected HTTP/1.x\n", false).await;
    }
    let (status, content_type, body) = route(method, path, state);
    respond(&mut stream, status, content_type, &body, method == "HEAD").await
}

async fn respond(stream: &mut TcpStream, status: u16, content_type: &str, body: &str, head_only: bool) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        _ => "Service Unavailable",
    };
    let mut response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    );
    if !head_only {
        response.push_str(body);
    }
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}
