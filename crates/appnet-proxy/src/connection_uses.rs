//! How many requests each pooled connection to an origin has carried, so that a request that
//! met a closed connection can be told apart as one on a reused connection (the origin's idle
//! close crossing the reuse: worth sending again) or on a fresh one (the origin dropping this
//! request: it would drop it again, and its health should hear of it). hyper-util's pool
//! knows but does not say; its connector is wrapped to count.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use hyper::Uri;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::client::legacy::connect::{
    CaptureConnection, Connected, Connection, HttpConnector,
};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// The requests sent on one connection so far, shared by every request that uses it.
#[derive(Clone, Default)]
struct Uses(Arc<AtomicUsize>);

/// [`HttpConnector`], its connections counting their requests.
#[derive(Clone)]
pub(crate) struct CountingConnector(pub(crate) HttpConnector);

/// A connection to an origin with its count.
pub(crate) struct Counted {
    io: TokioIo<TcpStream>,
    uses: Uses,
}

impl tower_service::Service<Uri> for CountingConnector {
    type Response = Counted;
    type Error = <HttpConnector as tower_service::Service<Uri>>::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Counted, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let connecting = self.0.call(uri);
        Box::pin(async move { Ok(Counted { io: connecting.await?, uses: Uses::default() }) })
    }
}

impl Connection for Counted {
    fn connected(&self) -> Connected {
        self.io.connected().extra(self.uses.clone())
    }
}

impl Read for Counted {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl Write for Counted {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// Counts the request whose connection `captured` names, once it was sent (or failed), and
/// returns whether the connection had carried a request before it.
pub(crate) fn was_reused(captured: &CaptureConnection) -> bool {
    let metadata = captured.connection_metadata();
    let Some(connected) = metadata.as_ref() else { return false };
    let mut extensions = hyper::http::Extensions::new();
    connected.get_extras(&mut extensions);
    extensions.get::<Uses>().is_some_and(|uses| uses.0.fetch_add(1, Ordering::Relaxed) > 0)
}
