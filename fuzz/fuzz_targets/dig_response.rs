//! `appnet dig`'s output for whatever a server sends back: any bytes give dig's text or a
//! "not a valid DNS message" error — never a panic — in every display mode.
#![no_main]

use std::net::SocketAddr;
use std::time::{Duration, UNIX_EPOCH};

use appnet_dns::dig::DigOptions;
use appnet_dns::dig::present::{Received, render};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let received = Received {
        response: data,
        server: SocketAddr::from(([127, 0, 0, 1], 53)),
        server_name: "127.0.0.1",
        tcp: false,
        elapsed: Duration::from_millis(1),
        when: UNIX_EPOCH,
    };
    for args in [&["x.lab."][..], &["x.lab.", "+short"], &["x.lab.", "+nocomments", "+dnssec"]] {
        let options = DigOptions::parse(args).expect("valid options");
        let _ = render(&options, &received);
    }
});
