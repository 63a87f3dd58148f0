//! Outgoing zone transfers: AXFR (RFC 5936), and IXFR (RFC 1995) answered by the full zone or,
//! when the secondary is current, by the SOA alone.
//!
//! A transfer is a sequence of messages over one TCP connection: the SOA, every other record,
//! the SOA again. [`Transfer`] yields them one at a time into the driver's buffer, about
//! [`MESSAGE_TARGET`] bytes each, so a zone of any size streams without being copied whole.

use std::sync::Arc;

use crate::zone::{Zone, rtype};

use super::writer::{Owner, Writer};

/// Aim for messages this large: big enough to amortise headers, small enough to stream.
const MESSAGE_TARGET: usize = 16 * 1024;

/// Where the transfer is in the zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Position {
    /// The opening SOA is next.
    Start,
    /// Records of node `node`, RRset `rrset`, record `record` are next.
    Body { node: usize, rrset: usize, record: usize },
    /// Only the closing SOA is left.
    Closing,
    /// Everything is sent.
    Done,
}

/// One outgoing transfer of one zone version.
#[derive(Debug, Clone)]
pub struct Transfer {
    zone: Arc<Zone>,
    /// The response header's first four bytes (ID, flags) and the question, copied from the
    /// query into every message so that names compress against it.
    header: [u8; 4],
    question: Vec<u8>,
    position: Position,
}

impl Transfer {
    /// A full transfer of `zone` answering the query whose response header starts with
    /// `header` and whose question is `question` (name, type, class).
    pub(crate) fn full(zone: Arc<Zone>, header: [u8; 4], question: &[u8]) -> Self {
        Self { zone, header, question: question.to_vec(), position: Position::Start }
    }

    /// An IXFR reply for a secondary that is already current: our SOA, once.
    pub(crate) fn up_to_date(zone: Arc<Zone>, header: [u8; 4], question: &[u8]) -> Self {
        Self { zone, header, question: question.to_vec(), position: Position::Closing }
    }

    /// A full transfer of `zone` not tied to a query (message ID 0), e.g. to save the zone.
    pub fn for_zone(zone: Arc<Zone>) -> Self {
        let mut question = zone.apex_node().name.to_vec();
        question.extend_from_slice(&rtype::AXFR.to_be_bytes());
        question.extend_from_slice(&1u16.to_be_bytes());
        Self { zone, header: [0, 0, 0x84, 0], question, position: Position::Start }
    }

    /// The zone being sent.
    pub fn zone(&self) -> &Arc<Zone> {
        &self.zone
    }

    /// Writes the next message into `out`; returns false (leaving `out` empty) when the
    /// transfer is complete.
    pub fn next_message(&mut self, out: &mut Vec<u8>) -> bool {
        out.clear();
        if self.position == Position::Done {
            return false;
        }
        out.extend_from_slice(&self.header);
        out.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
        out.extend_from_slice(&self.question);
        let qname_end = out.len() - 4;
        let zone = self.zone.clone();
        let apex = zone.apex_node();
        let mut writer = Writer::new(out, qname_end);
        let soa = &zone.soa().records[0];
        if self.position == Position::Start {
            writer.raw(Owner::Name(&apex.name), soa);
            self.position = Position::Body { node: 0, rrset: 0, record: 0 };
        }
        while let Position::Body { node, rrset, record } = self.position {
            if writer.len() >= MESSAGE_TARGET {
                break;
            }
            self.position = match zone.nodes().get(node) {
                None => Position::Closing,
                Some(current) => match current.rrsets.get(rrset) {
                    None => Position::Body { node: node + 1, rrset: 0, record: 0 },
                    Some(set) if node == 0 && set.rtype == rtype::SOA => {
                        Position::Body { node, rrset: rrset + 1, record: 0 }
                    }
                    Some(set) => match set.records.get(record) {
                        None => Position::Body { node, rrset: rrset + 1, record: 0 },
                        Some(tail) => {
                            writer.raw(Owner::Name(&current.name), tail);
                            Position::Body { node, rrset, record: record + 1 }
                        }
                    },
                },
            };
        }
        if self.position == Position::Closing && writer.len() < MESSAGE_TARGET {
            writer.raw(Owner::Name(&apex.name), soa);
            self.position = Position::Done;
        }
        writer.finish(&[], usize::from(u16::MAX), false);
        true
    }
}

/// Writes a NOTIFY (RFC 1996) for `zone` with message ID `id` into `out`: opcode NOTIFY, AA,
/// the apex SOA as question and, as a hint, the new SOA in the answer section.
pub fn notify_message(zone: &Zone, id: u16, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&[(4 << 3) | 0x04, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    out.extend_from_slice(&zone.apex_node().name);
    let qname_end = out.len();
    out.extend_from_slice(&rtype::SOA.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    let mut writer = Writer::new(out, qname_end);
    writer.rrset(Owner::Question, zone.soa());
    writer.finish(&[], usize::from(u16::MAX), false);
}
