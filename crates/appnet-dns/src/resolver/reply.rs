//! The client side of the resolver: reading a stub's recursive query and writing the reply
//! (RFC 1035 §4.1, RA set, the question echoed in the client's case, OPT when asked, TC when
//! it does not fit).

use domain::base::Message;

use super::resolution::{Answer, AnswerRecord};
use crate::zone::name::{MAX_NAME_LEN, lowercase_into};

/// What a client asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientQuery {
    /// Message ID.
    pub id: u16,
    /// Whether RD was set (copied to the reply).
    pub recursion_desired: bool,
    /// Whether CD was set (copied to the reply).
    pub checking_disabled: bool,
    /// The question's name as sent (case kept for the echo).
    pub qname: Box<[u8]>,
    /// The question's name lowercased, for lookups.
    pub qname_lower: Box<[u8]>,
    /// Question type.
    pub qtype: u16,
    /// Question class.
    pub qclass: u16,
    /// The client's EDNS UDP size, if it sent OPT (at least 512).
    pub edns_size: Option<u16>,
    /// The DO bit.
    pub dnssec_ok: bool,
}

/// How a client query was refused before any resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// Not a DNS query at all, or a response: say nothing.
    Drop,
    /// Answer with this RCODE and the question, if one could be read.
    Rcode {
        /// The RCODE.
        rcode: u16,
        /// The query's ID.
        id: u16,
        /// The query's question section, if it had one to echo.
        question: Option<(Box<[u8]>, u16, u16)>,
        /// RD of the query.
        recursion_desired: bool,
    },
}

const FORMERR: u16 = 1;
const NOTIMP: u16 = 4;
const REFUSED: u16 = 5;

/// Reads a client's query. Malformed queries get FORMERR, opcodes other than QUERY NOTIMP,
/// classes other than IN and zone transfers REFUSED (a resolver does not transfer zones).
pub fn read_query(bytes: &[u8]) -> Result<ClientQuery, Rejection> {
    if bytes.len() < 12 || bytes[2] & 0x80 != 0 {
        return Err(Rejection::Drop);
    }
    let id = u16::from_be_bytes([bytes[0], bytes[1]]);
    let recursion_desired = bytes[2] & 0x01 != 0;
    let reject = |rcode, question| Rejection::Rcode { rcode, id, question, recursion_desired };
    let Ok(message) = Message::from_octets(bytes) else { return Err(reject(FORMERR, None)) };
    if message.header().opcode().to_int() != 0 {
        return Err(reject(NOTIMP, None));
    }
    if message.header_counts().qdcount() != 1 {
        return Err(reject(FORMERR, None));
    }
    let Some(question) = message.first_question() else { return Err(reject(FORMERR, None)) };
    let mut qname = Vec::new();
    let _ = domain::base::ToName::compose(question.qname(), &mut qname);
    let (qtype, qclass) = (question.qtype().to_int(), question.qclass().to_int());
    let echo = Some((qname.clone().into_boxed_slice(), qtype, qclass));
    if message.answer().is_err() || message.authority().is_err() || message.additional().is_err() {
        return Err(reject(FORMERR, echo));
    }
    if qclass != 1 || matches!(qtype, 251 | 252) {
        return Err(reject(REFUSED, echo));
    }
    let opt = message.opt();
    let mut lower = [0; MAX_NAME_LEN];
    let qname_lower = lowercase_into(&qname, &mut lower).into();
    Ok(ClientQuery {
        id,
        recursion_desired,
        checking_disabled: bytes[3] & 0x10 != 0,
        qname: qname.into(),
        qname_lower,
        qtype,
        qclass,
        edns_size: opt.as_ref().map(|opt| opt.udp_payload_size().max(512)),
        dnssec_ok: opt.as_ref().is_some_and(|opt| opt.dnssec_ok()),
    })
}

/// Our EDNS UDP size (RFC 6891; the 2020 DNS flag day value).
pub const UDP_SIZE: u16 = 1232;

/// The reply to `query` with `answer`; over UDP, `udp` is true and the reply is cut to the
/// client's size with TC set when it does not fit.
pub fn write_answer(query: &ClientQuery, answer: &Answer, udp: bool) -> Vec<u8> {
    let mut out = header(query.id, query.recursion_desired, query.checking_disabled, answer.rcode);
    question(&mut out, &query.qname, query.qtype, query.qclass);
    let question_end = out.len();
    for record in &answer.answer {
        write_record(&mut out, record, &query.qname_lower);
    }
    for record in &answer.authority {
        write_record(&mut out, record, &query.qname_lower);
    }
    let limit =
        if udp { usize::from(query.edns_size.map_or(512, |s| s.min(UDP_SIZE))) } else { 65_535 };
    let opt_len = if query.edns_size.is_some() { 11 } else { 0 };
    let (mut answers, mut authorities) = (answer.answer.len(), answer.authority.len());
    if out.len() + opt_len > limit {
        out.truncate(question_end);
        out[2] |= 0x02;
        (answers, authorities) = (0, 0);
    }
    out[6..8].copy_from_slice(&(answers as u16).to_be_bytes());
    out[8..10].copy_from_slice(&(authorities as u16).to_be_bytes());
    if query.edns_size.is_some() {
        opt(&mut out, query.dnssec_ok);
    }
    out
}

/// A reply carrying only an RCODE (SERVFAIL after a failed resolution, REFUSED…).
pub fn write_rcode(query: &ClientQuery, rcode: u16) -> Vec<u8> {
    let mut out = header(query.id, query.recursion_desired, query.checking_disabled, rcode);
    question(&mut out, &query.qname, query.qtype, query.qclass);
    if query.edns_size.is_some() {
        opt(&mut out, query.dnssec_ok);
    }
    out
}

/// The reply to a query [`read_query`] rejected, if any.
pub fn write_rejection(rejection: &Rejection) -> Option<Vec<u8>> {
    let Rejection::Rcode { rcode, id, question: echo, recursion_desired } = rejection else {
        return None;
    };
    let mut out = header(*id, *recursion_desired, false, *rcode);
    if let Some((qname, qtype, qclass)) = echo {
        question(&mut out, qname, *qtype, *qclass);
    } else {
        out[5] = 0;
    }
    Some(out)
}

fn header(id: u16, rd: bool, cd: bool, rcode: u16) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(&id.to_be_bytes());
    out.push(0x80 | u8::from(rd));
    out.push(0x80 | if cd { 0x10 } else { 0 } | (rcode & 0x0F) as u8);
    out.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    out
}

fn question(out: &mut Vec<u8>, qname: &[u8], qtype: u16, qclass: u16) {
    out.extend_from_slice(qname);
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&qclass.to_be_bytes());
}

/// A record; its owner is a pointer to the question when it is the question's name.
fn write_record(out: &mut Vec<u8>, record: &AnswerRecord, qname_lower: &[u8]) {
    if *record.name == *qname_lower {
        out.extend_from_slice(&[0xC0, 12]);
    } else {
        out.extend_from_slice(&record.name);
    }
    out.extend_from_slice(&record.rtype.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&record.ttl.to_be_bytes());
    out.extend_from_slice(&(record.rdata.len() as u16).to_be_bytes());
    out.extend_from_slice(&record.rdata);
}

fn opt(out: &mut Vec<u8>, dnssec_ok: bool) {
    let [high, low] = UDP_SIZE.to_be_bytes();
    out.extend_from_slice(&[0, 0, 41, high, low, 0, 0, if dnssec_ok { 0x80 } else { 0 }, 0, 0, 0]);
    let additional = u16::from_be_bytes([out[10], out[11]]) + 1;
    out[10..12].copy_from_slice(&additional.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resolver::request::build_query;

    const NAME: &[u8] = b"\x03WwW\x03lab\x00";

    fn client(edns: bool) -> Vec<u8> {
        let mut query = build_query(NAME, 1, 0x4242, edns);
        query[2] |= 0x01;
        query
    }

    #[test]
    fn reads_the_question_and_edns() {
        let query = read_query(&client(true)).unwrap();
        assert_eq!((query.id, query.recursion_desired, query.qtype), (0x4242, true, 1));
        assert_eq!((&*query.qname, &*query.qname_lower), (NAME, &b"\x03www\x03lab\x00"[..]));
        assert_eq!(query.edns_size, Some(1232));
        assert_eq!(read_query(&client(false)).unwrap().edns_size, None);
    }

    #[test]
    fn rejects_what_a_resolver_does_not_do() {
        let mut response = client(false);
        response[2] |= 0x80;
        assert_eq!(read_query(&response), Err(Rejection::Drop));
        assert_eq!(read_query(&[1, 2, 3]), Err(Rejection::Drop));
        let mut axfr = build_query(NAME, 252, 1, false);
        axfr[2] |= 1;
        let Err(rejection) = read_query(&axfr) else { panic!() };
        let reply = write_rejection(&rejection).unwrap();
        assert_eq!((reply[3] & 0x0F, reply[2] & 0x80), (5, 0x80), "REFUSED, a response");
        let mut notify = client(false);
        notify[2] |= 4 << 3;
        assert!(matches!(read_query(&notify), Err(Rejection::Rcode { rcode: 4, .. })));
        let truncated = &client(false)[..15];
        let Err(rejection) = read_query(truncated) else { panic!() };
        assert_eq!(write_rejection(&rejection).unwrap()[3] & 0x0F, 1, "FORMERR");
    }

    #[test]
    fn answers_echo_the_question_and_truncate_for_small_clients() {
        let record = AnswerRecord {
            name: b"\x03www\x03lab\x00"[..].into(),
            rtype: 16,
            ttl: 60,
            rdata: vec![7; 200].into(),
        };
        let answer = Answer { rcode: 0, answer: vec![record; 3], authority: Vec::new() };
        let query = read_query(&client(false)).unwrap();
        let over_udp = write_answer(&query, &answer, true);
        assert_eq!(
            (over_udp[2] & 0x02, over_udp[7]),
            (0x02, 0),
            "TC, no answers: 3 x 200 bytes > 512"
        );
        let over_tcp = write_answer(&query, &answer, false);
        let message = Message::from_octets(over_tcp.as_slice()).unwrap();
        assert_eq!((message.header().ra(), message.header_counts().ancount()), (true, 3));
        assert_eq!(&over_tcp[12..12 + NAME.len()], NAME, "the client's case echoed");
        let edns = read_query(&client(true)).unwrap();
        let fits = write_answer(&edns, &answer, true);
        assert_eq!(fits[2] & 0x02, 0, "fits in 1232");
        assert!(Message::from_octets(fits.as_slice()).unwrap().opt().is_some());
    }
}
