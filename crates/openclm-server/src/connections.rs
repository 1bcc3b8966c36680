//! Accepting and closing connections: how many the server holds at once and how long a slow or
//! idle client may keep one, so that a flood of stalled sockets cannot starve everyone else.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;
use tower::ServiceExt;

use crate::ApiError;

/// How many connections the server holds and how long a client may take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// A request's line and headers must arrive within this, else the connection is closed.
    pub header_read_timeout: Duration,
    /// A request's body must arrive within this after its headers, else the answer is 408.
    pub body_read_timeout: Duration,
    /// A connection with no request in flight for this long is closed.
    pub idle_timeout: Duration,
    /// Connections served at once; beyond, new ones wait in the listen queue for a free slot.
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_connections: 1024,
        }
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then lets every request in flight
/// finish and returns.
///
/// At the connection limit the loop stops accepting until a slot frees: waiting clients sit in
/// the kernel's listen queue, which costs the process neither a descriptor nor memory, and the
/// timeouts guarantee that a slot held by a stalled client frees within the header or idle
/// timeout. Accepting and closing at once would instead fail requests that a moment's wait
/// would have served.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let max = limits.max_connections.clamp(1, u32::MAX as usize);
    let slots = Arc::new(Semaphore::new(max));
    let (stop, stopping) = watch::channel(false);
    let mut http = hyper::server::conn::http1::Builder::new();
    // The header timeout is kept per connection (see `serve_connection`), not by hyper.
    http.timer(TokioTimer::new())
        .header_read_timeout(None)
        .keep_alive(true);
    let http = Arc::new(http);
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            () = &mut shutdown => break,
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
        };
        let stream = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of descriptors or memory, or the peer gone before accept: wait a
                    // little rather than spin, then carry on serving.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let (app, http, stopping) = (app.clone(), http.clone(), stopping.clone());
        let limits = limits.clone();
        tokio::spawn(async move {
            serve_connection(stream, app, &http, &limits, stopping).await;
            drop(slot);
        });
    }
    drop(listener);
    let _ = stop.send(true);
    // Every connection holds a slot until it ends: all slots back means all requests done.
    let _ = slots.acquire_many(max as u32).await;
    Ok(())
}

/// What a connection is doing: requests in flight, when the last one began or ended, and since
/// when the server has been waiting for a request's headers.
struct Activity {
    in_flight: AtomicUsize,
    last: std::sync::Mutex<Instant>,
    /// Set when the connection opens and when the first byte of a next request arrives; cleared
    /// when a request's headers are complete.
    awaiting_headers: std::sync::Mutex<Option<Instant>>,
    /// Wakes the connection's watch when any of the above changes, so its deadlines move.
    changed: tokio::sync::Notify,
}

impl Activity {
    fn new() -> Self {
        let now = Instant::now();
        Self {
            in_flight: AtomicUsize::new(0),
            last: std::sync::Mutex::new(now),
            awaiting_headers: std::sync::Mutex::new(Some(now)),
            changed: tokio::sync::Notify::new(),
        }
    }

    fn touch(&self) {
        if let Ok(mut last) = self.last.lock() {
            *last = Instant::now();
        }
        self.changed.notify_one();
    }

    /// Since when no request has been in flight, if none is.
    fn idle_since(&self) -> Option<Instant> {
        if self.in_flight.load(Ordering::SeqCst) > 0 {
            return None;
        }
        self.last.lock().ok().map(|last| *last)
    }

    fn awaiting_headers_since(&self) -> Option<Instant> {
        self.awaiting_headers.lock().ok().and_then(|since| *since)
    }

    fn set_awaiting_headers(&self, since: Option<Instant>) {
        if let Ok(mut awaiting) = self.awaiting_headers.lock() {
            *awaiting = since;
        }
        self.changed.notify_one();
    }

    /// Bytes arrived. Between requests they begin the next request's headers, which must then
    /// be complete within the header timeout; during a request they are its body.
    fn bytes_read(&self) {
        if self.in_flight.load(Ordering::SeqCst) == 0 && self.awaiting_headers_since().is_none() {
            self.set_awaiting_headers(Some(Instant::now()));
        }
    }
}

/// Counts a request as in flight until it is answered, even if its future is dropped.
struct InFlight(Arc<Activity>);

impl InFlight {
    /// Called once the request's headers are complete.
    fn begin(activity: Arc<Activity>) -> Self {
        activity.in_flight.fetch_add(1, Ordering::SeqCst);
        activity.set_awaiting_headers(None);
        activity.touch();
        Self(activity)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.0.touch();
    }
}

/// The connection's socket, telling its [`Activity`] when bytes arrive.
struct Watched {
    stream: TcpStream,
    activity: Arc<Activity>,
}

impl tokio::io::AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.bytes_read();
        }
        polled
    }
}

impl tokio::io::AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// Serves one connection until the client closes it, a timeout cuts it, or the server stops.
///
/// The header timeout runs from the connection's opening and from the first byte of each later
/// request; between requests, the idle timeout runs instead. (hyper's own header timeout also
/// runs between requests, which would end every keep-alive connection at the header timeout,
/// so it is off and this loop keeps the time instead.)
async fn serve_connection(
    stream: TcpStream,
    app: Router,
    http: &hyper::server::conn::http1::Builder,
    limits: &ConnectionLimits,
    mut stopping: watch::Receiver<bool>,
) {
    let activity = Arc::new(Activity::new());
    let service = {
        let activity = activity.clone();
        hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
            let in_flight = InFlight::begin(activity.clone());
            let answer = app.clone().oneshot(request.map(Body::new));
            async move {
                let response = answer.await;
                drop(in_flight);
                response
            }
        })
    };
    let io = Watched {
        stream,
        activity: activity.clone(),
    };
    let connection = http.serve_connection(TokioIo::new(io), service);
    tokio::pin!(connection);
    let mut closing = false;
    loop {
        let headers_due = activity
            .awaiting_headers_since()
            .map(|since| since + limits.header_read_timeout);
        let idle_due = match headers_due {
            // A request is arriving: the header timeout is the one that applies.
            Some(_) => None,
            None => activity
                .idle_since()
                .map(|since| since + limits.idle_timeout),
        };
        let wake = [headers_due, idle_due]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or_else(|| Instant::now() + limits.idle_timeout);
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(e) = result {
                    // Clients that hang up are routine; nothing here is personal.
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            () = activity.changed.notified() => {}
            () = tokio::time::sleep_until(wake) => {
                let now = Instant::now();
                if headers_due.is_some_and(|due| due <= now)
                    && activity.awaiting_headers_since().is_some()
                    && activity.in_flight.load(Ordering::SeqCst) == 0
                {
                    // Dropping the connection closes the socket: no answer is owed to a
                    // request that never arrived.
                    tracing::debug!("closing a connection whose request headers did not arrive in time");
                    return;
                }
                if !closing && idle_due.is_some_and(|due| due <= now) && activity.idle_since().is_some() {
                    closing = true;
                    connection.as_mut().graceful_shutdown();
                }
            }
            changed = stopping.changed(), if !closing => {
                if changed.is_err() || *stopping.borrow() {
                    closing = true;
                    connection.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// Gives every request body `timeout` to arrive; a body still incomplete then is cut, and the
/// request is answered 408 naming the body, on a connection then closed.
pub(crate) async fn body_deadline(timeout: Duration, request: Request, next: Next) -> Response {
    let expired = Arc::new(AtomicBool::new(false));
    let request = request.map(|body| {
        Body::new(DeadlineBody {
            inner: body,
            sleep: Box::pin(tokio::time::sleep(timeout)),
            expired: expired.clone(),
        })
    });
    let response = next.run(request).await;
    if !expired.load(Ordering::SeqCst) {
        return response;
    }
    let mut response = ApiError::RequestTimeout(format!(
        "body: not received within {} ms; send it faster or in smaller batches",
        timeout.as_millis()
    ))
    .into_response();
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// The body did not arrive in time.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive in time")]
pub(crate) struct BodyTimeout;

/// A request body that fails once its deadline passes.
struct DeadlineBody {
    inner: Body,
    sleep: Pin<Box<tokio::time::Sleep>>,
    expired: Arc<AtomicBool>,
}

impl HttpBody for DeadlineBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        if self.sleep.as_mut().poll(cx).is_ready() {
            self.expired.store(true, Ordering::SeqCst);
            return Poll::Ready(Some(Err(axum::Error::new(BodyTimeout))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
