//! What the shared cache does to spare its origin, seen with curl against `appnet proxy` in
//! front of our origin running a CGI script that counts its calls: many clients missing one
//! URL at once cause one fetch (request collapsing); a stale copy within
//! stale-while-revalidate is served at once while one refresh runs; ranges come from the
//! stored whole; a reverse proxy obeys CDN-Cache-Control over Cache-Control (and a forward
//! proxy does not); the admin endpoint reports and purges.

mod support;

use std::time::Duration;

use appnet_testkit::{CommandOutput, RunningProgram, free_tcp_port, wait_for_tcp};
use support::{calls, counting_origin as origin, curl, header, start};

fn reverse_proxy(origin_port: u16, extra: &[&str]) -> (RunningProgram, String) {
    let port = free_tcp_port();
    let listen = format!("127.0.0.1:{port}");
    let origin = format!("http://127.0.0.1:{origin_port}");
    let mut args = vec!["proxy", "--listen", &listen, "--origin", &origin];
    args.extend_from_slice(extra);
    (start(&args, port), format!("http://{listen}"))
}

#[test]
fn many_clients_missing_one_url_cause_one_fetch() {
    let dir = tempfile::tempdir().unwrap();
    let (origin, origin_port) = origin(dir.path());
    let (_proxy, base) = reverse_proxy(origin_port, &[]);
    let query = "cc=max-age%3D60&sleep=1";
    let url = format!("{base}/cgi/page.py?{query}");
    let clients: Vec<_> = (0..12)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || curl(&["-D", "-", &url]))
        })
        .collect();
    let answers: Vec<CommandOutput> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    for answer in &answers {
        assert!(answer.stdout.ends_with("call 1"), "every client got the one fetch: {answer:?}");
    }
    let collapsed = answers
        .iter()
        .filter(|a| header(&a.stdout, "cache-status").is_some_and(|s| s.contains("collapsed")))
        .count();
    assert!(collapsed >= 1, "some clients waited for the leader's fetch: {answers:?}");
    assert_eq!(calls(&origin, query), 1, "{}", origin.log());
    // A response that may not be stored is never handed to the waiting clients.
    let private = "cc=private&sleep=0.5";
    let url = format!("{base}/cgi/page.py?{private}");
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || curl(&[&url]).stdout)
        })
        .collect();
    let mut bodies: Vec<String> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    bodies.sort();
    assert_eq!(bodies, ["call 1", "call 2", "call 3", "call 4"], "each fetched its own");
}

#[test]
fn stale_while_revalidate_answers_at_once_and_refreshes_in_the_background() {
    let dir = tempfile::tempdir().unwrap();
    let (origin, origin_port) = origin(dir.path());
    let (_proxy, base) = reverse_proxy(origin_port, &[]);
    let query = "cc=max-age%3D1%2C%20stale-while-revalidate%3D60&sleep=0.5";
    let url = format!("{base}/cgi/page.py?{query}");
    assert_eq!(curl(&[&url]).stdout, "call 1");
    std::thread::sleep(Duration::from_millis(2100));
    // Stale now: served at once, while one refresh goes to the origin (which takes 0.5 s).
    let started = std::time::Instant::now();
    let stale = curl(&["-D", "-", &url]).stdout;
    assert!(stale.ends_with("call 1"), "{stale}");
    assert!(started.elapsed() < Duration::from_millis(450), "did not wait for the origin");
    let status = header(&stale, "cache-status").unwrap();
    assert!(status.contains("stale-while-revalidate"), "{stale}");
    let refreshed =
        appnet_testkit::wait_until(Duration::from_secs(5), || curl(&[&url]).stdout == "call 2");
    assert!(refreshed, "the background refresh stored the new copy\n{}", origin.log());
    assert_eq!(calls(&origin, query), 2, "one refresh\n{}", origin.log());
}

#[test]
fn ranges_come_from_the_stored_whole() {
    let dir = tempfile::tempdir().unwrap();
    let (origin, origin_port) = origin(dir.path());
    let (_proxy, base) = reverse_proxy(origin_port, &[]);
    let url = format!("{base}/data.txt");
    // The first request, for a range, fetches and stores the whole file.
    let first = curl(&["-D", "-", "-r", "2-4", &url]).stdout;
    assert!(first.starts_with("HTTP/1.1 206") && first.ends_with("234"), "{first}");
    assert_eq!(header(&first, "content-range"), Some("bytes 2-4/10"));
    let second = curl(&["-D", "-", "-r", "-3", &url]).stdout;
    assert!(second.starts_with("HTTP/1.1 206") && second.ends_with("789"), "{second}");
    assert!(header(&second, "cache-status").unwrap().contains("hit"), "{second}");
    let whole = curl(&[&url]).stdout;
    assert_eq!(whole, "0123456789");
    let wanted = "\"GET /data.txt ";
    let fetched = origin.log().lines().filter(|line| line.contains(wanted)).count();
    assert_eq!(fetched, 1, "{}", origin.log());
    // A client asking for no-store goes to the origin, but does not take the stored copy
    // away from the others.
    assert_eq!(curl(&["-H", "Cache-Control: no-store", &url]).stdout, "0123456789");
    let after = curl(&["-D", "-", &url]).stdout;
    assert!(header(&after, "cache-status").unwrap().contains("hit"), "{after}");
    let fetched = origin.log().lines().filter(|line| line.contains(wanted)).count();
    assert_eq!(fetched, 2, "{}", origin.log());
    let beyond = curl(&["-D", "-", "-r", "50-60", &url]).stdout;
    assert!(beyond.starts_with("HTTP/1.1 416"), "{beyond}");
    assert_eq!(header(&beyond, "content-range"), Some("bytes */10"));
}

#[test]
fn a_reverse_proxy_obeys_cdn_cache_control_and_a_forward_proxy_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let (origin, origin_port) = origin(dir.path());
    let (_reverse, base) = reverse_proxy(origin_port, &[]);
    let query = "cc=no-store&cdn=max-age%3D600";
    let url = format!("{base}/cgi/page.py?{query}");
    assert_eq!(curl(&[&url]).stdout, "call 1");
    let again = curl(&["-D", "-", &url]).stdout;
    assert!(again.ends_with("call 1"), "stored for the CDN despite no-store: {again}");
    assert_eq!(header(&again, "cdn-cache-control"), Some("max-age=600"), "passed on");
    assert_eq!(header(&again, "cache-control"), Some("no-store"), "for the caches after us");
    // A forward proxy is not a CDN: Cache-Control rules.
    let port = free_tcp_port();
    let listen = format!("127.0.0.1:{port}");
    let _forward = start(&["proxy", "--listen", &listen], port);
    let direct = format!("http://127.0.0.1:{origin_port}/cgi/page.py?{query}");
    let proxy = format!("http://{listen}");
    assert_eq!(curl(&["-x", &proxy, &direct]).stdout, "call 2");
    assert_eq!(curl(&["-x", &proxy, &direct]).stdout, "call 3");
    // --strip-targeted keeps the field from the clients.
    let (_stripping, base) = reverse_proxy(origin_port, &["--strip-targeted"]);
    let head = curl(&["-D", "-", "-o", "/dev/null", &format!("{base}/cgi/page.py?{query}")]).stdout;
    assert_eq!(header(&head, "cdn-cache-control"), None, "{head}");
    assert_eq!(calls(&origin, query), 4);
}

#[test]
fn the_admin_endpoint_reports_and_purges() {
    let dir = tempfile::tempdir().unwrap();
    let (origin, origin_port) = origin(dir.path());
    let admin_port = free_tcp_port();
    let admin = format!("127.0.0.1:{admin_port}");
    let (_proxy, base) = reverse_proxy(origin_port, &["--admin", &admin]);
    assert!(wait_for_tcp(admin.parse().unwrap(), Duration::from_secs(5)));
    let url = format!("{base}/data.txt");
    for _ in 0..3 {
        assert_eq!(curl(&[&url]).stdout, "0123456789");
    }
    let stats: serde_json::Value =
        serde_json::from_str(&curl(&[&format!("http://{admin}/stats")]).stdout).unwrap();
    assert_eq!((stats["hits"].as_u64(), stats["misses"].as_u64()), (Some(2), Some(1)), "{stats}");
    assert_eq!(stats["stored_objects"], 1, "{stats}");
    assert!((stats["hit_ratio"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-9, "{stats}");
    let metrics = curl(&[&format!("http://{admin}/metrics")]).stdout;
    assert!(metrics.contains("appnet_proxy_cache_hits_total 2"), "{metrics}");
    // Purge one URL (the one clients ask the reverse proxy for), then everything.
    let purge = format!("http://{admin}/purge?url={url}");
    let purged = curl(&["-X", "POST", "-D", "-", &purge]).stdout;
    assert!(purged.starts_with("HTTP/1.1 200"), "{purged}");
    let again = curl(&["-X", "POST", "-D", "-", &purge]).stdout;
    assert!(again.starts_with("HTTP/1.1 404"), "{again}");
    assert_eq!(curl(&[&url]).stdout, "0123456789");
    let all = curl(&["-X", "POST", &format!("http://{admin}/purge-all")]).stdout;
    assert_eq!(all.trim(), "purged 1 responses");
    let fetched = origin.log().lines().filter(|l| l.contains("\"GET /data.txt ")).count();
    assert_eq!(fetched, 2, "{}", origin.log());
}
