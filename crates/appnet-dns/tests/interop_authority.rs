//! appnet's authoritative server against real DNS software: dig and kdig query it over UDP and
//! TCP, and its answers to the test zone equal Knot DNS's answers to the same queries.

mod support;

use std::path::Path;
use std::time::Duration;

use appnet_testkit::{Program, RunningProgram, free_port, run};
use domain::base::iana::Rtype;
use support::{Appnet, TEST_ZONE, normalize, query, tcp, udp};

/// Every answer case of the test zone: (name, type).
const CASES: &[(&str, Rtype)] = &[
    ("www.example.lab.", Rtype::A),
    ("WwW.ExAmPlE.lab.", Rtype::AAAA),
    ("www.example.lab.", Rtype::TXT),
    ("www.example.lab.", Rtype::MX),
    ("nope.example.lab.", Rtype::A),
    ("b.c.example.lab.", Rtype::A),
    ("chain.example.lab.", Rtype::A),
    ("outside.example.lab.", Rtype::A),
    ("alias.example.lab.", Rtype::CNAME),
    ("x.old.example.lab.", Rtype::A),
    ("old.example.lab.", Rtype::DNAME),
    ("anything.wild.example.lab.", Rtype::A),
    ("a.b.wild.example.lab.", Rtype::TXT),
    ("anything.wild.example.lab.", Rtype::MX),
    ("exists.wild.example.lab.", Rtype::TXT),
    ("x.exists.wild.example.lab.", Rtype::A),
    ("x.cnamewild.example.lab.", Rtype::A),
    ("host.child.example.lab.", Rtype::A),
    ("child.example.lab.", Rtype::NS),
    ("child.example.lab.", Rtype::DS),
    ("ns.child.example.lab.", Rtype::A),
    ("example.lab.", Rtype::SOA),
    ("example.lab.", Rtype::NS),
    ("example.lab.", Rtype::MX),
    ("_sip._tcp.example.lab.", Rtype::SRV),
    ("txt.example.lab.", Rtype::TXT),
    ("caa.example.lab.", Rtype::CAA),
    ("ptr.example.lab.", Rtype::PTR),
    ("unknown.example.lab.", Rtype::from_int(65280)),
    ("big.example.lab.", Rtype::TXT),
];

fn start_knot(port: u16) -> RunningProgram {
    let program = Program::new("knotd", "knot");
    let dir = program.dir().display().to_string();
    let config = format!(
        "server:\n  listen: 127.0.0.1@{port}\n  rundir: \"{dir}\"\n  udp-workers: 1\n  tcp-workers: 1\n  \
         background-workers: 1\ndatabase:\n  storage: \"{dir}\"\nlog:\n  - target: stderr\n    any: info\n\
         zone:\n  - domain: example.lab\n    file: \"{dir}/example.lab.zone\"\n    zonefile-sync: -1\n    \
         journal-content: none\n"
    );
    let zone = std::fs::read_to_string(TEST_ZONE).expect("test zone");
    let config_path = format!("{dir}/knot.conf");
    let mut knot = program
        .file("example.lab.zone", zone)
        .file("knot.conf", config)
        .args(["-c", &config_path])
        .start();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    knot.wait_ready(Duration::from_secs(20), || {
        let probe = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        probe.set_read_timeout(Some(Duration::from_millis(200))).expect("timeout");
        let _ = probe.send_to(&query("example.lab.", Rtype::SOA, false), addr);
        let mut buffer = [0; 512];
        probe.recv_from(&mut buffer).is_ok_and(|(n, _)| n > 12 && buffer[3] & 0x0F == 0)
    });
    knot
}

#[test]
fn answers_equal_knots_for_every_case() {
    let appnet = Appnet::start(Path::new(TEST_ZONE));
    let knot_port = free_port();
    let _knot = start_knot(knot_port);
    let knot = std::net::SocketAddr::from(([127, 0, 0, 1], knot_port));
    let mut differences = Vec::new();
    for &(name, qtype) in CASES {
        for edns in [true, false] {
            let question = query(name, qtype, edns);
            let ours = normalize(&udp(appnet.addr, &question));
            let theirs = normalize(&udp(knot, &question));
            if ours != theirs {
                differences.push(format!(
                    "{name} {qtype} edns={edns}\n--- appnet\n{ours}--- knot\n{theirs}"
                ));
            }
        }
    }
    assert!(
        differences.is_empty(),
        "{} differences:\n{}",
        differences.len(),
        differences.join("\n")
    );
    // The comparison means something only if Knot answered: check one answer's content.
    let www = normalize(&udp(knot, &query("www.example.lab.", Rtype::A, true)));
    assert!(www.contains("answer: www.example.lab. 300 in a 192.0.2.80"), "{www}");
}

#[test]
fn tcp_answers_pipelined_queries_in_order() {
    let appnet = Appnet::start(Path::new(TEST_ZONE));
    let queries: Vec<Vec<u8>> =
        CASES.iter().map(|&(name, qtype)| query(name, qtype, true)).collect();
    let answers = tcp(appnet.addr, &queries);
    for ((query, answer), (name, qtype)) in queries.iter().zip(&answers).zip(CASES) {
        assert_eq!(normalize(answer), normalize(&udp(appnet.addr, query)), "{name} {qtype}");
    }
    let big = tcp(appnet.addr, &[query("big.example.lab.", Rtype::TXT, false)]);
    assert!(normalize(&big[0]).contains("tc=false"), "no truncation over TCP");
}

fn dig_like(tool: &str, package: &str, appnet: &Appnet, args: &[&str]) -> String {
    let port = appnet.addr.port().to_string();
    let retries = if tool == "kdig" { "+retry=0" } else { "+tries=1" };
    let mut all = vec!["@127.0.0.1", "-p", &port, "+time=2", retries];
    all.extend_from_slice(args);
    let output = run(tool, package, &all, Duration::from_secs(15));
    output.assert_success();
    output.stdout
}

#[test]
fn dig_and_kdig_get_answers_over_udp_and_tcp() {
    let appnet = Appnet::start(Path::new(TEST_ZONE));
    for (tool, package) in [("dig", "bind9-dnsutils"), ("kdig", "knot-dnsutils")] {
        // UDP is both tools' default (kdig has no +notcp).
        for transport in [None, Some("+tcp")] {
            let ask = |args: &[&str]| {
                let all: Vec<&str> = transport.into_iter().chain(args.iter().copied()).collect();
                dig_like(tool, package, &appnet, &all)
            };
            let short = ask(&["+short", "chain.example.lab", "A"]);
            assert_eq!(
                short, "alias.example.lab.\nwww.example.lab.\n192.0.2.80\n",
                "{tool} {transport:?}"
            );
            let mx = ask(&["+short", "example.lab", "MX"]);
            assert_eq!(mx, "10 mail.example.lab.\n", "{tool} {transport:?}");
            let missing = ask(&["nope.example.lab", "A"]);
            assert!(missing.contains("NXDOMAIN"), "{tool} {transport:?}: {missing}");
        }
    }
    // dig retries a truncated UDP answer over TCP by itself.
    let big = dig_like("dig", "bind9-dnsutils", &appnet, &["+noedns", "big.example.lab", "TXT"]);
    assert!(big.contains("Truncated, retrying in TCP mode"), "{big}");
    assert!(big.contains("ANSWER: 6"), "{big}");
}
