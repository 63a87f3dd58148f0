//! The disk tier of the shared cache (`--cache-dir DIR --cache-disk SIZE`): stored responses
//! in files, under a byte budget, that survive a restart — and a `kill -9` or power loss at
//! any moment with nothing served corrupt.
//!
//! ```text
//! DIR/
//!   lock             flock(2)ed while a proxy has the store open; holds its pid
//!   00/ … ff/        by the first byte of the name
//!     3f9a…e1        one entry: 128 bits of SHA-256(key) in hex (see `name`), holding the
//!                    key, head and body with checksums (see [`format`])
//!     tmp.3f9a….N    a write in progress; renamed over the entry when complete
//! ```
//!
//! Why a crash cannot leave a bad entry served: an entry is written whole to a temp file,
//! fsynced, then renamed over the old one (atomic), and the directory fsynced. A crash
//! leaves the old entry, the new one, or a temp file that the next open deletes. What the
//! disk itself garbles is caught by the checksums: at open for the framing and head, at
//! read for everything; either way the file is deleted and counted in
//! [`Counters::corrupt_dropped`].
//!
//! There is no index file to go stale: the index (names, sizes, recency) lives in memory
//! and is rebuilt at open from the files' first bytes. Recency starts as the files' mtimes
//! and then follows reads; eviction is least recently used first.
//!
//! The methods do blocking file IO: call them from `tokio::task::spawn_blocking`. The store
//! is `Send + Sync`; share it in an `Arc`.

pub mod format;
mod index;
mod lock;
mod name;
mod scan;
#[cfg(test)]
mod tests;

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use bytes::Bytes;

use self::format::{Frame, MAX_ENTRY_LEN};
use self::index::Index;
use self::lock::DirectoryLock;
use self::name::Name;
use self::scan::TEMP_PREFIX;
use crate::store::Object;

/// Stored responses in files under a directory, at most a byte budget of them.
#[derive(Debug)]
pub struct DiskStore {
    root: PathBuf,
    budget: u64,
    /// Names a key's file: [`Name::of_key`], except in tests that force collisions.
    name_of: fn(&str) -> Name,
    index: Mutex<Index>,
    corrupt_dropped: AtomicU64,
    evicted: AtomicU64,
    /// Makes temp file names unique among this process's concurrent writes.
    temp_serial: AtomicU64,
    /// The keys found at open, until [`take_keys_at_open`](Self::take_keys_at_open).
    keys_at_open: Mutex<Vec<String>>,
    _lock: DirectoryLock,
}

/// What the store holds and has dropped, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Entries held.
    pub entries: usize,
    /// Bytes of their files.
    pub bytes: u64,
    /// Entries deleted since open (at open too) because a check failed: cut short, damaged,
    /// or under the wrong name.
    pub corrupt_dropped: u64,
    /// Entries deleted since open to keep within the budget.
    pub evicted: u64,
}

impl DiskStore {
    /// Opens (creating, mode 0700, if need be) the store in `dir`, to hold at most
    /// `budget_bytes` of entry files. Takes the directory's lock — an error of kind
    /// [`io::ErrorKind::ResourceBusy`] if another store holds it — then reads every entry's
    /// head, deleting leftover temp files and entries that fail their checks, and evicts
    /// down to the budget if it shrank.
    pub fn open(dir: &Path, budget_bytes: u64) -> io::Result<Self> {
        Self::open_with(dir, budget_bytes, Name::of_key)
    }

    /// The keys of the entries found at open (once; later calls get none): the memory tier
    /// learns from them which URLs have variants on disk and what they vary on.
    pub fn take_keys_at_open(&self) -> Vec<String> {
        std::mem::take(&mut *self.keys_at_open.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Stores `object` under `key`, replacing any entry there, durably once this returns.
    /// An object that cannot be kept — larger than the whole budget or a format limit
    /// ([`format::MAX_BODY_LEN`], [`format::MAX_KEY_LEN`], [`format::MAX_HEAD_LEN`]) — is
    /// not written, and any older entry for `key` is removed, as the memory tier does.
    /// Evicts least recently used entries past the budget.
    pub fn put(&self, key: &str, object: &Object) -> io::Result<()> {
        let name = (self.name_of)(key);
        let frame = match format::frame(key, object) {
            Ok(frame) if frame.len() <= self.budget => frame,
            Ok(frame) => {
                tracing::debug!(key, bytes = frame.len(), "larger than the disk budget; not kept");
                return self.remove_name(name);
            }
            Err(error) => {
                tracing::debug!(key, %error, "not kept on disk");
                return self.remove_name(name);
            }
        };
        let directory = name.subdirectory(&self.root);
        let serial = self.temp_serial.fetch_add(1, Ordering::Relaxed);
        let temp = directory.join(format!("{TEMP_PREFIX}{name}.{}.{serial}", std::process::id()));
        if let Err(error) = write_synced(&temp, &frame, &object.body) {
            scan::remove(&temp);
            return Err(error);
        }
        {
            // Renaming under the lock keeps the index's entry and the file in step when
            // two writers put the same key.
            let mut index = self.index();
            if let Err(error) = fs::rename(&temp, name.path(&self.root)) {
                drop(index);
                scan::remove(&temp);
                return Err(error);
            }
            index.insert(name, frame.len());
            self.delete_evicted(&mut index);
        }
        sync_directory(&directory)
    }

    /// The object stored under `key`, read whole and verified. `None` for an entry that
    /// fails its checks (it is deleted and counted), and for a file that holds another key
    /// whose name collides with `key`'s (that entry is left alone).
    pub fn get(&self, key: &str) -> Option<Object> {
        let name = (self.name_of)(key);
        // A miss costs no IO: after open the index knows every entry.
        let written = self.index().touch(name)?;
        let path = name.path(&self.root);
        let data = match read(&path) {
            Ok(data) => data,
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                self.index().remove_written(name, written);
                return None;
            }
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "cannot read cache entry");
                return None;
            }
        };
        match format::decode_bytes(Bytes::from(data)) {
            Ok((stored_key, object)) if stored_key == key => Some(object),
            Ok(_) => None,
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "removing damaged cache entry");
                // Only if no writer has replaced the file since it was read.
                if self.index().remove_written(name, written) {
                    scan::remove(&path);
                    self.corrupt_dropped.fetch_add(1, Ordering::Relaxed);
                }
                None
            }
        }
    }

    /// Deletes the entry under `key`, durably once this returns (so an invalidated response
    /// does not come back after a crash). Where another key's name collides with `key`'s,
    /// that key's entry goes too: a miss, never a wrong answer.
    pub fn remove(&self, key: &str) -> io::Result<()> {
        self.remove_name((self.name_of)(key))
    }

    /// Bytes of the entry files held.
    pub fn bytes(&self) -> u64 {
        self.index().bytes()
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.index().len()
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What is held and what was dropped.
    pub fn counters(&self) -> Counters {
        let (entries, bytes) = {
            let index = self.index();
            (index.len(), index.bytes())
        };
        Counters {
            entries,
            bytes,
            corrupt_dropped: self.corrupt_dropped.load(Ordering::Relaxed),
            evicted: self.evicted.load(Ordering::Relaxed),
        }
    }

    /// [`DiskStore::open`] with `name_of` naming keys' files (tests force collisions).
    fn open_with(root: &Path, budget: u64, name_of: fn(&str) -> Name) -> io::Result<Self> {
        DirBuilder::new().recursive(true).mode(0o700).create(root)?;
        let lock = DirectoryLock::take(root)?;
        create_subdirectories(root)?;
        let mut scan = scan::scan(root, name_of)?;
        // Oldest first, so the most recently written are the last evicted.
        scan.found.sort_by_key(|found| (found.modified, found.name));
        let mut index = Index::default();
        for found in &scan.found {
            index.insert(found.name, found.size);
        }
        let evicted_at_open: std::collections::HashSet<Name> = {
            let mut probe = index.clone();
            probe.evict(budget).into_iter().collect()
        };
        let keys = scan
            .found
            .iter()
            .filter(|found| !evicted_at_open.contains(&found.name))
            .map(|found| found.key.clone())
            .collect();
        let store = Self {
            keys_at_open: Mutex::new(keys),
            root: root.to_owned(),
            budget,
            name_of,
            index: Mutex::new(index),
            corrupt_dropped: AtomicU64::new(scan.corrupt),
            evicted: AtomicU64::new(0),
            temp_serial: AtomicU64::new(0),
            _lock: lock,
        };
        store.delete_evicted(&mut store.index());
        let counters = store.counters();
        tracing::info!(
            dir = %root.display(),
            entries = counters.entries,
            bytes = counters.bytes,
            corrupt = scan.corrupt,
            temps = scan.temps,
            evicted = counters.evicted,
            "disk cache opened"
        );
        Ok(store)
    }

    /// Evicts past the budget and deletes the files, under the index lock so that a
    /// concurrent put of an evicted key cannot have its new file deleted.
    fn delete_evicted(&self, index: &mut Index) {
        let evicted = index.evict(self.budget);
        for name in &evicted {
            tracing::trace!(%name, "evicted from disk");
            scan::remove(&name.path(&self.root));
        }
        self.evicted.fetch_add(evicted.len() as u64, Ordering::Relaxed);
    }

    fn remove_name(&self, name: Name) -> io::Result<()> {
        {
            let mut index = self.index();
            if !index.remove(name) {
                return Ok(());
            }
            match fs::remove_file(name.path(&self.root)) {
                Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
                other => other?,
            }
        }
        sync_directory(&name.subdirectory(&self.root))
    }

    fn index(&self) -> MutexGuard<'_, Index> {
        self.index.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Creates the 256 subdirectories that are missing, durably.
fn create_subdirectories(root: &Path) -> io::Result<()> {
    let mut created = false;
    for first in 0..=255u8 {
        match DirBuilder::new().mode(0o700).create(Name([first; 16]).subdirectory(root)) {
            Ok(()) => created = true,
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {}
            Err(error) => return Err(error),
        }
    }
    if created { sync_directory(root) } else { Ok(()) }
}

/// Writes a new file at `path` — the frame's prefix, `body`, the trailer — and fsyncs it.
fn write_synced(path: &Path, frame: &Frame, body: &[u8]) -> io::Result<()> {
    debug_assert_eq!(frame.body_len, body.len() as u64);
    let mut file = OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(&frame.prefix)?;
    file.write_all(body)?;
    file.write_all(&frame.trailer)?;
    file.sync_all()
}

/// The whole file at `path`, or its first `MAX_ENTRY_LEN + 1` bytes if longer (which the
/// decoder then refuses).
fn read(path: &Path) -> io::Result<Vec<u8>> {
    let file = File::open(path)?;
    let size = file.metadata()?.len().min(MAX_ENTRY_LEN + 1);
    // The bound above keeps this below 66 MiB.
    let mut data = Vec::with_capacity(size as usize);
    file.take(MAX_ENTRY_LEN + 1).read_to_end(&mut data)?;
    Ok(data)
}

/// Makes a rename or unlink in `directory` durable.
fn sync_directory(directory: &Path) -> io::Result<()> {
    File::open(directory)?.sync_all()
}
