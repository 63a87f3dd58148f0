//! `appnet dig` against BIND's dig: both ask the same server (appnet's authority serving the test
//! zone) the same questions with the same options, and must print the same output, line for
//! line, except the version in the banner, the message ID, the query time and the date.

use std::time::Duration;

use appnet_testkit::{CommandOutput, Program, RunningProgram, free_port, run};

const TEST_ZONE: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../appnet-dns/testdata/example.lab.zone");
const APPNET: &str = env!("CARGO_BIN_EXE_appnet");

/// Every answer case of the test zone, as dig arguments.
const CASES: &[&str] = &[
    "www.example.lab",
    "WwW.ExAmPlE.lab AAAA",
    "www.example.lab TXT",
    "nope.example.lab",
    "b.c.example.lab",
    "chain.example.lab",
    "outside.example.lab",
    "alias.example.lab CNAME",
    "x.old.example.lab",
    "anything.wild.example.lab",
    "a.b.wild.example.lab TXT",
    "anything.wild.example.lab MX",
    "very-long-owner-name-here.wild.example.lab",
    "host.child.example.lab",
    "child.example.lab NS",
    "child.example.lab DS",
    "example.lab SOA",
    "example.lab NS",
    "example.lab MX",
    "_sip._tcp.example.lab SRV",
    "txt.example.lab TXT",
    "caa.example.lab CAA",
    "ptr.example.lab PTR",
    "unknown.example.lab TYPE65280",
    "big.example.lab TXT",
    "elsewhere.test",
    "example.lab IN ANY",
    "-x 192.0.2.80",
];

/// Option sets each case is asked with.
const VARIANTS: &[&str] = &[
    "",
    "+tcp",
    "+norec +dnssec",
    "+noall +answer",
    "+nocomments +nostats",
    "+noquestion +noadditional",
    "+noedns",
    "+short",
];

fn start_authority() -> (RunningProgram, u16) {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut server = Program::new(APPNET, "appnet")
        .args(["dns", "authority", "--listen", &listen, "--zone", TEST_ZONE, "--workers", "1"])
        .start();
    server.wait_ready(Duration::from_secs(20), || {
        dig(Dig::Bind, port, &["www.example.lab", "+short"]).stdout == "192.0.2.80\n"
    });
    (server, port)
}

/// Which dig: BIND's, or ours.
#[derive(Clone, Copy)]
enum Dig {
    Bind,
    Appnet,
}

fn dig(which: Dig, port: u16, args: &[&str]) -> CommandOutput {
    let port = port.to_string();
    let mut all = vec!["dig", "@127.0.0.1", "-p", &port, "+time=2", "+tries=2"];
    all.extend_from_slice(args);
    match which {
        Dig::Bind => run("dig", "bind9-dnsutils", &all[1..], Duration::from_secs(15)),
        Dig::Appnet => run(APPNET, "appnet", &all, Duration::from_secs(15)),
    }
}

/// The output with what legitimately differs between two runs masked out.
fn normalize(text: &str) -> String {
    text.lines()
        .filter(|line| !line.starts_with(";; Query time:") && !line.starts_with(";; WHEN:"))
        .map(|line| {
            if line.starts_with("; <<>> ") {
                let args = line.rsplit(" <<>> ").next().unwrap_or_default();
                return format!("; <<>> VERSION <<>> {args}");
            }
            match line.find(", id: ") {
                Some(at) => format!("{}, id: ID", &line[..at]),
                None => line.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn appnet_dig_prints_what_dig_prints() {
    let (_server, port) = start_authority();
    let mut differences = Vec::new();
    for case in CASES {
        for variant in VARIANTS {
            let args: Vec<&str> =
                case.split_whitespace().chain(variant.split_whitespace()).collect();
            let theirs = dig(Dig::Bind, port, &args);
            let ours = dig(Dig::Appnet, port, &args);
            theirs.assert_success();
            ours.assert_success();
            let (theirs, ours) = (normalize(&theirs.stdout), normalize(&ours.stdout));
            if theirs != ours {
                differences.push(format!(
                    "dig {}\n--- dig\n{theirs}\n--- appnet dig\n{ours}\n",
                    args.join(" ")
                ));
            }
        }
    }
    assert!(
        differences.is_empty(),
        "{} differences:\n{}",
        differences.len(),
        differences.join("\n")
    );
}

#[test]
fn truncated_answers_are_asked_again_over_tcp() {
    let (_server, port) = start_authority();
    let args = ["big.example.lab", "TXT", "+bufsize=512"];
    let theirs = dig(Dig::Bind, port, &args);
    let ours = dig(Dig::Appnet, port, &args);
    assert!(ours.stdout.contains(";; Truncated, retrying in TCP mode."), "{}", ours.stdout);
    assert!(ours.stdout.contains("(TCP)") && ours.stdout.contains("ANSWER: 6"), "{}", ours.stdout);
    assert_eq!(normalize(&theirs.stdout), normalize(&ours.stdout));
    // +ignore shows the truncated UDP answer instead.
    let ignored = dig(Dig::Appnet, port, &["big.example.lab", "TXT", "+bufsize=512", "+ignore"]);
    assert!(
        ignored.stdout.contains("flags: qr aa tc rd") && ignored.stdout.contains("(UDP)"),
        "{}",
        ignored.stdout
    );
}

#[test]
fn no_server_and_bad_options_exit_as_dig_does() {
    // Nothing listens on this port: dig's "no servers could be reached" and status 9.
    let closed = free_port();
    let ours = dig(Dig::Appnet, closed, &["www.example.lab", "+time=1", "+tries=1"]);
    assert_eq!(ours.status, Some(9), "{ours:?}");
    assert!(
        ours.stdout.contains(";; connection timed out; no servers could be reached"),
        "{ours:?}"
    );
    let bad = run(APPNET, "appnet", &["dig", "+frobnicate", "x.lab"], Duration::from_secs(10));
    assert_eq!(bad.status, Some(1), "{bad:?}");
    assert!(bad.stderr.contains("Invalid option: +frobnicate"), "{bad:?}");
}
