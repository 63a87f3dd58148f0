//! One recursive question answered by iteration (RFC 1034 §5.3.3): look in the cache, find the
//! closest known zone cut, ask one of its servers, learn from the reply (answer, CNAME,
//! negative answer, referral), and repeat until the answer is in the cache.
//!
//! Sans-IO, in the crate's vocabulary: the driver sends what [`Resolution::poll_transmit`]
//! returns, feeds replies to [`Resolution::handle_response`], fires
//! [`Resolution::handle_timeout`] at [`Resolution::poll_timeout`], and takes the result from
//! [`Resolution::poll_outcome`]. The cache and the server statistics are shared by every
//! resolution and passed in by the driver; randomness (IDs, 0x20 case, server choice) comes
//! from the driver's generator.
//!
//! ```text
//!  Ready ──cache has it──► Finished
//!    │  └─NS names without addresses──► Sub(resolution of an NS name's A) ──► Ready
//!    └─ask the best server of the closest cut──► Waiting ──reply/timeout──► Ready
//! ```

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;

use super::cache::{Cache, Hit, NegativeSoa, Trust};
use super::hints::RootHints;
use super::request::{build_query, matches};
use super::response::{Meaning, RecordSet, interpret};
use super::selection::Servers;
use crate::zone::name::{label_offsets, parent};

/// Limits on the work one question may cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolverConfig {
    /// The port every authority is asked on (53; a private hierarchy on loopback may use one
    /// port for all its servers, the way `--ns-port` says).
    pub ns_port: u16,
    /// Queries sent for one question, sub-resolutions included (Unbound allows about as many).
    pub max_queries: u32,
    /// Nesting of glueless NS address lookups.
    pub max_depth: u8,
    /// CNAMEs followed.
    pub max_cnames: u8,
    /// Attempts per server and zone before it counts as failed.
    pub tries_per_server: u8,
    /// Time for the whole question.
    pub deadline: Duration,
    /// Randomise the case of query names (draft-vixie-dnsext-dns0x20) and require it echoed.
    pub case_randomization: bool,
    /// Upstream resolvers to send every question to (RD set) instead of iterating; empty: iterate.
    pub forwarders: Vec<SocketAddr>,
    /// QNAME minimisation (RFC 9156): tell each zone's servers only one label more than
    /// their zone, with type A, until the cut is found; the full name goes to the final zone.
    pub qname_minimisation: bool,
}

impl Default for ResolverConfig {
    fn default() -> Self {
        Self {
            ns_port: 53,
            max_queries: 64,
            max_depth: 4,
            max_cnames: 12,
            tries_per_server: 2,
            deadline: Duration::from_secs(8),
            case_randomization: true,
            forwarders: Vec::new(),
            qname_minimisation: true,
        }
    }
}

/// A query to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// The authority.
    pub to: SocketAddr,
    /// Over TCP (after a truncated UDP answer) rather than UDP.
    pub tcp: bool,
    /// The message.
    pub message: Vec<u8>,
}

/// A record of the final answer, TTL as left in the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerRecord {
    /// Owner, lowercase wire form.
    pub name: Box<[u8]>,
    /// Type.
    pub rtype: u16,
    /// Seconds left.
    pub ttl: u32,
    /// Data, names uncompressed.
    pub rdata: Box<[u8]>,
}

/// The result of a resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// NOERROR (0) or NXDOMAIN (3).
    pub rcode: u16,
    /// CNAMEs followed, then the data.
    pub answer: Vec<AnswerRecord>,
    /// For a negative answer, the zone's SOA.
    pub authority: Vec<AnswerRecord>,
}

/// Why no answer could be had; the client gets SERVFAIL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveError {
    /// Every server of a zone failed, timed out or was lame.
    #[error("no authority answered")]
    NoAuthority,
    /// The query or time budget ran out.
    #[error("too much work for one question")]
    TooMuchWork,
    /// A CNAME chain too long, or looping.
    #[error("CNAME chain too long")]
    CnameChain,
}

/// One server asked, for traces (`dig +trace`-like output and the lab's path diagram).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    /// The server.
    pub server: SocketAddr,
    /// The zone it was asked as.
    pub zone: Box<[u8]>,
    /// The name asked (with QNAME minimisation, maybe an ancestor of the question's).
    pub qname: Box<[u8]>,
    /// What came back: "referral", "answer", "nxdomain", "nodata", "lame", "error", "timeout",
    /// "truncated", "malformed".
    pub result: &'static str,
    /// How long it took.
    pub rtt: Duration,
}

#[derive(Debug)]
enum State {
    Ready,
    Waiting(Pending),
    Sub(Box<Resolution>),
    Finished,
}

#[derive(Debug, Clone)]
struct Pending {
    to: SocketAddr,
    id: u16,
    /// The question asked, lowercase: the current one, or a minimised one above it.
    qname: Box<[u8]>,
    qtype: u16,
    /// The name as sent (0x20 case pattern).
    sent_name: Box<[u8]>,
    tcp: bool,
    edns: bool,
    sent_at: Instant,
    expires: Instant,
    /// The transmit not yet handed to the driver (a TCP retry after TC).
    unsent: Option<Transmit>,
}

/// The iterative resolution of one question.
#[derive(Debug)]
pub struct Resolution {
    config: ResolverConfig,
    hints: Arc<RootHints>,
    qtype: u16,
    /// The name being resolved now: the question's, or a CNAME target.
    current: Box<[u8]>,
    chain: Vec<AnswerRecord>,
    cnames: u8,
    depth: u8,
    queries: u32,
    deadline: Instant,
    /// The zone whose servers are being asked, and their failures so far.
    zone: Box<[u8]>,
    failures: Vec<(SocketAddr, u8)>,
    /// NS names whose addresses a sub-resolution already looked for, at this zone.
    looked_up: Vec<Box<[u8]>>,
    /// Labels below the zone revealed to its servers beyond the first (QNAME minimisation),
    /// and whether minimisation is off for this zone (after an NXDOMAIN or an error for a
    /// minimised name, the full name is asked, as Unbound's relaxed mode does).
    revealed: usize,
    minimise_off: bool,
    /// Skip the cache's answer once: this resolution refreshes an entry about to expire.
    refresh: bool,
    state: State,
    outcome: Option<Result<Answer, ResolveError>>,
    hops: Vec<Hop>,
    /// Queries the enclosing resolutions had sent when this one started: they count against
    /// the same budget.
    spent_elsewhere: u32,
}

impl Resolution {
    /// Starts resolving `qname` (wire form, any case) of type `qtype`, class IN.
    pub fn new(
        qname: &[u8],
        qtype: u16,
        hints: Arc<RootHints>,
        config: &ResolverConfig,
        now: Instant,
    ) -> Self {
        Self::nested(qname, qtype, hints, config, now, 0)
    }

    /// A resolution that refreshes `qname`/`qtype` from the authorities although the cache
    /// still holds it (prefetch): the new answer replaces the old.
    pub fn refresh(
        qname: &[u8],
        qtype: u16,
        hints: Arc<RootHints>,
        config: &ResolverConfig,
        now: Instant,
    ) -> Self {
        let mut resolution = Self::nested(qname, qtype, hints, config, now, 0);
        resolution.refresh = true;
        resolution
    }

    fn nested(
        qname: &[u8],
        qtype: u16,
        hints: Arc<RootHints>,
        config: &ResolverConfig,
        now: Instant,
        depth: u8,
    ) -> Self {
        Self {
            config: config.clone(),
            hints,
            qtype,
            current: qname.to_ascii_lowercase().into(),
            chain: Vec::new(),
            cnames: 0,
            depth,
            queries: 0,
            deadline: now + config.deadline,
            zone: Box::new([]),
            failures: Vec::new(),
            looked_up: Vec::new(),
            revealed: 0,
            minimise_off: false,
            refresh: false,
            state: State::Ready,
            outcome: None,
            hops: Vec::new(),
            spent_elsewhere: 0,
        }
    }

    /// The next query to send, if one is due. Call after creating the resolution and after
    /// every `handle_*` call, until it returns `None`.
    pub fn poll_transmit(
        &mut self,
        cache: &mut Cache,
        servers: &mut Servers,
        rng: &mut impl Rng,
        now: Instant,
    ) -> Option<Transmit> {
        loop {
            match &mut self.state {
                State::Finished => return None,
                State::Waiting(pending) => return pending.unsent.take(),
                State::Sub(sub) => {
                    if let Some(transmit) = sub.poll_transmit(cache, servers, rng, now) {
                        return Some(transmit);
                    }
                    sub.outcome.as_ref()?;
                    self.queries += sub.queries;
                    self.hops.append(&mut sub.hops);
                    self.state = State::Ready;
                }
                State::Ready => self.step(cache, servers, rng, now),
            }
        }
    }

    /// A datagram or TCP message arrived from `from`. Anything that is not the reply to the
    /// query in flight — another source, ID, question or case — is ignored.
    pub fn handle_response(
        &mut self,
        from: SocketAddr,
        response: &[u8],
        cache: &mut Cache,
        servers: &mut Servers,
        now: Instant,
    ) {
        match &mut self.state {
            State::Sub(sub) => sub.handle_response(from, response, cache, servers, now),
            State::Waiting(pending)
                if pending.unsent.is_none()
                    && from == pending.to
                    && matches(response, pending.id, &pending.sent_name, pending.qtype) =>
            {
                let pending = pending.clone();
                self.handle_reply(&pending, response, cache, servers, now);
            }
            _ => {}
        }
    }

    /// Fires the timer: the query in flight is given up and another server tried.
    pub fn handle_timeout(&mut self, servers: &mut Servers, now: Instant) {
        if now >= self.deadline && !matches!(self.state, State::Finished) {
            self.finish(Err(ResolveError::TooMuchWork));
            return;
        }
        match &mut self.state {
            State::Sub(sub) => sub.handle_timeout(servers, now),
            State::Waiting(pending) if now >= pending.expires => {
                let pending = pending.clone();
                self.give_up(&pending, "timeout", servers, now);
            }
            _ => {}
        }
    }

    /// The query in flight will get no answer: the system reported its server unreachable
    /// (an ICMP port or host unreachable on the query's socket). The server is given up at
    /// once, as at a timeout, instead of waiting the timeout out.
    pub fn handle_unreachable(&mut self, servers: &mut Servers, now: Instant) {
        match &mut self.state {
            State::Sub(sub) => sub.handle_unreachable(servers, now),
            State::Waiting(pending) if pending.unsent.is_none() => {
                let pending = pending.clone();
                self.give_up(&pending, "unreachable", servers, now);
            }
            _ => {}
        }
    }

    /// The query in flight will not be answered: count it against its server, try another.
    fn give_up(
        &mut self,
        pending: &Pending,
        result: &'static str,
        servers: &mut Servers,
        now: Instant,
    ) {
        servers.handle_timeout(pending.to);
        self.hop(pending, result, now);
        self.fail_server(pending.to);
        self.state = State::Ready;
    }

    /// When to call [`handle_timeout`](Self::handle_timeout); `None` when finished.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.state {
            State::Finished => None,
            State::Waiting(pending) => Some(pending.expires.min(self.deadline)),
            State::Sub(sub) => Some(sub.poll_timeout().unwrap_or(self.deadline).min(self.deadline)),
            State::Ready => Some(self.deadline),
        }
    }

    /// The answer or error, once.
    pub fn poll_outcome(&mut self) -> Option<Result<Answer, ResolveError>> {
        if self.depth > 0 { None } else { self.outcome.take() }
    }

    /// Every server asked so far, in order.
    pub fn hops(&self) -> &[Hop] {
        &self.hops
    }

    /// Decides what to do next from the cache: finish, ask a server, or look up an NS address.
    fn step(&mut self, cache: &mut Cache, servers: &mut Servers, rng: &mut impl Rng, now: Instant) {
        if self.queries + self.spent_elsewhere >= self.config.max_queries || now >= self.deadline {
            return self.finish(Err(ResolveError::TooMuchWork));
        }
        if self.answer_from_cache(cache, now) {
            return;
        }
        // A forwarder answers for the whole tree: its zone is the root, its servers are fixed.
        let forwarding = !self.config.forwarders.is_empty();
        let (zone, names) =
            if forwarding { (ROOT.into(), Vec::new()) } else { self.closest_cut(cache, now) };
        if zone != self.zone {
            self.zone = zone;
            self.failures.clear();
            self.looked_up.clear();
            self.revealed = 0;
            self.minimise_off = false;
        }
        let (addresses, unresolved) = if forwarding {
            (self.config.forwarders.clone(), Vec::new())
        } else {
            self.addresses(&names, cache, now)
        };
        let eligible: Vec<SocketAddr> = addresses
            .into_iter()
            .filter(|a| self.failure_count(*a) < self.config.tries_per_server)
            .collect();
        if let Some(index) = servers.choose(&eligible, rng) {
            return self.send(eligible[index], false, servers, rng, now);
        }
        let next = unresolved.into_iter().find(|name| !self.looked_up.contains(name));
        match next {
            Some(name) if self.depth < self.config.max_depth => {
                self.looked_up.push(name.clone());
                let mut sub =
                    Self::nested(&name, A, self.hints.clone(), &self.config, now, self.depth + 1);
                sub.deadline = self.deadline;
                sub.spent_elsewhere = self.queries + self.spent_elsewhere;
                self.state = State::Sub(Box::new(sub));
            }
            _ => self.finish(Err(ResolveError::NoAuthority)),
        }
    }

    /// Finishes if the cache holds the answer for the current name, following cached CNAMEs;
    /// otherwise moves the current name to the end of the cached chain.
    fn answer_from_cache(&mut self, cache: &mut Cache, now: Instant) -> bool {
        let budget = self.config.max_cnames.saturating_sub(self.cnames);
        match walk_cache(cache, &self.current, self.qtype, budget, now) {
            CacheWalk::Answer { mut answer, .. } if !self.refresh => {
                let mut records = std::mem::take(&mut self.chain);
                records.append(&mut answer.answer);
                answer.answer = records;
                self.finish(Ok(answer));
                true
            }
            // A refresh (prefetch) asks the authorities even though the cache has the answer,
            // until one of them has answered.
            CacheWalk::Answer { .. } => false,
            CacheWalk::Missing { chain, name } => {
                self.cnames = self.cnames.saturating_add(chain.len() as u8);
                if self.chain.iter().any(|r| r.name == name) {
                    self.finish(Err(ResolveError::CnameChain));
                    return true;
                }
                self.chain.extend(chain);
                self.current = name;
                false
            }
            CacheWalk::CnameChain => {
                self.finish(Err(ResolveError::CnameChain));
                true
            }
        }
    }

    /// The deepest ancestor of the current name whose NS RRset is cached, and its NS names;
    /// the root from the hints when none is.
    fn closest_cut(&self, cache: &mut Cache, now: Instant) -> (Box<[u8]>, Vec<Box<[u8]>>) {
        let mut name: &[u8] = &self.current;
        loop {
            if let Some(Hit::Records { rdatas, .. }) = cache.lookup(name, NS, now) {
                let names = rdatas.iter().map(|r| r.to_ascii_lowercase().into()).collect();
                return (name.into(), names);
            }
            match parent(name) {
                Some(up) if !up.is_empty() => name = up,
                _ => break,
            }
        }
        let names = self.hints.servers.iter().map(|server| server.name.clone()).collect();
        (ROOT.into(), names)
    }

    /// The known addresses of `names`, and the names with none known.
    fn addresses(
        &self,
        names: &[Box<[u8]>],
        cache: &mut Cache,
        now: Instant,
    ) -> (Vec<SocketAddr>, Vec<Box<[u8]>>) {
        let port = self.config.ns_port;
        let mut addresses = Vec::new();
        let mut unresolved = Vec::new();
        for name in names {
            let before = addresses.len();
            for rtype in [A, AAAA] {
                if let Some(Hit::Records { rdatas, .. }) = cache.lookup(name, rtype, now) {
                    addresses.extend(
                        rdatas.iter().filter_map(|r| ip(r)).map(|ip| SocketAddr::new(ip, port)),
                    );
                }
            }
            if addresses.len() == before && *self.zone == *ROOT {
                if let Some(hint) = self.hints.servers.iter().find(|s| s.name == *name) {
                    addresses.extend(hint.addresses.iter().map(|ip| SocketAddr::new(*ip, port)));
                }
            }
            if addresses.len() == before {
                unresolved.push(name.clone());
            }
        }
        (addresses, unresolved)
    }

    fn send(
        &mut self,
        to: SocketAddr,
        tcp: bool,
        servers: &Servers,
        rng: &mut impl Rng,
        now: Instant,
    ) {
        self.queries += 1;
        let id: u16 = rng.random();
        let (qname, qtype) = self.question_to_ask();
        let sent_name = if self.config.case_randomization {
            randomize_case(&qname, rng)
        } else {
            qname.clone()
        };
        let edns = servers.edns(to);
        let message = self.query(&sent_name, qtype, id, edns);
        let timeout =
            if tcp { servers.timeout(to).max(Duration::from_secs(2)) } else { servers.timeout(to) };
        self.state = State::Waiting(Pending {
            to,
            id,
            qname,
            qtype,
            sent_name,
            tcp,
            edns,
            sent_at: now,
            expires: now + timeout,
            unsent: Some(Transmit { to, tcp, message }),
        });
    }

    fn handle_reply(
        &mut self,
        pending: &Pending,
        response: &[u8],
        cache: &mut Cache,
        servers: &mut Servers,
        now: Instant,
    ) {
        servers.handle_rtt(pending.to, now.saturating_duration_since(pending.sent_at));
        let truncated = response.len() > 2 && response[2] & 0x02 != 0;
        if truncated && !pending.tcp {
            self.hop(pending, "truncated", now);
            // Same question, same server, over TCP (RFC 7766 §5).
            let message = self.query(&pending.sent_name, pending.qtype, pending.id, pending.edns);
            self.queries += 1;
            self.state = State::Waiting(Pending {
                tcp: true,
                sent_at: now,
                expires: now + servers.timeout(pending.to).max(Duration::from_secs(2)),
                unsent: Some(Transmit { to: pending.to, tcp: true, message }),
                ..pending.clone()
            });
            return;
        }
        self.state = State::Ready;
        // Names compressed against the question would carry its 0x20 case pattern into the
        // cache: put the question back in lowercase first (`matches` checked it is there).
        let mut response = response.to_vec();
        response[12..12 + pending.qname.len()].copy_from_slice(&pending.qname);
        let Ok(meaning) = interpret(&response, &pending.qname, pending.qtype, &self.zone) else {
            self.hop(pending, "malformed", now);
            return self.fail_server(pending.to);
        };
        let minimised = pending.qname != self.current || pending.qtype != self.qtype;
        if minimised {
            return self.handle_minimised(pending, meaning, cache, now);
        }
        if matches!(meaning, Meaning::Answer { .. } | Meaning::Negative { .. }) {
            self.refresh = false;
        }
        match meaning {
            Meaning::Answer { rrsets, authoritative } => {
                self.hop(pending, "answer", now);
                let trust = if authoritative { Trust::Answer } else { Trust::Authority };
                for set in rrsets {
                    store(cache, set, trust, now);
                }
            }
            Meaning::Negative { nxdomain, chain, name, soa } => {
                self.hop(pending, if nxdomain { "nxdomain" } else { "nodata" }, now);
                for set in chain {
                    store(cache, set, Trust::Answer, now);
                }
                let ttl = soa.as_ref().map_or(0, |soa| soa.negative_ttl);
                let soa = soa.map(|soa| NegativeSoa { owner: soa.owner, rdata: soa.rdata });
                cache.insert_negative(&name, self.qtype, nxdomain, soa, ttl, now);
            }
            Meaning::Referral { ns, glue, .. } => {
                self.hop(pending, "referral", now);
                store_referral(cache, ns, glue, now);
            }
            Meaning::Error { rcode } => {
                self.hop(pending, "error", now);
                if rcode == FORMERR && pending.edns {
                    // Ask again without EDNS; this is no failure of the server's.
                    servers.handle_no_edns(pending.to);
                    return;
                }
                self.fail_server(pending.to);
            }
            Meaning::Lame => {
                self.hop(pending, "lame", now);
                self.fail_server(pending.to);
            }
        }
    }

    /// What to ask the current zone's servers: the full question, or with QNAME minimisation
    /// (RFC 9156 §3) the current name cut to one label more than the zone (plus those already
    /// found to be no cut), type A.
    fn question_to_ask(&self) -> (Box<[u8]>, u16) {
        let full = (self.current.clone(), self.qtype);
        if !self.config.qname_minimisation
            || self.minimise_off
            || !self.config.forwarders.is_empty()
        {
            return full;
        }
        let offsets: Vec<usize> = label_offsets(&self.current).collect();
        let zone_labels = label_offsets(&self.zone).count();
        let wanted = zone_labels + 1 + self.revealed;
        if wanted >= offsets.len() || self.revealed >= MAX_MINIMISE_STEPS {
            return full;
        }
        (self.current[offsets[offsets.len() - wanted]..].into(), A)
    }

    /// A reply to a minimised question: a referral moves down as usual; data or no data means
    /// no cut at that name (one more label next time); anything else, ask the full name.
    fn handle_minimised(
        &mut self,
        pending: &Pending,
        meaning: Meaning,
        cache: &mut Cache,
        now: Instant,
    ) {
        match meaning {
            Meaning::Referral { ns, glue, .. } => {
                self.hop(pending, "referral", now);
                store_referral(cache, ns, glue, now);
            }
            Meaning::Answer { .. } | Meaning::Negative { nxdomain: false, .. } => {
                self.hop(pending, "no cut", now);
                self.revealed += 1;
            }
            Meaning::Negative { nxdomain: true, .. } | Meaning::Error { .. } | Meaning::Lame => {
                self.hop(pending, "minimised query failed", now);
                self.minimise_off = true;
            }
        }
    }

    /// The query for a question: iterative, or with RD set to a forwarder.
    fn query(&self, name: &[u8], qtype: u16, id: u16, edns: bool) -> Vec<u8> {
        let mut message = build_query(name, qtype, id, edns);
        if !self.config.forwarders.is_empty() {
            message[2] |= 0x01;
        }
        message
    }

    fn hop(&mut self, pending: &Pending, result: &'static str, now: Instant) {
        self.hops.push(Hop {
            server: pending.to,
            zone: self.zone.clone(),
            qname: pending.qname.clone(),
            result,
            rtt: now.saturating_duration_since(pending.sent_at),
        });
    }

    fn failure_count(&self, server: SocketAddr) -> u8 {
        self.failures.iter().find(|(s, _)| *s == server).map_or(0, |(_, n)| *n)
    }

    fn fail_server(&mut self, server: SocketAddr) {
        match self.failures.iter_mut().find(|(s, _)| *s == server) {
            Some((_, count)) => *count = count.saturating_add(1),
            None => self.failures.push((server, 1)),
        }
    }

    fn finish(&mut self, outcome: Result<Answer, ResolveError>) {
        self.state = State::Finished;
        self.outcome = Some(outcome);
    }
}

/// What the cache alone says of a question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheWalk {
    /// The whole answer (CNAMEs followed, then the data or the negative answer).
    Answer {
        /// The answer, TTLs as left in the cache.
        answer: Answer,
        /// The final RRset is in the last tenth of its TTL: worth refreshing before it
        /// expires, while it is being asked for (prefetch, as Unbound does).
        expiring: bool,
    },
    /// The cache follows CNAMEs this far, then knows nothing of `name`.
    Missing {
        /// The CNAMEs followed.
        chain: Vec<AnswerRecord>,
        /// Where the chain ends: the name to resolve next.
        name: Box<[u8]>,
    },
    /// More than the allowed CNAMEs, or a loop.
    CnameChain,
}

/// Answers `name`/`qtype` from `cache` alone, following at most `max_cnames` cached CNAMEs.
/// The resolver's fast path for cache hits, and every resolution's first step.
pub fn walk_cache(
    cache: &mut Cache,
    name: &[u8],
    qtype: u16,
    max_cnames: u8,
    now: Instant,
) -> CacheWalk {
    walk(cache, name, qtype, max_cnames, now, false)
}

/// Like [`walk_cache`], taking expired entries within the serve-stale window too (RFC 8767):
/// the answer of last resort when no authority answers.
pub fn walk_cache_stale(
    cache: &mut Cache,
    name: &[u8],
    qtype: u16,
    max_cnames: u8,
    now: Instant,
) -> CacheWalk {
    walk(cache, name, qtype, max_cnames, now, true)
}

fn walk(
    cache: &mut Cache,
    name: &[u8],
    qtype: u16,
    max_cnames: u8,
    now: Instant,
    stale: bool,
) -> CacheWalk {
    let mut chain: Vec<AnswerRecord> = Vec::new();
    let mut current: Box<[u8]> = name.into();
    loop {
        let hit = if stale {
            cache.lookup_stale(&current, qtype, now)
        } else {
            cache.lookup(&current, qtype, now)
        };
        match hit {
            Some(Hit::Records { rdatas, ttl, stored_ttl, .. }) => {
                let expiring = stored_ttl >= PREFETCH_MIN_TTL && ttl * 10 < stored_ttl;
                chain.extend(rdatas.iter().map(|rdata| AnswerRecord {
                    name: current.clone(),
                    rtype: qtype,
                    ttl,
                    rdata: rdata.clone(),
                }));
                let answer = Answer { rcode: 0, answer: chain, authority: Vec::new() };
                return CacheWalk::Answer { answer, expiring };
            }
            Some(Hit::Negative { nxdomain, soa, ttl }) => {
                let authority = soa
                    .map(|soa| AnswerRecord {
                        name: soa.owner.clone(),
                        rtype: SOA,
                        ttl,
                        rdata: soa.rdata.clone(),
                    })
                    .into_iter()
                    .collect();
                let answer =
                    Answer { rcode: if nxdomain { 3 } else { 0 }, answer: chain, authority };
                return CacheWalk::Answer { answer, expiring: false };
            }
            None => {}
        }
        if qtype == CNAME {
            return CacheWalk::Missing { chain, name: current };
        }
        let cname = if stale {
            cache.lookup_stale(&current, CNAME, now)
        } else {
            cache.lookup(&current, CNAME, now)
        };
        let Some(Hit::Records { rdatas, ttl, .. }) = cname else {
            return CacheWalk::Missing { chain, name: current };
        };
        let target: Box<[u8]> = rdatas[0].to_ascii_lowercase().into();
        chain.push(AnswerRecord { name: current, rtype: CNAME, ttl, rdata: rdatas[0].clone() });
        if chain.len() > usize::from(max_cnames)
            || chain.iter().any(|r| r.name == target)
            || *target == *name
        {
            return CacheWalk::CnameChain;
        }
        current = target;
    }
}

const A: u16 = 1;
const NS: u16 = 2;
const CNAME: u16 = 5;
const SOA: u16 = 6;
const AAAA: u16 = 28;
const FORMERR: u16 = 1;
/// RRsets stored with a shorter TTL are not prefetched: refreshing them would be most of the
/// traffic for little gain.
const PREFETCH_MIN_TTL: u32 = 10;
/// Minimised queries per zone before the rest of the name is asked at once (RFC 9156 §2.3).
const MAX_MINIMISE_STEPS: usize = 10;
const ROOT: &[u8] = &[0];

fn store(cache: &mut Cache, set: RecordSet, trust: Trust, now: Instant) {
    cache.insert_records(&set.name, set.rtype, set.ttl, set.rdatas, trust, now);
}

/// A delegation's NS set (authority-section trust) and glue (additional-section trust).
fn store_referral(cache: &mut Cache, ns: RecordSet, glue: Vec<RecordSet>, now: Instant) {
    store(cache, ns, Trust::Authority, now);
    for set in glue {
        store(cache, set, Trust::Additional, now);
    }
}

fn ip(rdata: &[u8]) -> Option<IpAddr> {
    match rdata.len() {
        4 => Some(IpAddr::from(<[u8; 4]>::try_from(rdata).ok()?)),
        16 => Some(IpAddr::from(<[u8; 16]>::try_from(rdata).ok()?)),
        _ => None,
    }
}

/// `name` with each letter's case chosen at random: a spoofer must guess it too.
fn randomize_case(name: &[u8], rng: &mut impl Rng) -> Box<[u8]> {
    let mut out = name.to_vec();
    let mut lengths: Vec<usize> = label_offsets(name).collect();
    lengths.push(name.len());
    for byte in out.iter_mut().enumerate().filter(|(i, _)| !lengths.contains(i)).map(|(_, b)| b) {
        if byte.is_ascii_alphabetic() && rng.random::<bool>() {
            *byte ^= 0x20;
        }
    }
    out.into()
}
