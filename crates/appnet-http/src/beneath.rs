//! Opening a file under the served root so that the kernel itself keeps the path inside it:
//! Linux's `openat2(2)` with `RESOLVE_BENEATH` refuses `..`, absolute symlinks and symlinks that
//! climb out, in the one system call that opens the file. It replaces a `stat` and a
//! `realpath` (an `lstat` per path component) per request; where the kernel lacks `openat2`
//! (before 5.6), the file is opened by path and its real location checked instead.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// `struct open_how` of `openat2(2)` (libc's is marked non-exhaustive, so it cannot be built).
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// The served root, held open.
#[derive(Debug)]
pub struct Root {
    dir: OwnedFd,
    path: std::path::PathBuf,
}

impl Root {
    /// Opens `path` (a directory) as the root.
    pub fn open(path: &Path) -> io::Result<Self> {
        let path = path.canonicalize()?;
        let dir = File::open(&path)?;
        Ok(Self { dir: dir.into(), path })
    }

    /// The root's canonical path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens `relative` (a path inside the root, without `..`) for reading; an error of kind
    /// `PermissionDenied` when it would leave the root.
    pub fn open_file(&self, relative: &Path) -> io::Result<File> {
        let name = CString::new(relative.as_os_str().as_bytes())
            .map_err(|_| io::ErrorKind::InvalidInput)?;
        let how = OpenHow {
            flags: (libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NOCTTY) as u64,
            mode: 0,
            resolve: libc::RESOLVE_BENEATH | libc::RESOLVE_NO_MAGICLINKS,
        };
        // SAFETY: `name` is a NUL-terminated path, `how` a valid open_how of the size passed;
        // the kernel only reads them.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                self.dir.as_raw_fd(),
                name.as_ptr(),
                &raw const how,
                size_of::<OpenHow>(),
            )
        };
        if fd >= 0 {
            // SAFETY: the kernel returned a new descriptor that nothing else owns.
            return Ok(File::from(unsafe { OwnedFd::from_raw_fd(fd as i32) }));
        }
        let error = io::Error::last_os_error();
        match error.raw_os_error() {
            Some(libc::EXDEV) => {
                Err(io::Error::new(io::ErrorKind::PermissionDenied, "path leaves the root"))
            }
            Some(libc::ENOSYS) => self.open_checked(relative),
            _ => Err(error),
        }
    }

    /// The identity of `relative` (a path inside the root, without `..`) as `statx(2)` sees
    /// it without following a final symlink: what [`crate::file_cache`] checks a copy against.
    pub fn identity(&self, relative: &Path) -> io::Result<crate::file_cache::Identity> {
        let name = CString::new(relative.as_os_str().as_bytes())
            .map_err(|_| io::ErrorKind::InvalidInput)?;
        // SAFETY: all-zero bytes are a valid `statx` (integers and arrays of integers).
        let mut stat: libc::statx = unsafe { std::mem::zeroed() };
        // SAFETY: `name` is NUL-terminated, `stat` is writable and of the size the kernel
        // writes for STATX_BASIC_STATS.
        let done = unsafe {
            libc::statx(
                self.dir.as_raw_fd(),
                name.as_ptr(),
                libc::AT_SYMLINK_NOFOLLOW | libc::AT_NO_AUTOMOUNT | libc::AT_STATX_SYNC_AS_STAT,
                libc::STATX_BASIC_STATS,
                &raw mut stat,
            )
        };
        if done != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(crate::file_cache::Identity::from_statx(&stat))
    }

    /// The fallback: open by path, then check where it really is.
    fn open_checked(&self, relative: &Path) -> io::Result<File> {
        let full = self.path.join(relative);
        if !crate::files::path::stays_inside(&self.path, &full) {
            return Err(io::Error::new(io::ErrorKind::PermissionDenied, "path leaves the root"));
        }
        File::open(full)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_inside_and_refuses_symlinks_out() {
        let dir = tempfile::tempdir().unwrap();
        let root_path = dir.path().join("root");
        std::fs::create_dir_all(root_path.join("sub")).unwrap();
        std::fs::write(root_path.join("sub/in.txt"), "in").unwrap();
        std::fs::write(dir.path().join("secret"), "out").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret"), root_path.join("absolute")).unwrap();
        std::os::unix::fs::symlink("../secret", root_path.join("relative")).unwrap();
        std::os::unix::fs::symlink("sub/in.txt", root_path.join("inside")).unwrap();
        let root = Root::open(&root_path).unwrap();
        assert!(root.open_file(Path::new("sub/in.txt")).is_ok());
        assert!(root.open_file(Path::new("inside")).is_ok(), "a symlink that stays inside is fine");
        for out in ["absolute", "relative", "../secret"] {
            let error = root.open_file(Path::new(out)).unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::PermissionDenied, "{out}: {error}");
        }
        assert_eq!(
            root.open_file(Path::new("missing")).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
    }
}
