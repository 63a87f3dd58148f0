//! Static files kept between requests — small ones copied into memory, larger ones held open,
//! directories known as such —
//! so that the common request, for a file that has not changed, costs at most one `statx(2)`
//! instead of `openat2`, `fstat`, `read` and `close`, and its validators are formatted once
//! rather than per request (nginx's `open_file_cache`, which is off by default, holds open files
//! the same way but trusts them for 60 s). On a 1 KiB file those four calls were
//! 22 % of the server's CPU (perf, `bench/workloads/http-server`); nginx makes five per request
//! (open, fstat, sendfile, close and two `setsockopt` for the cork).
//!
//! A copy is not served stale: a hit reads the path's identity again (device, inode, type and
//! permissions, size, modification and change times, without following a final symlink) and
//! serves the copy only when all of it is what it was when the copy was made. Any write,
//! rename over, `chmod` or `touch` changes the change time. That check is made at most once
//! per [`RECHECK`] per file, so a file edited on disk is seen within a millisecond: a hot file
//! then costs no system call beyond the socket's (the check itself was 10 % of the CPU of a
//! 1 KiB response). File times come
//! from a coarse clock (a few milliseconds), so a file written twice within one tick could keep
//! its identity with new content; a file is therefore copied only once its change time is
//! [`SETTLE`] in the past — the rule git uses for its "racily clean" index entries. Until then
//! it is served from disk as any other file.
//!
//! The path is first opened as always (`openat2` beneath the root, see [`Root`]), so what can
//! be copied is only what may be served; a final component that is a symlink is not copied
//! (its identity would be the link's, not the file's). A later hit compares identities by
//! device and inode, so a path that now resolves elsewhere is a miss and is opened again.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;

use crate::beneath::Root;

/// Files up to this size are copied; larger ones are held open and sent from disk (HTTP/1
/// cleartext sends them with `sendfile`, which copies nothing).
pub const MAX_FILE: u64 = 32 * 1024;

/// What a kept directory counts for against the copies' byte budget (its entry's memory).
const DIRECTORY_WEIGHT: usize = 256;

/// How long a file's change time must lie in the past before it is copied.
pub const SETTLE: Duration = Duration::from_secs(1);

/// How long a copy is served without checking its file again.
pub const RECHECK: Duration = Duration::from_millis(1);

/// What a file is, as far as its content goes: if none of this changed, neither did the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    device: u64,
    inode: u64,
    mode: u32,
    size: u64,
    modified: (i64, u32),
    changed: (i64, u32),
}

impl Identity {
    /// The identity `metadata` describes.
    pub fn of(metadata: &std::fs::Metadata) -> Self {
        Self {
            device: metadata.dev(),
            inode: metadata.ino(),
            mode: metadata.mode(),
            size: metadata.size(),
            modified: (metadata.mtime(), metadata.mtime_nsec() as u32),
            changed: (metadata.ctime(), metadata.ctime_nsec() as u32),
        }
    }

    /// The identity in a `statx` result.
    pub(crate) fn from_statx(stat: &libc::statx) -> Self {
        let time = |t: libc::statx_timestamp| (t.tv_sec, t.tv_nsec);
        Self {
            device: libc::makedev(stat.stx_dev_major, stat.stx_dev_minor),
            inode: stat.stx_ino,
            mode: u32::from(stat.stx_mode),
            size: stat.stx_size,
            modified: time(stat.stx_mtime),
            changed: time(stat.stx_ctime),
        }
    }

    /// The file's size in bytes.
    pub fn len(&self) -> u64 {
        self.size
    }

    /// Whether the file is empty.
    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// A regular file.
    pub fn is_file(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFREG
    }

    /// A directory.
    pub fn is_dir(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFDIR
    }

    /// The modification time.
    pub fn modified(&self) -> SystemTime {
        at(self.modified)
    }

    /// The modification time in nanoseconds since the epoch (for keys).
    pub fn modified_nanos(&self) -> i128 {
        i128::from(self.modified.0) * 1_000_000_000 + i128::from(self.modified.1)
    }

    /// The device and inode.
    pub fn file_id(&self) -> (u64, u64) {
        (self.device, self.inode)
    }

    /// Whether a copy of this file made `now` can be trusted to change identity when the file
    /// changes: its change time lies [`SETTLE`] or more in the past.
    pub fn settled(&self, now: SystemTime) -> bool {
        now.duration_since(at(self.changed)).is_ok_and(|age| age >= SETTLE)
    }
}

fn at((seconds, nanos): (i64, u32)) -> SystemTime {
    let since = Duration::new(seconds.unsigned_abs(), nanos.min(999_999_999));
    if seconds >= 0 { SystemTime::UNIX_EPOCH + since } else { SystemTime::UNIX_EPOCH - since }
}

/// What a kept file's bytes are.
#[derive(Debug)]
pub enum Content {
    /// A small file, copied.
    Bytes(Bytes),
    /// A larger file, held open (sent with `sendfile`, or read in chunks, from an offset).
    Open(Arc<std::fs::File>),
    /// A directory: only that it is one (so `/` costs no open to find it is, before its
    /// index.html, itself kept, is served).
    Directory,
}

/// A file kept between requests, and what the responses for it need.
#[derive(Debug)]
pub struct Kept {
    /// The identity the file had when kept.
    pub identity: Identity,
    /// Its bytes.
    pub content: Content,
    /// Its strong ETag.
    pub etag: String,
    /// Its modification time, formatted for `Last-Modified`.
    pub last_modified: String,
    /// When the file was last found unchanged, in nanoseconds after [`FileCache`]'s start.
    checked: AtomicU64,
}

/// Kept files by their path under the root: copies of small ones under a byte budget, and up to
/// [`MAX_OPEN`] larger ones held open; least recently used out first.
#[derive(Debug)]
pub struct FileCache {
    copies: appnet_cache::lru::Lru<PathBuf, Arc<Kept>>,
    open: appnet_cache::lru::Lru<PathBuf, Arc<Kept>>,
    start: Instant,
}

/// Larger files held open at most: each costs a descriptor, beside up to 1024 connections.
pub const MAX_OPEN: usize = 128;

/// A file held open and not asked for this long is closed (a removed file's disk space is
/// freed only when its last descriptor closes), by [`FileCache::sweep`].
pub const IDLE: Duration = Duration::from_secs(10);

impl FileCache {
    /// A cache of at most `budget` bytes of copies (and [`MAX_OPEN`] open files).
    pub fn new(budget: usize) -> Self {
        Self {
            copies: appnet_cache::lru::Lru::new(budget),
            open: appnet_cache::lru::Lru::new(MAX_OPEN),
            start: Instant::now(),
        }
    }

    /// What is kept of `relative` if the file is still the one kept (checked if the last check
    /// is older than [`RECHECK`] at `now`).
    pub fn get(&self, root: &Root, relative: &Path, now: Instant) -> Option<Arc<Kept>> {
        let kept = self.copies.get(relative).or_else(|| self.open.get(relative))?;
        let at = self.nanos(now);
        if at.saturating_sub(kept.checked.load(Ordering::Relaxed)) < RECHECK.as_nanos() as u64 {
            return Some(kept);
        }
        match root.identity(relative) {
            Ok(identity) if identity == kept.identity => {
                kept.checked.store(at, Ordering::Relaxed);
                Some(kept)
            }
            _ => {
                self.forget(relative);
                None
            }
        }
    }

    /// Keeps `file`, just opened at `relative` with `metadata`, if it is a regular file or a
    /// directory, settled at `now` and not reached through a final symlink: a copy if small,
    /// else the open file (a directory: that it is one). `None`: serve it as opened.
    pub fn keep(
        &self,
        root: &Root,
        relative: &Path,
        file: &Arc<std::fs::File>,
        metadata: &std::fs::Metadata,
        now: SystemTime,
        checked: Instant,
    ) -> Option<Arc<Kept>> {
        let identity = Identity::of(metadata);
        if !(identity.is_file() || identity.is_dir()) || !identity.settled(now) {
            return None;
        }
        // The path itself (not a symlink to it) must have the identity the open found, or a
        // later hit could not recognise the file.
        if root.identity(relative).ok()? != identity {
            return None;
        }
        let small = identity.len() <= MAX_FILE;
        let content = if identity.is_dir() {
            Content::Directory
        } else if small {
            Content::Bytes(read_whole(file, identity.len()).ok()?)
        } else {
            Content::Open(Arc::clone(file))
        };
        let kept = Arc::new(Kept {
            identity,
            content,
            etag: crate::files::conditional::etag_for(identity.len(), identity.modified()),
            last_modified: httpdate::fmt_http_date(identity.modified()),
            checked: AtomicU64::new(self.nanos(checked)),
        });
        if identity.is_dir() {
            self.copies.insert(relative.to_path_buf(), Arc::clone(&kept), DIRECTORY_WEIGHT);
        } else if small {
            let weight = identity.len() as usize;
            self.copies.insert(relative.to_path_buf(), Arc::clone(&kept), weight);
        } else {
            self.open.insert(relative.to_path_buf(), Arc::clone(&kept), 1);
        }
        Some(kept)
    }

    /// Drops what is kept of `relative`: this server just changed the file, or it changed.
    pub fn forget(&self, relative: &Path) {
        self.copies.remove(relative);
        self.open.remove(relative);
    }

    /// Closes the open files not asked for in the last [`IDLE`] before `now`.
    pub fn sweep(&self, now: Instant) {
        let at = self.nanos(now);
        let idle = IDLE.as_nanos() as u64;
        self.open.retain(|_, kept| at.saturating_sub(kept.checked.load(Ordering::Relaxed)) < idle);
    }

    fn nanos(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.start).as_nanos() as u64
    }

    /// Bytes of copies held.
    pub fn bytes(&self) -> usize {
        self.copies.bytes()
    }

    /// Files held open.
    pub fn open_files(&self) -> usize {
        self.open.bytes()
    }
}

/// All `length` bytes of `file` from its start, or an error if it is now another length.
fn read_whole(file: &std::fs::File, length: u64) -> io::Result<Bytes> {
    use std::os::unix::fs::FileExt;
    let mut content = vec![0; usize::try_from(length).map_err(io::Error::other)?];
    file.read_exact_at(&mut content, 0)?;
    // A byte more would mean the file grew after its size was read.
    if file.read_at(&mut [0u8; 1], length)? != 0 {
        return Err(io::Error::other("file changed while being read"));
    }
    Ok(Bytes::from(content))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root_with(name: &str, content: &[u8]) -> (tempfile::TempDir, Root) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(name), content).unwrap();
        let root = Root::open(dir.path()).unwrap();
        (dir, root)
    }

    /// Opens `name` and offers it to `cache` as the server does on a miss, `after` its change.
    fn offer(cache: &FileCache, root: &Root, name: &str, after: Duration) -> Option<Arc<Kept>> {
        let file = Arc::new(root.open_file(Path::new(name)).unwrap());
        let metadata = file.metadata().unwrap();
        let now = SystemTime::now() + after;
        cache.keep(root, Path::new(name), &file, &metadata, now, Instant::now())
    }

    fn bytes(kept: &Kept) -> &[u8] {
        match &kept.content {
            Content::Bytes(bytes) => bytes,
            Content::Open(_) | Content::Directory => panic!("not copied"),
        }
    }

    /// A time past the recheck interval, when a hit checks its file.
    fn later() -> Instant {
        Instant::now() + RECHECK
    }

    #[test]
    fn a_file_just_changed_is_not_copied_until_it_settles() {
        let (dir, root) = root_with("a.css", b"body{}");
        let cache = FileCache::new(1 << 20);
        let identity = Identity::of(&std::fs::metadata(dir.path().join("a.css")).unwrap());
        assert!(!identity.settled(SystemTime::now()), "its change time is now");
        assert!(identity.settled(SystemTime::now() + SETTLE), "and is settled a second later");
        assert!(offer(&cache, &root, "a.css", Duration::ZERO).is_none(), "served from disk");
        assert!(cache.get(&root, Path::new("a.css"), later()).is_none());
        assert_eq!(cache.bytes(), 0);
        assert!(offer(&cache, &root, "a.css", SETTLE).is_some(), "copied once settled");
        assert_eq!(cache.bytes(), 6);
    }

    #[test]
    fn a_copy_is_served_until_the_file_changes_in_any_way() {
        let (dir, root) = root_with("a.css", b"body{}");
        let cache = FileCache::new(1 << 20);
        let copy = offer(&cache, &root, "a.css", SETTLE).expect("settled: copied");
        assert_eq!(bytes(&copy), b"body{}");
        assert_eq!(copy.etag, crate::files::conditional::etag_for(6, copy.identity.modified()));
        assert_eq!(copy.last_modified, httpdate::fmt_http_date(copy.identity.modified()));
        let hit = cache.get(&root, Path::new("a.css"), later()).expect("unchanged: a hit");
        assert!(Arc::ptr_eq(&hit, &copy));
        std::fs::write(dir.path().join("a.css"), b"edited").unwrap();
        let soon = Instant::now();
        assert!(cache.get(&root, Path::new("a.css"), soon).is_some(), "within RECHECK: unchecked");
        std::fs::write(dir.path().join("a.css"), b"body{}").unwrap();

        // Rewritten with as many bytes and its modification time set back: the change time
        // still moves.
        std::thread::sleep(Duration::from_millis(20));
        std::fs::write(dir.path().join("a.css"), b"p{a:b}").unwrap();
        let file = std::fs::File::options().write(true).open(dir.path().join("a.css")).unwrap();
        file.set_modified(copy.identity.modified()).unwrap();
        assert!(cache.get(&root, Path::new("a.css"), later()).is_none(), "rewritten: a miss");
        assert_eq!(cache.bytes(), 0, "and the stale copy is gone");
        let again = offer(&cache, &root, "a.css", SETTLE).unwrap();
        assert_eq!(bytes(&again), b"p{a:b}");

        std::thread::sleep(Duration::from_millis(20));
        let mut permissions = file.metadata().unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o600);
        file.set_permissions(permissions).unwrap();
        assert!(cache.get(&root, Path::new("a.css"), later()).is_none(), "chmod: a miss");
    }

    #[test]
    fn replaced_removed_and_symlinked_files_are_not_served_from_a_copy() {
        let (dir, root) = root_with("a.css", b"one");
        std::fs::write(dir.path().join("b.css"), b"two").unwrap();
        std::os::unix::fs::symlink("b.css", dir.path().join("link.css")).unwrap();
        let cache = FileCache::new(1 << 20);
        assert!(offer(&cache, &root, "link.css", SETTLE).is_none(), "a final symlink: not copied");
        assert!(offer(&cache, &root, "a.css", SETTLE).is_some());
        // Renamed over by another file of the same size: another inode.
        std::fs::rename(dir.path().join("b.css"), dir.path().join("a.css")).unwrap();
        assert!(cache.get(&root, Path::new("a.css"), later()).is_none());
        let renamed = offer(&cache, &root, "a.css", SETTLE).unwrap();
        assert_eq!(bytes(&renamed), b"two");
        std::fs::remove_file(dir.path().join("a.css")).unwrap();
        assert!(cache.get(&root, Path::new("a.css"), later()).is_none(), "removed");
    }

    #[test]
    fn a_directory_swapped_for_a_symlink_is_a_miss() {
        let (dir, root) = root_with("x", b"");
        std::fs::create_dir(dir.path().join("css")).unwrap();
        std::fs::write(dir.path().join("css/a.css"), b"one").unwrap();
        std::fs::create_dir(dir.path().join("other")).unwrap();
        std::fs::write(dir.path().join("other/a.css"), b"two").unwrap();
        let cache = FileCache::new(1 << 20);
        assert!(offer(&cache, &root, "css/a.css", SETTLE).is_some());
        std::fs::rename(dir.path().join("css"), dir.path().join("old")).unwrap();
        std::os::unix::fs::symlink("other", dir.path().join("css")).unwrap();
        assert!(
            cache.get(&root, Path::new("css/a.css"), later()).is_none(),
            "another inode behind it"
        );
    }

    #[test]
    fn large_files_are_held_open_up_to_a_count_and_closed_when_idle() {
        let (dir, root) = root_with("big.bin", &vec![7; MAX_FILE as usize + 1]);
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let cache = FileCache::new(10_000);
        let big = offer(&cache, &root, "big.bin", SETTLE).expect("held open");
        assert!(matches!(big.content, Content::Open(_)));
        assert_eq!((cache.bytes(), cache.open_files()), (0, 1));
        let sub = offer(&cache, &root, "sub", SETTLE).expect("a directory is kept");
        assert!(matches!(sub.content, Content::Directory) && sub.identity.is_dir());
        std::thread::sleep(Duration::from_millis(20));
        std::fs::write(dir.path().join("sub/index.html"), b"x").unwrap();
        assert!(cache.get(&root, Path::new("sub"), later()).is_none(), "a new entry: a miss");
        cache.sweep(Instant::now());
        assert_eq!(cache.open_files(), 1, "just used");
        cache.sweep(Instant::now() + IDLE);
        assert_eq!(cache.open_files(), 0, "idle: closed");
        assert!(cache.get(&root, Path::new("big.bin"), later()).is_none());
        for i in 0..MAX_OPEN + 5 {
            let name = format!("{i}.bin");
            std::fs::write(dir.path().join(&name), vec![1; MAX_FILE as usize + 1]).unwrap();
            assert!(offer(&cache, &root, &name, SETTLE).is_some());
        }
        assert!(cache.open_files() <= MAX_OPEN, "{}", cache.open_files());
    }

    #[test]
    fn copies_keep_their_byte_budget() {
        let (dir, root) = root_with("x", b"");
        let cache = FileCache::new(10_000);
        for i in 0..5 {
            std::fs::write(dir.path().join(format!("{i}.txt")), vec![b'x'; 4000]).unwrap();
            assert!(offer(&cache, &root, &format!("{i}.txt"), SETTLE).is_some());
        }
        assert!(cache.bytes() <= 10_000, "{}", cache.bytes());
        assert!(cache.get(&root, Path::new("4.txt"), later()).is_some(), "the newest stays");
        assert!(cache.get(&root, Path::new("0.txt"), later()).is_none(), "the oldest went");
    }
}
