//! appnet as a secondary of Knot DNS: it transfers the zone, serves it, follows Knot's NOTIFY
//! after a change, keeps the copy on disk, and serves that copy after a restart with the
//! primary gone.

use std::time::Duration;

use appnet_testkit::{Program, RunningProgram, free_port, run, wait_until};

const ZONE: &str = include_str!("../../appnet-dns/testdata/example.lab.zone");

fn dig(port: u16, args: &[&str]) -> String {
    let port = port.to_string();
    let mut all = vec!["@127.0.0.1", "-p", &port, "+time=1", "+tries=1"];
    all.extend_from_slice(args);
    run("dig", "bind9-dnsutils", &all, Duration::from_secs(10)).stdout
}

fn start_knot_primary(port: u16, secondary_port: u16) -> (RunningProgram, String) {
    let program = Program::new("knotd", "knot").file("example.lab.zone", ZONE);
    let dir = program.dir().display().to_string();
    let config = format!(
        "server:\n  listen: 127.0.0.1@{port}\n  rundir: \"{dir}\"\n  udp-workers: 1\n  tcp-workers: 1\n  \
         background-workers: 1\ncontrol:\n  listen: \"{dir}/knot.sock\"\n\
         database:\n  storage: \"{dir}\"\nlog:\n  - target: stderr\n    any: info\n\
         remote:\n  - id: appnet\n    address: 127.0.0.1@{secondary_port}\n\
         acl:\n  - id: transfer\n    address: 127.0.0.1\n    action: transfer\n\
         zone:\n  - domain: example.lab\n    file: \"{dir}/example.lab.zone\"\n    notify: appnet\n    \
         acl: transfer\n    zonefile-sync: -1\n"
    );
    let config_path = format!("{dir}/knot.conf");
    let mut knot = program.file("knot.conf", config).args(["-c", &config_path]).start();
    knot.wait_ready(Duration::from_secs(20), || {
        dig(port, &["+short", "www.example.lab", "A"]) == "192.0.2.80\n"
    });
    (knot, dir)
}

fn start_appnet(port: u16, primary_port: u16, state_dir: &std::path::Path) -> RunningProgram {
    let listen = format!("127.0.0.1:{port}");
    let secondary = format!("example.lab.=127.0.0.1:{primary_port}");
    Program::new(env!("CARGO_BIN_EXE_appnet"), "appnet")
        .args([
            "dns",
            "authority",
            "--listen",
            &listen,
            "--secondary",
            &secondary,
            "--workers",
            "1",
        ])
        .args([std::ffi::OsStr::new("--state-dir"), state_dir.as_os_str()])
        .start()
}

#[test]
fn secondary_of_knot_transfers_follows_notify_and_survives_restart() {
    let (knot_port, appnet_port) = (free_port(), free_port());
    let (knot, knot_dir) = start_knot_primary(knot_port, appnet_port);
    let state = tempfile::tempdir().unwrap();
    let mut appnet = start_appnet(appnet_port, knot_port, state.path());
    appnet.wait_ready(Duration::from_secs(20), || {
        dig(appnet_port, &["+short", "www.example.lab", "A"]) == "192.0.2.80\n"
    });
    let answer = dig(appnet_port, &["+norec", "chain.example.lab", "A"]);
    assert!(answer.contains("flags: qr aa;") && answer.contains("ANSWER: 3"), "{answer}");
    assert!(state.path().join("example.lab.zone").exists(), "the copy is saved");

    let changed = ZONE.replace("2026112501", "2026112502") + "added IN A 192.0.2.123\n";
    std::fs::write(format!("{knot_dir}/example.lab.zone"), changed).unwrap();
    let socket = format!("{knot_dir}/knot.sock");
    run("knotc", "knot", &["-s", &socket, "zone-reload", "example.lab"], Duration::from_secs(10))
        .assert_success();
    let followed = wait_until(Duration::from_secs(20), || {
        dig(appnet_port, &["+short", "added.example.lab", "A"]) == "192.0.2.123\n"
    });
    assert!(followed, "appnet did not follow the change; its log:\n{}", appnet.log());
    assert!(appnet.log().contains("NOTIFY received"), "{}", appnet.log());

    drop(knot);
    assert!(appnet.stop(Duration::from_secs(10)).is_some_and(|s| s.success()));
    let appnet = start_appnet(appnet_port, knot_port, state.path());
    let served = wait_until(Duration::from_secs(10), || {
        dig(appnet_port, &["+short", "added.example.lab", "A"]) == "192.0.2.123\n"
    });
    assert!(served, "the saved copy serves with the primary gone; log:\n{}", appnet.log());
}
