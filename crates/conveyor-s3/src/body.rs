//! Bodies between the listener, s3s and the store: a store download as the body s3s sends (its
//! streams must be `Sync`, the store's are only `Send`; polling needs `&mut`, so the wrapper
//! never locks), and a request body that says whether it was read to its end.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use conveyor_store::StoreError;
use futures_util::stream::BoxStream;
use futures_util::{Stream, StreamExt};
use sync_wrapper::SyncWrapper;

pub struct SyncBody(SyncWrapper<BoxStream<'static, Result<Bytes, StoreError>>>);

impl SyncBody {
    pub fn new(stream: BoxStream<'static, Result<Bytes, StoreError>>) -> SyncBody {
        SyncBody(SyncWrapper::new(stream))
    }
}

impl Stream for SyncBody {
    type Item = Result<Bytes, StoreError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().0.get_mut().as_mut().poll_next(cx)
    }
}

/// Whether a request's body was read to its end (or had none).
#[derive(Clone)]
pub struct BodyEnd(Arc<AtomicBool>);

impl BodyEnd {
    pub fn is_ended(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// The request, its body wrapped to record when it has been read to its end.
pub fn track_end(request: axum::extract::Request) -> (axum::extract::Request, BodyEnd) {
    use http_body::Body as _;
    let (parts, body) = request.into_parts();
    let ended = BodyEnd(Arc::new(AtomicBool::new(body.is_end_stream())));
    if ended.is_ended() {
        return (axum::extract::Request::from_parts(parts, body), ended);
    }
    let flag = ended.clone();
    let mut inner = body.into_data_stream();
    let tracked = futures_util::stream::poll_fn(move |cx| {
        let next = inner.poll_next_unpin(cx);
        if let Poll::Ready(None) = next {
            flag.0.store(true, Ordering::Release);
        }
        next
    });
    (
        axum::extract::Request::from_parts(parts, axum::body::Body::from_stream(tracked)),
        ended,
    )
}
