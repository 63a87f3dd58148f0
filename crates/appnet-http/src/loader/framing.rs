//! HTTP/1.1 response framing for the pipelining client (RFC 9112 §6): where one response ends
//! and the next begins on a connection carrying several. hyper's client does not pipeline, so
//! the loader reads pipelined responses itself: the head by httparse, the body by
//! Content-Length, chunked transfer coding, or (last response only) the connection's close.
//!
//! Pure and incremental: [`Framer::feed`] takes bytes as they arrive and returns each response
//! as soon as it is complete.

/// Largest response head accepted.
const MAX_HEAD: usize = 64 * 1024;

/// Header fields read at most.
const MAX_HEADERS: usize = 128;

/// One response off the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// `1` for HTTP/1.1, `0` for HTTP/1.0.
    pub minor_version: u8,
    /// Header fields, names lowercase, in order.
    pub headers: Vec<(String, String)>,
    /// The body, transfer coding removed (content coding kept).
    pub body: Vec<u8>,
    /// Bytes of the head (for timing: the head's arrival ends the wait).
    pub head_length: usize,
}

impl Response {
    /// The first field named `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// Why the bytes are not a valid response stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad HTTP/1.1 response: {0}")]
pub struct FramingError(pub String);

/// How the current response's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Body {
    Length(usize),
    Chunked,
    UntilClose,
}

/// Splits a connection's bytes into responses.
#[derive(Debug, Default)]
pub struct Framer {
    buffer: Vec<u8>,
}

impl Framer {
    /// A framer for a fresh connection.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `bytes` read from the connection; returns the responses they complete.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Vec<Response>, FramingError> {
        self.buffer.extend_from_slice(bytes);
        let mut done = Vec::new();
        while let Some(response) = self.next(false)? {
            done.push(response);
        }
        Ok(done)
    }

    /// The connection closed: the last response, if its body ran to the close; an error if a
    /// response was cut short.
    pub fn close(&mut self) -> Result<Option<Response>, FramingError> {
        let last = self.next(true)?;
        if last.is_none() && !self.buffer.is_empty() {
            return Err(FramingError("the connection closed inside a response".into()));
        }
        Ok(last)
    }

    /// The first complete response in the buffer, taken out of it.
    fn next(&mut self, at_close: bool) -> Result<Option<Response>, FramingError> {
        let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut head = httparse::Response::new(&mut fields);
        let head_length = match head.parse(&self.buffer) {
            Ok(httparse::Status::Complete(length)) => length,
            Ok(httparse::Status::Partial) if self.buffer.len() > MAX_HEAD => {
                return Err(FramingError("a response head over 64 KiB".into()));
            }
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(error) => return Err(FramingError(error.to_string())),
        };
        let status = head.code.ok_or_else(|| FramingError("no status".into()))?;
        let minor_version = head.version.unwrap_or(1);
        let headers: Vec<(String, String)> = head
            .headers
            .iter()
            .map(|h| {
                (h.name.to_ascii_lowercase(), String::from_utf8_lossy(h.value).trim().to_owned())
            })
            .collect();
        // 1xx, 204 and 304 never have a body (RFC 9112 §6.3).
        if (100..200).contains(&status) {
            self.buffer.drain(..head_length);
            return self.next(at_close);
        }
        let field = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
        let delimiting = if status == 204 || status == 304 {
            Body::Length(0)
        } else if field("transfer-encoding")
            .is_some_and(|te| te.to_ascii_lowercase().ends_with("chunked"))
        {
            Body::Chunked
        } else if let Some(length) = field("content-length") {
            let length = length
                .parse::<usize>()
                .map_err(|_| FramingError(format!("Content-Length `{length}`")))?;
            Body::Length(length)
        } else {
            Body::UntilClose
        };
        let rest = &self.buffer[head_length..];
        let (body, consumed) = match delimiting {
            Body::Length(length) if rest.len() >= length => (rest[..length].to_vec(), length),
            Body::Length(_) => return Ok(None),
            Body::Chunked => match dechunk(rest)? {
                Some(done) => done,
                None => return Ok(None),
            },
            Body::UntilClose if at_close => (rest.to_vec(), rest.len()),
            Body::UntilClose => return Ok(None),
        };
        self.buffer.drain(..head_length + consumed);
        Ok(Some(Response { status, minor_version, headers, body, head_length }))
    }
}

/// A chunked body at the start of `bytes`: (the body, bytes it took, trailers included), or
/// `None` if it is not all there yet.
fn dechunk(bytes: &[u8]) -> Result<Option<(Vec<u8>, usize)>, FramingError> {
    let mut body = Vec::new();
    let mut at = 0;
    loop {
        let Some(line_end) = find_crlf(&bytes[at..]) else { return Ok(None) };
        let line = std::str::from_utf8(&bytes[at..at + line_end])
            .map_err(|_| FramingError("a chunk size that is not text".into()))?;
        let size_text = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| FramingError(format!("chunk size `{size_text}`")))?;
        at += line_end + 2;
        if size == 0 {
            // Trailer fields, then an empty line.
            loop {
                let Some(end) = find_crlf(&bytes[at..]) else { return Ok(None) };
                at += end + 2;
                if end == 0 {
                    return Ok(Some((body, at)));
                }
            }
        }
        let end = at.checked_add(size).ok_or_else(|| FramingError("chunk size overflow".into()))?;
        if bytes.len() < end + 2 {
            return Ok(None);
        }
        if &bytes[end..end + 2] != b"\r\n" {
            return Err(FramingError("a chunk not followed by CRLF".into()));
        }
        body.extend_from_slice(&bytes[at..end]);
        at = end + 2;
    }
}

fn find_crlf(bytes: &[u8]) -> Option<usize> {
    bytes.windows(2).position(|w| w == b"\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    const THREE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello\
        HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n\
        HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nwiki\r\n5;ext=1\r\npedia\r\n0\r\nTrailer: t\r\n\r\n";

    #[test]
    fn pipelined_responses_come_apart_in_order() {
        let responses = Framer::new().feed(THREE).unwrap();
        assert_eq!(responses.len(), 3);
        assert_eq!((responses[0].status, responses[0].body.as_slice()), (200, &b"hello"[..]));
        assert_eq!(responses[0].header("content-type"), Some("text/plain"));
        assert_eq!((responses[1].status, responses[1].body.len()), (304, 0));
        assert_eq!(responses[2].body, b"wikipedia");
    }

    #[test]
    fn byte_by_byte_arrival_gives_the_same_responses() {
        let mut framer = Framer::new();
        let mut responses = Vec::new();
        for byte in THREE {
            responses.extend(framer.feed(std::slice::from_ref(byte)).unwrap());
        }
        assert_eq!(responses, Framer::new().feed(THREE).unwrap());
        assert_eq!(framer.close(), Ok(None));
    }

    #[test]
    fn a_body_to_the_close_and_cut_short_responses() {
        let mut framer = Framer::new();
        assert!(framer.feed(b"HTTP/1.0 200 OK\r\n\r\nall of it").unwrap().is_empty());
        let last = framer.close().unwrap().unwrap();
        assert_eq!((last.minor_version, last.body.as_slice()), (0, &b"all of it"[..]));
        let mut cut = Framer::new();
        cut.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort").unwrap();
        assert!(cut.close().is_err());
    }

    #[test]
    fn malformed_streams_are_errors_not_panics() {
        for bad in [
            &b"NOT HTTP\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabcd",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n",
        ] {
            assert!(Framer::new().feed(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        assert!(Framer::new().feed(&vec![b'a'; 70_000]).is_err());
    }
}
