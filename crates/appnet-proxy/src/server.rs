//! The proxy's hyper driver. Per request: the policy (client, host, CONNECT port); CONNECT
//! becomes a tunnel; GET and HEAD go through the store — a fresh copy is served with its `Age`,
//! a stale one is revalidated upstream (304 refreshes it), a miss is fetched and stored when
//! RFC 9111 allows; other methods are passed on and invalidate what was stored for the URL.
//! Every response says what the cache did in `Cache-Status` (RFC 9211).

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use appnet_cache::directives::CacheControl;
use appnet_cache::freshness::Stored;
use appnet_cache::{Headers, storable, validation};
use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::server::conn::http1;
use hyper::{Method, Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use crate::forwarding;
use crate::policy::Policy;
use crate::store::{Object, Store};

/// Largest response body the proxy holds (to store it, or to pass it on).
const MAX_BODY: usize = 64 << 20;

/// Time allowed for an upstream response.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(30);

/// What the proxy does and where.
#[derive(Debug, Clone)]
pub struct ProxySettings {
    /// Addresses to listen on.
    pub listen: Vec<SocketAddr>,
    /// Reverse proxy for this origin (`http://host:port`); `None`: a forward proxy.
    pub origin: Option<Uri>,
    /// Who may use it and where it may go.
    pub policy: Policy,
    /// Memory for stored responses.
    pub cache_bytes: usize,
    /// An access log line per request on standard output.
    pub access_log: bool,
}

/// A running proxy.
#[derive(Debug)]
pub struct RunningProxy {
    local_addrs: Vec<SocketAddr>,
    stop: CancellationToken,
}

impl RunningProxy {
    /// Where it listens.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.local_addrs
    }

    /// Stops accepting.
    pub fn shutdown(self) {
        self.stop.cancel();
    }
}

type Upstream = Client<HttpConnector, BoxBody<Bytes, hyper::Error>>;

struct Proxy {
    origin: Option<Uri>,
    policy: Policy,
    store: Store,
    upstream: Upstream,
    access_log: bool,
}

/// Binds every listen address and serves until shut down.
pub async fn spawn(settings: ProxySettings) -> io::Result<RunningProxy> {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let upstream = Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .build(connector);
    let proxy = Arc::new(Proxy {
        origin: settings.origin,
        policy: settings.policy,
        store: Store::new(settings.cache_bytes),
        upstream,
        access_log: settings.access_log,
    });
    let stop = CancellationToken::new();
    let mut local_addrs = Vec::new();
    for addr in &settings.listen {
        let listener = TcpListener::bind(addr).await?;
        local_addrs.push(listener.local_addr()?);
        tokio::spawn(accept(listener, proxy.clone(), stop.clone()));
    }
    Ok(RunningProxy { local_addrs, stop })
}

async fn accept(listener: TcpListener, proxy: Arc<Proxy>, stop: CancellationToken) {
    loop {
        let Some((stream, peer)) = appnet_service::accept::next(&listener, &stop).await else {
            return;
        };
        let _ = stream.set_nodelay(true);
        let proxy = proxy.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let proxy = proxy.clone();
                async move { Ok::<_, Infallible>(proxy.handle(request, peer).await) }
            });
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .max_buf_size(64 * 1024)
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            if let Err(error) = connection.await {
                tracing::debug!(%peer, %error, "client connection ended with an error");
            }
        });
    }
}

/// A short response of `status` with `text`.
fn plain(status: StatusCode, text: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(format!("{text}\n"))));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}

impl Proxy {
    async fn handle(&self, request: Request<Incoming>, peer: SocketAddr) -> Response<Full<Bytes>> {
        let line = format!("{} {}", request.method(), request.uri());
        let (response, cache) = self.respond(request, peer).await;
        if self.access_log {
            println!("{} \"{line}\" {} {cache}", peer.ip(), response.status().as_u16());
        }
        response
    }

    async fn respond(
        &self,
        request: Request<Incoming>,
        peer: SocketAddr,
    ) -> (Response<Full<Bytes>>, &'static str) {
        if let Err(refusal) = self.policy.client(peer.ip()) {
            tracing::info!(%refusal, "refused");
            return (plain(StatusCode::FORBIDDEN, &format!("403 Forbidden: {refusal}")), "-");
        }
        if request.method() == Method::CONNECT {
            return (self.tunnel(request), "tunnel");
        }
        let Some(target) = self.target(request.uri()) else {
            let text = "400 Bad Request: a proxy request needs an absolute http:// URI";
            return (plain(StatusCode::BAD_REQUEST, text), "-");
        };
        let host = target.host().unwrap_or_default().to_owned();
        if let Err(refusal) = self.policy.host(&host) {
            tracing::info!(%refusal, "refused");
            return (plain(StatusCode::FORBIDDEN, &format!("403 Forbidden: {refusal}")), "-");
        }
        let key = target.to_string();
        if matches!(*request.method(), Method::GET | Method::HEAD) {
            return self.through_cache(request, target, &key, peer).await;
        }
        if request.method().as_str() == "PURGE" {
            // From an allowed network (checked above), as Squid and Varnish take it.
            return if self.store.invalidate(&key) {
                (plain(StatusCode::OK, "200 OK: purged"), "purged")
            } else {
                (plain(StatusCode::NOT_FOUND, "404 Not Found: nothing stored"), "-")
            };
        }
        // Unsafe methods invalidate what was stored for the URL (RFC 9111 §4.4), and, once the
        // origin has answered with success, for the same-origin URLs its Location and
        // Content-Location name.
        self.store.invalidate(&key);
        let response = self.forward(request, &target, peer).await.unwrap_or_else(|error| error);
        if response.status().is_success() || response.status().is_redirection() {
            for name in [header::LOCATION, header::CONTENT_LOCATION] {
                let named = response.headers().get(name).and_then(|v| v.to_str().ok());
                if let Some(other) = named.and_then(|v| same_origin(&target, v)) {
                    self.store.invalidate(&other);
                }
            }
        }
        (response, "fwd=method")
    }

    /// The absolute URI to fetch: the origin's in reverse mode, the request's own in forward.
    fn target(&self, uri: &Uri) -> Option<Uri> {
        match &self.origin {
            Some(origin) => {
                let path = uri.path_and_query().map_or("/", |p| p.as_str());
                Uri::builder()
                    .scheme(origin.scheme_str().unwrap_or("http"))
                    .authority(origin.authority()?.as_str())
                    .path_and_query(path)
                    .build()
                    .ok()
            }
            None => {
                (uri.scheme_str() == Some("http") && uri.authority().is_some()).then(|| uri.clone())
            }
        }
    }

    /// GET and HEAD through the store.
    async fn through_cache(
        &self,
        request: Request<Incoming>,
        target: Uri,
        key: &str,
        peer: SocketAddr,
    ) -> (Response<Full<Bytes>>, &'static str) {
        let asked = request_directives(request.headers());
        let head = request.method() == Method::HEAD;
        let client_etag = request
            .headers()
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let varying = request_headers(request.headers());
        let stored = self.store.get(key, &varying).filter(|_| !asked.no_store);
        let now = SystemTime::now();
        if let Some(object) = stored.as_ref().filter(|o| o.stored.is_fresh(now, true, &asked)) {
            let response = serve_stored(object, now, head, client_etag.as_deref(), "hit");
            return (response, "hit");
        }
        if asked.only_if_cached {
            return (
                plain(StatusCode::GATEWAY_TIMEOUT, "504 Gateway Timeout: not in the cache"),
                "miss",
            );
        }
        let conditions =
            stored.as_ref().map(|o| validation::conditional_headers(&o.stored)).unwrap_or_default();
        let sent = SystemTime::now();
        // The fetch is always a GET (a HEAD is answered from it), conditional when stale.
        let upstream = request.map(|_| Empty::<Bytes>::new());
        let result = self.fetch(&upstream, &target, peer, &conditions).await;
        let received = SystemTime::now();
        // The origin down or failing: a stale copy still within stale-if-error (RFC 5861 §4,
        // from the response or the request) is better than an error.
        let failed = match &result {
            Err(_) => true,
            Ok((status, _, _)) => status.is_server_error(),
        };
        if let Some(object) =
            stored.as_ref().filter(|o| failed && stale_if_error(o, &asked, received))
        {
            let response = serve_stored(
                object,
                received,
                head,
                client_etag.as_deref(),
                "hit; detail=stale-if-error",
            );
            return (response, "stale-if-error");
        }
        let (status, headers, body) = match result {
            Ok(parts) => parts,
            Err(response) => return (response, "fwd=miss"),
        };
        if status == StatusCode::NOT_MODIFIED {
            if let Some(object) = stored.as_ref().filter(|_| !conditions.is_empty()) {
                let fields = fields(&headers);
                let freshened = validation::freshen(&object.stored, &fields, sent, received);
                let refreshed = Object { stored: freshened, body: object.body.clone() };
                self.store.put(key, &varying, refreshed.clone());
                let response = serve_stored(
                    &refreshed,
                    received,
                    head,
                    client_etag.as_deref(),
                    "fwd=stale; fwd-status=304",
                );
                return (response, "revalidated");
            }
        }
        let fields = fields(&headers);
        let stored_now = Stored {
            request_time: sent,
            response_time: received,
            status: status.as_u16(),
            headers: Headers(fields.clone()),
        };
        let may = storable::may_store(
            "GET",
            &request_headers(upstream.headers()),
            status.as_u16(),
            &stored_now.headers,
            true,
        );
        let what = if stored.is_some() { "fwd=stale" } else { "fwd=uri-miss" };
        let object = Object { stored: stored_now, body };
        let may = may && self.store.put(key, &varying, object.clone());
        if !may {
            self.store.invalidate(key);
        }
        let mut response = build(&object, head);
        let status_field =
            if may { format!("appnet; {what}; stored") } else { format!("appnet; {what}") };
        if let Ok(value) = HeaderValue::from_str(&status_field) {
            response.headers_mut().insert(HeaderName::from_static("cache-status"), value);
        }
        (response, if may { "miss, stored" } else { "miss" })
    }

    /// GET `target` upstream with `conditions`: (status, head, body) or the error response.
    async fn fetch(
        &self,
        request: &Request<Empty<Bytes>>,
        target: &Uri,
        peer: SocketAddr,
        conditions: &[(&'static str, String)],
    ) -> Result<(StatusCode, HeaderMap, Bytes), Response<Full<Bytes>>> {
        let mut upstream = Request::get(target.clone());
        if let Some(headers) = upstream.headers_mut() {
            *headers = request.headers().clone();
            forwarding::strip_hop_by_hop(headers);
            forwarding::add_via(headers);
            forwarding::add_forwarded_for(headers, peer.ip());
            if let Some(authority) = target.authority() {
                if let Ok(value) = HeaderValue::from_str(authority.as_str()) {
                    headers.insert(header::HOST, value);
                }
            }
            // The client's own validators are the client's business; ours replace them.
            headers.remove(header::IF_NONE_MATCH);
            headers.remove(header::IF_MODIFIED_SINCE);
            for (name, value) in conditions {
                if let Ok(value) = HeaderValue::from_str(value) {
                    headers.insert(*name, value);
                }
            }
        }
        let upstream = upstream
            .body(Empty::<Bytes>::new().map_err(|never| match never {}).boxed())
            .map_err(|_| plain(StatusCode::BAD_REQUEST, "400 Bad Request"))?;
        let response = tokio::time::timeout(UPSTREAM_TIMEOUT, self.upstream.request(upstream))
            .await
            .map_err(|_| {
                plain(StatusCode::GATEWAY_TIMEOUT, "504 Gateway Timeout: the origin did not answer")
            })?
            .map_err(|error| {
                plain(StatusCode::BAD_GATEWAY, &format!("502 Bad Gateway: {error}"))
            })?;
        let (parts, body) = response.into_parts();
        // A body cut off or over the limit is never stored nor passed on as whole.
        let body = Limited::new(body, MAX_BODY)
            .collect()
            .await
            .map_err(|error| plain(StatusCode::BAD_GATEWAY, &format!("502 Bad Gateway: {error}")))?
            .to_bytes();
        Ok((parts.status, parts.headers, body))
    }

    /// Passes any other request on, body and all.
    async fn forward(
        &self,
        request: Request<Incoming>,
        target: &Uri,
        peer: SocketAddr,
    ) -> Result<Response<Full<Bytes>>, Response<Full<Bytes>>> {
        let (mut parts, body) = request.into_parts();
        parts.uri = target.clone();
        forwarding::strip_hop_by_hop(&mut parts.headers);
        forwarding::add_via(&mut parts.headers);
        forwarding::add_forwarded_for(&mut parts.headers, peer.ip());
        let upstream = Request::from_parts(parts, body.boxed());
        let response = tokio::time::timeout(UPSTREAM_TIMEOUT, self.upstream.request(upstream))
            .await
            .map_err(|_| plain(StatusCode::GATEWAY_TIMEOUT, "504 Gateway Timeout"))?
            .map_err(|error| {
                plain(StatusCode::BAD_GATEWAY, &format!("502 Bad Gateway: {error}"))
            })?;
        let (mut parts, body) = response.into_parts();
        let body = Limited::new(body, MAX_BODY)
            .collect()
            .await
            .map_err(|error| plain(StatusCode::BAD_GATEWAY, &format!("502 Bad Gateway: {error}")))?
            .to_bytes();
        forwarding::strip_hop_by_hop(&mut parts.headers);
        forwarding::add_via(&mut parts.headers);
        parts.headers.remove(header::CONTENT_LENGTH);
        Ok(Response::from_parts(parts, Full::new(body)))
    }

    /// CONNECT host:port: 200, then bytes both ways between the client and the host.
    fn tunnel(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let Some(authority) = request.uri().authority().cloned() else {
            return plain(StatusCode::BAD_REQUEST, "400 Bad Request: CONNECT needs host:port");
        };
        let port = authority.port_u16().unwrap_or(443);
        let allowed =
            self.policy.host(authority.host()).and_then(|()| self.policy.connect_port(port));
        if let Err(refusal) = allowed {
            tracing::info!(%refusal, "refused");
            return plain(StatusCode::FORBIDDEN, &format!("403 Forbidden: {refusal}"));
        }
        tokio::spawn(async move {
            let upgraded = match hyper::upgrade::on(request).await {
                Ok(upgraded) => upgraded,
                Err(error) => return tracing::debug!(%error, "CONNECT upgrade failed"),
            };
            let target = format!("{}:{port}", authority.host());
            let Ok(mut server) = TcpStream::connect(&target).await else {
                return tracing::debug!(%target, "CONNECT target unreachable");
            };
            let mut client = TokioIo::new(upgraded);
            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
        });
        Response::new(Full::new(Bytes::new()))
    }
}

/// `reference` (absolute, or a path) resolved against `target`, if it is on the same origin.
fn same_origin(target: &Uri, reference: &str) -> Option<String> {
    let uri: Uri = reference.parse().ok()?;
    match uri.authority() {
        Some(authority) => {
            let same = Some(authority) == target.authority() && uri.scheme() == target.scheme();
            same.then(|| uri.to_string())
        }
        None if reference.starts_with('/') => {
            Some(format!("{}://{}{reference}", target.scheme_str()?, target.authority()?))
        }
        None => None,
    }
}

/// Whether `object`, stale at `now`, may still stand in for an origin in trouble: its staleness
/// within the response's or the request's `stale-if-error`, and `must-revalidate` absent.
fn stale_if_error(object: &Object, asked: &CacheControl, now: SystemTime) -> bool {
    let control = object.stored.cache_control();
    if control.must_revalidate || control.proxy_revalidate {
        return false;
    }
    let Some(window) = control.stale_if_error.or(asked.stale_if_error) else { return false };
    let (lifetime, _) = object.stored.lifetime(true);
    let staleness = object.stored.current_age(now).saturating_sub(lifetime);
    staleness <= Duration::from_secs(window)
}

/// The request's Cache-Control, with `Pragma: no-cache` read as `no-cache` where there is no
/// Cache-Control (RFC 9111 §5.4).
fn request_directives(headers: &HeaderMap) -> CacheControl {
    let joined: Vec<&str> =
        headers.get_all(header::CACHE_CONTROL).iter().filter_map(|v| v.to_str().ok()).collect();
    if joined.is_empty() {
        let pragma = headers.get(header::PRAGMA).and_then(|v| v.to_str().ok()).unwrap_or_default();
        return CacheControl {
            no_cache: pragma.to_ascii_lowercase().contains("no-cache"),
            ..CacheControl::default()
        };
    }
    CacheControl::parse(&joined.join(", "))
}

fn fields(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter_map(|(name, value)| {
            Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
        })
        .collect()
}

fn request_headers(headers: &HeaderMap) -> Headers {
    Headers(fields(headers))
}

/// The client's response from `object`: its stored head (hop-by-hop fields out, Via in) and
/// body (none for HEAD).
fn build(object: &Object, head: bool) -> Response<Full<Bytes>> {
    let body = if head { Bytes::new() } else { object.body.clone() };
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = StatusCode::from_u16(object.stored.status).unwrap_or(StatusCode::OK);
    let headers = response.headers_mut();
    for (name, value) in &object.stored.headers.0 {
        if let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value))
        {
            headers.append(name, value);
        }
    }
    forwarding::strip_hop_by_hop(headers);
    headers.remove(header::CONTENT_LENGTH);
    forwarding::add_via(headers);
    if head {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(object.body.len()));
    }
    response
}

/// A stored response served: its `Age`, `Cache-Status`, and a 304 when the client's own
/// If-None-Match names the stored ETag.
fn serve_stored(
    object: &Object,
    now: SystemTime,
    head: bool,
    client_etag: Option<&str>,
    how: &str,
) -> Response<Full<Bytes>> {
    let etag = object.stored.headers.get("etag");
    let not_modified = client_etag.is_some_and(|asked| {
        etag.is_some_and(|etag| asked.split(',').any(|e| e.trim() == etag || e.trim() == "*"))
    });
    let mut response = build(object, head || not_modified);
    if not_modified {
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        response.headers_mut().remove(header::CONTENT_LENGTH);
        *response.body_mut() = Full::new(Bytes::new());
    }
    let age = object.stored.current_age(now).as_secs();
    let (lifetime, _) = object.stored.lifetime(true);
    let ttl = lifetime.as_secs() as i64 - age as i64;
    let headers = response.headers_mut();
    headers.insert(header::AGE, HeaderValue::from(age));
    if let Ok(value) = HeaderValue::from_str(&format!("appnet; {how}; ttl={ttl}")) {
        headers.insert(HeaderName::from_static("cache-status"), value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_same_origin_locations_are_invalidated() {
        let target: Uri = "http://lab.test:8080/form".parse().unwrap();
        assert_eq!(
            same_origin(&target, "/thanks?id=1").as_deref(),
            Some("http://lab.test:8080/thanks?id=1")
        );
        assert_eq!(
            same_origin(&target, "http://lab.test:8080/other").as_deref(),
            Some("http://lab.test:8080/other")
        );
        assert_eq!(same_origin(&target, "http://elsewhere.test/other"), None);
        assert_eq!(same_origin(&target, "https://lab.test:8080/other"), None);
        assert_eq!(same_origin(&target, "relative/path"), None);
    }
}
