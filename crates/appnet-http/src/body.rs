//! Response bodies: small ones in memory, files streamed from disk in 64 KiB chunks, so a
//! large file costs a buffer, not its size, per request, and CGI output as the script writes it.
//!
//! File reads are plain blocking `read(2)` calls from the connection's task, as nginx makes
//! them: served files are in the page cache, and tokio's file type hands every read to a
//! blocking thread, which made a 1 KiB response cost 137 µs of CPU against nginx's 33
//! (bench/workloads/http-server, first run).

use std::io::{self, Read};
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
    /// `remaining` bytes of an open file, from its current position.
    File {
        /// The file, positioned where the body starts.
        file: std::fs::File,
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

    /// `length` bytes of `file` from its current position.
    pub fn file(file: std::fs::File, length: u64) -> Self {
        Self::File { file, remaining: length }
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
            Self::File { file, remaining } => {
                if *remaining == 0 {
                    return Poll::Ready(None);
                }
                // Read straight into the chunk that becomes the frame: one copy, no zeroing.
                let want = (*remaining).min(CHUNK as u64);
                let mut chunk = Vec::with_capacity(want as usize);
                if let Err(error) = file.take(want).read_to_end(&mut chunk) {
                    return Poll::Ready(Some(Err(error)));
                }
                let filled = chunk;
                if filled.is_empty() {
                    // The file shrank under us: end the body short; the client sees the cut.
                    return Poll::Ready(Some(Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "file shrank",
                    ))));
                }
                *remaining -= filled.len() as u64;
                Poll::Ready(Some(Ok(Frame::data(Bytes::from(filled)))))
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
