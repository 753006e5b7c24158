//! The accept loop every HTTP listener runs (the API, the SQS and S3 endpoints): at most
//! `max_connections` at once, and no client may hold a connection by being slow. A request's
//! headers must arrive within `header_timeout` of its first byte and a body may pause at most
//! `body_timeout` (both answered 408); a kept-alive connection idle for `idle_timeout` is closed.
//! axum's own `serve` has none of these, so a client declaring a large body and sending nothing
//! held its connection for ever.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use bytes::Bytes;
use conveyor_config::ConnectionSettings;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify, Semaphore};
use tokio::time::{Instant, Sleep};
use tower::ServiceExt;

/// How long connections may finish their requests once a stop is asked.
const DRAIN: Duration = Duration::from_secs(30);

const TIMEOUT_MESSAGE: &str = "the client sent its request too slowly (headers or body stalled); send it again without pausing";

/// Serve `app` on `listener` until `stop` turns true, then let open connections finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionSettings,
    mut stop: watch::Receiver<bool>,
) -> io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let permit = tokio::select! {
            permit = slots.clone().acquire_owned() => permit.map_err(io::Error::other)?,
            () = stop_requested(&mut stop) => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of file descriptors and the like: wait a little rather than spin.
                Err(e) => {
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = stop_requested(&mut stop) => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let stop = stop.clone();
        connections.spawn(async move {
            connection(stream, app, limits, stop).await;
            tracing::trace!(%peer, "connection closed");
            drop(permit);
        });
        // Reap finished tasks so the set does not grow with every connection ever served.
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    let _ = tokio::time::timeout(DRAIN, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    Ok(())
}

/// What the connection's deadlines are measured from.
struct Activity {
    /// Requests whose response has not been fully written.
    in_flight: usize,
    /// When the connection last became idle (accepted, or a response finished).
    idle_since: Instant,
    /// The first byte of the next request, read while idle.
    request_started: Option<Instant>,
}

struct Progress {
    activity: Mutex<Activity>,
    changed: Notify,
}

impl Progress {
    /// A connection just accepted: nothing in flight, idle from now.
    fn idle() -> Progress {
        Progress {
            activity: Mutex::new(Activity {
                in_flight: 0,
                idle_since: Instant::now(),
                request_started: None,
            }),
            changed: Notify::new(),
        }
    }

    fn update(&self, f: impl FnOnce(&mut Activity)) {
        f(&mut self.activity.lock().unwrap_or_else(|e| e.into_inner()));
        self.changed.notify_one();
    }

    /// The instant the connection times out, and whether that earns a 408 (a request was
    /// under way) or a silent close (idle); none while a request is being served.
    fn deadline(&self, limits: &ConnectionSettings) -> Option<(Instant, bool)> {
        let a = self.activity.lock().unwrap_or_else(|e| e.into_inner());
        if a.in_flight > 0 {
            return None;
        }
        Some(match a.request_started {
            Some(start) => (start + limits.header_timeout.0, true),
            None => (a.idle_since + limits.idle_timeout.0, false),
        })
    }
}

/// Decrements the connection's in-flight count when the response body is dropped, which hyper
/// does once it is written (or the connection is gone).
struct InFlight(Arc<Progress>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.update(|a| {
            a.in_flight -= 1;
            a.idle_since = Instant::now();
            a.request_started = None;
        });
    }
}

async fn connection(
    stream: TcpStream,
    app: Router,
    limits: ConnectionSettings,
    mut stop: watch::Receiver<bool>,
) {
    let stream = Arc::new(stream);
    let progress = Arc::new(Progress::idle());
    let io = TokioIo::new(SharedStream {
        stream: stream.clone(),
        progress: progress.clone(),
    });
    let service_progress = progress.clone();
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        service_progress.update(|a| {
            a.in_flight += 1;
            a.request_started = None;
        });
        let guard = InFlight(service_progress.clone());
        let app = app.clone();
        async move {
            let stalled = Arc::new(AtomicBool::new(false));
            let request = request.map(|body| {
                Body::new(StallLimit {
                    inner: body,
                    limit: limits.body_timeout.0,
                    waiting: None,
                    stalled: stalled.clone(),
                })
            });
            let response = app.oneshot(request).await.into_response();
            // The handler saw the body fail; whatever it answered, the cause was the client.
            let response = if stalled.load(Ordering::Relaxed) {
                timeout_response()
            } else {
                response
            };
            Ok::<_, std::convert::Infallible>(response.map(|body| {
                Body::new(Guarded {
                    inner: body,
                    _guard: guard,
                })
            }))
        }
    });
    let mut conn = Box::pin(
        hyper::server::conn::http1::Builder::new()
            .keep_alive(true)
            .serve_connection(io, service),
    );
    let mut stopping = false;
    let timed_out = loop {
        let deadline = progress.deadline(&limits);
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            () = stop_requested(&mut stop), if !stopping => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
            () = progress.changed.notified() => {}
            () = tokio::time::sleep_until(deadline.map_or_else(Instant::now, |(at, _)| at)), if deadline.is_some() => {
                // Re-check: a request may have begun while the timer fired.
                if let Some((at, answer)) = progress.deadline(&limits) {
                    if at <= Instant::now() {
                        break answer;
                    }
                }
            }
        }
    };
    drop(conn);
    if timed_out {
        answer_timeout(&stream).await;
    }
}

/// Completes once a stop was asked (or the sender is gone).
async fn stop_requested(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

fn timeout_response() -> Response {
    let body =
        serde_json::json!({ "error": { "code": "request_timeout", "message": TIMEOUT_MESSAGE } });
    let mut response = (StatusCode::REQUEST_TIMEOUT, axum::Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// A 408 written straight to the socket, for a client whose headers never completed (hyper has
/// no request to answer then), then the write side is shut so the client reads it.
async fn answer_timeout(stream: &TcpStream) {
    let body = format!(r#"{{"error":{{"code":"request_timeout","message":"{TIMEOUT_MESSAGE}"}}}}"#);
    let message = format!(
        "HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut rest = message.as_bytes();
    let written = tokio::time::timeout(Duration::from_secs(1), async {
        while !rest.is_empty() {
            if stream.writable().await.is_err() {
                return;
            }
            match stream.try_write(rest) {
                Ok(n) => rest = &rest[n..],
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => return,
            }
        }
    })
    .await;
    if written.is_ok() {
        let _ = socket2::SockRef::from(stream).shutdown(std::net::Shutdown::Write);
    }
}

/// The socket, shared with the connection task so it can still answer 408 once hyper has let
/// go; reads note the first byte of a request that arrives while the connection is idle.
struct SharedStream {
    stream: Arc<TcpStream>,
    progress: Arc<Progress>,
}

impl AsyncRead for SharedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            match self.stream.try_read_buf(buf) {
                Ok(n) => {
                    if n > 0 {
                        let mut a = self
                            .progress
                            .activity
                            .lock()
                            .unwrap_or_else(|e| e.into_inner());
                        if a.in_flight == 0 && a.request_started.is_none() {
                            a.request_started = Some(Instant::now());
                            drop(a);
                            self.progress.changed.notify_one();
                        }
                    }
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    std::task::ready!(self.stream.poll_read_ready(cx))?;
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl SharedStream {
    /// Runs one non-blocking write, waiting for the socket to be writable when it would block.
    fn write_when_ready(
        &self,
        cx: &mut Context<'_>,
        mut attempt: impl FnMut(&TcpStream) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        loop {
            match attempt(&self.stream) {
                Ok(n) => return Poll::Ready(Ok(n)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    std::task::ready!(self.stream.poll_write_ready(cx))?;
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncWrite for SharedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.write_when_ready(cx, |stream| stream.try_write(buf))
    }

    /// Without this hyper copies every response body into one buffer of its own before
    /// writing, which was a tenth of the server's CPU on 1 MiB GETs; with it the head and the
    /// body's blocks go to the kernel in one `writev`, uncopied.
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.write_when_ready(cx, |stream| stream.try_write_vectored(bufs))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(socket2::SockRef::from(&*self.stream).shutdown(std::net::Shutdown::Write))
    }
}

/// A request body that fails once it has made the handler wait `limit` for its next frame.
struct StallLimit {
    inner: Incoming,
    limit: Duration,
    waiting: Option<Pin<Box<Sleep>>>,
    stalled: Arc<AtomicBool>,
}

#[derive(Debug, thiserror::Error)]
#[error("the request body stalled for longer than {0:?}")]
struct BodyStalled(Duration);

impl hyper::body::Body for StallLimit {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                this.waiting = None;
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => {
                let limit = this.limit;
                let timer = this
                    .waiting
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
                match timer.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        this.stalled.store(true, Ordering::Relaxed);
                        Poll::Ready(Some(Err(Box::new(BodyStalled(limit)))))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A response body that keeps the connection's request counted until it is dropped.
struct Guarded {
    inner: Body,
    _guard: InFlight,
}

impl hyper::body::Body for Guarded {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// hyper hands over several slices and resumes after however many bytes the kernel took,
    /// which may end inside a slice: what the peer reads must be every byte, in order.
    #[tokio::test]
    async fn vectored_writes_reach_the_peer_whole_and_in_order() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let reader = tokio::spawn(async move {
            let (mut peer, _) = listener.accept().await.unwrap();
            let mut received = Vec::new();
            peer.read_to_end(&mut received).await.unwrap();
            received
        });
        let stream = TcpStream::connect(address).await.unwrap();
        // A small send buffer makes the kernel take partial writes.
        socket2::SockRef::from(&stream)
            .set_send_buffer_size(4096)
            .unwrap();
        let mut shared = SharedStream {
            stream: Arc::new(stream),
            progress: Arc::new(Progress::idle()),
        };
        assert!(shared.is_write_vectored());
        let head = b"HTTP/1.1 200 OK\r\n\r\n".to_vec();
        let body: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let tail = b"end".to_vec();
        let slices = [head.as_slice(), body.as_slice(), tail.as_slice()];
        let (mut slice, mut offset) = (0, 0);
        while slice < slices.len() {
            let mut pending = vec![io::IoSlice::new(&slices[slice][offset..])];
            pending.extend(slices[slice + 1..].iter().map(|s| io::IoSlice::new(s)));
            let mut written = shared.write_vectored(&pending).await.unwrap();
            assert!(written > 0);
            while slice < slices.len() && written >= slices[slice].len() - offset {
                written -= slices[slice].len() - offset;
                slice += 1;
                offset = 0;
            }
            offset += written;
        }
        shared.shutdown().await.unwrap();
        let expected: Vec<u8> = slices.concat();
        let received = tokio::time::timeout(Duration::from_secs(30), reader)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(received.len(), expected.len());
        assert!(
            received == expected,
            "bytes arrived altered or out of order"
        );
    }
}
