//! UDP: blocking worker threads, one per SO_REUSEPORT socket.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

use super::Counters;
use super::zones::Zones;
use crate::authority::{Response, Transport};

/// How often an idle worker looks at the stop flag.
const STOP_POLL: Duration = Duration::from_millis(200);

/// Receive buffer asked of the kernel per socket, to ride out bursts.
const RECEIVE_BUFFER: usize = 4 << 20;

/// `count` UDP sockets on `addr`, all on one port (the kernel's pick, if `addr` has port 0).
pub(super) fn bind(addr: SocketAddr, count: usize) -> io::Result<Vec<UdpSocket>> {
    let first = socket(addr)?;
    let bound = first.local_addr()?;
    let mut sockets = vec![first];
    for _ in 1..count {
        sockets.push(socket(bound)?);
    }
    Ok(sockets)
}

fn socket(addr: SocketAddr) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_port(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    // Best effort: a smaller buffer only means drops under bursts.
    let _ = socket.set_recv_buffer_size(RECEIVE_BUFFER);
    socket.bind(&addr.into())?;
    socket.set_read_timeout(Some(STOP_POLL))?;
    Ok(socket.into())
}

/// Serves `socket` on a new thread until `stop` is set.
pub(super) fn spawn_worker(
    socket: UdpSocket,
    zones: Arc<Zones>,
    stop: Arc<AtomicBool>,
    counters: Counters,
) -> io::Result<JoinHandle<()>> {
    std::thread::Builder::new().name("dns-udp".into()).spawn(move || {
        let mut query = vec![0; 65_535];
        let mut response = Vec::with_capacity(65_535);
        while !stop.load(Ordering::Relaxed) {
            let (length, peer) = match socket.recv_from(&mut query) {
                Ok(received) => received,
                Err(e)
                    if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) =>
                {
                    continue;
                }
                Err(error) => {
                    tracing::debug!(%error, "udp receive failed");
                    continue;
                }
            };
            counters.udp_queries.inc();
            let authority = zones.authority();
            match authority.answer_from(
                &query[..length],
                Transport::Udp,
                Some(peer.ip()),
                &mut response,
            ) {
                Response::Send => {
                    if let Err(error) = socket.send_to(&response, peer) {
                        tracing::debug!(%peer, %error, "udp send failed");
                    }
                }
                Response::Notified(apex) => {
                    let _ = socket.send_to(&response, peer);
                    zones.signal_refresh(&apex);
                }
                // Transfers never start over UDP; the core answers those itself.
                Response::Drop | Response::Transfer(_) => {
                    counters.dropped.inc();
                }
            }
        }
    })
}
