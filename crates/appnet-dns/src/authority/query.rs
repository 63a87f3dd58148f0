//! Reading a query: header checks, the question, EDNS(0). Parsing is `domain`'s, in place.

use domain::base::iana::{Opcode, Rtype};
use domain::base::name::ToName;
use domain::base::{Message, ParsedName};
use domain::rdata::Soa;

/// Response codes (RFC 1035 §4.1.1, RFC 6891 §9).
pub(crate) mod rcode {
    pub(crate) const NOERROR: u16 = 0;
    pub(crate) const FORMERR: u16 = 1;
    pub(crate) const NXDOMAIN: u16 = 3;
    pub(crate) const NOTIMP: u16 = 4;
    pub(crate) const REFUSED: u16 = 5;
    pub(crate) const NOTAUTH: u16 = 9;
    pub(crate) const YXDOMAIN: u16 = 6;
    /// Extended: needs EDNS; the upper 8 bits go in the OPT record.
    pub(crate) const BADVERS: u16 = 16;
}

/// What the query's OPT record said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Edns {
    /// The requester's UDP payload size (at least 512).
    pub(crate) udp_size: u16,
    /// EDNS version requested.
    pub(crate) version: u8,
    /// The DO bit (RFC 3225): echoed back.
    pub(crate) dnssec_ok: bool,
}

/// A query ready to answer; its question has been copied into the response buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Query {
    /// Where the question name ends in the response buffer (it starts at 12).
    pub(crate) qname_end: usize,
    pub(crate) qtype: u16,
    pub(crate) qclass: u16,
    pub(crate) edns: Option<Edns>,
    /// For IXFR: the serial the secondary has (RFC 1995 §3).
    pub(crate) ixfr_serial: Option<u32>,
    /// Opcode NOTIFY rather than QUERY.
    pub(crate) notify: bool,
}

/// The outcome of reading a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Read {
    /// Not worth an answer: too short to have a header, or itself a response.
    Drop,
    /// Answer with this rcode; `out` holds the header and, if `question`, the question.
    Error { rcode: u16, question: bool, edns: Option<Edns> },
    /// A well-formed standard query.
    Query(Query),
}

/// Reads `query` and starts the response in `out`: the header (ID, opcode, RD and CD copied,
/// QR set, counts zero) and, when the question is readable, the question with its original
/// case.
pub(crate) fn read(query: &[u8], out: &mut Vec<u8>) -> Read {
    out.clear();
    let Ok(message) = Message::from_octets(query) else {
        return Read::Drop;
    };
    let header = message.header();
    if header.qr() {
        return Read::Drop;
    }
    // ID, then QR=1 with the opcode and RD copied, then CD copied (RFC 4035 §3.1.6).
    out.extend_from_slice(&query[..2]);
    out.push(0x80 | (query[2] & 0x79));
    out.push(query[3] & 0x10);
    out.extend_from_slice(&[0; 8]);
    let notify = header.opcode() == Opcode::NOTIFY;
    if header.opcode() != Opcode::QUERY && !notify {
        return Read::Error { rcode: rcode::NOTIMP, question: false, edns: None };
    }
    let counts = message.header_counts();
    let form_error = Read::Error { rcode: rcode::FORMERR, question: false, edns: None };
    if counts.qdcount() != 1 {
        return form_error;
    }
    let Ok(question) = message.sole_question() else {
        return form_error;
    };
    let _ = question.qname().compose(out);
    let qname_end = out.len();
    let (qtype, qclass) = (question.qtype().to_int(), question.qclass().to_int());
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&qclass.to_be_bytes());
    out[5] = 1;

    let Ok(edns) = read_edns(&message) else {
        return Read::Error { rcode: rcode::FORMERR, question: true, edns: None };
    };
    if edns.is_some_and(|edns| edns.version > 0) {
        return Read::Error { rcode: rcode::BADVERS, question: true, edns };
    }
    let ixfr = qtype == Rtype::IXFR.to_int();
    // A NOTIFY may carry the new SOA in its answer section (RFC 1996 §3.7).
    if (counts.ancount() != 0 && !notify) || (counts.nscount() != 0 && !ixfr) {
        return Read::Error { rcode: rcode::FORMERR, question: true, edns };
    }
    let ixfr_serial = if ixfr { ixfr_serial(&message) } else { None };
    if ixfr && ixfr_serial.is_none() {
        return Read::Error { rcode: rcode::FORMERR, question: true, edns };
    }
    Read::Query(Query { qname_end, qtype, qclass, edns, ixfr_serial, notify })
}

/// The serial of the SOA an IXFR query carries in its authority section.
fn ixfr_serial(message: &Message<&[u8]>) -> Option<u32> {
    let record = message.authority().ok()?.next()?.ok()?;
    let soa = record.to_record::<Soa<ParsedName<&[u8]>>>().ok()??;
    Some(soa.data().serial().into_int())
}

/// The OPT record, if any. More than one, or one not owned by the root, is malformed
/// (RFC 6891 §6.1.1).
fn read_edns(message: &Message<&[u8]>) -> Result<Option<Edns>, ()> {
    if message.header_counts().arcount() == 0 {
        return Ok(None);
    }
    let mut opts = 0;
    for record in message.additional().map_err(|_| ())? {
        let record = record.map_err(|_| ())?;
        if record.rtype() == Rtype::OPT {
            opts += 1;
            if opts > 1 || !record.owner().is_root() {
                return Err(());
            }
        }
    }
    Ok(message.opt().map(|opt| Edns {
        udp_size: opt.udp_payload_size().max(512),
        version: opt.version(),
        dnssec_ok: opt.dnssec_ok(),
    }))
}

/// Encodes our OPT record into `out`: root owner, our UDP size, the extended rcode's upper
/// bits, version 0, the DO bit echoed.
pub(crate) fn encode_opt(out: &mut [u8; 11], udp_size: u16, rcode: u16, dnssec_ok: bool) {
    out[0] = 0;
    out[1..3].copy_from_slice(&Rtype::OPT.to_int().to_be_bytes());
    out[3..5].copy_from_slice(&udp_size.to_be_bytes());
    out[5] = (rcode >> 4) as u8;
    out[6] = 0;
    out[7] = if dnssec_ok { 0x80 } else { 0 };
    out[8] = 0;
    out[9..11].copy_from_slice(&[0, 0]);
}
