//! The resolver as a network service: UDP and TCP listeners, the client ACL, the hosts file,
//! then the cache and iteration through [`Shared`].

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::driver::Shared;
use super::hosts::{HOSTS_TTL, Hosts};
use super::reply::{ClientQuery, read_query, write_answer, write_rcode, write_rejection};
use super::resolution::{Answer, AnswerRecord, ResolveError};

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
}

impl Default for ServiceSettings {
    fn default() -> Self {
        Self {
            listen: Vec::new(),
            allow: default_allow(),
            hosts: None,
            max_inflight: 4096,
            tcp_idle: Duration::from_secs(10),
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
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl RunningResolver {
    /// The addresses it serves on (with the ports the kernel picked for port 0).
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.local_addrs
    }

    /// Stops every listener.
    pub async fn shutdown(self) {
        self.stop.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

struct Service {
    shared: Arc<Shared>,
    allow: Vec<IpNet>,
    hosts: Option<Hosts>,
    permits: Semaphore,
    tcp_idle: Duration,
}

/// Binds every listen address and starts serving.
pub async fn spawn(settings: ServiceSettings, shared: Arc<Shared>) -> io::Result<RunningResolver> {
    let service = Arc::new(Service {
        shared,
        allow: settings.allow,
        hosts: settings.hosts,
        permits: Semaphore::new(settings.max_inflight),
        tcp_idle: settings.tcp_idle,
    });
    let stop = CancellationToken::new();
    let mut local_addrs = Vec::new();
    let mut tasks = Vec::new();
    for addr in settings.listen {
        let udp = Arc::new(UdpSocket::bind(addr).await?);
        let bound = udp.local_addr()?;
        let tcp = TcpListener::bind(bound).await?;
        local_addrs.push(bound);
        tasks.push(tokio::spawn(serve_udp(service.clone(), udp, stop.clone())));
        tasks.push(tokio::spawn(serve_tcp(service.clone(), tcp, stop.clone())));
    }
    Ok(RunningResolver { local_addrs, stop, tasks })
}

async fn serve_udp(service: Arc<Service>, socket: Arc<UdpSocket>, stop: CancellationToken) {
    let mut buffer = vec![0; 65_535];
    loop {
        let (length, peer) = tokio::select! {
            () = stop.cancelled() => return,
            received = socket.recv_from(&mut buffer) => match received {
                Ok(received) => received,
                Err(error) => {
                    tracing::debug!(%error, "udp receive failed");
                    continue;
                }
            },
        };
        // Cache hits and refusals are answered here, without a task; misses get one each.
        let query = match service.answer_now(&buffer[..length], peer.ip(), true) {
            Now::Reply(reply) => {
                if let Err(error) = socket.send_to(&reply, peer).await {
                    tracing::debug!(%peer, %error, "udp send failed");
                }
                continue;
            }
            Now::Silence => continue,
            Now::Resolve(query) => query,
        };
        let (service, socket) = (service.clone(), socket.clone());
        tokio::spawn(async move {
            let reply = service.resolve(&query, true).await;
            if let Err(error) = socket.send_to(&reply, peer).await {
                tracing::debug!(%peer, %error, "udp send failed");
            }
        });
    }
}

async fn serve_tcp(service: Arc<Service>, listener: TcpListener, stop: CancellationToken) {
    loop {
        let (stream, peer) = tokio::select! {
            () = stop.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::debug!(%error, "tcp accept failed");
                    continue;
                }
            },
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
            Some(outcome) => Now::Reply(self.reply(&query, &outcome.0, udp)),
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
