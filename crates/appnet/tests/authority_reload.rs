//! `appnet dns authority` as an operator runs it: SIGHUP reloads zones atomically, a bad zone
//! file keeps the old zone serving and logs `file:line`, SIGTERM stops it cleanly.

use std::time::Duration;

use appnet_testkit::{Program, free_port, run, signal, wait_until};

fn zone(serial: u32, address: &str) -> String {
    format!(
        "$ORIGIN reload.lab.\n$TTL 60\n@ SOA ns1 hostmaster {serial} 3600 900 604800 60\n  NS ns1\n\
         ns1 A 127.0.0.1\nwww A {address}\n"
    )
}

fn www(port: u16) -> String {
    let port = port.to_string();
    let args = ["@127.0.0.1", "-p", &port, "+time=1", "+tries=1", "+short", "www.reload.lab", "A"];
    run("dig", "bind9-dnsutils", &args, Duration::from_secs(10)).stdout
}

/// Replaces a file the way editors and deploy tools should: write aside, then rename.
fn replace(path: &std::path::Path, contents: &str) {
    let aside = path.with_extension("new");
    std::fs::write(&aside, contents).expect("write zone");
    std::fs::rename(&aside, path).expect("rename zone");
}

#[test]
fn sighup_reloads_and_a_bad_zone_keeps_the_old_one() {
    let port = free_port();
    let program = Program::new(env!("CARGO_BIN_EXE_appnet"), "appnet")
        .file("reload.zone", zone(1, "192.0.2.1"));
    let zone_path = program.dir().join("reload.zone");
    let listen = format!("127.0.0.1:{port}");
    let mut server = program
        .args(["dns", "authority", "--listen", &listen, "--zone"])
        .args([&zone_path])
        .args(["--workers", "2"])
        .start();
    server.wait_ready(Duration::from_secs(20), || www(port) == "192.0.2.1\n");

    replace(&zone_path, &zone(2, "192.0.2.2"));
    server.signal(signal::SIGHUP);
    assert!(wait_until(Duration::from_secs(10), || www(port) == "192.0.2.2\n"), "reloaded");

    replace(&zone_path, &zone(3, "192.0.2.3").replace("www A 192.0.2.3", "www A 192.0.2.999"));
    server.signal(signal::SIGHUP);
    let logged = wait_until(Duration::from_secs(10), || server.log().contains("reload.zone:6"));
    assert!(logged, "the bad line is reported as file:line; log:\n{}", server.log());
    assert_eq!(www(port), "192.0.2.2\n", "the old zone keeps serving");

    let status = server.stop(Duration::from_secs(10)).expect("exits on SIGTERM");
    assert!(status.success(), "clean exit: {status}");
}

#[test]
fn the_example_config_starts_a_server() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/appnet.toml");
    let text = std::fs::read_to_string(example).expect("examples/appnet.toml");
    let port = free_port();
    // The example's own addresses may be taken on this machine: use a free port, same file.
    let text = text.replace(
        "listen = [\"127.0.0.1:5300\", \"[::1]:5300\"]",
        &format!("listen = [\"127.0.0.1:{port}\"]"),
    );
    let zone = concat!(env!("CARGO_MANIFEST_DIR"), "/../appnet-dns/testdata/example.lab.zone");
    let text = text.replace("../crates/appnet-dns/testdata/example.lab.zone", zone);
    let program = Program::new(env!("CARGO_BIN_EXE_appnet"), "appnet").file("appnet.toml", text);
    let config = program.dir().join("appnet.toml");
    let mut server = program.args(["dns", "authority", "--config"]).args([&config]).start();
    server.wait_ready(Duration::from_secs(20), || {
        let port = port.to_string();
        let args =
            ["@127.0.0.1", "-p", &port, "+time=1", "+tries=1", "+short", "www.example.lab", "A"];
        run("dig", "bind9-dnsutils", &args, Duration::from_secs(10)).stdout == "192.0.2.80\n"
    });
}

#[test]
fn config_errors_name_file_line_and_column() {
    let program = Program::new(env!("CARGO_BIN_EXE_appnet"), "appnet")
        .file("bad.toml", "[dns.authority]\nlisten = [\"127.0.0.1:5300\"]\nlisen = 1\n");
    let config = program.dir().join("bad.toml");
    let mut server = program.args(["dns", "authority", "--config"]).args([&config]).start();
    assert!(wait_until(Duration::from_secs(10), || !server.is_running()));
    assert!(server.log().contains("bad.toml:3:1: unknown field `lisen`"), "{}", server.log());
}
