//! The client side of zone transfer: the queries, and reading an AXFR response into a zone.

use domain::base::iana::Rtype;
use domain::base::name::{Name, ToName};
use domain::base::rdata::ComposeRecordData;
use domain::base::{Message, MessageBuilder, ParsedName};
use domain::rdata::AllRecordData;

use crate::zone::name::{MAX_NAME_LEN, lowercase_into};
use crate::zone::{BuildError, Zone, ZoneBuilder, rtype};

/// Why a transfer could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AxfrError {
    /// A message did not parse.
    #[error("malformed transfer message: {0}")]
    Malformed(String),
    /// The primary answered with an error code (REFUSED: we are not on its ACL).
    #[error("the primary answered {rcode}")]
    Rcode {
        /// The response code, as text.
        rcode: String,
    },
    /// The message answers another query.
    #[error("message ID {got} does not match the query's {expected}")]
    WrongId {
        /// The ID we sent.
        expected: u16,
        /// The ID received.
        got: u16,
    },
    /// The first record was not the zone's SOA.
    #[error("the transfer does not start with the SOA of the zone")]
    NoLeadingSoa,
    /// A record could not go into the zone.
    #[error("record in transfer: {0}")]
    Record(#[from] BuildError),
    /// The stream ended before the closing SOA.
    #[error("the transfer ended before the closing SOA")]
    Incomplete,
}

/// A query for `qtype` at the zone apex `apex` (wire form), with message ID `id`.
pub fn soa_query(apex: &[u8], qtype: u16, id: u16) -> Vec<u8> {
    let mut builder = MessageBuilder::new_vec();
    builder.header_mut().set_id(id);
    let mut question = builder.question();
    // The apex came from a loaded zone or a parsed name, so it is a valid wire name.
    if let Ok(name) = Name::from_octets(apex.to_vec()) {
        let _ = question.push((name, Rtype::from_int(qtype)));
    }
    question.finish()
}

/// The serial of `apex`'s SOA in the answer to a query with ID `id`, if the response has one.
pub fn soa_serial(response: &[u8], id: u16, apex: &[u8]) -> Option<u32> {
    let message = Message::from_octets(response).ok()?;
    if message.header().id() != id || !message.header().qr() {
        return None;
    }
    let mut lower = [0; MAX_NAME_LEN];
    let apex = lowercase_into(apex, &mut lower).to_vec();
    message.answer().ok()?.limit_to::<domain::rdata::Soa<ParsedName<&[u8]>>>().flatten().find_map(
        |soa| {
            let mut owner = Vec::new();
            let _ = soa.owner().compose_canonical(&mut owner);
            (owner == apex).then(|| soa.data().serial().into_int())
        },
    )
}

/// A record as parsed in place from a transfer message.
type TransferRecord<'a> =
    domain::base::Record<ParsedName<&'a [u8]>, AllRecordData<&'a [u8], ParsedName<&'a [u8]>>>;

/// Reads the messages of one AXFR response, in order, into a zone.
#[derive(Debug)]
pub struct AxfrReader {
    id: u16,
    apex: Vec<u8>,
    builder: Option<ZoneBuilder>,
    opening_soa: Vec<u8>,
    done: bool,
}

impl AxfrReader {
    /// A reader for the transfer of `apex` (wire form) asked with message ID `id`.
    pub fn new(apex: &[u8], id: u16) -> Self {
        let mut lower = [0; MAX_NAME_LEN];
        let apex = lowercase_into(apex, &mut lower).to_vec();
        Self { id, apex, builder: None, opening_soa: Vec::new(), done: false }
    }

    /// Takes the next message; returns whether the transfer is complete (the closing SOA
    /// arrived).
    pub fn handle_message(&mut self, message: &[u8]) -> Result<bool, AxfrError> {
        let parsed =
            Message::from_octets(message).map_err(|e| AxfrError::Malformed(e.to_string()))?;
        let header = parsed.header();
        if header.id() != self.id {
            return Err(AxfrError::WrongId { expected: self.id, got: header.id() });
        }
        if header.rcode() != domain::base::iana::Rcode::NOERROR {
            return Err(AxfrError::Rcode { rcode: header.rcode().to_string() });
        }
        let answer = parsed.answer().map_err(|e| AxfrError::Malformed(e.to_string()))?;
        for record in answer.limit_to::<AllRecordData<&[u8], ParsedName<&[u8]>>>() {
            let record = record.map_err(|e| AxfrError::Malformed(e.to_string()))?;
            if self.done {
                continue;
            }
            self.handle_record(&record)?;
        }
        Ok(self.done)
    }

    /// The transferred zone, once complete.
    pub fn finish(self) -> Result<Zone, AxfrError> {
        match (self.done, self.builder) {
            (true, Some(builder)) => Ok(builder.finish()?),
            _ => Err(AxfrError::Incomplete),
        }
    }

    fn handle_record(&mut self, record: &TransferRecord<'_>) -> Result<(), AxfrError> {
        let mut owner = Vec::with_capacity(64);
        let _ = record.owner().compose(&mut owner);
        let mut rdata = Vec::with_capacity(32);
        let _ = record.data().compose_rdata(&mut rdata);
        let rtype = record.rtype().to_int();
        let mut lower = [0; MAX_NAME_LEN];
        let at_apex = lowercase_into(&owner, &mut lower) == &self.apex[..];
        let Some(builder) = self.builder.as_mut() else {
            if rtype != rtype::SOA || !at_apex {
                return Err(AxfrError::NoLeadingSoa);
            }
            let mut builder = ZoneBuilder::new(&owner);
            builder.add(
                &owner,
                rtype,
                record.class().to_int(),
                record.ttl().as_secs(),
                &rdata,
                None,
            )?;
            self.builder = Some(builder);
            self.opening_soa = rdata;
            return Ok(());
        };
        if rtype == rtype::SOA && at_apex && rdata == self.opening_soa {
            self.done = true;
            return Ok(());
        }
        let target = match record.data() {
            AllRecordData::Ns(ns) => Some(wire(ns.nsdname())),
            AllRecordData::Mx(mx) => Some(wire(mx.exchange())),
            AllRecordData::Srv(srv) => Some(wire(srv.target())),
            AllRecordData::Cname(cname) => Some(wire(cname.cname())),
            AllRecordData::Dname(dname) => Some(wire(dname.dname())),
            _ => None,
        };
        let class = record.class().to_int();
        builder.add(&owner, rtype, class, record.ttl().as_secs(), &rdata, target.as_deref())?;
        Ok(())
    }
}

fn wire(name: &impl ToName) -> Vec<u8> {
    let mut out = Vec::with_capacity(usize::from(name.compose_len()));
    let _ = name.compose(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use super::*;
    use crate::authority::{Authority, Response, Transport};

    const ZONE: &str = include_str!("../../testdata/example.lab.zone");

    fn primary() -> Authority {
        let zone = crate::zone::parse_str(ZONE, Path::new("z"), None).unwrap();
        let mut authority = Authority::new([Arc::new(zone)]);
        authority.set_transfer_acl(vec!["127.0.0.1/32".parse().unwrap()]);
        authority
    }

    const APEX: &[u8] = b"\x07example\x03lab\x00";

    #[test]
    fn reads_our_own_axfr_back_into_the_same_zone() {
        let primary = primary();
        let query = soa_query(APEX, rtype::AXFR, 99);
        let mut out = Vec::new();
        let client = Some("127.0.0.1".parse().unwrap());
        let Response::Transfer(mut transfer) =
            primary.answer_from(&query, Transport::Tcp, client, &mut out)
        else {
            panic!("transfer refused");
        };
        let mut reader = AxfrReader::new(APEX, 99);
        let mut done = false;
        while transfer.next_message(&mut out) {
            done = reader.handle_message(&out).expect("valid message");
        }
        assert!(done);
        let copy = reader.finish().expect("complete zone");
        let original = transfer.zone();
        assert_eq!(copy.serial(), original.serial());
        assert_eq!(copy.record_count(), original.record_count());
        for node in original.nodes() {
            let mut lower = [0; MAX_NAME_LEN];
            let name = lowercase_into(&node.name, &mut lower);
            assert_eq!(copy.find(name).map(|n| &n.rrsets), Some(&node.rrsets), "{:?}", node.name);
        }
    }

    #[test]
    fn soa_serial_from_an_answer() {
        let primary = primary();
        let mut out = Vec::new();
        primary.answer(&soa_query(APEX, rtype::SOA, 5), Transport::Udp, &mut out);
        assert_eq!(soa_serial(&out, 5, APEX), Some(2026112501));
        assert_eq!(soa_serial(&out, 6, APEX), None, "wrong ID");
    }

    #[test]
    fn refused_or_truncated_transfers_fail() {
        let primary = primary();
        let mut out = Vec::new();
        primary.answer(&soa_query(APEX, rtype::AXFR, 1), Transport::Tcp, &mut out);
        let mut reader = AxfrReader::new(APEX, 1);
        assert!(matches!(reader.handle_message(&out), Err(AxfrError::Rcode { .. })));
        assert_eq!(AxfrReader::new(APEX, 1).finish().unwrap_err(), AxfrError::Incomplete);
    }
}
