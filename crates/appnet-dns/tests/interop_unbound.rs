//! Unbound, a real recursive resolver, resolves names in our zone through a stub-zone that
//! points at appnet's authority.

mod support;

use std::path::Path;
use std::time::Duration;

use appnet_testkit::{Program, free_port, run};
use support::{Appnet, TEST_ZONE};

fn dig(port: u16, args: &[&str]) -> String {
    let port = port.to_string();
    let mut all = vec!["@127.0.0.1", "-p", &port, "+time=3", "+tries=1"];
    all.extend_from_slice(args);
    run("dig", "bind9-dnsutils", &all, Duration::from_secs(15)).stdout
}

#[test]
fn unbound_resolves_through_a_stub_zone_to_appnet() {
    let appnet = Appnet::start(Path::new(TEST_ZONE));
    let port = free_port();
    let program = Program::new("unbound", "unbound");
    let dir = program.dir().display().to_string();
    // The validator is left out (no trust anchor for a private zone), and localhost queries
    // are allowed: by default Unbound never asks 127.0.0.1.
    let config = format!(
        "server:\n  interface: 127.0.0.1\n  port: {port}\n  do-daemonize: no\n  username: \"\"\n  \
         chroot: \"\"\n  directory: \"{dir}\"\n  pidfile: \"{dir}/unbound.pid\"\n  use-syslog: no\n  \
         logfile: \"\"\n  verbosity: 1\n  num-threads: 1\n  do-not-query-localhost: no\n  \
         module-config: \"iterator\"\n  access-control: 127.0.0.0/8 allow\n  \
         local-zone: \"lab.\" nodefault\nremote-control:\n  control-enable: no\n\
         stub-zone:\n  name: \"example.lab\"\n  stub-addr: 127.0.0.1@{}\n",
        appnet.addr.port()
    );
    let config_path = format!("{dir}/unbound.conf");
    let mut unbound = program.file("unbound.conf", config).args(["-d", "-c", &config_path]).start();
    unbound.wait_ready(Duration::from_secs(20), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });

    assert_eq!(dig(port, &["+short", "www.example.lab", "A"]), "192.0.2.80\n");
    assert_eq!(
        dig(port, &["+short", "chain.example.lab", "A"]),
        "alias.example.lab.\nwww.example.lab.\n192.0.2.80\n",
        "Unbound follows the CNAME chain we answered"
    );
    assert_eq!(
        dig(port, &["+short", "x.old.example.lab", "A"]).lines().last(),
        Some("192.0.2.77"),
        "DNAME"
    );
    assert_eq!(dig(port, &["+short", "host.wild.example.lab", "TXT"]), "\"wildcard\"\n");
    let missing = dig(port, &["nope.example.lab", "A"]);
    assert!(missing.contains("status: NXDOMAIN"), "{missing}");
    let cached = dig(port, &["www.example.lab", "A"]);
    assert!(cached.contains("flags: qr rd ra;"), "a recursive answer, not authoritative: {cached}");
}
