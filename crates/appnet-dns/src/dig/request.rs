//! The query dig sends, and which datagrams count as its answer.

use std::str::FromStr;

use domain::base::name::Name;
use domain::base::{Message, MessageBuilder};

use super::DigOptions;

/// The query message for `options`, with message ID `id`: the flags and OPT record that dig
/// 9.18 sends by default (RD and AD set, EDNS version 0 with a 1232-byte UDP size).
pub fn build_query(options: &DigOptions, id: u16) -> Vec<u8> {
    let mut builder = MessageBuilder::new_vec();
    let header = builder.header_mut();
    header.set_id(id);
    header.set_rd(options.recurse);
    header.set_ad(options.ad_flag);
    header.set_cd(options.cd_flag);
    let mut question = builder.question();
    // The options parser has checked the name, so it parses; a 255-octet name always fits.
    if let Ok(name) = Name::<Vec<u8>>::from_str(&options.name) {
        let _ = question.push((&name, options.qtype, options.qclass));
    }
    let mut additional = question.additional();
    if let Some(version) = options.edns {
        let _ = additional.opt(|opt| {
            opt.set_udp_payload_size(options.bufsize);
            opt.set_version(version);
            opt.set_dnssec_ok(options.dnssec);
            Ok(())
        });
    }
    additional.finish()
}

/// Whether `response` answers `query`: a response (QR) with the same ID and the same question
/// (names compared without case). A response without a question is accepted, as servers send
/// FORMERR and NOTIMP that way.
pub fn is_answer(query: &[u8], response: &[u8]) -> bool {
    let (Ok(query), Ok(response)) = (Message::from_octets(query), Message::from_octets(response))
    else {
        return false;
    };
    if !response.header().qr() || response.header().id() != query.header().id() {
        return false;
    }
    if response.header_counts().qdcount() == 0 {
        return true;
    }
    match (query.first_question(), response.first_question()) {
        (Some(asked), Some(answered)) => asked == answered,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use domain::base::iana::Rtype;

    use super::*;

    fn options(args: &[&str]) -> DigOptions {
        DigOptions::parse(args).expect("valid")
    }

    #[test]
    fn query_carries_digs_flags_and_opt() {
        let query = build_query(&options(&["www.example.", "AAAA", "+dnssec", "+norec"]), 7);
        let message = Message::from_octets(query.as_slice()).unwrap();
        let header = message.header();
        assert_eq!((header.id(), header.rd(), header.ad(), header.qr()), (7, false, true, false));
        let question = message.first_question().unwrap();
        assert_eq!(
            (question.qname().to_string(), question.qtype()),
            ("www.example".into(), Rtype::AAAA)
        );
        let opt = message.opt().expect("an OPT record");
        assert!(opt.dnssec_ok());
        assert_eq!((opt.udp_payload_size(), opt.version()), (1232, 0));
        let plain = build_query(&options(&["x.", "+noedns"]), 1);
        assert!(Message::from_octets(plain.as_slice()).unwrap().opt().is_none());
    }

    #[test]
    fn answers_must_match_id_question_and_be_responses() {
        let query = build_query(&options(&["WWW.example."]), 99);
        let mut response = build_query(&options(&["www.EXAMPLE."]), 99);
        assert!(!is_answer(&query, &response), "a query is no answer");
        response[2] |= 0x80;
        assert!(is_answer(&query, &response), "question compared without case");
        let mut other_id = response.clone();
        other_id[1] ^= 1;
        assert!(!is_answer(&query, &other_id));
        let mut other = build_query(&options(&["www.example.", "MX"]), 99);
        other[2] |= 0x80;
        assert!(!is_answer(&query, &other));
        assert!(!is_answer(&query, &response[..5]), "garbage is no answer");
        let bare = [0, 99, 0x80, 1, 0, 0, 0, 0, 0, 0, 0, 0];
        assert!(is_answer(&query, &bare), "FORMERR without a question");
    }
}
