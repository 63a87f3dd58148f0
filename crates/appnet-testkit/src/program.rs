//! A real peer program (nsd, unbound, nginx, …) running for the length of one test.
//!
//! The program gets its own temporary directory for config, zone files, pid files and its log.
//! It runs in a process group of its own, and that group is killed by PID when the
//! [`RunningProgram`] drops — at the end of the test, on panic, or when its lifetime runs out
//! while the test hangs — so no stray servers (nor the workers they forked) outlive the suite.
//! The group gets SIGTERM first, so servers that fork workers (nsd) stop them, then SIGKILL. When
//! the test is failing, the program's log is printed so the failure explains itself.

use std::ffi::OsString;
use std::fs::{self, File};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use tempfile::TempDir;

use crate::command::require;
use crate::wait::wait_until;

/// How to start a peer. Build it, write its files, then [`start`](Self::start) it.
#[derive(Debug)]
pub struct Program {
    name: String,
    path: PathBuf,
    args: Vec<OsString>,
    dir: TempDir,
    lifetime: Duration,
}

impl Program {
    /// A program to run from `PATH` (or sbin). Fails the test with the Debian package to install
    /// if it is missing.
    pub fn new(program: &str, debian_package: &str) -> Self {
        let short =
            Path::new(program).file_name().map_or_else(|| program.into(), |n| n.to_string_lossy());
        let dir = tempfile::Builder::new()
            .prefix(&format!("appnet-test-{short}-"))
            .tempdir()
            .expect("create a temporary directory");
        Self {
            name: short.into_owned(),
            path: require(program, debian_package),
            args: Vec::new(),
            dir,
            lifetime: Duration::from_secs(120),
        }
    }

    /// The program's private directory, for paths in its config.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `contents` to `name` inside the private directory.
    pub fn file(self, name: &str, contents: impl AsRef<[u8]>) -> Self {
        let path = self.dir.path().join(name);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("create directory for a test file");
        }
        fs::write(&path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        self
    }

    /// Adds command-line arguments.
    pub fn args<I: IntoIterator<Item = S>, S: Into<OsString>>(mut self, args: I) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// The longest the program may run before it is killed (default 120 s).
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// Starts the program, with its stdout and stderr going to `program.log` in its directory.
    pub fn start(self) -> RunningProgram {
        let log_path = self.dir.path().join("program.log");
        let log = File::create(&log_path).expect("create program log");
        let child = Command::new(&self.path)
            .args(&self.args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log handle"))
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.path.display()));
        let watchdog = spawn_watchdog(child.id(), self.lifetime, self.name.clone());
        RunningProgram { name: self.name, child, dir: self.dir, log_path, watchdog: Some(watchdog) }
    }
}

/// A started peer; dropping it kills the process.
#[derive(Debug)]
pub struct RunningProgram {
    name: String,
    child: Child,
    dir: TempDir,
    log_path: PathBuf,
    watchdog: Option<mpsc::Sender<()>>,
}

impl RunningProgram {
    /// The process ID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The program's private directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Everything the program has printed so far.
    pub fn log(&self) -> String {
        fs::read(&self.log_path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends `signal` (e.g. `libc::SIGHUP`) to the program itself.
    pub fn signal(&self, signal: i32) {
        if let Ok(pid) = libc::pid_t::try_from(self.child.id()) {
            // SAFETY: kill(2) has no memory-safety preconditions.
            unsafe {
                libc::kill(pid, signal);
            }
        }
    }

    /// Asks the program to stop with SIGTERM and waits up to `timeout` for it to exit.
    /// Returns its exit status, or `None` if it had to be killed.
    pub fn stop(mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        self.signal(libc::SIGTERM);
        let mut status = None;
        wait_until(timeout, || {
            status = self.child.try_wait().ok().flatten();
            status.is_some()
        });
        status
    }

    /// Waits until `ready` holds. Fails the test, showing the program's log, if the program exits
    /// first or `timeout` passes.
    pub fn wait_ready(&mut self, timeout: Duration, mut ready: impl FnMut() -> bool) {
        let mut exited = None;
        let became_ready = wait_until(timeout, || {
            if let Ok(Some(status)) = self.child.try_wait() {
                exited = Some(status);
                return true;
            }
            ready()
        });
        if let Some(status) = exited {
            panic!("{} exited before it was ready ({status}); its log:\n{}", self.name, self.log());
        }
        assert!(
            became_ready,
            "{} not ready after {timeout:?}; its log:\n{}",
            self.name,
            self.log()
        );
    }
}

impl Drop for RunningProgram {
    fn drop(&mut self) {
        drop(self.watchdog.take());
        signal_group(self.child.id(), libc::SIGTERM);
        let exited =
            wait_until(Duration::from_secs(3), || !matches!(self.child.try_wait(), Ok(None)));
        // Anything left in the group (a hung leader, or workers) is killed outright.
        signal_group(self.child.id(), libc::SIGKILL);
        if !exited {
            let _ = self.child.wait();
        }
        if thread::panicking() {
            eprintln!(
                "--- log of {} (pid {}):\n{}--- end of log",
                self.name,
                self.pid(),
                self.log()
            );
        }
    }
}

/// Kills `pid` after `lifetime` unless the returned sender is dropped first.
fn spawn_watchdog(pid: u32, lifetime: Duration, name: String) -> mpsc::Sender<()> {
    let (cancel, cancelled) = mpsc::channel::<()>();
    thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = cancelled.recv_timeout(lifetime) {
            eprintln!("{name} (pid {pid}) outlived its {lifetime:?} limit: killing it");
            let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
        }
    });
    cancel
}

/// Sends `signal` to the process group led by `pid` (the program and anything it forked).
fn signal_group(pid: u32, signal: libc::c_int) {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    // SAFETY: kill(2) has no memory-safety preconditions; a stale group ID yields ESRCH.
    unsafe {
        libc::kill(-pid, signal);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kills_by_pid_on_drop_and_keeps_log() {
        let mut program = Program::new("sh", "dash")
            .file("script.sh", "echo started; exec sleep 60\n")
            .args(["script.sh"])
            .start();
        let pid = program.pid();
        program.wait_ready(Duration::from_secs(10), || true);
        assert!(wait_until(Duration::from_secs(5), || program.log().contains("started")));
        assert!(program.is_running());
        drop(program);
        assert!(!Path::new(&format!("/proc/{pid}")).exists(), "process {pid} still there");
    }

    #[test]
    fn drop_also_kills_forked_children() {
        let mut program = Program::new("sh", "dash")
            .file("script.sh", "sleep 60 &\necho $! > worker.pid\nwait\n")
            .args(["script.sh"])
            .start();
        let pid_file = program.dir().join("worker.pid");
        program.wait_ready(Duration::from_secs(10), || {
            fs::read_to_string(&pid_file).is_ok_and(|pid| pid.ends_with('\n'))
        });
        let worker = fs::read_to_string(&pid_file).expect("pid file").trim().to_owned();
        assert!(Path::new(&format!("/proc/{worker}")).exists());
        drop(program);
        let gone = wait_until(Duration::from_secs(5), || {
            // A killed worker may linger as a zombie until init reaps it.
            fs::read_to_string(format!("/proc/{worker}/stat"))
                .map_or(true, |stat| stat.split(' ').nth(2) == Some("Z"))
        });
        assert!(gone, "worker {worker} survived");
    }

    #[test]
    fn watchdog_kills_a_hung_program() {
        let mut program = Program::new("sleep", "coreutils")
            .args(["60"])
            .lifetime(Duration::from_millis(200))
            .start();
        assert!(wait_until(Duration::from_secs(10), || !program.is_running()));
    }

    #[test]
    #[should_panic(expected = "exited before it was ready")]
    fn early_exit_fails_with_log() {
        let mut program = Program::new("sh", "dash").args(["-c", "echo boom; exit 1"]).start();
        program.wait_ready(Duration::from_secs(10), || false);
    }
}
