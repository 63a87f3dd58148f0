//! Closing a connection in stages, for a client that may still be sending (RFC 9112 §9.6).
//!
//! A socket closed with input unread, or that receives input after it is closed, answers with
//! a reset, and a reset can make the client's TCP drop the response it has not read yet: the
//! 413 for a body too large, the 405 for a POST to a file, the last response before a pipelined
//! request. So where the client may have more on the way, our side is shut first (the FIN
//! follows the response) and what the client still sends is read and dropped until it closes
//! its own, for a bounded time — what nginx's `lingering_close` does. Where it has nothing on
//! the way the socket is shut down (TLS) or just closed (plain TCP).

use std::pin::Pin;
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
