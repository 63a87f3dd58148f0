//! `appnet http load` against real servers: our origin (HTTP/1.x, h2c, TLS with h2) and nginx;
//! the resources it finds are the ones headless Chromium fetches for the same page; the HAR
//! validates against the HAR 1.2 JSON schema and the waterfall has a row per request.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use appnet_testkit::{CommandOutput, Program, RunningProgram, free_tcp_port, run, wait_for_tcp};

const APPNET: &str = env!("CARGO_BIN_EXE_appnet");

/// A page with a stylesheet that imports another and has a background, a script, images (one
/// with a srcset) and a preloaded font: 10 requests in all. (No icon: headless Chromium does
/// not fetch icons, so the comparison with it would differ; icons are in the unit tests.)
fn write_site(root: &Path) {
    let write = |path: &str, contents: &[u8]| {
        let file = root.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, contents).unwrap();
    };
    write(
        "index.html",
        b"<!DOCTYPE html><html><head>\
          <link rel=stylesheet href=css/site.css><script src=js/app.js></script>\
          <link rel=preload href=fonts/f.woff2 as=font type=font/woff2 crossorigin></head>\
          <body><h1 class=hero>appnet</h1><img src=img/a.png><img src=img/b.png>\
          <img src=img/c.png srcset=\"img/c.png 1x\"><img src=img/d.png></body></html>",
    );
    write("css/site.css", b"@import url(reset.css);\n.hero { background: url(../img/bg.png) }\n");
    write("css/reset.css", b"h1 { margin: 0 }\n");
    write("js/app.js", b"document.title = 'loaded';\n");
    for image in ["img/a.png", "img/b.png", "img/c.png", "img/d.png", "img/bg.png"] {
        write(image, PNG);
    }
    write("fonts/f.woff2", b"wOF2 not really a font");
    write("docs/index.html", b"<!DOCTYPE html><title>docs</title><img src=../img/a.png>");
}

/// Real PNG headers so Chromium decodes and keeps them (1x1 pixel).
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\rIDATx\x9cc\xf8\x0f\0\0\x01\x01\0\x05\x18\xd8N\0\0\0\0IEND\xaeB`\x82";

const EXPECTED: [&str; 10] = [
    "/",
    "/css/site.css",
    "/js/app.js",
    "/fonts/f.woff2",
    "/img/a.png",
    "/img/b.png",
    "/img/c.png",
    "/img/d.png",
    "/css/reset.css",
    "/img/bg.png",
];

fn expected() -> BTreeSet<String> {
    EXPECTED.iter().map(|p| (*p).to_owned()).collect()
}

fn serve(root: &Path, extra: &[&str]) -> (RunningProgram, u16) {
    let port = free_tcp_port();
    let listen = format!("127.0.0.1:{port}");
    let mut server = Program::new(APPNET, "appnet")
        .args(["http", "serve", "--listen", &listen, "--root"])
        .args([root.as_os_str()])
        .args(extra.iter().copied())
        .start();
    server.wait_ready(Duration::from_secs(20), || {
        wait_for_tcp(listen.parse().unwrap(), Duration::from_millis(100))
    });
    (server, port)
}

/// `appnet dns ARGS --listen` on a free loopback port (UDP and TCP), once it listens, and its
/// address.
fn dns_server(args: &[&str]) -> (RunningProgram, String) {
    let listen = format!("127.0.0.1:{}", appnet_testkit::free_port());
    let mut server = Program::new(APPNET, "appnet")
        .args(["dns"])
        .args(args.iter().copied())
        .args(["--listen", &listen])
        .start();
    server.wait_ready(Duration::from_secs(20), || {
        wait_for_tcp(listen.parse().unwrap(), Duration::from_millis(100))
    });
    (server, listen)
}

fn load(args: &[&str]) -> serde_json::Value {
    let mut all = vec!["http", "load", "--json"];
    all.extend_from_slice(args);
    let out: CommandOutput = run(APPNET, "appnet", &all, Duration::from_secs(60));
    out.assert_success();
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stdout))
}

/// The URL paths a load requested.
fn paths(load: &serde_json::Value) -> BTreeSet<String> {
    load["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            let url = url::Url::parse(e["url"].as_str().unwrap()).unwrap();
            url.path().to_owned()
        })
        .collect()
}

#[test]
fn every_mode_fetches_the_whole_page_on_the_connections_it_allows() {
    let site = tempfile::tempdir().unwrap();
    write_site(site.path());
    let (_server, port) = serve(site.path(), &["--no-access-log"]);
    let url = format!("http://127.0.0.1:{port}/");
    for (mode, connections, protocol) in [
        ("http1.0", Some(10), "HTTP/1.0"),
        ("persistent", Some(1), "HTTP/1.1"),
        ("pipelined", Some(1), "HTTP/1.1"),
        ("parallel:6", None, "HTTP/1.1"),
        ("parallel:2", None, "HTTP/1.1"),
        ("h2", Some(1), "HTTP/2.0"),
    ] {
        let page = load(&["--mode", mode, &url]);
        assert_eq!(paths(&page), expected(), "{mode}");
        let entries = page["entries"].as_array().unwrap();
        assert_eq!(entries.len(), 10, "{mode}: each resource once");
        assert!(
            entries.iter().all(|e| e["status"] == 200 && e["protocol"] == protocol),
            "{mode}: {page}"
        );
        let opened = page["connections"].as_u64().unwrap();
        match connections {
            Some(n) => assert_eq!(opened, n, "{mode}"),
            None => {
                let most: u64 = mode.trim_start_matches("parallel:").parse().unwrap();
                assert!((2..=most).contains(&opened), "{mode}: {opened} connections");
            }
        }
        // Bodies nobody reads are counted, not kept: every byte still counts.
        for image in entries.iter().filter(|e| e["url"].as_str().unwrap().ends_with(".png")) {
            assert_eq!(image["bytes"], PNG.len(), "{mode}: {image}");
        }
        // The document is decoded (br by default from our server) before it is read.
        let first = &entries[0];
        assert_eq!(first["content_encoding"], "br", "{mode}");
        assert!(first["decoded_bytes"].as_u64() > first["bytes"].as_u64());
        assert!(page["plt_ms"].as_f64().unwrap() > 0.0, "{page}");
    }
    // Each coding the loader decodes, asked for alone: the document comes in it and is read.
    for coding in ["zstd", "gzip", "identity"] {
        let page = load(&["--accept-encoding", coding, &url]);
        assert_eq!(paths(&page), expected(), "{coding}: the page found in the decoded document");
        let first = &page["entries"][0];
        match coding {
            "identity" => assert!(first["content_encoding"].is_null(), "{first}"),
            _ => assert_eq!(first["content_encoding"], coding, "{first}"),
        }
    }
    // A redirected document is followed, and the page it leads to loaded.
    let page = load(&[&format!("http://127.0.0.1:{port}/docs")]);
    let entries = page["entries"].as_array().unwrap();
    let hops: Vec<(&str, u64)> = entries
        .iter()
        .map(|e| (e["url"].as_str().unwrap(), e["status"].as_u64().unwrap()))
        .collect();
    let base = format!("http://127.0.0.1:{port}");
    let want = [
        (format!("{base}/docs"), 301),
        (format!("{base}/docs/"), 200),
        (format!("{base}/img/a.png"), 200),
    ];
    let want: Vec<(&str, u64)> = want.iter().map(|(u, s)| (u.as_str(), *s)).collect();
    assert_eq!(hops, want, "{page}");
}

#[test]
fn over_tls_h2_is_chosen_by_alpn_and_har_and_waterfall_are_written() {
    let site = tempfile::tempdir().unwrap();
    write_site(site.path());
    let ca = site.path().join("ca.pem");
    let ca_arg = ca.to_str().unwrap();
    let (_server, port) =
        serve(site.path(), &["--no-access-log", "--tls-self-signed", "--tls-cert-out", ca_arg]);
    let url = format!("https://localhost:{port}/");
    let har_file = site.path().join("page.har");
    let svg = site.path().join("page.svg");
    let (har_arg, svg_arg) = (har_file.to_str().unwrap(), svg.to_str().unwrap());
    let page =
        load(&["--mode", "h2", "--cacert", ca_arg, "--har", har_arg, "--waterfall", svg_arg, &url]);
    assert_eq!(paths(&page), expected());
    assert_eq!(page["connections"], 1);
    let first = &page["entries"][0];
    assert_eq!(first["protocol"], "HTTP/2.0");
    assert!(first["tls_ms"].as_f64().unwrap() > 0.0, "{first}");

    // HAR 1.2: the fields a viewer needs, one entry per request, phases that add up.
    let har: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&har_file).unwrap()).unwrap();
    let log = &har["log"];
    assert_eq!(log["version"], "1.2");
    assert_eq!(log["creator"]["name"], "appnet");
    assert!(log["pages"][0]["pageTimings"]["onLoad"].as_f64().unwrap() > 0.0);
    let entries = log["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 10);
    for entry in entries {
        for field in ["startedDateTime", "time", "request", "response", "cache", "timings"] {
            assert!(!entry[field].is_null(), "{field}: {entry}");
        }
        let timings = &entry["timings"];
        let sum: f64 = ["blocked", "dns", "connect", "send", "wait", "receive"]
            .iter()
            .map(|k| timings[k].as_f64().unwrap().max(0.0))
            .sum();
        assert!((sum - entry["time"].as_f64().unwrap()).abs() < 0.01, "{entry}");
        assert_eq!(entry["response"]["httpVersion"], "HTTP/2.0");
        // The request's fields as sent: HTTP/2's pseudo-fields, then the rest.
        let sent: Vec<(&str, &str)> = entry["request"]["headers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| (h["name"].as_str().unwrap(), h["value"].as_str().unwrap()))
            .collect();
        let url = url::Url::parse(entry["request"]["url"].as_str().unwrap()).unwrap();
        assert_eq!(
            sent[..2],
            [
                (":method", "GET"),
                (":authority", &url[url::Position::BeforeHost..url::Position::AfterPort])
            ]
        );
        assert!(sent.contains(&(":path", url.path())), "{sent:?}");
        assert!(sent.iter().any(|(n, v)| *n == "accept-encoding" && v.contains("br")), "{sent:?}");
    }
    let document = &entries[0]["request"]["headers"];
    assert!(
        document
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["name"] == "priority" && h["value"] == "u=0, i")
    );
    assert!(entries[0]["timings"]["ssl"].as_f64().unwrap() > 0.0);
    assert_valid_har(std::slice::from_ref(&har_file));

    let svg = std::fs::read_to_string(&svg).unwrap();
    assert!(svg.starts_with("<svg") && svg.matches("<g class=\"request\">").count() == 10);

    // Without the certificate, the load is refused with a clear error.
    let refused = run(APPNET, "appnet", &["http", "load", &url], Duration::from_secs(30));
    assert_ne!(refused.status, Some(0));
    assert!(refused.stderr.contains("TLS with localhost"), "{}", refused.stderr);
}

/// har-validator (npm; the HAR 1.2 JSON schema of the `har-schema` package, which HAR
/// viewers check files against), from target/peers or `APPNET_HAR_VALIDATOR`.
fn har_validator() -> PathBuf {
    let dir = std::env::var_os("APPNET_HAR_VALIDATOR").map_or_else(
        || {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../target/peers/har-validator/node_modules/har-validator")
        },
        PathBuf::from,
    );
    assert!(
        dir.join("package.json").is_file(),
        "har-validator is not at {} — run scripts/test, which installs it (npm install \
         --prefix target/peers/har-validator har-validator@5.1.5), or set APPNET_HAR_VALIDATOR",
        dir.display()
    );
    dir
}

/// Checks each of `files` against the HAR 1.2 schema; panics naming every violation.
fn assert_valid_har(files: &[PathBuf]) {
    const CHECK: &str = r#"
const validate = require(process.argv[2]);
const fs = require("fs");
(async () => {
  let failed = 0;
  for (const file of process.argv.slice(3)) {
    try {
      await validate.har(JSON.parse(fs.readFileSync(file, "utf8")));
      console.log(`${file}: valid`);
    } catch (e) {
      failed++;
      console.log(`${file}: ${e.message}`);
      for (const x of e.errors || []) console.log(`  ${x.dataPath} ${x.message}`);
    }
  }
  process.exit(failed ? 1 : 0);
})();
"#;
    assert!(!files.is_empty());
    let scratch = tempfile::tempdir().unwrap();
    let script = scratch.path().join("check.js");
    std::fs::write(&script, CHECK).unwrap();
    let validator = har_validator();
    let mut args = vec![script.to_str().unwrap(), validator.to_str().unwrap()];
    args.extend(files.iter().map(|f| f.to_str().unwrap()));
    let out = run("node", "nodejs", &args, Duration::from_secs(60));
    assert_eq!(out.status, Some(0), "HAR 1.2 schema:\n{}{}", out.stdout, out.stderr);
    assert_eq!(out.stdout.matches(": valid\n").count(), files.len(), "{}", out.stdout);
}

#[test]
fn har_validation_refuses_a_har_that_breaks_the_schema() {
    // The check itself can fail: a HAR whose entry lacks `timings.wait` and has a status as a
    // string is refused.
    let scratch = tempfile::tempdir().unwrap();
    let bad = scratch.path().join("bad.har");
    let entry = serde_json::json!({
        "startedDateTime": "2026-12-02T10:00:00.000Z", "time": 1.0,
        "request": {"method": "GET", "url": "http://127.0.0.1/", "httpVersion": "HTTP/1.1",
            "cookies": [], "headers": [], "queryString": [], "headersSize": -1, "bodySize": 0},
        "response": {"status": "200", "statusText": "OK", "httpVersion": "HTTP/1.1",
            "cookies": [], "headers": [], "content": {"size": 0, "mimeType": "text/html"},
            "redirectURL": "", "headersSize": -1, "bodySize": 0},
        "cache": {}, "timings": {"send": 0.0, "receive": 0.0}
    });
    let har = serde_json::json!({"log": {"version": "1.2",
        "creator": {"name": "t", "version": "1"}, "entries": [entry]}});
    std::fs::write(&bad, har.to_string()).unwrap();
    let script = std::panic::catch_unwind(|| assert_valid_har(std::slice::from_ref(&bad)));
    let said = *script.expect_err("refused").downcast::<String>().unwrap();
    assert!(said.contains("wait") && said.contains("status"), "{said}");
}

/// The paths on `url`'s origin that headless Chromium requested loading `url`, from its own
/// network log (`--log-net-log`: every URL_REQUEST_START_JOB event), and its DOM.
fn chromium_requests(url: &str) -> (BTreeSet<String>, String) {
    let scratch = tempfile::tempdir().unwrap();
    let netlog = scratch.path().join("net.json");
    let flag = format!("--log-net-log={}", netlog.display());
    let dom = appnet_testkit::chromium_dom(url, &[&flag]);
    let text = std::fs::read_to_string(&netlog).expect("Chromium's net log");
    let log: serde_json::Value = serde_json::from_str(&text).expect("the net log is JSON");
    let start = &log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"];
    let origin = url::Url::parse(url).unwrap().origin();
    let paths = log["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|event| event["type"] == *start)
        .filter_map(|event| url::Url::parse(event["params"]["url"].as_str()?).ok())
        .filter(|asked| asked.origin() == origin)
        .map(|asked| asked.path().to_owned())
        // A page that declares no icon gets Chromium asking for /favicon.ico on its own, after
        // the load, racing --dump-dom's exit; it is not a resource of the page.
        .filter(|path| path != "/favicon.ico")
        .collect();
    (paths, dom.stdout)
}

#[test]
fn the_loader_fetches_what_chromium_fetches_for_the_same_page() {
    let site = tempfile::tempdir().unwrap();
    write_site(site.path());
    let (_server, port) = serve(site.path(), &["--no-access-log"]);
    let url = format!("http://127.0.0.1:{port}/");
    let (chromium, dom) = chromium_requests(&url);
    assert!(dom.contains("<title>loaded</title>"), "the script ran: {dom}");
    let page = load(&[&url]);
    assert_eq!(paths(&page), chromium, "the loader's requests against Chromium's");
    assert_eq!(chromium, expected());
    // Of several candidates, the one image Chromium picks at 1x in its 800 px window: srcset
    // densities and widths (with sizes), and a <picture>'s first source it can use.
    let images = [
        "a", "a2", "a3", "b-half", "b2", "c", "c400", "c800", "c1600", "d", "d400", "d800", "e",
        "e2", "p", "p-wide", "q", "q2",
    ];
    for name in images {
        std::fs::write(site.path().join(format!("img/{name}.png")), PNG).unwrap();
    }
    let others = ["p.webp", "p2.webp", "p.avif", "p.heic", "p-wide.webp", "q.heic"];
    let styled = [
        "unmatched.png",
        "hover.png",
        "narrow.png",
        "unused.woff2",
        "used.woff2",
        "p-bg.png",
        "t.png",
        "n.png",
        "hidden.png",
        "hidden-bg.png",
        "hidden-font.woff2",
        "shadow.png",
        "hidden-attr.png",
        "in-frame.png",
        "frame-bg.png",
        "frame-none.png",
    ];
    for name in others.iter().chain(&styled) {
        std::fs::write(site.path().join("img").join(name), PNG).unwrap();
    }
    std::fs::write(
        site.path().join("choice.html"),
        r#"<!DOCTYPE html><title>choice</title>
        <img src=img/a.png srcset="img/a2.png 2x, img/a3.png 3x">
        <img srcset="img/b-half.png 0.5x, img/b2.png 2x">
        <img src=img/c.png srcset="img/c400.png 400w, img/c800.png 800w, img/c1600.png 1600w">
        <img src=img/d.png srcset="img/d400.png 400w, img/d800.png 800w"
             sizes="(max-width: 600px) 100vw, 300px">
        <img src=img/e.png srcset="img/e.png 1x, img/e2.png 2x">
        <picture><source srcset=img/p.heic type=image/heic>
          <source srcset=img/p-wide.webp media="(min-width: 1200px)">
          <source srcset="img/p.webp 1x, img/p2.webp 2x" type=image/webp>
          <source srcset=img/p.avif type=image/avif><img src=img/p.png></picture>
        <picture><source srcset=img/q.heic type=image/heic><img src=img/q.png srcset="img/q2.png 2x"></picture>
        <style>
          .nowhere { background: url(img/unmatched.png) } a:hover { background: url(img/hover.png) }
          @media (max-width: 500px) { p { background: url(img/narrow.png) } }
          @font-face { font-family: Unused; src: url(img/unused.woff2) }
          @font-face { font-family: Used; src: url(img/used.woff2) }
          p { font-family: Used, serif; background: url(img/p-bg.png) }
          .inside { background: url(img/hidden-bg.png); font-family: HiddenFont }
          @font-face { font-family: HiddenFont; src: url(img/hidden-font.woff2) }
          .gone { display: none } .in-hidden { background: url(img/hidden-attr.png) }
        </style><p>text <a href=#>link</a></p>
        <template><img src=img/t.png></template><noscript><img src=img/n.png></noscript>
        <div class=gone><img src=img/hidden.png><span class=inside>hidden text</span></div>
        <div hidden><span class=in-hidden>x</span></div>
        <div><template shadowrootmode=open><img src=img/shadow.png></template></div>
        <iframe src=frame.html></iframe>"#,
    )
    .unwrap();
    // A frame: its own document, stylesheet and images.
    std::fs::write(
        site.path().join("frame.html"),
        "<!DOCTYPE html><link rel=stylesheet href=css/frame.css><img src=img/in-frame.png>\
         <p class=framed>in a frame</p>",
    )
    .unwrap();
    std::fs::write(
        site.path().join("css/frame.css"),
        ".framed { background: url(../img/frame-bg.png) } .absent { background: url(../img/frame-none.png) }",
    )
    .unwrap();
    let choice = format!("http://127.0.0.1:{port}/choice.html");
    let (chromium, _) = chromium_requests(&choice);
    assert_eq!(paths(&load(&[&choice])), chromium, "the images chosen, against Chromium's");
    let chosen = ["/choice.html", "/img/a.png", "/img/b2.png", "/img/c800.png", "/img/d400.png"];
    // Of the <style>: the background of a rule that applies and the font a rule uses; not
    // those of a rule for no element, for :hover, for a narrower window, nor an unused font;
    // nor those of an element under display: none, whose <img> is fetched all the same.
    // Nothing in a <template> or a <noscript>, nor the background of an element under a
    // `hidden` one; a declarative shadow root's image, rendered, is fetched.
    let styled = ["/img/p-bg.png", "/img/used.woff2", "/img/hidden.png", "/img/shadow.png"];
    // The frame's document, its stylesheet, its image and the background of its rule that
    // applies.
    let framed = ["/frame.html", "/css/frame.css", "/img/in-frame.png", "/img/frame-bg.png"];
    let styled: Vec<&str> = styled.iter().chain(&framed).copied().collect();
    let chosen =
        chosen.iter().chain(&["/img/e.png", "/img/p.webp", "/img/q.png"]).chain(styled.iter());
    assert_eq!(chromium, chosen.map(|p| (*p).to_owned()).collect());
}

#[test]
fn pages_load_from_nginx_too() {
    let site = tempfile::tempdir().unwrap();
    write_site(site.path());
    let nginx = appnet_testkit::require("nginx", "nginx");
    let (port, h2c, closing) = (free_tcp_port(), free_tcp_port(), free_tcp_port());
    let idle = free_tcp_port();
    let tls = free_tcp_port();
    // A TLS port whose ALPN offers http/1.1 only (no `http2` on it), with a key openssl made.
    let (cert, key) = appnet_testkit::openssl_localhost_certificate(site.path());
    // A page whose stylesheet comes slowly (nginx's limit_rate), from a server that closes
    // connections idle for 200 ms: the connection that fetched the image sits idle in the
    // pool longer than that before the stylesheet's images are asked for.
    let slow = "<link rel=stylesheet href=css/slow.css><img src=img/a.png><div class=a></div><p class=b>b</p>";
    std::fs::write(site.path().join("slow.html"), slow).unwrap();
    let padding = "/* padding */\n".repeat(600);
    let rules = ".a { background: url(../img/bg.png) } .b { background: url(../img/c.png) }";
    std::fs::write(site.path().join("css/slow.css"), format!("{padding}{rules}\n")).unwrap();
    let dir = site.path().join("nginx");
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("nginx.conf");
    std::fs::write(
        &config,
        format!(
            "worker_processes 1; daemon off; master_process off; pid {d}/nginx.pid;\n\
             error_log {d}/error.log warn; events {{ worker_connections 64; }}\n\
             http {{ access_log off; client_body_temp_path {d}/b; proxy_temp_path {d}/p;\n\
             fastcgi_temp_path {d}/f; uwsgi_temp_path {d}/u; scgi_temp_path {d}/s;\n\
             include /etc/nginx/mime.types; gzip on; gzip_types text/css application/javascript;\n\
             server {{ listen 127.0.0.1:{port}; listen 127.0.0.1:{h2c} http2; root {root};\n\
             http2_max_concurrent_streams 2; }}\n\
             server {{ listen 127.0.0.1:{closing}; keepalive_requests 1; root {root}; }}\n\
             server {{ listen 127.0.0.1:{idle}; keepalive_timeout 200ms; root {root};\n\
             location = /css/slow.css {{ limit_rate 8k; }} }}\n\
             server {{ listen 127.0.0.1:{tls} ssl; ssl_certificate {cert}; ssl_certificate_key {key};\n\
             root {root}; }} }}\n",
            d = dir.display(),
            root = site.path().display(),
            cert = cert.display(),
            key = key.display()
        ),
    )
    .unwrap();
    let mut server = Program::new(nginx.to_str().unwrap(), "nginx")
        .args(["-c", config.to_str().unwrap()])
        .start();
    let listen = format!("127.0.0.1:{port}");
    server.wait_ready(Duration::from_secs(20), || {
        wait_for_tcp(listen.parse().unwrap(), Duration::from_millis(100))
    });
    // nginx speaks HTTP/1.x on one port and h2c (prior knowledge only) on the other, with two
    // streams at a time: the page's other requests wait their turn on the one connection.
    for (mode, port) in
        [("parallel:6", port), ("persistent", port), ("pipelined", port), ("h2", h2c)]
    {
        let page = load(&["--mode", mode, &format!("http://127.0.0.1:{port}/")]);
        assert_eq!(paths(&page), expected(), "{mode}: {page}");
        if mode == "h2" {
            assert_eq!(page["connections"], 1, "{page}");
        }
    }
    // h2 asked of a TLS server whose ALPN picks http/1.1: the page still loads, over HTTP/1.1.
    let url = format!("https://localhost:{tls}/");
    let page = load(&["--mode", "h2", "--cacert", cert.to_str().unwrap(), &url]);
    assert_eq!(paths(&page), expected(), "{page}");
    let entries = page["entries"].as_array().unwrap();
    assert!(entries.iter().all(|e| e["protocol"] == "HTTP/1.1"), "{page}");
    // A server that closes every connection after one response (Connection: close): each
    // request gets a new connection rather than failing on the closed one.
    for mode in ["parallel:6", "persistent", "pipelined"] {
        let page = load(&["--mode", mode, &format!("http://127.0.0.1:{closing}/")]);
        assert_eq!(paths(&page), expected(), "{mode}, closing: {page}");
        if mode != "pipelined" {
            assert_eq!(page["connections"], page["entries"].as_array().unwrap().len(), "{mode}");
        }
    }
    // The idle connection the server closed is found dead in the pool and not used (or, had
    // the close raced the request, the request goes again on another): every resource
    // arrives, the last two on the live connection and a new one. (Each of the two alone
    // passes this; without both, /img/c.png was lost.)
    // (Uncompressed: gzip would shrink the padding to nothing, and the wait with it.)
    let url = format!("http://127.0.0.1:{idle}/slow.html");
    let page = load(&["--mode", "parallel:2", "--no-compression", &url]);
    let want = ["/slow.html", "/css/slow.css", "/img/a.png", "/img/bg.png", "/img/c.png"];
    let want: BTreeSet<String> = want.iter().map(|p| (*p).to_owned()).collect();
    assert_eq!(paths(&page), want, "{page}");
    assert_eq!(page["connections"], 3, "{page}");
    drop(server);
}

#[test]
fn an_unreachable_host_is_a_clear_error() {
    let port = free_tcp_port();
    let url = format!("http://127.0.0.1:{port}/");
    let out = run(APPNET, "appnet", &["http", "load", &url], Duration::from_secs(30));
    assert_ne!(out.status, Some(0));
    assert!(out.stderr.contains(&format!("cannot connect to 127.0.0.1:{port}")), "{}", out.stderr);
    let out =
        run(APPNET, "appnet", &["http", "load", "--mode", "spdy", &url], Duration::from_secs(30));
    assert!(out.stderr.contains("modes are http1.0, parallel:N"), "{}", out.stderr);

    // A host that is down or filtered answers nothing: a listener whose accept queue is full
    // drops new SYNs, as such a host does. The load says so after --connect-timeout.
    let address: std::net::SocketAddr = format!("127.0.0.1:{}", free_tcp_port()).parse().unwrap();
    let full = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    full.bind(&address.into()).unwrap();
    full.listen(0).unwrap();
    let queued: Vec<_> = (0..3)
        .filter_map(|_| {
            std::net::TcpStream::connect_timeout(&address, Duration::from_millis(300)).ok()
        })
        .collect();
    assert!(!queued.is_empty(), "the accept queue took a connection");
    let url = format!("http://{address}/");
    let started = std::time::Instant::now();
    let args = ["http", "load", "--connect-timeout", "1", &url];
    let out = run(APPNET, "appnet", &args, Duration::from_secs(30));
    assert_ne!(out.status, Some(0));
    let said = format!("cannot connect to {address}: no answer within 1s");
    assert!(out.stderr.contains(&said), "{said} in: {}", out.stderr);
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());

    // A server that takes the connection and never answers the TLS handshake.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let url = format!("https://127.0.0.1:{port}/");
    let args = ["http", "load", "-k", "--mode", "h2", "--connect-timeout", "1", &url];
    let out = run(APPNET, "appnet", &args, Duration::from_secs(30));
    assert_ne!(out.status, Some(0));
    let said = format!("TLS with 127.0.0.1:{port}: no answer within 1s");
    assert!(out.stderr.contains(&said), "{said} in: {}", out.stderr);
    drop((queued, full, silent));
}

#[test]
fn the_repeat_view_uses_fresh_copies_and_revalidates_stale_ones() {
    let site = tempfile::tempdir().unwrap();
    write_site(site.path());
    let port = free_tcp_port();
    let config = site.path().join("appnet.toml");
    std::fs::write(
        &config,
        format!(
            "[http.server]\nroot = \"{}\"\nlisten = [\"127.0.0.1:{port}\"]\n\
             [[http.server.rule]]\nmatch = \"/img/\"\nexpires = \"1h\"\n\
             [[http.server.rule]]\nmatch = \"/\"\nexpires = \"epoch\"\n",
            site.path().display()
        ),
    )
    .unwrap();
    let mut server = Program::new(APPNET, "appnet")
        .args(["http", "serve", "--config", config.to_str().unwrap()])
        .start();
    let listen = format!("127.0.0.1:{port}");
    server.wait_ready(Duration::from_secs(20), || {
        wait_for_tcp(listen.parse().unwrap(), Duration::from_millis(100))
    });
    let url = format!("http://{listen}/");
    for mode in ["parallel:6", "pipelined", "h2"] {
        let views = load(&["--repeat", "--mode", mode, &url]);
        let (first, repeat) = (&views["first"], &views["repeat"]);
        assert_eq!(paths(first), expected(), "{mode}");
        assert_eq!(paths(repeat), expected(), "{mode}: the repeat view finds the same page");
        let entries = repeat["entries"].as_array().unwrap();
        for entry in entries {
            let path = url::Url::parse(entry["url"].as_str().unwrap()).unwrap().path().to_owned();
            if path.starts_with("/img/") {
                // Fresh for an hour: used without a request.
                assert_eq!(entry["cache"], "fresh", "{mode} {path}: {entry}");
                assert_eq!(entry["bytes"], 0);
            } else {
                // Cache-Control: no-cache (expires epoch): asked again, answered 304.
                assert_eq!(entry["cache"], "revalidated", "{mode} {path}: {entry}");
                assert_eq!(entry["status"], 304);
            }
        }
        // The stylesheet's 304 still yields its imports and images from the stored copy.
        assert!(entries.iter().any(|e| e["url"].as_str().unwrap().ends_with("/img/bg.png")));
        assert!(repeat["bytes"].as_u64() < first["bytes"].as_u64(), "{mode}");
    }
    // The table counts a fresh copy as a resource, not a request: five images from the cache.
    let out = run(APPNET, "appnet", &["http", "load", "--repeat", &url], Duration::from_secs(60));
    out.assert_success();
    let (first, repeat) = out.stdout.split_once("Repeat view").expect("a repeat view");
    assert!(first.contains(", 10 requests,"), "{first}");
    assert!(repeat.contains("10 resources (5 requests, 5 from the cache)"), "{repeat}");
    assert!(repeat.contains("5 fresh from the cache, 5 revalidated (304)"), "{repeat}");
    drop(server);
}

#[test]
fn names_resolve_through_the_dns_server_given() {
    let site = tempfile::tempdir().unwrap();
    write_site(site.path());
    let (_web, port) = serve(site.path(), &["--no-access-log"]);
    // Our authoritative server for lab.test, asked directly (it answers with authority).
    let zone = site.path().join("lab.test.zone");
    std::fs::write(
        &zone,
        "$ORIGIN lab.test.\n$TTL 60\n@ SOA ns h 1 60 60 600 60\n@ NS ns\nns A 127.0.0.1\nwww A 127.0.0.1\n",
    )
    .unwrap();
    let (dns, dns_listen) = dns_server(&["authority", "--zone", zone.to_str().unwrap()]);
    let url = format!("http://www.lab.test:{port}/");
    let page = load(&["--dns", &dns_listen, &url]);
    assert_eq!(paths(&page), expected());
    assert!(page["entries"][0]["dns_ms"].as_f64().unwrap() > 0.0, "{}", page["entries"][0]);
    // A name the server does not have is a clear error.
    let missing = format!("http://nowhere.lab.test:{port}/");
    let out = run(
        APPNET,
        "appnet",
        &["http", "load", "--dns", &dns_listen, &missing],
        Duration::from_secs(30),
    );
    assert_ne!(out.status, Some(0));
    assert!(out.stderr.contains("cannot resolve nowhere.lab.test"), "{}", out.stderr);
    drop(dns);

    // Through our recursive resolver, iterating from a root our authority serves.
    let root_zone = site.path().join("root.zone");
    std::fs::write(
        &root_zone,
        "$ORIGIN .\n$TTL 60\n@ SOA a.root.test. h.root.test. 1 60 60 600 60\n@ NS a.root.test.\n\
         a.root.test. A 127.0.0.1\nwww.lab.test. A 127.0.0.1\n",
    )
    .unwrap();
    let (root, root_listen) = dns_server(&["authority", "--zone", root_zone.to_str().unwrap()]);
    let root_port = root_listen.rsplit(':').next().unwrap().to_owned();
    let hints = site.path().join("named.root");
    std::fs::write(&hints, ". 3600000 NS a.root.test.\na.root.test. 3600000 A 127.0.0.1\n")
        .unwrap();
    let hints = hints.to_str().unwrap();
    let (resolver, resolver_listen) =
        dns_server(&["resolver", "--ns-port", &root_port, "--root-hints", hints]);
    let page = load(&["--dns", &resolver_listen, &url]);
    assert_eq!(paths(&page), expected(), "through our resolver: {page}");
    drop((resolver, root));
}

#[test]
fn pages_load_through_our_proxy_and_its_cache_serves_the_second_view() {
    let site = tempfile::tempdir().unwrap();
    write_site(site.path());
    let (_web, port) = serve(site.path(), &["--no-access-log"]);
    let proxy_port = free_tcp_port();
    let proxy_listen = format!("127.0.0.1:{proxy_port}");
    let mut proxy = Program::new(APPNET, "appnet")
        .args(["proxy", "--listen", &proxy_listen, "--connect-port", &port.to_string()])
        .start();
    proxy.wait_ready(Duration::from_secs(20), || {
        wait_for_tcp(proxy_listen.parse().unwrap(), Duration::from_millis(100))
    });
    let proxy_url = format!("http://{proxy_listen}");
    let url = format!("http://127.0.0.1:{port}/");
    for mode in ["parallel:6", "pipelined", "h2"] {
        let page = load(&["--proxy", &proxy_url, "--mode", mode, &url]);
        assert_eq!(paths(&page), expected(), "{mode}: {page}");
    }
    // Every resource went through the proxy; the later loads were answered from its cache.
    let log = proxy.log();
    assert!(
        log.contains(&format!("\"GET http://127.0.0.1:{port}/css/site.css\" 200 miss, stored")),
        "{log}"
    );
    // The files were just written, so their heuristic lifetime is nil: the proxy's stored
    // copies are revalidated (304 from the origin) rather than fetched again.
    let again = format!("\"GET http://127.0.0.1:{port}/css/site.css\" 200 revalidated");
    assert!(log.contains(&again) || log.contains(&again.replace("revalidated", "hit")), "{log}");

    // https through the proxy's CONNECT tunnel, h2 inside it.
    let ca = site.path().join("ca.pem");
    let ca_arg = ca.to_str().unwrap();
    let (_tls, tls_port) =
        serve(site.path(), &["--no-access-log", "--tls-self-signed", "--tls-cert-out", ca_arg]);
    drop(proxy);
    let mut tunnel = Program::new(APPNET, "appnet")
        .args(["proxy", "--listen", &proxy_listen, "--connect-port", &tls_port.to_string()])
        .start();
    tunnel.wait_ready(Duration::from_secs(20), || {
        wait_for_tcp(proxy_listen.parse().unwrap(), Duration::from_millis(100))
    });
    let https = format!("https://localhost:{tls_port}/");
    let page = load(&["--proxy", &proxy_url, "--mode", "h2", "--cacert", ca_arg, &https]);
    assert_eq!(paths(&page), expected());
    assert_eq!(page["entries"][0]["protocol"], "HTTP/2.0");
    assert!(tunnel.log().contains("\"CONNECT localhost:"), "{}", tunnel.log());
}

/// Over HTTP/2 the loader asks for each resource with the `Priority` field (RFC 9218) headless
/// Chromium sends for the same page — the document, a stylesheet and the font it names, a
/// script in the head, images in the page and in the stylesheet — so a server that orders
/// responses by it treats the loader as it treats a browser. Every resource is a CGI script
/// that notes the field it was asked with.
#[test]
fn over_h2_the_loader_asks_with_the_priorities_chromium_asks_with() {
    let site = tempfile::tempdir().unwrap();
    let root = site.path().join("root");
    let cgi = site.path().join("cgi");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::create_dir_all(&cgi).unwrap();
    let script = cgi.join("rec.py");
    std::fs::write(
        &script,
        r#"#!/usr/bin/env python3
import os
query = os.environ.get("QUERY_STRING", "")
asked = os.environ.get("HTTP_PRIORITY", "-")
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "asked.log"), "a") as log:
    log.write(query + " " + asked + "\n")
bodies = {
    "doc": ("text/html", '<!DOCTYPE html><html><head><title>p</title>'
            '<link rel=stylesheet href="/cgi-bin/rec.py?css">'
            '<script src="/cgi-bin/rec.py?js"></script></head>'
            '<body>text<img src="/cgi-bin/rec.py?img" width=9 height=9></body></html>'),
    "css": ("text/css", "@font-face{font-family:F;src:url(/cgi-bin/rec.py?font)}"
            " body{font-family:F;background:url(/cgi-bin/rec.py?bg)}"),
}
kind, body = bodies.get(query, ("application/octet-stream", ""))
print("Content-Type: " + kind + "\r\nCache-Control: no-store\r\n\r\n" + body, end="")
"#,
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let ca = site.path().join("ca.pem");
    let ca_arg = ca.to_str().unwrap();
    let cgi_arg = format!("/cgi-bin/={}", cgi.display());
    let tls = ["--tls-self-signed", "--tls-cert-out", ca_arg, "--cgi", &cgi_arg];
    let (_server, port) = serve(&root, &tls);
    let url = format!("https://localhost:{port}/cgi-bin/rec.py?doc");
    let asked = || {
        let log = std::fs::read_to_string(cgi.join("asked.log")).unwrap_or_default();
        std::fs::remove_file(cgi.join("asked.log")).ok();
        log.lines().map(str::to_owned).collect::<BTreeSet<String>>()
    };
    let dom = appnet_testkit::chromium_dom(&url, &["--ignore-certificate-errors"]);
    assert!(dom.stdout.contains("<title>p</title>"), "{}", dom.stdout);
    let chromium = asked();
    let page = load(&["--mode", "h2", "--cacert", ca_arg, &url]);
    assert_eq!(page["entries"].as_array().unwrap().len(), 6, "{page}");
    let loader = asked();
    assert_eq!(loader, chromium, "the loader's fields against Chromium's");
    let expected = ["doc u=0, i", "css u=0", "font u=0", "js u=1", "img i", "bg i"];
    assert_eq!(loader, expected.iter().map(|l| (*l).to_owned()).collect());
}

/// Runs `appnet http load --json ARGS`, which must succeed: the page and what it said on
/// standard error.
fn load_saying(args: &[&str]) -> (serde_json::Value, String) {
    let mut all = vec!["http", "load", "--json"];
    all.extend_from_slice(args);
    let out = run(APPNET, "appnet", &all, Duration::from_secs(60));
    out.assert_success();
    let page = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stdout));
    (page, out.stderr)
}

/// A site whose page names an image on a host nobody answers, one that redirects to itself,
/// one of 3 MiB, and a good one; `/cgi-bin/slow` answers after 5 s.
fn write_failing_site(root: &Path, cgi: &Path) {
    std::fs::create_dir_all(root.join("img")).unwrap();
    std::fs::create_dir_all(cgi).unwrap();
    let refused = free_tcp_port();
    std::fs::write(
        root.join("index.html"),
        format!(
            "<!DOCTYPE html><title>f</title><img src=img/a.png>\
             <img src=http://127.0.0.1:{refused}/gone.png><img src=/cgi-bin/loop>\
             <img src=img/big.png>"
        ),
    )
    .unwrap();
    std::fs::write(root.join("img/a.png"), PNG).unwrap();
    std::fs::write(root.join("img/big.png"), vec![7u8; 3 << 20]).unwrap();
    let scripts = [
        ("loop", "print('Status: 302 Found\\r\\nLocation: /cgi-bin/loop\\r\\n\\r\\n', end='')"),
        ("slow", "import time; time.sleep(5); print('Content-Type: text/html\\r\\n\\r\\nlate')"),
    ];
    for (name, body) in scripts {
        let script = cgi.join(name);
        std::fs::write(&script, format!("#!/usr/bin/env python3\n{body}\n")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

#[test]
fn a_resource_that_fails_is_an_entry_saying_why_in_every_mode() {
    let site = tempfile::tempdir().unwrap();
    let (root, cgi) = (site.path().join("root"), site.path().join("cgi"));
    write_failing_site(&root, &cgi);
    let cgi_arg = format!("/cgi-bin/={}", cgi.display());
    let (_server, port) = serve(&root, &["--no-access-log", "--cgi", &cgi_arg]);
    let url = format!("http://127.0.0.1:{port}/");
    let hars = tempfile::tempdir().unwrap();
    let mut written = Vec::new();
    for mode in ["http1.0", "parallel:6", "persistent", "pipelined", "h2"] {
        let har = hars.path().join(format!("{}.har", mode.replace(':', "-")));
        let har_arg = har.to_str().unwrap();
        let (page, said) =
            load_saying(&["--mode", mode, "--max-bytes", "1MiB", "--har", har_arg, &url]);
        written.push(har);
        let entries = page["entries"].as_array().unwrap();
        let of = |path: &str| -> Vec<&serde_json::Value> {
            entries.iter().filter(|e| e["url"].as_str().unwrap().ends_with(path)).collect()
        };
        assert_eq!(of("/img/a.png")[0]["status"], 200, "{mode}: {page}");
        assert!(of("/img/a.png")[0]["error"].is_null(), "{mode}");
        let gone = of("/gone.png");
        assert_eq!((gone.len(), &gone[0]["status"]), (1, &serde_json::json!(0)), "{mode}: {page}");
        assert!(gone[0]["error"].as_str().unwrap().contains("cannot connect"), "{mode}: {page}");
        // The loop is followed ten times, then the last redirect says why it stopped.
        let hops = of("/cgi-bin/loop");
        assert_eq!(hops.len(), 11, "{mode}: {page}");
        assert!(hops.iter().all(|e| e["status"] == 302), "{mode}");
        let last = hops.iter().filter(|e| !e["error"].is_null()).collect::<Vec<_>>();
        assert_eq!(last.len(), 1, "{mode}: {page}");
        assert!(last[0]["error"].as_str().unwrap().contains("too many redirects"), "{mode}");
        // 3 MiB past a 1 MiB budget: cut off, not kept.
        let big = of("/img/big.png");
        assert_eq!(big[0]["status"], 0, "{mode}: {page}");
        assert!(big[0]["error"].as_str().unwrap().contains("longer than"), "{mode}: {page}");
        assert!(page["bytes"].as_u64().unwrap() < 1 << 20, "{mode}: {page}");
        for failed in ["gone.png", "too many redirects", "big.png"] {
            assert!(said.contains(failed), "{mode}: stderr names {failed}: {said}");
        }
        // The refused host's attempt is no connection opened: the count is the connections
        // the entries went on (a cut-off body ends its HTTP/1 connection; HTTP/2 keeps it).
        if matches!(mode, "persistent" | "h2") {
            let ids: std::collections::HashSet<u64> = entries
                .iter()
                .filter_map(|e| e["connection"].as_u64())
                .filter(|&c| c > 0)
                .collect();
            assert_eq!(page["connections"], ids.len(), "{mode}: {page}");
        }
        if mode == "h2" {
            assert_eq!(page["connections"], 1, "{page}");
        }
    }
    // Failed entries (status 0, an `_error`) still make valid HAR 1.2.
    assert_valid_har(&written);
    // The caps on requests: what the page names beyond is counted, and said.
    let (page, said) = load_saying(&["--mode", "persistent", "--max-resources", "2", &url]);
    assert_eq!(page["entries"].as_array().unwrap().len(), 2, "{page}");
    assert_eq!(page["not_fetched"], 3, "gone.png, the loop and big.png: {page}");
    assert!(said.contains("3 resources not fetched"), "{said}");
    // A document that redirects for ever: the load fails, saying so.
    let looping = format!("http://127.0.0.1:{port}/cgi-bin/loop");
    let out = run(APPNET, "appnet", &["http", "load", &looping], Duration::from_secs(30));
    assert_ne!(out.status, Some(0));
    assert!(out.stderr.contains("too many redirects (followed 10)"), "{}", out.stderr);
    // The whole load's time limit.
    let slow = format!("http://127.0.0.1:{port}/cgi-bin/slow");
    let out =
        run(APPNET, "appnet", &["http", "load", "--timeout", "1", &slow], Duration::from_secs(30));
    assert_ne!(out.status, Some(0));
    assert!(out.stderr.contains("took longer than 1s"), "{}", out.stderr);
    // A page whose document came but not all of it: what came is kept and shown, what did
    // not is an entry saying so, in every mode; the exit status says it timed out.
    std::fs::write(root.join("late.html"), "<img src=img/a.png><img src=/cgi-bin/slow>").unwrap();
    let late = format!("http://127.0.0.1:{port}/late.html");
    for mode in ["http1.0", "parallel:6", "persistent", "pipelined", "h2"] {
        let args = ["http", "load", "--json", "--timeout", "1", "--mode", mode, &late];
        let out = run(APPNET, "appnet", &args, Duration::from_secs(30));
        assert_eq!(out.status, Some(1), "{mode}: {out:?}");
        let page: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(page["timed_out"], true, "{mode}: {page}");
        let status = |path: &str| {
            let entries = page["entries"].as_array().unwrap();
            let entry = entries.iter().find(|e| e["url"].as_str().unwrap().ends_with(path));
            entry.unwrap_or_else(|| panic!("{mode}: {path} in {page}")).clone()
        };
        assert_eq!(status("/late.html")["status"], 200, "{mode}");
        assert_eq!(status("/img/a.png")["status"], 200, "{mode}");
        let slow = status("/cgi-bin/slow");
        assert_eq!(slow["status"], 0, "{mode}");
        assert!(slow["error"].as_str().unwrap().contains("unfinished when"), "{mode}: {slow}");
        assert!(out.stderr.contains("1 requests unfinished"), "{mode}: {}", out.stderr);
    }
}

/// An HTTP/1.1 origin that notes how many requests it holds each time it starts answering
/// ("burst N" on stdout): it waits 150 ms after a request arrives for more on the connection,
/// then answers all it has, in order. A page of five images.
const BURST_ORIGIN: &str = r#"
import socket, sys, threading, time
PAGE = b"<!DOCTYPE html><title>b</title>" + b"".join(b"<img src=/i%d.png>" % i for i in range(5))
def answer(path):
    body = PAGE if path == "/" else b"png"
    kind = b"text/html" if path == "/" else b"image/png"
    return b"HTTP/1.1 200 OK\r\nContent-Type: " + kind + b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body
def serve(conn):
    conn.settimeout(0.15)
    buffer = b""
    while True:
        try:
            data = conn.recv(65536)
            if not data:
                return
            buffer += data
            continue
        except socket.timeout:
            pass
        heads = buffer.split(b"\r\n\r\n")
        buffer = heads.pop()
        if not heads:
            conn.settimeout(None)
            data = conn.recv(65536)
            if not data:
                return
            buffer += data
            conn.settimeout(0.15)
            continue
        print("burst %d" % len(heads), flush=True)
        conn.sendall(b"".join(answer(h.split(b" ")[1].decode()) for h in heads))
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", int(sys.argv[1])))
listener.listen(16)
while True:
    conn, _ = listener.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
"#;

#[test]
fn pipelined_mode_has_requests_waiting_at_the_server_and_persistent_mode_never() {
    let (origin, addr) = python_origin(BURST_ORIGIN);
    let url = format!("http://{addr}/");
    let bursts = |origin: &RunningProgram, from: usize| -> Vec<usize> {
        let log = origin.log();
        let lines: Vec<&str> = log.lines().filter(|l| l.starts_with("burst ")).collect();
        lines[from..].iter().map(|l| l[6..].parse().unwrap()).collect()
    };
    let page = load(&["--mode", "pipelined", &url]);
    assert_eq!(page["entries"].as_array().unwrap().len(), 6, "{page}");
    assert_eq!(page["connections"], 1, "{page}");
    let pipelined = bursts(&origin, 0);
    // The document alone, then the five images written before any of them was answered.
    assert_eq!(pipelined, [1, 5], "{}", origin.log());
    let page = load(&["--mode", "persistent", &url]);
    assert_eq!(page["entries"].as_array().unwrap().len(), 6, "{page}");
    let persistent = bursts(&origin, pipelined.len());
    assert_eq!(persistent, [1; 6], "one request at a time: {}", origin.log());
}

#[test]
fn compare_loads_every_mode_marks_the_fastest_and_names_a_file_per_mode_and_view() {
    let site = tempfile::tempdir().unwrap();
    write_site(site.path());
    let (_server, port) = serve(site.path(), &["--no-access-log"]);
    let url = format!("http://127.0.0.1:{port}/");
    let out_dir = tempfile::tempdir().unwrap();
    let har = out_dir.path().join("page.har");
    let svg = out_dir.path().join("page.svg");
    let args = [
        "http",
        "load",
        "--mode",
        "compare",
        "--repeat",
        "--har",
        har.to_str().unwrap(),
        "--waterfall",
        svg.to_str().unwrap(),
        &url,
    ];
    let out = run(APPNET, "appnet", &args, Duration::from_secs(120));
    out.assert_success();
    let modes = ["http1.0", "parallel:6", "persistent", "pipelined", "h2"];
    // The first views' table, then the repeat views': a line per mode, the fastest marked once.
    let (firsts, repeats) = out.stdout.split_once("Repeat views").expect("a repeat table");
    let rows: Vec<(&str, f64, bool)> = firsts
        .lines()
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let mode = *words.first()?;
            modes
                .contains(&mode)
                .then(|| (mode, words[1].parse().unwrap(), line.ends_with("fastest")))
        })
        .collect();
    assert_eq!(rows.len(), 5, "{}", out.stdout);
    let marked: Vec<_> = rows.iter().filter(|r| r.2).collect();
    assert_eq!(marked.len(), 1, "{}", out.stdout);
    let lowest = rows.iter().map(|r| r.1).fold(f64::INFINITY, f64::min);
    assert_eq!(marked[0].1, lowest, "the fastest is the lowest PLT: {}", out.stdout);
    let mut hars = Vec::new();
    for mode in modes {
        assert!(repeats.contains(mode), "{mode} in the repeat table: {repeats}");
        let name = mode.replace(':', "-");
        for view in ["", ".repeat"] {
            hars.push(out_dir.path().join(format!("page.{name}{view}.har")));
        }
        for (stem, ext) in [("page", "har"), ("page", "svg")] {
            for view in ["", ".repeat"] {
                let file = out_dir.path().join(format!("{stem}.{name}{view}.{ext}"));
                let text = std::fs::read_to_string(&file)
                    .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
                assert!(text.len() > 100, "{}", file.display());
            }
        }
        assert!(out.stderr.contains(&format!("loading {url} with {mode}")), "{}", out.stderr);
    }
    assert!(repeats.contains("fresh from the cache"), "each repeat view's reuse: {repeats}");
    // Every mode's first and repeat view (fresh copies, revalidations) against HAR 1.2.
    assert_valid_har(&hars);
}

/// An HTTP/1.1 origin whose resources carry only the caching fields their names say (no
/// Cache-Control unless named): it prints "GET PATH CONDITION" for every request, so a test
/// sees which the repeat view asked for, and with what validator.
const CACHING_ORIGIN: &str = r#"
import email.utils, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
NOW = time.time()
PAGE = b"<!DOCTYPE html><title>c</title>" + b"".join(
    b"<img src=/%s.png>" % n for n in [b"old", b"expires", b"etag", b"recent"])
def date(t): return email.utils.formatdate(t, usegmt=True)
class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args): pass
    def do_GET(self):
        condition = self.headers.get("If-None-Match") or self.headers.get("If-Modified-Since") or "-"
        # One write per line: the handlers run on threads of their own.
        sys.stdout.write("GET %s %s\n" % (self.path, condition))
        sys.stdout.flush()
        fields = [("Date", date(time.time()))]
        if self.path == "/":
            fields += [("Cache-Control", "no-store"), ("Content-Type", "text/html")]
            body = PAGE
        elif self.path == "/old.png":
            # Last modified 100 days ago, nothing else: heuristically fresh for 10 days.
            fields.append(("Last-Modified", date(NOW - 100 * 86400)))
            body = b"old"
        elif self.path == "/expires.png":
            # Expires alone (no Cache-Control): fresh for an hour.
            fields.append(("Expires", date(time.time() + 3600)))
            body = b"expires"
        elif self.path == "/etag.png":
            # Stale at once; revalidated with If-None-Match.
            fields += [("Cache-Control", "max-age=0"), ("ETag", '"v1"')]
            if self.headers.get("If-None-Match") == '"v1"':
                self.send_response_only(304)
                for name, value in fields: self.send_header(name, value)
                self.end_headers()
                return
            body = b"etag"
        elif self.path == "/recent.png":
            # Modified at the instant its Date says: a heuristic lifetime of nothing, so stale
            # at the repeat view; revalidated with If-Modified-Since.
            modified = date(NOW)
            fields = [("Date", modified), ("Last-Modified", modified)]
            if self.headers.get("If-Modified-Since") == modified:
                self.send_response_only(304)
                for name, value in fields: self.send_header(name, value)
                self.end_headers()
                return
            body = b"recent"
        else:
            self.send_error(404)
            return
        # send_response_only: no Date of the library's, only the one each resource gives.
        self.send_response_only(200)
        for name, value in fields: self.send_header(name, value)
        if self.path != "/": self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"#;

#[test]
fn the_repeat_view_honours_expires_heuristic_freshness_and_both_validators() {
    let (origin, addr) = python_origin(CACHING_ORIGIN);
    let url = format!("http://{addr}/");
    let requests = |origin: &RunningProgram| -> Vec<String> {
        let log = origin.log();
        log.lines().filter(|l| l.starts_with("GET ")).map(str::to_owned).collect()
    };
    for (round, mode) in ["parallel:6", "persistent", "pipelined"].into_iter().enumerate() {
        let views = load(&["--repeat", "--mode", mode, &url]);
        let repeat = &views["repeat"];
        let cache_of = |path: &str| {
            let entries = repeat["entries"].as_array().unwrap();
            let entry = entries.iter().find(|e| e["url"].as_str().unwrap().ends_with(path));
            let entry = entry.unwrap_or_else(|| panic!("{mode}: no {path}: {repeat}"));
            (entry["cache"].clone(), entry["status"].clone())
        };
        let fresh = (serde_json::json!("fresh"), serde_json::json!(200));
        let revalidated = (serde_json::json!("revalidated"), serde_json::json!(304));
        assert_eq!(cache_of("/old.png"), fresh, "{mode}: heuristic freshness: {repeat}");
        assert_eq!(cache_of("/expires.png"), fresh, "{mode}: Expires: {repeat}");
        assert_eq!(cache_of("/etag.png"), revalidated, "{mode}: ETag: {repeat}");
        assert_eq!(cache_of("/recent.png"), revalidated, "{mode}: Last-Modified: {repeat}");
        assert!(cache_of("/").0.is_null(), "{mode}: no-store is fetched again: {repeat}");
        // What the origin saw of the repeat view: the document, and the two stale images with
        // their validators; the fresh ones not at all.
        // Each round: five requests for the first view, three for the repeat (the origin's
        // output reaches the log a little after the load ends).
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while requests(&origin).len() < 8 * (round + 1) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let all = requests(&origin);
        let log = all.join("\n");
        assert!(all.len() >= 8 * (round + 1), "{mode}: {log}");
        let mut asked: Vec<&str> =
            all[8 * round + 5..8 * round + 8].iter().map(String::as_str).collect();
        asked.sort();
        let modified = all[8 * round..8 * round + 5]
            .iter()
            .find_map(|l| l.strip_prefix("GET /recent.png "))
            .map(|_| {
                let header = |e: &serde_json::Value| {
                    let fields = e["headers"].as_array().unwrap();
                    let lm = fields.iter().find(|h| h[0] == "last-modified").unwrap();
                    lm[1].as_str().unwrap().to_owned()
                };
                let entries = views["first"]["entries"].as_array().unwrap();
                header(
                    entries
                        .iter()
                        .find(|e| e["url"].as_str().unwrap().ends_with("/recent.png"))
                        .unwrap(),
                )
            });
        let modified = modified.unwrap_or_else(|| panic!("{mode}: {log}"));
        let want = [
            "GET / -".to_owned(),
            "GET /etag.png \"v1\"".to_owned(),
            format!("GET /recent.png {modified}"),
        ];
        assert_eq!(asked, want.iter().map(String::as_str).collect::<Vec<_>>(), "{mode}: {log}");
    }
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(requests(&origin).len(), 24, "nothing more was asked: {}", origin.log());
}

/// `compare` against an origin that speaks only HTTP/1.1 (the Python one above): h2 by prior
/// knowledge fails, and is a row saying so, with the other four modes compared, a waterfall
/// each in the terminal, and the exit status saying not everything worked.
#[test]
fn compare_goes_on_past_a_mode_the_server_cannot_speak_and_draws_each_waterfall() {
    let (_origin, addr) = python_origin(CACHING_ORIGIN);
    let url = format!("http://{addr}/");
    let out = run(
        APPNET,
        "appnet",
        &["http", "load", "--mode", "compare", &url],
        Duration::from_secs(60),
    );
    assert_eq!(out.status, Some(1), "{out:?}");
    let (table, waterfalls) = out.stdout.split_once("\n\nhttp1.0 — PLT").expect("waterfalls");
    let worked = ["http1.0", "persistent", "pipelined", "parallel:6"];
    for mode in worked {
        let row = table.lines().find(|l| l.trim_start().starts_with(&format!("{mode} ")));
        let row = row.unwrap_or_else(|| panic!("a row for {mode}: {table}"));
        assert!(row.split_whitespace().nth(1).unwrap().parse::<f64>().is_ok(), "{row}");
    }
    let h2 = table.lines().find(|l| l.trim_start().starts_with("h2 ")).expect("an h2 row");
    assert!(h2.contains("failed:") && h2.contains("h2c"), "{h2}");
    assert!(out.stderr.contains("h2: failed:"), "{}", out.stderr);
    // A waterfall per mode that loaded: five rows each (the page and its four images), every
    // bar as wide as the others, each ending in its receive or wait.
    let waterfalls = format!("http1.0 — PLT{waterfalls}");
    for mode in worked {
        let start = waterfalls.find(&format!("{mode} — PLT")).unwrap_or_else(|| panic!("{mode}"));
        let rows: Vec<&str> =
            waterfalls[start..].lines().skip(2).take_while(|l| l.contains('|')).collect();
        assert_eq!(rows.len(), 5, "{mode}: {waterfalls}");
        let widths: Vec<usize> =
            rows.iter().map(|r| r.split('|').nth(1).unwrap().chars().count()).collect();
        assert!(widths.iter().all(|w| *w == widths[0] && *w >= 40), "{mode}: {widths:?}");
        assert!(rows.iter().all(|r| r.contains('-') || r.contains('#')), "{mode}: {waterfalls}");
    }
    assert!(!waterfalls.contains("h2 — PLT"), "{waterfalls}");
    assert!(waterfalls.contains("# receive"), "a legend: {waterfalls}");
    // The same in JSON: the failed mode is an element with its error.
    let args = ["http", "load", "--mode", "compare", "--json", &url];
    let out = run(APPNET, "appnet", &args, Duration::from_secs(60));
    assert_eq!(out.status, Some(1), "{out:?}");
    let loads: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let loads = loads.as_array().unwrap();
    assert_eq!(loads.len(), 5, "{loads:?}");
    let failed: Vec<_> = loads.iter().filter(|l| l["error"].is_string()).collect();
    assert_eq!(failed.len(), 1, "{loads:?}");
    assert_eq!(failed[0]["mode"], "h2");
}

/// A Python origin running `script` (which takes its port as its argument), once it listens,
/// and its address.
fn python_origin(script: &str) -> (RunningProgram, String) {
    let port = free_tcp_port();
    let mut origin =
        Program::new("python3", "python3").args(["-c", script, &port.to_string()]).start();
    let addr = format!("127.0.0.1:{port}");
    origin.wait_ready(Duration::from_secs(20), || {
        wait_for_tcp(addr.parse().unwrap(), Duration::from_millis(100))
    });
    (origin, addr)
}
