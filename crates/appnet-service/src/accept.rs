//! The accept loop every TCP server has: the next connection, or nothing once told to stop.
//! A failed accept (the peer reset before we took it, descriptors exhausted for a moment) is
//! logged and skipped; the server goes on.

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// The next connection on `listener`, or `None` once `stop` is cancelled.
pub async fn next(
    listener: &TcpListener,
    stop: &CancellationToken,
) -> Option<(TcpStream, SocketAddr)> {
    loop {
        tokio::select! {
            () = stop.cancelled() => return None,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => return Some(accepted),
                Err(error) => tracing::debug!(%error, "accept failed"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn gives_connections_until_stopped() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = CancellationToken::new();
        let client = tokio::spawn(async move { TcpStream::connect(addr).await.unwrap() });
        let (_, peer) = next(&listener, &stop).await.expect("a connection");
        assert_eq!(peer, client.await.unwrap().local_addr().unwrap());
        stop.cancel();
        assert!(next(&listener, &stop).await.is_none());
    }
}
