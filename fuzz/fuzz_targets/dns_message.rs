//! The authoritative server's message path: any bytes, over UDP or TCP, give either no answer
//! or a well-formed response within the transport's size limit — never a panic.
#![no_main]

use std::path::Path;
use std::sync::{Arc, OnceLock};

use appnet_dns::authority::{Authority, Response, Transport};
use libfuzzer_sys::fuzz_target;

const ZONE: &str = include_str!("../../crates/appnet-dns/testdata/example.lab.zone");

fn authority() -> &'static Authority {
    static AUTHORITY: OnceLock<Authority> = OnceLock::new();
    AUTHORITY.get_or_init(|| {
        let zone =
            appnet_dns::zone::parse_str(ZONE, Path::new("example.lab.zone"), None).expect("zone");
        Authority::new([Arc::new(zone)])
    })
}

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    for (transport, limit) in [(Transport::Udp, 1232), (Transport::Tcp, 65_535)] {
        if matches!(authority().answer(data, transport, &mut out), Response::Send) {
            assert!(
                out.len() >= 12 && out.len() <= limit,
                "{} bytes over {transport:?}",
                out.len()
            );
            assert_eq!(out[..2], data[..2], "ID copied");
            assert!(out[2] & 0x80 != 0, "QR set");
            let message = domain::base::Message::from_octets(&out[..]).expect("a message");
            for record in message.answer().expect("sections parse").flatten() {
                let _ = record.owner();
            }
        }
    }
});
