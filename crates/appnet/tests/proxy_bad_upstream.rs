//! Broken responses from an origin — a body cut off before its Content-Length or mid-chunk,
//! a Content-Length that is not a number or two that disagree, a header line without a
//! colon — are never passed on as good (a 502, or for a body already streaming, a transfer
//! the client sees cut short) and never stored (the next request asks the origin again),
//! while a good response from the same origin is. Bodies above a megabyte stream through:
//! 3 MiB stored, 70 MiB (past the 64 MiB the store takes) passed on whole and not stored.

mod support;

use std::path::PathBuf;
use std::time::Duration;

use appnet_testkit::{Program, free_tcp_port, wait_for_tcp};
use support::{curl, header, start};

#[test]
fn broken_upstream_responses_are_neither_passed_on_nor_stored() {
    let origin_port = free_tcp_port();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/bad_origin.py");
    let mut origin = Program::new("python3", "python3")
        .args([script.display().to_string(), origin_port.to_string()])
        .start();
    let origin_addr = format!("127.0.0.1:{origin_port}");
    origin.wait_ready(Duration::from_secs(20), || {
        wait_for_tcp(origin_addr.parse().unwrap(), Duration::from_millis(100))
    });
    let port = free_tcp_port();
    let listen = format!("127.0.0.1:{port}");
    let origin_url = format!("http://{origin_addr}");
    let _proxy = start(&["proxy", "--listen", &listen, "--origin", &origin_url], port);
    let asked = |path: &str| {
        let line = format!("GET {path}");
        origin.log().lines().filter(|l| *l == line).count()
    };
    for _ in 0..2 {
        let good = curl(&["-D", "-", &format!("http://{listen}/good")]).stdout;
        assert!(good.starts_with("HTTP/1.1 200") && good.ends_with("\r\n\r\ngood"), "{good}");
    }
    assert_eq!(asked("/good"), 1, "stored, then a hit\n{}", origin.log());
    for path in ["/short", "/bad-length", "/two-lengths", "/no-colon"] {
        for round in 0..2 {
            let got = curl(&["-D", "-", &format!("http://{listen}{path}")]).stdout;
            assert!(got.starts_with("HTTP/1.1 502"), "{path} round {round}: {got}");
            assert!(header(&got, "cache-status").is_none_or(|s| !s.contains("hit")), "{got}");
        }
        assert_eq!(asked(path), 2, "{path} never stored\n{}", origin.log());
    }
    // A chunked body streams: its end cut off is the client's transfer cut off (curl: 18).
    for _ in 0..2 {
        let cut = curl(&[&format!("http://{listen}/chunks-cut")]);
        assert_eq!(cut.status, Some(18), "{cut:?}");
    }
    assert_eq!(asked("/chunks-cut"), 2, "never stored\n{}", origin.log());
    // A client that goes away 100 KB into /big: the proxy reads the rest and stores it.
    let abandon = format!(
        "import socket; s = socket.create_connection(('127.0.0.1', {port})); \
         s.sendall(b'GET /big HTTP/1.1\\r\\nHost: {listen}\\r\\n\\r\\n'); \
         n = 0\nwhile n < 100000: n += len(s.recv(65536))\ns.close()"
    );
    appnet_testkit::run("python3", "python3", &["-c", &abandon], Duration::from_secs(20))
        .assert_success();
    let expected = |size: usize| -> Vec<u8> { (0..size).map(|i| (i % 256) as u8).collect() };
    for (path, size, fetches) in [("/big", 3usize << 20, 1), ("/huge", 70 << 20, 2)] {
        if path == "/big" {
            // The abandoned fetch finishes in the background.
            let stored = appnet_testkit::wait_until(Duration::from_secs(10), || {
                header(
                    &curl(&["-D", "-", "-o", "/dev/null", &format!("http://{listen}/big")]).stdout,
                    "cache-status",
                )
                .is_some_and(|s| s.contains("hit"))
            });
            assert!(stored, "{}", origin.log());
        }
        for _ in 0..2 {
            let file = tempfile::NamedTempFile::new().unwrap();
            let url = format!("http://{listen}{path}");
            curl(&["-o", file.path().to_str().unwrap(), &url]).assert_success();
            let got = std::fs::read(file.path()).unwrap();
            assert!(got.len() == size && got == expected(size), "{path}: {} bytes", got.len());
        }
        assert_eq!(asked(path), fetches, "{path}\n{}", origin.log());
    }
    // HEAD and a range of what is too big to store: the head, and the whole 200 (a range is
    // not cut from a body still coming), never a 502.
    let head = curl(&["-I", &format!("http://{listen}/huge")]).stdout;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(header(&head, "content-length"), Some((70u64 << 20).to_string().as_str()), "{head}");
    let ranged =
        curl(&["-D", "-", "-o", "/dev/null", "-r", "0-9", &format!("http://{listen}/huge")]);
    assert!(ranged.stdout.starts_with("HTTP/1.1 200"), "{}", ranged.stdout);
}
