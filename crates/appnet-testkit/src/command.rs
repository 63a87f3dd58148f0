//! Running a client program (dig, curl, kdig…) once, with a time limit.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// What a finished command printed, and how it ended.
#[derive(Debug, Clone)]
pub struct CommandOutput {
    /// The command line, for messages.
    pub command: String,
    /// Exit status code; `None` if it was killed (for instance by the time limit).
    pub status: Option<i32>,
    /// Standard output, lossily decoded.
    pub stdout: String,
    /// Standard error, lossily decoded.
    pub stderr: String,
}

impl CommandOutput {
    /// Panics with everything the command printed unless it exited 0.
    pub fn assert_success(&self) -> &Self {
        assert_eq!(
            self.status,
            Some(0),
            "`{}` failed\n--- stdout\n{}--- stderr\n{}",
            self.command,
            self.stdout,
            self.stderr
        );
        self
    }
}

/// The path of `program` on `PATH` (or the path itself if it has a slash). Panics, failing the
/// test, with the Debian package to install when it is missing: a peer we test against is never
/// silently skipped.
pub fn require(program: &str, debian_package: &str) -> PathBuf {
    if program.contains('/') {
        return PathBuf::from(program);
    }
    let search = std::env::var_os("PATH").unwrap_or_default();
    let extra = ["/usr/sbin", "/sbin", "/usr/local/sbin"].map(PathBuf::from);
    std::env::split_paths(&search)
        .chain(extra)
        .map(|dir| dir.join(program))
        .find(|path| path.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`{program}` is not installed. Install it with `apt-get install {debian_package}` \
                 or run scripts/test, which installs every peer the tests use."
            )
        })
}

/// Runs `program args…` to completion, killing it after `timeout`.
pub fn run(program: &str, debian_package: &str, args: &[&str], timeout: Duration) -> CommandOutput {
    let path = require(program, debian_package);
    let command = format!("{program} {}", args.join(" "));
    let mut child = Command::new(&path)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("cannot start `{command}`: {error}"));
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait().expect("wait for child") {
            Some(status) => break status.code(),
            None if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            None => thread::sleep(Duration::from_millis(10)),
        }
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    CommandOutput { command, status, stdout, stderr }
}

fn drain(pipe: Option<impl Read + Send + 'static>) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_output_and_status() {
        let output =
            run("sh", "dash", &["-c", "echo out; echo err >&2; exit 3"], Duration::from_secs(10));
        assert_eq!(output.status, Some(3));
        assert_eq!(output.stdout, "out\n");
        assert_eq!(output.stderr, "err\n");
    }

    #[test]
    fn kills_after_timeout() {
        let started = Instant::now();
        let output = run("sleep", "coreutils", &["30"], Duration::from_millis(200));
        assert_eq!(output.status, None);
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    #[should_panic(expected = "apt-get install no-such-package")]
    fn missing_program_fails_with_install_hint() {
        require("appnet-no-such-program", "no-such-package");
    }
}
