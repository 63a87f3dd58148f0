//! What the proxy and server tests share: starting appnet, curl, reading a header, an origin
//! (our own server) running a CGI script that counts its calls, and an upload refused midway.
#![allow(dead_code)] // Each test crate uses its own part.

use std::path::Path;
use std::time::Duration;

use appnet_testkit::{CommandOutput, Program, RunningProgram, free_tcp_port, run, wait_for_tcp};

pub(crate) const APPNET: &str = env!("CARGO_BIN_EXE_appnet");

/// `appnet args…`, once it accepts connections on 127.0.0.1:`port`.
pub(crate) fn start(args: &[&str], port: u16) -> RunningProgram {
    let mut program = Program::new(APPNET, "appnet").args(args.iter().copied()).start();
    let addr = format!("127.0.0.1:{port}");
    program.wait_ready(Duration::from_secs(20), || {
        wait_for_tcp(addr.parse().unwrap(), Duration::from_millis(100))
    });
    program
}

/// `curl -sS --max-time 10 args…`.
pub(crate) fn curl(args: &[&str]) -> CommandOutput {
    let mut all = vec!["-sS", "--max-time", "10"];
    all.extend_from_slice(args);
    run("curl", "curl", &all, Duration::from_secs(20))
}

/// Sends `head` (a request head with a 64 MiB Content-Length, up to its blank line) to `addr`
/// and writes its body without waiting until a response comes (2 MiB at most), then ten
/// chunks more (what would have been on its way), then stops; returns the first 12 bytes
/// (`HTTP/1.1 NNN`). Panics if any write after the response drew a reset or the response did
/// not end with the end of the stream: a server that closes on a body it refused unread
/// resets the client, and the reset can destroy the response before the client reads it.
pub(crate) fn upload_refused_midway(addr: &str, head: &str) -> String {
    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicBool, Ordering};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let answered = std::sync::Arc::new(AtomicBool::new(false));
    let mut writer = stream.try_clone().unwrap();
    let seen = answered.clone();
    let head = head.to_owned();
    let uploading = std::thread::spawn(move || -> std::io::Result<()> {
        writer.write_all(head.as_bytes())?;
        let chunk = [b'x'; 64 * 1024];
        // At most 2 MiB before the response is seen (well inside what a lingering close
        // reads, 8 MiB, however slow this machine is to wake the reading thread).
        let mut sent = 0;
        while !seen.load(Ordering::SeqCst) {
            if sent < 2 << 20 {
                writer.write_all(&chunk)?;
                sent += chunk.len();
            } else {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        for _ in 0..10 {
            std::thread::sleep(Duration::from_millis(20));
            writer.write_all(&chunk)?;
        }
        writer.shutdown(std::net::Shutdown::Write)
    });
    let mut status = [0; 12];
    stream.read_exact(&mut status).expect("a response while the body is still coming");
    answered.store(true, Ordering::SeqCst);
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).expect("the rest of the response, then the end of the stream");
    uploading.join().unwrap().expect("every write after the response was read, none reset");
    String::from_utf8_lossy(&status).into_owned()
}

/// The value of header `name` in a response head (as `curl -D -` prints it).
pub(crate) fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

/// Answers `/cgi/page.py?cc=…&cdn=…&sleep=…&pad=…` with those Cache-Control and
/// CDN-Cache-Control fields, after sleeping, and a body `call N` (then `pad` x's) counting
/// its calls per query string.
const COUNTING_SCRIPT: &str = r#"#!/usr/bin/env python3
import fcntl, os, time, urllib.parse, hashlib
raw = os.environ.get("QUERY_STRING", "")
query = urllib.parse.parse_qs(raw)
time.sleep(float(query.get("sleep", ["0"])[0]))
counter = os.path.join(os.path.dirname(__file__), hashlib.sha1(raw.encode()).hexdigest())
# Concurrent calls count one after another: the lock is held while counting.
with open(counter + ".lock", "a") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        calls = int(open(counter).read()) + 1
    except (OSError, ValueError):
        calls = 1
    with open(counter, "w") as out:
        out.write(str(calls))
print("Content-Type: text/plain")
for field, key in (("Cache-Control", "cc"), ("CDN-Cache-Control", "cdn")):
    if key in query:
        print(f"{field}: {query[key][0]}")
print()
print(f"call {calls}" + " " * ("pad" in query) + "x" * int(query.get("pad", ["0"])[0]), end="")
"#;

/// Our origin with the counting script at /cgi/page.py and `root/data.txt` (ten digits,
/// modified long ago, so heuristically fresh), and its port.
pub(crate) fn counting_origin(dir: &Path) -> (RunningProgram, u16) {
    let cgi = dir.join("cgi");
    std::fs::create_dir_all(&cgi).unwrap();
    std::fs::create_dir_all(dir.join("root")).unwrap();
    let data = dir.join("root/data.txt");
    std::fs::write(&data, "0123456789").unwrap();
    // A tenth of its age, at most a week, of heuristic freshness.
    run(
        "touch",
        "coreutils",
        &["-d", "2020-01-01", data.to_str().unwrap()],
        Duration::from_secs(5),
    )
    .assert_success();
    let script = cgi.join("page.py");
    std::fs::write(&script, COUNTING_SCRIPT).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let port = free_tcp_port();
    let listen = format!("127.0.0.1:{port}");
    let mapping = format!("/cgi/={}", cgi.display());
    let root = dir.join("root");
    let args =
        ["http", "serve", "--listen", &listen, "--cgi", &mapping, "--root", root.to_str().unwrap()];
    (start(&args, port), port)
}

/// Calls of the counting script with `query` the origin's access log shows.
pub(crate) fn calls(origin: &RunningProgram, query: &str) -> usize {
    let wanted = format!("\"GET /cgi/page.py?{query} ");
    origin.log().lines().filter(|line| line.contains(&wanted)).count()
}
