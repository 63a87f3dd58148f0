//! The resolution core against a small hierarchy of appnet authority cores, in virtual time:
//! root → lab. → site.lab., a glueless delegation served by a name under test., a dead
//! server, a truncated answer. Every exchange is exact and takes microseconds.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::authority::{Authority, Response, Transport};

const ROOT: &str = "$ORIGIN .\n$TTL 86400\n. SOA a.root.lab. h.root.lab. 1 3600 900 604800 300\n\
    . NS a.root.lab.\na.root.lab. A 127.0.0.2\n\
    lab. NS ns.lab.\nlab. NS ns2.lab.\nns.lab. A 127.0.0.3\nns2.lab. A 127.0.0.7\n\
    test. NS ns.test.\nns.test. A 127.0.0.6\n";
const LAB: &str = "$ORIGIN lab.\n$TTL 3600\n@ SOA ns hostmaster 1 3600 900 604800 60\n@ NS ns\n@ NS ns2\n\
    ns A 127.0.0.3\nns2 A 127.0.0.7\nwww A 192.0.2.80\nalias CNAME www.site\n\
    site NS ns.site\nns.site A 127.0.0.4\nglueless NS ns1.other.test.\n";
const SITE: &str = "$ORIGIN site.lab.\n$TTL 300\n@ SOA ns hostmaster 1 3600 900 604800 60\n@ NS ns\n\
    ns A 127.0.0.4\nwww A 192.0.2.44\n";
const GLUELESS: &str = "$ORIGIN glueless.lab.\n$TTL 300\n@ SOA ns1.other.test. h 1 3600 900 604800 60\n\
    @ NS ns1.other.test.\nhost A 192.0.2.55\n";
const TEST: &str = "$ORIGIN test.\n$TTL 300\n@ SOA ns h 1 3600 900 604800 60\n@ NS ns\nns A 127.0.0.6\n\
    ns1.other A 127.0.0.5\n";

const A: u16 = 1;
const TXT: u16 = 16;
const MX: u16 = 15;

/// Servers by address; 127.0.0.7 (ns2.lab.) never answers.
struct Network {
    servers: HashMap<SocketAddr, Authority>,
    now: Instant,
    cache: Cache,
    stats: Servers,
    rng: ChaCha8Rng,
    hints: Arc<RootHints>,
    sent: Vec<Transmit>,
}

fn address(last: u8) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, last], 53))
}

fn authority(zones: &[&str]) -> Authority {
    let zones = zones.iter().map(|text| {
        Arc::new(crate::zone::parse_str(text, Path::new("z"), None).expect("test zone"))
    });
    Authority::new(zones)
}

fn wire(name: &str) -> Vec<u8> {
    <domain::base::Name<Vec<u8>> as std::str::FromStr>::from_str(name).unwrap().as_slice().to_vec()
}

impl Network {
    #[allow(clippy::disallowed_methods)] // any instant serves as the origin of virtual time
    fn new() -> Self {
        let big_txt: String = (0..12)
            .map(|i| format!("big IN TXT \"{}\"\n", format!("{i:02}").repeat(100)))
            .collect();
        let servers = HashMap::from([
            (address(2), authority(&[ROOT])),
            (address(3), authority(&[LAB])),
            (address(4), authority(&[&format!("{SITE}{big_txt}")])),
            (address(5), authority(&[GLUELESS])),
            (address(6), authority(&[TEST])),
        ]);
        let hints =
            RootHints::parse(b". NS a.root.lab.\na.root.lab. A 127.0.0.2\n", Path::new("hints"))
                .unwrap();
        Self {
            servers,
            now: Instant::now(),
            cache: Cache::new(CacheConfig::default()),
            stats: Servers::new(),
            rng: ChaCha8Rng::seed_from_u64(7),
            hints: Arc::new(hints),
            sent: Vec::new(),
        }
    }

    /// Runs one question to its end; each exchange takes 1 ms, a dead server its timeout.
    fn resolve(&mut self, name: &str, qtype: u16) -> (Result<Answer, ResolveError>, Vec<Hop>) {
        self.resolve_with(name, qtype, &ResolverConfig::default())
    }

    fn resolve_with(
        &mut self,
        name: &str,
        qtype: u16,
        config: &ResolverConfig,
    ) -> (Result<Answer, ResolveError>, Vec<Hop>) {
        let mut resolution =
            Resolution::new(&wire(name), qtype, self.hints.clone(), config, self.now);
        loop {
            while let Some(transmit) =
                resolution.poll_transmit(&mut self.cache, &mut self.stats, &mut self.rng, self.now)
            {
                self.sent.push(transmit.clone());
                let transport = if transmit.tcp { Transport::Tcp } else { Transport::Udp };
                let Some(server) = self.servers.get(&transmit.to) else { continue };
                let mut out = Vec::new();
                if matches!(server.answer(&transmit.message, transport, &mut out), Response::Send) {
                    self.now += Duration::from_millis(1);
                    resolution.handle_response(
                        transmit.to,
                        &out,
                        &mut self.cache,
                        &mut self.stats,
                        self.now,
                    );
                }
            }
            if let Some(outcome) = resolution.poll_outcome() {
                return (outcome, resolution.hops().to_vec());
            }
            let wake = resolution.poll_timeout().expect("an unfinished resolution has a timer");
            self.now = self.now.max(wake);
            resolution.handle_timeout(&mut self.stats, self.now);
        }
    }
}

fn addresses(answer: &Answer) -> Vec<Vec<u8>> {
    answer.answer.iter().filter(|r| r.rtype == A).map(|r| r.rdata.to_vec()).collect()
}

#[test]
fn iterates_from_the_root_then_answers_from_cache() {
    let mut net = Network::new();
    let (outcome, hops) = net.resolve("www.lab.", A);
    let answer = outcome.expect("resolved");
    assert_eq!((answer.rcode, addresses(&answer)), (0, vec![vec![192, 0, 2, 80]]));
    assert_eq!(hops[0].result, "referral");
    assert_eq!(hops[0].server, address(2));
    assert_eq!(hops.last().unwrap().result, "answer");
    let sent = net.sent.len();
    net.now += Duration::from_secs(100);
    let (again, hops) = net.resolve("WWW.LAB.", A);
    assert!(hops.is_empty() && net.sent.len() == sent, "the second time is a cache hit");
    assert_eq!(again.unwrap().answer[0].ttl, 3500, "TTL counted down");
}

#[test]
fn queries_randomize_case_clear_rd_and_minimise_the_name() {
    let mut net = Network::new();
    net.resolve("www.site.lab.", A).0.unwrap();
    let asked: Vec<(Vec<u8>, u16)> = net
        .sent
        .iter()
        .map(|t| {
            let end = 12 + t.message[12..].iter().position(|&b| b == 0).unwrap() + 1;
            let qtype = u16::from_be_bytes([t.message[end], t.message[end + 1]]);
            (t.message[12..end].to_ascii_lowercase(), qtype)
        })
        .collect();
    // RFC 9156: the root hears "lab.", lab. hears "site.lab.", only site.lab. the whole name.
    assert_eq!(asked, [(wire("lab."), A), (wire("site.lab."), A), (wire("www.site.lab."), A)]);
    assert!(net.sent.iter().all(|t| t.message[2] & 0x01 == 0), "RD clear");
    let cased = net
        .sent
        .iter()
        .filter(|t| {
            t.message[12..16] != wire("lab.")[..] && t.message[12..21] != wire("site.lab.")[..]
        })
        .count();
    assert!(cased > 0, "0x20: some letters sent in upper case");
}

#[test]
fn minimisation_steps_past_names_that_are_no_cut() {
    let mut net = Network::new();
    // www.lab. exists (no cut): lab. is then asked the full name, which does not exist.
    let (outcome, hops) = net.resolve("x.www.lab.", A);
    assert_eq!(outcome.unwrap().rcode, 3);
    // (The dead ns2.lab. may cost a timeout on the way.)
    let results: Vec<&str> = hops.iter().map(|h| h.result).filter(|r| *r != "timeout").collect();
    assert_eq!(results, ["referral", "no cut", "nxdomain"]);
    // An NXDOMAIN for a minimised name: the full name is asked before believing it.
    let (outcome, hops) = net.resolve("a.nothing.lab.", A);
    assert_eq!(outcome.unwrap().rcode, 3);
    assert_eq!(hops.last().unwrap().qname, wire("a.nothing.lab.").into_boxed_slice());
}

#[test]
fn follows_a_cname_into_another_zone() {
    let mut net = Network::new();
    let answer = net.resolve("alias.lab.", A).0.unwrap();
    let types: Vec<u16> = answer.answer.iter().map(|r| r.rtype).collect();
    assert_eq!(types, [5, A]);
    assert_eq!(addresses(&answer), [vec![192, 0, 2, 44]]);
    assert_eq!(&*answer.answer[1].name, &wire("www.site.lab.")[..]);
}

#[test]
fn looks_up_a_glueless_name_server_first() {
    let mut net = Network::new();
    let (outcome, hops) = net.resolve("host.glueless.lab.", A);
    assert_eq!(addresses(&outcome.unwrap()), [vec![192, 0, 2, 55]]);
    let asked: Vec<SocketAddr> = hops.iter().map(|h| h.server).collect();
    assert!(asked.contains(&address(6)), "test.'s server was asked for ns1.other.test.: {asked:?}");
    assert_eq!(*asked.last().unwrap(), address(5));
}

#[test]
fn negative_answers_are_cached_with_the_soa() {
    let mut net = Network::new();
    let answer = net.resolve("nope.lab.", A).0.unwrap();
    assert_eq!((answer.rcode, answer.authority.len()), (3, 1));
    assert_eq!(answer.authority[0].ttl, 60, "SOA MINIMUM caps the negative TTL");
    let sent = net.sent.len();
    let again = net.resolve("nope.lab.", MX).0.unwrap();
    assert_eq!((again.rcode, net.sent.len()), (3, sent), "NXDOMAIN covers every type, from cache");
    let nodata = net.resolve("www.lab.", MX).0.unwrap();
    assert_eq!((nodata.rcode, nodata.answer.len()), (0, 0));
}

#[test]
fn a_dead_server_costs_a_timeout_once_then_is_avoided() {
    let mut net = Network::new();
    // Resolve enough names in lab. that the dead ns2.lab. gets picked at least once.
    let mut timeouts = 0;
    for i in 0..12 {
        let (outcome, hops) = net.resolve(&format!("n{i}.lab."), A);
        assert_eq!(outcome.unwrap().rcode, 3);
        timeouts += hops.iter().filter(|h| h.result == "timeout").count();
    }
    assert!((1..=3).contains(&timeouts), "{timeouts} timeouts");
}

#[test]
fn truncated_answers_are_asked_again_over_tcp() {
    let mut net = Network::new();
    let (outcome, hops) = net.resolve("big.site.lab.", TXT);
    assert_eq!(outcome.unwrap().answer.len(), 12);
    assert!(hops.iter().any(|h| h.result == "truncated"));
    assert!(net.sent.last().unwrap().tcp);
}

#[test]
fn replies_that_do_not_match_are_ignored() {
    let mut net = Network::new();
    let config = ResolverConfig::default();
    let mut resolution = Resolution::new(&wire("www.lab."), A, net.hints.clone(), &config, net.now);
    let transmit =
        resolution.poll_transmit(&mut net.cache, &mut net.stats, &mut net.rng, net.now).unwrap();
    let mut reply = Vec::new();
    net.servers[&transmit.to].answer(&transmit.message, Transport::Udp, &mut reply);
    // A forged reply: right question, wrong ID; then one from the wrong address.
    let mut forged = reply.clone();
    forged[0] ^= 0xFF;
    resolution.handle_response(transmit.to, &forged, &mut net.cache, &mut net.stats, net.now);
    resolution.handle_response(address(9), &reply, &mut net.cache, &mut net.stats, net.now);
    assert_eq!(
        resolution.poll_transmit(&mut net.cache, &mut net.stats, &mut net.rng, net.now),
        None
    );
    assert!(resolution.hops().is_empty(), "still waiting for the real reply");
    resolution.handle_response(transmit.to, &reply, &mut net.cache, &mut net.stats, net.now);
    assert_eq!(resolution.hops()[0].result, "referral");
}

#[test]
fn work_is_bounded() {
    let mut net = Network::new();
    // Every server dead: the resolution gives up within its deadline.
    net.servers.clear();
    let started = net.now;
    let (outcome, _) = net.resolve("www.lab.", A);
    assert!(outcome.is_err());
    assert!(net.now - started <= ResolverConfig::default().deadline);
}

#[test]
fn forwarding_sends_recursive_queries_to_the_upstream_only() {
    let mut net = Network::new();
    // The site.lab. authority stands in for an upstream resolver that knows the answer.
    let config = ResolverConfig { forwarders: vec![address(4)], ..ResolverConfig::default() };
    let (outcome, hops) = net.resolve_with("www.site.lab.", A, &config);
    assert_eq!(addresses(&outcome.unwrap()), [vec![192, 0, 2, 44]]);
    assert_eq!(hops.len(), 1);
    assert!(
        net.sent.iter().all(|t| t.to == address(4) && t.message[2] & 0x01 == 1),
        "RD set, upstream only"
    );
}

#[test]
fn an_entry_in_its_last_tenth_is_refreshed_by_a_prefetch() {
    let mut net = Network::new();
    net.resolve("www.lab.", A).0.unwrap();
    let max = ResolverConfig::default().max_cnames;
    let expiring =
        |net: &mut Network| match walk_cache(&mut net.cache, &wire("www.lab."), A, max, net.now) {
            CacheWalk::Answer { expiring, answer } => (expiring, answer.answer[0].ttl),
            other => panic!("{other:?}"),
        };
    assert_eq!(expiring(&mut net), (false, 3600));
    net.now += Duration::from_secs(3300);
    assert_eq!(expiring(&mut net), (true, 300), "last tenth of 3600 s");
    // The refresh asks lab.'s server again (the cut is cached) and stores a fresh TTL.
    let sent = net.sent.len();
    let config = ResolverConfig::default();
    let mut refresh =
        Resolution::refresh(&wire("www.lab."), A, net.hints.clone(), &config, net.now);
    loop {
        while let Some(transmit) =
            refresh.poll_transmit(&mut net.cache, &mut net.stats, &mut net.rng, net.now)
        {
            net.sent.push(transmit.clone());
            let mut out = Vec::new();
            if let Some(server) = net.servers.get(&transmit.to) {
                server.answer(&transmit.message, Transport::Udp, &mut out);
                refresh.handle_response(transmit.to, &out, &mut net.cache, &mut net.stats, net.now);
            }
        }
        if refresh.poll_outcome().is_some() {
            break;
        }
        net.now = refresh.poll_timeout().unwrap();
        refresh.handle_timeout(&mut net.stats, net.now);
    }
    assert!(net.sent.len() > sent, "the authorities were asked");
    assert!(
        net.sent[sent..].iter().all(|t| t.to == address(3) || t.to == address(7)),
        "only lab.'s servers"
    );
    assert_eq!(expiring(&mut net), (false, 3600), "refreshed");
}

#[test]
fn an_unreachable_server_is_given_up_at_once() {
    let mut net = Network::new();
    let config = ResolverConfig::default();
    let mut resolution = Resolution::new(&wire("www.lab."), A, net.hints.clone(), &config, net.now);
    let to_root =
        resolution.poll_transmit(&mut net.cache, &mut net.stats, &mut net.rng, net.now).unwrap();
    resolution.handle_unreachable(&mut net.stats, net.now);
    assert_eq!(resolution.hops()[0].result, "unreachable");
    assert_eq!(resolution.hops()[0].server, to_root.to);
    // No time has passed: the next query is due now, not at the timeout.
    let next = resolution.poll_transmit(&mut net.cache, &mut net.stats, &mut net.rng, net.now);
    assert!(next.is_some(), "another attempt at once");
}
