//! HTTP/2 connections on the `h2` crate directly (hyper's HTTP/2 is built on the same crate).
//!
//! Why not through hyper: a hyper service returns one response and nothing else, so it cannot
//! send a 103 Early Hints response before it, nor promise pushed streams (hyper 1.x has no
//! server API for either). A page that the config's preload rules cover gets both here:
//!
//! 1. `103 Early Hints` with the rule's `Link: <…>; rel=preload` fields, at once, so a browser
//!    starts fetching them while the page is still being produced (Chromium acts on Early
//!    Hints only over HTTP/2 and later);
//! 2. a `PUSH_PROMISE` and the pushed response for each same-site preload, where the client
//!    allows push (SETTINGS_ENABLE_PUSH; browsers turned it off, h2load and nghttp did not);
//! 3. the page itself, whose final response carries the same `Link` fields.
//!
//! Everything else a response needs that hyper added — `Date`, `Content-Length` from the
//! body's size, no body for HEAD, 204 or 304, flow control on the way out — is done here.

use std::future::poll_fn;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use h2::server::SendResponse;
use h2::{Ping, SendStream};
use hyper::body::{Body, Bytes};
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode, Uri};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::sync::CancellationToken;

use crate::access_log::Entry;
use crate::body::Payload;
use crate::h2_turns::{Place, Turns};
use crate::priority::Priority;
use crate::request_body::RequestBody;
use crate::server::{ConnectionError, Site};

/// The limits of one connection, as hyper's defaults had them.
pub(crate) struct Limits {
    /// Streams a client may have open at once.
    pub(crate) max_streams: u32,
    /// Largest request header list.
    pub(crate) max_header_list: u32,
    /// Time for the client's preface and SETTINGS.
    pub(crate) handshake_timeout: Duration,
    /// Time with no stream open before the connection is closed (GOAWAY): a client that
    /// answers pings but asks for nothing does not hold one of the connection slots for good.
    pub(crate) idle_timeout: Duration,
    /// The connection is TLS: requests are marked [`crate::server::Secure`].
    pub(crate) secure: bool,
}

/// The connection's open streams, and when the last one opened or ended, for the idle
/// timeout: two atomic operations a stream, checked a few times per timeout.
#[derive(Debug)]
struct Activity {
    open: AtomicUsize,
    /// Milliseconds from `born` to the last stream's start or end.
    last: AtomicU64,
    born: std::time::Instant,
}

impl Activity {
    fn new() -> Self {
        Self { open: AtomicUsize::new(0), last: AtomicU64::new(0), born: std::time::Instant::now() }
    }

    fn stamp(&self) {
        let now = u64::try_from(self.born.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(now, Ordering::Relaxed);
    }

    /// A stream begins; it ends when the guard is dropped.
    fn begin(self: &Arc<Self>) -> OpenStream {
        self.open.fetch_add(1, Ordering::Relaxed);
        self.stamp();
        OpenStream(self.clone())
    }

    /// Whether no stream has been open for `timeout`.
    fn idle_for(&self, timeout: Duration) -> bool {
        let last = Duration::from_millis(self.last.load(Ordering::Relaxed));
        self.open.load(Ordering::Relaxed) == 0
            && self.born.elapsed().saturating_sub(last) >= timeout
    }
}

struct OpenStream(Arc<Activity>);

impl Drop for OpenStream {
    fn drop(&mut self) {
        self.0.stamp();
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Flow-control windows we grant (hyper's server defaults: 1 MiB per stream and connection,
/// so an upload is not held to 64 KiB per round trip), and the most response bytes buffered
/// per stream before waiting for the connection to write them. hyper buffers 400 KiB; bytes
/// handed to `h2` are sent in turn with every other stream's, whatever their priorities, so
/// the less a stream holds there the sooner a more urgent response has the connection to
/// itself (see [`crate::priority`]).
const WINDOW: u32 = 1 << 20;
const SEND_BUFFER: usize = 128 << 10;

/// A silent client is pinged after this long, and dropped if the PING is not answered within
/// [`PONG_TIMEOUT`].
const PING_INTERVAL: Duration = Duration::from_secs(30);
const PONG_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves one HTTP/2 connection until the client closes it or stops answering pings.
pub(crate) async fn serve<I>(
    io: I,
    site: Arc<Site>,
    limits: Limits,
    stop: CancellationToken,
    peer: SocketAddr,
    local: SocketAddr,
) -> Result<(), ConnectionError>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let io = crate::coalesce::Coalesce::new(io);
    let turns = Arc::new(Turns::new(io.last_write()));
    let handshake = h2::server::Builder::new()
        .max_concurrent_streams(limits.max_streams)
        .max_header_list_size(limits.max_header_list)
        .initial_window_size(WINDOW)
        .initial_connection_window_size(WINDOW)
        .max_send_buffer_size(SEND_BUFFER)
        .handshake::<_, Bytes>(io);
    let mut connection = tokio::time::timeout(limits.handshake_timeout, handshake)
        .await
        .map_err(|_| "no HTTP/2 preface within the header timeout")??;
    let mut pings = connection.ping_pong();
    let keep_alive = async move {
        let Some(pings) = pings.as_mut() else { return std::future::pending().await };
        loop {
            tokio::time::sleep(PING_INTERVAL).await;
            match tokio::time::timeout(PONG_TIMEOUT, pings.ping(Ping::opaque())).await {
                Ok(Ok(_pong)) => {}
                Ok(Err(_)) | Err(_) => return,
            }
        }
    };
    tokio::pin!(keep_alive);
    let activity = Arc::new(Activity::new());
    let mut idle_checks =
        tokio::time::interval((limits.idle_timeout / 4).max(Duration::from_millis(50)));
    idle_checks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // After an idle GOAWAY, h2 waits for the client's answer to a PING before it closes;
    // a client that does not answer is not waited for long.
    let closing = tokio::time::sleep(Duration::from_secs(86_400));
    tokio::pin!(closing);
    let mut closing_idle = false;
    let mut stopping = false;
    let mut first = true;
    loop {
        tokio::select! {
            accepted = connection.accept() => match accepted {
                None => return Ok(()),
                Some(Err(error)) => return Err(error.into()),
                Some(Ok((request, respond))) => {
                    let (site, turns, secure) = (site.clone(), turns.clone(), limits.secure);
                    let open = activity.begin();
                    tokio::spawn(async move {
                        let _open = open;
                        let (parts, stream) = request.into_parts();
                        let (body, read) = if expects_continue(&parts.headers) {
                            let (body, read) = RequestBody::http2_expecting(stream);
                            (body, Some(read))
                        } else {
                            (RequestBody::http2(stream), None)
                        };
                        let mut request = Request::from_parts(parts, body);
                        if secure {
                            request.extensions_mut().insert(crate::server::Secure);
                        }
                        exchange(&site, request, respond, read, &turns, peer, local).await;
                    });
                    if std::mem::take(&mut first) {
                        // The connection's first stream answers before the next `accept`
                        // writes: its response then leaves with the SETTINGS ACK the client's
                        // SETTINGS are owed, in one write rather than two.
                        tokio::task::yield_now().await;
                    }
                }
            },
            () = &mut keep_alive => return Err("the client stopped answering pings".into()),
            _ = idle_checks.tick(), if !stopping => {
                if activity.idle_for(limits.idle_timeout) {
                    // GOAWAY; with no stream open, `accept` then ends the loop.
                    stopping = true;
                    connection.graceful_shutdown();
                    closing_idle = true;
                    closing.as_mut().reset(tokio::time::Instant::now() + PONG_TIMEOUT / 10);
                }
            }
            () = &mut closing, if closing_idle => return Ok(()),
            // Shutting down: GOAWAY, the open streams finish, then `accept` ends the loop.
            () = stop.cancelled(), if !stopping => {
                stopping = true;
                connection.graceful_shutdown();
            }
        }
    }
}

/// One stream: early hints and pushes where a preload rule covers the path, then the response,
/// sent in the order the client's `Priority` field asks for among the connection's streams.
async fn exchange(
    site: &Arc<Site>,
    request: Request<RequestBody>,
    mut respond: SendResponse<Bytes>,
    body_read: Option<tokio::sync::oneshot::Receiver<()>>,
    turns: &Arc<Turns>,
    peer: SocketAddr,
    local: SocketAddr,
) {
    let head_only = request.method() == Method::HEAD;
    let priority = request
        .headers()
        .get("priority")
        .map_or_else(Priority::default, |value| Priority::from_field(value.as_bytes()));
    let preloads = match *request.method() {
        Method::GET | Method::HEAD => site.preloads(request.uri().path()),
        _ => Vec::new(),
    };
    if !preloads.is_empty() {
        let mut hints = Response::new(());
        *hints.status_mut() = StatusCode::EARLY_HINTS;
        for link in preloads.iter().filter_map(|p| HeaderValue::from_str(&p.link).ok()) {
            hints.headers_mut().append(header::LINK, link);
        }
        if respond.send_informational(hints).is_err() {
            return;
        }
        for preload in preloads.iter().filter(|p| p.url.starts_with('/')) {
            let Some(promised) = promised_request(&request, &preload.url) else { continue };
            let mut own = Request::new(RequestBody::Empty);
            *own.uri_mut() = promised.uri().clone();
            *own.headers_mut() = promised.headers().clone();
            *own.version_mut() = hyper::Version::HTTP_2;
            // An error here is the client's SETTINGS_ENABLE_PUSH = 0 (or the stream gone):
            // it gets the Link fields and fetches for itself.
            let Ok(mut pushed) = respond.push_request(promised) else { break };
            let (site, turns) = (site.clone(), turns.clone());
            tokio::spawn(async move {
                let (response, entry) = site.respond(own, peer, local).await;
                // A pushed response has no field of its own: the defaults (RFC 9218 §4).
                send(&mut pushed, response, false, &turns, Priority::default(), entry).await;
            });
        }
    }
    let responding = site.respond(request, peer, local);
    tokio::pin!(responding);
    let response = match body_read {
        // `100 Continue` once the handler reads the body (curl otherwise waits a second).
        Some(body_read) => tokio::select! {
            response = &mut responding => response,
            Ok(()) = body_read => {
                let mut go_on = Response::new(());
                *go_on.status_mut() = StatusCode::CONTINUE;
                let _ = respond.send_informational(go_on);
                responding.await
            }
        },
        None => responding.await,
    };
    let (response, entry) = response;
    send(&mut respond, response, head_only, turns, priority, entry).await;
}

/// Whether a request asks for `100 Continue` before it sends its body (RFC 9110 §10.1.1).
fn expects_continue(headers: &HeaderMap) -> bool {
    headers
        .get(header::EXPECT)
        .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"100-continue"))
}

/// The GET a pushed `url` (a path on this site) stands for: the page's authority and scheme,
/// and the header fields that choose a representation.
fn promised_request(page: &Request<RequestBody>, url: &str) -> Option<Request<()>> {
    let parts = page.uri().clone().into_parts();
    let mut builder = Uri::builder().path_and_query(url);
    if let Some(scheme) = parts.scheme {
        builder = builder.scheme(scheme);
    }
    if let Some(authority) = parts.authority {
        builder = builder.authority(authority);
    }
    let mut request = Request::new(());
    *request.uri_mut() = builder.build().ok()?;
    for name in [header::ACCEPT_ENCODING, header::USER_AGENT, header::ACCEPT_LANGUAGE] {
        if let Some(value) = page.headers().get(&name) {
            request.headers_mut().insert(name, value.clone());
        }
    }
    Some(request)
}

/// Something that takes a response head and gives the stream for its body: a stream's own
/// response or a pushed one.
trait Responder {
    fn head(&mut self, head: Response<()>, end: bool) -> Result<SendStream<Bytes>, h2::Error>;
}

impl Responder for SendResponse<Bytes> {
    fn head(&mut self, head: Response<()>, end: bool) -> Result<SendStream<Bytes>, h2::Error> {
        self.send_response(head, end)
    }
}

impl Responder for h2::server::SendPushedResponse<Bytes> {
    fn head(&mut self, head: Response<()>, end: bool) -> Result<SendStream<Bytes>, h2::Error> {
        self.send_response(head, end)
    }
}

/// Sends `response` on the stream: its head, then its body as the client's window and the
/// connection's more urgent streams allow. Its access-log `entry` is written at the end, with
/// the body bytes sent.
async fn send(
    respond: &mut impl Responder,
    response: Response<Payload>,
    head_only: bool,
    turns: &Arc<Turns>,
    priority: Priority,
    mut entry: Option<Entry>,
) {
    let (mut parts, mut body) = response.into_parts();
    complete_head(&mut parts.headers, parts.status, &body);
    let no_body = head_only
        || parts.status == StatusCode::NO_CONTENT
        || parts.status == StatusCode::NOT_MODIFIED
        || body.is_end_stream();
    let Ok(mut stream) = respond.head(Response::from_parts(parts, ()), no_body) else { return };
    if no_body {
        return;
    }
    let mut place = turns.stream(stream.stream_id().as_u32(), priority);
    loop {
        match poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
            None => {
                let _ = stream.send_data(Bytes::new(), true);
                return;
            }
            Some(Err(error)) => {
                tracing::debug!(%error, "response body failed: stream reset");
                stream.send_reset(h2::Reason::INTERNAL_ERROR);
                return;
            }
            Some(Ok(frame)) => {
                let Ok(data) = frame.into_data() else { continue };
                let end = body.is_end_stream();
                let sent = send_data(&mut stream, data, end, &mut place).await;
                if let Some(entry) = entry.as_mut() {
                    entry.sent(sent.unwrap_or_else(|partly| partly));
                }
                if sent.is_err() || end {
                    return;
                }
            }
        }
    }
}

/// Sends `data` in the pieces the flow-control windows allow, each when it is the stream's
/// turn, the last with END_STREAM if `end`. Says how many bytes went out: all of them, or
/// (as the error) those before the stream failed.
async fn send_data(
    stream: &mut SendStream<Bytes>,
    mut data: Bytes,
    end: bool,
    place: &mut Place,
) -> Result<u64, u64> {
    if data.is_empty() {
        return if end { stream.send_data(data, true).map(|()| 0).map_err(|_| 0) } else { Ok(0) };
    }
    let mut sent = 0;
    while !data.is_empty() {
        place.wait().await;
        let wanted = place.piece(data.len());
        stream.reserve_capacity(wanted);
        let Some(Ok(granted)) = poll_fn(|cx| stream.poll_capacity(cx)).await else {
            return Err(sent);
        };
        if granted == 0 {
            continue;
        }
        let piece = data.split_to(granted.min(wanted));
        let length = piece.len();
        place.sent(length);
        stream.send_data(piece, end && data.is_empty()).map_err(|_| sent)?;
        sent += length as u64;
    }
    Ok(sent)
}

/// What hyper would have added to a response head: `Date`, and `Content-Length` where the
/// body's length is known. Connection-specific fields are not allowed in HTTP/2 (RFC 9113
/// §8.2.2) and are dropped.
fn complete_head(headers: &mut HeaderMap, status: StatusCode, body: &Payload) {
    for name in [header::CONNECTION, header::TRANSFER_ENCODING, header::UPGRADE] {
        headers.remove(name);
    }
    headers.remove("keep-alive");
    if !headers.contains_key(header::DATE) {
        headers.insert(header::DATE, crate::http_date::now());
    }
    let bodiless = status.is_informational() || status == StatusCode::NO_CONTENT;
    if !bodiless && !headers.contains_key(header::CONTENT_LENGTH) {
        if let Some(length) = body.size_hint().exact() {
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_gets_date_and_length_and_loses_connection_fields() {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONNECTION, HeaderValue::from_static("keep-alive"));
        headers.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        complete_head(&mut headers, StatusCode::OK, &Payload::bytes("hello"));
        assert_eq!(headers.get(header::CONTENT_LENGTH).unwrap(), "5");
        assert!(headers.contains_key(header::DATE));
        assert!(!headers.contains_key(header::CONNECTION) && !headers.contains_key("keep-alive"));
        let mut headers = HeaderMap::new();
        complete_head(&mut headers, StatusCode::NO_CONTENT, &Payload::empty());
        assert!(!headers.contains_key(header::CONTENT_LENGTH));
    }

    #[test]
    fn a_pushed_request_keeps_the_page_origin_and_its_encoding_choice() {
        let mut page = Request::new(RequestBody::Empty);
        *page.uri_mut() = "https://example.test/index.html".parse().unwrap();
        page.headers_mut().insert(header::ACCEPT_ENCODING, HeaderValue::from_static("br"));
        page.headers_mut().insert(header::COOKIE, HeaderValue::from_static("secret"));
        let pushed = promised_request(&page, "/site.css?v=2").unwrap();
        assert_eq!(pushed.uri(), "https://example.test/site.css?v=2");
        assert_eq!(pushed.method(), Method::GET);
        assert_eq!(pushed.headers().get(header::ACCEPT_ENCODING).unwrap(), "br");
        assert!(!pushed.headers().contains_key(header::COOKIE));
    }
}
