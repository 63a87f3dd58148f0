//! `appnet http serve` against curl: HTTP/1.0 and 1.1, validators and conditional requests,
//! ranges (single, multipart, unsatisfiable, If-Range), HEAD, OPTIONS, directories and their
//! index, and every way out of the root refused; HTTP/2 by prior knowledge and over TLS with
//! curl, h2load and Chromium.

mod support;

use std::path::PathBuf;
use std::time::Duration;

use appnet_testkit::{CommandOutput, Program, RunningProgram, free_tcp_port, run, wait_for_tcp};

const APPNET: &str = env!("CARGO_BIN_EXE_appnet");
const BODY: &str = "0123456789abcdefghijklmnopqrstuvwxyz";

fn start() -> (RunningProgram, String, tempfile::TempDir) {
    start_with(&[])
}

/// The server with `extra` arguments; with `--tls…` the base URL is https://localhost:PORT.
fn start_with(extra: &[&str]) -> (RunningProgram, String, tempfile::TempDir) {
    let site = tempfile::tempdir().expect("site dir");
    let root = site.path().join("root");
    std::fs::create_dir_all(root.join("docs")).unwrap();
    std::fs::write(root.join("file.txt"), BODY).unwrap();
    std::fs::write(root.join("docs/index.html"), "<h1>docs</h1>").unwrap();
    std::fs::write(site.path().join("secret.txt"), "outside").unwrap();
    std::os::unix::fs::symlink(site.path().join("secret.txt"), root.join("escape.txt")).unwrap();
    let port = free_tcp_port();
    let listen = format!("127.0.0.1:{port}");
    let extra: Vec<String> = extra
        .iter()
        .map(|arg| arg.replace("{site}", site.path().to_str().expect("utf-8 path")))
        .collect();
    let tls = extra.iter().any(|arg| arg.starts_with("--tls"));
    let mut server = Program::new(APPNET, "appnet")
        .args(["http", "serve", "--listen", &listen, "--root"])
        .args([&root])
        .args(extra)
        .start();
    server.wait_ready(Duration::from_secs(20), || {
        wait_for_tcp(listen.parse().unwrap(), Duration::from_millis(100))
    });
    let base = if tls { format!("https://localhost:{port}") } else { format!("http://{listen}") };
    (server, base, site)
}

fn curl(args: &[&str]) -> CommandOutput {
    let mut all = vec!["-sS", "--max-time", "10"];
    all.extend_from_slice(args);
    run("curl", "curl", &all, Duration::from_secs(20))
}

/// Status code of a request: `curl -o /dev/null -w %{http_code}`.
fn status(args: &[&str]) -> String {
    let mut all = vec!["-o", "/dev/null", "-w", "%{http_code}"];
    all.extend_from_slice(args);
    curl(&all).stdout
}

fn header<'a>(headers: &'a str, name: &str) -> Option<&'a str> {
    headers.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

#[test]
fn curl_gets_files_with_validators_conditionals_and_ranges() {
    let (server, base, _site) = start();
    let file = format!("{base}/file.txt");
    for version in ["--http1.0", "--http1.1"] {
        let got = curl(&[version, &file]);
        assert_eq!(got.stdout, BODY, "{version}: {got:?}");
    }
    let head = curl(&["-I", &file]).stdout;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(header(&head, "content-length"), Some("36"));
    assert_eq!(header(&head, "content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(header(&head, "accept-ranges"), Some("bytes"));
    assert!(
        header(&head, "date").is_some()
            && header(&head, "server").is_some_and(|s| s.starts_with("appnet/"))
    );
    let etag = header(&head, "etag").expect("an ETag").to_owned();
    let modified = header(&head, "last-modified").expect("Last-Modified").to_owned();

    assert_eq!(status(&["-H", &format!("If-None-Match: {etag}"), &file]), "304");
    // A 304 repeats the Vary, ETag and Date a 200 would carry (RFC 9110 §15.4.5).
    let not_modified = curl(&["-D", "-", "-H", &format!("If-None-Match: {etag}"), &file]).stdout;
    assert!(not_modified.starts_with("HTTP/1.1 304"), "{not_modified}");
    assert_eq!(header(&head, "vary"), Some("Accept-Encoding"), "{head}");
    assert_eq!(header(&not_modified, "vary"), Some("Accept-Encoding"), "{not_modified}");
    assert_eq!(header(&not_modified, "etag"), Some(etag.as_str()), "{not_modified}");
    assert!(header(&not_modified, "date").is_some(), "{not_modified}");
    assert_eq!(status(&["-H", "If-None-Match: \"other\"", &file]), "200");
    assert_eq!(status(&["-H", &format!("If-Modified-Since: {modified}"), &file]), "304");
    assert_eq!(status(&["-H", "If-Match: \"other\"", &file]), "412");
    assert_eq!(status(&["-H", "If-Unmodified-Since: Thu, 01 Jan 1970 00:00:01 GMT", &file]), "412");

    assert_eq!(curl(&["-r", "0-9", &file]).stdout, "0123456789");
    assert_eq!(curl(&["-r", "-6", &file]).stdout, "uvwxyz");
    let partial = curl(&["-i", "-r", "10-", &file]).stdout;
    assert!(partial.starts_with("HTTP/1.1 206"), "{partial}");
    assert_eq!(header(&partial, "content-range"), Some("bytes 10-35/36"));
    let multi = curl(&["-i", "-r", "0-1,4-5", &file]).stdout;
    assert!(
        header(&multi, "content-type")
            .is_some_and(|t| t.starts_with("multipart/byteranges; boundary=")),
        "{multi}"
    );
    assert!(
        multi.contains("Content-Range: bytes 0-1/36\r\n\r\n01")
            && multi.contains("Content-Range: bytes 4-5/36\r\n\r\n45"),
        "{multi}"
    );
    assert_eq!(status(&["-r", "100-200", &file]), "416");
    // If-Range with an old validator: the whole file, 200.
    assert_eq!(status(&["-r", "0-1", "-H", "If-Range: \"old\"", &file]), "200");
    assert_eq!(status(&["-r", "0-1", "-H", &format!("If-Range: {etag}"), &file]), "206");

    // HTTP/1.0 with Connection: keep-alive keeps the connection, and says so.
    let kept = curl(&["-v", "--http1.0", "-H", "Connection: keep-alive", &file, &file]);
    assert_eq!(kept.stdout, format!("{BODY}{BODY}"), "{kept:?}");
    assert!(kept.stderr.to_ascii_lowercase().contains("< connection: keep-alive"), "{kept:?}");
    assert!(kept.stderr.contains("sing existing connection"), "{}", kept.stderr);
    // Persistent connection: two requests on one connection (curl reuses it).
    let both = curl(&["-v", &file, &file]);
    assert!(
        both.stderr.contains("Re-using existing connection")
            || both.stderr.contains("Reusing existing connection"),
        "{}",
        both.stderr
    );
    assert!(
        server.log().contains("\"GET /file.txt HTTP/1.1\" 200 36"),
        "combined access log:\n{}",
        server.log()
    );
}

#[test]
fn directories_methods_and_the_root_boundary() {
    let (server, base, _site) = start();
    assert_eq!(curl(&[&format!("{base}/docs/")]).stdout, "<h1>docs</h1>");
    let redirect = curl(&["-i", &format!("{base}/docs")]).stdout;
    assert!(
        redirect.starts_with("HTTP/1.1 301") && header(&redirect, "location") == Some("/docs/"),
        "{redirect}"
    );
    assert_eq!(status(&[&format!("{base}/")]), "404", "no index, no listing");
    assert_eq!(status(&[&format!("{base}/missing.txt")]), "404");
    let options = curl(&["-i", "-X", "OPTIONS", &format!("{base}/file.txt")]).stdout;
    assert!(
        options.starts_with("HTTP/1.1 204")
            && header(&options, "allow") == Some("GET, HEAD, OPTIONS"),
        "{options}"
    );
    assert_eq!(status(&["-X", "DELETE", &format!("{base}/file.txt")]), "405");
    // CONNECT is the proxy's job: 405 for a tunnel asked of the origin, as curl asks for one.
    let tunnel = curl(&["-i", "-p", "-x", &base, "https://example.invalid/"]);
    assert!(tunnel.stdout.starts_with("HTTP/1.1 405"), "{tunnel:?}");
    assert_ne!(tunnel.status, Some(0), "curl got no tunnel: {tunnel:?}");
    // curl --http2 without TLS asks to upgrade to h2c; as nginx, the server stays on HTTP/1.1
    // and answers (HTTP/2 in the clear is by prior knowledge).
    let upgrade = curl(&["-i", "--http2", &format!("{base}/file.txt")]).stdout;
    assert!(upgrade.starts_with("HTTP/1.1 200") && upgrade.ends_with(BODY), "{upgrade}");
    let log = server.log();
    assert!(log.contains("\"CONNECT example.invalid:443 HTTP/1.1\" 405 "), "{log}");
    for escape in [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/docs/..%2F..%2Fsecret.txt",
        "/escape.txt",
        "/file.txt%00",
    ] {
        let code = status(&["--path-as-is", &format!("{base}{escape}")]);
        assert!(code == "403" || code == "400", "{escape}: {code}");
    }
}

#[test]
fn large_files_are_streamed_whole_and_in_ranges() {
    let (server, base, site) = start();
    let big: Vec<u8> = (0..3 * 1024 * 1024 + 17).map(|i: u32| (i % 251) as u8).collect();
    let root = site.path().join("root");
    std::fs::write(root.join("big.bin"), &big).unwrap();
    let saved = site.path().join("got.bin");
    let url = format!("{base}/big.bin");
    curl(&["-o", saved.to_str().unwrap(), &url]).assert_success();
    assert!(std::fs::read(&saved).unwrap() == big, "the whole file, byte for byte");
    curl(&["-r", "3145700-", "-o", saved.to_str().unwrap(), &url]).assert_success();
    assert!(std::fs::read(&saved).unwrap() == big[3_145_700..], "the tail");
    // The access log counts the body bytes sent (by sendfile, here), as nginx does.
    let log = server.log();
    assert!(log.contains("\"GET /big.bin HTTP/1.1\" 200 3145745 "), "{log}");
    assert!(log.contains("\"GET /big.bin HTTP/1.1\" 206 45 "), "{log}");
    drop(server);
}

/// The access log's bytes are the body bytes that went out, as nginx's `$body_bytes_sent`:
/// none for HEAD and 304, what hyper's writer sent, and, for a client that goes away in the
/// middle of a large file, what was sent before it did — not the length the head announced.
#[test]
fn the_access_log_counts_the_body_bytes_sent() {
    let (server, base, site) = start();
    let huge = site.path().join("root/huge.bin");
    std::fs::write(&huge, vec![7u8; 32 << 20]).unwrap();
    let file = format!("{base}/file.txt");
    assert_eq!(status(&["-I", &file]), "200");
    let etag = header(&curl(&["-D", "-", "-o", "/dev/null", &file]).stdout, "etag")
        .expect("ETag")
        .to_owned();
    assert_eq!(status(&["-H", &format!("If-None-Match: {etag}"), &file]), "304");
    // A POST to a file is hyper's to answer (a request with a body): 405 and its page.
    let refused = curl(&["-d", "x=1", &file]).stdout;
    // A client that reads the head and a little of a 32 MiB file, then closes.
    {
        use std::io::{Read, Write};
        let address = base.trim_start_matches("http://");
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(stream, "GET /huge.bin HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
        let mut some = [0; 4096];
        assert!(stream.read(&mut some).unwrap() > 0);
    }
    let cut_short = |log: &str| {
        log.lines()
            .find(|line| line.contains("\"GET /huge.bin HTTP/1.1\" 200 "))
            .and_then(|line| line.split(' ').nth(9)?.parse::<u64>().ok())
    };
    assert!(
        appnet_testkit::wait_until(Duration::from_secs(10), || cut_short(&server.log()).is_some()),
        "the cut-short response is logged: {}",
        server.log()
    );
    let log = server.log();
    assert!(log.contains("\"HEAD /file.txt HTTP/1.1\" 200 0 "), "{log}");
    assert!(log.contains("\"GET /file.txt HTTP/1.1\" 200 36 "), "{log}");
    assert!(log.contains("\"GET /file.txt HTTP/1.1\" 304 0 "), "{log}");
    let posted = format!("\"POST /file.txt HTTP/1.1\" 405 {} ", refused.len());
    assert!(!refused.is_empty() && log.contains(&posted), "{posted} in {log}");
    let sent = cut_short(&log).unwrap();
    assert!(sent < 32 << 20, "{sent} bytes logged of a transfer the client cut short");
    drop(server);
}

#[test]
fn chromium_loads_a_page_with_images_styles_and_scripts() {
    let (server, base, site) = start();
    chromium_loads_the_test_page(&server, &base, &site, &[], "HTTP/1.1");
}

#[test]
fn chromium_loads_the_page_over_https_with_h2() {
    let (server, base, site) = start_with(&["--tls-self-signed"]);
    // The certificate is made at start, so Chromium is told not to verify it.
    chromium_loads_the_test_page(
        &server,
        &base,
        &site,
        &["--ignore-certificate-errors"],
        "HTTP/2.0",
    );
}

/// Chromium loads a page with a stylesheet, a script and an image from `base`: the script ran
/// after every resource loaded, the screenshot is not blank, and the access log shows each
/// resource served over `version`.
fn chromium_loads_the_test_page(
    server: &RunningProgram,
    base: &str,
    site: &tempfile::TempDir,
    extra_flags: &[&str],
    version: &str,
) {
    let root = site.path().join("root");
    std::fs::write(
        root.join("page.html"),
        "<!DOCTYPE html><html><head><link rel=stylesheet href=style.css><script src=app.js></script></head>\
         <body><h1 id=title>appnet</h1><img id=logo src=logo.svg width=200 height=200></body></html>",
    )
    .unwrap();
    std::fs::write(
        root.join("style.css"),
        "body { background: #123456; } h1 { color: #fedcba; font-size: 64px; }",
    )
    .unwrap();
    std::fs::write(root.join("app.js"), "window.addEventListener('load', () => { document.getElementById('title').dataset.loaded = 'yes'; });").unwrap();
    std::fs::write(
        root.join("logo.svg"),
        "<svg xmlns='http://www.w3.org/2000/svg' width='200' height='200'><circle cx='100' cy='100' r='90' fill='orange'/></svg>",
    )
    .unwrap();
    let profile = tempfile::tempdir().expect("profile");
    let profile_arg = format!("--user-data-dir={}", profile.path().display());
    let page = format!("{base}/page.html");
    let mut flags = appnet_testkit::CHROMIUM_FLAGS.to_vec();
    flags.extend_from_slice(extra_flags);
    let mut dom_args: Vec<&str> = flags.clone();
    dom_args.extend([profile_arg.as_str(), "--dump-dom", page.as_str()]);
    let dom = run("chromium", "chromium", &dom_args, Duration::from_secs(60));
    assert!(
        dom.stdout.contains("data-loaded=\"yes\""),
        "the script ran after every resource loaded: {}\n{}",
        dom.stdout,
        dom.stderr
    );
    let shot = site.path().join("page.png");
    let shot_arg = format!("--screenshot={}", shot.display());
    let mut shot_args: Vec<&str> = flags;
    shot_args.extend([
        profile_arg.as_str(),
        "--window-size=800,600",
        shot_arg.as_str(),
        page.as_str(),
    ]);
    run("chromium", "chromium", &shot_args, Duration::from_secs(60));
    let size = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
    assert!(size > 5_000, "a rendered page: {size} bytes");
    // Every resource was asked for and served.
    let log = server.log();
    for resource in ["/page.html", "/style.css", "/app.js", "/logo.svg"] {
        assert!(
            log.contains(&format!("\"GET {resource} {version}\" 200")),
            "{resource} served over {version}:\n{log}"
        );
    }
}

#[test]
fn curl_speaks_http2_by_prior_knowledge_and_over_tls_with_alpn() {
    let (server, base, _site) = start();
    let file = format!("{base}/file.txt");
    let version = |args: &[&str]| {
        let mut all = vec!["-o", "/dev/null", "-w", "%{http_version} %{http_code}"];
        all.extend_from_slice(args);
        curl(&all).stdout
    };
    // One cleartext port: HTTP/1.0, 1.1 and h2c told apart by the preface.
    assert_eq!(version(&["--http2-prior-knowledge", &file]), "2 200");
    assert_eq!(version(&["--http1.1", &file]), "1.1 200");
    // curl writes HTTP/1.0 as "1".
    assert_eq!(version(&["--http1.0", &file]), "1 200");
    // Validators and ranges over HTTP/2.
    let got = curl(&["--http2-prior-knowledge", "-D", "-", &file]).stdout;
    let etag = header(&got, "etag").expect("ETag").to_owned();
    let inm = format!("If-None-Match: {etag}");
    assert_eq!(version(&["--http2-prior-knowledge", "-H", &inm, &file]), "2 304");
    let ranged = curl(&["--http2-prior-knowledge", "-r", "10-15", &file]);
    assert_eq!(ranged.stdout, &BODY[10..16]);
    // (Many streams at once on one connection: h2load's test below, 10 per connection.)
    // The access log line is the combined format, as nginx writes it.
    let log = server.log();
    let line = log
        .lines()
        .find(|l| l.contains("\"GET /file.txt HTTP/2.0\" 200 36 \"-\" \"curl/"))
        .unwrap_or_else(|| panic!("an HTTP/2 line in the access log:\n{log}"));
    let time = line.split(['[', ']']).nth(1).expect("[time]");
    let shape: String = time
        .chars()
        .map(|c| {
            if c.is_ascii_digit() {
                '9'
            } else if c.is_ascii_alphabetic() {
                'a'
            } else {
                c
            }
        })
        .collect();
    assert_eq!(shape, "99/aaa/9999:99:99:99 +9999", "{line}");
    assert!(line.starts_with("127.0.0.1 - - ["), "{line}");
    drop(server);

    // TLS: a self-signed certificate, written out for curl to verify against.
    let (server, base, site) =
        start_with(&["--tls-self-signed", "--tls-cert-out", "{site}/cert.pem"]);
    let cacert = site.path().join("cert.pem");
    let cacert = cacert.to_str().expect("utf-8 path");
    let file = format!("{base}/file.txt");
    assert_eq!(version(&["--cacert", cacert, "--http2", &file]), "2 200");
    assert_eq!(version(&["--cacert", cacert, "--http1.1", &file]), "1.1 200");
    assert_eq!(version(&["--cacert", cacert, "--http1.0", &file]), "1 200");
    assert_eq!(curl(&["--cacert", cacert, &file]).stdout, BODY);
    // Without the certificate, curl refuses it: the server really is using that one.
    let unverified = curl(&[&file]);
    assert_ne!(unverified.status, Some(0), "{unverified:?}");
    assert!(server.log().contains("\"GET /file.txt HTTP/2.0\" 200"), "{}", server.log());
}

#[test]
fn h2load_completes_with_no_errors_over_h2c_and_tls() {
    for extra in [&[][..], &["--tls-self-signed"][..]] {
        let (server, base, _site) = start_with(&[&["--no-access-log"][..], extra].concat());
        let url = format!("{base}/file.txt");
        let load = run(
            "h2load",
            "nghttp2-client",
            &["-n", "2000", "-c", "8", "-m", "10", &url],
            Duration::from_secs(60),
        );
        assert!(
            load.stdout.contains("2000 succeeded, 0 failed, 0 errored"),
            "{url}: {}\n{}",
            load.stdout,
            load.stderr
        );
        let expected = if extra.is_empty() { "h2c" } else { "h2" };
        assert!(
            load.stdout.contains(&format!("Application protocol: {expected}")),
            "{}",
            load.stdout
        );
        drop(server);
    }
}

/// Sends `raw` on a fresh connection and returns everything the server sent back.
fn raw_exchange(base: &str, raw: &[u8]) -> String {
    raw_exchange_closed(base, raw).0
}

/// What the server answered `raw`, and whether it closed the connection within 3 s.
fn raw_exchange_closed(base: &str, raw: &[u8]) -> (String, bool) {
    use std::io::{Read, Write};
    let addr = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    stream.write_all(raw).unwrap();
    let mut reply = Vec::new();
    let closed = stream.read_to_end(&mut reply).is_ok();
    (String::from_utf8_lossy(&reply).into_owned(), closed)
}

/// A connection the server closes after its response is closed at once when the client sent
/// nothing more, and in stages when it had more on the way (RFC 9112 §9.6): then what it still
/// sends is read and dropped, so no reset can reach it before it has read the response.
#[test]
fn a_closing_connection_lingers_only_for_a_client_with_more_to_send() {
    use std::io::{Read, Write};
    let (_server, base, _site) = start();
    let addr = base.trim_start_matches("http://");
    // Writes twice after the server's end of stream; what the second write says.
    let write_after_the_response = |requests: &[u8]| {
        let mut stream = std::net::TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        stream.write_all(requests).unwrap();
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply).expect("the response, then the end of the stream");
        let reply = String::from_utf8_lossy(&reply).into_owned();
        assert_eq!(reply.matches("HTTP/1.0 200 OK").count(), 1, "{reply}");
        assert!(reply.ends_with(BODY), "{reply}");
        let more = b"GET /file.txt HTTP/1.0\r\n\r\n";
        stream.write_all(more).expect("the first write is only queued");
        std::thread::sleep(Duration::from_millis(300));
        stream.write_all(more).map_err(|error| error.kind())
    };
    // HTTP/1.0 without keep-alive: one response, then the server closes.
    let alone = b"GET /file.txt HTTP/1.0\r\n\r\n";
    let reset = write_after_the_response(alone).expect_err("closed at once: the peer resets");
    assert!(
        matches!(reset, std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset),
        "{reset:?}"
    );
    // The same with a second request pipelined behind it: the server lingers.
    let pipelined = [&alone[..], &alone[..]].concat();
    write_after_the_response(&pipelined).expect("lingering: what the client sends is read");
}

/// A body the server refuses before reading it (here a POST to a file, 405) is still arriving
/// when the response has gone: the server reads and drops it until the client, having seen the
/// response, stops and closes, rather than closing on it (the rest of the body would draw a
/// reset, which can destroy the response before the client reads it).
#[test]
fn a_refused_body_still_arriving_is_drained_not_reset() {
    let (_server, base, _site) = start();
    let head = "POST /file.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 67108864\r\n\r\n";
    let addr = base.trim_start_matches("http://");
    assert_eq!(support::upload_refused_midway(addr, head), "HTTP/1.1 405");
}

/// Directory indexes and TRACE are off by default (404 and 405, as nginx has them); with
/// `--listing` a directory without index.html gets an HTML index of its entries (dot files
/// left out, names escaped, a symlink listed as itself), and with `--trace` TRACE sends the
/// request back as message/http without its credentials, over HTTP/1.1 and h2c alike.
#[test]
fn listings_and_trace_are_off_unless_asked_for() {
    let (_server, base, _site) = start();
    assert_eq!(status(&[&format!("{base}/")]), "404");
    assert_eq!(status(&["-X", "TRACE", &format!("{base}/file.txt")]), "405");
    let allow = curl(&["-i", "-X", "OPTIONS", &format!("{base}/")]).stdout;
    assert!(allow.to_ascii_lowercase().contains("allow: get, head, options\r\n"), "{allow}");

    let (_server, base, site) = start_with(&["--listing", "--trace"]);
    std::fs::write(site.path().join("root/.env"), "SECRET=1").unwrap();
    std::fs::write(site.path().join("root/a <b>.txt"), "x").unwrap();
    let index = curl(&["-i", &format!("{base}/")]).stdout;
    assert!(index.starts_with("HTTP/1.1 200"), "{index}");
    assert!(index.contains("content-type: text/html; charset=utf-8"), "{index}");
    for entry in ["href=\"docs/\"", "href=\"file.txt\"", "href=\"escape.txt\""] {
        assert!(index.contains(entry), "{entry}: {index}");
    }
    assert!(index.contains("href=\"a%20%3Cb%3E.txt\">a &lt;b&gt;.txt</a>"), "{index}");
    assert!(!index.contains(".env"), "{index}");
    // A directory with an index.html still gets the file, and a listed link works.
    assert_eq!(curl(&[&format!("{base}/docs/")]).stdout, "<h1>docs</h1>");
    assert_eq!(curl(&[&format!("{base}/a%20%3Cb%3E.txt")]).stdout, "x");

    let fields = ["-H", "Cookie: session=1", "-H", "Authorization: Bearer t", "-H", "X-Mine: yes"];
    for version in ["--http1.1", "--http2-prior-knowledge"] {
        let mut args = vec![version, "-i", "-X", "TRACE"];
        args.extend_from_slice(&fields);
        let target = format!("{base}/file.txt?q=1");
        args.push(&target);
        let echo = curl(&args).stdout;
        assert!(echo.contains("content-type: message/http"), "{echo}");
        assert!(echo.contains("TRACE /file.txt?q=1 HTTP/"), "{echo}");
        assert!(echo.contains("x-mine: yes"), "{echo}");
        assert!(!echo.contains("session=1") && !echo.contains("Bearer t"), "{echo}");
    }
    let allow = curl(&["-i", "-X", "OPTIONS", &format!("{base}/")]).stdout;
    assert!(allow.to_ascii_lowercase().contains("allow: get, head, options, trace"), "{allow}");
}

#[test]
fn malformed_and_smuggling_style_requests_are_refused_cleanly() {
    let (server, base, _site) = start();
    // Each is refused with 400 (or the connection closed without a response), never answered
    // as if it were one clean request — and never as two.
    let corpus: &[&[u8]] = &[
        b"GET /file.txt HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        b"POST /file.txt HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /file.txt HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET /file.txt HTTP/1.1\r\nHost: a\r\nX-Folded: one\r\n two\r\n\r\n",
        b"GET /file.txt HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
        b"GET /file.txt HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked, identity\r\n\r\n",
        b"GET /file.txt HTTP/1.1\r\nHo st: a\r\n\r\n",
        b"GET /file.txt HTTP/9.9\r\nHost: a\r\n\r\n",
        b"GET  /file.txt HTTP/1.1\r\nHost: a\r\n\r\n",
        b"\x00\x01\x02 nonsense\r\n\r\n",
    ];
    for raw in corpus {
        let reply = raw_exchange(&base, raw);
        let text = String::from_utf8_lossy(raw);
        let responses = reply.matches("HTTP/1.1 ").count();
        assert!(responses <= 1, "{text:?} was read as more than one request:\n{reply}");
        assert!(
            !reply.contains("HTTP/1.1 200") && !reply.contains(BODY),
            "{text:?} was served:\n{reply}"
        );
        // A refusal is a 4xx/5xx; CL+TE is processed by TE and the connection closed
        // (RFC 9112 §6.3), so the smuggled request behind it never runs.
        let status = reply.get(9..10).unwrap_or("");
        assert!(reply.is_empty() || status == "4" || status == "5", "{text:?}:\n{reply}");
    }
    // What HTTP/1.1 says is malformed gets exactly 400, and the connection ends with it (the
    // client sends nothing after: the server, not a timeout, must close).
    let refused: &[&[u8]] = &[
        b"GET /file.txt HTTP/1.1\r\n\r\n",
        b"GET /file.txt HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        b"GET file.txt HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET /file.txt HTTP/1.1\r\nHost: a\r\nX-Folded: one\r\n two\r\n\r\n",
        b"GET /file.txt HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        b"GET /file.txt HTTP/1.1\r\nHo st: a\r\n\r\n",
        b"GET /file.txt HTTP/1.1\r\nHost: a\rX: b\r\n\r\n",
    ];
    for raw in refused {
        let (reply, closed) = raw_exchange_closed(&base, raw);
        let text = String::from_utf8_lossy(raw);
        assert!(reply.starts_with("HTTP/1.1 400"), "{text:?}:\n{reply}");
        assert!(closed, "{text:?}: the connection stayed open after\n{reply}");
    }
    // A method nobody implements: 501 (RFC 9110 §9.1), not 405.
    let (reply, _) = raw_exchange_closed(
        &base,
        b"BREW /file.txt HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    assert!(reply.starts_with("HTTP/1.1 501"), "{reply}");
    // Bare LF line ends (RFC 9112 §2.2 lets a recipient take them, as nginx does): read as the
    // one request they are, whichever the server's reading — never split into two.
    let (reply, _) =
        raw_exchange_closed(&base, b"GET /file.txt HTTP/1.1\nHost: a\nConnection: close\n\n");
    assert_eq!(reply.matches("HTTP/1.1 ").count(), 1, "{reply}");
    assert!(reply.starts_with("HTTP/1.1 200") && reply.ends_with(BODY), "{reply}");
    // Oversized headers: 431, not memory (found by this test: hyper's read-buffer limit alone
    // let a 100 KB header through when it arrived in one read).
    let huge =
        format!("GET /file.txt HTTP/1.1\r\nHost: a\r\nX-Big: {}\r\n\r\n", "a".repeat(100_000));
    let reply = raw_exchange(&base, huge.as_bytes());
    assert!(reply.starts_with("HTTP/1.1 431"), "{reply}");
    // More than 100 fields, each small: 431 as well.
    let many: String = (0..101).map(|i| format!("X-F{i}: v\r\n")).collect();
    let reply =
        raw_exchange(&base, format!("GET /file.txt HTTP/1.1\r\nHost: a\r\n{many}\r\n").as_bytes());
    assert!(reply.starts_with("HTTP/1.1 431"), "{reply}");
    let fewer: String = (0..98).map(|i| format!("X-F{i}: v\r\n")).collect();
    let fewer = format!("GET /file.txt HTTP/1.1\r\nHost: a\r\nConnection: close\r\n{fewer}\r\n");
    assert!(raw_exchange(&base, fewer.as_bytes()).starts_with("HTTP/1.1 200"));
    // What hyper refused on its own is in the access log too, by its first line, as nginx
    // logs what it could not parse.
    let logged = |line: &str| server.log().lines().filter(|l| l.contains(line)).count();
    let waited = appnet_testkit::wait_until(Duration::from_secs(5), || {
        logged("\"GET /file.txt HTTP/1.1\" 431 0 \"-\" \"-\"") >= 2
    });
    assert!(waited, "two 431s logged: {}", server.log());
    assert!(logged("\"GET /file.txt HTTP/1.1\" 400 0 \"-\" \"-\"") >= 3, "{}", server.log());
    assert!(logged("\"\\x00\\x01\\x02 nonsense\" 400 0") == 1, "{}", server.log());
    // And the server still answers good requests afterwards.
    assert!(
        raw_exchange(&base, b"GET /file.txt HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            .starts_with("HTTP/1.1 200")
    );
}

#[test]
fn precompressed_siblings_are_served_when_the_client_accepts_them() {
    let (_server, base, site) = start();
    let root = site.path().join("root");
    let html = "<p>".repeat(1000);
    std::fs::write(root.join("page.html"), &html).unwrap();
    // The gzip sibling, made by python3's gzip module (a real peer's encoder).
    let made = run(
        "python3",
        "python3",
        &[
            "-c",
            "import gzip,sys; open(sys.argv[2],'wb').write(gzip.compress(open(sys.argv[1],'rb').read()))",
            root.join("page.html").to_str().unwrap(),
            root.join("page.html.gz").to_str().unwrap(),
        ],
        Duration::from_secs(20),
    );
    made.assert_success();
    std::fs::write(root.join("logo.png"), b"\x89PNG not really").unwrap();
    std::fs::write(root.join("logo.png.gz"), b"never served").unwrap();
    let url = format!("{base}/page.html");
    let plain = curl(&["-i", &url]).stdout;
    assert!(
        header(&plain, "content-encoding").is_none()
            && header(&plain, "vary") == Some("Accept-Encoding"),
        "{plain}"
    );
    let gzip = curl(&["-i", "-H", "Accept-Encoding: br;q=1, gzip;q=0.8", &url]).stdout;
    assert_eq!(header(&gzip, "content-encoding"), Some("gzip"), "{gzip}");
    assert_eq!(header(&gzip, "vary"), Some("Accept-Encoding"));
    assert_ne!(header(&gzip, "etag"), header(&plain, "etag"), "each variant has its own tag");
    // curl --compressed decodes it back to the original.
    assert_eq!(curl(&["--compressed", &url]).stdout, html);
    // Already-compressed media are never re-encoded.
    let png = curl(&["-i", "-H", "Accept-Encoding: gzip", &format!("{base}/logo.png")]).stdout;
    assert!(header(&png, "content-encoding").is_none() && png.ends_with("not really"), "{png}");
}

#[test]
fn put_and_delete_only_under_the_prefix_with_the_token() {
    let site = tempfile::tempdir().expect("site dir");
    let root = site.path().join("root");
    std::fs::create_dir_all(root.join("uploads")).unwrap();
    std::fs::write(root.join("keep.txt"), "keep").unwrap();
    let token_file = site.path().join("token");
    std::fs::write(&token_file, "0123456789abcdef-token\n").unwrap();
    let port = free_tcp_port();
    let listen = format!("127.0.0.1:{port}");
    let mut server = Program::new(APPNET, "appnet")
        .args([
            "http",
            "serve",
            "--listen",
            &listen,
            "--uploads",
            "/uploads/",
            "--upload-token-file",
        ])
        .args([&token_file])
        .args(["--max-upload", "1", "--root"])
        .args([&root])
        .start();
    server.wait_ready(Duration::from_secs(20), || {
        wait_for_tcp(listen.parse().unwrap(), Duration::from_millis(100))
    });
    let base = format!("http://{listen}");
    let auth = "Authorization: Bearer 0123456789abcdef-token";
    let url = format!("{base}/uploads/dir/note.txt");
    assert_eq!(status(&["-X", "PUT", "--data-binary", "hello", &url]), "401", "no token");
    assert_eq!(
        status(&["-X", "PUT", "-H", "Authorization: Bearer wrong", "--data-binary", "x", &url]),
        "403"
    );
    assert_eq!(status(&["-X", "PUT", "-H", auth, "--data-binary", "hello", &url]), "201");
    assert_eq!(curl(&[&url]).stdout, "hello");
    assert_eq!(
        status(&["-X", "PUT", "-H", auth, "--data-binary", "again", &url]),
        "204",
        "replaced"
    );
    assert_eq!(curl(&[&url]).stdout, "again");
    assert_eq!(
        status(&["-X", "PUT", "-H", auth, "--data-binary", "x", &format!("{base}/keep.txt")]),
        "405",
        "outside the prefix"
    );
    assert_eq!(status(&["-X", "DELETE", "-H", auth, &format!("{base}/keep.txt")]), "405");
    let big = site.path().join("big");
    std::fs::write(&big, vec![b'x'; 2 << 20]).unwrap();
    let data = format!("@{}", big.display());
    assert_eq!(
        status(&["-X", "PUT", "-H", auth, "--data-binary", &data, &format!("{base}/uploads/big")]),
        "413"
    );
    assert_eq!(status(&["-X", "DELETE", "-H", auth, &url]), "204");
    assert_eq!(status(&[&url]), "404");
    assert_eq!(status(&["-X", "DELETE", "-H", auth, &url]), "404");
    assert_eq!(std::fs::read_to_string(root.join("keep.txt")).unwrap(), "keep");
}

#[test]
fn a_python_cgi_script_sees_its_environment_and_the_posted_body() {
    let site = tempfile::tempdir().expect("site dir");
    let root = site.path().join("root");
    let cgi = site.path().join("cgi");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::create_dir_all(&cgi).unwrap();
    let script = cgi.join("echo.py");
    std::fs::write(
        &script,
        "#!/usr/bin/env python3\nimport os, sys\nbody = sys.stdin.buffer.read(int(os.environ.get('CONTENT_LENGTH') or 0))\n\
         keys = ['GATEWAY_INTERFACE', 'REQUEST_METHOD', 'SCRIPT_NAME', 'PATH_INFO', 'QUERY_STRING', 'CONTENT_TYPE', 'HTTP_X_TEST', 'SERVER_PROTOCOL', 'SERVER_NAME', 'REQUEST_URI', 'REQUEST_SCHEME', 'HTTPS', 'PATH_TRANSLATED', 'DOCUMENT_ROOT']\n\
         sys.stdout.write('Content-Type: text/plain\\r\\nX-Script: echo\\r\\n\\r\\n')\n\
         for k in keys: sys.stdout.write('%s=%s\\n' % (k, os.environ.get(k, '')))\n\
         sys.stdout.write('AUTH=%s\\n' % os.environ.get('HTTP_AUTHORIZATION', 'hidden'))\n\
         sys.stdout.write('BODY=' + body.decode() + '\\n')\n",
    )
    .unwrap();
    std::fs::write(cgi.join("broken.py"), "#!/usr/bin/env python3\nprint('no headers here')\n")
        .unwrap();
    // Local redirects (RFC 3875 §6.2.2): answered by the server as a GET of the path.
    let local = "#!/bin/sh\nprintf 'Location: /cgi-bin/echo.py/from-local\\n\\n'\n";
    std::fs::write(cgi.join("local.sh"), local).unwrap();
    std::fs::write(cgi.join("loop.sh"), "#!/bin/sh\nprintf 'Location: /cgi-bin/loop.sh\\n\\n'\n")
        .unwrap();
    let told = "#!/bin/sh\nprintf 'Status: 302 Moved Along\\nLocation: /elsewhere\\n\\n'\n";
    std::fs::write(cgi.join("told.sh"), told).unwrap();
    for file in ["echo.py", "broken.py", "local.sh", "loop.sh", "told.sh"] {
        make_executable(&cgi.join(file));
    }
    let port = free_tcp_port();
    let listen = format!("127.0.0.1:{port}");
    let mapping = format!("/cgi-bin/={}", cgi.display());
    let mut server = Program::new(APPNET, "appnet")
        .args(["http", "serve", "--listen", &listen, "--cgi", &mapping, "--root"])
        .args([&root])
        .start();
    server.wait_ready(Duration::from_secs(20), || {
        wait_for_tcp(listen.parse().unwrap(), Duration::from_millis(100))
    });
    let url = format!("http://{listen}/cgi-bin/echo.py/extra/path?a=1&b=2");
    let got = curl(&[
        "-i",
        "-H",
        "X-Test: yes",
        "-H",
        "Authorization: Bearer secret",
        "-H",
        "Content-Type: text/plain",
        "--data-binary",
        "posted body",
        &url,
    ]);
    let text = got.stdout;
    assert!(
        text.starts_with("HTTP/1.1 200") && header(&text, "x-script") == Some("echo"),
        "{text}"
    );
    for expected in [
        "GATEWAY_INTERFACE=CGI/1.1",
        "REQUEST_METHOD=POST",
        "SCRIPT_NAME=/cgi-bin/echo.py",
        "PATH_INFO=/extra/path",
        "QUERY_STRING=a=1&b=2",
        "CONTENT_TYPE=text/plain",
        "HTTP_X_TEST=yes",
        "SERVER_PROTOCOL=HTTP/1.1",
        "AUTH=hidden",
        "BODY=posted body",
    ] {
        assert!(text.contains(expected), "{expected} missing:\n{text}");
    }
    // The same over HTTP/2: the body arrives in DATA frames, the protocol is said as nginx does.
    let got = curl(&["--http2-prior-knowledge", "--data-binary", "h2 body", &url]).stdout;
    assert!(got.contains("SERVER_PROTOCOL=HTTP/2.0") && got.contains("BODY=h2 body"), "{got}");
    // A client that asks for `100 Continue` gets it once the script reads the body, over both
    // (curl waits a second for it before sending the body anyway: over HTTP/2 it used to); one
    // whose request is refused unread gets the final answer instead.
    for version in ["--http1.1", "--http2-prior-knowledge"] {
        let expect = ["-v", version, "-H", "Expect: 100-continue", "--expect100-timeout", "5"];
        let mut args = expect.to_vec();
        args.extend(["--data-binary", "waited", "-w", "%{time_total}", &url]);
        let got = curl(&args);
        assert!(got.stdout.contains("BODY=waited"), "{}", got.stdout);
        assert!(!got.stderr.contains("Done waiting for 100-continue"), "{}", got.stderr);
        assert!(got.stderr.contains(" 100"), "a 100 response: {}", got.stderr);
    }
    // Refused unread: the 405 alone, over both (over HTTP/2 the unread body is held a moment
    // rather than reset along with the response, which Debian's curl took for an empty reply).
    let file = format!("http://{listen}/index.html");
    for version in ["--http1.1", "--http2-prior-knowledge"] {
        let refused = curl(&[
            "-v",
            version,
            "-H",
            "Expect: 100-continue",
            "--expect100-timeout",
            "5",
            "--data-binary",
            "refused",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &file,
        ]);
        assert_eq!(refused.stdout, "405", "{}", refused.stderr);
        assert!(!refused.stderr.contains("Done waiting"), "{}", refused.stderr);
    }
    assert_eq!(status(&[&format!("http://{listen}/cgi-bin/broken.py")]), "502");
    assert_eq!(status(&[&format!("http://{listen}/cgi-bin/missing.py")]), "404");
    let local = curl(&["-s", "-i", &format!("http://{listen}/cgi-bin/local.sh")]).stdout;
    assert!(
        local.starts_with("HTTP/1.1 200") && local.contains("PATH_INFO=/from-local"),
        "{local}"
    );
    assert!(local.contains("REQUEST_METHOD=GET"), "{local}");
    assert_eq!(status(&[&format!("http://{listen}/cgi-bin/loop.sh")]), "500");
    let told = curl(&["-s", "-i", &format!("http://{listen}/cgi-bin/told.sh")]).stdout;
    assert!(told.contains("location: /elsewhere"), "{told}");
    // The script's own reason phrase is the status line's (RFC 3875 §6.3.3), on 1.1 and 1.0.
    assert!(told.starts_with("HTTP/1.1 302 Moved Along\r\n"), "{told}");
    let told = curl(&["-s", "-i", "--http1.0", &format!("http://{listen}/cgi-bin/told.sh")]).stdout;
    assert!(told.starts_with("HTTP/1.0 302 Moved Along\r\n"), "{told}");
    // The meta-variables nginx and Apache also set: the name the client asked for, the target
    // as sent, the scheme, PATH_INFO under the root.
    let got = curl(&["-s", "-H", "Host: site.test:8080", &url]).stdout;
    let root_shown = root.display().to_string();
    for expected in [
        "SERVER_NAME=site.test\n".to_owned(),
        "REQUEST_URI=/cgi-bin/echo.py/extra/path?a=1&b=2\n".to_owned(),
        "REQUEST_SCHEME=http\n".to_owned(),
        "HTTPS=\n".to_owned(),
        format!("PATH_TRANSLATED={root_shown}/extra/path\n"),
        format!("DOCUMENT_ROOT={root_shown}\n"),
    ] {
        assert!(got.contains(&expected), "{expected:?} in {got}");
    }
    drop(server);
    // Over TLS (HTTP/1.1 and h2 by ALPN): HTTPS=on.
    let port = free_tcp_port();
    let listen = format!("127.0.0.1:{port}");
    let mut server = Program::new(APPNET, "appnet")
        .args(["http", "serve", "--listen", &listen, "--tls-self-signed", "--cgi", &mapping])
        .args(["--root"])
        .args([&root])
        .start();
    server.wait_ready(Duration::from_secs(20), || {
        wait_for_tcp(listen.parse().unwrap(), Duration::from_millis(100))
    });
    let url = format!("https://localhost:{port}/cgi-bin/echo.py");
    for version in ["--http1.1", "--http2"] {
        let got = curl(&["-s", "-k", version, &url]).stdout;
        assert!(got.contains("HTTPS=on\n") && got.contains("REQUEST_SCHEME=https\n"), "{got}");
        assert!(got.contains("SERVER_NAME=localhost\n"), "{got}");
    }
}

#[test]
fn cgi_output_is_streamed_as_written_and_a_silent_script_is_killed() {
    let site = tempfile::tempdir().expect("site dir");
    let (root, cgi) = (site.path().join("root"), site.path().join("cgi"));
    std::fs::create_dir_all(&root).unwrap();
    std::fs::create_dir_all(&cgi).unwrap();
    let scripts = [
        (
            "slow.py",
            "#!/usr/bin/env python3\nimport sys, time\n\
             sys.stdout.write('Content-Type: text/plain\\r\\n\\r\\nfirst\\n'); sys.stdout.flush()\n\
             time.sleep(1.5)\nsys.stdout.write('second\\n')\n",
        ),
        (
            "stall.py",
            "#!/usr/bin/env python3\nimport os, subprocess, sys, time\n\
             helper = subprocess.Popen(['sleep', '60'])\n\
             open('stall.pid', 'w').write(f'{os.getpid()} {helper.pid}')\n\
             sys.stdout.write('Content-Type: text/plain\\n\\npartial\\n'); sys.stdout.flush()\n\
             time.sleep(60)\n",
        ),
        ("mute.py", "#!/usr/bin/env python3\nimport time\ntime.sleep(60)\n"),
    ];
    for (name, text) in scripts {
        std::fs::write(cgi.join(name), text).unwrap();
        make_executable(&cgi.join(name));
    }
    let listen = format!("127.0.0.1:{}", free_tcp_port());
    let mapping = format!("/cgi-bin/={}", cgi.display());
    let mut server = Program::new(APPNET, "appnet")
        .args(["http", "serve", "--listen", &listen, "--cgi", &mapping, "--cgi-timeout", "2"])
        .args(["--root".as_ref(), root.as_os_str()])
        .start();
    server.wait_ready(Duration::from_secs(20), || {
        wait_for_tcp(listen.parse().unwrap(), Duration::from_millis(100))
    });

    // The first line arrives while the script sleeps; the second when it wakes.
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(&listen).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let started = std::time::Instant::now();
    write!(stream, "GET /cgi-bin/slow.py HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut seen = Vec::new();
    let mut first_at = None;
    let mut buffer = [0; 4096];
    loop {
        let read = stream.read(&mut buffer).unwrap_or(0);
        if read == 0 {
            break;
        }
        seen.extend_from_slice(&buffer[..read]);
        if first_at.is_none() && String::from_utf8_lossy(&seen).contains("first") {
            first_at = Some(started.elapsed());
        }
    }
    let text = String::from_utf8_lossy(&seen);
    let first_at = first_at.unwrap_or_else(|| panic!("no first line: {text}"));
    assert!(first_at < Duration::from_millis(1200), "first line after {first_at:?}");
    assert!(started.elapsed() >= Duration::from_millis(1400), "the whole body waited");
    assert!(
        text.contains("transfer-encoding: chunked") && text.contains("second"),
        "streamed in chunks: {text}"
    );
    assert_eq!(
        curl(&["--http2-prior-knowledge", &format!("http://{listen}/cgi-bin/slow.py")]).stdout,
        "first\nsecond\n"
    );

    // A script silent past --cgi-timeout is killed; the client sees what it sent, cut short.
    let stalled = curl(&[&format!("http://{listen}/cgi-bin/stall.py")]);
    assert_eq!(stalled.stdout, "partial\n", "{stalled:?}");
    assert_ne!(stalled.status, Some(0), "the response is marked incomplete: {stalled:?}");
    // The script and the process it started (which holds its stdout open too) are killed.
    let pids = std::fs::read_to_string(cgi.join("stall.pid")).expect("the script's pids");
    let gone = |pid: &str| {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map_or(true, |stat| stat.split_whitespace().nth(2) == Some("Z"))
    };
    for pid in pids.split_whitespace() {
        let killed = appnet_testkit::wait_until(Duration::from_secs(5), || gone(pid));
        assert!(killed, "process {pid} of {pids} was killed");
    }
    // Silent before its headers: 504.
    let mute = curl(&[
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        &format!("http://{listen}/cgi-bin/mute.py"),
    ]);
    assert_eq!(mute.stdout, "504", "{mute:?}");
    // Streamed output has no length ahead; the log counts what was sent, on either protocol.
    let log = server.log();
    assert!(log.contains("\"GET /cgi-bin/slow.py HTTP/1.1\" 200 13 "), "{log}");
    assert!(log.contains("\"GET /cgi-bin/slow.py HTTP/2.0\" 200 13 "), "{log}");
    assert!(log.contains("\"GET /cgi-bin/stall.py HTTP/1.1\" 200 8 "), "{log}");
    drop(server);
}

#[test]
fn more_real_clients_two_listen_addresses_an_openssl_certificate_pipelining_and_limits() {
    let site = tempfile::tempdir().expect("site dir");
    let (root, cgi) = (site.path().join("root"), site.path().join("cgi"));
    std::fs::create_dir_all(&root).unwrap();
    std::fs::create_dir_all(&cgi).unwrap();
    std::fs::write(root.join("file.txt"), BODY).unwrap();
    let echo = "#!/usr/bin/env python3\nimport os, sys\nbody = sys.stdin.buffer.read()\n\
                print('Content-Type: text/plain\\r\\n\\r\\n' + str(len(body)) + ' ' + \
                os.environ.get('CONTENT_LENGTH', '-'), end='')\n";
    std::fs::write(cgi.join("echo.py"), echo).unwrap();
    make_executable(&cgi.join("echo.py"));
    // A certificate made by openssl, as an operator would bring one.
    let (cert, key) = appnet_testkit::openssl_localhost_certificate(site.path());
    let port = free_tcp_port();
    let (v4, v6) = (format!("127.0.0.1:{port}"), format!("[::1]:{port}"));
    let mapping = format!("/cgi-bin/={}", cgi.display());
    let mut server = Program::new(APPNET, "appnet")
        .args(["http", "serve", "--no-access-log", "--listen", &v4, "--listen", &v6])
        .args(["--cgi", &mapping, "--root"])
        .args([&root])
        .start();
    server.wait_ready(Duration::from_secs(20), || {
        wait_for_tcp(v4.parse().unwrap(), Duration::from_millis(100))
    });
    for base in [format!("http://{v4}"), format!("http://{v6}")] {
        let got = curl(&["-s", "-g", &format!("{base}/file.txt")]);
        assert_eq!(got.stdout, BODY, "{base}: {got:?}");
    }
    // HTTP/1.1 pipelining from a real client: h2load --h1 writes 10 requests at a time.
    let pipelined = run(
        "h2load",
        "nghttp2-client",
        &["--h1", "-n", "200", "-c", "2", "-m", "10", &format!("http://{v4}/file.txt")],
        Duration::from_secs(60),
    );
    assert!(pipelined.stdout.contains("200 succeeded, 0 failed, 0 errored"), "{pipelined:?}");
    // A chunked upload from curl reaches the script whole, with its length.
    let body = "x".repeat(100_000);
    let chunked = curl(&[
        "-s",
        "-H",
        "Transfer-Encoding: chunked",
        "--data-binary",
        &body,
        &format!("http://{v4}/cgi-bin/echo.py"),
    ]);
    assert_eq!(chunked.stdout, "100000 100000", "{chunked:?}");
    // A body past the 16 MiB a script may be given: 413, the script never run with it.
    let upload = site.path().join("upload.bin");
    std::fs::write(&upload, vec![b'x'; (16 << 20) + 1]).unwrap();
    let too_big = curl(&[
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--data-binary",
        &format!("@{}", upload.display()),
        &format!("http://{v4}/cgi-bin/echo.py"),
    ]);
    assert_eq!(too_big.stdout, "413", "{too_big:?}");
    // HTTP/2's header list limit: 431, as HTTP/1's.
    let big = format!("X-Big: {}", "a".repeat(20_000));
    for version in ["--http1.1", "--http2-prior-knowledge"] {
        let got = curl(&[
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            version,
            "-H",
            &big,
            &format!("http://{v4}/file.txt"),
        ]);
        assert_eq!(got.stdout, "431", "{version}: {got:?}");
    }
    drop(server);
    // --tls-cert and --tls-key: curl believes the certificate given to it, over both versions,
    // and conditional and range requests work as in cleartext.
    let mut server = Program::new(APPNET, "appnet")
        .args(["http", "serve", "--no-access-log", "--listen", &v4, "--root"])
        .args([root.as_os_str()])
        .args(["--tls-cert".as_ref(), cert.as_os_str(), "--tls-key".as_ref(), key.as_os_str()])
        .start();
    server.wait_ready(Duration::from_secs(20), || {
        wait_for_tcp(v4.parse().unwrap(), Duration::from_millis(100))
    });
    let url = format!("https://localhost:{port}/file.txt");
    let trust = ["--cacert", cert.to_str().unwrap()];
    for version in ["--http1.1", "--http2"] {
        let mut args = trust.to_vec();
        args.extend(["-s", "-D", "-", version, &url]);
        let got = curl(&args).stdout;
        assert!(got.ends_with(BODY), "{version}: {got}");
        let etag = header(&got, "etag").expect("ETag").to_owned();
        let inm = format!("If-None-Match: {etag}");
        let mut args = trust.to_vec();
        args.extend(["-s", "-o", "/dev/null", "-w", "%{http_code}", version, "-H", &inm, &url]);
        assert_eq!(curl(&args).stdout, "304", "{version}");
        let mut args = trust.to_vec();
        args.extend(["-s", version, "-r", "10-15", &url]);
        assert_eq!(curl(&args).stdout, &BODY[10..16], "{version}");
    }
    drop(server);
}

#[test]
fn a_config_file_sets_cache_rules_and_preload_links_per_path() {
    let (server, listen, _site, config) = start_with_rules(
        "[[http.server.rule]]\nmatch = \"=/page.html\"\nexpires = \"epoch\"\n\
         preload = [\"/static/site.css\", \"/static/logo.png\"]\n\n\
         [[http.server.rule]]\nmatch = \"*.css\"\nexpires = \"30d\"\n\
         cache_control = \"public, max-age=2592000, immutable\"\n\n\
         [[http.server.rule]]\nmatch = \"/static/\"\nexpires = \"1h\"\n",
    );
    let config_arg = config.to_str().expect("utf-8 path");
    let base = format!("http://{listen}");
    let head = |path: &str, extra: &[&str]| {
        let url = format!("{base}{path}");
        let mut args = vec!["-D", "-", "-o", "/dev/null"];
        args.extend_from_slice(extra);
        args.push(&url);
        curl(&args).stdout
    };
    // Over HTTP/1.1 the page's links come twice: in a 103 Early Hints first, then on the page.
    let both = head("/page.html", &[]);
    let (hints, page) = both.split_once("\r\n\r\n").expect("two heads");
    assert!(hints.starts_with("HTTP/1.1 103 Early Hints\r\n"), "{both}");
    assert!(page.starts_with("HTTP/1.1 200 OK"), "{both}");
    assert_eq!(header(page, "cache-control"), Some("no-cache"), "{page}");
    assert_eq!(header(page, "expires"), Some("Thu, 01 Jan 1970 00:00:01 GMT"));
    let links = |head: &str| -> Vec<String> {
        head.lines()
            .filter_map(|l| l.strip_prefix("link: ").or_else(|| l.strip_prefix("Link: ")))
            .map(|l| l.trim_end().to_owned())
            .collect()
    };
    let expected =
        ["</static/site.css>; rel=preload; as=style", "</static/logo.png>; rel=preload; as=image"];
    assert_eq!(links(page), expected, "{page}");
    assert_eq!(links(hints), expected, "{hints}");
    // HTTP/1.0 clients never get a 1xx (RFC 9110 §15.2).
    let old = head("/page.html", &["--http1.0"]);
    assert!(old.starts_with("HTTP/1.0 200") && !old.contains(" 103 "), "{old}");
    // The first matching rule wins: *.css before /static/.
    let css = head("/static/site.css", &[]);
    assert_eq!(header(&css, "cache-control"), Some("public, max-age=2592000, immutable"), "{css}");
    let png = head("/static/logo.png", &[]);
    assert_eq!(header(&png, "cache-control"), Some("max-age=3600"), "{png}");
    let expires = httpdate_seconds(header(&png, "expires").expect("Expires"));
    let date = httpdate_seconds(header(&png, "date").expect("Date"));
    assert_eq!(expires - date, 3600, "{png}");
    // A 304 carries the same caching fields (RFC 9110 §15.4.5).
    let etag = header(&png, "etag").expect("ETag").to_owned();
    let revalidated = head("/static/logo.png", &["-H", &format!("If-None-Match: {etag}")]);
    assert!(revalidated.starts_with("HTTP/1.1 304"), "{revalidated}");
    assert_eq!(header(&revalidated, "cache-control"), Some("max-age=3600"));
    drop(server);

    // A mistake in the file is reported with its line.
    std::fs::write(&config, "[http.server]\nroot = \"x\"\n[[http.server.rule]]\nmatcher = \"/\"\n")
        .unwrap();
    let bad =
        run(APPNET, "appnet", &["http", "serve", "--config", config_arg], Duration::from_secs(10));
    assert_ne!(bad.status, Some(0));
    assert!(bad.stderr.contains("appnet.toml:4"), "{}", bad.stderr);
    std::fs::write(&config, "[http.server]\nroot = \"x\"\nlisten = [\"127.0.0.1:1\"]\n[[http.server.rule]]\nmatch = \"static\"\n").unwrap();
    let bad =
        run(APPNET, "appnet", &["http", "serve", "--config", config_arg], Duration::from_secs(10));
    assert!(bad.stderr.contains("expected /PREFIX, *.EXT or =/PATH"), "{}", bad.stderr);
}

#[test]
fn http2_pages_get_early_hints_and_pushes_of_their_preloads() {
    let (_server, listen, _site, _config) = start_with_rules(
        "[[http.server.rule]]\nmatch = \"=/page.html\"\n\
         preload = [\"/static/site.css\", \"/static/logo.png\", \"https://cdn.test/x.js\"]\n",
    );
    let nghttp = |extra: &[&str], path: &str| {
        let url = format!("http://{listen}{path}");
        let mut args = vec!["-nv"];
        args.extend_from_slice(extra);
        args.push(&url);
        let out = run("nghttp", "nghttp2-client", &args, Duration::from_secs(20));
        assert_eq!(out.status, Some(0), "{out:?}");
        out.stdout
    };
    let frames = nghttp(&[], "/page.html");
    let statuses: Vec<&str> = frames
        .lines()
        .filter(|l| l.ends_with(":status: 103") || l.ends_with(":status: 200"))
        .collect();
    // The hints come first, then the two pushed responses and the page, in any order.
    assert!(statuses.first().is_some_and(|l| l.ends_with("103")), "{frames}");
    assert_eq!(statuses.len(), 4, "103, two pushes and the page:\n{frames}");
    let hinted: Vec<&str> = frames
        .lines()
        .take_while(|l| !l.contains("recv HEADERS frame"))
        .filter_map(|l| l.split_once(") link: ").map(|(_, v)| v))
        .collect();
    assert_eq!(
        hinted,
        [
            "</static/site.css>; rel=preload; as=style",
            "</static/logo.png>; rel=preload; as=image",
            "<https://cdn.test/x.js>; rel=preload; as=script"
        ],
        "{frames}"
    );
    // Same-site preloads are pushed; another site's is only hinted.
    assert_eq!(frames.matches("recv PUSH_PROMISE frame").count(), 2, "{frames}");
    for path in ["/static/site.css", "/static/logo.png"] {
        assert!(frames.contains(&format!(":path: {path}")), "{frames}");
    }
    assert!(frames.contains("content-type: text/css"), "the pushed stylesheet: {frames}");
    // A client that refuses push still gets the hints.
    let no_push = nghttp(&["--no-push"], "/page.html");
    assert_eq!(no_push.matches("recv PUSH_PROMISE frame").count(), 0, "{no_push}");
    assert!(no_push.contains(":status: 103"), "{no_push}");
    // A page no rule covers gets neither.
    let other = nghttp(&[], "/other.html");
    assert!(!other.contains(":status: 103") && !other.contains("PUSH_PROMISE"), "{other}");
    // curl shows the hints before the response.
    let url = format!("http://{listen}/page.html");
    let verbose = curl(&["-sv", "-o", "/dev/null", "--http2-prior-knowledge", &url]).stderr;
    let hints = verbose.find("< HTTP/2 103").expect("curl sees 103 Early Hints");
    let page = verbose.find("< HTTP/2 200").expect("and then the page");
    assert!(hints < page, "{verbose}");
}

#[test]
fn sigterm_lets_requests_in_flight_finish_and_closes_idle_connections() {
    use std::io::{Read, Write};
    let site = tempfile::tempdir().expect("site dir");
    let (root, cgi) = (site.path().join("root"), site.path().join("cgi"));
    std::fs::create_dir_all(&root).unwrap();
    std::fs::create_dir_all(&cgi).unwrap();
    let script = cgi.join("slow.py");
    std::fs::write(
        &script,
        "#!/usr/bin/env python3\nimport sys, time\ntime.sleep(1.5)\n\
         sys.stdout.write('Content-Type: text/plain\\r\\n\\r\\nfinished\\n')\n",
    )
    .unwrap();
    make_executable(&script);
    let listen = format!("127.0.0.1:{}", free_tcp_port());
    let mapping = format!("/cgi-bin/={}", cgi.display());
    let mut server = Program::new(APPNET, "appnet")
        .args(["http", "serve", "--listen", &listen, "--cgi", &mapping])
        .args(["--root".as_ref(), root.as_os_str()])
        .start();
    server.wait_ready(Duration::from_secs(20), || {
        wait_for_tcp(listen.parse().unwrap(), Duration::from_millis(100))
    });
    // An idle keep-alive connection (HTTP/1), and one slow request on each protocol.
    let idle = std::net::TcpStream::connect(&listen).unwrap();
    let url = format!("http://{listen}/cgi-bin/slow.py");
    let slow = |extra: &'static str| {
        let url = url.clone();
        std::thread::spawn(move || curl(&["-s", "--max-time", "20", extra, &url]).stdout)
    };
    let (http1, http2) = (slow("--http1.1"), slow("--http2-prior-knowledge"));
    // A request with a body is hyper's to serve (not the fast path's): it finishes too.
    let posted = {
        let url = url.clone();
        std::thread::spawn(move || curl(&["-s", "--max-time", "20", "-d", "x=1", &url]).stdout)
    };
    let mut raw = std::net::TcpStream::connect(&listen).unwrap();
    write!(raw, "GET /cgi-bin/slow.py HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let stopped_at = std::time::Instant::now();
    server.signal(appnet_testkit::signal::SIGTERM);
    assert_eq!(http1.join().unwrap(), "finished\n", "HTTP/1.1 request in flight");
    assert_eq!(http2.join().unwrap(), "finished\n", "HTTP/2 request in flight");
    assert_eq!(posted.join().unwrap(), "finished\n", "a POST in flight, through hyper");
    // The kept-alive connection gets its response, then is closed rather than kept.
    raw.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut reply = String::new();
    let _ = raw.read_to_string(&mut reply);
    assert!(reply.starts_with("HTTP/1.1 200") && reply.contains("finished\n"), "{reply}");
    assert!(reply.contains("connection: close\r\n"), "{reply}");
    // The idle connection did not hold the shutdown up (the grace period is 30 s).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while server.is_running() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!server.is_running(), "the server is still running after SIGTERM");
    assert!(stopped_at.elapsed() < Duration::from_secs(5), "{:?}", stopped_at.elapsed());
    drop(idle);
}

/// The server from a config file with `rules` (`[[http.server.rule]]` tables), serving a site
/// of page.html, other.html, static/site.css and static/logo.png: the server, its address,
/// the site directory and the config file's path.
fn start_with_rules(rules: &str) -> (RunningProgram, String, tempfile::TempDir, PathBuf) {
    let site = tempfile::tempdir().expect("site dir");
    let root = site.path().join("root");
    std::fs::create_dir_all(root.join("static")).unwrap();
    std::fs::write(root.join("page.html"), "<h1>page</h1>").unwrap();
    std::fs::write(root.join("other.html"), "<h1>other</h1>").unwrap();
    std::fs::write(root.join("static/site.css"), "h1 { color: red }").unwrap();
    std::fs::write(root.join("static/logo.png"), [0x89, b'P', b'N', b'G']).unwrap();
    let listen = format!("127.0.0.1:{}", free_tcp_port());
    let config = site.path().join("appnet.toml");
    let head = format!("[http.server]\nroot = \"{}\"\nlisten = [\"{listen}\"]\n\n", root.display());
    std::fs::write(&config, head + rules).unwrap();
    let config_arg = config.to_str().expect("utf-8 path");
    let mut server =
        Program::new(APPNET, "appnet").args(["http", "serve", "--config", config_arg]).start();
    server.wait_ready(Duration::from_secs(20), || {
        wait_for_tcp(listen.parse().unwrap(), Duration::from_millis(100))
    });
    (server, listen, site, config)
}

/// chmod 755, so the server may run `path` as a CGI script.
fn make_executable(path: &std::path::Path) {
    let mut permissions = std::fs::metadata(path).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(path, permissions).unwrap();
}

/// Seconds since 1970 of an HTTP date, for comparing two header fields.
fn httpdate_seconds(date: &str) -> u64 {
    let time = httpdate::parse_http_date(date).expect("an HTTP date");
    time.duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_secs()
}

#[test]
fn text_without_a_sibling_is_compressed_on_the_fly_and_the_copy_kept() {
    let (server, base, site) = start();
    let root = site.path().join("root");
    let page = "<p>compressed on the fly by appnet</p>\n".repeat(300);
    std::fs::write(root.join("page.html"), &page).unwrap();
    std::fs::write(root.join("tiny.txt"), "small").unwrap();
    std::fs::write(root.join("photo.png"), vec![7u8; 4000]).unwrap();
    let url = format!("{base}/page.html");
    let fetch = |coding: &str, extra: &[&str]| {
        let accept = format!("Accept-Encoding: {coding}");
        let mut args = vec!["-D", "-", "-o", "/dev/null", "-H", &accept];
        args.extend_from_slice(extra);
        args.push(&url);
        curl(&args).stdout
    };
    let mut etags = Vec::new();
    for coding in ["br", "zstd", "gzip"] {
        let head = fetch(coding, &[]);
        assert_eq!(header(&head, "content-encoding"), Some(coding), "{head}");
        assert_eq!(header(&head, "vary"), Some("Accept-Encoding"));
        let length: usize = header(&head, "content-length").unwrap().parse().unwrap();
        assert!(length * 10 < page.len(), "{coding}: {length} of {}", page.len());
        let etag = header(&head, "etag").unwrap().to_owned();
        assert!(etag.ends_with(&format!("-{coding}\"")), "{etag}");
        // curl decodes what it asked for: the same page comes out.
        let decoded = curl(&["--compressed", "-H", &format!("Accept-Encoding: {coding}"), &url]);
        assert_eq!(decoded.stdout, page, "{coding}");
        // The coded representation revalidates against its own ETag.
        let inm = format!("If-None-Match: {etag}");
        assert!(fetch(coding, &["-H", &inm]).starts_with("HTTP/1.1 304"));
        etags.push(etag);
    }
    assert!(etags[0] != etags[1] && etags[1] != etags[2], "{etags:?}");
    // A range is served from the file as it is; so are small files, images and no-coding clients.
    let ranged = fetch("br", &["-r", "0-9"]);
    assert!(ranged.starts_with("HTTP/1.1 206") && header(&ranged, "content-encoding").is_none());
    assert!(header(&fetch("identity", &[]), "content-encoding").is_none());
    for (file, coding) in [("tiny.txt", "br"), ("photo.png", "gzip")] {
        let head = curl(&[
            "-D",
            "-",
            "-o",
            "/dev/null",
            "-H",
            &format!("Accept-Encoding: {coding}"),
            &format!("{base}/{file}"),
        ])
        .stdout;
        assert!(header(&head, "content-encoding").is_none(), "{file}: {head}");
    }
    // An edited file is compressed afresh, never served from the old copy.
    let edited = "<p>a new version of the page</p>\n".repeat(300);
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(root.join("page.html"), &edited).unwrap();
    let decoded = curl(&["--compressed", "-H", "Accept-Encoding: br", &url]);
    assert_eq!(decoded.stdout, edited);
    drop(server);
}

#[test]
fn files_kept_between_requests_are_served_new_as_soon_as_they_change_on_disk() {
    let (_server, base, site) = start();
    let root = site.path().join("root");
    let url = format!("{base}/file.txt");
    // Larger files are held open instead of copied.
    let big_url = format!("{base}/big.txt");
    std::fs::write(root.join("big.txt"), "a".repeat(100_000)).unwrap();
    // A file is kept once its change time is a second old.
    std::thread::sleep(Duration::from_millis(1200));
    for _ in 0..3 {
        assert_eq!(curl(&[&url]).stdout, BODY);
        assert_eq!(curl(&[&big_url]).stdout, "a".repeat(100_000));
    }
    std::fs::write(root.join("big.tmp"), "b".repeat(100_000)).unwrap();
    std::fs::rename(root.join("big.tmp"), root.join("big.txt")).unwrap();
    assert_eq!(curl(&[&big_url]).stdout, "b".repeat(100_000), "a held-open file renamed over");
    assert_eq!(curl(&["-r", "5-9", &big_url]).stdout, "bbbbb");
    let settle = || std::thread::sleep(Duration::from_millis(1200));

    // Rewritten in place with as many bytes, its modification time put back.
    let modified = std::fs::metadata(root.join("file.txt")).unwrap().modified().unwrap();
    let same_size: String = BODY.chars().rev().collect();
    std::fs::write(root.join("file.txt"), &same_size).unwrap();
    let file = std::fs::File::options().write(true).open(root.join("file.txt")).unwrap();
    file.set_modified(modified).unwrap();
    assert_eq!(curl(&[&url]).stdout, same_size, "rewritten in place");

    // Replaced by rename, as deploy tools do.
    settle();
    assert_eq!(curl(&[&url]).stdout, same_size);
    std::fs::write(root.join("next.tmp"), BODY).unwrap();
    std::fs::rename(root.join("next.tmp"), root.join("file.txt")).unwrap();
    assert_eq!(curl(&[&url]).stdout, BODY, "renamed over");

    // Replaced by a symlink out of the root, then removed.
    settle();
    assert_eq!(curl(&[&url]).stdout, BODY);
    std::fs::remove_file(root.join("file.txt")).unwrap();
    std::os::unix::fs::symlink(site.path().join("secret.txt"), root.join("file.txt")).unwrap();
    let code = status(&[&url]);
    assert!(code == "403" || code == "404", "a symlink out of the root: {code}");
    std::fs::remove_file(root.join("file.txt")).unwrap();
    assert_eq!(status(&[&url]), "404", "removed");

    // A directory is kept too (that it is one), and its index on its own.
    let docs = format!("{base}/docs/");
    assert_eq!(curl(&[&docs]).stdout, "<h1>docs</h1>");
    std::fs::remove_file(root.join("docs/index.html")).unwrap();
    assert_eq!(status(&[&docs]), "404", "its index removed");
    std::fs::write(root.join("docs/index.html"), "<h1>new</h1>").unwrap();
    assert_eq!(curl(&[&docs]).stdout, "<h1>new</h1>", "and put back");
    std::fs::remove_dir_all(root.join("docs")).unwrap();
    std::fs::write(root.join("docs"), "now a file").unwrap();
    assert_eq!(curl(&[&format!("{base}/docs")]).stdout, "now a file", "a file in its place");
}

/// Resident memory of process `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|line| line.starts_with("VmRSS:")).expect("VmRSS");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// An idle keep-alive connection costs the server little memory: between requests it holds no
/// buffer (the response buffer of a 20 KB file was kept by every idle connection: 14–20 KiB
/// each; now ~2).
#[test]
fn idle_keep_alive_connections_hold_no_buffers() {
    use std::io::{Read, Write};
    let (server, base, site) = start();
    let body = vec![b'x'; 20_000];
    std::fs::write(site.path().join("root/big.bin"), &body).unwrap();
    assert_eq!(status(&[&format!("{base}/big.bin")]), "200", "served once, so it is cached");
    let addr = base.trim_start_matches("http://").to_owned();
    let before = rss_kib(server.pid());
    const CONNECTIONS: u64 = 400;
    let mut open = Vec::new();
    for _ in 0..CONNECTIONS {
        let mut stream = std::net::TcpStream::connect(&addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        stream.write_all(b"GET /big.bin HTTP/1.1\r\nHost: test\r\n\r\n").unwrap();
        // The whole response: its head, then every byte of the body.
        let whole = |r: &[u8]| {
            r.windows(4)
                .position(|w| w == b"\r\n\r\n")
                .is_some_and(|h| r.len() >= h + 4 + body.len())
        };
        let mut response = Vec::new();
        let mut chunk = [0; 8192];
        while !whole(&response) {
            let n = stream.read(&mut chunk).unwrap();
            assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&response));
            response.extend_from_slice(&chunk[..n]);
        }
        open.push(stream);
    }
    std::thread::sleep(Duration::from_millis(200));
    let per_connection = rss_kib(server.pid()).saturating_sub(before) as f64 / CONNECTIONS as f64;
    eprintln!("{per_connection:.1} KiB of the server's memory per idle connection");
    assert!(per_connection < 6.0, "{per_connection:.1} KiB per idle keep-alive connection");
    drop(open);
}

#[test]
fn a_cgi_directory_under_the_root_is_run_never_served_and_proxy_is_not_passed() {
    let site = tempfile::tempdir().expect("site dir");
    let root = site.path();
    let cgi = root.join("cgi-bin");
    std::fs::create_dir_all(&cgi).unwrap();
    std::fs::write(
        cgi.join("env.py"),
        "#!/usr/bin/env python3\n# SOURCE-MARKER\nimport os\n\
         print('Content-Type: text/plain\\r\\n\\r\\nran')\n\
         print('PROXY=' + os.environ.get('HTTP_PROXY', 'none'))\n\
         print('UNDERSCORE=' + os.environ.get('HTTP_X_A', 'none'))\n",
    )
    .unwrap();
    make_executable(&cgi.join("env.py"));
    let port = free_tcp_port();
    let listen = format!("127.0.0.1:{port}");
    let same = format!("/cgi-bin/={}", cgi.display());
    let other = format!("/scripts/={}", cgi.display());
    let mut server = Program::new(APPNET, "appnet")
        .args(["http", "serve", "--no-access-log", "--listen", &listen, "--root"])
        .args([root])
        .args(["--cgi", &same, "--cgi", &other])
        .start();
    server.wait_ready(Duration::from_secs(20), || {
        wait_for_tcp(listen.parse().unwrap(), Duration::from_millis(100))
    });
    // Every spelling of the script's path runs it; none sends its source.
    for path in [
        "/cgi-bin/env.py",
        "//cgi-bin/env.py",
        "/cgi%2Dbin/env.py",
        "/cgi%2dbin/env%2Epy",
        "/./cgi-bin/env.py",
        "/cgi-bin/./env.py",
        "/cgi-bin//env.py",
        "/scripts/env.py",
    ] {
        let url = format!("http://{listen}{path}");
        let got = curl(&["-s", "-i", "--path-as-is", &url]).stdout;
        assert!(!got.contains("SOURCE-MARKER"), "{path} sent the script's source: {got}");
        assert!(got.starts_with("HTTP/1.1 200") && got.contains("\r\n\r\nran"), "{path}: {got}");
    }
    // The directory's files under another name than its prefix: refused, not sent.
    let mapped = format!("/scripts/={}", cgi.display());
    drop(server);
    let mut server = Program::new(APPNET, "appnet")
        .args(["http", "serve", "--no-access-log", "--listen", &listen, "--root"])
        .args([root])
        .args(["--cgi", &mapped])
        .start();
    server.wait_ready(Duration::from_secs(20), || {
        wait_for_tcp(listen.parse().unwrap(), Duration::from_millis(100))
    });
    let got = curl(&["-s", "-i", &format!("http://{listen}/cgi-bin/env.py")]).stdout;
    assert!(got.starts_with("HTTP/1.1 403") && !got.contains("SOURCE-MARKER"), "{got}");
    // httpoxy: a client's `Proxy:` never becomes the script's HTTP_PROXY; `X_A` is not `X-A`.
    let url = format!("http://{listen}/scripts/env.py");
    let got = curl(&["-s", "-H", "Proxy: http://evil.test:1", "-H", "X_A: forged", &url]).stdout;
    assert!(got.contains("PROXY=none") && got.contains("UNDERSCORE=none"), "{got}");
    drop(server);
}

#[test]
fn a_refused_upload_over_http2_reaches_curl_whole() {
    let (_server, base, _site) = start();
    let file = format!("{base}/file.txt");
    // Refused unread (405): the response must reach curl before any reset of the stream.
    // Held for a moment, it did in 300 of 300; reset at once, 1 in 100 failed here (exit 92),
    // 8 in 30 on a busier machine.
    for round in 0..200 {
        let got = curl(&[
            "--http2-prior-knowledge",
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_version} %{http_code}",
            "--data-binary",
            "x=1",
            &file,
        ]);
        assert_eq!((got.status, got.stdout.as_str()), (Some(0), "2 405"), "round {round}: {got:?}");
    }
}

/// Reads from `stream` until the server closes it: what came, and how long that took.
fn read_to_close(stream: &mut std::net::TcpStream) -> (Vec<u8>, Duration) {
    use std::io::Read;
    stream.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let start = std::time::Instant::now();
    let mut got = Vec::new();
    let mut buffer = [0; 65536];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return (got, start.elapsed()),
            Ok(n) => got.extend_from_slice(&buffer[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return (got, start.elapsed());
            }
            Err(e) => panic!("not closed after {:?}: {e}; got {got:?}", start.elapsed()),
        }
    }
}

#[test]
fn slow_and_silent_clients_are_timed_out_and_the_connection_cap_holds() {
    use std::io::Write;
    use std::net::TcpStream;
    let site = tempfile::tempdir().expect("site dir");
    let (root, cgi) = (site.path().join("root"), site.path().join("cgi"));
    std::fs::create_dir_all(&root).unwrap();
    std::fs::create_dir_all(&cgi).unwrap();
    std::fs::write(root.join("file.txt"), "hi\n").unwrap();
    std::fs::write(cgi.join("ok"), "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\nok'\n")
        .unwrap();
    make_executable(&cgi.join("ok"));
    let port = free_tcp_port();
    let listen = format!("127.0.0.1:{port}");
    let mapping = format!("/cgi-bin/={}", cgi.display());
    let mut server = Program::new(APPNET, "appnet")
        .args(["http", "serve", "--no-access-log", "--listen", &listen, "--cgi", &mapping])
        .args(["--idle-timeout", "1", "--body-timeout", "1", "--header-timeout", "3"])
        .args(["--max-connections", "2", "--root"])
        .args([&root])
        .start();
    server.wait_ready(Duration::from_secs(20), || {
        wait_for_tcp(listen.parse().unwrap(), Duration::from_millis(100))
    });
    let connect = || TcpStream::connect(&listen).unwrap();
    let quick = Duration::from_secs(6);
    // HTTP/2 with no stream open: GOAWAY (frame type 7), then the close.
    let mut h2 = connect();
    h2.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0").unwrap();
    let (got, took) = read_to_close(&mut h2);
    assert!(took < quick, "idle h2c held {took:?}");
    assert!(got.windows(4).any(|w| w[3] == 7 && w[..3] == [0, 0, 8]), "GOAWAY in {got:?}");
    // HTTP/1.1 kept alive, then idle.
    let mut h1 = connect();
    h1.write_all(b"GET /file.txt HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
    let (got, took) = read_to_close(&mut h1);
    assert!(got.starts_with(b"HTTP/1.1 200") && took < quick, "{took:?} {got:?}");
    // A head that stops coming: closed.
    let mut head = connect();
    head.write_all(b"GET /file.txt HTTP/1.1\r\nHo").unwrap();
    let (_, took) = read_to_close(&mut head);
    assert!(took < quick, "a stalled head held {took:?}");
    // A body that stops coming: 408.
    let mut body = connect();
    body.write_all(b"POST /cgi-bin/ok HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nx")
        .unwrap();
    let (got, took) = read_to_close(&mut body);
    assert!(got.starts_with(b"HTTP/1.1 408") && took < quick, "{took:?} {got:?}");
    // A malformed chunked body: 400, not 413.
    let mut chunked = connect();
    chunked
        .write_all(
            b"POST /cgi-bin/ok HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        )
        .unwrap();
    let (got, _) = read_to_close(&mut chunked);
    assert!(got.starts_with(b"HTTP/1.1 400"), "{got:?}");
    // Two connections are the cap: a third client waits until one goes.
    let held = [connect(), connect()];
    std::thread::sleep(Duration::from_millis(200));
    let url = format!("http://{listen}/file.txt");
    let waited = curl(&["-s", "-m", "1", "-o", "/dev/null", &url]);
    assert_eq!(waited.status, Some(28), "past the cap: {waited:?}");
    drop(held);
    let served = curl(&["-s", "-m", "5", "-w", "%{http_code}", "-o", "/dev/null", &url]);
    assert_eq!(served.stdout, "200", "{served:?}");
}
