//! `appnet dig +trace`: follow the delegations from the root the way an iterative resolver
//! does, printing what each zone's server said, as dig +trace prints it.
//!
//! The root's NS set comes from `@SERVER` (or the system resolver); every later query goes,
//! without recursion, to a server of the zone reached so far, on the same port (`-p`). Name
//! server addresses come from the referral's glue, else from `@SERVER`. Which step comes next
//! is decided by the resolver's own reading of responses ([`crate::resolver::response`]).

use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};
use std::time::SystemTime;

use domain::base::iana::Rtype;
use domain::base::{Message, ParsedName, ToName};
use domain::rdata::AllRecordData;
use rand::seq::SliceRandom;

use super::DigOptions;
use super::client::{self, exit};
use super::present::{self, Received};
use super::request::build_query;
use crate::resolver::driver::Shared;
use crate::resolver::hints::HintServer;
use crate::resolver::response::{Meaning, interpret};
use crate::resolver::{Cache, CacheConfig, ResolverConfig, RootHints};
use crate::zone::name::{MAX_NAME_LEN, display, lowercase_into};

/// Delegations followed at most.
const MAX_STEPS: usize = 32;

/// A server of the zone being asked: its name (for the "Received … from" line) and address.
#[derive(Debug, Clone)]
struct ZoneServer {
    name: String,
    address: SocketAddr,
}

/// Runs the trace `options` asks for; returns dig's exit status.
pub async fn run(
    options: &DigOptions,
    command_line: &str,
    out: &mut impl Write,
    err: &mut impl Write,
) -> io::Result<u8> {
    let Some(client::Targets { servers: resolvers, server_name: resolver_name, banner }) =
        client::targets(options, command_line, err).await?
    else {
        return Ok(exit::INTERNAL);
    };
    out.write_all(banner.as_bytes())?;
    let resolver = resolvers[0];
    let resolver_name = resolver_name.unwrap_or_else(|| resolver.ip().to_string());

    // The root's servers, from the resolver (or the root server) given.
    let root_question =
        DigOptions { name: ".".into(), qtype: Rtype::NS, recurse: true, ..options.clone() };
    let root_query = build_query(&root_question, rand::random());
    let Ok((response, tcp, elapsed)) =
        client::ask(&root_question, &root_query, resolver, out).await
    else {
        writeln!(out, ";; connection timed out; no servers could be reached")?;
        return Ok(exit::NO_REPLY);
    };
    print_step(out, &response, resolver, &resolver_name, tcp, elapsed)?;
    let mut servers = root_servers(options, &response, resolver, out).await;
    if servers.is_empty() {
        writeln!(out, ";; no address for any root server")?;
        return Ok(exit::NO_REPLY);
    }
    // Addresses missing from referrals are found by iterating from these roots, in-process.
    let hints = RootHints {
        servers: servers
            .iter()
            .map(|s| HintServer { name: wire_lower(&s.name), addresses: vec![s.address.ip()] })
            .collect(),
    };
    let config = ResolverConfig { ns_port: options.port, ..ResolverConfig::default() };
    let resolver_core = Shared::new(Cache::new(CacheConfig::default()), hints, config);

    let qname = wire_lower(&options.name);
    let mut zone: Box<[u8]> = Box::new([0]);
    let iterative = DigOptions { recurse: false, ..options.clone() };
    for _ in 0..MAX_STEPS {
        servers.shuffle(&mut rand::rng());
        let mut reply = None;
        for server in &servers {
            let query = build_query(&iterative, rand::random());
            match client::ask(&iterative, &query, server.address, out).await {
                Ok(answered) => {
                    reply = Some((server.clone(), answered));
                    break;
                }
                Err(error) => writeln!(err, ";; {error}")?,
            }
        }
        let Some((server, (response, tcp, elapsed))) = reply else {
            writeln!(out, ";; no servers of {} could be reached", display(&zone))?;
            return Ok(exit::NO_REPLY);
        };
        print_step(out, &response, server.address, &server.name, tcp, elapsed)?;
        match interpret(&response, &qname, options.qtype.to_int(), &zone) {
            Ok(Meaning::Referral { cut, .. }) => {
                zone = cut;
                servers = zone_servers(options, &response, &resolver_core).await;
                if servers.is_empty() {
                    writeln!(out, ";; no address for any name server of {}", display(&zone))?;
                    return Ok(exit::NO_REPLY);
                }
            }
            // An answer, a negative answer, an error: the trace ends where a resolver would.
            _ => return Ok(exit::ANSWERED),
        }
    }
    writeln!(out, ";; more than {MAX_STEPS} delegations; giving up")?;
    Ok(exit::INTERNAL)
}

fn print_step(
    out: &mut impl Write,
    response: &[u8],
    server: SocketAddr,
    name: &str,
    tcp: bool,
    elapsed: std::time::Duration,
) -> io::Result<()> {
    let received =
        Received { response, server, server_name: name, tcp, elapsed, when: SystemTime::now() };
    match present::trace_step(&received) {
        Ok(text) => out.write_all(text.as_bytes()),
        Err(error) => writeln!(out, ";; {error}"),
    }
}

/// The root servers named in the answer to `. NS`, with the addresses its additional section
/// gives, else as `resolver` resolves them (dig's way), else — in a private hierarchy whose
/// root is `@SERVER` itself and has no glue for its own names — `resolver` itself.
async fn root_servers(
    options: &DigOptions,
    response: &[u8],
    resolver: SocketAddr,
    out: &mut impl Write,
) -> Vec<ZoneServer> {
    let Delegation { names, glue } = ns_and_glue(response);
    let mut servers = Vec::new();
    for name in &names {
        let mut addresses = glue_for(&glue, name);
        if addresses.is_empty() {
            addresses = lookup(options, name, resolver, out).await;
        }
        servers.extend(usable(options, name, addresses));
    }
    if servers.is_empty() {
        servers =
            names.iter().flat_map(|name| usable(options, name, vec![resolver.ip()])).collect();
    }
    servers
}

/// The servers a referral names, with its glue, the rest found by iterating from the root.
async fn zone_servers(options: &DigOptions, response: &[u8], resolver: &Shared) -> Vec<ZoneServer> {
    let Delegation { names, glue } = ns_and_glue(response);
    let mut servers = Vec::new();
    for name in &names {
        let mut addresses = glue_for(&glue, name);
        if addresses.is_empty() {
            for qtype in [1, 28] {
                let outcome = resolver.resolve(name, qtype).await;
                if let Ok(answer) = &outcome.0 {
                    addresses.extend(answer.answer.iter().filter_map(|r| match r.rdata.len() {
                        4 => <[u8; 4]>::try_from(&*r.rdata).ok().map(IpAddr::from),
                        16 => <[u8; 16]>::try_from(&*r.rdata).ok().map(IpAddr::from),
                        _ => None,
                    }));
                }
            }
        }
        servers.extend(usable(options, name, addresses));
    }
    servers
}

fn glue_for(glue: &[(Box<[u8]>, IpAddr)], name: &[u8]) -> Vec<IpAddr> {
    glue.iter().filter(|(owner, _)| **owner == *name).map(|(_, ip)| *ip).collect()
}

/// `name`'s addresses of the family `-4`/`-6` allows, on the port all queries go to.
fn usable(options: &DigOptions, name: &[u8], addresses: Vec<IpAddr>) -> Vec<ZoneServer> {
    let name = display(name);
    addresses
        .into_iter()
        .filter(|ip| match options.family {
            Some(super::Family::V4) => ip.is_ipv4(),
            Some(super::Family::V6) => ip.is_ipv6(),
            None => true,
        })
        .map(|ip| ZoneServer { name: name.clone(), address: SocketAddr::new(ip, options.port) })
        .collect()
}

/// The addresses of `name` (lowercase wire form), asked of `resolver` with recursion.
async fn lookup(
    options: &DigOptions,
    name: &[u8],
    resolver: SocketAddr,
    out: &mut impl Write,
) -> Vec<IpAddr> {
    let mut found = Vec::new();
    for qtype in [Rtype::A, Rtype::AAAA] {
        let question = DigOptions { name: display(name), qtype, recurse: true, ..options.clone() };
        let query = build_query(&question, rand::random());
        if let Ok((response, ..)) = client::ask(&question, &query, resolver, out).await {
            found.extend(addresses_in(&response, name));
        }
    }
    found
}

/// The name servers a response names, and the addresses it gives for them.
struct Delegation {
    /// NS targets of the answer and authority sections, lowercase wire form.
    names: Vec<Box<[u8]>>,
    /// A/AAAA records of the additional section.
    glue: Vec<(Box<[u8]>, IpAddr)>,
}

/// NS targets in the answer and authority sections, and A/AAAA records of the additional one.
fn ns_and_glue(response: &[u8]) -> Delegation {
    let (mut names, mut glue) = (Vec::new(), Vec::new());
    let Ok(message) = Message::from_octets(response) else { return Delegation { names, glue } };
    for section in [message.answer(), message.authority()].into_iter().flatten() {
        for record in section.flatten() {
            if let Ok(Some(record)) = record.to_record::<domain::rdata::Ns<ParsedName<&[u8]>>>() {
                let target = lower(record.data().nsdname());
                if !names.contains(&target) {
                    names.push(target);
                }
            }
        }
    }
    if let Ok(additional) = message.additional() {
        for record in additional.flatten() {
            let owner = lower(&record.owner());
            if let Ok(parsed) = record.to_any_record::<AllRecordData<&[u8], ParsedName<&[u8]>>>() {
                match parsed.data() {
                    AllRecordData::A(a) => glue.push((owner, IpAddr::V4(a.addr()))),
                    AllRecordData::Aaaa(aaaa) => glue.push((owner, IpAddr::V6(aaaa.addr()))),
                    _ => {}
                }
            }
        }
    }
    Delegation { names, glue }
}

/// The A/AAAA addresses of `name` in the answer section of `response`.
fn addresses_in(response: &[u8], name: &[u8]) -> Vec<IpAddr> {
    let Ok(message) = Message::from_octets(response) else { return Vec::new() };
    let Ok(answer) = message.answer() else { return Vec::new() };
    answer
        .flatten()
        .filter(|record| *lower(&record.owner()) == *name)
        .filter_map(|record| {
            match record.to_any_record::<AllRecordData<&[u8], ParsedName<&[u8]>>>().ok()?.data() {
                AllRecordData::A(a) => Some(IpAddr::V4(a.addr())),
                AllRecordData::Aaaa(aaaa) => Some(IpAddr::V6(aaaa.addr())),
                _ => None,
            }
        })
        .collect()
}

fn lower(name: &impl ToName) -> Box<[u8]> {
    let mut wire = Vec::new();
    let _ = name.compose(&mut wire);
    let mut buffer = [0; MAX_NAME_LEN];
    lowercase_into(&wire, &mut buffer).into()
}

fn wire_lower(name: &str) -> Box<[u8]> {
    let parsed = <domain::base::Name<Vec<u8>> as std::str::FromStr>::from_str(name)
        .unwrap_or_else(|_| domain::base::Name::root_vec());
    lower(&parsed)
}
