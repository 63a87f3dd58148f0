//! A reverse proxy with several origins: `--config` routes by host name, origins taking
//! turns, an origin that dies left out (its requests retried on another at once, then the
//! health checker keeping it out) and put back when it answers again.

mod support;

use std::path::Path;
use std::time::Duration;

use appnet_testkit::{RunningProgram, free_tcp_port, run};
use support::{APPNET, curl, start};

/// An origin whose /who.txt says `name` and is never stored.
fn origin(dir: &Path, name: &str, port: u16) -> RunningProgram {
    let root = dir.join(name);
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("who.txt"), name).unwrap();
    std::fs::write(root.join("index.html"), "up").unwrap();
    let config = dir.join(format!("{name}.toml"));
    std::fs::write(
        &config,
        format!(
            "[http.server]\nroot = \"{}\"\nlisten = [\"127.0.0.1:{port}\"]\naccess_log = false\n\
             [[http.server.rule]]\nmatch = \"/\"\ncache_control = \"no-store\"\n",
            root.display()
        ),
    )
    .unwrap();
    start(&["http", "serve", "--config", config.to_str().unwrap()], port)
}

#[test]
fn routes_by_host_and_origins_left_out_while_they_are_down() {
    let dir = tempfile::tempdir().unwrap();
    let (a_port, b_port, c_port) = (free_tcp_port(), free_tcp_port(), free_tcp_port());
    let a = origin(dir.path(), "a", a_port);
    let _b = origin(dir.path(), "b", b_port);
    let _c = origin(dir.path(), "c", c_port);
    let proxy_port = free_tcp_port();
    let config = dir.path().join("proxy.toml");
    std::fs::write(
        &config,
        format!(
            "[proxy]\nlisten = [\"127.0.0.1:{proxy_port}\"]\ncache_mem = \"16MiB\"\n\
             [proxy.health]\npath = \"/index.html\"\ninterval_ms = 100\ntimeout_ms = 500\n\
             [[proxy.route]]\nhost = \"*.c.lab\"\norigins = [\"http://127.0.0.1:{c_port}\"]\n\
             [[proxy.route]]\norigins = [\"http://127.0.0.1:{a_port}\", \"http://127.0.0.1:{b_port}\"]\n"
        ),
    )
    .unwrap();
    let proxy = start(&["proxy", "--config", config.to_str().unwrap()], proxy_port);
    let url = format!("http://127.0.0.1:{proxy_port}/who.txt");
    let ask = |host: &str| curl(&["-H", &format!("Host: {host}"), &url]).stdout;
    assert_eq!(ask("www.c.lab"), "c", "the route for *.c.lab");
    // The default route's two origins take turns.
    let mut seen: Vec<String> = (0..4).map(|_| ask("www.example.lab")).collect();
    seen.sort();
    assert_eq!(seen, ["a", "a", "b", "b"], "{}", proxy.log());

    // a dies: every request still answered (retried on b), and a is soon left out.
    drop(a);
    for _ in 0..6 {
        assert_eq!(ask("www.example.lab"), "b", "{}", proxy.log());
    }
    assert!(
        appnet_testkit::wait_until(Duration::from_secs(5), || proxy.log().contains("out of use")),
        "{}",
        proxy.log()
    );
    // a comes back on its port: after two good checks it takes turns again.
    let _a = origin(dir.path(), "a", a_port);
    let back =
        appnet_testkit::wait_until(Duration::from_secs(10), || ask("www.example.lab") == "a");
    assert!(back, "{}", proxy.log());
    assert!(proxy.log().contains("back in use"), "{}", proxy.log());
}

#[test]
fn a_route_without_origins_or_a_bad_file_is_refused_with_the_place() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("proxy.toml");
    std::fs::write(&config, "[proxy]\nlisten = [\"127.0.0.1:1\"]\n[[proxy.route]]\nhots = \"x\"\n")
        .unwrap();
    let out = run(
        APPNET,
        "appnet",
        &["proxy", "--config", config.to_str().unwrap()],
        Duration::from_secs(10),
    );
    assert_ne!(out.status, Some(0));
    assert!(out.stderr.contains("proxy.toml:4:1") && out.stderr.contains("hots"), "{}", out.stderr);
    std::fs::write(&config, "[proxy]\nlisten = [\"127.0.0.1:1\"]\n[[proxy.route]]\norigins = []\n")
        .unwrap();
    let out = run(
        APPNET,
        "appnet",
        &["proxy", "--config", config.to_str().unwrap()],
        Duration::from_secs(10),
    );
    assert!(out.stderr.contains("a route needs at least one origin"), "{}", out.stderr);
}
