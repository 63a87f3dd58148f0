//! The authoritative server's answer core: query bytes in, response bytes out.
//!
//! [`Authority`] holds the zones being served and answers one query at a time into a buffer
//! the driver reuses, so the hot path allocates nothing. It knows nothing of sockets: the driver
//! says which transport the query came on (that sets the size limit) and sends what comes back.

mod lookup;
mod query;
mod writer;

use std::collections::HashMap;
use std::sync::Arc;

use crate::zone::name::{MAX_NAME_LEN, label_offsets, lowercase_into};
use crate::zone::{Zone, rtype};

use query::{Read, rcode};
use writer::Writer;

/// The EDNS UDP payload size we offer and honour by default: 1232 bytes fits in one IPv6
/// packet on any path (the DNS Flag Day 2020 value; NSD and Knot default to it too).
pub const DEFAULT_UDP_SIZE: u16 = 1232;

/// Largest plain-DNS UDP message (RFC 1035 §4.2.1).
const CLASSIC_UDP_SIZE: usize = 512;

/// Where a query came from, which sets how large the response may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// UDP: 512 bytes, or the EDNS size up to ours; larger answers are truncated (TC).
    Udp,
    /// TCP: up to 65535 bytes.
    Tcp,
}

/// What the driver should do with a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Response {
    /// Send the bytes now in the output buffer.
    Send,
    /// Send nothing (not a query, or too broken to answer).
    Drop,
}

/// The zones being served; immutable, shared by every worker, replaced whole on reload.
#[derive(Debug, Clone, Default)]
pub struct Authority {
    zones: HashMap<Box<[u8]>, Arc<Zone>>,
    udp_size: u16,
}

impl Authority {
    /// Serves `zones`. A later zone with the same apex replaces an earlier one.
    pub fn new(zones: impl IntoIterator<Item = Arc<Zone>>) -> Self {
        let zones = zones
            .into_iter()
            .map(|zone| (Box::from(zone.apex()), zone))
            .collect();
        Self {
            zones,
            udp_size: DEFAULT_UDP_SIZE,
        }
    }

    /// Sets the largest UDP response we send to EDNS clients (default [`DEFAULT_UDP_SIZE`]).
    pub fn set_udp_size(&mut self, size: u16) -> &mut Self {
        self.udp_size = size.max(512);
        self
    }

    /// The zones, by lowercase wire apex.
    pub fn zones(&self) -> impl Iterator<Item = &Arc<Zone>> {
        self.zones.values()
    }

    /// The zone with the longest apex that `name` (lowercase wire) is at or below.
    pub fn zone_for(&self, name: &[u8]) -> Option<&Arc<Zone>> {
        label_offsets(name)
            .chain([name.len().saturating_sub(1)])
            .find_map(|offset| self.zones.get(&name[offset..]))
    }

    /// Answers the DNS message `query` that arrived over `transport`, writing the response
    /// into `out` (cleared first; its capacity is reused).
    pub fn answer(&self, query: &[u8], transport: Transport, out: &mut Vec<u8>) -> Response {
        let query = match query::read(query, out) {
            Read::Drop => return Response::Drop,
            Read::Error {
                rcode,
                question,
                edns,
            } => {
                finish_error(out, rcode, question, edns, self.udp_size);
                return Response::Send;
            }
            Read::Query(query) => query,
        };
        let max_size = match (transport, query.edns) {
            (Transport::Tcp, _) => usize::from(u16::MAX),
            (Transport::Udp, Some(edns)) => usize::from(edns.udp_size.min(self.udp_size)),
            (Transport::Udp, None) => CLASSIC_UDP_SIZE,
        };
        let mut opt = [0; 11];
        let opt_len = if let Some(edns) = query.edns {
            query::encode_opt(&mut opt, self.udp_size, 0, edns.dnssec_ok);
            opt.len()
        } else {
            0
        };
        let mut qname = [0; MAX_NAME_LEN];
        let qname_len = query.qname_end - 12;
        qname[..qname_len].copy_from_slice(&out[12..query.qname_end]);
        let mut lower = [0; MAX_NAME_LEN];
        let qname_lower = lowercase_into(&qname[..qname_len], &mut lower);

        let zone = match self.zone_for(qname_lower) {
            Some(zone) if query.qclass == 1 && !is_transfer(query.qtype) => zone,
            _ => {
                set_rcode(out, rcode::REFUSED);
                Writer::new(out, query.qname_end).finish(&opt[..opt_len], max_size, false);
                return Response::Send;
            }
        };
        let mut writer = Writer::new(out, query.qname_end);
        let resolution = lookup::resolve(zone, &qname[..qname_len], query.qtype, &mut writer);
        writer.finish(&opt[..opt_len], max_size, resolution.referral);
        set_rcode(out, resolution.rcode);
        if resolution.authoritative {
            out[2] |= 0x04;
        }
        Response::Send
    }
}

/// Zone transfers are not served yet: refused, as to a secondary not on the ACL.
fn is_transfer(qtype: u16) -> bool {
    qtype == rtype::AXFR || qtype == rtype::IXFR
}

fn set_rcode(out: &mut [u8], rcode: u16) {
    out[3] = (out[3] & 0xF0) | (rcode & 0x0F) as u8;
}

/// An error response: header (and question, when readable), OPT if the query had EDNS.
fn finish_error(
    out: &mut Vec<u8>,
    rcode: u16,
    question: bool,
    edns: Option<query::Edns>,
    udp_size: u16,
) {
    if !question {
        out.truncate(12);
        out[4..6].copy_from_slice(&[0, 0]);
    }
    set_rcode(out, rcode);
    if let Some(edns) = edns {
        let mut opt = [0; 11];
        query::encode_opt(&mut opt, udp_size, rcode, edns.dnssec_ok);
        out.extend_from_slice(&opt);
        out[10..12].copy_from_slice(&1u16.to_be_bytes());
    }
}

#[cfg(test)]
mod tests;
