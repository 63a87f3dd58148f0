//! Rebuilding the index at open from the entry files themselves: each file's first bytes
//! (fixed part, key, head; a few hundred bytes) are read and checked, bodies are not, so
//! opening 100k entries costs 100k small reads. Files a crash left behind — temp files, and
//! entries cut short or damaged — are deleted here.

use std::fs::{self, File};
use std::io::{self, Read};
use std::num::NonZero;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::SystemTime;

use super::format::{self, FormatError, Layout};
use super::name::Name;

/// A good entry found on disk.
#[derive(Debug)]
pub(super) struct Found {
    pub(super) name: Name,
    /// Its key (the memory tier rebuilds its Vary lists from the keys).
    pub(super) key: String,
    pub(super) size: u64,
    /// When it was written: its initial place in the eviction order.
    pub(super) modified: SystemTime,
}

/// What the scan found and removed.
#[derive(Debug, Default)]
pub(super) struct Scan {
    pub(super) found: Vec<Found>,
    /// Entries deleted for failed checks.
    pub(super) corrupt: u64,
    /// Temp files deleted (writes a crash interrupted).
    pub(super) temps: u64,
}

/// Bytes read at first from each file: enough for the prefix of almost every entry.
const FIRST_READ: usize = 4096;

/// Prefix of the temp files `put` writes before renaming them into place.
pub(super) const TEMP_PREFIX: &str = "tmp.";

/// Scans the 256 subdirectories of `root`; `name_of` names a key's file (a test swaps it).
/// Several threads share the directories: on a cold start the reads wait on the disk, which
/// serves a deeper queue faster.
pub(super) fn scan(root: &Path, name_of: fn(&str) -> Name) -> io::Result<Scan> {
    let threads = thread::available_parallelism().map_or(1, NonZero::get).min(8);
    let next = AtomicUsize::new(0);
    let work = || -> io::Result<Scan> {
        let mut scan = Scan::default();
        loop {
            let first = next.fetch_add(1, Ordering::Relaxed);
            let Ok(first) = u8::try_from(first) else { return Ok(scan) };
            scan_directory(root, first, name_of, &mut scan)?;
        }
    };
    thread::scope(|scope| {
        let workers: Vec<_> = (0..threads).map(|_| scope.spawn(work)).collect();
        let mut all = Scan::default();
        for worker in workers {
            let part = worker.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
            all.found.extend(part.found);
            all.corrupt += part.corrupt;
            all.temps += part.temps;
        }
        Ok(all)
    })
}

/// Scans the subdirectory for names starting with byte `first` into `scan`.
fn scan_directory(
    root: &Path,
    first: u8,
    name_of: fn(&str) -> Name,
    scan: &mut Scan,
) -> io::Result<()> {
    let directory = Name([first; 16]).subdirectory(root);
    for item in fs::read_dir(&directory)? {
        let item = item?;
        let path = item.path();
        let file_name = item.file_name();
        let file_name = file_name.to_string_lossy();
        if file_name.starts_with(TEMP_PREFIX) {
            tracing::debug!(path = %path.display(), "removing a write interrupted by a crash");
            remove(&path);
            scan.temps += 1;
            continue;
        }
        let Some(name) = Name::parse(&file_name).filter(|name| name.0[0] == first) else {
            tracing::warn!(path = %path.display(), "not a cache entry; left alone");
            continue;
        };
        match check(&path, name, name_of) {
            Ok((key, size, modified)) => scan.found.push(Found { name, key, size, modified }),
            Err(Bad::Io(error)) => {
                tracing::warn!(path = %path.display(), %error, "cannot read cache entry; skipped");
            }
            Err(Bad::Format(error)) => {
                tracing::warn!(path = %path.display(), %error, "removing damaged cache entry");
                remove(&path);
                scan.corrupt += 1;
            }
            Err(Bad::Misfiled { expected }) => {
                tracing::warn!(path = %path.display(), %expected, "removing misnamed cache entry");
                remove(&path);
                scan.corrupt += 1;
            }
        }
    }
    Ok(())
}

enum Bad {
    Format(FormatError),
    Io(io::Error),
    Misfiled { expected: Name },
}

/// The key, size and mtime of the entry at `path`, if its framing and head checksum are good
/// and its key is one that `name_of` would file under `name`.
fn check(
    path: &Path,
    name: Name,
    name_of: fn(&str) -> Name,
) -> Result<(String, u64, SystemTime), Bad> {
    let mut file = File::open(path).map_err(Bad::Io)?;
    let metadata = file.metadata().map_err(Bad::Io)?;
    let size = metadata.len();
    // Exact reads, not to EOF: one read call for most files. The lock keeps other writers
    // out, so the size does not change under us.
    let mut prefix = vec![0; size.min(FIRST_READ as u64) as usize];
    file.read_exact(&mut prefix).map_err(Bad::Io)?;
    let layout = Layout::read(&prefix).map_err(Bad::Format)?;
    if layout.total_len() == size && prefix.len() < layout.prefix_len() {
        let read = prefix.len();
        prefix.resize(layout.prefix_len(), 0);
        file.read_exact(&mut prefix[read..]).map_err(Bad::Io)?;
    }
    let (key, _) = format::decode_prefix(&prefix, size).map_err(Bad::Format)?;
    let expected = name_of(&key);
    if expected != name {
        // A whole, good entry under another name could never be found, only take room.
        return Err(Bad::Misfiled { expected });
    }
    Ok((key, size, metadata.modified().map_err(Bad::Io)?))
}

/// Deletes `path`; a file already gone is fine, other failures are logged.
pub(super) fn remove(path: &Path) {
    if let Err(error) = fs::remove_file(path) {
        if error.kind() != io::ErrorKind::NotFound {
            tracing::warn!(path = %path.display(), %error, "cannot remove cache file");
        }
    }
}
