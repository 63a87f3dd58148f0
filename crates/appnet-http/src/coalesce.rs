//! Write coalescing for HTTP/2 connections: the responses of streams that finish in the same
//! turn of the scheduler leave in one write instead of one each.
//!
//! Why: the `h2` crate flushes whenever its connection task is polled, and each stream's task
//! wakes the connection task as it finishes — which tokio runs next (its "LIFO slot"), before
//! the other streams' tasks. A client with ten requests in flight then got ten `writev`s and,
//! over TLS, ten TLS records in ten TCP segments: `strace` counted one `writev` per request
//! under h2load `-m10`, and each is a trip through the loopback's send and receive paths.
//!
//! How: writes are kept in a buffer; the first flush after a write yields once (wakes its own
//! task and returns `Pending`, which puts the connection task at the back of the run queue),
//! so the streams already woken finish first; the next flush writes everything in one go. A
//! write that would take the buffer past [`HIGH_WATER`] (one TLS record's worth) goes at once,
//! after what is held, in one `writev` and not copied, so a large body streams and a page's
//! first responses are not held back for its last (with 64 KiB the page loader's first response
//! on a 50-resource page came no sooner; 16 KiB still coalesces ten 1 KiB responses).
//!
//! The connection's first flush — the server's SETTINGS, flushed by the `h2` handshake before
//! it has read the client's first request — writes nothing: the SETTINGS wait for the next
//! flush and leave with the first response (and the SETTINGS ACK), in one write instead of
//! two, so the client is woken once for both. The next flush comes soon in any case: `h2`
//! flushes whenever its connection has nothing left to read, so a client that waits for the
//! server's SETTINGS before it sends a request still gets them at once.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Bytes buffered before a write goes through without waiting for a flush.
pub const HIGH_WATER: usize = 16 * 1024;

/// An I/O object whose writes are held until a flush, and whose flushes yield once.
#[derive(Debug)]
pub struct Coalesce<I> {
    inner: I,
    buffer: Vec<u8>,
    /// Bytes of `buffer` already written to `inner`.
    written: usize,
    /// The pending flush has yielded once already.
    yielded: bool,
    /// No flush has been asked for yet (the first one holds its bytes for the next).
    first_flush: bool,
    last_write: Arc<LastWrite>,
}

impl<I> Coalesce<I> {
    /// `inner`, coalesced.
    pub fn new(inner: I) -> Self {
        Self {
            inner,
            buffer: Vec::new(),
            written: 0,
            yielded: false,
            first_flush: true,
            last_write: Arc::new(LastWrite::new()),
        }
    }

    /// When bytes were last written to `inner`, or it refused them (while that is recent, the
    /// connection is busy sending what it was given).
    pub fn last_write(&self) -> Arc<LastWrite> {
        self.last_write.clone()
    }
}

/// The last time a connection wrote to its socket or was refused, shared with those who
/// schedule what it sends.
#[derive(Debug)]
pub struct LastWrite {
    since: Instant,
    /// Nanoseconds after `since`, plus one; 0 for never.
    at: AtomicU64,
}

impl LastWrite {
    fn new() -> Self {
        Self { since: Instant::now(), at: AtomicU64::new(0) }
    }

    fn now(&self) {
        let nanos = u64::try_from(self.since.elapsed().as_nanos()).unwrap_or(u64::MAX - 1);
        self.at.store(nanos + 1, Ordering::Relaxed);
    }

    /// When the connection last wrote or was refused, if it ever did.
    pub fn last(&self) -> Option<Instant> {
        match self.at.load(Ordering::Relaxed) {
            0 => None,
            nanos => Some(self.since + Duration::from_nanos(nanos - 1)),
        }
    }
}

/// `poll`, a write's outcome, noted in `last_write`.
fn noting<T>(poll: Poll<T>, last_write: &LastWrite) -> Poll<T> {
    last_write.now();
    poll
}

impl<I: AsyncWrite + Unpin> Coalesce<I> {
    /// Writes out what is buffered.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let Self { inner, buffer, written, last_write, .. } = self;
        ready!(noting(poll_write_out(inner, buffer, written, cx), last_write))?;
        buffer.clear();
        *written = 0;
        Poll::Ready(Ok(()))
    }
}

/// Writes `bytes` from `*written` on to `io`, counting in `written`, until all are written.
pub(crate) fn poll_write_out<W: AsyncWrite + Unpin>(
    io: &mut W,
    bytes: &[u8],
    written: &mut usize,
    cx: &mut Context<'_>,
) -> Poll<io::Result<()>> {
    while *written < bytes.len() {
        let sent = ready!(Pin::new(&mut *io).poll_write(cx, &bytes[*written..]))?;
        if sent == 0 {
            return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
        }
        *written += sent;
    }
    Poll::Ready(Ok(()))
}

impl<I: AsyncRead + Unpin> AsyncRead for Coalesce<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Coalesce<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let incoming: usize = bufs.iter().map(|b| b.len()).sum();
        if self.buffer.len() - self.written + incoming < HIGH_WATER {
            for buf in bufs {
                self.buffer.extend_from_slice(buf);
            }
            return Poll::Ready(Ok(incoming));
        }
        // Past the mark: what is held and what comes leave in one `writev`, the latter not
        // copied (copying every body byte into the buffer: `memmove` was 10.6 % of the
        // server's samples under h2load on a page of 50 resources, 7.9 % without).
        let Self { inner, buffer, written, last_write, .. } = &mut *self;
        loop {
            let held = buffer.len() - *written;
            let sent = {
                let mut slices = Vec::with_capacity(bufs.len() + 1);
                slices.push(IoSlice::new(&buffer[*written..]));
                slices.extend(bufs.iter().map(|b| IoSlice::new(b)));
                let poll = Pin::new(&mut *inner).poll_write_vectored(cx, &slices);
                ready!(noting(poll, last_write))?
            };
            if sent == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            let from_held = sent.min(held);
            *written += from_held;
            if *written == buffer.len() {
                buffer.clear();
                *written = 0;
            }
            if sent > from_held {
                return Poll::Ready(Ok(sent - from_held));
            }
            // Only held bytes went: the socket may take more at once, or say when it can.
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.buffer.is_empty() {
            return Pin::new(&mut self.inner).poll_flush(cx);
        }
        if std::mem::take(&mut self.first_flush) {
            return Poll::Ready(Ok(()));
        }
        if !self.yielded {
            // Let the tasks already woken add their responses first.
            self.yielded = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        match self.poll_drain(cx) {
            Poll::Ready(Ok(())) => {}
            other => return other,
        }
        self.yielded = false;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.poll_drain(cx) {
            Poll::Ready(Ok(())) => {}
            other => return other,
        }
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn writes_wait_for_a_flush_which_yields_once_then_sends_all_in_one_go() {
        let (near, mut far) = tokio::io::duplex(1 << 20);
        let mut coalesced = Coalesce::new(near);
        coalesced.write_all(b"one ").await.unwrap();
        coalesced.write_all(b"two").await.unwrap();
        let mut got = [0u8; 16];
        let nothing = tokio::time::timeout(Duration::from_millis(20), far.read(&mut got));
        assert!(nothing.await.is_err(), "nothing leaves before a flush");

        let waker = futures_test_waker();
        let mut cx = Context::from_waker(&waker);
        coalesced.first_flush = false;
        let first = Pin::new(&mut coalesced).poll_flush(&mut cx);
        assert!(first.is_pending(), "the first flush yields");
        assert!(Pin::new(&mut coalesced).poll_flush(&mut cx).is_ready(), "the second writes");
        let read = far.read(&mut got).await.unwrap();
        assert_eq!(&got[..read], b"one two", "in one piece");
        assert!(Pin::new(&mut coalesced).poll_flush(&mut cx).is_ready(), "nothing left: ready");
    }

    #[tokio::test]
    async fn the_first_flush_holds_its_bytes_for_the_next_one() {
        let (near, mut far) = tokio::io::duplex(1 << 20);
        let mut coalesced = Coalesce::new(near);
        let waker = futures_test_waker();
        let mut cx = Context::from_waker(&waker);
        coalesced.write_all(b"settings ").await.unwrap();
        assert!(
            Pin::new(&mut coalesced).poll_flush(&mut cx).is_ready(),
            "done, as far as h2 knows"
        );
        coalesced.write_all(b"response").await.unwrap();
        assert!(Pin::new(&mut coalesced).poll_flush(&mut cx).is_pending(), "yields once");
        assert!(Pin::new(&mut coalesced).poll_flush(&mut cx).is_ready());
        let mut got = [0u8; 32];
        let read = far.read(&mut got).await.unwrap();
        assert_eq!(&got[..read], b"settings response", "both in one write");

        // Had nothing followed, the next flush (h2's, when it waits to read) sends them alone.
        let (near, mut far) = tokio::io::duplex(1 << 20);
        let mut coalesced = Coalesce::new(near);
        coalesced.write_all(b"settings").await.unwrap();
        assert!(Pin::new(&mut coalesced).poll_flush(&mut cx).is_ready());
        coalesced.flush().await.unwrap();
        let read = far.read(&mut got).await.unwrap();
        assert_eq!(&got[..read], b"settings");
    }

    #[tokio::test]
    async fn a_large_write_leaves_at_once_after_what_was_held() {
        let (near, mut far) = tokio::io::duplex(1 << 20);
        let mut coalesced = Coalesce::new(near);
        coalesced.write_all(b"head").await.unwrap();
        let body = vec![9u8; HIGH_WATER];
        let taken = coalesced.write(&body).await.unwrap();
        assert_eq!(taken, body.len(), "taken whole, straight through");
        assert!(coalesced.buffer.is_empty(), "nothing held: {}", coalesced.buffer.len());
        let mut got = vec![0u8; 4 + body.len()];
        far.read_exact(&mut got).await.unwrap();
        assert_eq!(&got[..4], b"head");
        assert!(got[4..].iter().all(|&b| b == 9));
    }

    #[tokio::test]
    async fn a_large_write_to_a_slow_peer_is_taken_in_part_and_nothing_is_lost() {
        let (near, mut far) = tokio::io::duplex(1000);
        let mut coalesced = Coalesce::new(near);
        coalesced.write_all(b"held").await.unwrap();
        let body: Vec<u8> = (0..3 * HIGH_WATER).map(|i| (i % 251) as u8).collect();
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            far.read_to_end(&mut got).await.unwrap();
            got
        });
        coalesced.write_all(&body).await.unwrap();
        coalesced.shutdown().await.unwrap();
        drop(coalesced);
        let got = reader.await.unwrap();
        assert_eq!(&got[..4], b"held");
        assert_eq!(&got[4..], &body[..]);
    }

    #[tokio::test]
    async fn a_large_body_goes_through_past_the_high_water_mark_and_shutdown_sends_the_rest() {
        let (near, mut far) = tokio::io::duplex(1 << 20);
        let mut coalesced = Coalesce::new(near);
        let body = vec![7u8; 3 * HIGH_WATER + 5];
        for piece in body.chunks(1000) {
            coalesced.write_all(piece).await.unwrap();
        }
        assert!(coalesced.buffer.len() <= HIGH_WATER + 1000, "{}", coalesced.buffer.len());
        coalesced.shutdown().await.unwrap();
        let mut got = Vec::new();
        far.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, body);
    }

    /// A waker that does nothing (the test polls by hand).
    fn futures_test_waker() -> std::task::Waker {
        std::task::Waker::noop().clone()
    }
}
