//! The authoritative server's answer core: query bytes in, response bytes out.
//!
//! [`Authority`] holds the zones being served and answers one query at a time into a buffer
//! the driver reuses, so the hot path allocates nothing. It knows nothing of sockets: the driver
//! says which transport the query came on (that sets the size limit) and sends what comes back.

mod lookup;
mod query;
pub mod rrl;
mod transfer;
mod writer;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;

use crate::zone::name::{MAX_NAME_LEN, label_offsets, lowercase_into};
use crate::zone::{Zone, rtype};

use query::{Read, rcode};
pub use transfer::{Transfer, notify_message};
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
#[derive(Debug, Clone)]
pub enum Response {
    /// Send the bytes now in the output buffer.
    Send,
    /// Send nothing (not a query, or too broken to answer).
    Drop,
    /// A zone transfer (TCP only): send each message [`Transfer::next_message`] writes.
    Transfer(Transfer),
    /// An accepted NOTIFY for the secondary zone with this lowercase wire apex: send the
    /// acknowledgement in the output buffer, and have that zone checked now.
    Notified(Box<[u8]>),
}

impl Response {
    /// Whether this is [`Response::Drop`].
    pub fn is_drop(&self) -> bool {
        matches!(self, Self::Drop)
    }
}

/// The zones being served; immutable, shared by every worker, replaced whole on reload.
#[derive(Debug, Clone, Default)]
pub struct Authority {
    zones: HashMap<Box<[u8]>, Arc<Zone>>,
    udp_size: u16,
    transfer_acl: Vec<IpNet>,
    /// Secondary zones (lowercase wire apex) and the primaries whose NOTIFY we accept.
    notify_sources: HashMap<Box<[u8]>, Vec<IpAddr>>,
}

impl Authority {
    /// Serves `zones`. A later zone with the same apex replaces an earlier one.
    pub fn new(zones: impl IntoIterator<Item = Arc<Zone>>) -> Self {
        let zones = zones.into_iter().map(|zone| (Box::from(zone.apex()), zone)).collect();
        Self {
            zones,
            udp_size: DEFAULT_UDP_SIZE,
            transfer_acl: Vec::new(),
            notify_sources: HashMap::new(),
        }
    }

    /// Allows zone transfers (AXFR, IXFR) to clients in these networks; by default nobody.
    pub fn set_transfer_acl(&mut self, acl: Vec<IpNet>) -> &mut Self {
        self.transfer_acl = acl;
        self
    }

    /// Accepts NOTIFY for the secondary zone `apex` (wire form, any case) from `primaries`.
    pub fn accept_notify(&mut self, apex: &[u8], primaries: Vec<IpAddr>) -> &mut Self {
        let mut lower = [0; MAX_NAME_LEN];
        self.notify_sources.insert(lowercase_into(apex, &mut lower).into(), primaries);
        self
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
    /// into `out` (cleared first; its capacity is reused). Without the client's address,
    /// transfers are refused; see [`answer_from`](Self::answer_from).
    pub fn answer(&self, query: &[u8], transport: Transport, out: &mut Vec<u8>) -> Response {
        self.answer_from(query, transport, None, out)
    }

    /// Like [`answer`](Self::answer), for a query from `client`, whose address decides
    /// whether it may transfer zones.
    pub fn answer_from(
        &self,
        query: &[u8],
        transport: Transport,
        client: Option<IpAddr>,
        out: &mut Vec<u8>,
    ) -> Response {
        let query = match query::read(query, out) {
            Read::Drop => return Response::Drop,
            Read::Error { rcode, question, edns } => {
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

        if query.notify {
            return self.notify(qname_lower, query.qname_end, client, out, &opt[..opt_len]);
        }
        let zone = match self.zone_for(qname_lower) {
            Some(zone) if query.qclass == 1 => zone,
            _ => return refuse(out, rcode::REFUSED, query.qname_end, &opt[..opt_len]),
        };
        if is_transfer(query.qtype) {
            return self.transfer(
                zone,
                &query,
                qname_lower,
                transport,
                client,
                out,
                &opt[..opt_len],
            );
        }
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

impl Authority {
    /// AXFR and IXFR: TCP only, the apex only, allowed clients only. IXFR from a current
    /// secondary gets the SOA alone; otherwise the whole zone (RFC 1995 §4 allows this when no
    /// change history is kept). IXFR over UDP gets the SOA, which tells the secondary whether
    /// to come back over TCP.
    #[allow(clippy::too_many_arguments)]
    fn transfer(
        &self,
        zone: &Arc<Zone>,
        query: &query::Query,
        qname_lower: &[u8],
        transport: Transport,
        client: Option<IpAddr>,
        out: &mut Vec<u8>,
        opt: &[u8],
    ) -> Response {
        let allowed =
            client.is_some_and(|ip| self.transfer_acl.iter().any(|net| net.contains(&ip)));
        if !allowed {
            tracing::info!(?client, zone = %crate::zone::name::display(zone.apex()), "transfer refused");
            return refuse(out, rcode::REFUSED, query.qname_end, opt);
        }
        if qname_lower != zone.apex() {
            return refuse(out, rcode::NOTAUTH, query.qname_end, opt);
        }
        let header = [out[0], out[1], out[2] | 0x04, out[3]];
        let question = &out[12..query.qname_end + 4];
        let current =
            query.ixfr_serial.is_some_and(|serial| serial_at_least(serial, zone.serial()));
        match (transport, query.qtype) {
            (Transport::Udp, rtype::AXFR) => refuse(out, rcode::FORMERR, query.qname_end, opt),
            (Transport::Udp, _) => {
                let mut writer = Writer::new(out, query.qname_end);
                writer.rrset(writer::Owner::Name(&zone.apex_node().name), zone.soa());
                writer.finish(opt, CLASSIC_UDP_SIZE.max(usize::from(self.udp_size)), false);
                out[2] |= 0x04;
                Response::Send
            }
            (Transport::Tcp, _) if current => {
                Response::Transfer(Transfer::up_to_date(zone.clone(), header, question))
            }
            (Transport::Tcp, _) => {
                tracing::info!(?client, zone = %crate::zone::name::display(zone.apex()), serial = zone.serial(), "transfer");
                Response::Transfer(Transfer::full(zone.clone(), header, question))
            }
        }
    }
}

impl Authority {
    /// NOTIFY (RFC 1996 §3.7): acknowledged for our secondary zones when it comes from one of
    /// their primaries; refused from anyone else, NOTAUTH for zones we are not secondary for.
    fn notify(
        &self,
        apex: &[u8],
        qname_end: usize,
        client: Option<IpAddr>,
        out: &mut Vec<u8>,
        opt: &[u8],
    ) -> Response {
        let Some(primaries) = self.notify_sources.get(apex) else {
            return refuse(out, rcode::NOTAUTH, qname_end, opt);
        };
        if !client.is_some_and(|ip| primaries.contains(&ip)) {
            tracing::info!(?client, zone = %crate::zone::name::display(apex), "notify refused");
            return refuse(out, rcode::REFUSED, qname_end, opt);
        }
        out[2] |= 0x04;
        refuse(out, rcode::NOERROR, qname_end, opt);
        Response::Notified(apex.into())
    }
}

/// Whether serial `a` is at or after `b` in RFC 1982 serial arithmetic.
pub fn serial_at_least(a: u32, b: u32) -> bool {
    a == b || (a.wrapping_sub(b) as i32) > 0
}

fn is_transfer(qtype: u16) -> bool {
    qtype == rtype::AXFR || qtype == rtype::IXFR
}

/// A response with no records and `rcode`.
fn refuse(out: &mut Vec<u8>, rcode: u16, qname_end: usize, opt: &[u8]) -> Response {
    set_rcode(out, rcode);
    Writer::new(out, qname_end).finish(opt, usize::from(u16::MAX), false);
    Response::Send
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
