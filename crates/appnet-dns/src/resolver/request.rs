//! The queries a resolver sends to authorities, and which responses answer them.

use domain::base::Message;

/// An iterative query for `qname` (wire form, in the case to send: 0x20 randomisation happens
/// before) and `qtype`, class IN, RD clear, with message ID `id`; with an OPT record for a
/// 1232-byte UDP size when `edns` (RFC 6891, the DNS Flag Day 2020 size).
pub fn build_query(qname: &[u8], qtype: u16, id: u16, edns: bool) -> Vec<u8> {
    let mut query = Vec::with_capacity(12 + qname.len() + 4 + 11);
    query.extend_from_slice(&id.to_be_bytes());
    query.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, u8::from(edns)]);
    query.extend_from_slice(qname);
    query.extend_from_slice(&qtype.to_be_bytes());
    query.extend_from_slice(&1u16.to_be_bytes());
    if edns {
        query.extend_from_slice(&[0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0, 0]);
    }
    query
}

/// Whether `response` answers the query with `id` for exactly `qname` (byte for byte, so
/// the 0x20 case pattern must come back unchanged) and `qtype`, class IN.
pub fn matches(response: &[u8], id: u16, qname: &[u8], qtype: u16) -> bool {
    let Ok(message) = Message::from_octets(response) else { return false };
    let header = message.header();
    if !header.qr() || header.id() != id || message.header_counts().qdcount() != 1 {
        return false;
    }
    // The question is the first thing after the header, uncompressed in any sane response.
    let question = &response[12..];
    question.len() >= qname.len() + 4
        && &question[..qname.len()] == qname
        && question[qname.len()..qname.len() + 4] == [(qtype >> 8) as u8, qtype as u8, 0, 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAME: &[u8] = b"\x03WwW\x07example\x03lab\x00";

    #[test]
    fn query_is_iterative_with_edns() {
        let query = build_query(NAME, 28, 0xBEEF, true);
        let message = Message::from_octets(query.as_slice()).expect("parses");
        assert_eq!((message.header().id(), message.header().rd()), (0xBEEF, false));
        assert_eq!(message.opt().expect("OPT").udp_payload_size(), 1232);
        assert!(
            Message::from_octets(build_query(NAME, 1, 1, false).as_slice())
                .unwrap()
                .opt()
                .is_none()
        );
    }

    #[test]
    fn responses_must_echo_id_and_exact_question() {
        let mut response = build_query(NAME, 1, 9, true);
        assert!(!matches(&response, 9, NAME, 1), "not a response");
        response[2] |= 0x80;
        assert!(matches(&response, 9, NAME, 1));
        assert!(!matches(&response, 8, NAME, 1), "other ID");
        assert!(!matches(&response, 9, b"\x03www\x07example\x03lab\x00", 1), "case changed");
        assert!(!matches(&response, 9, NAME, 28), "other type");
        assert!(!matches(&response[..14], 9, NAME, 1));
    }
}
