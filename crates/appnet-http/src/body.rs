//! Response bodies: small ones in memory, files streamed from disk in 64 KiB chunks, so a
//! large file costs a buffer, not its size, per request.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use hyper::body::{Body, Bytes, Frame, SizeHint};
use tokio::io::{AsyncRead, ReadBuf};

/// Bytes read from a file per chunk.
const CHUNK: usize = 64 * 1024;

/// A response body.
#[derive(Debug)]
pub enum Payload {
    /// All of it, in memory.
    Full(Option<Bytes>),
    /// `remaining` bytes of an open file, from its current position.
    File {
        /// The file, positioned where the body starts.
        file: tokio::fs::File,
        /// Bytes still to send.
        remaining: u64,
        /// The chunk being filled.
        buffer: Vec<u8>,
    },
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
    pub fn file(file: tokio::fs::File, length: u64) -> Self {
        Self::File { file, remaining: length, buffer: vec![0; CHUNK] }
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
            Self::Full(bytes) => {
                Poll::Ready(bytes.take().filter(|b| !b.is_empty()).map(|b| Ok(Frame::data(b))))
            }
            Self::File { file, remaining, buffer } => {
                if *remaining == 0 {
                    return Poll::Ready(None);
                }
                let want = buffer.len().min(usize::try_from(*remaining).unwrap_or(usize::MAX));
                let mut read = ReadBuf::new(&mut buffer[..want]);
                if let Err(error) = ready!(Pin::new(file).poll_read(cx, &mut read)) {
                    return Poll::Ready(Some(Err(error)));
                }
                let filled = read.filled();
                if filled.is_empty() {
                    // The file shrank under us: end the body short; the client sees the cut.
                    return Poll::Ready(Some(Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "file shrank",
                    ))));
                }
                *remaining -= filled.len() as u64;
                Poll::Ready(Some(Ok(Frame::data(Bytes::copy_from_slice(filled)))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Full(bytes) => bytes.as_ref().is_none_or(Bytes::is_empty),
            Self::File { remaining, .. } => *remaining == 0,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Full(bytes) => SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64)),
            Self::File { remaining, .. } => SizeHint::with_exact(*remaining),
        }
    }
}
