//! Zone transfer with real software: dig and kdig pull the zone by AXFR, and Knot DNS as a
//! secondary transfers it from us and picks up a change when we NOTIFY it.

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use appnet_dns::server::{AuthorityOptions, spawn_notifies};
use appnet_testkit::{Program, RunningProgram, free_port, run, wait_until};
use support::{Appnet, TEST_ZONE};

fn options() -> AuthorityOptions {
    AuthorityOptions {
        transfer_acl: vec!["127.0.0.0/8".parse().unwrap()],
        ..AuthorityOptions::default()
    }
}

fn dig(port: u16, args: &[&str]) -> String {
    let port = port.to_string();
    let mut all = vec!["@127.0.0.1", "-p", &port, "+time=2", "+tries=1"];
    all.extend_from_slice(args);
    run("dig", "bind9-dnsutils", &all, Duration::from_secs(15)).stdout
}

#[test]
fn dig_and_kdig_transfer_the_whole_zone() {
    let appnet = Appnet::start_with(Path::new(TEST_ZONE), options());
    let expected = appnet.zones.loaded()[0].record_count() + 1;
    let axfr = dig(appnet.addr.port(), &["+noall", "+answer", "example.lab", "AXFR"]);
    assert_eq!(axfr.lines().count(), expected, "{axfr}");
    assert!(
        axfr.lines().next().is_some_and(|l| l.contains("SOA"))
            && axfr.lines().last().is_some_and(|l| l.contains("SOA"))
    );
    let port = appnet.addr.port().to_string();
    let kdig = run(
        "kdig",
        "knot-dnsutils",
        &["@127.0.0.1", "-p", &port, "+noall", "+answer", "example.lab", "AXFR"],
        Duration::from_secs(15),
    );
    assert_eq!(
        kdig.assert_success().stdout.lines().filter(|l| !l.is_empty()).count(),
        expected,
        "{}",
        kdig.stdout
    );

    let refused = Appnet::start(Path::new(TEST_ZONE));
    let denied = dig(refused.addr.port(), &["example.lab", "AXFR"]);
    assert!(denied.contains("Transfer failed"), "no ACL, no transfer: {denied}");
}

fn start_knot_secondary(port: u16, primary: SocketAddr) -> RunningProgram {
    let program = Program::new("knotd", "knot");
    let dir = program.dir().display().to_string();
    let config = format!(
        "server:\n  listen: 127.0.0.1@{port}\n  rundir: \"{dir}\"\n  udp-workers: 1\n  tcp-workers: 1\n  \
         background-workers: 1\ndatabase:\n  storage: \"{dir}\"\nlog:\n  - target: stderr\n    any: info\n\
         remote:\n  - id: primary\n    address: {}@{}\n\
         acl:\n  - id: notify_from_primary\n    address: 127.0.0.1\n    action: notify\n\
         zone:\n  - domain: example.lab\n    master: primary\n    acl: notify_from_primary\n    \
         file: \"{dir}/example.lab.zone\"\n    zonefile-sync: -1\n",
        primary.ip(),
        primary.port()
    );
    let config_path = format!("{dir}/knot.conf");
    program.file("knot.conf", config).args(["-c", &config_path]).start()
}

fn replace(path: &Path, contents: &str) {
    let aside = path.with_extension("new");
    std::fs::write(&aside, contents).expect("write");
    std::fs::rename(&aside, path).expect("rename");
}

#[test]
fn knot_as_secondary_transfers_from_us_and_follows_notify() {
    let dir = tempfile::tempdir().unwrap();
    let zone_path = dir.path().join("example.lab.zone");
    let original = std::fs::read_to_string(TEST_ZONE).unwrap();
    std::fs::write(&zone_path, &original).unwrap();
    let appnet = Appnet::start_with(&zone_path, options());

    let knot_port = free_port();
    let mut knot = start_knot_secondary(knot_port, appnet.addr);
    knot.wait_ready(Duration::from_secs(30), || {
        dig(knot_port, &["+short", "www.example.lab", "A"]) == "192.0.2.80\n"
    });
    let at_knot = dig(knot_port, &["+noall", "+answer", "example.lab", "SOA"]);
    assert!(at_knot.contains("2026112501"), "{at_knot}");

    let changed = original.replace("2026112501", "2026112502") + "added IN A 192.0.2.123\n";
    replace(&zone_path, &changed);
    let report = appnet.zones.reload();
    assert_eq!(report.changed.len(), 1, "the serial changed");
    let knot_addr = SocketAddr::from(([127, 0, 0, 1], knot_port));
    {
        let _runtime = appnet.runtime.enter();
        spawn_notifies(report.changed[0].clone(), &[knot_addr]);
    }
    let followed = wait_until(Duration::from_secs(20), || {
        dig(knot_port, &["+short", "added.example.lab", "A"]) == "192.0.2.123\n"
    });
    assert!(followed, "Knot did not pick up the change; its log:\n{}", knot.log());
    assert!(knot.log().contains("notify"), "the refresh came from our NOTIFY:\n{}", knot.log());
}
