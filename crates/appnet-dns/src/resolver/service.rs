//! The resolver as a network service: UDP and TCP listeners, the client ACL, the hosts file,
//! then the cache and iteration through [`Shared`].

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ipnet::IpNet;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::driver::Shared;
use super::hosts::{HOSTS_TTL, Hosts};
use super::reply::{ClientQuery, read_query, write_answer, write_rcode, write_rejection};
use super::resolution::{Answer, AnswerRecord, ResolveError};
use crate::server::mmsg;
use crate::server::udp;

/// Who may ask, and what is answered locally.
#[derive(Debug, Clone)]
pub struct ServiceSettings {
    /// Addresses to serve on (UDP and TCP each).
    pub listen: Vec<SocketAddr>,
    /// Client networks answered; others get REFUSED. Default: loopback only.
    pub allow: Vec<IpNet>,
    /// Names answered from a hosts file before anything else.
    pub hosts: Option<Hosts>,
    /// Questions being resolved at once; more are answered SERVFAIL.
    pub max_inflight: usize,
    /// Seconds an idle TCP client connection stays open.
    pub tcp_idle: Duration,
    /// UDP worker threads per address (SO_REUSEPORT sockets); default one per CPU.
    pub workers: usize,
}

impl Default for ServiceSettings {
    fn default() -> Self {
        Self {
            listen: Vec::new(),
            allow: default_allow(),
            hosts: None,
            max_inflight: 4096,
            tcp_idle: Duration::from_secs(10),
            workers: std::thread::available_parallelism().map_or(1, usize::from),
        }
    }
}

/// The networks answered when none are configured: this host only.
pub fn default_allow() -> Vec<IpNet> {
    vec!["127.0.0.0/8".parse().expect("literal"), "::1/128".parse().expect("literal")]
}

/// A running resolver.
#[derive(Debug)]
pub struct RunningResolver {
    local_addrs: Vec<SocketAddr>,
    stop: CancellationToken,
    stop_workers: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    workers: Vec<std::thread::JoinHandle<()>>,
}

impl RunningResolver {
    /// The addresses it serves on (with the ports the kernel picked for port 0).
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.local_addrs
    }

    /// Stops every listener.
    pub async fn shutdown(self) {
        self.stop.cancel();
        self.stop_workers.store(true, Ordering::Relaxed);
        for task in self.tasks {
            let _ = task.await;
        }
        let workers = self.workers;
        let _ =
            tokio::task::spawn_blocking(move || workers.into_iter().for_each(|w| drop(w.join())))
                .await;
    }
}

struct Service {
    shared: Arc<Shared>,
    runtime: tokio::runtime::Handle,
    allow: Vec<IpNet>,
    hosts: Option<Hosts>,
    permits: Semaphore,
    tcp_idle: Duration,
}

/// Binds every listen address and starts serving.
pub async fn spawn(settings: ServiceSettings, shared: Arc<Shared>) -> io::Result<RunningResolver> {
    let service = Arc::new(Service {
        shared,
        runtime: tokio::runtime::Handle::current(),
        allow: settings.allow,
        hosts: settings.hosts,
        permits: Semaphore::new(settings.max_inflight),
        tcp_idle: settings.tcp_idle,
    });
    let stop = CancellationToken::new();
    let stop_workers = Arc::new(AtomicBool::new(false));
    let runtime = tokio::runtime::Handle::current();
    let mut local_addrs = Vec::new();
    let mut tasks = Vec::new();
    let mut workers = Vec::new();
    for addr in settings.listen {
        // For port 0 the kernel picks a UDP port that TCP may have in use: try another.
        let mut tries = 0;
        let (sockets, bound, tcp) = loop {
            let sockets = udp::bind(addr, settings.workers.max(1))?;
            let bound = sockets[0].local_addr()?;
            match TcpListener::bind(bound).await {
                Ok(tcp) => break (sockets, bound, tcp),
                Err(e)
                    if addr.port() == 0 && e.kind() == io::ErrorKind::AddrInUse && tries < 20 =>
                {
                    tries += 1;
                }
                Err(e) => return Err(e),
            }
        };
        local_addrs.push(bound);
        for socket in sockets {
            let worker = UdpWorker {
                service: service.clone(),
                runtime: runtime.clone(),
                stop: stop_workers.clone(),
            };
            let thread = std::thread::Builder::new().name("dns-resolver-udp".into());
            workers.push(thread.spawn(move || worker.run(&socket))?);
        }
        tasks.push(tokio::spawn(serve_tcp(service.clone(), tcp, stop.clone())));
    }
    Ok(RunningResolver { local_addrs, stop, stop_workers, tasks, workers })
}

/// A UDP worker thread: takes queries in batches, answers what the cache holds in the same
/// batch, and hands misses to the async runtime, whose task replies on a clone of the socket.
struct UdpWorker {
    service: Arc<Service>,
    runtime: tokio::runtime::Handle,
    stop: Arc<AtomicBool>,
}

impl UdpWorker {
    fn run(&self, socket: &std::net::UdpSocket) {
        let Ok(replies) = socket.try_clone().map(Arc::new) else {
            tracing::error!("cannot clone the UDP socket; worker stops");
            return;
        };
        mmsg::serve_batches(socket, &self.stop, |batch, received| {
            for slot in 0..received {
                let (query, peer, response) = batch.query(slot);
                let Some(peer) = peer else { continue };
                match self.service.answer_now(query, peer.ip(), true) {
                    Now::Reply(reply) => {
                        response.clear();
                        response.extend_from_slice(&reply);
                        batch.queue(slot);
                    }
                    Now::Silence => {}
                    Now::Resolve(query) => {
                        let (service, replies) = (self.service.clone(), replies.clone());
                        self.runtime.spawn(async move {
                            let reply = service.resolve(&query, true).await;
                            if let Err(error) = replies.send_to(&reply, peer) {
                                tracing::debug!(%peer, %error, "udp send failed");
                            }
                        });
                    }
                }
            }
        });
    }
}

async fn serve_tcp(service: Arc<Service>, listener: TcpListener, stop: CancellationToken) {
    loop {
        let Some((stream, peer)) = appnet_service::accept::next(&listener, &stop).await else {
            return;
        };
        let service = service.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = stop.cancelled() => {}
                result = service.serve_connection(stream, peer.ip()) => {
                    if let Err(error) = result {
                        tracing::debug!(%peer, %error, "tcp client closed");
                    }
                }
            }
        });
    }
}

impl Service {
    /// Queries on one connection, answered in order (RFC 7766 §6.2.1.1 allows either order;
    /// in order is what simple clients expect).
    async fn serve_connection(&self, mut stream: TcpStream, peer: IpAddr) -> io::Result<()> {
        loop {
            let length = match tokio::time::timeout(self.tcp_idle, stream.read_u16()).await {
                Ok(length) => length?,
                Err(_) => return Ok(()),
            };
            let mut query = vec![0; usize::from(length)];
            stream.read_exact(&mut query).await?;
            if let Some(reply) = self.answer(&query, peer, false).await {
                let mut framed = (reply.len() as u16).to_be_bytes().to_vec();
                framed.extend_from_slice(&reply);
                stream.write_all(&framed).await?;
            }
        }
    }

    /// The reply to one client query, or nothing for what deserves no reply.
    async fn answer(&self, bytes: &[u8], peer: IpAddr, udp: bool) -> Option<Vec<u8>> {
        match self.answer_now(bytes, peer, udp) {
            Now::Reply(reply) => Some(reply),
            Now::Silence => None,
            Now::Resolve(query) => Some(self.resolve(&query, udp).await),
        }
    }

    /// What can be answered without waiting: refusals, the hosts file, cache hits.
    fn answer_now(&self, bytes: &[u8], peer: IpAddr, udp: bool) -> Now {
        let query = match read_query(bytes) {
            Ok(query) => query,
            Err(rejection) => return write_rejection(&rejection).map_or(Now::Silence, Now::Reply),
        };
        if !self.allow.iter().any(|net| net.contains(&peer)) {
            tracing::debug!(%peer, "refused: not an allowed network");
            return Now::Reply(write_rcode(&query, REFUSED));
        }
        if let Some(answer) = self.hosts.as_ref().and_then(|hosts| local_answer(hosts, &query)) {
            return Now::Reply(write_answer(&query, &answer, udp));
        }
        match self.shared.cached(&query.qname_lower, query.qtype) {
            Some((outcome, expiring)) => {
                if expiring {
                    let (shared, qname, qtype) =
                        (self.shared.clone(), query.qname_lower.clone(), query.qtype);
                    self.runtime.spawn(async move { shared.prefetch(&qname, qtype).await });
                }
                Now::Reply(self.reply(&query, &outcome.0, udp))
            }
            None => Now::Resolve(query),
        }
    }

    /// Resolves `query` (joining an identical one in flight) and writes the reply.
    async fn resolve(&self, query: &ClientQuery, udp: bool) -> Vec<u8> {
        let Ok(_permit) = self.permits.try_acquire() else {
            return write_rcode(query, SERVFAIL);
        };
        let outcome = self.shared.resolve(&query.qname_lower, query.qtype).await;
        self.reply(query, &outcome.0, udp)
    }

    fn reply(
        &self,
        query: &ClientQuery,
        outcome: &Result<Answer, ResolveError>,
        udp: bool,
    ) -> Vec<u8> {
        match outcome {
            Ok(answer) => write_answer(query, answer, udp),
            Err(error) => {
                tracing::debug!(%error, "resolution failed");
                write_rcode(query, SERVFAIL)
            }
        }
    }
}

/// What a query needs.
enum Now {
    /// This reply, at once.
    Reply(Vec<u8>),
    /// No reply at all (not a query).
    Silence,
    /// A resolution.
    Resolve(ClientQuery),
}

const SERVFAIL: u16 = 2;
const REFUSED: u16 = 5;

/// The hosts file's answer: A/AAAA for a name it lists (NODATA for the other family), PTR for
/// an address it lists.
fn local_answer(hosts: &Hosts, query: &ClientQuery) -> Option<Answer> {
    let record = |rtype, rdata: Vec<u8>| AnswerRecord {
        name: query.qname_lower.clone(),
        rtype,
        ttl: HOSTS_TTL,
        rdata: rdata.into(),
    };
    if query.qtype == PTR {
        let name = hosts.lookup_reverse(&query.qname_lower)?;
        return Some(Answer {
            rcode: 0,
            answer: vec![record(PTR, name.to_vec())],
            authority: Vec::new(),
        });
    }
    let addresses = hosts.lookup(&query.qname_lower, if query.qtype == AAAA { AAAA } else { A })?;
    let answer = match query.qtype {
        A | AAAA => addresses
            .iter()
            .map(|ip| match ip {
                IpAddr::V4(v4) => record(A, v4.octets().to_vec()),
                IpAddr::V6(v6) => record(AAAA, v6.octets().to_vec()),
            })
            .collect(),
        _ => Vec::new(),
    };
    Some(Answer { rcode: 0, answer, authority: Vec::new() })
}

const A: u16 = 1;
const PTR: u16 = 12;
const AAAA: u16 = 28;
