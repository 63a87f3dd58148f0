//! `appnet dns resolver` walks a private hierarchy served by NSD on loopback: a root on
//! 127.0.0.2, the TLD lab. on 127.0.0.3, example.lab. on 127.0.0.4 and its replica on
//! 127.0.0.6, and other.lab. on 127.0.0.5 behind a glueless NS — every server on one port, as
//! `--ns-port` says. dig and kdig ask the resolver over UDP and TCP; then one example.lab.
//! server is killed and answers keep coming from the replica.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use appnet_testkit::{
    CommandOutput, Program, RunningProgram, free_port, free_port_on, run, signal, wait_for_tcp,
    wait_until,
};

const APPNET: &str = env!("CARGO_BIN_EXE_appnet");

const ROOT: &str = "$ORIGIN .\n$TTL 86400\n. SOA a.root.lab. hostmaster.root.lab. 1 3600 900 604800 300\n\
    . NS a.root.lab.\na.root.lab. A 127.0.0.2\nlab. NS ns.lab.\nns.lab. A 127.0.0.3\n";
const LAB: &str = "$ORIGIN lab.\n$TTL 3600\n@ SOA ns hostmaster 1 3600 900 604800 300\n@ NS ns\n\
    ns A 127.0.0.3\nexample NS ns1.example\nexample NS ns2.example\nns1.example A 127.0.0.4\n\
    ns2.example A 127.0.0.6\nother NS ns.other-host.example.lab.\nwww CNAME www.example.lab.\n";
const EXAMPLE: &str = "$ORIGIN example.lab.\n$TTL 300\n@ SOA ns1 hostmaster 7 3600 900 604800 120\n\
    @ NS ns1\n@ NS ns2\n@ MX 10 mail\nns1 A 127.0.0.4\nns2 A 127.0.0.6\nwww A 192.0.2.80\n\
    www AAAA 2001:db8::80\nmail A 192.0.2.25\nns.other-host A 127.0.0.5\nalias CNAME www\n\
    txt TXT \"hello from example.lab\"\n";
const OTHER: &str = "$ORIGIN other.lab.\n$TTL 300\n@ SOA ns.other-host.example.lab. h 1 3600 900 604800 60\n\
    @ NS ns.other-host.example.lab.\nhost A 192.0.2.55\n";

fn start_nsd(ip: &str, port: u16, origin: &str, zone: &str) -> RunningProgram {
    let program = Program::new("nsd", "nsd").file("zone", zone);
    let dir = program.dir().display().to_string();
    let config = format!(
        "server:\n  ip-address: {ip}@{port}\n  port: {port}\n  do-ip6: no\n  username: \"\"\n  chroot: \"\"\n  \
         zonesdir: \"{dir}\"\n  pidfile: \"{dir}/nsd.pid\"\n  xfrdfile: \"{dir}/xfrd.state\"\n  \
         zonelistfile: \"{dir}/zone.list\"\n  database: \"\"\n  server-count: 1\n  \
         rrl-ratelimit: 0\n  minimal-responses: yes\n  verbosity: 1\nremote-control:\n  control-enable: no\n\
         zone:\n  name: \"{origin}\"\n  zonefile: \"zone\"\n"
    );
    let config_path = format!("{dir}/nsd.conf");
    let mut nsd = program.file("nsd.conf", config).args(["-d", "-c", &config_path]).start();
    let port_text = port.to_string();
    let server = format!("@{ip}");
    nsd.wait_ready(Duration::from_secs(20), || {
        let args = [&server[..], "-p", &port_text, "+time=1", "+tries=1", "+norec", origin, "SOA"];
        run("dig", "bind9-dnsutils", &args, Duration::from_secs(5))
            .stdout
            .contains("status: NOERROR")
    });
    nsd
}

struct Lab {
    resolver_port: u16,
    ns_port: u16,
    authorities: Vec<RunningProgram>,
    replica_primary: Option<RunningProgram>,
    resolver: RunningProgram,
}

fn start_lab() -> Lab {
    start_lab_with(&[])
}

fn start_lab_with(extra: &[&str]) -> Lab {
    let port = free_port_on(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)));
    let authorities = vec![
        start_nsd("127.0.0.2", port, ".", ROOT),
        start_nsd("127.0.0.3", port, "lab.", LAB),
        start_nsd("127.0.0.6", port, "example.lab.", EXAMPLE),
        start_nsd("127.0.0.5", port, "other.lab.", OTHER),
    ];
    let primary = start_nsd("127.0.0.4", port, "example.lab.", EXAMPLE);
    let resolver_port = free_port();
    let listen = format!("127.0.0.1:{resolver_port}");
    let program = Program::new(APPNET, "appnet")
        .file("root.hints", ". 3600000 NS a.root.lab.\na.root.lab. 3600000 A 127.0.0.2\n");
    let hints = program.dir().join("root.hints");
    let mut resolver = program
        .args([
            "dns",
            "resolver",
            "--listen",
            &listen,
            "--ns-port",
            &port.to_string(),
            "--root-hints",
        ])
        .args([&hints])
        .args(extra)
        .start();
    resolver.wait_ready(Duration::from_secs(20), || {
        wait_for_tcp(listen.parse().expect("addr"), Duration::from_millis(100))
    });
    Lab { resolver_port, ns_port: port, authorities, replica_primary: Some(primary), resolver }
}

fn dig(lab: &Lab, args: &[&str]) -> CommandOutput {
    let port = lab.resolver_port.to_string();
    let mut all = vec!["@127.0.0.1", "-p", &port, "+time=5", "+tries=1"];
    all.extend_from_slice(args);
    run("dig", "bind9-dnsutils", &all, Duration::from_secs(15))
}

#[test]
fn resolves_through_a_hierarchy_served_by_nsd() {
    let mut lab = start_lab();

    let www = dig(&lab, &["www.example.lab", "A"]);
    assert!(www.stdout.contains("status: NOERROR"), "{}", www.stdout);
    assert!(www.stdout.contains("flags: qr rd ra;"), "recursive reply: {}", www.stdout);
    assert!(www.stdout.contains("www.example.lab.\t300\tIN\tA\t192.0.2.80"), "{}", www.stdout);

    let cname = dig(&lab, &["+short", "www.lab", "A"]);
    assert_eq!(cname.stdout, "www.example.lab.\n192.0.2.80\n", "CNAME into a delegated zone");
    let alias = dig(&lab, &["+short", "alias.example.lab", "AAAA"]);
    assert_eq!(alias.stdout, "www.example.lab.\n2001:db8::80\n");

    let glueless = dig(&lab, &["+short", "host.other.lab", "A"]);
    assert_eq!(glueless.stdout, "192.0.2.55\n", "through a glueless delegation");

    let nxdomain = dig(&lab, &["nope.example.lab", "A"]);
    assert!(nxdomain.stdout.contains("status: NXDOMAIN"), "{}", nxdomain.stdout);
    assert!(
        nxdomain.stdout.contains("hostmaster.example.lab. 7 3600 900 604800 120"),
        "{}",
        nxdomain.stdout
    );
    let nodata = dig(&lab, &["www.example.lab", "MX"]);
    assert!(
        nodata.stdout.contains("status: NOERROR") && nodata.stdout.contains("ANSWER: 0"),
        "{}",
        nodata.stdout
    );

    let tcp = dig(&lab, &["+tcp", "+short", "mail.example.lab", "A"]);
    assert_eq!(tcp.stdout, "192.0.2.25\n", "over TCP");
    let port = lab.resolver_port.to_string();
    let kdig = run(
        "kdig",
        "knot-dnsutils",
        &["@127.0.0.1", "-p", &port, "+short", "txt.example.lab", "TXT"],
        Duration::from_secs(15),
    );
    assert_eq!(kdig.stdout, "\"hello from example.lab\"\n", "kdig: {kdig:?}");

    // From the cache now: the TTL has started counting down, and no authority is needed.
    std::thread::sleep(Duration::from_millis(1100));
    let cached = dig(&lab, &["+noall", "+answer", "www.example.lab", "A"]);
    assert!(cached.stdout.contains("www.example.lab.\t299\tIN\tA"), "{}", cached.stdout);

    // One example.lab. server goes away: its replica keeps answering new names.
    drop(lab.replica_primary.take());
    for name in ["mail.example.lab", "ns1.example.lab", "ns2.example.lab"] {
        let answer = dig(&lab, &["+short", name, "A"]);
        assert!(answer.stdout.starts_with("1"), "{name} after the primary stopped: {answer:?}");
    }
}

#[test]
fn refuses_networks_not_allowed_and_malformed_queries() {
    let lab = start_lab();
    // 127.0.0.1 is allowed by default; a resolver allowing only 10.0.0.0/8 refuses it.
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut strict = Program::new(APPNET, "appnet")
        .args(["dns", "resolver", "--listen", &listen, "--allow", "10.0.0.0/8"])
        .start();
    strict.wait_ready(Duration::from_secs(20), || {
        wait_for_tcp(listen.parse().expect("addr"), Duration::from_millis(100))
    });
    let port_text = port.to_string();
    let refused = run(
        "dig",
        "bind9-dnsutils",
        &["@127.0.0.1", "-p", &port_text, "+time=2", "+tries=1", "www.example.lab"],
        Duration::from_secs(10),
    );
    assert!(refused.stdout.contains("status: REFUSED"), "{}", refused.stdout);
    // A truncated query gets FORMERR from the open resolver.
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    socket
        .send_to(
            &[0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, b'w'],
            ("127.0.0.1", lab.resolver_port),
        )
        .unwrap();
    let mut buffer = [0; 512];
    let (length, _) = socket.recv_from(&mut buffer).expect("a reply");
    assert!(length >= 12 && buffer[3] & 0x0F == 1, "FORMERR");
}

#[test]
fn forwards_to_an_upstream_resolver() {
    let lab = start_lab();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let upstream = format!("127.0.0.1:{}", lab.resolver_port);
    let mut forwarder = Program::new(APPNET, "appnet")
        .args(["dns", "resolver", "--listen", &listen, "--forward", &upstream])
        .start();
    forwarder.wait_ready(Duration::from_secs(20), || {
        wait_for_tcp(listen.parse().expect("addr"), Duration::from_millis(100))
    });
    let port_text = port.to_string();
    let ask = |name: &str| {
        let args = ["@127.0.0.1", "-p", &port_text, "+time=5", "+tries=1", "+short", name, "A"];
        run("dig", "bind9-dnsutils", &args, Duration::from_secs(15)).stdout
    };
    assert_eq!(ask("host.other.lab"), "192.0.2.55\n");
    assert_eq!(ask("www.lab"), "www.example.lab.\n192.0.2.80\n");
    let missing = run(
        "dig",
        "bind9-dnsutils",
        &["@127.0.0.1", "-p", &port_text, "+time=5", "+tries=1", "nope.example.lab"],
        Duration::from_secs(15),
    );
    assert!(missing.stdout.contains("status: NXDOMAIN"), "{}", missing.stdout);
}

#[test]
fn serves_stale_answers_when_every_authority_is_gone() {
    // TTLs capped at one second, so the cache is expired when the authorities are.
    let mut lab = start_lab_with(&["--max-ttl", "1"]);
    let fresh = dig(&lab, &["+noall", "+answer", "www.example.lab", "A"]);
    assert!(fresh.stdout.contains("\t1\tIN\tA\t192.0.2.80"), "{}", fresh.stdout);
    lab.authorities.clear();
    drop(lab.replica_primary.take());
    std::thread::sleep(Duration::from_millis(2100));
    let stale = dig(&lab, &["+time=12", "+noall", "+answer", "www.example.lab", "A"]);
    assert!(stale.stdout.contains("\t30\tIN\tA\t192.0.2.80"), "stale, TTL 30: {stale:?}");
    let unknown = dig(&lab, &["+time=12", "never.example.lab", "A"]);
    assert!(unknown.stdout.contains("status: SERVFAIL"), "{}", unknown.stdout);
}

#[test]
fn sigusr1_dumps_the_cache() {
    let dir = tempfile::tempdir().expect("temp dir");
    let dump = dir.path().join("cache.dump");
    let lab = start_lab_with(&["--dump-file", dump.to_str().expect("utf-8 path")]);
    assert_eq!(dig(&lab, &["+short", "www.lab", "A"]).stdout, "www.example.lab.\n192.0.2.80\n");
    lab.resolver.signal(signal::SIGUSR1);
    assert!(wait_until(Duration::from_secs(10), || dump.exists()), "dump written");
    let text = std::fs::read_to_string(&dump).expect("dump");
    assert!(
        text.contains("www.lab.\t") && text.contains("\tIN\tCNAME\twww.example.lab."),
        "{text}"
    );
    assert!(
        text.contains("example.lab.\t") && text.contains("\tIN\tNS\tns1.example.lab."),
        "{text}"
    );
}

fn start_unbound(root_port: u16) -> (RunningProgram, u16) {
    let port = free_port();
    let program = Program::new("unbound", "unbound");
    let dir = program.dir().display().to_string();
    // One thread, iterator only (no DNSSEC: no trust anchor), loopback authorities allowed.
    // Unbound cannot be told to ask every server on one port the way --ns-port does, so each
    // zone of the lab is a stub pointing at its servers' address@port.
    let config = format!(
        "server:\n  interface: 127.0.0.1@{port}\n  port: {port}\n  do-ip6: no\n  num-threads: 1\n  \
         username: \"\"\n  chroot: \"\"\n  directory: \"{dir}\"\n  pidfile: \"{dir}/unbound.pid\"\n  \
         use-syslog: no\n  logfile: \"\"\n  verbosity: 1\n  do-not-query-localhost: no\n  \
         module-config: \"iterator\"\n  access-control: 127.0.0.0/8 allow\n\
         stub-zone:\n  name: \".\"\n  stub-addr: 127.0.0.2@{root_port}\n\
         stub-zone:\n  name: \"lab.\"\n  stub-addr: 127.0.0.3@{root_port}\n\
         stub-zone:\n  name: \"example.lab.\"\n  stub-addr: 127.0.0.4@{root_port}\n  stub-addr: 127.0.0.6@{root_port}\n\
         stub-zone:\n  name: \"other.lab.\"\n  stub-addr: 127.0.0.5@{root_port}\n\
         remote-control:\n  control-enable: no\n"
    );
    let config_path = format!("{dir}/unbound.conf");
    let mut unbound = program.file("unbound.conf", config).args(["-d", "-c", &config_path]).start();
    let addr = format!("127.0.0.1:{port}");
    unbound.wait_ready(Duration::from_secs(20), || {
        wait_for_tcp(addr.parse().expect("addr"), Duration::from_millis(100))
    });
    (unbound, port)
}

/// rcode and the answer section, TTLs left out, records sorted: what two resolvers must agree on.
fn essence(port: u16, name: &str, qtype: &str) -> String {
    let port = port.to_string();
    let args = [
        "@127.0.0.1",
        "-p",
        &port,
        "+time=5",
        "+tries=2",
        "+noall",
        "+comments",
        "+answer",
        name,
        qtype,
    ];
    let output = run("dig", "bind9-dnsutils", &args, Duration::from_secs(20)).stdout;
    let status = output
        .lines()
        .find_map(|l| l.split("status: ").nth(1))
        .map(|s| s.split(',').next().unwrap_or("").to_owned());
    let mut records: Vec<String> = output
        .lines()
        .filter(|l| !l.starts_with(';') && !l.trim().is_empty())
        .map(|l| {
            let fields: Vec<&str> = l.split_whitespace().collect();
            let mut kept = vec![fields[0].to_ascii_lowercase()];
            kept.extend(fields[2..].iter().map(|f| f.to_string()));
            kept.join(" ")
        })
        .collect();
    records.sort();
    format!("{}: {}", status.unwrap_or_else(|| "no answer".into()), records.join(" | "))
}

#[test]
fn answers_equal_unbounds_for_a_corpus_of_questions() {
    let lab = start_lab();
    let root_port = lab.ns_port;
    let (_unbound, unbound_port) = start_unbound(root_port);
    let corpus = [
        ("www.example.lab", "A"),
        ("www.example.lab", "AAAA"),
        ("WWW.Example.LAB", "A"),
        ("example.lab", "MX"),
        ("www.example.lab", "MX"),
        ("nope.example.lab", "A"),
        ("nope.lab", "A"),
        ("www.lab", "A"),
        ("alias.example.lab", "AAAA"),
        ("host.other.lab", "A"),
        ("other.lab", "SOA"),
        ("txt.example.lab", "TXT"),
        ("example.lab", "NS"),
        ("lab", "SOA"),
        ("ns.other-host.example.lab", "A"),
        ("deep.nope.other.lab", "TXT"),
    ];
    let mut differences = Vec::new();
    for (name, qtype) in corpus {
        let (ours, theirs) =
            (essence(lab.resolver_port, name, qtype), essence(unbound_port, name, qtype));
        if ours != theirs {
            differences.push(format!("{name} {qtype}\n  appnet:  {ours}\n  unbound: {theirs}"));
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}

#[test]
fn dig_trace_follows_the_delegations_from_the_root() {
    let lab = start_lab();
    let port = lab.ns_port.to_string();
    let trace = |name: &str| {
        let args = ["dig", "+trace", "@127.0.0.2", "-p", &port, "+time=3", name];
        run(APPNET, "appnet", &args, Duration::from_secs(30))
    };
    let www = trace("www.example.lab");
    assert_eq!(www.status, Some(0), "{www:?}");
    let steps: Vec<&str> = www.stdout.lines().filter(|l| l.starts_with(";; Received")).collect();
    assert_eq!(steps.len(), 4, "root NS, root, lab., example.lab.:\n{}", www.stdout);
    assert!(
        www.stdout.contains("lab.\t\t\t3600\tIN\tNS\tns.lab.\n")
            || www.stdout.contains("lab.\t\t\t86400\tIN\tNS\tns.lab.\n"),
        "{}",
        www.stdout
    );
    assert!(
        www.stdout.contains("example.lab.\t\t3600\tIN\tNS\tns1.example.lab."),
        "{}",
        www.stdout
    );
    assert!(www.stdout.contains("www.example.lab.\t300\tIN\tA\t192.0.2.80"), "{}", www.stdout);
    assert!(steps[1].contains(&format!("from 127.0.0.2#{port}(a.root.lab)")), "{}", steps[1]);
    // A glueless delegation: the trace finds ns.other-host.example.lab. itself.
    let glueless = trace("host.other.lab");
    assert!(glueless.stdout.contains("host.other.lab.\t\t300\tIN\tA\t192.0.2.55"), "{glueless:?}");
    assert!(
        glueless.stdout.contains(&format!("from 127.0.0.5#{port}(ns.other-host.example.lab)")),
        "{}",
        glueless.stdout
    );
}

#[test]
fn a_flood_of_forged_answers_does_not_poison_the_cache() {
    let mut lab = start_lab();
    // Both example.lab. servers go silent (NSD on 127.0.0.6 is the third authority started):
    // a black hole holds their ports, so every query to them waits out its whole timeout —
    // seconds of window in which a forger using their addresses has all the time it wants.
    drop(lab.replica_primary.take());
    drop(lab.authorities.remove(2));
    let port = lab.ns_port.to_string();
    let holes = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/blackhole.py");
    let mut blackhole = Program::new("python3", "python3")
        .args([holes, "127.0.0.4,127.0.0.6", &port, "40"])
        .start();
    blackhole.wait_ready(Duration::from_secs(10), || blackhole_ready(&port));
    let names: Vec<String> = (0..8).map(|i| format!("victim{i}.example.lab")).collect();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/spoof.py");
    let joined = names.join(",");
    // The forger needs root for its raw socket, as CI has; it runs for 12 s.
    let forger = std::thread::spawn(move || {
        let args = [script, "127.0.0.4,127.0.0.6", &port, "127.0.0.1", "12", &joined];
        run("python3", "python3", &args, Duration::from_secs(40))
    });
    std::thread::sleep(Duration::from_millis(300));
    let resolver = lab.resolver_port.to_string();
    // Every name at once, each reply with its name.
    let ask_all = || -> Vec<(String, String)> {
        let askers: Vec<_> = names
            .iter()
            .map(|name| {
                let (resolver, name) = (resolver.clone(), name.clone());
                std::thread::spawn(move || {
                    let args = ["@127.0.0.1", "-p", &resolver, "+time=15", "+tries=1", &name, "A"];
                    let reply = run("dig", "bind9-dnsutils", &args, Duration::from_secs(30));
                    (name, reply.stdout)
                })
            })
            .collect();
        askers.into_iter().map(|t| t.join().expect("asker")).collect()
    };
    let replies = ask_all();
    let forged = forger.join().expect("forger thread");
    assert_eq!(forged.status, Some(0), "the forger must run (as root): {forged:?}");
    let sent: u64 = forged.stdout.trim().parse().expect("the forger prints its count");
    assert!(sent > 100_000, "a real flood: {sent} forged answers");
    // After the flood, each name once more: whatever the resolver kept must not be forged.
    let again = ask_all();
    // A reply that never came (dig gave up while the resolver was still retrying the silent
    // servers under the flood's load) is not a forged one; a forged one carries the forger's
    // address or claims success.
    let forged_reply = |reply: &str| reply.contains("6.6.6.6") || reply.contains("status: NOERROR");
    let poisoned: Vec<String> = replies
        .iter()
        .chain(&again)
        .filter(|(_, reply)| forged_reply(reply))
        .map(|(name, reply)| format!("{name}: {reply}"))
        .collect();
    let failures = replies.iter().chain(&again).filter(|(_, r)| r.contains("status: SERVFAIL"));
    assert!(failures.count() >= names.len(), "the resolver must answer SERVFAIL: {replies:?}");
    assert!(
        poisoned.is_empty(),
        "{} of {} answers forged:\n{}",
        poisoned.len(),
        names.len(),
        poisoned.join("\n")
    );
}

/// Whether the black hole holds 127.0.0.4's port (binding it fails).
fn blackhole_ready(port: &str) -> bool {
    std::net::UdpSocket::bind(format!("127.0.0.4:{port}")).is_err()
}
