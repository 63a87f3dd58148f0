//! Which HTTP a cleartext connection speaks: HTTP/2 with prior knowledge (h2c, RFC 9113 §3.3)
//! opens with a fixed 24-byte preface, and nothing in HTTP/1.x can start that way. We read
//! until the bytes leave the preface or complete it, then hand the connection on with those
//! bytes put back in front.
//!
//! hyper-util's `auto` builder sniffs the same way, but does not offer HTTP/1's header-size
//! limit (`max_header_size`), which our 431 for oversized heads depends on.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

/// The HTTP/2 connection preface.
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The protocol a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// HTTP/1.0 or 1.1.
    Http1,
    /// HTTP/2.
    Http2,
}

impl Protocol {
    /// From a TLS ALPN identifier; `None` when the client offered none we know.
    pub fn from_alpn(alpn: &[u8]) -> Option<Self> {
        match alpn {
            b"h2" => Some(Self::Http2),
            b"http/1.1" | b"http/1.0" => Some(Self::Http1),
            _ => None,
        }
    }
}

/// How much the first read may bring: a whole HTTP/1 request head, usually, so a connection
/// costs one `recv` before it is answered (reading only the preface's 24 bytes cost every
/// HTTP/1 connection a second one: `strace -c` under wrk with `Connection: close`).
const FIRST_READ: usize = 4096;

/// Reads from `io` until the protocol is known; returns it and the bytes read (all the first
/// read brought, up to 4 KiB). A connection closed before that is HTTP/1 with what it sent
/// (hyper then ends it cleanly).
pub async fn sniff<I: AsyncRead + Unpin>(io: &mut I) -> io::Result<(Protocol, Vec<u8>)> {
    let mut seen = Vec::with_capacity(FIRST_READ);
    loop {
        // Undecided means fewer than 24 bytes so far: there is always room for more.
        if io.read_buf(&mut seen).await? == 0 {
            return Ok((Protocol::Http1, seen));
        }
        if let Some(protocol) = decide(&seen) {
            return Ok((protocol, seen));
        }
    }
}

/// The protocol the bytes so far show, or `None` while they are a proper prefix of the
/// preface.
fn decide(seen: &[u8]) -> Option<Protocol> {
    let compared = seen.len().min(PREFACE.len());
    if seen[..compared] != PREFACE[..compared] {
        Some(Protocol::Http1)
    } else if seen.len() >= PREFACE.len() {
        Some(Protocol::Http2)
    } else {
        None
    }
}

/// `inner` with `prefix` read first: puts sniffed bytes back.
#[derive(Debug)]
pub struct Prefixed<I> {
    prefix: Vec<u8>,
    offset: usize,
    inner: I,
}

impl<I> Prefixed<I> {
    /// `inner`, reading `prefix` before anything of its own.
    pub fn new(prefix: Vec<u8>, inner: I) -> Self {
        Self { prefix, offset: 0, inner }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Prefixed<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.offset < this.prefix.len() {
            let rest = &this.prefix[this.offset..];
            let taken = rest.len().min(buf.remaining());
            buf.put_slice(&rest[..taken]);
            this.offset += taken;
            if this.offset == this.prefix.len() {
                this.prefix = Vec::new();
                this.offset = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Prefixed<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt;

    use super::*;

    async fn sniffed(sent: &[&[u8]]) -> (Protocol, Vec<u8>) {
        let (mut client, mut server) = tokio::io::duplex(1024);
        for part in sent {
            client.write_all(part).await.unwrap();
        }
        drop(client);
        let (protocol, prefix) = sniff(&mut server).await.unwrap();
        let mut all = Vec::new();
        Prefixed::new(prefix, server).read_to_end(&mut all).await.unwrap();
        (protocol, all)
    }

    #[tokio::test]
    async fn the_preface_means_http2_and_every_byte_is_still_read() {
        let (protocol, all) = sniffed(&[b"PRI * HTTP/2.0\r\n", b"\r\nSM\r\n\r\n", b"frames"]).await;
        assert_eq!(protocol, Protocol::Http2);
        assert_eq!(all, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\nframes");
    }

    #[tokio::test]
    async fn anything_else_is_http1_as_soon_as_it_differs() {
        let (protocol, all) = sniffed(&[b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"]).await;
        assert_eq!(protocol, Protocol::Http1);
        assert_eq!(all, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        // A method that starts like the preface, then differs.
        let (protocol, all) = sniffed(&[b"PRI", b"NT / HTTP/1.1\r\n\r\n"]).await;
        assert_eq!(protocol, Protocol::Http1);
        assert_eq!(all, b"PRINT / HTTP/1.1\r\n\r\n");
        // Closed before the preface completes.
        assert_eq!(sniffed(&[b"PRI * HT"]).await, (Protocol::Http1, b"PRI * HT".to_vec()));
        assert_eq!(sniffed(&[]).await, (Protocol::Http1, Vec::new()));
    }

    #[tokio::test]
    async fn a_head_that_has_arrived_is_taken_in_one_read() {
        let head = b"GET /a.txt HTTP/1.1\r\nHost: a\r\nUser-Agent: test\r\n\r\n";
        let (mut client, mut server) = tokio::io::duplex(8192);
        client.write_all(head).await.unwrap();
        // The client stays open, so what comes back is what the reads brought before the
        // protocol was known (24 bytes when sniffing read only the preface's length).
        let sniffing = tokio::time::timeout(std::time::Duration::from_secs(5), sniff(&mut server));
        let (protocol, read) = sniffing.await.expect("decided without waiting").unwrap();
        assert_eq!((protocol, read), (Protocol::Http1, head.to_vec()));
        let preface_and_frames = [&PREFACE[..], b"\0\0\0\x04\0\0\0\0\0"].concat();
        let (mut client, mut server) = tokio::io::duplex(8192);
        client.write_all(&preface_and_frames).await.unwrap();
        let (protocol, read) = sniff(&mut server).await.unwrap();
        assert_eq!((protocol, read), (Protocol::Http2, preface_and_frames));
        drop(client);
    }

    #[test]
    fn alpn_names() {
        assert_eq!(Protocol::from_alpn(b"h2"), Some(Protocol::Http2));
        assert_eq!(Protocol::from_alpn(b"http/1.1"), Some(Protocol::Http1));
        assert_eq!(Protocol::from_alpn(b"spdy/3"), None);
    }
}
