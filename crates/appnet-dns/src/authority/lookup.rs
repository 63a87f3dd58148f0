//! The answer algorithm of RFC 1034 §4.3.2, with DNAME (RFC 6672) and wildcards (RFC 4592).
//!
//! Given a zone and a name, [`find`] walks from the apex down the name's ancestors: a zone cut
//! on the way means a referral, a DNAME above the name means substitution, a missing ancestor
//! means the closest encloser is found and only its wildcard can match. [`resolve`] follows
//! CNAME and DNAME chains inside the zone and writes each step.

use crate::zone::name::{self, MAX_NAME_LEN, label_offsets, lowercase_into};
use crate::zone::{Node, Rrset, Zone, rtype};

use super::query::rcode;
use super::writer::{Owner, Section, Writer};

/// CNAME/DNAME hops followed inside one zone before giving up (a loop or an absurd chain).
const MAX_CHAIN: usize = 16;

#[cfg(test)]
pub(crate) const MAX_CHAIN_FOR_TESTS: usize = MAX_CHAIN;

/// RRsets whose targets still need additional-section addresses: only the final answer's
/// today, room for more (e.g. NS in authority) later.
const MAX_PENDING_ADDITIONAL: usize = 2;

/// DNSSEC records that never answer a minimal ANY query on their own.
const RRSIG: u16 = 46;

/// How the answer came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Resolution {
    pub(crate) rcode: u16,
    /// AA: set for everything but a plain referral.
    pub(crate) authoritative: bool,
    /// A referral, whose glue matters for truncation.
    pub(crate) referral: bool,
}

/// What a name leads to in a zone.
#[derive(Debug, Clone, Copy)]
enum Found<'z> {
    /// The node at the name (possibly an empty non-terminal).
    Node(&'z Node),
    /// No node at the name, but a wildcard at its closest encloser.
    Wildcard(&'z Node),
    /// A zone cut at or above the name.
    Delegation(&'z Node),
    /// A DNAME at an ancestor, whose name starts at this offset in the name.
    Dname(&'z Node, usize),
    /// The name does not exist.
    NxDomain,
}

/// Answers `qtype` for `qname` (wire form, query case) from `zone`, writing the answer,
/// authority and additional sections.
pub(crate) fn resolve(
    zone: &Zone,
    qname: &[u8],
    qtype: u16,
    writer: &mut Writer<'_>,
) -> Resolution {
    let mut current = [0; MAX_NAME_LEN];
    let mut len = qname.len().min(MAX_NAME_LEN);
    current[..len].copy_from_slice(&qname[..len]);
    let mut pending: [Option<&Rrset>; MAX_PENDING_ADDITIONAL] = [None; MAX_PENDING_ADDITIONAL];
    let positive = Resolution { rcode: rcode::NOERROR, authoritative: true, referral: false };
    for hop in 0..MAX_CHAIN {
        let mut lower = [0; MAX_NAME_LEN];
        let name_lower = lowercase_into(&current[..len], &mut lower);
        let owner = if hop == 0 { Owner::Question } else { Owner::Name(&current[..len]) };
        match find(zone, name_lower, qtype) {
            Found::Node(node) | Found::Wildcard(node) => {
                if let Some(set) = answer_set(node, qtype) {
                    writer.rrset(owner, set);
                    if !set.additional.is_empty() {
                        pending[0] = Some(set);
                    }
                    write_additional(zone, &pending, writer);
                    return positive;
                }
                let Some(cname) = node.rrset(rtype::CNAME) else {
                    write_negative(zone, writer);
                    return positive;
                };
                writer.rrset(owner, cname);
                let Some(target) = cname.target.as_deref() else {
                    return positive;
                };
                len = target.len().min(MAX_NAME_LEN);
                current[..len].copy_from_slice(&target[..len]);
            }
            Found::Delegation(node) => {
                writer.section(Section::Authority);
                if let Some(ns) = node.rrset(rtype::NS) {
                    writer.rrset(Owner::Name(&node.name), ns);
                    writer.section(Section::Additional);
                    write_glue(zone, ns, writer);
                }
                return Resolution {
                    rcode: rcode::NOERROR,
                    authoritative: hop > 0,
                    referral: true,
                };
            }
            Found::Dname(node, cut) => {
                let Some(dname) = node.rrset(rtype::DNAME) else {
                    return positive;
                };
                let Some(target) = dname.target.as_deref() else {
                    return positive;
                };
                writer.rrset(Owner::Name(&node.name), dname);
                if cut + target.len() > MAX_NAME_LEN {
                    return Resolution { rcode: rcode::YXDOMAIN, ..positive };
                }
                // The synthesized CNAME (RFC 6672 §3.3): the labels above the DNAME owner,
                // followed by the DNAME target.
                writer.record(owner, rtype::CNAME, dname.ttl, &[&current[..cut], target]);
                current[cut..cut + target.len()].copy_from_slice(target);
                len = cut + target.len();
            }
            Found::NxDomain => {
                write_negative(zone, writer);
                return Resolution { rcode: rcode::NXDOMAIN, ..positive };
            }
        }
        // Follow the chain only while it stays in this zone; the resolver does the rest.
        let mut lower = [0; MAX_NAME_LEN];
        if !name::is_at_or_below(lowercase_into(&current[..len], &mut lower), zone.apex()) {
            write_additional(zone, &pending, writer);
            return positive;
        }
    }
    positive
}

/// The RRset answering `qtype` at `node`. ANY gets one RRset (RFC 8482 §4.2): answering with
/// everything makes ANY an amplification tool and no client needs it.
fn answer_set(node: &Node, qtype: u16) -> Option<&Rrset> {
    if qtype == rtype::ANY {
        return node.rrsets.iter().find(|set| set.rtype != RRSIG);
    }
    node.rrset(qtype)
}

fn find<'z>(zone: &'z Zone, name: &[u8], qtype: u16) -> Found<'z> {
    let apex_len = zone.apex().len();
    let apex_offset = name.len() - apex_len;
    let apex = zone.apex_node();
    if apex_offset > 0 && apex.rrset(rtype::DNAME).is_some() {
        return Found::Dname(apex, apex_offset);
    }
    // Label starts below the apex, nearest the apex first.
    let mut starts = [0u8; MAX_NAME_LEN / 2 + 1];
    let mut count = 0;
    for offset in label_offsets(name).take_while(|&o| o < apex_offset) {
        starts[count] = offset as u8;
        count += 1;
    }
    let mut closest = apex_offset;
    let mut node = apex;
    for &offset in starts[..count].iter().rev() {
        let offset = usize::from(offset);
        let Some(found) = zone.find(&name[offset..]) else {
            return wildcard(zone, &name[closest..]);
        };
        node = found;
        if node.delegation && !(offset == 0 && qtype == rtype::DS) {
            return Found::Delegation(node);
        }
        if offset > 0 && node.rrset(rtype::DNAME).is_some() {
            return Found::Dname(node, offset);
        }
        closest = offset;
    }
    Found::Node(node)
}

/// The wildcard `*.<closest encloser>`, if the zone has one.
fn wildcard<'z>(zone: &'z Zone, closest_encloser: &[u8]) -> Found<'z> {
    let mut wild = [0; MAX_NAME_LEN + 2];
    let len = name::WILDCARD_LABEL.len() + closest_encloser.len();
    if len > MAX_NAME_LEN {
        return Found::NxDomain;
    }
    wild[..2].copy_from_slice(name::WILDCARD_LABEL);
    wild[2..len].copy_from_slice(closest_encloser);
    zone.find(&wild[..len]).map_or(Found::NxDomain, Found::Wildcard)
}

/// NXDOMAIN and NODATA carry the SOA, with the negative TTL, in the authority section.
fn write_negative(zone: &Zone, writer: &mut Writer<'_>) {
    writer.section(Section::Authority);
    writer.rrset(Owner::Name(&zone.apex_node().name), zone.negative_soa());
}

/// Addresses of NS/MX/SRV targets that this zone is authoritative for.
fn write_additional(zone: &Zone, pending: &[Option<&Rrset>], writer: &mut Writer<'_>) {
    writer.section(Section::Additional);
    for set in pending.iter().flatten() {
        for target in &set.additional {
            if let Some(node) = zone.find(target).filter(|node| !node.occluded) {
                write_addresses(node, writer);
            }
        }
    }
}

/// Glue for a referral: addresses of the NS targets in this zone, below the cut or not.
fn write_glue(zone: &Zone, ns: &Rrset, writer: &mut Writer<'_>) {
    for target in &ns.additional {
        if let Some(node) = zone.find(target) {
            write_addresses(node, writer);
        }
    }
}

fn write_addresses(node: &Node, writer: &mut Writer<'_>) {
    for rtype in [rtype::A, rtype::AAAA] {
        if let Some(set) = node.rrset(rtype) {
            writer.rrset(Owner::Name(&node.name), set);
        }
    }
}
