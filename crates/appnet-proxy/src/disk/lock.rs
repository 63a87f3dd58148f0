//! The lock that keeps a second proxy out of a cache directory: two writers renaming over
//! each other's entries and evicting by separate budgets would each see the other's files as
//! strangers. `flock(2)` on a `lock` file: the kernel drops it when the process dies, even
//! by `kill -9`, so a crash never leaves a stale lock to clear by hand.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Held while the store is open; released on drop (the file closes).
#[derive(Debug)]
pub(super) struct DirectoryLock {
    _file: File,
}

impl DirectoryLock {
    /// Takes `root`'s lock, or fails at once with [`io::ErrorKind::ResourceBusy`] if another
    /// store (in this process or another) holds it.
    pub(super) fn take(root: &Path) -> io::Result<Self> {
        let path = root.join("lock");
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)?;
        // SAFETY: flock reads only the descriptor, which `file` owns and keeps open.
        let result = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if result != 0 {
            let error = io::Error::last_os_error();
            if error.raw_os_error() != Some(libc::EWOULDBLOCK) {
                return Err(error);
            }
            let holder = std::fs::read_to_string(&path).unwrap_or_default();
            let holder = holder.trim();
            return Err(io::Error::new(
                io::ErrorKind::ResourceBusy,
                format!(
                    "cache directory {} is in use by another proxy (pid {}; it holds {})",
                    root.display(),
                    if holder.is_empty() { "unknown" } else { holder },
                    path.display(),
                ),
            ));
        }
        // The holder's pid, only to make the error above helpful.
        file.set_len(0)?;
        writeln!(file, "{}", std::process::id())?;
        Ok(Self { _file: file })
    }
}
