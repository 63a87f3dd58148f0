//! The client's first flight of an HTTP/2 connection in one write: the connection preface,
//! SETTINGS, WINDOW_UPDATE and the document's HEADERS, as browsers and h2load send them.
//!
//! Why: the `h2` crate writes the 24-byte preface on its own as soon as the handshake starts,
//! and the rest when its connection task first runs, so the server saw two segments ~0.1–0.2 ms
//! apart, and the client then sent its SETTINGS ACK as a third right after the server's
//! SETTINGS. Sending data that soon after receiving puts Linux's TCP into delayed-ACK
//! ("pingpong") mode, and against nginx over h2c (which leaves Nagle on for HTTP/2 without TLS)
//! that cost 40 ms in most loads (6 of 8 in one series): nginx wrote the document's HEADERS,
//! then held its DATA until our delayed ACK of them came (tcpdump: DATA at 41.2 ms, right after
//! the ACK). With one first flight the client sends nothing between connecting and its
//! SETTINGS ACK, as h2load does, and none of 50 loads in a row stalled.
//!
//! How: writes are kept until the first flush; from then on everything passes straight through
//! (h2's own codec buffers frames and flushes them in batches).

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// An I/O object whose writes before the first flush leave together at that flush.
#[derive(Debug)]
pub struct FirstFlight<I> {
    inner: I,
    /// What waits for the first flush; `None` once it has gone.
    held: Option<Vec<u8>>,
    /// Bytes of `held` already written.
    written: usize,
}

impl<I> FirstFlight<I> {
    /// `inner`, its first flight held until a flush.
    pub fn new(inner: I) -> Self {
        Self { inner, held: Some(Vec::new()), written: 0 }
    }
}

impl<I: AsyncWrite + Unpin> FirstFlight<I> {
    /// Writes out what was held, then lets everything through.
    fn poll_release(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let Self { inner, held, written } = self;
        let Some(bytes) = held else { return Poll::Ready(Ok(())) };
        ready!(crate::coalesce::poll_write_out(inner, bytes, written, cx))?;
        *held = None;
        Poll::Ready(Ok(()))
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for FirstFlight<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for FirstFlight<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if let Some(held) = &mut this.held {
            if this.written == 0 {
                held.extend_from_slice(buf);
                return Poll::Ready(Ok(buf.len()));
            }
            // A flush met a full socket half-way: the held bytes go first.
            ready!(self.poll_release(cx))?;
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.held.is_none() {
            return Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        }
        match bufs.iter().find(|b| !b.is_empty()) {
            Some(buf) => self.poll_write(cx, buf),
            None => Poll::Ready(Ok(0)),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.poll_release(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut self.inner).poll_flush(cx),
            other => other,
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.poll_release(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut self.inner).poll_shutdown(cx),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn writes_before_the_first_flush_leave_in_one_piece_and_later_ones_at_once() {
        let (near, mut far) = tokio::io::duplex(1 << 16);
        let mut flight = FirstFlight::new(near);
        flight.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").await.unwrap();
        flight.write_all(b"SETTINGS").await.unwrap();
        let mut got = [0u8; 64];
        let early = tokio::time::timeout(std::time::Duration::from_millis(20), far.read(&mut got));
        assert!(early.await.is_err(), "nothing leaves before the first flush");
        flight.flush().await.unwrap();
        let read = far.read(&mut got).await.unwrap();
        assert_eq!(&got[..read], b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\nSETTINGS", "one piece");

        flight.write_all(b"PING").await.unwrap();
        let read = far.read(&mut got).await.unwrap();
        assert_eq!(&got[..read], b"PING", "after the first flight, writes are not held");
    }

    #[tokio::test]
    async fn shutdown_sends_what_was_held() {
        let (near, mut far) = tokio::io::duplex(1 << 16);
        let mut flight = FirstFlight::new(near);
        flight.write_all(b"preface").await.unwrap();
        flight.shutdown().await.unwrap();
        let mut got = Vec::new();
        far.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"preface");
    }
}
