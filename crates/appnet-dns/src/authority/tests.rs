//! The answer core against the test zone: one test per answer case of RFC 1034 §4.3.2 and the
//! EDNS, truncation and error rules. Responses are parsed back with `domain` and compared as
//! presentation text.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use domain::base::iana::{Class, Rcode, Rtype};
use domain::base::name::Name;
use domain::base::{Message, MessageBuilder, ParsedName};
use domain::rdata::AllRecordData;

use super::*;

const ZONE: &str = include_str!("../../testdata/example.lab.zone");

fn authority() -> Authority {
    let zone =
        crate::zone::parse_str(ZONE, Path::new("example.lab.zone"), None).expect("test zone loads");
    Authority::new([Arc::new(zone)])
}

struct Ask<'a> {
    name: &'a str,
    qtype: Rtype,
    edns: Option<(u16, u8)>,
    transport: Transport,
}

fn ask(name: &str, qtype: Rtype) -> Ask<'_> {
    Ask { name, qtype, edns: Some((4096, 0)), transport: Transport::Udp }
}

impl Ask<'_> {
    fn query(&self) -> Vec<u8> {
        let mut builder = MessageBuilder::new_vec();
        builder.header_mut().set_id(0x1234);
        builder.header_mut().set_rd(true);
        let mut question = builder.question();
        let name = Name::<Vec<u8>>::from_str(self.name).expect("valid name");
        question.push((&name, self.qtype)).expect("fits");
        let mut additional = question.additional();
        if let Some((size, version)) = self.edns {
            additional
                .opt(|opt| {
                    opt.set_udp_payload_size(size);
                    opt.set_version(version);
                    Ok(())
                })
                .expect("fits");
        }
        additional.finish()
    }

    fn send(&self) -> Vec<u8> {
        let mut out = Vec::new();
        assert!(matches!(
            authority().answer(&self.query(), self.transport, &mut out),
            Response::Send
        ));
        out
    }
}

/// Each section as presentation-format lines, OPT excluded.
fn sections(response: &[u8]) -> [Vec<String>; 3] {
    let message = Message::from_octets(response).expect("a message");
    let text = |section: domain::base::message::RecordSection<'_, &[u8]>| {
        section
            .limit_to::<AllRecordData<&[u8], ParsedName<&[u8]>>>()
            .map(|record| record.expect("record parses"))
            .filter(|record| record.rtype() != Rtype::OPT)
            .map(|record| record.to_string().replace('\t', " "))
            .collect::<Vec<_>>()
    };
    let answer = message.answer().expect("answer section");
    let authority = answer.next_section().expect("authority").expect("present");
    let additional = authority.next_section().expect("additional").expect("present");
    [text(answer), text(authority), text(additional)]
}

fn header(response: &[u8]) -> (Rcode, bool, bool) {
    let header = Message::from_octets(response).expect("a message").header();
    (header.rcode(), header.aa(), header.tc())
}

#[test]
fn exact_match_preserves_query_case() {
    let response = ask("WwW.Example.LAB.", Rtype::A).send();
    assert_eq!(header(&response), (Rcode::NOERROR, true, false));
    let [answer, authority, additional] = sections(&response);
    assert_eq!(answer, ["WwW.Example.LAB. 300 IN A 192.0.2.80"]);
    assert!(authority.is_empty() && additional.is_empty(), "minimal responses");
    assert_eq!(&response[..2], &[0x12, 0x34], "ID copied");
    assert_eq!(response[2] & 0x01, 0x01, "RD copied");
}

#[test]
fn nodata_carries_soa_with_negative_ttl() {
    let response = ask("www.example.lab.", Rtype::MX).send();
    assert_eq!(header(&response), (Rcode::NOERROR, true, false));
    let [answer, authority, _] = sections(&response);
    assert!(answer.is_empty());
    assert_eq!(
        authority,
        [
            "example.lab. 60 IN SOA ns1.example.lab. hostmaster.example.lab. 2026112501 3600 900 604800 60"
        ]
    );
}

#[test]
fn nxdomain_carries_soa() {
    let response = ask("nope.example.lab.", Rtype::A).send();
    assert_eq!(header(&response), (Rcode::NXDOMAIN, true, false));
    assert_eq!(sections(&response)[1].len(), 1);
}

#[test]
fn soa_names_are_compressed_against_the_question() {
    let response = ask("nope.example.lab.", Rtype::A).send();
    assert_eq!(
        sections(&response)[1],
        [
            "example.lab. 60 IN SOA ns1.example.lab. hostmaster.example.lab. 2026112501 3600 900 604800 60"
        ]
    );
    // Header 12, question 18 + 4, SOA: owner pointer 2, fixed 10, MNAME "ns1"+pointer 6,
    // RNAME "hostmaster"+pointer 13, numbers 20; OPT 11. Uncompressed names would add 18.
    assert_eq!(response.len(), 12 + 22 + 2 + 10 + 6 + 13 + 20 + 11);
}

#[test]
fn empty_non_terminal_is_nodata_not_nxdomain() {
    let response = ask("b.c.example.lab.", Rtype::A).send();
    assert_eq!(header(&response), (Rcode::NOERROR, true, false));
    assert!(sections(&response)[0].is_empty());
}

#[test]
fn cname_chain_is_followed_inside_the_zone() {
    let [answer, ..] = sections(&ask("chain.example.lab.", Rtype::A).send());
    assert_eq!(
        answer,
        [
            "chain.example.lab. 300 IN CNAME alias.example.lab.",
            "alias.example.lab. 300 IN CNAME www.example.lab.",
            "www.example.lab. 300 IN A 192.0.2.80",
        ]
    );
}

#[test]
fn cname_leaving_the_zone_stops_there() {
    let response = ask("outside.example.lab.", Rtype::A).send();
    assert_eq!(header(&response), (Rcode::NOERROR, true, false));
    assert_eq!(sections(&response)[0], ["outside.example.lab. 300 IN CNAME www.elsewhere.test."]);
}

#[test]
fn cname_query_returns_the_cname_itself() {
    let [answer, ..] = sections(&ask("alias.example.lab.", Rtype::CNAME).send());
    assert_eq!(answer, ["alias.example.lab. 300 IN CNAME www.example.lab."]);
}

#[test]
fn cname_loop_ends() {
    let response = ask("loop1.example.lab.", Rtype::A).send();
    assert_eq!(header(&response).0, Rcode::NOERROR);
    assert_eq!(sections(&response)[0].len(), lookup::MAX_CHAIN_FOR_TESTS);
}

#[test]
fn dname_substitutes_and_synthesizes_a_cname() {
    let [answer, ..] = sections(&ask("x.old.example.lab.", Rtype::A).send());
    assert_eq!(
        answer,
        [
            "old.example.lab. 300 IN DNAME new.example.lab.",
            "x.old.example.lab. 300 IN CNAME x.new.example.lab.",
            "x.new.example.lab. 300 IN A 192.0.2.77",
        ]
    );
    let at_owner = sections(&ask("old.example.lab.", Rtype::DNAME).send());
    assert_eq!(at_owner[0], ["old.example.lab. 300 IN DNAME new.example.lab."]);
}

#[test]
fn wildcard_synthesizes_with_the_query_name() {
    let [answer, ..] = sections(&ask("anything.wild.example.lab.", Rtype::A).send());
    assert_eq!(answer, ["anything.wild.example.lab. 300 IN A 192.0.2.99"]);
    let deeper = sections(&ask("a.b.wild.example.lab.", Rtype::TXT).send());
    assert_eq!(deeper[0], ["a.b.wild.example.lab. 300 IN TXT \"wildcard\""]);
    let nodata = ask("anything.wild.example.lab.", Rtype::MX).send();
    assert_eq!(header(&nodata), (Rcode::NOERROR, true, false));
    assert!(sections(&nodata)[0].is_empty());
}

#[test]
fn wildcard_does_not_cover_existing_names_or_their_children() {
    let existing = ask("exists.wild.example.lab.", Rtype::TXT).send();
    assert_eq!(header(&existing), (Rcode::NOERROR, true, false));
    assert!(sections(&existing)[0].is_empty(), "existing name: NODATA, no synthesis");
    // The closest encloser of x.exists.wild is exists.wild, which has no wildcard child.
    assert_eq!(header(&ask("x.exists.wild.example.lab.", Rtype::A).send()).0, Rcode::NXDOMAIN);
}

#[test]
fn wildcard_cname_is_followed() {
    let [answer, ..] = sections(&ask("x.cnamewild.example.lab.", Rtype::A).send());
    assert_eq!(
        answer,
        [
            "x.cnamewild.example.lab. 300 IN CNAME www.example.lab.",
            "www.example.lab. 300 IN A 192.0.2.80"
        ]
    );
}

#[test]
fn delegation_is_a_referral_with_glue() {
    let response = ask("host.child.example.lab.", Rtype::A).send();
    assert_eq!(header(&response), (Rcode::NOERROR, false, false), "AA clear");
    let [answer, authority, additional] = sections(&response);
    assert!(answer.is_empty());
    assert_eq!(
        authority,
        [
            "child.example.lab. 300 IN NS ns.child.example.lab.",
            "child.example.lab. 300 IN NS ns.elsewhere.test."
        ]
    );
    assert_eq!(additional, ["ns.child.example.lab. 300 IN A 192.0.2.53"]);
    let at_cut = ask("child.example.lab.", Rtype::NS).send();
    assert_eq!(header(&at_cut), (Rcode::NOERROR, false, false), "NS at the cut: referral too");
}

#[test]
fn ds_at_a_cut_is_answered_by_the_parent() {
    let response = ask("child.example.lab.", Rtype::DS).send();
    assert_eq!(header(&response), (Rcode::NOERROR, true, false));
    assert_eq!(sections(&response)[1].len(), 1, "SOA: the parent has no DS");
}

#[test]
fn glue_is_not_authoritative_data() {
    let response = ask("ns.child.example.lab.", Rtype::A).send();
    assert!(!header(&response).1, "below the cut: referral");
}

#[test]
fn additional_addresses_for_mx_ns_srv_targets() {
    let [_, _, additional] = sections(&ask("example.lab.", Rtype::MX).send());
    assert_eq!(additional, ["mail.example.lab. 300 IN A 192.0.2.25"]);
    let [_, _, additional] = sections(&ask("example.lab.", Rtype::NS).send());
    assert_eq!(
        additional,
        [
            "ns1.example.lab. 300 IN A 192.0.2.1",
            "ns2.example.lab. 300 IN A 192.0.2.2",
            "ns2.example.lab. 300 IN AAAA 2001:db8::2",
        ]
    );
    let [_, _, additional] = sections(&ask("_sip._tcp.example.lab.", Rtype::SRV).send());
    assert_eq!(additional, ["sip.example.lab. 300 IN A 192.0.2.5"]);
}

#[test]
fn other_types_answer_from_the_zone() {
    for (name, qtype, expected) in [
        (
            "txt.example.lab.",
            Rtype::TXT,
            "txt.example.lab. 300 IN TXT \"hello world\" \"semi;colon\" \"quote\\\"d\"",
        ),
        ("caa.example.lab.", Rtype::CAA, "caa.example.lab. 300 IN CAA 0 issue \"ca.example\""),
        ("ptr.example.lab.", Rtype::PTR, "ptr.example.lab. 300 IN PTR www.example.lab."),
        (
            "unknown.example.lab.",
            Rtype::from_int(65280),
            "unknown.example.lab. 300 IN TYPE65280 \\# 4 0a 00 00 01",
        ),
    ] {
        assert_eq!(sections(&ask(name, qtype).send())[0], [expected], "{name} {qtype}");
    }
}

#[test]
fn any_is_answered_minimally() {
    let [answer, ..] = sections(&ask("www.example.lab.", Rtype::ANY).send());
    assert_eq!(answer, ["www.example.lab. 300 IN A 192.0.2.80"], "one RRset (RFC 8482)");
}

#[test]
fn names_outside_our_zones_are_refused() {
    let response = ask("www.other.test.", Rtype::A).send();
    assert_eq!(header(&response), (Rcode::REFUSED, false, false));
    assert_eq!(Message::from_octets(&response[..]).unwrap().header_counts().qdcount(), 1);
}

#[test]
fn transfers_and_other_classes_are_refused() {
    assert_eq!(header(&ask("example.lab.", Rtype::AXFR).send()).0, Rcode::REFUSED);
    let mut query = ask("www.example.lab.", Rtype::A).query();
    let class_at = query.len() - 11 - 2; // the QCLASS, before the 11-byte OPT
    query[class_at..class_at + 2].copy_from_slice(&Class::CH.to_int().to_be_bytes());
    let mut out = Vec::new();
    authority().answer(&query, Transport::Udp, &mut out);
    assert_eq!(header(&out).0, Rcode::REFUSED);
}

#[test]
fn edns_is_echoed_with_our_size() {
    let response = ask("www.example.lab.", Rtype::A).send();
    let opt = Message::from_octets(&response[..]).unwrap().opt().expect("OPT in response");
    assert_eq!(opt.udp_payload_size(), DEFAULT_UDP_SIZE);
    let plain = Ask { edns: None, ..ask("www.example.lab.", Rtype::A) }.send();
    assert!(Message::from_octets(&plain[..]).unwrap().opt().is_none(), "no OPT without EDNS");
}

#[test]
fn unknown_edns_version_is_badvers() {
    let response = Ask { edns: Some((1232, 1)), ..ask("www.example.lab.", Rtype::A) }.send();
    let message = Message::from_octets(&response[..]).unwrap();
    let opt = message.opt().expect("OPT carries the extended rcode");
    assert_eq!(opt.rcode(message.header()).to_int(), 16, "BADVERS");
    assert!(sections(&response)[0].is_empty());
}

#[test]
fn udp_answers_that_do_not_fit_are_truncated() {
    let plain = Ask { edns: None, ..ask("big.example.lab.", Rtype::TXT) };
    let response = plain.send();
    assert_eq!(header(&response), (Rcode::NOERROR, true, true));
    assert!(response.len() <= 512);
    assert!(sections(&response)[0].is_empty(), "nothing partial");
    let over_tcp = Ask { transport: Transport::Tcp, ..plain }.send();
    assert!(!header(&over_tcp).2);
    assert_eq!(sections(&over_tcp)[0].len(), 6);
    let with_edns = ask("big.example.lab.", Rtype::TXT).send();
    assert!(!header(&with_edns).2, "fits in 1232");
}

fn raw(query: &[u8]) -> (Response, Vec<u8>) {
    let mut out = Vec::new();
    let response = authority().answer(query, Transport::Udp, &mut out);
    (response, out)
}

#[test]
fn malformed_queries_get_formerr() {
    let mut query = ask("www.example.lab.", Rtype::A).query();
    query[5] = 2; // QDCOUNT 2 with one question
    let (response, out) = raw(&query);
    assert!(matches!(response, Response::Send));
    assert_eq!(header(&out).0, Rcode::FORMERR);
    let (_, out) = raw(&[0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0]);
    assert_eq!(header(&out).0, Rcode::FORMERR, "truncated question");
    let mut two_opts = Ask { edns: None, ..ask("www.example.lab.", Rtype::A) }.query();
    two_opts[11] = 2;
    for _ in 0..2 {
        two_opts.extend_from_slice(&[0, 0, 41, 4, 208, 0, 0, 0, 0, 0, 0]);
    }
    assert_eq!(header(&raw(&two_opts).1).0, Rcode::FORMERR, "two OPT records");
}

#[test]
fn responses_and_runts_are_dropped() {
    assert!(raw(&[0; 11]).0.is_drop());
    let mut response = ask("www.example.lab.", Rtype::A).query();
    response[2] |= 0x80;
    assert!(raw(&response).0.is_drop(), "QR set: never answer a response");
}

#[test]
fn unknown_opcodes_get_notimp() {
    let mut query = ask("www.example.lab.", Rtype::A).query();
    query[2] = (query[2] & 0x87) | (2 << 3); // STATUS
    assert_eq!(header(&raw(&query).1).0, Rcode::NOTIMP);
}

#[test]
fn longest_zone_wins_including_the_root() {
    let root =
        "$ORIGIN .\n@ 60 SOA a.root. h.root. 1 2 3 4 5\n@ 60 NS a.root.\nlab. 60 NS ns.lab.\n";
    let root = crate::zone::parse_str(root, Path::new("root.zone"), None).unwrap();
    let lab = crate::zone::parse_str(ZONE, Path::new("example.lab.zone"), None).unwrap();
    let both = Authority::new([Arc::new(root), Arc::new(lab)]);
    assert_eq!(
        both.zone_for(b"\x03www\x07example\x03lab\x00").unwrap().apex(),
        b"\x07example\x03lab\x00"
    );
    assert_eq!(both.zone_for(b"\x03foo\x03lab\x00").unwrap().apex(), b"\x00");
    assert_eq!(both.zone_for(b"\x00").unwrap().apex(), b"\x00");
}

fn transfer_authority() -> Authority {
    let mut authority = authority();
    authority.set_transfer_acl(vec!["127.0.0.0/8".parse().unwrap()]);
    authority
}

fn ixfr_query(serial: u32) -> Vec<u8> {
    let mut builder = MessageBuilder::new_vec();
    builder.header_mut().set_id(7);
    let mut question = builder.question();
    let apex = Name::<Vec<u8>>::from_str("example.lab.").unwrap();
    question.push((&apex, Rtype::IXFR)).unwrap();
    let mut authority = question.authority();
    let soa = domain::rdata::Soa::new(
        apex.clone(),
        apex.clone(),
        domain::base::Serial(serial),
        domain::base::Ttl::from_secs(1),
        domain::base::Ttl::from_secs(1),
        domain::base::Ttl::from_secs(1),
        domain::base::Ttl::from_secs(1),
    );
    authority.push((&apex, 60, soa)).unwrap();
    authority.finish()
}

/// Runs a transfer to completion; returns every record as text, in order.
fn transfer_records(authority: &Authority, query: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let client = Some("127.0.0.1".parse().unwrap());
    let Response::Transfer(mut transfer) =
        authority.answer_from(query, Transport::Tcp, client, &mut out)
    else {
        panic!("expected a transfer, got rcode {:?}", header(&out).0);
    };
    let mut records = Vec::new();
    while transfer.next_message(&mut out) {
        assert!(out.len() <= usize::from(u16::MAX));
        let (rcode, aa, tc) = header(&out);
        assert_eq!((rcode, aa, tc), (Rcode::NOERROR, true, false));
        records.extend(sections(&out)[0].iter().cloned());
    }
    records
}

#[test]
fn axfr_sends_the_zone_between_two_soas() {
    let records =
        transfer_records(&transfer_authority(), &ask("example.lab.", Rtype::AXFR).query());
    let soa = "example.lab. 300 IN SOA ns1.example.lab. hostmaster.example.lab. 2026112501 3600 900 604800 60";
    assert_eq!(records.first().map(String::as_str), Some(soa));
    assert_eq!(records.last().map(String::as_str), Some(soa));
    let zone = crate::zone::parse_str(ZONE, Path::new("z"), None).unwrap();
    assert_eq!(records.len(), zone.record_count() + 1, "every record once, the SOA twice");
    assert!(records.contains(&"ns.child.example.lab. 300 IN A 192.0.2.53".to_owned()), "glue too");
}

#[test]
fn large_zones_stream_in_several_messages() {
    let mut source = String::from(ZONE);
    for i in 0..3000 {
        source.push_str(&format!("host{i} IN A 10.0.{}.{}\n", i / 256, i % 256));
    }
    let zone = crate::zone::parse_str(&source, Path::new("z"), None).unwrap();
    let mut authority = Authority::new([Arc::new(zone)]);
    authority.set_transfer_acl(vec!["127.0.0.1/32".parse().unwrap()]);
    let mut out = Vec::new();
    let client = Some("127.0.0.1".parse().unwrap());
    let query = ask("example.lab.", Rtype::AXFR).query();
    let Response::Transfer(mut transfer) =
        authority.answer_from(&query, Transport::Tcp, client, &mut out)
    else {
        panic!("transfer");
    };
    let mut messages = 0;
    let mut records = 0;
    while transfer.next_message(&mut out) {
        messages += 1;
        records += sections(&out)[0].len();
    }
    assert!(messages > 3, "{messages} messages");
    assert_eq!(records, 3000 + 38 + 1);
}

#[test]
fn transfers_need_the_acl_tcp_and_the_apex() {
    let authority = transfer_authority();
    let mut out = Vec::new();
    let outsider = Some("192.0.2.1".parse().unwrap());
    let axfr = ask("example.lab.", Rtype::AXFR).query();
    authority.answer_from(&axfr, Transport::Tcp, outsider, &mut out);
    assert_eq!(header(&out).0, Rcode::REFUSED, "not on the ACL");
    authority.answer(&axfr, Transport::Tcp, &mut out);
    assert_eq!(header(&out).0, Rcode::REFUSED, "client unknown");
    let local = Some("127.0.0.1".parse().unwrap());
    authority.answer_from(&axfr, Transport::Udp, local, &mut out);
    assert_eq!(header(&out).0, Rcode::FORMERR, "AXFR over UDP");
    authority.answer_from(
        &ask("www.example.lab.", Rtype::AXFR).query(),
        Transport::Tcp,
        local,
        &mut out,
    );
    assert_eq!(header(&out).0, Rcode::NOTAUTH, "not a zone apex");
}

#[test]
fn ixfr_from_a_current_secondary_gets_the_soa_alone() {
    let authority = transfer_authority();
    assert_eq!(transfer_records(&authority, &ixfr_query(2026112501)).len(), 1);
    assert_eq!(
        transfer_records(&authority, &ixfr_query(2026112600)).len(),
        1,
        "newer: nothing to send"
    );
    let behind = transfer_records(&authority, &ixfr_query(2026112400));
    assert!(behind.len() > 30, "an older secondary gets the whole zone, AXFR-style");
    let mut out = Vec::new();
    authority.answer_from(
        &ixfr_query(1),
        Transport::Udp,
        Some("127.0.0.1".parse().unwrap()),
        &mut out,
    );
    assert_eq!(sections(&out)[0].len(), 1, "IXFR over UDP: our SOA, to say TCP is needed");
}

#[test]
fn serial_arithmetic_wraps() {
    assert!(serial_at_least(5, 5));
    assert!(serial_at_least(6, 5));
    assert!(!serial_at_least(4, 5));
    assert!(serial_at_least(1, u32::MAX), "1 follows 2^32-1 (RFC 1982)");
}

#[test]
fn notify_message_names_the_zone() {
    let zone = crate::zone::parse_str(ZONE, Path::new("z"), None).unwrap();
    let mut out = Vec::new();
    notify_message(&zone, 0xBEEF, &mut out);
    let message = Message::from_octets(&out[..]).unwrap();
    assert_eq!(message.header().opcode(), domain::base::iana::Opcode::NOTIFY);
    assert!(message.header().aa());
    let question = message.sole_question().unwrap();
    assert_eq!(question.qtype(), Rtype::SOA);
    assert_eq!(sections(&out)[0].len(), 1, "the new SOA as a hint");
}
