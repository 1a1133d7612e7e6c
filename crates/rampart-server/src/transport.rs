//! The accept loop: HTTP/1.1 connections through hyper with the limits that keep the API
//! answering under slow or numerous clients.
//!
//! - **Header read timeout** (`header_read_timeout`): hyper closes a connection that has not
//!   sent a whole request head within it, from the moment the connection opens or the previous
//!   answer was sent (so idle keep-alive connections are closed too).
//! - **Body read timeout** (`body_read_timeout`): the whole body must arrive within it after
//!   the head; a slower body fails with 408 (see [`DeadlineBody`]).
//! - **Connection limits** (`max_connections`, `max_connections_per_source`): at a cap the
//!   oldest idle connection (waiting for a request head) of the source (or, at the global cap,
//!   of the source holding the most) is closed to make room; when none is idle the new
//!   connection is closed at once. A flood of slow connections so churns through its own
//!   slots, and a client that sends its request at once gets in, even from the flood's own
//!   address (see `ConnLimits::admit`).
//! - **JSON protocol errors**: hyper answers malformed request heads itself (400, 431) with an
//!   empty body; [`JsonErrors`] rewrites those answers on the way out into the house shape
//!   `{"error": {"code", "message"}}`.
//! - **Graceful shutdown**: on the shutdown signal the listener closes, idle connections are
//!   closed, in-flight requests finish.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::Router;
use http_body::Frame;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tower::ServiceExt as _;

use crate::metrics::{Counter, Metrics};
use crate::tokens::SourceKey;
use crate::ServerConfig;

/// Accept connections on `listener` and serve `app` on them until `shutdown` resolves, then
/// wait for open connections to finish (idle ones are closed at once).
pub async fn run(
    listener: TcpListener,
    app: Router,
    config: &ServerConfig,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()>,
) {
    let limits = Arc::new(ConnLimits::new(
        config.max_connections,
        config.max_connections_per_source,
    ));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout)
        .max_buf_size(config.max_header_bytes.max(8192));
    let body_timeout = config.body_read_timeout;
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    accept_error(e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let permit = match limits.admit(SourceKey::of(peer.ip())) {
            Some((permit, how)) => {
                if how == Admission::Evicted {
                    metrics.add(Counter::ConnectionsEvicted, 1);
                }
                permit
            }
            None => {
                metrics.add(Counter::ConnectionsRefused, 1);
                drop(stream);
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let slot = permit.slot.clone();
        let svc = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            let req = req.map(|b| Body::new(DeadlineBody::new(b, body_timeout)));
            let app = app.clone();
            let slot = slot.clone();
            slot.busy.store(true, Relaxed);
            async move {
                let resp = app.oneshot(req).await;
                slot.busy.store(false, Relaxed);
                resp
            }
        });
        let conn = http.serve_connection(TokioIo::new(JsonErrors::new(stream)), svc);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            tokio::select! {
                r = conn => if let Err(e) = r {
                    tracing::debug!(error = %e, peer = %peer, "connection ended with an error");
                },
                () = permit.slot.evict.notified() => {
                    tracing::debug!(peer = %peer, "idle connection evicted to make room");
                }
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// Accept errors: a connection that died before it was accepted is nothing; anything else
/// (out of file descriptors) is logged and the loop waits a little before accepting again.
async fn accept_error(e: io::Error) {
    use io::ErrorKind::*;
    if matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accept failed");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

// --- connection limits -------------------------------------------------------------------

/// One open connection, as the limits see it.
#[derive(Debug, Default)]
struct Slot {
    /// A request is being answered on it.
    busy: AtomicBool,
    /// Told to close (evicted to make room).
    evict: Notify,
}

/// Open connections, in total and per source, oldest first.
#[derive(Debug)]
struct ConnLimits {
    max_total: usize,
    max_per_source: usize,
    open: Mutex<OpenConns>,
}

#[derive(Debug, Default)]
struct OpenConns {
    total: usize,
    per_source: HashMap<SourceKey, VecDeque<Arc<Slot>>>,
}

/// What admitting a connection did.
#[derive(Debug, PartialEq, Eq)]
enum Admission {
    /// Room was free.
    Free,
    /// An idle connection was closed to make room.
    Evicted,
}

/// One admitted connection; dropping it frees its slot.
struct ConnPermit {
    limits: Arc<ConnLimits>,
    source: SourceKey,
    slot: Arc<Slot>,
}

impl OpenConns {
    /// Evict the oldest idle connection of `source`; whether there was one.
    fn evict_oldest_idle(&mut self, source: SourceKey) -> bool {
        let Some(q) = self.per_source.get_mut(&source) else {
            return false;
        };
        let Some(i) = q.iter().position(|s| !s.busy.load(Relaxed)) else {
            return false;
        };
        if let Some(slot) = q.remove(i) {
            slot.evict.notify_one();
        }
        if q.is_empty() {
            self.per_source.remove(&source);
        }
        self.total -= 1;
        true
    }
}

impl ConnLimits {
    fn new(max_total: usize, max_per_source: usize) -> Self {
        ConnLimits {
            max_total: max_total.max(1),
            max_per_source: max_per_source.max(1),
            open: Mutex::new(OpenConns::default()),
        }
    }

    /// Admit a connection from `source`. At the per-source cap the source's oldest idle
    /// connection (one waiting for a request head) is closed to make room; at the global cap
    /// the oldest idle one of the source holding the most. `None` when no idle one is there to
    /// close: the new connection is refused. So a flood of slow connections churns through
    /// its own slots, and a client that sends its request at once still gets in, even from
    /// the attacker's own address.
    fn admit(self: &Arc<Self>, source: SourceKey) -> Option<(ConnPermit, Admission)> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let mut how = Admission::Free;
        let n = open.per_source.get(&source).map_or(0, VecDeque::len);
        if n >= self.max_per_source {
            if !open.evict_oldest_idle(source) {
                return None;
            }
            how = Admission::Evicted;
        } else if open.total >= self.max_total {
            let biggest = open
                .per_source
                .iter()
                .max_by_key(|(_, q)| q.len())
                .map(|(k, _)| *k)?;
            if !open.evict_oldest_idle(biggest) {
                return None;
            }
            how = Admission::Evicted;
        }
        let slot = Arc::new(Slot::default());
        open.total += 1;
        open.per_source
            .entry(source)
            .or_default()
            .push_back(slot.clone());
        let permit = ConnPermit {
            limits: self.clone(),
            source,
            slot,
        };
        Some((permit, how))
    }
}

impl Drop for ConnPermit {
    fn drop(&mut self) {
        let mut open = self.limits.open.lock().unwrap_or_else(|e| e.into_inner());
        let Some(q) = open.per_source.get_mut(&self.source) else {
            return;
        };
        // Absent when it was evicted (already uncounted).
        let Some(i) = q.iter().position(|s| Arc::ptr_eq(s, &self.slot)) else {
            return;
        };
        q.remove(i);
        if q.is_empty() {
            open.per_source.remove(&self.source);
        }
        open.total -= 1;
    }
}

// --- body deadline -----------------------------------------------------------------------

/// The request body did not arrive within the body read timeout.
#[derive(Debug, thiserror::Error)]
#[error("request body not received within the body read timeout")]
pub struct BodyTimeout;

/// A request body that fails with [`BodyTimeout`] unless it is whole by a deadline set when
/// the head arrived. The timer is only made when the body is first read.
pub struct DeadlineBody {
    inner: Incoming,
    deadline: tokio::time::Instant,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl DeadlineBody {
    /// `inner`, due within `timeout` from now.
    pub fn new(inner: Incoming, timeout: Duration) -> Self {
        DeadlineBody {
            inner,
            deadline: tokio::time::Instant::now() + timeout,
            sleep: None,
        }
    }
}

impl http_body::Body for DeadlineBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if let Poll::Ready(f) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(f.map(|r| r.map_err(Into::into)));
        }
        let deadline = this.deadline;
        let sleep = this
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        ready!(sleep.as_mut().poll(cx));
        Poll::Ready(Some(Err(BodyTimeout.into())))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

// --- JSON protocol errors ----------------------------------------------------------------

/// A connection whose answers hyper makes itself (a bodiless 4xx/5xx for a request head it
/// could not parse) are rewritten into JSON error answers; everything else passes through.
///
/// The router never answers an error without a JSON body (see `error::json_errors`), so a
/// bodiless error head can only come from hyper. Writes are not vectored, so hyper hands each
/// head over in one buffer.
pub struct JsonErrors<S> {
    inner: S,
    /// A rewritten answer not yet written, and how much of it was.
    pending: Option<(Vec<u8>, usize)>,
}

impl<S> JsonErrors<S> {
    /// Wrap a connection.
    pub fn new(inner: S) -> Self {
        JsonErrors {
            inner,
            pending: None,
        }
    }
}

impl<S: AsyncWrite + Unpin> JsonErrors<S> {
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((buf, pos)) = &mut self.pending {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &buf[*pos..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *pos += n;
            if *pos == buf.len() {
                self.pending = None;
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for JsonErrors<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for JsonErrors<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        if let Some(answer) = json_protocol_error(buf) {
            this.pending = Some((answer, 0));
            // Written or not, the caller's bytes are taken; flush and shutdown finish it.
            let _ = this.poll_pending(cx)?;
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        false
    }
}

/// When `buf` is exactly one bodiless error answer head (`HTTP/1.x 4xx/5xx`, `content-length:
/// 0`, no content type), the same answer with a JSON error body.
pub fn json_protocol_error(buf: &[u8]) -> Option<Vec<u8>> {
    let rest = buf
        .strip_prefix(b"HTTP/1.1 ")
        .or_else(|| buf.strip_prefix(b"HTTP/1.0 "))?;
    let status: u16 = std::str::from_utf8(rest.get(..3)?).ok()?.parse().ok()?;
    if !(400..600).contains(&status) || !buf.ends_with(b"\r\n\r\n") {
        return None;
    }
    let head = std::str::from_utf8(&buf[..buf.len() - 4]).ok()?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let mut out = String::with_capacity(buf.len() + 160);
    out.push_str(status_line);
    out.push_str("\r\n");
    let mut bodiless = false;
    for line in lines {
        let (name, value) = line.split_once(':')?;
        if name.eq_ignore_ascii_case("content-type") {
            return None;
        }
        if name.eq_ignore_ascii_case("content-length") {
            if value.trim() != "0" {
                return None;
            }
            bodiless = true;
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    if !bodiless {
        return None;
    }
    let body = crate::error::ApiError::for_status(status)
        .json_body()
        .to_string();
    out.push_str("content-type: application/json\r\n");
    out.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
    out.push_str(&body);
    Some(out.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: Option<&str>) {
        let got = json_protocol_error(input.as_bytes()).map(|b| String::from_utf8(b).unwrap());
        assert_eq!(got.as_deref(), expected, "{input:?}");
    }

    #[test]
    fn rewrites_only_bodiless_error_heads() {
        check(
            "HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\ndate: x\r\n\r\n",
            Some("HTTP/1.1 400 Bad Request\r\ndate: x\r\ncontent-type: application/json\r\ncontent-length: 62\r\n\r\n{\"error\":{\"code\":\"bad_request\",\"message\":\"malformed request\"}}"),
        );
        check(
            "HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\n\r\n",
            Some("HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: 76\r\n\r\n{\"error\":{\"code\":\"headers_too_large\",\"message\":\"request headers too large\"}}"),
        );
        // Answers with a body, successes, partial heads and bodies pass through.
        check("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n", None);
        check(
            "HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}",
            None,
        );
        check("HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n", None);
        check(
            "HTTP/1.1 400 Bad Request\r\ncontent-length: 7\r\n\r\n",
            None,
        );
        check("{\"a\":1}", None);
    }

    #[test]
    fn connection_caps_evict_the_oldest_idle() {
        let l = Arc::new(ConnLimits::new(3, 2));
        let a = SourceKey::of("203.0.113.1".parse().unwrap());
        let b = SourceKey::of("203.0.113.2".parse().unwrap());
        let (a1, how) = l.admit(a).expect("a1");
        assert_eq!(how, Admission::Free);
        let (a2, _) = l.admit(a).expect("a2");
        // Per-source cap: a's oldest idle connection (a1) makes room.
        let (a3, how) = l.admit(a).expect("a3");
        assert_eq!(how, Admission::Evicted);
        assert!(notified(&a1.slot));
        // Busy connections are never evicted: with a2 and a3 busy, a is refused.
        a2.slot.busy.store(true, Relaxed);
        a3.slot.busy.store(true, Relaxed);
        assert!(l.admit(a).is_none());
        // Global cap (3): b takes the last free slot, then the next b evicts from the source
        // holding the most (a), but a's are busy, so it is refused.
        let (b1, how) = l.admit(b).expect("b1");
        assert_eq!(how, Admission::Free);
        assert!(l.admit(b).is_none());
        a3.slot.busy.store(false, Relaxed);
        let (_b2, how) = l.admit(b).expect("b2");
        assert_eq!(how, Admission::Evicted);
        assert!(notified(&a3.slot));
        drop((a1, a2, a3, b1));
        let open = l.open.lock().unwrap();
        assert_eq!((open.total, open.per_source.len()), (1, 1), "only b2 left");
    }

    /// Whether the slot was told to close (polls its `Notify` once).
    fn notified(slot: &Slot) -> bool {
        let n = slot.evict.notified();
        tokio::pin!(n);
        let mut cx = Context::from_waker(std::task::Waker::noop());
        n.poll(&mut cx).is_ready()
    }
}
