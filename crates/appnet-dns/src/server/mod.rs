//! The authoritative server's drivers: UDP worker threads and a tokio TCP listener around the
//! sans-IO [`Authority`](crate::authority::Authority).
//!
//! UDP is the hot path, so it runs like NSD: one blocking thread per socket, several sockets
//! bound to the same address with SO_REUSEPORT so the kernel spreads queries over the cores,
//! and one reused buffer per thread. TCP (fallback after TC, zone transfers later) runs on
//! tokio with per-connection idle timeouts and a connection limit. Zones live behind an
//! `ArcSwap`: a reload swaps the whole [`Authority`](crate::authority::Authority) in one
//! atomic step, and a query in flight keeps the version it started with.

mod config;
pub(crate) mod mmsg;
mod moderation;
mod notify;
mod secondary;
mod tcp;
pub(crate) mod udp;
mod zones;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use appnet_service::Metrics;
use appnet_service::metrics::Counter;
use tokio_util::sync::CancellationToken;

use crate::authority::rrl::RateLimiter;

pub use config::{AuthorityConfig, ConfigSecondary, ConfigZone, ZoneSource};
pub use notify::{spawn_notifies, spawn_notifies_from};
pub use secondary::{SecondarySpec, spawn_secondary};
pub use zones::{AuthorityOptions, ReloadReport, Zones};

/// How the server listens and what it allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Addresses served over both UDP and TCP. Port 0 picks a free port (the same for UDP and
    /// TCP, and for every worker).
    pub listen: Vec<SocketAddr>,
    /// UDP sockets (and threads) per address.
    pub workers: usize,
    /// A TCP connection that sends nothing for this long is closed.
    pub tcp_idle_timeout: Duration,
    /// TCP connections served at once; more wait in the kernel's backlog.
    pub tcp_max_connections: usize,
    /// Response rate limiting over UDP: responses per second per client network and answer,
    /// and the slip ratio. Off (`None`) by default.
    pub rrl: Option<(u32, u32)>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: Vec::new(),
            workers: std::thread::available_parallelism().map_or(1, usize::from),
            tcp_idle_timeout: Duration::from_secs(10),
            tcp_max_connections: 1024,
            rrl: None,
        }
    }
}

/// Query counters, registered once per server.
#[derive(Debug, Clone)]
pub(crate) struct Counters {
    pub(crate) udp_queries: Counter,
    pub(crate) tcp_queries: Counter,
    pub(crate) dropped: Counter,
    pub(crate) rate_limited: Counter,
}

impl Counters {
    fn register(metrics: &Metrics) -> Self {
        Self {
            udp_queries: metrics.counter("dns_authority_udp_queries", "Queries received over UDP."),
            tcp_queries: metrics.counter("dns_authority_tcp_queries", "Queries received over TCP."),
            dropped: metrics
                .counter("dns_authority_dropped", "Messages not answered (not queries)."),
            rate_limited: metrics
                .counter("dns_authority_rate_limited", "Responses dropped or slipped by RRL."),
        }
    }
}

/// A running server; stop it with [`shutdown`](Self::shutdown).
#[derive(Debug)]
pub struct Running {
    addrs: Vec<SocketAddr>,
    stop: Arc<AtomicBool>,
    udp_threads: Vec<JoinHandle<()>>,
    tcp_tasks: Vec<tokio::task::JoinHandle<()>>,
    shutdown: CancellationToken,
}

impl Running {
    /// The addresses actually bound (with the ports chosen for port 0).
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// Stops accepting, lets TCP connections end, and waits for every worker.
    pub async fn shutdown(self) {
        self.stop.store(true, Ordering::Relaxed);
        self.shutdown.cancel();
        for task in self.tcp_tasks {
            let _ = task.await;
        }
        let threads = self.udp_threads;
        let _ = tokio::task::spawn_blocking(move || {
            for thread in threads {
                let _ = thread.join();
            }
        })
        .await;
    }
}

/// UDP sockets and a TCP listener on one port of `addr`. For port 0 the kernel picks a UDP
/// port, which TCP may already have in use elsewhere: then another is tried (up to 20 times)
/// rather than failing.
fn bind_both(
    addr: SocketAddr,
    workers: usize,
) -> io::Result<(Vec<std::net::UdpSocket>, SocketAddr, std::net::TcpListener)> {
    let mut tries = 0;
    loop {
        let sockets = udp::bind(addr, workers)?;
        let bound = sockets[0].local_addr()?;
        match tcp::bind(bound) {
            Ok(listener) => return Ok((sockets, bound, listener)),
            Err(error)
                if addr.port() == 0 && error.kind() == io::ErrorKind::AddrInUse && tries < 20 =>
            {
                tries += 1;
            }
            Err(error) => return Err(error),
        }
    }
}

/// Binds every listen address and starts serving `zones`. Call inside a tokio runtime.
pub async fn spawn(
    settings: &Settings,
    zones: Arc<Zones>,
    metrics: &Metrics,
) -> io::Result<Running> {
    let counters = Counters::register(metrics);
    let stop = Arc::new(AtomicBool::new(false));
    let shutdown = CancellationToken::new();
    let mut running = Running {
        addrs: Vec::new(),
        stop: stop.clone(),
        udp_threads: Vec::new(),
        tcp_tasks: Vec::new(),
        shutdown: shutdown.clone(),
    };
    let limiter = settings.rrl.map(|(rate, slip)| {
        Arc::new(std::sync::Mutex::new(RateLimiter::new(
            rate,
            slip,
            tokio::time::Instant::now().into_std(),
        )))
    });
    for &addr in &settings.listen {
        let (sockets, bound, listener) = bind_both(addr, settings.workers.max(1))?;
        let listener = tokio::net::TcpListener::from_std(listener)?;
        for socket in sockets {
            let worker = udp::Worker {
                zones: zones.clone(),
                stop: stop.clone(),
                counters: counters.clone(),
                limiter: limiter.clone(),
            };
            running.udp_threads.push(worker.spawn(socket)?);
        }
        let tcp = tcp::Listener {
            zones: zones.clone(),
            idle_timeout: settings.tcp_idle_timeout,
            max_connections: settings.tcp_max_connections,
            counters: counters.clone(),
            shutdown: shutdown.clone(),
        };
        running.tcp_tasks.push(tokio::spawn(tcp.serve(listener)));
        running.addrs.push(bound);
    }
    Ok(running)
}
