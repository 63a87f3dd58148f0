//! The first real-peer test: NSD serves a tiny zone on a free loopback port and `dig` queries
//! it. It proves the testkit end to end (free port, config in a temp dir, start, wait until it
//! answers, kill by PID) and that CI installs and runs real DNS peers. The DNS issues reuse this
//! pattern with NSD and Knot as the reference authorities our resolver walks.

use std::time::Duration;

use appnet_testkit::{Program, RunningProgram, free_port, run};

const ZONE: &str = "\
$ORIGIN example.lab.
$TTL 300
@       IN SOA ns1 hostmaster 2026112501 3600 900 604800 300
        IN NS  ns1
ns1     IN A   127.0.0.1
www     IN A   192.0.2.80
        IN AAAA 2001:db8::80
mail    IN MX  10 mx1
mx1     IN A   192.0.2.25
";

fn start_nsd(port: u16) -> RunningProgram {
    let program = Program::new("nsd", "nsd").file("example.lab.zone", ZONE);
    let dir = program.dir().display().to_string();
    // Run unprivileged-style in the foreground: no chroot, no user switch, no database, and
    // response-rate limiting off (the Debian build limits 127.0.0.1 otherwise).
    let config = format!(
        "server:\n  ip-address: 127.0.0.1@{port}\n  port: {port}\n  username: \"\"\n  chroot: \"\"\n  \
         zonesdir: \"{dir}\"\n  pidfile: \"{dir}/nsd.pid\"\n  xfrdfile: \"{dir}/xfrd.state\"\n  \
         zonelistfile: \"{dir}/zone.list\"\n  database: \"\"\n  server-count: 1\n  \
         rrl-ratelimit: 0\n  verbosity: 2\nremote-control:\n  control-enable: no\n\
         zone:\n  name: \"example.lab\"\n  zonefile: \"example.lab.zone\"\n"
    );
    let config_path = format!("{dir}/nsd.conf");
    let mut nsd = program.file("nsd.conf", config).args(["-d", "-c", &config_path]).start();
    nsd.wait_ready(Duration::from_secs(20), || {
        dig(port, &["+short", "ns1.example.lab", "A"]).stdout.trim() == "127.0.0.1"
    });
    nsd
}

fn dig(port: u16, args: &[&str]) -> appnet_testkit::CommandOutput {
    let port = port.to_string();
    let mut all = vec!["@127.0.0.1", "-p", &port, "+time=1", "+tries=1", "+norec"];
    all.extend_from_slice(args);
    run("dig", "bind9-dnsutils", &all, Duration::from_secs(10))
}

#[test]
fn dig_queries_nsd_on_a_free_loopback_port() {
    let port = free_port();
    let nsd = start_nsd(port);

    let answer = dig(port, &["www.example.lab", "A"]);
    answer.assert_success();
    assert!(answer.stdout.contains("status: NOERROR"), "{}", answer.stdout);
    assert!(answer.stdout.contains(" aa"), "authoritative: {}", answer.stdout);
    assert!(
        answer.stdout.contains("www.example.lab.\t300\tIN\tA\t192.0.2.80"),
        "{}",
        answer.stdout
    );

    let aaaa = dig(port, &["+short", "+tcp", "www.example.lab", "AAAA"]);
    assert_eq!(aaaa.assert_success().stdout, "2001:db8::80\n", "over TCP");

    let mx = dig(port, &["+short", "mail.example.lab", "MX"]);
    assert_eq!(mx.stdout, "10 mx1.example.lab.\n");

    let missing = dig(port, &["nope.example.lab", "A"]);
    assert!(missing.stdout.contains("status: NXDOMAIN"), "{}", missing.stdout);
    assert!(missing.stdout.contains("hostmaster.example.lab."), "SOA for negative caching");

    let pid = nsd.pid();
    drop(nsd);
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists(), "nsd {pid} still running");
    let after = dig(port, &["www.example.lab", "A"]);
    assert_ne!(after.status, Some(0), "nothing answers once nsd is stopped");
}
