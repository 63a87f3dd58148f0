//! A file found under the root for a request: open on disk, or a copy from the file cache. The
//! static-file responses read either the same way, so ranges, multipart ranges and on-the-fly
//! compression behave alike for both.

use std::borrow::Cow;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use bytes::Bytes;

use crate::body::Payload;
use crate::file_cache::{Content, Identity, Kept};

/// Where a found file's bytes are.
#[derive(Debug)]
pub(crate) enum Source {
    /// An open file (perhaps held open by the file cache).
    Disk(Arc<std::fs::File>),
    /// A copy in memory, checked against the file just now.
    Memory(Bytes),
}

/// A file (or directory) found under the root.
#[derive(Debug)]
pub(crate) struct Found {
    /// Its bytes.
    pub(crate) source: Source,
    /// What it is.
    pub(crate) identity: Identity,
    /// The file cache's entry, with the validators already formatted.
    kept: Option<Arc<Kept>>,
}

/// Most bytes a multipart range response reads into memory (a request asking for more gets an
/// error rather than the server's memory).
const MAX_MULTIPART_BYTES: u64 = 8 << 20;

impl Found {
    /// Opened on disk just now.
    pub(crate) fn disk(file: Arc<std::fs::File>, metadata: &std::fs::Metadata) -> Self {
        Self { source: Source::Disk(file), identity: Identity::of(metadata), kept: None }
    }

    /// From the file cache.
    pub(crate) fn kept(kept: Arc<Kept>) -> Self {
        let source = match &kept.content {
            Content::Bytes(bytes) => Source::Memory(bytes.clone()),
            Content::Open(file) => Source::Disk(Arc::clone(file)),
            // Never a body: a directory is answered with its index, a redirect or an error.
            Content::Directory => Source::Memory(Bytes::new()),
        };
        Self { source, identity: kept.identity, kept: Some(kept) }
    }

    /// The strong ETag.
    pub(crate) fn etag(&self) -> Cow<'_, str> {
        match &self.kept {
            Some(kept) => Cow::Borrowed(&kept.etag),
            None => Cow::Owned(crate::files::conditional::etag_for(
                self.identity.len(),
                self.identity.modified(),
            )),
        }
    }

    /// The `Last-Modified` value.
    pub(crate) fn last_modified(&self) -> Cow<'_, str> {
        match &self.kept {
            Some(kept) => Cow::Borrowed(&kept.last_modified),
            None => Cow::Owned(httpdate::fmt_http_date(self.identity.modified())),
        }
    }

    /// The body of `length` bytes from `first`.
    pub(crate) fn body(self, first: u64, length: u64) -> io::Result<Payload> {
        match self.source {
            Source::Memory(bytes) => Ok(Payload::bytes(slice(&bytes, first, length)?)),
            Source::Disk(file) => Ok(Payload::file(file, first, length)),
        }
    }

    /// The bytes of each inclusive range `(first, last)`, at most 8 MiB in all.
    pub(crate) fn read_parts(self, parts: &[(u64, u64)]) -> io::Result<Vec<Bytes>> {
        let mut budget = MAX_MULTIPART_BYTES;
        let mut pieces = Vec::with_capacity(parts.len());
        for &(first, last) in parts {
            let size = last - first + 1;
            budget =
                budget.checked_sub(size).ok_or_else(|| io::Error::other("ranges too large"))?;
            let piece = match &self.source {
                Source::Memory(bytes) => slice(bytes, first, size)?,
                Source::Disk(file) => {
                    let mut piece = vec![0; usize::try_from(size).map_err(io::Error::other)?];
                    file.read_exact_at(&mut piece, first)?;
                    Bytes::from(piece)
                }
            };
            pieces.push(piece);
        }
        Ok(pieces)
    }

    /// The whole file.
    pub(crate) fn read_all(self) -> io::Result<Bytes> {
        match self.source {
            Source::Memory(bytes) => Ok(bytes),
            Source::Disk(file) => {
                let length = usize::try_from(self.identity.len()).map_err(io::Error::other)?;
                let mut data = vec![0; length];
                file.read_exact_at(&mut data, 0)?;
                Ok(Bytes::from(data))
            }
        }
    }
}

fn slice(content: &Bytes, first: u64, length: u64) -> io::Result<Bytes> {
    let start = usize::try_from(first).map_err(io::Error::other)?;
    let end = start.checked_add(usize::try_from(length).map_err(io::Error::other)?);
    match end {
        Some(end) if end <= content.len() => Ok(content.slice(start..end)),
        _ => Err(io::Error::new(io::ErrorKind::UnexpectedEof, "range past the copy's end")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads a body to its end.
    fn collect(payload: Payload) -> Vec<u8> {
        use http_body_util::BodyExt;
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(payload.collect()).unwrap().to_bytes().to_vec()
    }

    #[test]
    fn disk_and_memory_give_the_same_bytes_for_bodies_and_ranges() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.txt");
        std::fs::write(&path, b"0123456789").unwrap();
        let root = crate::beneath::Root::open(dir.path()).unwrap();
        let cache = crate::file_cache::FileCache::new(1 << 20);
        let found = |memory: bool| {
            let file = Arc::new(std::fs::File::open(&path).unwrap());
            let metadata = file.metadata().unwrap();
            if memory {
                let later = std::time::SystemTime::now() + crate::file_cache::SETTLE;
                let rel = std::path::Path::new("f.txt");
                let checked = std::time::Instant::now();
                Found::kept(cache.keep(&root, rel, &file, &metadata, later, checked).unwrap())
            } else {
                Found::disk(file, &metadata)
            }
        };
        for memory in [false, true] {
            assert_eq!(collect(found(memory).body(0, 10).unwrap()), b"0123456789");
            assert_eq!(collect(found(memory).body(3, 4).unwrap()), b"3456");
            let parts = found(memory).read_parts(&[(0, 1), (8, 9)]).unwrap();
            assert_eq!(parts, [&b"01"[..], &b"89"[..]]);
            assert_eq!(&found(memory).read_all().unwrap()[..], b"0123456789");
            assert_eq!(found(memory).etag(), found(!memory).etag());
            assert_eq!(found(memory).last_modified(), found(!memory).last_modified());
        }
        assert!(found(true).body(8, 5).is_err(), "past the end of a copy");
        assert!(found(false).read_parts(&[(0, 9 << 20)]).is_err(), "over the multipart budget");
    }
}
