//! The tokio driver of [`Resolution`]: sends its queries from a fresh UDP socket each (a new
//! random source port per query, connected so only the server asked can answer) or over TCP,
//! sleeps until its timer, and feeds it what arrives. Identical questions in flight at once
//! share one resolution.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use rand::SeedableRng;
use rand::rngs::StdRng;
use socket2::{Domain, SockRef, Socket, Type};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::broadcast;

use super::cache::Cache;
use super::hints::RootHints;
use super::resolution::{
    Answer, CacheWalk, Hop, Resolution, ResolveError, ResolverConfig, Transmit, walk_cache,
    walk_cache_stale,
};
use super::selection::Servers;

/// A resolution's result as shared between the clients that asked the same question.
pub type Outcome = Arc<(Result<Answer, ResolveError>, Vec<Hop>)>;

/// What every resolution shares: the cache, the server statistics, the hints and the limits.
#[derive(Debug)]
pub struct Shared {
    /// The cache.
    pub cache: Mutex<Cache>,
    /// RTT statistics of the authorities.
    pub servers: Mutex<Servers>,
    /// Where iteration starts.
    pub hints: Arc<RootHints>,
    /// Limits per question.
    pub config: ResolverConfig,
    inflight: Mutex<HashMap<QuestionKey, broadcast::Sender<Outcome>>>,
    hits: AtomicU64,
    misses: AtomicU64,
    /// The paths of the last resolutions, newest last, for the lab and for debugging.
    traces: Mutex<std::collections::VecDeque<Trace>>,
}

/// The servers one resolution asked, in order.
#[derive(Debug, Clone)]
pub struct Trace {
    /// The question's name, lowercase wire form.
    pub qname: Box<[u8]>,
    /// The question's type.
    pub qtype: u16,
    /// Each query sent and what came of it.
    pub hops: Vec<Hop>,
}

/// Traces kept.
const TRACES_KEPT: usize = 32;

/// A question being resolved, for joining identical ones.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct QuestionKey {
    name: Box<[u8]>,
    qtype: u16,
}

impl Shared {
    /// State for a resolver with `cache`, `hints` and `config`.
    pub fn new(cache: Cache, hints: RootHints, config: ResolverConfig) -> Self {
        Self {
            cache: Mutex::new(cache),
            servers: Mutex::new(Servers::new()),
            hints: Arc::new(hints),
            config,
            inflight: Mutex::new(HashMap::new()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            traces: Mutex::new(std::collections::VecDeque::new()),
        }
    }

    /// The answer to `qname` (lowercase wire name) / `qtype`: from the cache at once if it
    /// is there, else by iteration, joined with any identical question already in flight.
    pub async fn resolve(&self, qname: &[u8], qtype: u16) -> Outcome {
        if let Some((hit, _)) = self.cached(qname, qtype) {
            return hit;
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let key = QuestionKey { name: qname.into(), qtype };
        let waiting = {
            let mut inflight = self.inflight.lock().unwrap_or_else(PoisonError::into_inner);
            match inflight.get(&key) {
                Some(sender) => Some(sender.subscribe()),
                None => {
                    inflight.insert(key.clone(), broadcast::channel(1).0);
                    None
                }
            }
        };
        if let Some(mut receiver) = waiting {
            if let Ok(outcome) = receiver.recv().await {
                return outcome;
            }
        }
        let outcome = Arc::new(self.iterate(qname, qtype, false).await);
        {
            let mut traces = self.traces.lock().unwrap_or_else(PoisonError::into_inner);
            if traces.len() == TRACES_KEPT {
                traces.pop_front();
            }
            traces.push_back(Trace { qname: qname.into(), qtype, hops: outcome.1.clone() });
        }
        let sender = self.inflight.lock().unwrap_or_else(PoisonError::into_inner).remove(&key);
        if let Some(sender) = sender {
            let _ = sender.send(outcome.clone());
        }
        outcome
    }

    /// The paths of the last resolutions (up to 32), oldest first.
    pub fn recent_traces(&self) -> Vec<Trace> {
        self.traces.lock().unwrap_or_else(PoisonError::into_inner).iter().cloned().collect()
    }

    /// Client questions answered from the cache, and those that needed a resolution (joined
    /// ones included), since the start.
    pub fn hit_counts(&self) -> (u64, u64) {
        (self.hits.load(Ordering::Relaxed), self.misses.load(Ordering::Relaxed))
    }

    /// The answer if the cache alone has it, and whether it is about to expire (then call
    /// [`prefetch`](Self::prefetch) while serving it).
    pub fn cached(&self, qname: &[u8], qtype: u16) -> Option<(Outcome, bool)> {
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        match walk_cache(&mut cache, qname, qtype, self.config.max_cnames, now()) {
            CacheWalk::Answer { answer, expiring } => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                Some((Arc::new((Ok(answer), Vec::new())), expiring))
            }
            CacheWalk::Missing { .. } | CacheWalk::CnameChain => None,
        }
    }

    /// Refreshes `qname`/`qtype` from the authorities before its cached answer expires,
    /// unless a resolution of it is already in flight.
    pub async fn prefetch(&self, qname: &[u8], qtype: u16) {
        let key = QuestionKey { name: qname.into(), qtype };
        {
            let mut inflight = self.inflight.lock().unwrap_or_else(PoisonError::into_inner);
            if inflight.contains_key(&key) {
                return;
            }
            inflight.insert(key.clone(), broadcast::channel(1).0);
        }
        let outcome = Arc::new(self.iterate(qname, qtype, true).await);
        let sender = self.inflight.lock().unwrap_or_else(PoisonError::into_inner).remove(&key);
        if let Some(sender) = sender {
            let _ = sender.send(outcome);
        }
    }

    /// A failed resolution's stale answer, if the cache still has one (RFC 8767).
    fn or_stale(
        &self,
        outcome: Result<Answer, ResolveError>,
        qname: &[u8],
        qtype: u16,
    ) -> Result<Answer, ResolveError> {
        let Err(error) = outcome else { return outcome };
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        match walk_cache_stale(&mut cache, qname, qtype, self.config.max_cnames, now()) {
            CacheWalk::Answer { answer, .. } => {
                tracing::debug!(%error, "no authority answered: serving stale data");
                Ok(answer)
            }
            CacheWalk::Missing { .. } | CacheWalk::CnameChain => Err(error),
        }
    }

    async fn iterate(
        &self,
        qname: &[u8],
        qtype: u16,
        refresh: bool,
    ) -> (Result<Answer, ResolveError>, Vec<Hop>) {
        // IDs, ports and 0x20 bits must not be guessable: a CSPRNG per resolution.
        let mut rng = StdRng::from_os_rng();
        let (hints, config) = (self.hints.clone(), &self.config);
        let mut resolution = if refresh {
            Resolution::refresh(qname, qtype, hints, config, now())
        } else {
            Resolution::new(qname, qtype, hints, config, now())
        };
        let mut exchange: Option<Exchange> = None;
        // One timer for the whole resolution, moved as the core asks: a new timer earlier
        // than the runtime's next wake-up makes tokio wake its driver thread to re-arm.
        let timer = tokio::time::sleep(std::time::Duration::ZERO);
        tokio::pin!(timer);
        loop {
            let transmit = {
                let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
                let mut servers = self.servers.lock().unwrap_or_else(PoisonError::into_inner);
                resolution.poll_transmit(&mut cache, &mut servers, &mut rng, now())
            };
            if let Some(outcome) = resolution.poll_outcome() {
                return (self.or_stale(outcome, qname, qtype), resolution.hops().to_vec());
            }
            if let Some(transmit) = transmit {
                // The previous query's socket is closed first, not after the new query is out.
                drop(exchange.take());
                exchange = Exchange::start(transmit).await.ok();
            }
            let Some(wake) = resolution.poll_timeout() else { continue };
            if timer.deadline().into_std() != wake {
                timer.as_mut().reset(wake.into());
            }
            tokio::select! {
                () = &mut timer => {
                    let mut servers = self.servers.lock().unwrap_or_else(PoisonError::into_inner);
                    resolution.handle_timeout(&mut servers, now());
                }
                received = receive(&mut exchange) => match received {
                    Ok((from, message)) => {
                        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
                        let mut servers = self.servers.lock().unwrap_or_else(PoisonError::into_inner);
                        resolution.handle_response(from, &message, &mut cache, &mut servers, now());
                    }
                    // Refused (ICMP unreachable) or reset: nothing will come; try another server now.
                    Err(_) => {
                        exchange = None;
                        let mut servers = self.servers.lock().unwrap_or_else(PoisonError::into_inner);
                        resolution.handle_unreachable(&mut servers, now());
                    }
                },
            }
        }
    }
}

/// Room for one UDP reply from an authority (4 KiB: more than the 1232 bytes we ask for).
const UDP_RECEIVE_ROOM: usize = 4096;

/// One query in flight.
enum Exchange {
    Udp { socket: UdpSocket, to: SocketAddr, buffer: Vec<u8> },
    Tcp { stream: TcpStream, to: SocketAddr },
}

impl Exchange {
    async fn start(transmit: Transmit) -> io::Result<Self> {
        let to = transmit.to;
        if transmit.tcp {
            let mut stream = TcpStream::connect(to).await?;
            let length =
                u16::try_from(transmit.message.len()).map_err(|_| io::ErrorKind::InvalidInput)?;
            let mut framed = length.to_be_bytes().to_vec();
            framed.extend_from_slice(&transmit.message);
            stream.write_all(&framed).await?;
            return Ok(Self::Tcp { stream, to });
        }
        // connect() on an unbound socket binds it to a random ephemeral port, as bind(0)
        // would, one system call sooner. The query is written straight to the descriptor:
        // tokio's `send` would first wait a turn of the event loop to learn that the new
        // socket is writable. Nothing is left to do after the write but wait, so on a loaded
        // core the server asked runs at once. On loopback this took a cold resolution from 11
        // system calls per hop to 8.
        let socket = Socket::new(Domain::for_address(to), Type::DGRAM.nonblocking(), None)?;
        socket.connect(&to.into())?;
        let socket = UdpSocket::from_std(socket.into())?;
        SockRef::from(&socket).send(&transmit.message)?;
        // Our queries advertise a 1232-byte EDNS size; a larger datagram is cut, fails to
        // parse and counts as no answer. A small buffer spares zeroing 64 KiB per query.
        Ok(Self::Udp { socket, to, buffer: vec![0; UDP_RECEIVE_ROOM] })
    }
}

/// The next message of the exchange; pending forever when there is none.
async fn receive(exchange: &mut Option<Exchange>) -> io::Result<(SocketAddr, Vec<u8>)> {
    match exchange {
        None => std::future::pending().await,
        Some(Exchange::Udp { socket, to, buffer }) => {
            let length = socket.recv(buffer).await?;
            Ok((*to, buffer[..length].to_vec()))
        }
        Some(Exchange::Tcp { stream, to }) => {
            let length = stream.read_u16().await?;
            let mut message = vec![0; usize::from(length)];
            stream.read_exact(&mut message).await?;
            Ok((*to, message))
        }
    }
}

fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}
