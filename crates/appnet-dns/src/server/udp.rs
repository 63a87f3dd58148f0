//! UDP: blocking worker threads, one per SO_REUSEPORT socket, each moving queries and answers
//! in batches (`recvmmsg`/`sendmmsg`, see [`super::mmsg`]).

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

use super::Counters;
use super::mmsg;
use super::zones::Zones;
use crate::authority::rrl::{self, RateLimiter, Verdict};
use crate::authority::{Response, Transport};

/// How often an idle worker looks at the stop flag.
const STOP_POLL: Duration = Duration::from_millis(200);

/// Receive buffer asked of the kernel per socket, to ride out bursts.
const RECEIVE_BUFFER: usize = 4 << 20;

/// `count` UDP sockets on `addr`, all on one port (the kernel's pick, if `addr` has port 0).
pub(crate) fn bind(addr: SocketAddr, count: usize) -> io::Result<Vec<UdpSocket>> {
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

/// What a UDP worker thread shares with the others.
pub(super) struct Worker {
    pub(super) zones: Arc<Zones>,
    pub(super) stop: Arc<AtomicBool>,
    pub(super) counters: Counters,
    pub(super) limiter: Option<Arc<Mutex<RateLimiter>>>,
}

impl Worker {
    /// Serves `socket` on a new thread until `stop` is set.
    pub(super) fn spawn(self, socket: UdpSocket) -> io::Result<JoinHandle<()>> {
        std::thread::Builder::new().name("dns-udp".into()).spawn(move || self.run(&socket))
    }

    /// Receives queries in batches, answers each from one snapshot of the zones, and sends the
    /// answers back in one batch.
    fn run(&self, socket: &UdpSocket) {
        mmsg::serve_batches(socket, &self.stop, |batch, received| {
            self.counters.udp_queries.inc_by(received as u64);
            let authority = self.zones.authority();
            for slot in 0..received {
                let (query, peer, response) = batch.query(slot);
                let Some(peer) = peer else { continue };
                match authority.answer_from(query, Transport::Udp, Some(peer.ip()), response) {
                    Response::Send => {
                        if self.admit(peer, response) {
                            batch.queue(slot);
                        }
                    }
                    Response::Notified(apex) => {
                        batch.queue(slot);
                        self.zones.signal_refresh(&apex);
                    }
                    // Transfers never start over UDP; the core answers those itself.
                    Response::Drop | Response::Transfer(_) => {
                        self.counters.dropped.inc();
                    }
                }
            }
        });
    }

    /// Applies rate limiting, if on: whether to send `response`, possibly slipped.
    fn admit(&self, peer: SocketAddr, response: &mut Vec<u8>) -> bool {
        let Some(limiter) = &self.limiter else { return true };
        let now = tokio::time::Instant::now().into_std();
        let verdict =
            limiter.lock().unwrap_or_else(PoisonError::into_inner).check(now, peer.ip(), response);
        match verdict {
            Verdict::Send => true,
            Verdict::Slip => {
                self.counters.rate_limited.inc();
                rrl::slip(response);
                true
            }
            Verdict::Drop => {
                self.counters.rate_limited.inc();
                false
            }
        }
    }
}
