//! A replayer for `.rpl` scenarios, the format of Unbound's testbound and of Deckard: canned
//! authority answers per server address and step range, a query, and the answer to check.
//! It drives the resolver's sans-IO core in virtual time: every query the core sends is
//! answered from the first matching entry of the ranges that cover the current step and the
//! server's address; a query nothing matches goes unanswered (a timeout).
//!
//! Supported: `stub-addr:` for the root and `qname-minimisation:` in the config; `RANGE_BEGIN`
//! with `ADDRESS`; `ENTRY_BEGIN` … `ENTRY_END` with `MATCH` (opcode, qtype, qname, subdomain,
//! all), `ADJUST` (copy_id, copy_query), `REPLY` (flags and RCODE), `SECTION` QUESTION /
//! ANSWER / AUTHORITY / ADDITIONAL; steps `QUERY`, `CHECK_ANSWER`, `TIME_PASSES ELAPSE`.
//! (domain's own Stelline runner picks entries without looking at `ADDRESS`, which an
//! iterative resolver's scenarios depend on, so this one is ours.)

#![allow(dead_code, unreachable_pub)]

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use appnet_dns::resolver::hints::HintServer;
use appnet_dns::resolver::reply::{read_query, write_answer};
use appnet_dns::resolver::{Cache, CacheConfig, Resolution, ResolverConfig, RootHints, Servers};
use bytes::Bytes;
use domain::base::iana::Class;
use domain::base::name::Name;
use domain::base::rdata::ComposeRecordData;
use domain::base::{Message, ToName};
use domain::zonefile::inplace::{Entry as ZoneEntry, Zonefile};
use rand::SeedableRng;

/// One record as written in a section: owner, type, class, TTL, rdata (wire, uncompressed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub owner: Vec<u8>,
    pub rtype: u16,
    pub ttl: u32,
    pub rdata: Vec<u8>,
}

#[derive(Debug, Clone, Default)]
pub struct Entry {
    pub matches: Vec<String>,
    pub adjust: Vec<String>,
    pub reply: Vec<String>,
    pub question: Vec<(Vec<u8>, u16)>,
    pub answer: Vec<Record>,
    pub authority: Vec<Record>,
    pub additional: Vec<Record>,
}

#[derive(Debug, Clone)]
pub struct Range {
    pub start: u64,
    pub end: u64,
    pub addresses: Vec<IpAddr>,
    pub entries: Vec<Entry>,
}

#[derive(Debug, Clone)]
pub enum Step {
    Query(u64, Entry),
    CheckAnswer(u64, Entry),
    TimePasses(u64, u64),
}

#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub root: Vec<IpAddr>,
    pub minimise: bool,
    pub ranges: Vec<Range>,
    pub steps: Vec<Step>,
}

/// Parses a `.rpl` file; panics with `file:line` on what it does not understand (test data).
pub fn parse(path: &Path) -> Scenario {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines =
        text.lines().enumerate().map(|(i, l)| (i + 1, l.split(';').next().unwrap_or("").trim()));
    let at = |line: usize| format!("{}:{line}", path.display());
    let mut scenario = Scenario {
        name: String::new(),
        root: Vec::new(),
        minimise: true,
        ranges: Vec::new(),
        steps: Vec::new(),
    };
    for (_, line) in lines.by_ref() {
        if line == "CONFIG_END" {
            break;
        }
        if let Some(address) = line.strip_prefix("stub-addr:") {
            let address = address.trim().split('@').next().unwrap_or("");
            scenario
                .root
                .push(address.parse().unwrap_or_else(|_| panic!("bad stub-addr {address}")));
        }
        if let Some(value) = line.strip_prefix("qname-minimisation:") {
            scenario.minimise = value.trim() == "yes";
        }
    }
    while let Some((number, line)) = lines.next() {
        let mut words = line.split_whitespace();
        match words.next() {
            None => {}
            Some("SCENARIO_BEGIN") => scenario.name = words.collect::<Vec<_>>().join(" "),
            Some("SCENARIO_END") => break,
            Some("RANGE_BEGIN") => {
                let start = words
                    .next()
                    .and_then(|w| w.parse().ok())
                    .unwrap_or_else(|| panic!("{}", at(number)));
                let end = words
                    .next()
                    .and_then(|w| w.parse().ok())
                    .unwrap_or_else(|| panic!("{}", at(number)));
                let mut range = Range { start, end, addresses: Vec::new(), entries: Vec::new() };
                loop {
                    let (number, line) = lines
                        .next()
                        .unwrap_or_else(|| panic!("{}: unterminated range", at(number)));
                    match line.split_whitespace().next() {
                        Some("RANGE_END") => break,
                        Some("ADDRESS") => range.addresses.push(
                            line[7..].trim().parse().unwrap_or_else(|_| panic!("{}", at(number))),
                        ),
                        Some("ENTRY_BEGIN") => range.entries.push(parse_entry(&mut lines, &at)),
                        None => {}
                        Some(other) => panic!("{}: unexpected {other}", at(number)),
                    }
                }
                scenario.ranges.push(range);
            }
            Some("STEP") => {
                let step: u64 = words
                    .next()
                    .and_then(|w| w.parse().ok())
                    .unwrap_or_else(|| panic!("{}", at(number)));
                match words.next() {
                    Some("QUERY") => {
                        scenario.steps.push(Step::Query(step, expect_entry(&mut lines, &at)))
                    }
                    Some("CHECK_ANSWER") => {
                        scenario.steps.push(Step::CheckAnswer(step, expect_entry(&mut lines, &at)))
                    }
                    Some("TIME_PASSES") => {
                        let seconds = words
                            .nth(1)
                            .and_then(|w| w.parse().ok())
                            .unwrap_or_else(|| panic!("{}", at(number)));
                        scenario.steps.push(Step::TimePasses(step, seconds));
                    }
                    other => panic!("{}: unsupported step {other:?}", at(number)),
                }
            }
            Some(other) => panic!("{}: unexpected {other}", at(number)),
        }
    }
    scenario
}

fn expect_entry<'a>(
    lines: &mut impl Iterator<Item = (usize, &'a str)>,
    at: &impl Fn(usize) -> String,
) -> Entry {
    for (_, line) in lines.by_ref() {
        if line == "ENTRY_BEGIN" {
            return parse_entry(lines, at);
        }
    }
    panic!("missing ENTRY_BEGIN");
}

fn parse_entry<'a>(
    lines: &mut impl Iterator<Item = (usize, &'a str)>,
    at: &impl Fn(usize) -> String,
) -> Entry {
    let mut entry = Entry::default();
    let mut section = "";
    for (number, line) in lines.by_ref() {
        let mut words = line.split_whitespace();
        match words.next() {
            None => {}
            Some("ENTRY_END") => return entry,
            Some("MATCH") => entry.matches.extend(words.map(str::to_owned)),
            Some("ADJUST") => entry.adjust.extend(words.map(str::to_owned)),
            Some("REPLY") => entry.reply.extend(words.map(str::to_owned)),
            Some("SECTION") => {
                section = if line.contains("QUESTION") {
                    "q"
                } else if line.contains("ANSWER") {
                    "an"
                } else if line.contains("AUTHORITY") {
                    "ns"
                } else {
                    "ar"
                }
            }
            Some(_) if section == "q" => {
                let fields: Vec<&str> = line.split_whitespace().collect();
                let qtype = domain::base::iana::Rtype::from_str(fields[fields.len() - 1])
                    .unwrap_or_else(|_| panic!("{}", at(number)));
                entry.question.push((wire(fields[0]), qtype.to_int()));
            }
            Some(_) => {
                let record = record(line).unwrap_or_else(|| panic!("{}: bad record", at(number)));
                match section {
                    "an" => entry.answer.push(record),
                    "ns" => entry.authority.push(record),
                    _ => entry.additional.push(record),
                }
            }
        }
    }
    panic!("unterminated entry");
}

fn wire(name: &str) -> Vec<u8> {
    let absolute = if name.ends_with('.') { name.to_owned() } else { format!("{name}.") };
    Name::<Vec<u8>>::from_str(&absolute).expect("name").as_slice().to_ascii_lowercase()
}

/// One zone-file line, read with domain's scanner (TTL 3600 when omitted).
fn record(line: &str) -> Option<Record> {
    let mut zonefile = Zonefile::new();
    zonefile.extend_from_slice(format!("$TTL 3600\n{line}\n").as_bytes());
    zonefile.set_origin(Name::<Bytes>::root());
    zonefile.set_default_class(Class::IN);
    let Ok(Some(ZoneEntry::Record(record))) = zonefile.next_entry() else { return None };
    let mut owner = Vec::new();
    let _ = record.owner().compose(&mut owner);
    let mut rdata = Vec::new();
    let _ = record.data().compose_rdata(&mut rdata);
    Some(Record {
        owner: owner.to_ascii_lowercase(),
        rtype: record.rtype().to_int(),
        ttl: record.ttl().as_secs(),
        rdata,
    })
}

/// The reply `entry` gives to `query` (ID and question copied when it says so).
fn reply(entry: &Entry, query: &[u8]) -> Vec<u8> {
    let mut flags: u16 = 0;
    let mut rcode = 0;
    for word in &entry.reply {
        match word.as_str() {
            "QR" => flags |= 0x8000,
            "AA" => flags |= 0x0400,
            "TC" => flags |= 0x0200,
            "RD" => flags |= 0x0100,
            "RA" => flags |= 0x0080,
            "AD" => flags |= 0x0020,
            "CD" => flags |= 0x0010,
            "NOERROR" => rcode = 0,
            "FORMERR" => rcode = 1,
            "SERVFAIL" => rcode = 2,
            "NXDOMAIN" => rcode = 3,
            "NOTIMP" => rcode = 4,
            "REFUSED" => rcode = 5,
            other => panic!("unsupported REPLY {other}"),
        }
    }
    let id =
        if entry.adjust.iter().any(|a| a == "copy_id") { [query[0], query[1]] } else { [0, 0] };
    let mut out = id.to_vec();
    out.extend_from_slice(&(flags | rcode).to_be_bytes());
    let question_end = 12 + query[12..].iter().position(|&b| b == 0).map_or(0, |p| p + 1) + 4;
    let copy_query = entry.adjust.iter().any(|a| a == "copy_query");
    let qdcount = if copy_query { 1 } else { entry.question.len() };
    for count in [qdcount, entry.answer.len(), entry.authority.len(), entry.additional.len()] {
        out.extend_from_slice(&(count as u16).to_be_bytes());
    }
    if copy_query {
        out.extend_from_slice(&query[12..question_end]);
    } else {
        for (name, qtype) in &entry.question {
            out.extend_from_slice(name);
            out.extend_from_slice(&qtype.to_be_bytes());
            out.extend_from_slice(&1u16.to_be_bytes());
        }
    }
    for record in entry.answer.iter().chain(&entry.authority).chain(&entry.additional) {
        out.extend_from_slice(&record.owner);
        out.extend_from_slice(&record.rtype.to_be_bytes());
        out.extend_from_slice(&1u16.to_be_bytes());
        out.extend_from_slice(&record.ttl.to_be_bytes());
        out.extend_from_slice(&(record.rdata.len() as u16).to_be_bytes());
        out.extend_from_slice(&record.rdata);
    }
    out
}

/// Whether `entry` answers `query` by its MATCH rules.
fn matches(entry: &Entry, query: &[u8]) -> bool {
    let Ok(message) = Message::from_octets(query) else { return false };
    let Some(question) = message.first_question() else { return false };
    let mut qname = Vec::new();
    let _ = question.qname().compose(&mut qname);
    let qname = qname.to_ascii_lowercase();
    let Some((want_name, want_type)) = entry.question.first() else { return false };
    entry.matches.iter().all(|rule| match rule.as_str() {
        "opcode" => message.header().opcode().to_int() == 0,
        "qtype" => question.qtype().to_int() == *want_type,
        "qname" => qname == *want_name,
        "subdomain" => {
            qname.ends_with(want_name)
                && (qname.len() == want_name.len()
                    || qname[..qname.len() - want_name.len()].last().is_some())
        }
        _ => true,
    })
}

/// What went differently from the scenario.
#[derive(Debug)]
pub struct Mismatch(pub String);

/// Runs `scenario` against the resolver core; returns what did not match its CHECK_ANSWER.
pub fn run(scenario: &Scenario) -> Result<(), Mismatch> {
    #[allow(clippy::disallowed_methods)] // the origin of virtual time
    let mut now = Instant::now();
    let mut cache = Cache::new(CacheConfig::default());
    let mut servers = Servers::new();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let hints = Arc::new(RootHints {
        servers: scenario
            .root
            .iter()
            .enumerate()
            .map(|(i, ip)| HintServer {
                name: wire(&format!("root-{i}.hints.")).into(),
                addresses: vec![*ip],
            })
            .collect(),
    });
    let config =
        ResolverConfig { qname_minimisation: scenario.minimise, ..ResolverConfig::default() };
    let mut pending_query: Option<Vec<u8>> = None;
    let mut last_reply: Option<Vec<u8>> = None;
    for step in &scenario.steps {
        match step {
            Step::TimePasses(_, seconds) => now += Duration::from_secs(*seconds),
            Step::Query(_, entry) => {
                let (name, qtype) = entry.question[0].clone();
                let mut query =
                    appnet_dns::resolver::request::build_query(&name, qtype, 0x1234, true);
                query[2] |= 0x01;
                pending_query = Some(query.clone());
                let client = read_query(&query).map_err(|e| Mismatch(format!("query: {e:?}")))?;
                let mut resolution =
                    Resolution::new(&client.qname_lower, qtype, hints.clone(), &config, now);
                let step_number = match step {
                    Step::Query(n, _) => *n,
                    _ => 0,
                };
                let outcome = loop {
                    while let Some(transmit) =
                        resolution.poll_transmit(&mut cache, &mut servers, &mut rng, now)
                    {
                        let answer = scenario
                            .ranges
                            .iter()
                            .filter(|r| r.start <= step_number && step_number <= r.end)
                            .filter(|r| {
                                r.addresses.is_empty() || r.addresses.contains(&transmit.to.ip())
                            })
                            .flat_map(|r| &r.entries)
                            .find(|e| matches(e, &transmit.message));
                        if let Some(entry) = answer {
                            now += Duration::from_millis(1);
                            resolution.handle_response(
                                transmit.to,
                                &reply(entry, &transmit.message),
                                &mut cache,
                                &mut servers,
                                now,
                            );
                        }
                    }
                    if let Some(outcome) = resolution.poll_outcome() {
                        break outcome;
                    }
                    now = resolution.poll_timeout().expect("a timer while unfinished");
                    resolution.handle_timeout(&mut servers, now);
                };
                last_reply = Some(match outcome {
                    Ok(answer) => write_answer(&client, &answer, false),
                    Err(_) => appnet_dns::resolver::reply::write_rcode(&client, 2),
                });
            }
            Step::CheckAnswer(_, entry) => {
                let got = last_reply
                    .take()
                    .ok_or_else(|| Mismatch("CHECK_ANSWER without a QUERY".into()))?;
                let _ = pending_query.take();
                check(entry, &got)?;
            }
        }
    }
    Ok(())
}

/// Compares the resolver's reply with the expected entry: RCODE, and the answer section's
/// records (name, type, data; TTLs and order aside).
fn check(entry: &Entry, got: &[u8]) -> Result<(), Mismatch> {
    let message = Message::from_octets(got).map_err(|e| Mismatch(format!("reply: {e}")))?;
    let want_rcode = entry.reply.iter().find_map(|w| match w.as_str() {
        "NOERROR" => Some(0),
        "SERVFAIL" => Some(2),
        "NXDOMAIN" => Some(3),
        "REFUSED" => Some(5),
        _ => None,
    });
    let rcode = message.header().rcode().to_int();
    if want_rcode.is_some_and(|want| want != rcode) {
        return Err(Mismatch(format!("rcode {rcode}, expected {want_rcode:?}")));
    }
    let mut got_records: Vec<(Vec<u8>, u16, Vec<u8>)> = Vec::new();
    for record in message.answer().map_err(|e| Mismatch(e.to_string()))?.flatten() {
        let mut owner = Vec::new();
        let _ = record.owner().compose(&mut owner);
        let data = record
            .to_any_record::<domain::rdata::AllRecordData<&[u8], domain::base::ParsedName<&[u8]>>>()
            .map_err(|e| Mismatch(e.to_string()))?;
        let mut rdata = Vec::new();
        let _ = data.data().compose_rdata(&mut rdata);
        got_records.push((owner.to_ascii_lowercase(), record.rtype().to_int(), rdata));
    }
    let mut want: Vec<(Vec<u8>, u16, Vec<u8>)> =
        entry.answer.iter().map(|r| (r.owner.clone(), r.rtype, r.rdata.clone())).collect();
    got_records.sort();
    want.sort();
    if got_records != want {
        return Err(Mismatch(format!("answer {got_records:?}\n expected {want:?}")));
    }
    Ok(())
}

/// The address a scenario names, as a socket address on port 53.
pub fn socket(ip: IpAddr) -> SocketAddr {
    SocketAddr::new(ip, 53)
}
