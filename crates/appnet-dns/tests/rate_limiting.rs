//! Response rate limiting on real sockets: a flood from one client network is cut down and
//! partly slipped (TC), while another network's queries are all answered.

mod support;

use std::net::UdpSocket;
use std::path::Path;
use std::time::{Duration, Instant};

use appnet_dns::server::{AuthorityOptions, Settings};
use domain::base::iana::Rtype;
use support::{Appnet, TEST_ZONE, query};

#[test]
fn a_flood_does_not_starve_other_clients() {
    let settings = Settings { rrl: Some((20, 2)), ..Settings::default() };
    let appnet = Appnet::start_full(Path::new(TEST_ZONE), AuthorityOptions::default(), settings);
    let server = appnet.addr;
    let question = query("www.example.lab.", Rtype::A, true);

    // The flood: one network, about 10,000 queries a second for a second — 500 times its
    // limit, yet paced below what the server drains, so what is measured is the rate limiter
    // and not the kernel dropping datagrams from a full socket queue (which would hit every
    // client alike, whatever the server does).
    let flooder = UdpSocket::bind("127.0.1.1:0").expect("bind 127.0.1.1");
    flooder.set_nonblocking(true).unwrap();
    let flood = std::thread::spawn({
        let question = question.clone();
        move || {
            let (mut sent, mut answers, mut truncated) = (0, 0, 0);
            let until = Instant::now() + Duration::from_secs(1);
            let mut buffer = [0; 1500];
            while Instant::now() < until {
                for _ in 0..10 {
                    if flooder.send_to(&question, server).is_ok() {
                        sent += 1;
                    }
                }
                std::thread::sleep(Duration::from_millis(1));
                while let Ok((length, _)) = flooder.recv_from(&mut buffer) {
                    answers += 1;
                    truncated += usize::from(length > 3 && buffer[2] & 0x02 != 0);
                }
            }
            (sent, answers, truncated)
        }
    });

    // Meanwhile another network asks 20 times, and must always get its answer. It retries
    // after 200 ms as a stub resolver does: the kernel may drop a datagram from the socket
    // queue the flood keeps full (no server-side policy can prevent that), but the rate
    // limiter must never be what refuses it.
    let client = UdpSocket::bind("127.0.2.1:0").expect("bind 127.0.2.1");
    client.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let mut answered = 0;
    for _ in 0..20 {
        for _attempt in 0..3 {
            client.send_to(&question, server).unwrap();
            let mut buffer = [0; 1500];
            if let Ok((length, from)) = client.recv_from(&mut buffer) {
                assert_eq!(from, server);
                assert!(length > 12 && buffer[2] & 0x02 == 0, "the other network is not slipped");
                answered += 1;
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let (sent, answers, truncated) = flood.join().unwrap();
    assert_eq!(answered, 20, "the other network is not starved");
    assert!(sent > 1000, "the flood was a flood: {sent}");
    assert!(answers < sent * 3 / 4, "most of the flood is dropped: {answers} of {sent}");
    assert!(truncated > 0 && truncated < answers, "some slips with TC: {truncated} of {answers}");
}
