//! The origin server's tokio/hyper driver: HTTP/1.0 and 1.1 (persistent connections,
//! pipelining) and HTTP/2 (multiplexed streams), over TCP — h2c by prior knowledge, sniffed
//! from the preface — or over TLS, where ALPN picks; static files from a root with the
//! decisions of [`crate::files`], an access log in the combined format on standard output.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::server::conn::http1;
use hyper::{Method, Request, Response, StatusCode, Version};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::access_log::{Counted, Entry, LogHead};
use crate::beneath::Root;
use crate::body::Payload;
use crate::cgi::{self, CgiDir};
use crate::compression;
use crate::file_cache::FileCache;
use crate::files::conditional::{self, Conditions, Precondition};
use crate::files::encoding;
use crate::files::mime;
use crate::files::path::{self, PathError};
use crate::files::range::{self, Ranges};
use crate::files::rules::{Preload, Rule, Rules};
use crate::found::Found;
use crate::request_body::RequestBody;
use crate::sniff::{self, Prefixed, Protocol};
use crate::stats::PeerStats;
use crate::upload::{self, Permission, Uploads};

/// What the server serves and how.
#[derive(Debug, Clone)]
pub struct ServeSettings {
    /// The directory served.
    pub root: PathBuf,
    /// Addresses to listen on.
    pub listen: Vec<SocketAddr>,
    /// Connections served at once; more wait in the kernel's backlog.
    pub max_connections: usize,
    /// Time allowed for a request's headers to arrive, from their first byte (slowloris).
    pub header_timeout: Duration,
    /// Time a kept-alive connection may wait for its next request: HTTP/1 between requests,
    /// HTTP/2 with no stream open (then GOAWAY).
    pub idle_timeout: Duration,
    /// Time allowed between two pieces of a request body that is read (CGI, uploads): 408.
    pub body_timeout: Duration,
    /// Write an access log line per request to standard output.
    pub access_log: bool,
    /// PUT and DELETE under a prefix with a bearer token; `None` (the default): read-only.
    pub uploads: Option<Uploads>,
    /// CGI directories by URL prefix.
    pub cgi: Vec<CgiDir>,
    /// A CGI script silent this long (before its headers, or between writes) is killed.
    pub cgi_timeout: Duration,
    /// Per-path Cache-Control, Expires and preload links for static files.
    pub rules: Rules,
    /// Memory for copies of files compressed on the fly; 0 turns on-the-fly compression off
    /// (precompressed siblings are still served).
    pub compression_cache: usize,
    /// Memory for copies of small static files (up to 32 KiB each; larger ones are held open,
    /// up to 128), checked against the file at most once a millisecond; 0 opens and reads
    /// every file for every request.
    pub file_cache: usize,
    /// TLS on every listen address (ALPN h2, http/1.1); `None`: cleartext HTTP/1.x and h2c.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Where to count connections, requests and bytes per client address, if anywhere.
    pub peer_stats: Option<Arc<PeerStats>>,
    /// An HTML index for a directory without index.html (off: 404).
    pub listing: bool,
    /// TRACE echoes the request back (RFC 9110 §9.3.8; off: 405).
    pub trace: bool,
}

impl Default for ServeSettings {
    fn default() -> Self {
        Self {
            root: PathBuf::from("."),
            listen: Vec::new(),
            max_connections: 1024,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(60),
            access_log: true,
            uploads: None,
            cgi: Vec::new(),
            cgi_timeout: cgi::TIMEOUT,
            rules: Rules::default(),
            compression_cache: 64 << 20,
            file_cache: 64 << 20,
            tls: None,
            peer_stats: None,
            listing: false,
            trace: false,
        }
    }
}

/// A running server.
#[derive(Debug)]
pub struct RunningServer {
    local_addrs: Vec<SocketAddr>,
    stop: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    connections: TaskTracker,
}

impl RunningServer {
    /// Where it listens.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.local_addrs
    }

    /// Stops accepting, lets every request in flight finish (for up to [`SHUTDOWN_GRACE`]),
    /// and closes idle keep-alive connections instead of waiting on them.
    pub async fn shutdown(self) {
        self.stop.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
        self.connections.close();
        if tokio::time::timeout(SHUTDOWN_GRACE, self.connections.wait()).await.is_err() {
            tracing::warn!("connections still busy after {SHUTDOWN_GRACE:?}: dropped");
        }
    }
}

/// The refusal of a request that HTTP's framing rules refuse whatever it asks for: an
/// HTTP/1.1 request without exactly one `Host` (RFC 9112 §3.2: a server MUST answer 400 —
/// two could name two sites to two readers), a target in authority form other than for
/// CONNECT (`GET file.txt`), and a method nobody implements here (501, RFC 9110 §9.1; a
/// known one not allowed on a resource gets 405 further on).
fn malformed(request: &Request<RequestBody>) -> Option<Response<Payload>> {
    let hosts = request.headers().get_all(header::HOST).iter().count();
    let http1 = matches!(request.version(), Version::HTTP_10 | Version::HTTP_11);
    // HTTP/1 closes after refusing what it could not frame (HTTP/2 has no such field).
    let bad = |text: &'static str| {
        let mut refusal = plain(StatusCode::BAD_REQUEST, text);
        insert(refusal.headers_mut(), header::CONNECTION, "close");
        Some(refusal)
    };
    if hosts > 1 || (request.version() == Version::HTTP_11 && hosts == 0) {
        return bad("400 Bad Request: one Host field, please\n");
    }
    let uri = request.uri();
    let method = request.method();
    if http1 && method != Method::CONNECT && uri.scheme().is_none() && uri.authority().is_some() {
        return bad("400 Bad Request: not a path\n");
    }
    let known = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::CONNECT,
        Method::OPTIONS,
        Method::TRACE,
        Method::PATCH,
    ];
    if !known.contains(method) {
        return Some(plain(StatusCode::NOT_IMPLEMENTED, "501 Not Implemented\n"));
    }
    None
}

/// The response to a request whose body could not be had whole (see
/// [`crate::request_body::whole`]).
fn body_refused(status: StatusCode) -> Response<Payload> {
    let text = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "413 Content Too Large\n",
        StatusCode::REQUEST_TIMEOUT => "408 Request Timeout\n",
        _ => "400 Bad Request: the request body is malformed or cut short\n",
    };
    plain(status, text)
}

/// Each of `cgi`'s directories that is `root` or under it, relative to it (both resolved:
/// symlinks and `..` in either do not hide it).
fn cgi_under_root(root: &Path, cgi: &[CgiDir]) -> Vec<PathBuf> {
    let Ok(root) = root.canonicalize() else { return Vec::new() };
    cgi.iter()
        .filter_map(|dir| dir.dir.canonicalize().ok())
        .filter_map(|dir| dir.strip_prefix(&root).ok().map(Path::to_path_buf))
        .collect()
}

/// Binds every listen address and serves until shut down.
pub async fn spawn(settings: ServeSettings) -> io::Result<RunningServer> {
    let root = Root::open(&settings.root)?;
    let site = Arc::new(Site {
        root,
        access_log: settings.access_log,
        uploads: settings.uploads.clone(),
        cgi: settings.cgi.clone(),
        cgi_under_root: cgi_under_root(&settings.root, &settings.cgi),
        cgi_timeout: settings.cgi_timeout,
        body_timeout: settings.body_timeout,
        rules: settings.rules.clone(),
        compressed: (settings.compression_cache > 0)
            .then(|| compression::Cache::new(settings.compression_cache)),
        files: (settings.file_cache > 0).then(|| FileCache::new(settings.file_cache)),
        peer_stats: settings.peer_stats.clone(),
        listing: settings.listing,
        trace: settings.trace,
    });
    let permits = Arc::new(Semaphore::new(settings.max_connections));
    let stop = CancellationToken::new();
    let tracker = TaskTracker::new();
    let tls = settings.tls.clone().map(tokio_rustls::TlsAcceptor::from);
    let (mut local_addrs, mut tasks) = (Vec::new(), Vec::new());
    for addr in &settings.listen {
        let listener = TcpListener::bind(addr).await?;
        local_addrs.push(listener.local_addr()?);
        let connections = Connections {
            site: site.clone(),
            tls: tls.clone(),
            header_timeout: settings.header_timeout,
            idle_timeout: settings.idle_timeout,
            stop: stop.clone(),
            tracker: tracker.clone(),
        };
        tasks.push(tokio::spawn(accept(listener, connections, permits.clone(), stop.clone())));
    }
    if site.files.is_some() {
        tasks.push(tokio::spawn(sweep_files(site.clone(), stop.clone())));
    }
    Ok(RunningServer { local_addrs, stop, tasks, connections: tracker })
}

/// Closes the file cache's idle open files now and then, until the server stops.
async fn sweep_files(site: Arc<Site>, stop: CancellationToken) {
    let Some(files) = &site.files else { return };
    let mut ticks = tokio::time::interval(crate::file_cache::IDLE / 2);
    loop {
        tokio::select! {
            _ = ticks.tick() => files.sweep(std::time::Instant::now()),
            () = stop.cancelled() => return,
        }
    }
}

/// How long a shutdown waits for the requests in flight.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Largest request body passed to a CGI script.
const MAX_CGI_BODY: usize = 16 << 20;

/// HTTP/2 streams a client may have open at once on one connection (nginx: 128).
const MAX_STREAMS: u32 = 128;

/// What every connection on a listener shares.
#[derive(Clone)]
struct Connections {
    site: Arc<Site>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    header_timeout: Duration,
    idle_timeout: Duration,
    /// Cancelled when the server shuts down: connections finish what they are doing and close.
    stop: CancellationToken,
    /// Every connection's task, for the shutdown to wait on.
    tracker: TaskTracker,
}

async fn accept(
    listener: TcpListener,
    connections: Connections,
    permits: Arc<Semaphore>,
    stop: CancellationToken,
) {
    let Ok(local) = listener.local_addr() else { return };
    loop {
        let Ok(permit) = permits.clone().acquire_owned().await else { return };
        let Some((stream, peer)) = appnet_service::accept::next(&listener, &stop).await else {
            return;
        };
        // As nginx's tcp_nodelay (on by default): a response's last short segment goes out at
        // once, not after the client's delayed ACK of the one before.
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%peer, %error, "cannot set TCP_NODELAY");
        }
        let connections = connections.clone();
        if let Some(stats) = &connections.site.peer_stats {
            stats.connection(peer.ip());
        }
        let tracker = connections.tracker.clone();
        tracker.spawn(async move {
            if let Err(error) = connections.serve(stream, peer, local).await {
                tracing::debug!(%peer, %error, "connection ended with an error");
            }
            drop(permit);
        });
    }
}

/// How many CGI local redirects led to this request.
#[derive(Debug, Clone, Copy)]
struct LocalRedirects(u8);

/// Local redirects followed for one request at most.
const MAX_LOCAL_REDIRECTS: u8 = 5;

/// Marks a request that came over TLS (CGI's `HTTPS=on`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Secure;

/// Why a connection ended early.
pub(crate) type ConnectionError = Box<dyn std::error::Error + Send + Sync>;

impl Connections {
    /// One connection: the TLS handshake if any (within the header timeout), then HTTP/2 or
    /// HTTP/1 as ALPN says, or as the first bytes say where there is no ALPN.
    ///
    /// Each connection's task holds this future for the connection's life. With `serve_http`
    /// (hyper's HTTP/1, HTTP/2, for two stream types) inline it was 13 KiB, whatever the
    /// connection spoke; now only the cleartext HTTP/1 fast path is inline (2.2 KiB) and the
    /// rest is boxed where it starts. That took an idle HTTP/1 keep-alive connection from 11.0
    /// to 5.6 KiB of the server's memory (2,000 of them, RSS; 1.9 since `h1` also frees its
    /// buffers between requests).
    async fn serve(
        &self,
        stream: tokio::net::TcpStream,
        peer: SocketAddr,
        local: SocketAddr,
    ) -> Result<(), ConnectionError> {
        let Some(acceptor) = &self.tls else {
            return self.serve_cleartext(stream, peer, local).await;
        };
        let stream = tokio::time::timeout(self.header_timeout, acceptor.accept(stream))
            .await
            .map_err(|_| "TLS handshake timed out")??;
        let alpn = stream.get_ref().1.alpn_protocol().and_then(Protocol::from_alpn);
        let sniffed = alpn.map(|protocol| (protocol, Vec::new()));
        Box::pin(self.serve_http(stream, sniffed, peer, local)).await
    }

    /// A cleartext connection: HTTP/2 by prior knowledge, or HTTP/1 on the fast path until a
    /// request needs hyper (see [`crate::h1`]).
    async fn serve_cleartext(
        &self,
        mut stream: tokio::net::TcpStream,
        peer: SocketAddr,
        local: SocketAddr,
    ) -> Result<(), ConnectionError> {
        // Until the client sends something the connection holds no buffer.
        let sniffing = tokio::time::timeout(self.header_timeout, async {
            stream.readable().await?;
            sniff::sniff(&mut stream).await
        });
        let (protocol, read) = tokio::select! {
            sniffed = sniffing => sniffed.map_err(|_| "no request within the header timeout")??,
            // Shutting down: a connection that has sent nothing yet is closed.
            () = self.stop.cancelled() => return Ok(()),
        };
        if protocol == Protocol::Http2 {
            return Box::pin(self.serve_http(stream, Some((protocol, read)), peer, local)).await;
        }
        let site = &self.site;
        let timeouts = crate::h1::Timeouts { header: self.header_timeout, idle: self.idle_timeout };
        let stop = &self.stop;
        match crate::h1::serve(&mut stream, read, site, timeouts, stop, peer, local).await? {
            crate::h1::Ended::Done => Ok(()),
            crate::h1::Ended::HandOver(read) => {
                let sniffed = Some((Protocol::Http1, read));
                Box::pin(self.serve_http(stream, sniffed, peer, local)).await
            }
        }
    }

    /// Serves `io` with hyper (HTTP/1) or `h2`: `sniffed` is the protocol when already known
    /// (from ALPN, or the cleartext path's look at the first bytes) with the bytes read to
    /// tell it, which are read again first; without it the first bytes are looked at here.
    async fn serve_http<I>(
        &self,
        mut io: I,
        sniffed: Option<(Protocol, Vec<u8>)>,
        peer: SocketAddr,
        local: SocketAddr,
    ) -> Result<(), ConnectionError>
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (protocol, prefix) = match sniffed {
            Some(sniffed) => sniffed,
            None => tokio::time::timeout(self.header_timeout, sniff::sniff(&mut io))
                .await
                .map_err(|_| "no request within the header timeout")??,
        };
        let io = Prefixed::new(prefix, io);
        let site = self.site.clone();
        let secure = self.tls.is_some();
        // Whether a request came with a body: its rest may still be on the way when the
        // connection ends (a refusal sent unread), even if none is waiting at that instant.
        let had_body = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let saw_body = had_body.clone();
        let service = hyper::service::service_fn(move |request: Request<Incoming>| {
            let site = site.clone();
            if !hyper::body::Body::is_end_stream(request.body()) {
                saw_body.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            let mut request = request.map(RequestBody::Http1);
            if secure {
                request.extensions_mut().insert(Secure);
            }
            // Boxed: HTTP/1 takes the socket back at the end (below), which hyper allows only
            // for a service whose future is `Unpin`.
            Box::pin(async move {
                let (response, entry) = site.respond(request, peer, local).await;
                Ok::<_, Infallible>(response.map(|body| Counted::new(body, entry)))
            })
        });
        match protocol {
            Protocol::Http1 => {
                let io = TokioIo::new(io);
                let mut connection = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(self.header_timeout)
                    // Request heads over 16 KiB or 100 header fields are refused (431), as
                    // nginx's large_client_header_buffers default (4 x 8 KiB) roughly does.
                    .max_header_size(16 * 1024)
                    .max_headers(100)
                    .max_buf_size(64 * 1024)
                    .serve_connection(io, service);
                // Run without hyper's own shutdown of the socket, so that it can be closed in
                // stages when the client is still sending: a body refused with 413, 401 or
                // 405 before it was read, say (hyper closed at once, and the rest of the body
                // drew a reset).
                let mut done = std::future::poll_fn(|cx| connection.poll_without_shutdown(cx));
                let ended = tokio::select! {
                    ended = &mut done => ended,
                    () = self.stop.cancelled() => {
                        drop(done);
                        // The response in progress finishes; then the connection closes.
                        std::pin::Pin::new(&mut connection).graceful_shutdown();
                        std::future::poll_fn(|cx| connection.poll_without_shutdown(cx)).await
                    }
                };
                let parts = connection.into_parts();
                // hyper answers a head it cannot parse itself (400, 414, 431) without asking
                // the service: its line goes in the access log here, as nginx logs those.
                if let Some(status) = ended.as_ref().err().and_then(refused_status) {
                    if self.site.access_log {
                        drop(Entry::new(LogHead::unparsed(&parts.read_buf, peer), status));
                    }
                }
                let unread = !parts.read_buf.is_empty()
                    || had_body.load(std::sync::atomic::Ordering::Relaxed);
                crate::linger::close(&mut parts.io.into_inner(), unread).await;
                ended?;
            }
            Protocol::Http2 => {
                let limits = crate::h2::Limits {
                    max_streams: MAX_STREAMS,
                    // The same 16 KiB bound on a request's header list as for HTTP/1.
                    max_header_list: 16 * 1024,
                    handshake_timeout: self.header_timeout,
                    idle_timeout: self.idle_timeout,
                    secure: self.tls.is_some(),
                };
                let stop = self.stop.clone();
                crate::h2::serve(io, self.site.clone(), limits, stop, peer, local).await?;
            }
        }
        Ok(())
    }
}

/// The status of the reply hyper sends on its own for `error`, a request head it could not
/// parse (hyper's `on_error`: 400, 414 for a URI too long, 431 for a head too large); `None`
/// when it sends none.
fn refused_status(error: &hyper::Error) -> Option<StatusCode> {
    if !error.is_parse() || error.is_parse_status() || error.is_parse_version_h2() {
        return None;
    }
    // hyper has no predicate telling its internal parse error from the others, nor 414 from
    // 431 (`is_parse_too_large` covers both): its message is all there is to go on.
    let said = error.to_string();
    if said.contains("internal error") {
        return None;
    }
    if error.is_parse_too_large() {
        return Some(if said.contains("URI too long") {
            StatusCode::URI_TOO_LONG
        } else {
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
        });
    }
    Some(StatusCode::BAD_REQUEST)
}

/// The directory served.
#[derive(Debug)]
pub(crate) struct Site {
    root: Root,
    access_log: bool,
    uploads: Option<Uploads>,
    cgi: Vec<CgiDir>,
    /// The CGI directories that lie under the root, relative to it: never served as files.
    cgi_under_root: Vec<PathBuf>,
    cgi_timeout: Duration,
    body_timeout: Duration,
    rules: Rules,
    compressed: Option<compression::Cache>,
    files: Option<FileCache>,
    peer_stats: Option<Arc<PeerStats>>,
    listing: bool,
    trace: bool,
}

const SERVER: &str = concat!("appnet/", env!("CARGO_PKG_VERSION"));

impl Site {
    /// The resources the first rule for `path` declares for preloading.
    pub(crate) fn preloads(&self, path: &str) -> Vec<Preload> {
        self.rules.for_path(path).map_or_else(Vec::new, Rule::preloads)
    }

    /// The response to `request`, logged and counted.
    pub(crate) fn respond(
        &self,
        request: Request<RequestBody>,
        peer: SocketAddr,
        local: SocketAddr,
    ) -> impl Future<Output = (Response<Payload>, Option<Entry>)> + Send + '_ {
        // Not an async fn of its own: its state would hold the request a second time.
        self.respond_as(request, peer, local, true)
    }

    /// The response to `request`, by whichever handler takes it, and its access-log entry for
    /// the writer to complete; `logged`: logged and counted per peer (a CGI local redirect's
    /// request is neither, as in nginx).
    async fn respond_as(
        &self,
        request: Request<RequestBody>,
        peer: SocketAddr,
        local: SocketAddr,
        logged: bool,
    ) -> (Response<Payload>, Option<Entry>) {
        let head = (logged && self.access_log).then(|| LogHead::of(&request, peer));
        let response = if let Some(refusal) = malformed(&request) {
            refusal
        } else if let Some((dir, script, info)) = self.cgi_for(request.uri().path()) {
            // Boxed, as the uploads and on-the-fly compression below: these rare paths' futures
            // are large, and HTTP/2 moves this one into a task per stream.
            Box::pin(self.run_cgi(request, dir, &script, &info, peer, local)).await
        } else if matches!(*request.method(), Method::PUT | Method::DELETE)
            && self.uploads.is_some()
        {
            Box::pin(self.write(request)).await
        } else {
            self.handle(&request).await
        };
        if let Some(stats) = self.peer_stats.as_ref().filter(|_| logged) {
            let bytes = hyper::body::Body::size_hint(response.body()).exact().unwrap_or(0);
            stats.response(peer.ip(), bytes);
        }
        let entry = head.map(|head| Entry::new(head, response.status()));
        (response, entry)
    }

    /// The CGI directory whose prefix `path` is under, the script's name and PATH_INFO.
    fn cgi_for(&self, path: &str) -> Option<(&CgiDir, String, String)> {
        if self.cgi.is_empty() {
            return None;
        }
        let path = cgi::normalized(path)?;
        self.cgi.iter().find_map(|dir| {
            dir.split(&path).map(|(script, info)| (dir, script.to_owned(), info.to_owned()))
        })
    }

    /// Runs a CGI script for `request` (RFC 3875).
    async fn run_cgi(
        &self,
        request: Request<RequestBody>,
        dir: &CgiDir,
        script: &str,
        info: &str,
        peer: SocketAddr,
        local: SocketAddr,
    ) -> Response<Payload> {
        let (parts, body) = request.into_parts();
        let body = match crate::request_body::whole(body, MAX_CGI_BODY, self.body_timeout).await {
            Ok(body) => body,
            Err(status) => return body_refused(status),
        };
        let headers = parts
            .headers
            .iter()
            .filter_map(|(name, value)| {
                Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
            })
            .collect();
        let secure = parts.extensions.get::<Secure>().is_some();
        // The name the client asked for (Host, or HTTP/2's :authority), as nginx's
        // $server_name falls back to $host and Apache's SERVER_NAME follows the request.
        let asked = parts.headers.get(header::HOST).and_then(|h| h.to_str().ok());
        let authority = asked.or_else(|| parts.uri.authority().map(|a| a.as_str()));
        let server_name = authority
            .and_then(|a| a.parse::<hyper::http::uri::Authority>().ok())
            .map_or_else(|| local.ip().to_string(), |a| a.host().to_owned());
        let path_translated = (!info.is_empty()).then(|| {
            let relative = info.trim_start_matches('/');
            self.root.path().join(relative).display().to_string()
        });
        let cgi_request = cgi::CgiRequest {
            method: parts.method.as_str(),
            script_name: format!("{}{script}", dir.prefix),
            server_name,
            secure,
            request_uri: parts.uri.path_and_query().map_or("/", |p| p.as_str()),
            document_root: self.root.path(),
            path_translated,
            path_info: info,
            query: parts.uri.query().unwrap_or(""),
            peer,
            local,
            // As nginx and Apache set SERVER_PROTOCOL.
            protocol: match parts.version {
                Version::HTTP_10 => "HTTP/1.0",
                Version::HTTP_2 => "HTTP/2.0",
                _ => "HTTP/1.1",
            },
            headers,
            body: &body,
        };
        match cgi::run(&dir.dir, script, &cgi_request, self.cgi_timeout).await {
            Ok(cgi::CgiOutput { local_redirect: Some(path), .. }) => {
                // As if the client had asked for `path` (RFC 3875 §6.2.2); a chain of them
                // ends after a few.
                let depth = parts.extensions.get::<LocalRedirects>().map_or(0, |d| d.0);
                if depth >= MAX_LOCAL_REDIRECTS {
                    return plain(StatusCode::INTERNAL_SERVER_ERROR, "500: local redirect loop\n");
                }
                let Ok(uri) = path.parse::<hyper::Uri>() else {
                    return plain(StatusCode::BAD_GATEWAY, "502 Bad Gateway: bad Location\n");
                };
                let mut again = Request::new(RequestBody::Empty);
                *again.uri_mut() = uri;
                *again.version_mut() = parts.version;
                *again.headers_mut() = parts.headers.clone();
                again.headers_mut().remove(header::CONTENT_LENGTH);
                again.headers_mut().remove(header::CONTENT_TYPE);
                again.extensions_mut().insert(LocalRedirects(depth + 1));
                if secure {
                    again.extensions_mut().insert(Secure);
                }
                Box::pin(self.respond_as(again, peer, local, false)).await.0
            }
            Ok(output) => {
                let mut response = Response::new(Payload::Script(Box::new(output.body)));
                *response.status_mut() =
                    StatusCode::from_u16(output.status).unwrap_or(StatusCode::OK);
                // HTTP/1 sends the script's own phrase (hyper's path and ours read this);
                // HTTP/2 has none. One that is not valid field text is left out.
                let reason = output.reason.map(hyper::ext::ReasonPhrase::try_from);
                if let Some(Ok(reason)) = reason {
                    response.extensions_mut().insert(reason);
                }
                for (name, value) in output.headers {
                    let hop_by_hop =
                        ["connection", "transfer-encoding", "content-length", "keep-alive"];
                    if hop_by_hop.iter().any(|h| name.eq_ignore_ascii_case(h)) {
                        continue;
                    }
                    let name = header::HeaderName::from_bytes(name.as_bytes());
                    if let (Ok(name), Ok(value)) = (name, HeaderValue::from_str(&value)) {
                        response.headers_mut().append(name, value);
                    }
                }
                if !response.headers().contains_key(header::SERVER) {
                    response.headers_mut().insert(header::SERVER, HeaderValue::from_static(SERVER));
                }
                response
            }
            Err(cgi::CgiError::Spawn(e)) if e.kind() == io::ErrorKind::NotFound => {
                plain(StatusCode::NOT_FOUND, "404 Not Found\n")
            }
            Err(cgi::CgiError::Spawn(_)) => plain(StatusCode::FORBIDDEN, "403 Forbidden\n"),
            Err(cgi::CgiError::Timeout(_)) => {
                plain(StatusCode::GATEWAY_TIMEOUT, "504 Gateway Timeout\n")
            }
            Err(_) => plain(StatusCode::BAD_GATEWAY, "502 Bad Gateway\n"),
        }
    }

    /// The methods this site answers.
    fn allow(&self) -> HeaderValue {
        HeaderValue::from_static(match (self.uploads.is_some(), self.trace) {
            (true, true) => "GET, HEAD, OPTIONS, PUT, DELETE, TRACE",
            (true, false) => "GET, HEAD, OPTIONS, PUT, DELETE",
            (false, true) => "GET, HEAD, OPTIONS, TRACE",
            (false, false) => "GET, HEAD, OPTIONS",
        })
    }

    /// PUT or DELETE under the writable prefix, with the token.
    async fn write(&self, request: Request<RequestBody>) -> Response<Payload> {
        let Some(uploads) = &self.uploads else {
            return plain(StatusCode::METHOD_NOT_ALLOWED, "405 Method Not Allowed\n");
        };
        let path = request.uri().path().to_owned();
        let authorization =
            request.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        match uploads.permits(&path, authorization) {
            Permission::Allowed => {}
            Permission::NotHere => {
                let mut response =
                    plain(StatusCode::METHOD_NOT_ALLOWED, "405 Method Not Allowed\n");
                response
                    .headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD, OPTIONS"));
                return response;
            }
            Permission::Unauthenticated => {
                let mut response = plain(StatusCode::UNAUTHORIZED, "401 Unauthorized\n");
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                return response;
            }
            Permission::Forbidden => return plain(StatusCode::FORBIDDEN, "403 Forbidden\n"),
        }
        let relative = match path::under_root(Path::new(""), &path) {
            Ok(relative) if !relative.as_os_str().is_empty() => relative,
            Ok(_) | Err(PathError::Malformed) => {
                return plain(StatusCode::BAD_REQUEST, "400 Bad Request\n");
            }
            Err(_) => return plain(StatusCode::FORBIDDEN, "403 Forbidden\n"),
        };
        // What this server changes it must not serve from an older copy, even for RECHECK.
        let forget = || self.files.as_ref().inspect(|files| files.forget(&relative));
        if request.method() == Method::DELETE {
            let removed = upload::remove(self.root.path(), &relative);
            forget();
            return match removed {
                Ok(()) => plain(StatusCode::NO_CONTENT, ""),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    plain(StatusCode::NOT_FOUND, "404 Not Found\n")
                }
                Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                    plain(StatusCode::FORBIDDEN, "403 Forbidden\n")
                }
                Err(_) => plain(StatusCode::INTERNAL_SERVER_ERROR, "500 Internal Server Error\n"),
            };
        }
        let limit = usize::try_from(uploads.max_body).unwrap_or(usize::MAX);
        let body =
            match crate::request_body::whole(request.into_body(), limit, self.body_timeout).await {
                Ok(body) => body,
                Err(status) => return body_refused(status),
            };
        let stored = upload::store(self.root.path(), &relative, &body);
        forget();
        match stored {
            Ok(true) => {
                let mut response = plain(StatusCode::CREATED, "201 Created\n");
                if let Ok(location) = HeaderValue::from_str(&path) {
                    response.headers_mut().insert(header::LOCATION, location);
                }
                response
            }
            Ok(false) => plain(StatusCode::NO_CONTENT, ""),
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                plain(StatusCode::FORBIDDEN, "403 Forbidden\n")
            }
            Err(_) => plain(StatusCode::INTERNAL_SERVER_ERROR, "500 Internal Server Error\n"),
        }
    }

    async fn handle(&self, request: &Request<RequestBody>) -> Response<Payload> {
        let method = request.method();
        if method == Method::OPTIONS {
            let mut response = plain(StatusCode::NO_CONTENT, "");
            response.headers_mut().insert(header::ALLOW, self.allow());
            return response;
        }
        if method == Method::TRACE && self.trace {
            return trace_echo(request);
        }
        if method != Method::GET && method != Method::HEAD {
            let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, "405 Method Not Allowed\n");
            response.headers_mut().insert(header::ALLOW, self.allow());
            return response;
        }
        let target = request.uri().path_and_query().map_or("/", |p| p.as_str());
        let file = match path::under_root(Path::new(""), target) {
            Ok(file) => file,
            Err(PathError::Malformed) => {
                return plain(StatusCode::BAD_REQUEST, "400 Bad Request\n");
            }
            Err(_) => return plain(StatusCode::FORBIDDEN, "403 Forbidden\n"),
        };
        if self.cgi_under_root.iter().any(|dir| file.starts_with(dir)) {
            // A script's file is run, never sent (nginx and Apache refuse the same way).
            return plain(StatusCode::FORBIDDEN, "403 Forbidden\n");
        }
        let mut response = self.serve_file(request, &file).await;
        self.apply_rules(request.uri().path(), &mut response);
        if method == Method::HEAD {
            // The headers a GET would get, Content-Length included; no body.
            let length = hyper::body::Body::size_hint(response.body()).exact().unwrap_or(0);
            let (mut parts, _) = response.into_parts();
            parts.headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
            return Response::from_parts(parts, Payload::empty());
        }
        response
    }

    /// The HTML index of `directory` (relative to the root) at URL `path`, read on a blocking
    /// thread (a directory may hold thousands of entries). Entries are not followed: a
    /// symlink is listed as itself, and whatever it points to is checked when asked for.
    async fn listing(&self, directory: &Path, path: &str) -> Response<Payload> {
        let relative = if directory.as_os_str().is_empty() { Path::new(".") } else { directory };
        let Ok(opened) = self.root.open_file(relative) else {
            return plain(StatusCode::NOT_FOUND, "404 Not Found\n");
        };
        let read = tokio::task::spawn_blocking(move || list_entries(&opened)).await;
        let Ok(Ok(entries)) = read else {
            return plain(StatusCode::FORBIDDEN, "403 Forbidden\n");
        };
        let shown = path::percent_decode(path).unwrap_or_else(|_| path.to_owned());
        let html = crate::files::listing::page(&shown, entries);
        let mut response = Response::new(Payload::bytes(Bytes::from(html)));
        insert(response.headers_mut(), header::CONTENT_TYPE, "text/html; charset=utf-8");
        response
    }

    /// The first rule for `path`, on the responses nginx's `expires` covers: a Cache-Control
    /// or Expires already there (none are, for files) is kept.
    fn apply_rules(&self, path: &str, response: &mut Response<Payload>) {
        let covered = matches!(response.status().as_u16(), 200 | 204 | 206 | 301 | 302 | 304);
        let Some(rule) = self.rules.for_path(path).filter(|_| covered) else { return };
        let headers = response.headers_mut();
        for (name, value) in rule.headers(SystemTime::now()) {
            let Ok(value) = HeaderValue::from_str(&value) else { continue };
            let name = header::HeaderName::from_static(name);
            if name == header::LINK {
                headers.append(name, value);
            } else if !headers.contains_key(&name) {
                headers.insert(name, value);
            }
        }
    }

    /// `file` is relative to the root; the kernel keeps it inside (see [`Root`]).
    /// Opens `file` under the root: the file and its metadata, or the error response.
    /// A file that has not changed comes from the file cache (see [`FileCache`]).
    fn open(&self, file: &Path) -> Result<Found, StatusCode> {
        let relative = if file.as_os_str().is_empty() { Path::new(".") } else { file };
        let now = std::time::Instant::now();
        let files = self.files.as_ref();
        if let Some(kept) = files.and_then(|files| files.get(&self.root, relative, now)) {
            return Ok(Found::kept(kept));
        }
        let opened = self.root.open_file(relative).map_err(|error| match error.kind() {
            io::ErrorKind::PermissionDenied => StatusCode::FORBIDDEN,
            _ => StatusCode::NOT_FOUND,
        })?;
        let metadata = opened.metadata().map_err(|_| StatusCode::NOT_FOUND)?;
        let opened = Arc::new(opened);
        let kept = files.and_then(|files| {
            files.keep(&self.root, relative, &opened, &metadata, SystemTime::now(), now)
        });
        Ok(kept.map_or_else(|| Found::disk(opened, &metadata), Found::kept))
    }

    async fn serve_file(&self, request: &Request<RequestBody>, file: &Path) -> Response<Payload> {
        let mut found = match self.open(file) {
            Ok(found) => found,
            Err(StatusCode::FORBIDDEN) => return plain(StatusCode::FORBIDDEN, "403 Forbidden\n"),
            Err(_) => return plain(StatusCode::NOT_FOUND, "404 Not Found\n"),
        };
        let mut file = file.to_path_buf();
        if found.identity.is_dir() {
            let path = request.uri().path();
            if !path.ends_with('/') {
                let mut response = plain(StatusCode::MOVED_PERMANENTLY, "301 Moved Permanently\n");
                if let Ok(location) = HeaderValue::from_str(&format!("{path}/")) {
                    response.headers_mut().insert(header::LOCATION, location);
                }
                return response;
            }
            let directory = file.clone();
            file.push("index.html");
            match self.open(&file) {
                Ok(index) if index.identity.is_file() => found = index,
                // Directory listings are off by default.
                _ if self.listing => return self.listing(&directory, path).await,
                _ => return plain(StatusCode::NOT_FOUND, "404 Not Found\n"),
            }
        }
        if !found.identity.is_file() {
            return plain(StatusCode::FORBIDDEN, "403 Forbidden\n");
        }
        // A precompressed sibling (file.br, .zst, .gz) in the best coding the client takes.
        let content_type = mime::for_name(&file.to_string_lossy());
        let compressible = !encoding::already_compressed(content_type);
        let mut coding = None;
        if compressible {
            let accept =
                request.headers().get(header::ACCEPT_ENCODING).and_then(|v| v.to_str().ok());
            for candidate in encoding::acceptable(accept) {
                let mut sibling = file.clone().into_os_string();
                sibling.push(candidate.suffix());
                if let Ok(encoded) = self.open(Path::new(&sibling)) {
                    if encoded.identity.is_file() {
                        (found, coding) = (encoded, Some(candidate));
                        break;
                    }
                }
            }
        }
        // No sibling: compress on the fly (and keep the copy), unless a range is asked for —
        // ranges are served from the file as it is, as nginx's gzip module does.
        let on_the_fly = coding.is_none()
            && compressible
            && compression::worth_compressing(content_type)
            && (compression::MIN_SIZE..=compression::MAX_SIZE).contains(&found.identity.len())
            && !request.headers().contains_key(header::RANGE);
        if let (true, Some(cache)) = (on_the_fly, &self.compressed) {
            let accept =
                request.headers().get(header::ACCEPT_ENCODING).and_then(|v| v.to_str().ok());
            if let Some(&coding) = encoding::acceptable(accept).first() {
                return Box::pin(serve_compressed(cache, request, found, coding, content_type))
                    .await;
            }
        }
        let modified = found.identity.modified();
        let length = found.identity.len();
        let etag = found.etag().into_owned();
        let last_modified = found.last_modified().into_owned();
        let headers = request.headers();
        let get = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
        if let Some(answered) =
            preconditions(request, &etag, modified, &last_modified, compressible)
        {
            return answered;
        }
        let range_header = get(header::RANGE).filter(|_| {
            get(header::IF_RANGE)
                .is_none_or(|if_range| conditional::if_range_holds(if_range, &etag, modified))
        });
        let ranges = range::parse(range_header, length);
        let mut response = match ranges {
            Ranges::Whole => {
                let Ok(body) = found.body(0, length) else {
                    return plain(StatusCode::INTERNAL_SERVER_ERROR, "500 Internal Server Error\n");
                };
                let mut response = Response::new(body);
                insert(response.headers_mut(), header::CONTENT_TYPE, content_type);
                response
            }
            Ranges::Unsatisfiable => {
                let mut response =
                    plain(StatusCode::RANGE_NOT_SATISFIABLE, "416 Range Not Satisfiable\n");
                insert(response.headers_mut(), header::CONTENT_RANGE, &format!("bytes */{length}"));
                response
            }
            Ranges::Parts(parts) if parts.len() == 1 => {
                let (first, last) = parts[0];
                let Ok(body) = found.body(first, last - first + 1) else {
                    return plain(StatusCode::INTERNAL_SERVER_ERROR, "500 Internal Server Error\n");
                };
                let mut response = Response::new(body);
                *response.status_mut() = StatusCode::PARTIAL_CONTENT;
                insert(response.headers_mut(), header::CONTENT_TYPE, content_type);
                insert(
                    response.headers_mut(),
                    header::CONTENT_RANGE,
                    &format!("bytes {first}-{last}/{length}"),
                );
                response
            }
            Ranges::Parts(parts) => match found.read_parts(&parts) {
                Ok(pieces) => multipart(&pieces, &parts, length, content_type),
                Err(_) => {
                    return plain(StatusCode::INTERNAL_SERVER_ERROR, "500 Internal Server Error\n");
                }
            },
        };
        insert(response.headers_mut(), header::ACCEPT_RANGES, "bytes");
        if compressible {
            insert(response.headers_mut(), header::VARY, "Accept-Encoding");
        }
        if let Some(coding) = coding {
            insert(response.headers_mut(), header::CONTENT_ENCODING, coding.token());
        }
        validators(&mut response, &etag, &last_modified);
        response
    }
}

/// The 304 or 412 that `request`'s preconditions call for against a representation with
/// `etag` and `modified` (RFC 9110 §13.2.2), or `None` to go on. `varies`: the 200 would say
/// `Vary: Accept-Encoding`, which a 304 must repeat (RFC 9110 §15.4.5), or a cache that
/// refreshes its stored response with the 304's fields could stop keying it on the coding.
fn preconditions(
    request: &Request<RequestBody>,
    etag: &str,
    modified: SystemTime,
    last_modified: &str,
    varies: bool,
) -> Option<Response<Payload>> {
    let headers = request.headers();
    let get = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    let conditions = Conditions {
        if_match: get(header::IF_MATCH),
        if_none_match: get(header::IF_NONE_MATCH),
        if_modified_since: get(header::IF_MODIFIED_SINCE),
        if_unmodified_since: get(header::IF_UNMODIFIED_SINCE),
    };
    match conditional::evaluate(&conditions, etag, modified, true) {
        Precondition::Proceed => None,
        Precondition::NotModified => {
            let mut response = plain(StatusCode::NOT_MODIFIED, "");
            response.headers_mut().remove(header::CONTENT_TYPE);
            if varies {
                insert(response.headers_mut(), header::VARY, "Accept-Encoding");
            }
            validators(&mut response, etag, last_modified);
            Some(response)
        }
        Precondition::Failed => {
            Some(plain(StatusCode::PRECONDITION_FAILED, "412 Precondition Failed\n"))
        }
    }
}

/// ETag and Last-Modified.
fn validators(response: &mut Response<Payload>, etag: &str, last_modified: &str) {
    let headers = response.headers_mut();
    insert(headers, header::ETAG, etag);
    insert(headers, header::LAST_MODIFIED, last_modified);
}

/// `opened` in `coding`, from the cache or compressed now (off the async threads) and kept.
/// The representation has its own strong ETag: the file's with the coding appended.
async fn serve_compressed(
    cache: &compression::Cache,
    request: &Request<RequestBody>,
    found: Found,
    coding: encoding::Coding,
    content_type: &str,
) -> Response<Payload> {
    let modified = found.identity.modified();
    let last_modified = found.last_modified().into_owned();
    let etag = format!("{}-{}\"", found.etag().trim_end_matches('"'), coding.token());
    if let Some(answered) = preconditions(request, &etag, modified, &last_modified, true) {
        return answered;
    }
    let key = compression::Key::new(&found.identity, coding);
    let body = match cache.get(&key) {
        Some(body) => body,
        None => {
            let made = tokio::task::spawn_blocking(move || {
                compression::compress(&found.read_all()?, coding)
            })
            .await;
            let Ok(Ok(compressed)) = made else {
                return plain(StatusCode::INTERNAL_SERVER_ERROR, "500 Internal Server Error\n");
            };
            let body = Bytes::from(compressed);
            cache.insert(key, body.clone());
            body
        }
    };
    let mut response = Response::new(Payload::bytes(body));
    let headers = response.headers_mut();
    insert(headers, header::CONTENT_TYPE, content_type);
    insert(headers, header::CONTENT_ENCODING, coding.token());
    insert(headers, header::VARY, "Accept-Encoding");
    validators(&mut response, &etag, &last_modified);
    response
}

/// 206 with a `multipart/byteranges` body, one part per range (RFC 9110 §14.6).
fn multipart(
    pieces: &[Bytes],
    parts: &[(u64, u64)],
    length: u64,
    content_type: &str,
) -> Response<Payload> {
    let pieces: Vec<&[u8]> = pieces.iter().map(|piece| &piece[..]).collect();
    let body = range::multipart_body(&pieces, parts, length, content_type);
    let mut response = Response::new(Payload::bytes(body));
    *response.status_mut() = StatusCode::PARTIAL_CONTENT;
    insert(response.headers_mut(), header::CONTENT_TYPE, range::MULTIPART_TYPE);
    response
}

/// The entries of the open directory `dir` (names that are not UTF-8 left out: they could
/// not be linked to), at most [`READ_AT_MOST`].
fn list_entries(dir: &std::fs::File) -> io::Result<Vec<crate::files::listing::Entry>> {
    use std::os::fd::AsRawFd;
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(format!("/proc/self/fd/{}", dir.as_raw_fd()))? {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else { continue };
        let Ok(metadata) = entry.metadata() else { continue };
        entries.push(crate::files::listing::Entry {
            name,
            is_dir: metadata.is_dir(),
            size: metadata.len(),
            modified: metadata.modified().ok(),
        });
        if entries.len() >= READ_AT_MOST {
            break;
        }
    }
    Ok(entries)
}

/// Entries of one directory read for its index at most, bounding the work a request can ask
/// for; the index shows the first [`crate::files::listing::MAX_ENTRIES`] of them.
const READ_AT_MOST: usize = 100_000;

/// The request as it arrived, for TRACE (RFC 9110 §9.3.8): its line and fields, less those
/// likely to hold credentials (the RFC's advice), as `message/http`.
fn trace_echo(request: &Request<RequestBody>) -> Response<Payload> {
    let target = request.uri().path_and_query().map_or("/", |p| p.as_str());
    let mut echo = format!("TRACE {target} {:?}\r\n", request.version());
    for (name, value) in request.headers() {
        if [header::AUTHORIZATION, header::PROXY_AUTHORIZATION, header::COOKIE].contains(name) {
            continue;
        }
        echo.push_str(name.as_str());
        echo.push_str(": ");
        echo.push_str(&String::from_utf8_lossy(value.as_bytes()));
        echo.push_str("\r\n");
    }
    echo.push_str("\r\n");
    let mut response = Response::new(Payload::bytes(Bytes::from(echo)));
    insert(response.headers_mut(), header::CONTENT_TYPE, "message/http");
    response
}

fn plain(status: StatusCode, text: &'static str) -> Response<Payload> {
    let mut response = Response::new(Payload::bytes(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    insert(response.headers_mut(), header::CONTENT_TYPE, "text/plain; charset=utf-8");
    insert(response.headers_mut(), header::SERVER, SERVER);
    response
}

fn insert(headers: &mut HeaderMap, name: header::HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(name, value);
    }
    if !headers.contains_key(header::SERVER) {
        headers.insert(header::SERVER, HeaderValue::from_static(SERVER));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A site with every option off, serving `root`.
    fn bare_site(root: &Path) -> Site {
        Site {
            root: Root::open(root).unwrap(),
            access_log: false,
            uploads: None,
            cgi: Vec::new(),
            cgi_under_root: Vec::new(),
            cgi_timeout: Duration::from_secs(1),
            body_timeout: Duration::from_secs(1),
            rules: Rules::default(),
            compressed: None,
            files: None,
            peer_stats: None,
            listing: false,
            trace: false,
        }
    }

    /// HTTP/2 spawns a task per stream holding this future, so its size is copied per request
    /// (twice: into the task, and its output); the rare, large paths (CGI, uploads, on-the-fly
    /// compression) are boxed to keep it small.
    #[test]
    fn the_response_future_stays_small() {
        let dir = tempfile::tempdir().unwrap();
        let site = bare_site(dir.path());
        let addr: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let future = site.respond(Request::new(RequestBody::Empty), addr, addr);
        let size = size_of_val(&future);
        eprintln!("respond future: {size} bytes");
        assert!(size <= 1536, "{size} bytes (6464 before the boxing)");
    }

    /// A connection's task holds this future for as long as the connection is open, idle
    /// keep-alive connections included: only the cleartext HTTP/1 fast path is inline.
    #[tokio::test]
    async fn the_connection_future_stays_small() {
        let dir = tempfile::tempdir().unwrap();
        let site = bare_site(dir.path());
        let connections = Connections {
            site: Arc::new(site),
            tls: None,
            header_timeout: Duration::from_secs(1),
            idle_timeout: Duration::from_secs(1),
            stop: CancellationToken::new(),
            tracker: TaskTracker::new(),
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let future = connections.serve(stream, addr, addr);
        let size = size_of_val(&future);
        eprintln!("connection future: {size} bytes");
        assert!(size <= 4096, "{size} bytes (13 KiB with serve_http inline)");
    }
}
