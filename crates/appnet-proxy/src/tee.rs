//! A response body passed to the client as it arrives from the origin and, when it is to be
//! stored, kept on the side: if it ends whole and within the limit, the kept bytes go to
//! `on_whole` (which stores the response); if the origin cuts it off, sends an error or goes
//! past the limit, nothing is stored. If the client goes away first, the rest is still read
//! (in a task of its own) and stored, as Varnish does, so that the requests waiting for this
//! fetch, and the next ones, get it. Large and chunked bodies thus reach the client without
//! waiting for their end, and without the proxy's size limit.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming, SizeHint};

/// Time the rest of a body may take once its client has gone.
const FINISH_WITHIN: std::time::Duration = std::time::Duration::from_secs(60);

/// What to do with a body that arrived whole.
pub(crate) type OnWhole = Box<dyn FnOnce(Bytes) + Send>;

/// The origin's body, forwarded frame by frame and kept (up to `limit`) for the store.
pub(crate) struct Tee {
    /// `None` only once handed to the task that finishes it.
    inner: Option<Incoming>,
    kept: Option<BytesMut>,
    limit: usize,
    on_whole: Option<OnWhole>,
}

impl Tee {
    /// Hands the kept body to `on_whole`, once, if the origin's body has ended.
    fn finish_if_ended(&mut self) {
        if self.inner.as_ref().is_none_or(Body::is_end_stream) {
            if let (Some(kept), Some(on_whole)) = (self.kept.take(), self.on_whole.take()) {
                on_whole(kept.freeze());
            }
        }
    }

    /// Forwards `inner`; keeps it for `on_whole` if `on_whole` is given and it stays within
    /// `limit` bytes.
    pub(crate) fn new(inner: Incoming, limit: usize, on_whole: Option<OnWhole>) -> Self {
        let kept = on_whole.as_ref().map(|_| BytesMut::new());
        Self { inner: Some(inner), kept, limit, on_whole }
    }
}

impl Body for Tee {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = &mut *self;
        let Some(inner) = this.inner.as_mut() else { return Poll::Ready(None) };
        match Pin::new(inner).poll_frame(context) {
            Poll::Ready(Some(Ok(frame))) => {
                if let (Some(data), Some(kept)) = (frame.data_ref(), this.kept.as_mut()) {
                    if kept.len() + data.len() > this.limit {
                        this.kept = None;
                        this.on_whole = None;
                    } else {
                        kept.extend_from_slice(data);
                    }
                }
                // A body of known length is over with its last byte: the server writing it
                // need not poll again to learn so.
                this.finish_if_ended();
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(error))) => {
                // Cut off or broken: the client sees the error, the store never sees the body.
                this.kept = None;
                this.on_whole = None;
                Poll::Ready(Some(Err(error)))
            }
            Poll::Ready(None) => {
                if let (Some(kept), Some(on_whole)) = (this.kept.take(), this.on_whole.take()) {
                    on_whole(kept.freeze());
                }
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.as_ref().map_or_else(|| SizeHint::with_exact(0), Body::size_hint)
    }
}

impl Drop for Tee {
    fn drop(&mut self) {
        // The client went away mid-body, and the body was to be stored: read the rest.
        let (Some(inner), Some(mut kept), Some(on_whole)) =
            (self.inner.take(), self.kept.take(), self.on_whole.take())
        else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let limit = self.limit;
        runtime.spawn(async move {
            let mut inner = inner;
            let rest = async {
                while let Some(frame) = inner.frame().await {
                    let data = frame.ok()?.into_data().unwrap_or_default();
                    if kept.len() + data.len() > limit {
                        return None;
                    }
                    kept.extend_from_slice(&data);
                }
                Some(kept.freeze())
            };
            // An origin that stalls does not hold the fetch (and those waiting on it) for ever.
            if let Ok(Some(body)) = tokio::time::timeout(FINISH_WITHIN, rest).await {
                on_whole(body);
            }
        });
    }
}
