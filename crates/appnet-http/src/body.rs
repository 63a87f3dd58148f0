//! Response bodies: small ones in memory, files streamed from disk in 64 KiB chunks, so a
//! large file costs a buffer, not its size, per request, and CGI output as the script writes it.
//!
//! File reads are plain blocking `pread(2)` calls from the connection's task (at an offset, so
//! one descriptor held by the file cache serves many requests at once), as nginx makes them: served files are in the page cache, and tokio's file type hands every read to a
//! blocking thread, which made a 1 KiB response cost 137 µs of CPU against nginx's 33
//! (bench/workloads/http-server, first run).

use std::io;
use std::os::unix::fs::FileExt;
use std::pin::Pin;
use std::task::{Context, Poll};

use hyper::body::{Body, Bytes, Frame, SizeHint};

/// Bytes read from a file per chunk: below malloc's mmap threshold, so a chunk's buffer is a
/// cheap allocation.
const CHUNK: usize = 64 * 1024;

/// A response body.
#[derive(Debug)]
pub enum Payload {
    /// All of it, in memory.
    Full(Option<Bytes>),
    /// `remaining` bytes of an open file from `offset` (the file may be shared: its position
    /// is not used).
    File {
        /// The file.
        file: std::sync::Arc<std::fs::File>,
        /// Where the rest of the body starts.
        offset: u64,
        /// Bytes still to send.
        remaining: u64,
    },
    /// A CGI script's output, as it writes it; the length is not known ahead.
    Script(Box<crate::cgi::CgiBody>),
}

impl Payload {
    /// A body of `bytes`.
    pub fn bytes(bytes: impl Into<Bytes>) -> Self {
        Self::Full(Some(bytes.into()))
    }

    /// No body.
    pub fn empty() -> Self {
        Self::Full(None)
    }

    /// `length` bytes of `file` from `offset`.
    pub fn file(file: std::sync::Arc<std::fs::File>, offset: u64, length: u64) -> Self {
        Self::File { file, offset, remaining: length }
    }
}

impl Body for Payload {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        match self.get_mut() {
            Self::Script(script) => {
                script.poll_chunk(cx).map(|chunk| chunk.map(|c| c.map(Frame::data)))
            }
            Self::Full(bytes) => {
                Poll::Ready(bytes.take().filter(|b| !b.is_empty()).map(|b| Ok(Frame::data(b))))
            }
            Self::File { file, offset, remaining } => {
                if *remaining == 0 {
                    return Poll::Ready(None);
                }
                let want = (*remaining).min(CHUNK as u64) as usize;
                let mut chunk = vec![0; want];
                let filled = match read_at_most(file, &mut chunk, *offset) {
                    Ok(filled) => filled,
                    Err(error) => return Poll::Ready(Some(Err(error))),
                };
                if filled == 0 {
                    // The file shrank under us: end the body short; the client sees the cut.
                    return Poll::Ready(Some(Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "file shrank",
                    ))));
                }
                chunk.truncate(filled);
                *offset += filled as u64;
                *remaining -= filled as u64;
                Poll::Ready(Some(Ok(Frame::data(Bytes::from(chunk)))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Full(bytes) => bytes.as_ref().is_none_or(Bytes::is_empty),
            Self::File { remaining, .. } => *remaining == 0,
            Self::Script(script) => script.is_done(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Full(bytes) => SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64)),
            Self::File { remaining, .. } => SizeHint::with_exact(*remaining),
            Self::Script(_) => SizeHint::default(),
        }
    }
}

/// Fills as much of `chunk` as the file has from `offset` (less only at its end).
fn read_at_most(file: &std::fs::File, chunk: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut filled = 0;
    while filled < chunk.len() {
        match file.read_at(&mut chunk[filled..], offset + filled as u64) {
            Ok(0) => break,
            Ok(read) => filled += read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(filled)
}
