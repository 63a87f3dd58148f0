//! Closing a connection in stages, for a client that may still be sending (RFC 9112 §9.6).
//!
//! A socket closed with input unread, or that receives input after it is closed, answers with
//! a reset, and a reset can make the client's TCP drop the response it has not read yet: the
//! 413 for a body too large, the 405 for a POST to a file, the last response before a pipelined
//! request. So where the client may have more on the way, our side is shut first (the FIN
//! follows the response) and what the client still sends is read and dropped until it closes
//! its own, for a bounded time — what nginx's `lingering_close` does. Where it has nothing on
//! the way the socket is shut down (TLS) or just closed (plain TCP).

use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

/// How long a lingering close reads what the client still sends (nginx: 5 s between reads,
/// 30 s in all).
const TIME: Duration = Duration::from_secs(5);

/// How much it reads at most: a client uploading a large body stops once it has the response
/// (curl does), and one that does not is reset after this.
const BYTES: usize = 8 * 1024 * 1024;

/// Closes `io` after its last response: in stages ([`linger`]) when the client may still be
/// sending — `unread` bytes were read past the last request, or input is waiting now — and
/// otherwise with a plain shutdown (over TLS that sends the close_notify alert, without which
/// a client may take the end of the stream for a truncation attack), bounded by [`TIME`].
pub(crate) async fn close<I: AsyncRead + AsyncWrite + Unpin>(io: &mut I, unread: bool) {
    if unread || has_input(io) {
        linger(io).await;
    } else {
        let _ = tokio::time::timeout(TIME, io.shutdown()).await;
    }
}

/// [`close`] for the cleartext HTTP/1 fast path's own socket, where the caller then drops it.
/// With nothing on the way the socket is just closed: a FIN follows the response, with no
/// `shutdown` call first (it cost a system call on every such connection, and closing a socket
/// whose input is all read sends the same FIN); and whether input waits is tokio's readiness,
/// which costs no `recv`.
pub(crate) async fn close_tcp(stream: &mut TcpStream, unread: bool) {
    let readable = {
        let mut context = Context::from_waker(Waker::noop());
        stream.poll_read_ready(&mut context).is_ready()
    };
    if unread || readable {
        linger(stream).await;
    }
}

/// Shuts our side of `io`, then reads and drops the client's input until it closes its side,
/// for at most [`TIME`] and [`BYTES`].
pub(crate) async fn linger<I: AsyncRead + AsyncWrite + Unpin>(io: &mut I) {
    linger_within(io, TIME).await;
}

async fn linger_within<I: AsyncRead + AsyncWrite + Unpin>(io: &mut I, time: Duration) {
    if io.shutdown().await.is_err() {
        return;
    }
    let drain = async {
        let mut scratch = vec![0; 16 * 1024];
        let mut total = 0;
        while total < BYTES {
            match io.read(&mut scratch).await {
                Ok(0) | Err(_) => break,
                Ok(read) => total += read,
            }
        }
    };
    let _ = tokio::time::timeout(time, drain).await;
}

/// Whether input is waiting on `io` now, without waiting for any (what is read is dropped: the
/// connection is being closed). End of stream counts as none.
pub(crate) fn has_input<I: AsyncRead + Unpin>(io: &mut I) -> bool {
    let mut context = Context::from_waker(Waker::noop());
    let mut scratch = [0; 512];
    let mut buffer = ReadBuf::new(&mut scratch);
    matches!(Pin::new(io).poll_read(&mut context, &mut buffer), Poll::Ready(Ok(())))
        && !buffer.filled().is_empty()
}

/// A client's TCP stream that is closed in stages ([`linger`]) when it is dropped with the
/// client possibly still sending, for a server whose HTTP library drops the socket itself
/// (hyper with upgrades, in the proxy, has no way to hand it back). A request refused before
/// its body was read — a 403 for a denied host, say — then reaches a client that is still
/// uploading, instead of being lost to the reset its next segment would draw.
///
/// "Possibly still sending" is input waiting when the stream is dropped (one `recv` with
/// `MSG_PEEK`), or [`LingerOnDrop::body_flag`] set by the server for a request with a body:
/// the rest of that body may not have arrived yet.
#[derive(Debug)]
pub struct LingerOnDrop {
    stream: Option<TcpStream>,
    body: Arc<AtomicBool>,
}

impl LingerOnDrop {
    /// `stream`, closed in stages when dropped if need be.
    pub fn new(stream: TcpStream) -> Self {
        Self { stream: Some(stream), body: Arc::default() }
    }

    /// The flag to set (and clear) while the connection's latest request has a body the client
    /// may still be sending: set, a drop lingers whether or not input is waiting yet.
    pub fn body_flag(&self) -> Arc<AtomicBool> {
        self.body.clone()
    }

    fn stream(&mut self) -> io::Result<&mut TcpStream> {
        self.stream.as_mut().ok_or_else(|| io::ErrorKind::NotConnected.into())
    }
}

/// Whether the client's input is waiting on `stream` (end of stream is none), without reading it.
fn input_waiting(stream: &TcpStream) -> bool {
    let mut byte = [MaybeUninit::uninit(); 1];
    // tokio's sockets are non-blocking, so the peek returns at once.
    matches!(socket2::SockRef::from(stream).peek(&mut byte), Ok(1..))
}

impl Drop for LingerOnDrop {
    fn drop(&mut self) {
        let Some(mut stream) = self.stream.take() else { return };
        if !self.body.load(Ordering::Relaxed) && !input_waiting(&stream) {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { linger(&mut stream).await });
        }
    }
}

impl AsyncRead for LingerOnDrop {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(self.get_mut().stream()?).poll_read(cx, buf)
    }
}

impl AsyncWrite for LingerOnDrop {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(self.get_mut().stream()?).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(self.get_mut().stream()?).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(self.get_mut().stream()?).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(self.get_mut().stream()?).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn input_waiting_is_seen_and_the_rest_drained_until_the_client_closes() {
        let (mut client, mut server) = tokio::io::duplex(64 * 1024);
        assert!(!has_input(&mut server), "nothing sent yet");
        client.write_all(b"more").await.unwrap();
        assert!(has_input(&mut server));
        client.write_all(&[7; 40_000]).await.unwrap();
        let lingering = tokio::spawn(async move { linger(&mut server).await });
        // Our side is shut: the client reads the end of the stream, then closes its own.
        let mut rest = Vec::new();
        client.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty());
        drop(client);
        tokio::time::timeout(Duration::from_secs(1), lingering)
            .await
            .expect("ends when the client closes")
            .unwrap();
    }

    /// A connected pair on loopback: (client, the server's side wrapped).
    async fn pair() -> (TcpStream, LingerOnDrop) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        (client, LingerOnDrop::new(server))
    }

    /// Writes after the server's end of stream: the second write tells whether it was read.
    async fn write_after_the_end(client: &mut TcpStream) -> io::Result<()> {
        let mut rest = Vec::new();
        client.read_to_end(&mut rest).await.unwrap();
        client.write_all(b"more").await?;
        tokio::time::sleep(Duration::from_millis(100)).await;
        client.write_all(b"more").await
    }

    #[tokio::test]
    async fn a_dropped_stream_lingers_when_input_waits_or_a_body_may_follow() {
        // Input unread when dropped: read and dropped, no reset.
        let (mut client, server) = pair().await;
        client.write_all(b"unread").await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(server);
        write_after_the_end(&mut client).await.expect("lingering, so not reset");

        // Nothing waiting yet, but a body may be on its way: the same.
        let (mut client, server) = pair().await;
        server.body_flag().store(true, Ordering::Relaxed);
        drop(server);
        write_after_the_end(&mut client).await.expect("lingering, so not reset");

        // Neither: closed at once, and what the client sends then draws a reset.
        let (mut client, server) = pair().await;
        drop(server);
        let error = write_after_the_end(&mut client).await.expect_err("closed at once");
        assert!(
            matches!(error.kind(), io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn a_client_that_never_closes_is_given_up_on() {
        let (_client, mut server) = tokio::io::duplex(1024);
        let time = Duration::from_millis(50);
        let lingering = linger_within(&mut server, time);
        tokio::time::timeout(time * 20, lingering).await.expect("gave up after its time");
    }

    #[tokio::test]
    async fn a_client_that_keeps_sending_is_given_up_on_after_the_byte_limit() {
        let (mut client, mut server) = tokio::io::duplex(64 * 1024);
        let sending = tokio::spawn(async move {
            let chunk = vec![0; 64 * 1024];
            let mut sent = 0;
            while client.write_all(&chunk).await.is_ok() {
                sent += chunk.len();
            }
            sent
        });
        linger_within(&mut server, Duration::from_secs(30)).await;
        drop(server);
        let sent = sending.await.unwrap();
        assert!((BYTES..BYTES + 256 * 1024).contains(&sent), "{sent}");
    }
}
