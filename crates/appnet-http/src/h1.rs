//! The cleartext HTTP/1 fast path: GET and HEAD requests without a body, answered by our own
//! writer so a file goes out with `sendfile(2)` and a page a preload rule covers gets its
//! `103 Early Hints` first. Anything else — a request with a body, `Expect`, `Upgrade`, a head
//! that does not parse or is too large, a header the `http` crate refuses — hands the
//! connection, with every byte read so far, to hyper for the rest of its life, so hyper's
//! strictness on malformed and smuggling-style input (400, 431, CL/TE) is what those see.
//!
//! Why not hyper for these too: hyper's body path copies a file through user space in chunks,
//! and cannot send a 1xx other than 100. `bench/workloads/http-server` measured the 1 MiB file
//! at 0.65× nginx's requests per second at 2.5× its CPU per request through hyper (nginx uses
//! sendfile). The request head is still parsed by `httparse`, as hyper parses it.
//!
//! What hyper's HTTP/1 server did that this does the same way: the response's version is the
//! request's (HTTP/1.0 gets `HTTP/1.0 …`), HTTP/1.0 keeps the connection only when asked with
//! `Connection: keep-alive` (and says so), `Connection: close` is echoed and honoured,
//! `Content-Length` from the body's known size, chunked when unknown on HTTP/1.1 and
//! close-delimited on HTTP/1.0, no body for HEAD, 1xx, 204 and 304, `Date` last, pipelined
//! requests answered in order, and the head must arrive within the header timeout.

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Body;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode, Uri, Version};
use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use crate::body::Payload;
use crate::request_body::RequestBody;
use crate::server::{ConnectionError, Site};

/// The largest request head read here; a longer one goes to hyper, which answers 431 past its
/// own 16 KiB limit.
const MAX_HEAD: usize = 16 * 1024;

/// Header fields in a head; more go to hyper (which answers 431 past 100).
const MAX_FIELDS: usize = 100;

/// Files at least this large go out with `sendfile`; a smaller one is read into the buffer
/// behind its head and both go in one write, which costs fewer system calls.
const SENDFILE_FROM: u64 = 32 * 1024;

/// How long one write may wait for the client to make room, before the connection is dropped.
const WRITE_STALL: Duration = Duration::from_secs(60);

/// How the fast path left a connection.
pub(crate) enum Ended {
    /// Closed, or to be closed: nothing more to do.
    Done,
    /// The bytes read but not answered, starting at a request the fast path does not take:
    /// serve the rest of the connection with hyper, these bytes first.
    HandOver(Vec<u8>),
}

/// How long a connection may wait: for the rest of a request head once it began, and idle
/// for the next request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timeouts {
    pub(crate) header: Duration,
    pub(crate) idle: Duration,
}

/// Serves requests from `stream` (`read` already taken from it) until one needs hyper, the
/// client closes, or a response ends the connection.
pub(crate) async fn serve(
    stream: &mut TcpStream,
    read: Vec<u8>,
    site: &Arc<Site>,
    timeouts: Timeouts,
    stop: &CancellationToken,
    peer: SocketAddr,
    local: SocketAddr,
) -> Result<Ended, ConnectionError> {
    let mut buffer = read;
    let mut out = Vec::new();
    loop {
        let mut deadline = tokio::time::Instant::now() + timeouts.header;
        let (request, used) = loop {
            match parse(&buffer) {
                Parsed::Request(request, used) => break (*request, used),
                Parsed::NotHere => return Ok(Ended::HandOver(buffer)),
                Parsed::Partial if buffer.len() >= MAX_HEAD => return Ok(Ended::HandOver(buffer)),
                Parsed::Partial => {}
            }
            let idle = buffer.is_empty();
            if idle {
                // Between requests a keep-alive connection holds no buffer (nginx frees its
                // own too): the wait is for the socket to be readable, and the buffers are made
                // when there is something to put in them. Over 2,000 idle connections (RSS)
                // that is 1.9 KiB of the server's memory each instead of 6.0, and after a
                // 20 KB file, whose response the buffer kept, 1.8 instead of 13.9.
                (buffer, out) = (Vec::new(), Vec::new());
                let readable = tokio::time::timeout(timeouts.idle, stream.readable());
                let readable = tokio::select! {
                    readable = readable => readable,
                    // Shutting down: an idle connection closes.
                    () = stop.cancelled() => return Ok(Ended::Done),
                };
                match readable {
                    Err(_) => return Ok(Ended::Done),
                    // The head's time runs from its first byte.
                    Ok(Ok(())) => deadline = tokio::time::Instant::now() + timeouts.header,
                    Ok(Err(error)) => return Err(error.into()),
                }
            }
            buffer.reserve(4096);
            // Once readable, at once; a head under way is finished even when the server is
            // shutting down. (`read_buf`, not `try_read_buf`: a short read tells tokio the
            // socket is drained, so the next wait needs no `recv` that finds nothing.)
            match tokio::time::timeout_at(deadline, stream.read_buf(&mut buffer)).await {
                Err(_) | Ok(Ok(0)) => return Ok(Ended::Done),
                Ok(Ok(_)) => {}
                Ok(Err(error)) => return Err(error.into()),
            }
        };
        buffer.drain(..used);
        out.reserve(4096);
        let version = request.version();
        let keep_alive = wants_keep_alive(version, request.headers());
        let head_only = request.method() == Method::HEAD;
        if version == Version::HTTP_11 {
            let preloads = site.preloads(request.uri().path());
            if !preloads.is_empty() {
                out.clear();
                out.extend_from_slice(b"HTTP/1.1 103 Early Hints\r\n");
                for preload in &preloads {
                    out.extend_from_slice(b"link: ");
                    out.extend_from_slice(preload.link.as_bytes());
                    out.extend_from_slice(b"\r\n");
                }
                out.extend_from_slice(b"\r\n");
                write_all(stream, &out).await?;
            }
        }
        let (response, mut entry) = site.respond(request, peer, local).await;
        // A server shutting down says so on the response it finishes with.
        let keep_alive = keep_alive && !stop.is_cancelled();
        let mut sent = 0;
        let keep =
            send(stream, &mut out, response, version, keep_alive, head_only, &mut sent).await;
        // Logged once sent (or given up on), with the body bytes that went out.
        if let Some(entry) = entry.as_mut() {
            entry.sent(sent);
        }
        drop(entry);
        let keep = keep?;
        if !keep || stop.is_cancelled() {
            crate::linger::close_tcp(stream, !buffer.is_empty()).await;
            return Ok(Ended::Done);
        }
    }
}

/// What the fast path makes of the bytes at the start of a connection's input (for the fuzz
/// target and tests; the server uses the same reading).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// Not a whole request head yet.
    Partial,
    /// A GET or HEAD the fast path answers itself; its head is this many bytes.
    Taken(usize),
    /// Handed to hyper.
    HandedOver,
}

/// Reads the request head at the start of `bytes` as the server does.
pub fn read_head(bytes: &[u8]) -> Reading {
    match parse(bytes) {
        Parsed::Partial => Reading::Partial,
        Parsed::Request(_, used) => Reading::Taken(used),
        Parsed::NotHere => Reading::HandedOver,
    }
}

/// What the bytes so far hold.
enum Parsed {
    /// Not a whole head yet.
    Partial,
    /// A request the fast path takes, and how many bytes its head used.
    Request(Box<Request<RequestBody>>, usize),
    /// A request for hyper (or bytes hyper will refuse).
    NotHere,
}

/// Reads one request head from `bytes` and decides whether the fast path takes it.
fn parse(bytes: &[u8]) -> Parsed {
    let mut fields = [httparse::EMPTY_HEADER; MAX_FIELDS];
    let mut head = httparse::Request::new(&mut fields);
    let used = match head.parse(bytes) {
        Ok(httparse::Status::Complete(used)) => used,
        Ok(httparse::Status::Partial) => return Parsed::Partial,
        Err(_) => return Parsed::NotHere,
    };
    let method = match head.method {
        Some("GET") => Method::GET,
        Some("HEAD") => Method::HEAD,
        _ => return Parsed::NotHere,
    };
    let version = match head.version {
        Some(1) => Version::HTTP_11,
        Some(0) => Version::HTTP_10,
        _ => return Parsed::NotHere,
    };
    let Some(uri) = head.path.and_then(|path| Uri::try_from(path).ok()) else {
        return Parsed::NotHere;
    };
    let mut headers = HeaderMap::with_capacity(head.headers.len());
    for field in head.headers.iter() {
        let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(field.name.as_bytes()), HeaderValue::from_bytes(field.value))
        else {
            return Parsed::NotHere;
        };
        // A body, a request to wait for 100-continue, or to switch protocols: hyper's.
        let hyper_only = [header::CONTENT_LENGTH, header::TRANSFER_ENCODING, header::EXPECT];
        if hyper_only.contains(&name) || name == header::UPGRADE {
            return Parsed::NotHere;
        }
        headers.append(name, value);
    }
    let mut request = Request::new(RequestBody::Empty);
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.version_mut() = version;
    *request.headers_mut() = headers;
    Parsed::Request(Box::new(request), used)
}

/// Whether the client asked to keep the connection: HTTP/1.1 unless `Connection: close`,
/// HTTP/1.0 only with `Connection: keep-alive`.
fn wants_keep_alive(version: Version, headers: &HeaderMap) -> bool {
    let has = |token: &str| {
        headers.get_all(header::CONNECTION).iter().any(|value| {
            value.to_str().is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        })
    };
    if version == Version::HTTP_10 { has("keep-alive") } else { !has("close") }
}

/// How a response's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// No body may follow (1xx, 204, 304).
    None,
    /// This many bytes.
    Length(u64),
    /// Chunked transfer coding (HTTP/1.1, length unknown).
    Chunked,
    /// Until the connection closes (HTTP/1.0, length unknown).
    Close,
}

/// Writes the response head into `out` and says how the body is framed and whether the
/// connection stays open after it.
fn write_head(
    out: &mut Vec<u8>,
    parts: &hyper::http::response::Parts,
    body_length: Option<u64>,
    version: Version,
    keep_alive: bool,
) -> (Framing, bool) {
    let status = parts.status;
    let bodiless = status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    let given_length = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let framing = if bodiless {
        Framing::None
    } else if let Some(length) = given_length.or(body_length) {
        Framing::Length(length)
    } else if version == Version::HTTP_11 {
        Framing::Chunked
    } else {
        Framing::Close
    };
    // A handler's `Connection: close` (a refusal of a malformed request) ends the connection.
    let refused = parts.headers.get(header::CONNECTION).is_some_and(|v| v.as_bytes() == b"close");
    let keep_alive = keep_alive && framing != Framing::Close && !refused;
    out.extend_from_slice(if version == Version::HTTP_10 { b"HTTP/1.0 " } else { b"HTTP/1.1 " });
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    // A CGI script's own phrase, else the standard one.
    let reason = parts.extensions.get::<hyper::ext::ReasonPhrase>();
    let standard = || status.canonical_reason().unwrap_or("").as_bytes();
    out.extend_from_slice(reason.map_or_else(standard, |r| r.as_bytes()));
    out.extend_from_slice(b"\r\n");
    for (name, value) in &parts.headers {
        let framing_field = [header::CONTENT_LENGTH, header::TRANSFER_ENCODING, header::CONNECTION];
        if framing_field.contains(name) || name == header::DATE {
            continue;
        }
        field(out, name.as_str(), value.as_bytes());
    }
    match (version, keep_alive) {
        (Version::HTTP_10, true) => field(out, "connection", b"keep-alive"),
        (Version::HTTP_11, false) => field(out, "connection", b"close"),
        _ => {}
    }
    match framing {
        Framing::Length(length) => field(out, "content-length", length.to_string().as_bytes()),
        Framing::Chunked => field(out, "transfer-encoding", b"chunked"),
        Framing::None | Framing::Close => {}
    }
    let date = parts.headers.get(header::DATE).cloned().unwrap_or_else(crate::http_date::now);
    field(out, "date", date.as_bytes());
    out.extend_from_slice(b"\r\n");
    (framing, keep_alive)
}

fn field(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// Sends `response`, counting into `counted` the body bytes written; returns whether the
/// connection stays open.
async fn send(
    stream: &mut TcpStream,
    out: &mut Vec<u8>,
    response: Response<Payload>,
    version: Version,
    keep_alive: bool,
    head_only: bool,
    counted: &mut u64,
) -> Result<bool, ConnectionError> {
    let (parts, mut body) = response.into_parts();
    out.clear();
    let (framing, keep_alive) =
        write_head(out, &parts, body.size_hint().exact(), version, keep_alive);
    if head_only || framing == Framing::None {
        write_last(stream, out, keep_alive).await?;
        return Ok(keep_alive);
    }
    if let Payload::File { file, offset, remaining } = &mut body {
        if *remaining >= SENDFILE_FROM && framing == Framing::Length(*remaining) {
            // The head is sent with MSG_MORE, which holds it back (TCP_NODELAY is on) until
            // the file's first segment carries it, as nginx's tcp_nopush does with TCP_CORK but
            // without the two setsockopt calls (3 % of the CPU of a 1 MiB response); sendfile's
            // last piece goes without "more" and pushes. Measured with wrk on a 1 MiB file:
            // 1.6-1.7k requests/s with the head alone in its own segment, 2.3-2.5k held back.
            write_all_more(stream, out).await?;
            send_file(stream, file, *offset, *remaining, counted).await?;
            return Ok(keep_alive);
        }
    }
    // Small bodies ride in the same write as the head; larger or unknown ones follow in
    // chunks as the body gives them.
    // Body bytes put in `out`, and of those, not yet written.
    let (mut sent, mut unwritten) = (0u64, 0u64);
    loop {
        let frame = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
        let data = match frame {
            None => break,
            Some(Err(error)) => {
                // The head promised a body it cannot have: end the connection short.
                tracing::debug!(%error, "response body failed: connection closed");
                write_last(stream, out, false).await?;
                *counted += unwritten;
                return Ok(false);
            }
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => data,
                Err(_) => continue,
            },
        };
        sent += data.len() as u64;
        unwritten += data.len() as u64;
        if framing == Framing::Chunked {
            if data.is_empty() {
                continue;
            }
            out.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
            out.extend_from_slice(&data);
            out.extend_from_slice(b"\r\n");
        } else {
            out.extend_from_slice(&data);
        }
        if out.len() >= 64 * 1024 || matches!(body, Payload::Script(_)) {
            write_all(stream, out).await?;
            out.clear();
            *counted += std::mem::take(&mut unwritten);
        }
    }
    if framing == Framing::Chunked {
        out.extend_from_slice(b"0\r\n\r\n");
    }
    // A body shorter than the length its head announced leaves the client waiting: close.
    let whole = !matches!(framing, Framing::Length(length) if length != sent);
    write_last(stream, out, keep_alive && whole).await?;
    out.clear();
    *counted += unwritten;
    Ok(keep_alive && whole)
}

/// Writes a response's last bytes. When the connection closes after them they are sent with
/// MSG_MORE, and the `close` (or `shutdown`) that follows at once sends them with its FIN in
/// one segment, as nginx's corked writes do: a client that reconnects for every request then
/// has one segment fewer to take in per connection (wrk with `Connection: close`, whose core
/// is the ceiling against either server: ~1.5 % more connections a second, 7 interleaved
/// rounds each).
async fn write_last(
    stream: &mut TcpStream,
    bytes: &[u8],
    keep_alive: bool,
) -> Result<(), ConnectionError> {
    if keep_alive { write_all(stream, bytes).await } else { write_all_more(stream, bytes).await }
}

/// `sendfile(2)` of `remaining` bytes of `file` from `offset` (the file's own position is
/// neither used nor moved: the file cache shares one descriptor between requests), counting
/// what went into `counted`.
async fn send_file(
    stream: &mut TcpStream,
    file: &std::fs::File,
    offset: u64,
    mut remaining: u64,
    counted: &mut u64,
) -> Result<(), ConnectionError> {
    let mut offset = libc::off_t::try_from(offset).map_err(|_| "file offset too large")?;
    let (socket, source) = (stream.as_raw_fd(), file.as_raw_fd());
    while remaining > 0 {
        let want = remaining.min(1 << 30) as usize;
        let sent = when_writable(stream, || {
            // SAFETY: both descriptors are open for the call; the kernel reads and advances
            // `offset`, a live local.
            let sent = unsafe { libc::sendfile(socket, source, &raw mut offset, want) };
            if sent < 0 { Err(io::Error::last_os_error()) } else { Ok(sent as u64) }
        })
        .await?;
        if sent == 0 {
            return Err("file shrank while being sent".into());
        }
        remaining -= sent;
        *counted += sent;
    }
    Ok(())
}

/// Writes `bytes` with `MSG_MORE`: the kernel holds them until more data follows.
async fn write_all_more(stream: &mut TcpStream, mut bytes: &[u8]) -> Result<(), ConnectionError> {
    let socket = stream.as_raw_fd();
    while !bytes.is_empty() {
        let sent = when_writable(stream, || {
            // SAFETY: the descriptor is open and `bytes` readable for its length.
            let sent = unsafe {
                libc::send(
                    socket,
                    bytes.as_ptr().cast(),
                    bytes.len(),
                    libc::MSG_MORE | libc::MSG_NOSIGNAL,
                )
            };
            if sent < 0 { Err(io::Error::last_os_error()) } else { Ok(sent as usize) }
        })
        .await?;
        if sent == 0 {
            return Err("the connection took no bytes".into());
        }
        bytes = &bytes[sent..];
    }
    Ok(())
}

/// Makes the non-blocking write `call` once the socket takes bytes, for at most [`WRITE_STALL`].
async fn when_writable<T>(
    stream: &TcpStream,
    call: impl FnMut() -> io::Result<T>,
) -> Result<T, ConnectionError> {
    let wait = stream.async_io(Interest::WRITABLE, call);
    Ok(tokio::time::timeout(WRITE_STALL, wait).await.map_err(|_| "client stalled")??)
}

async fn write_all(stream: &mut TcpStream, bytes: &[u8]) -> Result<(), ConnectionError> {
    if bytes.is_empty() {
        return Ok(());
    }
    tokio::time::timeout(WRITE_STALL, stream.write_all(bytes))
        .await
        .map_err(|_| "client stalled")??;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(bytes: &[u8]) -> (Request<RequestBody>, usize) {
        match parse(bytes) {
            Parsed::Request(request, used) => (*request, used),
            Parsed::Partial => panic!("partial"),
            Parsed::NotHere => panic!("not here"),
        }
    }

    #[test]
    fn plain_gets_and_heads_are_taken_pipelined_ones_one_at_a_time() {
        let bytes = b"GET /a.css HTTP/1.1\r\nHost: x\r\n\r\nHEAD /b HTTP/1.0\r\n\r\n";
        let (first, used) = request(bytes);
        assert_eq!((first.method(), first.uri().path()), (&Method::GET, "/a.css"));
        assert_eq!(first.headers()["host"], "x");
        let (second, _) = request(&bytes[used..]);
        assert_eq!((second.method(), second.version()), (&Method::HEAD, Version::HTTP_10));
        assert!(matches!(parse(b"GET /a HTTP/1.1\r\nHost: x\r\n"), Parsed::Partial));
    }

    #[test]
    fn bodies_expectations_upgrades_and_bad_heads_go_to_hyper() {
        for bytes in [
            &b"POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx"[..],
            b"GET /f HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
            b"GET /f HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            b"GET /f HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n",
            b"GET /f HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n",
            b"GET /f HTTP/1.1\r\nHost: a\r\nX-Folded: one\r\n two\r\n\r\n",
            b"GET  /f HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET /f HTTP/9.9\r\nHost: a\r\n\r\n",
            b"PUT /f HTTP/1.1\r\nHost: a\r\n\r\n",
            b"\x00\x01\x02 nonsense\r\n\r\n",
        ] {
            assert!(
                matches!(parse(bytes), Parsed::NotHere),
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
        }
    }

    #[test]
    fn keep_alive_follows_the_version_and_the_connection_field() {
        let headers = |value: &'static str| {
            let mut map = HeaderMap::new();
            map.insert(header::CONNECTION, HeaderValue::from_static(value));
            map
        };
        assert!(wants_keep_alive(Version::HTTP_11, &HeaderMap::new()));
        assert!(!wants_keep_alive(Version::HTTP_11, &headers("Close")));
        assert!(!wants_keep_alive(Version::HTTP_10, &HeaderMap::new()));
        assert!(wants_keep_alive(Version::HTTP_10, &headers("keep-alive, TE")));
    }

    fn head(response: Response<Payload>, version: Version, keep: bool) -> (String, Framing, bool) {
        let (parts, body) = response.into_parts();
        let mut out = Vec::new();
        let (framing, keep) = write_head(&mut out, &parts, body.size_hint().exact(), version, keep);
        (String::from_utf8(out).unwrap(), framing, keep)
    }

    #[test]
    fn heads_frame_bodies_as_hyper_did() {
        let mut ok = Response::new(Payload::bytes("hello"));
        ok.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        let (text, framing, keep) = head(ok, Version::HTTP_11, true);
        assert!(
            text.starts_with(
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 5\r\ndate: "
            ),
            "{text}"
        );
        assert!(text.ends_with(" GMT\r\n\r\n"));
        assert_eq!((framing, keep), (Framing::Length(5), true));

        let mut not_modified = Response::new(Payload::empty());
        *not_modified.status_mut() = StatusCode::NOT_MODIFIED;
        let (text, framing, _) = head(not_modified, Version::HTTP_11, false);
        assert!(
            text.starts_with("HTTP/1.1 304 Not Modified\r\nconnection: close\r\ndate: "),
            "{text}"
        );
        assert_eq!(framing, Framing::None);

        let unknown = |version| {
            let (parts, ()) = Response::new(()).into_parts();
            let mut out = Vec::new();
            let (framing, keep) = write_head(&mut out, &parts, None, version, true);
            (String::from_utf8(out).unwrap(), framing, keep)
        };
        let (text, framing, keep) = unknown(Version::HTTP_11);
        assert!(text.contains("transfer-encoding: chunked\r\n"), "{text}");
        assert_eq!((framing, keep), (Framing::Chunked, true));
        let (text, framing, keep) = unknown(Version::HTTP_10);
        assert!(text.starts_with("HTTP/1.0 200 OK\r\n") && !text.contains("keep-alive"), "{text}");
        assert_eq!((framing, keep), (Framing::Close, false));
    }
}
