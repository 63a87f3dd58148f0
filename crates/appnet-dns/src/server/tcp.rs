//! TCP: length-prefixed messages (RFC 1035 §4.2.2), several per connection, answered in order.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::Counters;
use super::zones::Zones;
use crate::authority::{Response, Transport};

/// A TCP listener's settings and shared state.
pub(super) struct Listener {
    pub(super) zones: Arc<Zones>,
    pub(super) idle_timeout: Duration,
    pub(super) max_connections: usize,
    pub(super) counters: Counters,
    pub(super) shutdown: CancellationToken,
}

/// A listening, non-blocking TCP socket on `addr`.
pub(super) fn bind(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

impl Listener {
    /// Accepts connections until shutdown.
    pub(super) async fn serve(self, listener: TcpListener) {
        let permits = Arc::new(Semaphore::new(self.max_connections.max(1)));
        let this = Arc::new(self);
        loop {
            let permit = tokio::select! {
                () = this.shutdown.cancelled() => return,
                permit = permits.clone().acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => return,
                },
            };
            let accepted = tokio::select! {
                () = this.shutdown.cancelled() => return,
                accepted = listener.accept() => accepted,
            };
            let (stream, peer) = match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::debug!(%error, "tcp accept failed");
                    continue;
                }
            };
            let this = this.clone();
            tokio::spawn(async move {
                if let Err(error) = this.connection(stream, peer).await {
                    tracing::debug!(%peer, %error, "tcp connection ended");
                }
                drop(permit);
            });
        }
    }

    /// Reads queries and writes answers until the peer closes, idles out, or we shut down.
    async fn connection(&self, stream: TcpStream, peer: SocketAddr) -> io::Result<()> {
        let _ = stream.set_nodelay(true);
        let (reader, mut writer) = stream.into_split();
        let mut reader = BufReader::new(reader);
        let mut query = vec![0; 65_535];
        let mut framed = Vec::with_capacity(1024);
        let mut response = Vec::with_capacity(1024);
        loop {
            let length = tokio::select! {
                () = self.shutdown.cancelled() => return Ok(()),
                length = tokio::time::timeout(self.idle_timeout, reader.read_u16()) => match length {
                    Ok(Ok(length)) => usize::from(length),
                    Ok(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
                    Ok(Err(e)) => return Err(e),
                    Err(_) => return Ok(()),
                },
            };
            match tokio::time::timeout(self.idle_timeout, reader.read_exact(&mut query[..length]))
                .await
            {
                Ok(result) => result?,
                Err(_) => return Ok(()),
            };
            self.counters.tcp_queries.inc();
            let authority = self.zones.authority();
            let answer = authority.answer_from(
                &query[..length],
                Transport::Tcp,
                Some(peer.ip()),
                &mut response,
            );
            drop(authority);
            match answer {
                Response::Send => write_framed(&mut writer, &mut framed, &response).await?,
                Response::Notified(apex) => {
                    write_framed(&mut writer, &mut framed, &response).await?;
                    self.zones.signal_refresh(&apex);
                }
                Response::Drop => {
                    self.counters.dropped.inc();
                }
                Response::Transfer(mut transfer) => {
                    while transfer.next_message(&mut response) {
                        write_framed(&mut writer, &mut framed, &response).await?;
                    }
                }
            }
        }
    }
}

/// Writes one length-prefixed message in a single write (one segment for small answers).
async fn write_framed(
    writer: &mut tokio::net::tcp::OwnedWriteHalf,
    framed: &mut Vec<u8>,
    message: &[u8],
) -> io::Result<()> {
    framed.clear();
    framed.extend_from_slice(&(message.len() as u16).to_be_bytes());
    framed.extend_from_slice(message);
    writer.write_all(framed).await
}
