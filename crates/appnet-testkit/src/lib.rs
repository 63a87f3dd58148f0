//! Test support for appnet, used only as a dev-dependency.
//!
//! Two halves, for the two kinds of test the project runs:
//!
//! - **Real peers** ([`Program`], [`free_port`], [`run`]): interoperability tests start the
//!   programs we must work with (nsd, knot, unbound, dig, curl, Transmission…) on a free
//!   loopback port with a config in a temporary directory, wait until they answer, and kill them
//!   by PID when the test ends — even when it panics, and after a time limit even when it hangs.
//!   A missing program fails the test with the package to install; it never skips.
//! - **Simulated network** ([`sim::World`]): sans-IO cores exchange datagrams over links with
//!   latency and loss under a virtual clock and a seeded RNG, so protocol tests are exact,
//!   deterministic and take microseconds.
#![warn(missing_docs)]

mod command;
mod ports;
mod program;
pub mod sim;
mod wait;

pub use command::{CommandOutput, require, run};
pub use ports::{free_port, free_port_on, free_tcp_port};
pub use program::{Program, RunningProgram};
pub use wait::{wait_for_tcp, wait_until};

/// A certificate for `localhost` and its key, made by openssl in `dir` (`cert.pem`,
/// `key.pem`) as an operator would bring one: an EC leaf (not a CA, which rustls refuses as a
/// server's own certificate) valid for two days.
pub fn openssl_localhost_certificate(
    dir: &std::path::Path,
) -> (std::path::PathBuf, std::path::PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let (cert_arg, key_arg) = (cert.display().to_string(), key.display().to_string());
    let args = [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=DNS:localhost",
        "-addext",
        "basicConstraints=critical,CA:FALSE",
        "-keyout",
        &key_arg,
        "-out",
        &cert_arg,
    ];
    run("openssl", "openssl", &args, std::time::Duration::from_secs(30)).assert_success();
    (cert, key)
}

/// Headless Chromium (Debian's `chromium`) as this machine needs it: no sandbox as root, no
/// GPU, and none of the background connections a closed network refuses.
pub const CHROMIUM_FLAGS: [&str; 8] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];

/// The DOM headless Chromium ends up with for `url` (`--dump-dom`), in a fresh profile, with
/// `extra` flags after [`CHROMIUM_FLAGS`]; stdout is the DOM, stderr Chromium's log.
pub fn chromium_dom(url: &str, extra: &[&str]) -> CommandOutput {
    let profile = tempfile::tempdir().expect("a Chromium profile directory");
    let profile_arg = format!("--user-data-dir={}", profile.path().display());
    let mut args = CHROMIUM_FLAGS.to_vec();
    args.extend_from_slice(extra);
    args.extend([profile_arg.as_str(), "--dump-dom", url]);
    run("chromium", "chromium", &args, std::time::Duration::from_secs(60))
}

/// Signal numbers for [`RunningProgram::signal`].
pub mod signal {
    pub use libc::{SIGHUP, SIGINT, SIGTERM, SIGUSR1};
}
