//! `appnet lab --quick` as a person runs it: it builds the DNS hierarchy, measures, prints the
//! summary, and writes report.json and report.html; headless Chromium (Debian's `chromium`)
//! renders the page and its charts are there, and the screenshot is not blank.

use std::time::Duration;

use appnet_testkit::run;

const APPNET: &str = env!("CARGO_BIN_EXE_appnet");

#[test]
fn quick_lab_measures_dns_and_writes_a_report_chromium_draws() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("report");
    let out_text = out.to_str().expect("utf-8 path");
    let lab =
        run(APPNET, "appnet", &["lab", "--quick", "--out", out_text], Duration::from_secs(120));
    lab.assert_success();
    assert!(lab.stdout.contains("first lookup of www.example.lab"), "{}", lab.stdout);
    assert!(lab.stdout.contains("Shared cache (forward proxy"), "{}", lab.stdout);

    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("report.json")).expect("report.json"),
    )
    .expect("valid JSON");
    let dns = &json["dns"];
    let value = |path: &str| dns.pointer(path).and_then(serde_json::Value::as_f64).unwrap_or(-1.0);
    assert!(value("/first_lookup/value") > 0.0 && dns["first_lookup"]["unit"] == "us", "{dns}");
    assert!(value("/cached_lookup/value") > 0.0);
    assert!(
        value("/cached_lookup/value") < value("/first_lookup/value"),
        "the cache is faster: {dns}"
    );
    let path = dns["path"].as_array().expect("path");
    assert!(path.len() >= 3, "root, TLD, site: {path:?}");
    assert_eq!(path[0]["result"], "referral");
    assert_eq!(path.last().unwrap()["result"], "answer");
    let hit_ratio = value("/hit_ratio/value");
    assert!((0.5..1.0).contains(&hit_ratio), "Zipf hit ratio {hit_ratio}");
    assert_eq!(dns["hit_ratio_over_time"].as_array().map(Vec::len), Some(10));
    assert!(value("/notify_propagation/value") > 0.0 && dns["notify_propagation"]["unit"] == "ms");
    assert_eq!(dns["failover_answered"], serde_json::json!([20, 20]), "the replica answers: {dns}");

    // The HTTP experiment: every mode under every link, a fastest mode and a finding for each,
    // HTTP/1.0's fresh connection per resource costing more than one persistent connection at
    // the longer round trip.
    let http = &json["http"];
    let conditions = http["conditions"].as_array().expect("http conditions");
    assert_eq!(conditions.len(), 4, "two RTTs x two bandwidths: {http}");
    for condition in conditions {
        let loads = condition["loads"].as_array().unwrap();
        let modes: Vec<&str> = loads.iter().map(|l| l["mode"].as_str().unwrap()).collect();
        assert_eq!(modes, ["http1.0", "persistent", "pipelined", "parallel:6", "h2"]);
        assert!(loads.iter().all(|l| l["plt"]["value"].as_f64().unwrap_or(0.0) > 0.0));
        // The fastest named is the one with the lowest PLT of this run, and its finding says so.
        let plt_of = |l: &serde_json::Value| l["plt"]["value"].as_f64().unwrap();
        let lowest = loads.iter().min_by(|a, b| plt_of(a).total_cmp(&plt_of(b))).unwrap();
        assert_eq!(condition["fastest"], lowest["mode"], "{condition}");
    }
    for (finding, condition) in http["findings"].as_array().unwrap().iter().zip(conditions) {
        let fastest = condition["fastest"].as_str().unwrap();
        let said = finding.as_str().unwrap();
        assert!(said.contains(&format!(", {fastest} was fastest (")), "{said} / {condition}");
    }
    let long = &conditions[2]["loads"];
    let plt = |i: usize| long[i]["plt"]["value"].as_f64().unwrap();
    assert!(plt(0) > plt(1), "at 40 ms, http1.0 {} > persistent {}", plt(0), plt(1));
    assert_eq!(long[0]["connections"], long[0]["requests"], "http1.0: a connection each");
    assert_eq!(http["findings"].as_array().map(Vec::len), Some(5), "4 links, and compression");
    // br and gzip each send fewer bytes than identity over the same link.
    let coded = |i: usize| http["compression_bytes"][i]["value"].as_f64().unwrap();
    assert!(coded(0) < coded(2) && coded(1) < coded(2), "br, gzip, identity: {http}");
    assert!(http["findings"][4].as_str().unwrap().contains("br took the page's bytes"));
    // The repeat view: every request revalidated (the origin says no-cache), no body sent again.
    let revalidated = http["revalidated"].as_array().unwrap();
    assert!(revalidated[0].as_u64() > Some(0) && revalidated[0] == revalidated[1], "{http}");

    // The origin: the local clients loaded the front page and the catalogue sample, and the
    // origin's own counts say so — one request per resource, on 1 + 6 + 4 connections.
    let origin = &json["origin"];
    let group = &origin["groups"][0];
    let resources = origin["page_resources"].as_u64().expect("page_resources");
    let objects = origin["settings"]["object_requests"].as_u64().expect("object_requests");
    assert_eq!(group["name"], "local");
    assert_eq!(group["requests"].as_u64(), Some(1 + resources + objects), "{origin}");
    assert_eq!(group["connections"].as_u64(), Some(11), "{origin}");
    assert!(group["bytes"]["value"].as_f64().unwrap_or(0.0) > 1e6, "{origin}");
    assert!(group["page_load"]["value"].as_f64().unwrap_or(0.0) > 0.0, "{origin}");

    // The shared cache: clients behind the forward proxy; what the cache answered the origin
    // did not serve, hits are faster than misses (the origin is 30 ms away), and the ratio
    // is drawn over the run.
    let cache = &json["cache"];
    let figure =
        |path: &str| cache.pointer(path).and_then(serde_json::Value::as_f64).unwrap_or(-1.0);
    let requests = cache["requests"].as_u64().expect("cache requests");
    assert_eq!(Some(requests), cache["settings"]["requests"].as_u64(), "{cache}");
    let hit_ratio = figure("/hit_ratio/value");
    assert!((0.2..1.0).contains(&hit_ratio), "a cache smaller than the catalogue: {cache}");
    assert_eq!(cache["hit_ratio_over_time"].as_array().map(Vec::len), Some(10));
    let origin_requests = cache["origin_requests"].as_u64().unwrap();
    let answered_upstream =
        cache["full_fetches"].as_u64().unwrap() + cache["revalidated"].as_u64().unwrap();
    assert_eq!(origin_requests, answered_upstream, "the origin served exactly the misses: {cache}");
    assert!(
        (figure("/offload_requests/value") - (1.0 - origin_requests as f64 / requests as f64))
            .abs()
            < 1e-9
    );
    assert!(figure("/latency/0/median/value") < figure("/latency/1/median/value"), "{cache}");
    assert!(figure("/latency/1/median/value") >= 30.0, "a miss crosses the 30 ms link: {cache}");

    // Chromium renders the page from disk: the charts' elements are in the DOM, and the
    // screenshot is far from a blank page's few kilobytes.
    let page = format!("file://{}", out.join("report.html").display());
    let profile = tempfile::tempdir().expect("profile dir");
    let profile_arg = format!("--user-data-dir={}", profile.path().display());
    let shot = dir.path().join("report.png");
    let shot_arg = format!("--screenshot={}", shot.display());
    let flags = appnet_testkit::CHROMIUM_FLAGS;
    let mut dump_args: Vec<&str> = flags.to_vec();
    dump_args.extend([profile_arg.as_str(), "--dump-dom", page.as_str()]);
    let dom = run("chromium", "chromium", &dump_args, Duration::from_secs(60));
    let count = |needle: &str| dom.stdout.matches(needle).count();
    assert!(
        count("class=\"hop\"") >= 2 + 2 * path.len(),
        "sequence diagram arrows: {}",
        dom.stderr
    );
    assert!(count("class=\"bar\"") >= 35, "bar charts, the origin's, HTTP's and the cache's");
    assert_eq!(count("class=\"waterfall\""), 5, "a waterfall per mode");
    assert_eq!(count("class=\"series\""), 3, "the DNS and cache hit-ratio lines");
    let mut shot_args: Vec<&str> = flags.to_vec();
    shot_args.extend([
        profile_arg.as_str(),
        "--window-size=1000,1600",
        shot_arg.as_str(),
        page.as_str(),
    ]);
    run("chromium", "chromium", &shot_args, Duration::from_secs(60));
    let size = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
    assert!(size > 40_000, "a drawn page, not a blank one: {size} bytes");
}

#[test]
fn emulated_links_add_their_round_trip_to_every_exchange() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().to_str().expect("utf-8 path");
    let args =
        ["lab", "--quick", "--only", "dns", "--links", "in-process", "--rtt", "10ms", "--region"];
    let args = [&args[..], &["far=30ms", "--out", out]].concat();
    let lab = run(APPNET, "appnet", &args, Duration::from_secs(120));
    lab.assert_success();
    assert!(
        lab.stdout.contains("links: in-process link emulator, as --links in-process asked; 10 ms"),
        "{}",
        lab.stdout
    );
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("report.json")).expect("report.json"),
    )
    .expect("JSON");
    let micros =
        |path: &str| json["dns"].pointer(path).and_then(serde_json::Value::as_f64).unwrap_or(-1.0);
    // Client to resolver and three authorities: four round trips of 10 ms at least.
    assert!(micros("/first_lookup/value") >= 40_000.0, "{}", json["dns"]["first_lookup"]);
    // From the cache: the client's link alone.
    let cached = micros("/cached_lookup/value");
    assert!((10_000.0..30_000.0).contains(&cached), "cached lookup {cached} us");
    for step in json["dns"]["path"].as_array().expect("path") {
        assert!(step["rtt"]["value"].as_f64().unwrap_or(0.0) >= 10_000.0, "{step}");
    }
    // A region 30 ms from the resolver: even a cached answer takes that long there, and a
    // first lookup adds the resolver's own links (10 ms each) on top.
    let far = &json["dns"]["regions"][0];
    assert_eq!(far["region"]["name"], "far");
    assert!(far["cached_lookup"]["value"].as_f64().unwrap_or(0.0) >= 30_000.0, "{far}");
    assert!(far["first_lookup"]["value"].as_f64().unwrap_or(0.0) >= 40_000.0, "{far}");
}

#[test]
fn keep_running_leaves_the_lab_up_for_dig_until_ctrl_c() {
    let program = appnet_testkit::Program::new(APPNET, "appnet");
    let out = program.dir().join("report");
    let out_text = out.to_str().expect("utf-8 path").to_owned();
    let mut lab = program
        .args(["lab", "--quick", "--only", "dns", "--keep-running", "--out", &out_text])
        .start();
    assert!(
        appnet_testkit::wait_until(Duration::from_secs(90), || lab
            .log()
            .contains("Try: appnet dig")),
        "the lab says where it is:\n{}",
        lab.log()
    );
    let log = lab.log();
    let (ip, port) = resolver_address(&log);
    let server = format!("@{ip}");
    let reply = run(
        "dig",
        "bind9-dnsutils",
        &[&server, "-p", &port, "+short", "alias.example.lab", "A"],
        Duration::from_secs(15),
    );
    assert_eq!(reply.stdout, "www.example.lab.\n192.0.2.80\n", "{log}");
    lab.signal(appnet_testkit::signal::SIGINT);
    assert!(
        appnet_testkit::wait_until(Duration::from_secs(15), || !lab.is_running()),
        "stops on Ctrl-C"
    );
    assert!(lab.log().contains("stopping the lab"), "{}", lab.log());
}

#[test]
fn links_in_network_namespaces_shape_traffic_and_the_lab_can_be_entered() {
    let environment = appnet_lab::environment::Environment::probe();
    if !environment.namespaces {
        eprintln!("skipped: this process cannot make network namespaces (needs root, iproute2)");
        return;
    }
    // With netem, a real delay; without (some kernels lack sch_netem), bandwidth alone (tbf).
    let rtt = if environment.netem { "10ms" } else { "0ms" };
    let program = appnet_testkit::Program::new(APPNET, "appnet");
    let out = program.dir().join("report");
    let out_text = out.to_str().expect("utf-8 path").to_owned();
    let region = format!("far={rtt}/20mbit");
    let args = [
        "lab",
        "--quick",
        "--only",
        "dns,origin",
        "--links",
        "namespaces",
        "--rtt",
        rtt,
        "--bandwidth",
        "50mbit",
        "--region",
        &region,
        "--keep-running",
        "--out",
        &out_text,
    ];
    let mut lab = program.args(args).start();
    assert!(
        appnet_testkit::wait_until(Duration::from_secs(100), || lab.log().contains("Try: nsenter")),
        "the lab says how to reach its namespaces:\n{}",
        lab.log()
    );
    let log = lab.log();
    assert!(log.contains("links: network namespaces"), "{log}");
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("report.json")).expect("report.json"),
    )
    .expect("JSON");
    let dns = &json["dns"];
    assert_eq!(
        dns["settings"]["topology"],
        serde_json::json!({"namespaces": {"netem": environment.netem}}),
        "{}",
        dns["settings"]
    );
    let micros = |path: &str| dns.pointer(path).and_then(serde_json::Value::as_f64).unwrap_or(-1.0);
    assert_eq!(dns["failover_answered"], serde_json::json!([20, 20]), "{dns}");
    assert!(micros("/regions/0/cached_lookup/value") > 0.0, "{dns}");
    if environment.netem {
        // Client to resolver and three authorities: four round trips of 10 ms at least.
        assert!(micros("/first_lookup/value") >= 40_000.0, "{}", dns["first_lookup"]);
        assert!(micros("/cached_lookup/value") >= 10_000.0, "{}", dns["cached_lookup"]);
    }

    // The origin on its own namespace host served both client groups, each from its address.
    let groups = json["origin"]["groups"].as_array().expect("origin groups");
    assert_eq!(groups.len(), 2, "{groups:?}");
    assert_eq!(groups[1]["name"], "far");
    assert_eq!(groups[1]["address"], "198.18.10.1");
    assert_eq!(groups[0]["requests"], groups[1]["requests"], "{groups:?}");
    assert_eq!(groups[1]["connections"].as_u64(), Some(11), "{groups:?}");

    // The printed way in works: dig, run inside the clients' namespace, asks the resolver.
    let try_line = log.lines().find(|l| l.starts_with("Try: nsenter")).expect("Try line");
    let path = try_line
        .split_whitespace()
        .find_map(|word| word.strip_prefix("--net="))
        .expect("nsenter --net=PATH");
    let (ip, port) = resolver_address(&log);
    assert!(ip.starts_with("198.18."), "{ip}");
    let net = format!("--net={path}");
    let server = format!("@{ip}");
    let dig = appnet_testkit::require("dig", "bind9-dnsutils");
    let dig = dig.to_str().expect("utf-8 path");
    let reply = run(
        "nsenter",
        "util-linux",
        &[&net, dig, &server, "-p", &port, "+short", "alias.example.lab", "A"],
        Duration::from_secs(15),
    );
    assert_eq!(reply.stdout, "www.example.lab.\n192.0.2.80\n", "{}\n{log}", reply.stderr);
    lab.signal(appnet_testkit::signal::SIGINT);
    assert!(
        appnet_testkit::wait_until(Duration::from_secs(15), || !lab.is_running()),
        "stops on Ctrl-C"
    );
}

/// The resolver's (IP, port) from `--keep-running`'s list of addresses.
fn resolver_address(log: &str) -> (String, String) {
    let resolver = log
        .lines()
        .find_map(|line| line.trim().strip_prefix("resolver"))
        .map(str::trim)
        .expect("the resolver's address");
    let (ip, port) = resolver.rsplit_once(':').expect("ADDR:PORT");
    (ip.to_owned(), port.to_owned())
}

/// `GET path` over HTTP/1.1 on `addr`: the whole response, headers and body.
fn http_get(addr: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(addr) else { return String::new() };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = write!(stream, "GET {path} HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n\r\n");
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response
}

#[test]
fn serve_shows_the_report_over_http() {
    let addr = format!("127.0.0.1:{}", appnet_testkit::free_tcp_port());
    let program = appnet_testkit::Program::new(APPNET, "appnet");
    let out = program.dir().join("report").to_str().expect("utf-8 path").to_owned();
    let mut lab =
        program.args(["lab", "--quick", "--only", "dns", "--serve", &addr, "--out", &out]).start();
    assert!(
        appnet_testkit::wait_until(Duration::from_secs(90), || lab
            .log()
            .contains("Serving the report")),
        "{}",
        lab.log()
    );
    let page = http_get(&addr, "/");
    assert!(page.starts_with("HTTP/1.1 200") && page.contains("<svg id=\"dns-path\""), "{page}");
    let json = http_get(&addr, "/report.json");
    assert!(json.starts_with("HTTP/1.1 200") && json.contains("\"first_lookup\""), "{json}");
    assert!(http_get(&addr, "/nope").starts_with("HTTP/1.1 404"));
    lab.signal(appnet_testkit::signal::SIGINT);
    assert!(
        appnet_testkit::wait_until(Duration::from_secs(15), || !lab.is_running()),
        "stops on Ctrl-C"
    );
}
