//! Connections the loader opens: DNS, TCP, TLS (rustls, ALPN) and the HTTP handshake, each
//! timed, and the request sender that results.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use http_body_util::Empty;
use hyper::body::Bytes;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use tokio::net::TcpStream;
use url::Url;

use super::LoadError;

/// Where the system's trusted certificates are on Debian (package ca-certificates).
const SYSTEM_ROOTS: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Which servers' certificates to believe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// The system's roots.
    System,
    /// The certificates in this PEM file (e.g. a self-signed server's).
    CaFile(PathBuf),
    /// Any certificate (`--insecure`, as curl -k): signatures are still checked, names and
    /// chains are not.
    Insecure,
}

/// A host to connect to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    /// `https`.
    pub tls: bool,
    /// The host name or address literal.
    pub host: String,
    /// The port.
    pub port: u16,
}

impl Origin {
    /// The origin of `url`.
    pub fn of(url: &Url) -> Result<Self, LoadError> {
        let host = url.host_str().ok_or_else(|| LoadError::new(format!("{url}: no host")))?;
        let port =
            url.port_or_known_default().ok_or_else(|| LoadError::new(format!("{url}: no port")))?;
        let host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
        Ok(Self { tls: url.scheme() == "https", host, port })
    }
}

/// The way requests go on an open connection.
pub enum Sender {
    /// HTTP/1.x: one request at a time.
    Http1(Http1),
    /// HTTP/2: any number at once (the sender clones).
    Http2(Http2),
}

/// The receive windows the loader announces, Chromium's: 6 MiB per stream, 15 MiB for the
/// connection, so a page's responses are not held back waiting for WINDOW_UPDATEs (the
/// protocol's 64 KiB default stalls a loopback transfer every 64 KiB).
const STREAM_WINDOW: u32 = 6 << 20;
const CONNECTION_WINDOW: u32 = 15 << 20;

/// An HTTP/2 connection, spoken with the `h2` crate directly rather than through hyper's
/// client: a request is queued on the connection the moment it is made, by whoever makes it,
/// so the loader puts every request a document revealed on the wire in one write, before any
/// request task has run (through hyper each went by way of its task, then a channel to the
/// connection's task). The connection itself runs in a task of its own.
#[derive(Clone)]
pub struct Http2 {
    sender: h2::client::SendRequest<Bytes>,
    closed: Arc<std::sync::atomic::AtomicBool>,
}

impl Http2 {
    /// Queues `request` (no body) for sending; its response comes through the future.
    pub fn send(
        &self,
        request: hyper::Request<()>,
    ) -> Result<h2::client::ResponseFuture, h2::Error> {
        // A clone per request: `h2` refuses a second request on one handle while its first
        // waits for a stream slot (the server's MAX_CONCURRENT_STREAMS); queued, each waits
        // its turn in the connection, as a browser's would.
        let mut sender = self.sender.clone();
        sender.send_request(request, true).map(|(response, _)| response)
    }

    /// Whether the connection has ended (the server went away or sent GOAWAY).
    pub fn is_closed(&self) -> bool {
        self.closed.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// An HTTP/1 connection whose I/O is driven by the task using it ([`Http1Io::drive`]) rather
/// than a task of its own: each request then cost two hand-overs between tasks less (its
/// request to the connection's task, the response back), which were most of the loader's
/// time between a response and the next request in persistent mode.
pub struct Http1 {
    /// Where requests go.
    pub sender: http1::SendRequest<Empty<Bytes>>,
    /// The connection's I/O.
    pub io: Http1Io,
    /// The last response said the server closes the connection after it.
    pub closing: bool,
}

impl Http1 {
    /// Whether another request can go on this connection.
    pub fn reusable(&self) -> bool {
        !self.closing && self.io.0.is_some() && !self.sender.is_closed()
    }

    /// Whether the connection can still take a request, looking first: a kept-alive
    /// connection the server closed while it sat in the pool (its idle timeout) is found out
    /// by polling it once, rather than by a request failing on it.
    pub fn still_usable(&mut self) -> bool {
        if let Some(io) = self.io.0.as_mut() {
            // Nobody need be woken: the task that uses the connection polls it again.
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            if io.as_mut().poll(&mut cx).is_ready() {
                self.io.0 = None;
            }
        }
        self.reusable()
    }
}

/// hyper's HTTP/1 connection future, polled by whoever is using the connection.
pub struct Http1Io(Option<Pin<Box<dyn Future<Output = hyper::Result<()>> + Send>>>);

impl Http1Io {
    /// Runs `work` (a request, or reading its body) while driving the connection.
    pub async fn drive<F: Future>(&mut self, work: F) -> F::Output {
        let mut work = std::pin::pin!(work);
        let connection = &mut self.0;
        std::future::poll_fn(|cx| {
            if let Poll::Ready(out) = work.as_mut().poll(cx) {
                return Poll::Ready(out);
            }
            if let Some(io) = connection.as_mut() {
                if io.as_mut().poll(cx).is_ready() {
                    // Closed: the work sees it (hyper fails the request) when polled again.
                    *connection = None;
                    return work.as_mut().poll(cx);
                }
            }
            Poll::Pending
        })
        .await
    }
}

/// A connection just opened, and what opening it cost.
pub struct Opened {
    /// Its requests' sender.
    pub sender: Sender,
    /// Resolving the name.
    pub dns: Duration,
    /// The TCP handshake.
    pub connect: Duration,
    /// The TLS handshake (zero without TLS).
    pub tls: Duration,
}

/// How a load connects: its TLS client configurations (made once per load) and the DNS
/// server names are resolved through, if not the system's.
#[derive(Clone)]
pub struct Connector {
    /// The TLS configurations, made on first use: reading the system's roots (a PEM bundle)
    /// costs ~1 ms, which a load of plain-HTTP pages need not pay.
    configs: Arc<std::sync::OnceLock<Result<Configs, String>>>,
    trust: Trust,
    resolver: Option<std::net::SocketAddr>,
    proxy: Option<Origin>,
    /// How long each step of opening a connection may wait for the other side: resolving,
    /// the TCP handshake, a proxy's tunnel, the TLS handshake.
    connect_timeout: Duration,
}

/// The default for [`Connector::with_connect_timeout`]: long enough for a slow link's SYN
/// retransmissions (1 s, then 3 s), short enough that a host that is down is reported well
/// before a page's own timeout.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

impl Connector {
    /// Connections believing `trust` (offering http/1.1 only, or h2 first), resolving names
    /// through `resolver` (`None`: the system's resolver, as getaddrinfo does).
    /// With `proxy`, every connection goes to it: plain `http://` requests in absolute form,
    /// `https://` through a CONNECT tunnel.
    pub fn new(
        trust: &Trust,
        resolver: Option<std::net::SocketAddr>,
        proxy: Option<Origin>,
    ) -> Result<Self, LoadError> {
        let connector = Self {
            configs: Arc::default(),
            trust: trust.clone(),
            resolver,
            proxy,
            connect_timeout: CONNECT_TIMEOUT,
        };
        // A named CA file's mistakes are reported at once, not at the first https URL.
        if *trust != Trust::System {
            connector.prepare()?;
        }
        Ok(connector)
    }

    /// Each step of opening a connection waits at most `timeout` (see [`CONNECT_TIMEOUT`]).
    #[must_use]
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Makes the TLS configurations now (a load of an https page does it before its clock
    /// starts, so reading the roots is not counted as the first connection's TLS time).
    pub fn prepare(&self) -> Result<(), LoadError> {
        self.configs().map(|_| ())
    }

    fn configs(&self) -> Result<&Configs, LoadError> {
        let made = self.configs.get_or_init(|| {
            // The two differ only in ALPN: the root store is read once.
            let base = client_config(&self.trust).map_err(|e| e.to_string())?;
            let make = |alpn: &[&[u8]]| {
                let mut config = base.clone();
                config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
                Arc::new(config)
            };
            Ok(Configs { h1: make(&[b"http/1.1"]), h2: make(&[b"h2", b"http/1.1"]) })
        });
        made.as_ref().map_err(|error| LoadError::new(error.clone()))
    }

    /// Whether plain-HTTP requests go to a proxy (and so in absolute form).
    pub fn proxied(&self) -> bool {
        self.proxy.is_some()
    }
}

/// Client TLS configurations offering http/1.1 only, or h2 first.
struct Configs {
    h1: Arc<ClientConfig>,
    h2: Arc<ClientConfig>,
}

fn client_config(trust: &Trust) -> Result<ClientConfig, LoadError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    let file = match trust {
        Trust::System => Some(PathBuf::from(SYSTEM_ROOTS)),
        Trust::CaFile(path) => Some(path.clone()),
        Trust::Insecure => None,
    };
    if let Some(file) = file.filter(|f| f.exists() || matches!(trust, Trust::CaFile(_))) {
        let certificates = CertificateDer::pem_file_iter(&file)
            .map_err(|e| LoadError::new(format!("{}: {e}", file.display())))?;
        for certificate in certificates.flatten() {
            let _ = roots.add(certificate);
        }
    }
    let mut config = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| LoadError::new(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    if *trust == Trust::Insecure {
        config.dangerous().set_certificate_verifier(Arc::new(AnyCertificate(provider)));
    }
    Ok(config)
}

/// Believes any certificate, but still checks the handshake's signatures with it.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signed: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, certificate, signed, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signed: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, certificate, signed, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Any stream a connection runs on: TCP, or TLS over it.
pub trait Stream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static {}

impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static> Stream for T {}

/// A stream to `origin` and what opening it cost; `h2` says whether ALPN settled on h2.
pub struct Connected {
    /// The byte stream.
    pub stream: Box<dyn Stream>,
    /// Whether to speak HTTP/2 on it.
    pub h2: bool,
    /// Resolving the name.
    pub dns: Duration,
    /// The TCP handshake.
    pub connect: Duration,
    /// The TLS handshake (zero without TLS).
    pub tls: Duration,
}

/// Resolves `origin`, connects, and over `https` shakes hands offering h2 first when `h2`
/// (http/1.1 only otherwise). Without TLS, `h2` means prior knowledge. Through a proxy the
/// connection is to the proxy: HTTP/1.1 for `http://` (proxies speak it), a CONNECT tunnel
/// then TLS for `https://`.
pub async fn connect(origin: &Origin, h2: bool, tls: &Connector) -> Result<Connected, LoadError> {
    let failed = |what: &str, error: &dyn std::fmt::Display| {
        LoadError::new(format!("{what} {}:{}: {error}", origin.host, origin.port))
    };
    // A host that is down or filtered answers nothing: each step is bounded, and the error
    // says which one went unanswered.
    let limit = tls.connect_timeout;
    let first_hop = tls.proxy.as_ref().unwrap_or(origin);
    let started = Instant::now();
    let address = within(limit, resolve(first_hop, tls.resolver))
        .await
        .map_err(|e| failed("cannot resolve", &e))?;
    let dns = started.elapsed();
    let started = Instant::now();
    let stream = within(limit, TcpStream::connect(address))
        .await
        .map_err(|e| failed("cannot connect to", &e))?;
    stream.set_nodelay(true).map_err(|e| failed("cannot set up", &e))?;
    let mut stream: Box<dyn Stream> = Box::new(stream);
    if tls.proxy.is_some() && origin.tls {
        within(limit, tunnel(&mut stream, origin))
            .await
            .map_err(|e| failed("CONNECT through the proxy to", &e))?;
    }
    let connect = started.elapsed();
    if !origin.tls {
        let h2 = h2 && tls.proxy.is_none();
        return Ok(Connected { stream, h2, dns, connect, tls: Duration::ZERO });
    }
    let started = Instant::now();
    let configs = tls.configs()?;
    let config = if h2 { configs.h2.clone() } else { configs.h1.clone() };
    let name = ServerName::try_from(origin.host.clone()).map_err(|e| failed("bad name", &e))?;
    let handshake = tokio_rustls::TlsConnector::from(config).connect(name, stream);
    let stream = within(limit, handshake).await.map_err(|e| failed("TLS with", &e))?;
    let tls = started.elapsed();
    let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
    Ok(Connected { stream: Box::new(stream), h2, dns, connect, tls })
}

/// `step`'s outcome, or a timed-out error if it takes longer than `limit`.
async fn within<T>(
    limit: Duration,
    step: impl Future<Output = std::io::Result<T>>,
) -> std::io::Result<T> {
    tokio::time::timeout(limit, step).await.unwrap_or_else(|_| {
        let silent = format!("no answer within {limit:?}");
        Err(std::io::Error::new(std::io::ErrorKind::TimedOut, silent))
    })
}

/// Asks the proxy on `stream` for a tunnel to `origin` (RFC 9110 §9.3.6) and reads its answer
/// up to the end of the head; anything but 2xx is an error naming the status line.
async fn tunnel(stream: &mut Box<dyn Stream>, origin: &Origin) -> std::io::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let authority = if origin.host.contains(':') {
        format!("[{}]:{}", origin.host, origin.port)
    } else {
        format!("{}:{}", origin.host, origin.port)
    };
    stream
        .write_all(format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n").as_bytes())
        .await?;
    let mut head = Vec::new();
    let mut byte = [0; 1];
    // Byte by byte: nothing after the head may be read here (it belongs to TLS).
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await? == 0 || head.len() > 16 * 1024 {
            return Err(std::io::Error::other("the proxy closed or sent a head too long"));
        }
        head.push(byte[0]);
    }
    let status_line = String::from_utf8_lossy(&head).lines().next().unwrap_or_default().to_owned();
    let ok = status_line.split_whitespace().nth(1).is_some_and(|code| code.starts_with('2'));
    if ok { Ok(()) } else { Err(std::io::Error::other(format!("the proxy said `{status_line}`"))) }
}

/// The address to connect to for `origin`: its literal address, or the first A (else AAAA)
/// answer from `resolver`, or the system resolver's first answer.
async fn resolve(
    origin: &Origin,
    resolver: Option<std::net::SocketAddr>,
) -> std::io::Result<std::net::SocketAddr> {
    use std::net::{IpAddr, SocketAddr};
    if let Ok(ip) = origin.host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, origin.port));
    }
    let Some(server) = resolver else {
        return tokio::net::lookup_host((origin.host.as_str(), origin.port))
            .await?
            .next()
            .ok_or_else(|| std::io::Error::other("no address"));
    };
    let asking = appnet_dns::stub::Asking::default();
    for rtype in [domain::base::iana::Rtype::A, domain::base::iana::Rtype::AAAA] {
        let answer = appnet_dns::stub::ask(server, &origin.host, rtype, asking).await?;
        if answer.rcode == 3 {
            return Err(std::io::Error::other(format!(
                "{server} says there is no such name (NXDOMAIN)"
            )));
        }
        if let Some(ip) = answer.addresses.first() {
            return Ok(SocketAddr::new(*ip, origin.port));
        }
    }
    Err(std::io::Error::other(format!("{server} has no address for it")))
}

/// Opens a connection to `origin`: HTTP/2 when `h2` (ALPN over TLS, prior knowledge without;
/// over TLS a server that picks http/1.1 gets HTTP/1.1), else HTTP/1.x.
pub async fn open(origin: &Origin, h2: bool, tls: &Connector) -> Result<Opened, LoadError> {
    let Connected { stream, h2, dns, connect, tls } = connect(origin, h2, tls).await?;
    let sender = handshake(stream, h2).await.map_err(|e| {
        LoadError::new(format!("HTTP handshake with {}:{}: {e}", origin.host, origin.port))
    })?;
    Ok(Opened { sender, dns, connect, tls })
}

async fn handshake<I>(io: I, h2: bool) -> Result<Sender, Box<dyn std::error::Error + Send + Sync>>
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    if h2 {
        let (sender, connection) = h2::client::Builder::new()
            .initial_window_size(STREAM_WINDOW)
            .initial_connection_window_size(CONNECTION_WINDOW)
            .enable_push(false)
            .handshake::<_, Bytes>(super::first_flight::FirstFlight::new(io))
            .await?;
        let closed = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let ended = closed.clone();
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "HTTP/2 connection ended");
            }
            ended.store(true, std::sync::atomic::Ordering::Relaxed);
        });
        return Ok(Sender::Http2(Http2 { sender, closed }));
    }
    let (sender, connection) = http1::handshake(TokioIo::new(io)).await?;
    let io = Http1Io(Some(Box::pin(connection)));
    Ok(Sender::Http1(Http1 { sender, io, closing: false }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

    /// A peer that never answers and keeps every write the client makes, one entry each.
    #[derive(Clone, Default)]
    struct Recording(Arc<Mutex<Vec<Vec<u8>>>>);

    impl AsyncRead for Recording {
        fn poll_read(
            self: Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            _: &mut ReadBuf<'_>,
        ) -> Poll<std::io::Result<()>> {
            Poll::Pending
        }
    }

    impl AsyncWrite for Recording {
        fn poll_write(
            self: Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &[u8],
        ) -> Poll<std::io::Result<usize>> {
            self.0.lock().unwrap().push(buf.to_vec());
            Poll::Ready(Ok(buf.len()))
        }

        fn poll_flush(
            self: Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(
            self: Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    /// The frame types in `bytes`, which start at a frame boundary.
    fn frame_types(mut bytes: &[u8]) -> Vec<u8> {
        let mut types = Vec::new();
        while bytes.len() >= 9 {
            let length =
                usize::from(bytes[0]) << 16 | usize::from(bytes[1]) << 8 | usize::from(bytes[2]);
            types.push(bytes[3]);
            bytes = &bytes[(9 + length).min(bytes.len())..];
        }
        types
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_preface_settings_and_first_request_leave_in_one_write() {
        const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
        let peer = Recording::default();
        let Sender::Http2(h2) = handshake(peer.clone(), true).await.unwrap() else {
            panic!("asked for HTTP/2")
        };
        let request = hyper::Request::get("http://example.test/").body(()).unwrap();
        let _response = h2.send(request).unwrap();
        for _ in 0..4 {
            tokio::task::yield_now().await;
        }
        let writes = peer.0.lock().unwrap().clone();
        let first = writes.first().expect("the client wrote");
        assert!(first.starts_with(PREFACE), "{:?}", &first[..first.len().min(32)]);
        // SETTINGS (4), WINDOW_UPDATE (8) for the larger connection window, HEADERS (1).
        assert_eq!(frame_types(&first[PREFACE.len()..]), [4, 8, 1], "{writes:?}");
    }
}
