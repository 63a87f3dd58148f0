//! `appnet proxy --cache-dir`: what was stored survives a restart and a `kill -9`, an
//! invalidation survives too, and nothing damaged is ever served — an entry with a flipped
//! byte or cut short, or a write a crash interrupted, is dropped and fetched again.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use appnet_testkit::{RunningProgram, free_tcp_port, run, wait_for_tcp};
use support::{APPNET, counting_origin as origin, curl, start};

/// A reverse proxy on `ports` (its own, its admin endpoint's) over `cache`; (program, base
/// URL, admin address). A restart takes the same ports: the stored URLs name the host asked.
fn proxy(origin_port: u16, cache: &Path, ports: (u16, u16)) -> (RunningProgram, String, String) {
    let (port, admin_port) = ports;
    let (listen, admin) = (format!("127.0.0.1:{port}"), format!("127.0.0.1:{admin_port}"));
    let origin = format!("http://127.0.0.1:{origin_port}");
    let args = [
        "proxy",
        "--listen",
        &listen,
        "--origin",
        &origin,
        "--cache-dir",
        cache.to_str().unwrap(),
        "--cache-disk",
        "64MiB",
        "--cache-mem",
        "1MiB",
        "--admin",
        &admin,
    ];
    let program = start(&args, port);
    assert!(wait_for_tcp(admin.parse().unwrap(), Duration::from_secs(5)));
    (program, format!("http://{listen}"), admin)
}

fn disk_stats(admin: &str) -> serde_json::Value {
    let stats: serde_json::Value =
        serde_json::from_str(&curl(&[&format!("http://{admin}/stats")]).stdout).unwrap();
    stats["disk"].clone()
}

/// The entry files under `cache` (not the lock, not temp files).
fn entries(cache: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for sub in std::fs::read_dir(cache).unwrap().flatten().filter(|e| e.path().is_dir()) {
        for file in std::fs::read_dir(sub.path()).unwrap().flatten() {
            if !file.file_name().to_string_lossy().starts_with("tmp.") {
                found.push(file.path());
            }
        }
    }
    found.sort();
    found
}

#[test]
fn the_disk_cache_survives_kill_9_and_never_serves_a_damaged_entry() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let (_origin, origin_port) = origin(dir.path());
    let ports = (free_tcp_port(), free_tcp_port());
    let (first, base, admin) = proxy(origin_port, &cache, ports);
    let url = |n: usize| format!("{base}/cgi/page.py?n={n}&cc=max-age%3D600&pad=2000");
    for n in 0..6 {
        assert!(curl(&[&url(n)]).stdout.starts_with("call 1 "));
    }
    // An unsafe method invalidates n=5, on disk too.
    curl(&["-X", "POST", "-d", "x", &url(5)]);
    let written =
        appnet_testkit::wait_until(Duration::from_secs(10), || disk_stats(&admin)["entries"] == 5);
    assert!(written, "five entries on disk: {}", disk_stats(&admin));

    // kill -9: no shutdown, nothing flushed at exit.
    first.signal(9);
    drop(first);
    let (second, base, admin) = proxy(origin_port, &cache, ports);
    let url = |n: usize| format!("{base}/cgi/page.py?n={n}&cc=max-age%3D600&pad=2000");
    for n in 0..5 {
        let got = curl(&["-D", "-", &url(n)]).stdout;
        assert!(got.contains("\r\n\r\ncall 1 "), "n={n} from the disk, not the origin: {got}");
        assert!(got.to_ascii_lowercase().contains("cache-status: appnet; hit"), "{got}");
    }
    // (The POST itself ran the script once more.)
    let fresh = curl(&[&url(5)]).stdout;
    assert!(fresh.starts_with("call 3 "), "n=5 stayed invalidated: {}", &fresh[..10]);
    let mut before: Vec<String> = (0..5).map(|_| "call 1 ".to_owned()).collect();
    before.push("call 3 ".to_owned());
    // Wait until n=5's new copy is on disk too.
    assert!(appnet_testkit::wait_until(Duration::from_secs(10), || {
        disk_stats(&admin)["entries"] == 6
    }));
    second.signal(9);
    drop(second);

    // Damage: a flipped byte in one entry's body, another cut short, a write interrupted.
    let files = entries(&cache);
    assert_eq!(files.len(), 6, "{files:?}");
    let mut flipped = std::fs::read(&files[0]).unwrap();
    let middle = flipped.len() - 100;
    flipped[middle] ^= 0x20;
    std::fs::write(&files[0], &flipped).unwrap();
    let cut = std::fs::read(&files[1]).unwrap();
    std::fs::write(&files[1], &cut[..cut.len() / 2]).unwrap();
    let torn = files[2].parent().unwrap().join("tmp.0123456789abcdef0123456789abcdef.1.0");
    std::fs::write(&torn, &cut[..100]).unwrap();

    let (third, base, admin) = proxy(origin_port, &cache, ports);
    let url = |n: usize| format!("{base}/cgi/page.py?n={n}&cc=max-age%3D600&pad=2000");
    let mut again = 0;
    for (n, was) in before.iter().enumerate() {
        let body = curl(&[&url(n)]).stdout;
        assert!(body.starts_with("call "), "never a damaged body: {body:?}");
        assert!(body.ends_with(&"x".repeat(2000)), "whole: {} bytes", body.len());
        again += usize::from(!body.starts_with(was.as_str()));
    }
    assert_eq!(again, 2, "the two damaged entries were fetched again");
    let stats = disk_stats(&admin);
    assert_eq!(stats["corrupt_dropped"], 2, "{stats}");
    assert!(!torn.exists(), "the interrupted write was cleaned up");

    // One directory, one proxy.
    let port = free_tcp_port();
    let listen = format!("127.0.0.1:{port}");
    let origin = format!("http://127.0.0.1:{origin_port}");
    let busy = run(
        APPNET,
        "appnet",
        &[
            "proxy",
            "--listen",
            &listen,
            "--origin",
            &origin,
            "--cache-dir",
            cache.to_str().unwrap(),
        ],
        Duration::from_secs(20),
    );
    assert_ne!(busy.status, Some(0));
    assert!(busy.stderr.contains("cache directory"), "{}", busy.stderr);
    drop(third);
}
