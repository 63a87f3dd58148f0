//! One Linux network namespace, held by a file descriptor and by nothing else.
//!
//! The lab never names its namespaces (no `ip netns add`, nothing under /run/netns): a
//! namespace lives exactly as long as something in this process refers to it — this fd, a
//! thread that entered it, a socket made there. So when the lab exits, however it exits (Ctrl-C,
//! an error, `kill -9`), the kernel frees every namespace and the veth pairs in them; nothing
//! is left for anyone to clean up.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::process::Command;

/// A network namespace of our own.
#[derive(Debug)]
pub struct Namespace {
    fd: OwnedFd,
}

impl Namespace {
    /// A new, empty namespace (only `lo`, down). Needs CAP_SYS_ADMIN; the calling thread is not
    /// moved — a short-lived thread makes the namespace and hands back its fd.
    pub fn create() -> io::Result<Self> {
        let maker = std::thread::Builder::new().name("lab-netns".into()).spawn(|| {
            // SAFETY: unshare takes no pointers; it changes only this (throwaway) thread.
            if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
                return Err(io::Error::last_os_error());
            }
            File::open("/proc/thread-self/ns/net").map(OwnedFd::from)
        })?;
        let fd = maker.join().map_err(|_| io::Error::other("the namespace thread panicked"))??;
        Ok(Self { fd })
    }

    /// Moves the calling thread into this namespace: sockets it makes from then on are here.
    pub fn enter(&self) -> io::Result<()> {
        // SAFETY: the fd is open and ours for as long as `self` lives.
        if unsafe { libc::setns(self.fd.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// A path other programs can open to reach this namespace (`ip link set … netns PATH`).
    pub fn path(&self) -> String {
        format!("/proc/{}/fd/{}", std::process::id(), self.fd.as_raw_fd())
    }

    /// The namespace's identity (its nsfs inode), to check a thread really is inside.
    pub fn inode(&self) -> io::Result<u64> {
        Ok(File::from(self.fd.try_clone()?).metadata()?.ino())
    }

    /// The namespace the calling thread is in.
    pub fn current_inode() -> io::Result<u64> {
        Ok(std::fs::metadata("/proc/thread-self/ns/net")?.ino())
    }

    /// Runs `program args…` inside this namespace (iproute2's `ip` and `tc`), to completion.
    /// The error says which command failed and what it printed.
    pub fn run(&self, program: &str, args: &[&str]) -> io::Result<()> {
        let fd = self.fd.as_raw_fd();
        let mut command = Command::new(program);
        command.args(args);
        // SAFETY: between fork and exec the child only calls setns, which is async-signal-safe
        // and touches no memory of ours.
        unsafe {
            command.pre_exec(move || {
                if libc::setns(fd, libc::CLONE_NEWNET) != 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let output = command.output().map_err(|error| {
            io::Error::new(error.kind(), format!("cannot run {program}: {error}"))
        })?;
        if output.status.success() {
            return Ok(());
        }
        Err(io::Error::other(format!(
            "`{program} {}` failed ({}): {}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )))
    }
}
