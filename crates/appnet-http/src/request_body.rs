//! A request's body as the handlers see it, whichever engine read the request: hyper for
//! HTTP/1, the `h2` crate for HTTP/2 (see [`crate::h2`]), or none at all for a pushed request.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};

/// Why a request body could not be read.
pub type BodyError = Box<dyn std::error::Error + Send + Sync>;

/// The body of a request.
#[derive(Debug)]
pub enum RequestBody {
    /// Read by hyper (HTTP/1).
    Http1(Incoming),
    /// An HTTP/2 stream's DATA frames. Each frame's bytes are handed back to the stream's
    /// flow-control window as they are taken, so a large upload keeps flowing.
    Http2 {
        /// The stream.
        stream: Http2Stream,
        /// Whether the DATA frames have ended (trailers, if any, come next).
        data_done: bool,
    },
    /// No body (a server-pushed request, RFC 9113 §8.4).
    Empty,
}

impl RequestBody {
    /// An HTTP/2 stream's body.
    pub fn http2(stream: h2::RecvStream) -> Self {
        let stream = Http2Stream { stream: Some(stream), wanted: None };
        Self::Http2 { stream, data_done: false }
    }

    /// An HTTP/2 stream's body, and what says when a handler first reads it: the moment to
    /// send `100 Continue` to a client that asked (`Expect: 100-continue`), as hyper does for
    /// HTTP/1 — a request refused without reading its body gets its final response instead.
    pub fn http2_expecting(stream: h2::RecvStream) -> (Self, tokio::sync::oneshot::Receiver<()>) {
        let (wanted, read) = tokio::sync::oneshot::channel();
        let stream = Http2Stream { stream: Some(stream), wanted: Some(wanted) };
        (Self::Http2 { stream, data_done: false }, read)
    }
}

/// An HTTP/2 request's body stream. Dropped before its end — a request refused unread (401,
/// 405, 413), with or without `Expect: 100-continue` — it is held and drained for a moment
/// before `h2` resets the stream (RST_STREAM NO_ERROR, RFC 9113 §8.1): a reset in the same
/// write as the final response made Debian's curl 7.88 report an empty reply or fail (exit
/// 92) instead of taking the response, in about a quarter of plain refused POSTs.
#[derive(Debug)]
pub struct Http2Stream {
    stream: Option<h2::RecvStream>,
    wanted: Option<tokio::sync::oneshot::Sender<()>>,
}

/// How long an unread body is held after its response, and how much of it is taken then.
const HOLD_UNREAD: std::time::Duration = std::time::Duration::from_secs(1);
const DRAIN_AT_MOST: usize = 8 << 20;

impl Drop for Http2Stream {
    fn drop(&mut self) {
        let Some(mut stream) = self.stream.take() else { return };
        if stream.is_end_stream() {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                // What the client still sends is taken and dropped, up to a bound; a client
                // that asked for 100 Continue and was refused should send nothing.
                let drain = async {
                    let mut taken = 0;
                    while let Some(Ok(data)) = stream.data().await {
                        taken += data.len();
                        let _ = stream.flow_control().release_capacity(data.len());
                        if taken > DRAIN_AT_MOST {
                            return;
                        }
                    }
                };
                let _ = tokio::time::timeout(HOLD_UNREAD, drain).await;
            });
        }
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        match self.get_mut() {
            Self::Http1(incoming) => Pin::new(incoming).poll_frame(cx).map_err(Into::into),
            Self::Http2 { stream, data_done } => {
                if let Some(wanted) = stream.wanted.take() {
                    let _ = wanted.send(());
                }
                let Some(stream) = stream.stream.as_mut() else { return Poll::Ready(None) };
                if !*data_done {
                    match stream.poll_data(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Some(Ok(data))) => {
                            // Our window: the bytes are ours now, the peer may send more.
                            let _ = stream.flow_control().release_capacity(data.len());
                            return Poll::Ready(Some(Ok(Frame::data(data))));
                        }
                        Poll::Ready(Some(Err(error))) => {
                            return Poll::Ready(Some(Err(error.into())));
                        }
                        Poll::Ready(None) => *data_done = true,
                    }
                }
                match stream.poll_trailers(cx) {
                    Poll::Pending => Poll::Pending,
                    Poll::Ready(Ok(Some(trailers))) => {
                        Poll::Ready(Some(Ok(Frame::trailers(trailers))))
                    }
                    Poll::Ready(Ok(None)) => Poll::Ready(None),
                    Poll::Ready(Err(error)) => Poll::Ready(Some(Err(error.into()))),
                }
            }
            Self::Empty => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Http1(incoming) => incoming.is_end_stream(),
            Self::Http2 { stream, .. } => stream.stream.as_ref().is_none_or(|s| s.is_end_stream()),
            Self::Empty => true,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Http1(incoming) => incoming.size_hint(),
            Self::Http2 { .. } => SizeHint::default(),
            Self::Empty => SizeHint::with_exact(0),
        }
    }
}

/// A request body whose every piece must come within `patience` of the one before (nginx's
/// `client_body_timeout`): a client that stops sending mid-body is dropped instead of holding
/// its connection and its handler for good.
pub(crate) struct Patient<B> {
    body: B,
    patience: std::time::Duration,
    wait: Pin<Box<tokio::time::Sleep>>,
}

/// What [`Patient`] says of a body that stalled.
#[derive(Debug, thiserror::Error)]
#[error("the request body stalled for {0:?}")]
pub(crate) struct Stalled(std::time::Duration);

impl<B> Patient<B> {
    pub(crate) fn new(body: B, patience: std::time::Duration) -> Self {
        Self { body, patience, wait: Box::pin(tokio::time::sleep(patience)) }
    }
}

impl<B> Body for Patient<B>
where
    B: Body<Data = Bytes, Error = BodyError> + Unpin,
{
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.body).poll_frame(cx) {
            Poll::Ready(frame) => {
                let next = tokio::time::Instant::now() + this.patience;
                this.wait.as_mut().reset(next);
                Poll::Ready(frame)
            }
            Poll::Pending => match this.wait.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(Stalled(this.patience).into()))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// Why a whole request body could not be had, as the status the client gets: 413 over
/// `limit`, 408 when it stalled, 400 when it was malformed or cut off.
pub(crate) async fn whole(
    body: RequestBody,
    limit: usize,
    patience: std::time::Duration,
) -> Result<Bytes, hyper::StatusCode> {
    use http_body_util::BodyExt;
    let limited = http_body_util::Limited::new(Patient::new(body, patience), limit);
    match limited.collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => {
            Err(hyper::StatusCode::PAYLOAD_TOO_LARGE)
        }
        Err(error) if error.is::<Stalled>() => Err(hyper::StatusCode::REQUEST_TIMEOUT),
        Err(_) => Err(hyper::StatusCode::BAD_REQUEST),
    }
}
