//! `appnet proxy` with curl and our origin: the forward proxy stores what a shared cache may
//! and serves it again (Age, Cache-Status), revalidates with 304s, never stores no-store,
//! answers the client's own conditional request, invalidates on unsafe methods, tunnels
//! CONNECT to allowed ports only, refuses denied hosts; the reverse proxy does the same in
//! front of one origin.

mod support;

use std::time::Duration;

use appnet_testkit::{Program, RunningProgram, free_tcp_port, wait_for_tcp};
use support::{curl, header, start};

/// An origin with plain files, a no-store path and a no-cache path, and its port.
fn origin(dir: &std::path::Path, extra: &[&str]) -> (RunningProgram, u16) {
    let root = dir.join("root");
    for (path, body) in [
        ("page.txt", "a page"),
        ("private/secret.txt", "never stored"),
        ("fresh/always.txt", "revalidate me"),
        ("sie/page.txt", "kept for bad days"),
    ] {
        let file = root.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, body).unwrap();
    }
    let port = free_tcp_port();
    let config = dir.join(format!("origin-{port}.toml"));
    std::fs::write(
        &config,
        format!(
            "[http.server]\nroot = \"{}\"\nlisten = [\"127.0.0.1:{port}\"]\n\
             [[http.server.rule]]\nmatch = \"/private/\"\ncache_control = \"no-store\"\n\
             [[http.server.rule]]\nmatch = \"/fresh/\"\nexpires = \"epoch\"\n\
             [[http.server.rule]]\nmatch = \"/sie/\"\n\
             cache_control = \"max-age=0, stale-if-error=60\"\n\
             [[http.server.rule]]\nmatch = \"/\"\nexpires = \"1h\"\n",
            root.display()
        ),
    )
    .unwrap();
    let mut args = vec!["http", "serve", "--config", config.to_str().unwrap()];
    args.extend_from_slice(extra);
    (start(&args, port), port)
}

/// Requests for `path` the origin's access log shows.
fn origin_hits(origin: &RunningProgram, path: &str) -> usize {
    origin.log().lines().filter(|l| l.contains(&format!("\"GET {path} "))).count()
}

#[test]
fn the_forward_proxy_caches_revalidates_and_keeps_its_rules() {
    let dir = tempfile::tempdir().unwrap();
    let (origin, origin_port) = origin(dir.path(), &[]);
    let proxy_port = free_tcp_port();
    let listen = format!("127.0.0.1:{proxy_port}");
    let _proxy =
        start(&["proxy", "--listen", &listen, "--deny-host", "*.blocked.test"], proxy_port);
    let proxy = format!("http://{listen}");
    let url = |path: &str| format!("http://127.0.0.1:{origin_port}{path}");
    let get = |path: &str, extra: &[&str]| {
        let target = url(path);
        let mut args = vec!["-x", proxy.as_str(), "-D", "-"];
        args.extend_from_slice(extra);
        args.push(&target);
        curl(&args).stdout
    };

    // A miss, stored; then a hit with its Age; the origin asked once.
    let first = get("/page.txt", &[]);
    assert!(first.starts_with("HTTP/1.1 200") && first.ends_with("a page"), "{first}");
    assert_eq!(
        header(&first, "cache-status"),
        Some("appnet; fwd=uri-miss; fwd-status=200; stored")
    );
    assert_eq!(header(&first, "via"), Some("1.1 appnet"));
    let second = get("/page.txt", &[]);
    assert!(second.ends_with("a page"), "{second}");
    assert!(header(&second, "cache-status").unwrap().starts_with("appnet; hit; ttl="), "{second}");
    assert!(header(&second, "age").is_some(), "{second}");
    assert_eq!(origin_hits(&origin, "/page.txt"), 1, "{}", origin.log());

    // The client's own conditional request is answered from the cache.
    let etag = header(&first, "etag").unwrap().to_owned();
    let revalidated = get("/page.txt", &["-H", &format!("If-None-Match: {etag}")]);
    assert!(revalidated.starts_with("HTTP/1.1 304"), "{revalidated}");
    assert_eq!(origin_hits(&origin, "/page.txt"), 1);

    // no-store: asked of the origin every time, never stored.
    for _ in 0..2 {
        let secret = get("/private/secret.txt", &[]);
        assert_eq!(
            header(&secret, "cache-status"),
            Some("appnet; fwd=uri-miss; fwd-status=200"),
            "{secret}"
        );
    }
    assert_eq!(origin_hits(&origin, "/private/secret.txt"), 2);

    // no-cache: stored, then revalidated each time with a conditional request (304).
    let stored = get("/fresh/always.txt", &[]);
    assert!(header(&stored, "cache-status").unwrap().contains("stored"), "{stored}");
    let checked = get("/fresh/always.txt", &[]);
    assert!(checked.starts_with("HTTP/1.1 200") && checked.ends_with("revalidate me"), "{checked}");
    assert!(header(&checked, "cache-status").unwrap().contains("fwd-status=304"), "{checked}");
    assert!(origin.log().contains("\"GET /fresh/always.txt HTTP/1.1\" 304"), "{}", origin.log());

    // An unsafe method goes through and invalidates: the next GET is a miss again.
    let posted = curl(&[
        "-x",
        &proxy,
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-d",
        "x",
        &url("/page.txt"),
    ]);
    assert_eq!(posted.stdout, "405", "the origin's answer passes through");
    let after = get("/page.txt", &[]);
    assert!(header(&after, "cache-status").unwrap().contains("fwd=uri-miss"), "{after}");

    // Denied hosts, and requests that are not proxy requests.
    let blocked =
        curl(&["-x", &proxy, "-o", "/dev/null", "-w", "%{http_code}", "http://ads.blocked.test/"]);
    assert_eq!(blocked.stdout, "403");
    let direct = curl(&["-o", "/dev/null", "-w", "%{http_code}", &format!("{proxy}/page.txt")]);
    assert_eq!(direct.stdout, "400", "origin-form to a forward proxy");
}

/// A request refused before its body was read (a denied host, 403) reaches a client that is
/// still uploading: the proxy reads and drops the rest until the client, having seen the
/// refusal, stops and closes, rather than closing on it (the next segment would draw a reset,
/// which can destroy the response before the client reads it).
#[test]
fn a_refused_upload_still_arriving_is_drained_not_reset() {
    let proxy_port = free_tcp_port();
    let listen = format!("127.0.0.1:{proxy_port}");
    let _proxy =
        start(&["proxy", "--listen", &listen, "--deny-host", "*.blocked.test"], proxy_port);
    let head = "POST http://up.blocked.test/ HTTP/1.1\r\nHost: up.blocked.test\r\n\
                Content-Length: 67108864\r\n\r\n";
    assert_eq!(support::upload_refused_midway(&listen, head), "HTTP/1.1 403");
}

#[test]
fn connect_tunnels_tls_to_allowed_ports_only() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    let (_origin, port) =
        origin(dir.path(), &["--tls-self-signed", "--tls-cert-out", ca.to_str().unwrap()]);
    let https = format!("https://localhost:{port}/page.txt");
    let ca_arg = ca.to_str().unwrap();
    let proxy_port = free_tcp_port();
    let listen = format!("127.0.0.1:{proxy_port}");
    let port_text = port.to_string();
    let _proxy = start(&["proxy", "--listen", &listen, "--connect-port", &port_text], proxy_port);
    let through = curl(&["-x", &format!("http://{listen}"), "--cacert", ca_arg, &https]);
    assert_eq!(through.stdout, "a page", "{through:?}");
    // Another proxy that allows only 443: the tunnel is refused.
    let strict_port = free_tcp_port();
    let strict = format!("127.0.0.1:{strict_port}");
    let _strict = start(&["proxy", "--listen", &strict], strict_port);
    let refused = curl(&["-x", &format!("http://{strict}"), "--cacert", ca_arg, &https]);
    assert_ne!(refused.status, Some(0));
    assert!(refused.stderr.contains("403"), "{}", refused.stderr);
}

#[test]
fn the_reverse_proxy_caches_in_front_of_one_origin() {
    let dir = tempfile::tempdir().unwrap();
    let (origin, origin_port) = origin(dir.path(), &[]);
    let proxy_port = free_tcp_port();
    let listen = format!("127.0.0.1:{proxy_port}");
    let origin_url = format!("http://127.0.0.1:{origin_port}");
    let _proxy = start(&["proxy", "--listen", &listen, "--origin", &origin_url], proxy_port);
    let url = format!("http://{listen}/page.txt");
    for expected in ["fwd=uri-miss", "hit"] {
        let got = curl(&["-D", "-", &url]).stdout;
        assert!(got.ends_with("a page"), "{got}");
        assert!(header(&got, "cache-status").unwrap().contains(expected), "{got}");
    }
    let head = curl(&["-I", &url]).stdout;
    assert!(
        head.starts_with("HTTP/1.1 200") && header(&head, "content-length") == Some("6"),
        "{head}"
    );
    assert_eq!(origin_hits(&origin, "/page.txt"), 1, "HEAD answered from the stored GET");
}

#[test]
fn chromium_loads_a_page_through_the_forward_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let (_origin, origin_port) = origin(dir.path(), &[]);
    let root = dir.path().join("root");
    std::fs::write(
        root.join("index.html"),
        "<!DOCTYPE html><html><head><link rel=stylesheet href=style.css>\
         <script src=app.js></script></head><body><h1 id=t>proxied</h1></body></html>",
    )
    .unwrap();
    std::fs::write(root.join("style.css"), "h1 { color: #123456 }").unwrap();
    std::fs::write(root.join("app.js"), "document.title = 'through the proxy';").unwrap();
    let proxy_port = free_tcp_port();
    let listen = format!("127.0.0.1:{proxy_port}");
    let proxy = start(&["proxy", "--listen", &listen], proxy_port);
    let proxy_arg = format!("--proxy-server=http://{listen}");
    let page = format!("http://127.0.0.1:{origin_port}/index.html");
    // Chromium never proxies loopback unless told to.
    let dom = appnet_testkit::chromium_dom(&page, &[&proxy_arg, "--proxy-bypass-list=<-loopback>"]);
    assert!(
        dom.stdout.contains("<title>through the proxy</title>"),
        "{}\n{}",
        dom.stdout,
        dom.stderr
    );
    let log = proxy.log();
    for path in ["/index.html", "/style.css", "/app.js"] {
        let line = format!("\"GET http://127.0.0.1:{origin_port}{path}\" 200");
        assert!(log.contains(&line), "{path} through the proxy:\n{log}");
    }
}

#[test]
fn variants_by_accept_encoding_are_never_mixed_up() {
    let dir = tempfile::tempdir().unwrap();
    let (origin, origin_port) = origin(dir.path(), &[]);
    let text = "a page long enough to be compressed on the fly by the origin\n".repeat(20);
    std::fs::write(dir.path().join("root/long.txt"), &text).unwrap();
    let proxy_port = free_tcp_port();
    let listen = format!("127.0.0.1:{proxy_port}");
    let _proxy = start(&["proxy", "--listen", &listen], proxy_port);
    let (proxy, url) =
        (format!("http://{listen}"), format!("http://127.0.0.1:{origin_port}/long.txt"));
    // A client that takes br gets (and the proxy stores) the br variant…
    let br = curl(&["-x", &proxy, "-D", "-", "-o", "/dev/null", "-H", "Accept-Encoding: br", &url])
        .stdout;
    assert_eq!(header(&br, "content-encoding"), Some("br"), "{br}");
    // …a client that takes nothing gets the text as it is, never the stored br copy…
    let plain = curl(&["-x", &proxy, &url]);
    assert_eq!(plain.stdout, text);
    // …and each is then a hit for its own kind of client.
    for accept in ["br", ""] {
        let head = curl(&[
            "-x",
            &proxy,
            "-D",
            "-",
            "-o",
            "/dev/null",
            "-H",
            &format!("Accept-Encoding: {accept}"),
            &url,
        ])
        .stdout;
        assert!(header(&head, "cache-status").unwrap().contains("hit"), "{accept}: {head}");
    }
    assert_eq!(origin_hits(&origin, "/long.txt"), 2, "one fetch per variant");
}

#[test]
fn a_stale_copy_stands_in_for_a_dead_origin_within_stale_if_error() {
    let dir = tempfile::tempdir().unwrap();
    let (origin, origin_port) = origin(dir.path(), &[]);
    let proxy_port = free_tcp_port();
    let listen = format!("127.0.0.1:{proxy_port}");
    let _proxy = start(&["proxy", "--listen", &listen], proxy_port);
    let proxy = format!("http://{listen}");
    let url = |path: &str| format!("http://127.0.0.1:{origin_port}{path}");
    for path in ["/sie/page.txt", "/fresh/always.txt"] {
        let stored = curl(&["-x", &proxy, "-D", "-", &url(path)]).stdout;
        assert!(header(&stored, "cache-status").unwrap().contains("stored"), "{stored}");
    }
    drop(origin);
    // stale-if-error=60: the stale copy is served, and says so.
    let kept = curl(&["-x", &proxy, "-D", "-", &url("/sie/page.txt")]).stdout;
    assert!(kept.starts_with("HTTP/1.1 200") && kept.ends_with("kept for bad days"), "{kept}");
    assert!(header(&kept, "cache-status").unwrap().contains("stale-if-error"), "{kept}");
    // Without it, the client hears that the origin is gone.
    let gone =
        curl(&["-x", &proxy, "-o", "/dev/null", "-w", "%{http_code}", &url("/fresh/always.txt")]);
    assert_eq!(gone.stdout, "502");
}

#[test]
fn purge_from_an_allowed_network_drops_the_stored_copy() {
    let dir = tempfile::tempdir().unwrap();
    let (origin, origin_port) = origin(dir.path(), &[]);
    let proxy_port = free_tcp_port();
    let listen = format!("127.0.0.1:{proxy_port}");
    let _proxy = start(&["proxy", "--listen", &listen], proxy_port);
    let (proxy, url) =
        (format!("http://{listen}"), format!("http://127.0.0.1:{origin_port}/page.txt"));
    let status = |method: &str| {
        curl(&["-x", &proxy, "-X", method, "-o", "/dev/null", "-w", "%{http_code}", &url]).stdout
    };
    assert_eq!(status("GET"), "200");
    assert_eq!(status("PURGE"), "200", "something was stored");
    assert_eq!(status("PURGE"), "404", "nothing is left");
    assert_eq!(status("GET"), "200");
    assert_eq!(origin_hits(&origin, "/page.txt"), 2, "the purged copy was fetched again");
}

#[test]
fn nginx_as_the_origin_stored_and_revalidated_with_its_validators() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("stale")).unwrap();
    std::fs::write(root.join("page.txt"), "from nginx").unwrap();
    std::fs::write(root.join("stale/page.txt"), "always asked").unwrap();
    let nginx = appnet_testkit::require("nginx", "nginx");
    let port = free_tcp_port();
    let config = dir.path().join("nginx.conf");
    let log = dir.path().join("access.log");
    std::fs::write(
        &config,
        format!(
            "worker_processes 1; daemon off; master_process off; pid {d}/nginx.pid;\n\
             error_log {d}/error.log warn; events {{ worker_connections 64; }}\n\
             http {{ log_format short '$request $status'; access_log {log} short;\n\
             client_body_temp_path {d}/b; proxy_temp_path {d}/p;\n\
             fastcgi_temp_path {d}/f; uwsgi_temp_path {d}/u; scgi_temp_path {d}/s;\n\
             server {{ listen 127.0.0.1:{port}; root {root}; expires 1h;\n\
             location /stale/ {{ expires epoch; }} }} }}\n",
            d = dir.path().display(),
            log = log.display(),
            root = root.display()
        ),
    )
    .unwrap();
    let mut server = Program::new(nginx.to_str().unwrap(), "nginx")
        .args(["-c", config.to_str().unwrap()])
        .start();
    let origin = format!("127.0.0.1:{port}");
    server.wait_ready(Duration::from_secs(20), || {
        wait_for_tcp(origin.parse().unwrap(), Duration::from_millis(100))
    });
    let proxy_port = free_tcp_port();
    let listen = format!("127.0.0.1:{proxy_port}");
    let origin_url = format!("http://{origin}");
    let _proxy = start(&["proxy", "--listen", &listen, "--origin", &origin_url], proxy_port);
    for _ in 0..3 {
        assert_eq!(curl(&[&format!("http://{listen}/page.txt")]).stdout, "from nginx");
    }
    // `expires epoch` is Cache-Control: no-cache: stored, but revalidated every time with
    // nginx's own ETag and answered 304 by it.
    for _ in 0..2 {
        let got = curl(&["-D", "-", &format!("http://{listen}/stale/page.txt")]).stdout;
        assert!(got.starts_with("HTTP/1.1 200") && got.ends_with("always asked"), "{got}");
    }
    let seen = std::fs::read_to_string(&log).unwrap();
    // The proxy's health checks ask for / (a 403 here: no index); the rest is the cache's.
    let lines: Vec<&str> = seen.lines().filter(|l| !l.starts_with("GET / ")).collect();
    assert_eq!(
        lines,
        [
            "GET /page.txt HTTP/1.1 200",
            "GET /stale/page.txt HTTP/1.1 200",
            "GET /stale/page.txt HTTP/1.1 304"
        ],
        "{seen}"
    );
}
