//! The proxy's hyper driver. Per request: the policy (client, host, CONNECT port); CONNECT
//! becomes a tunnel; GET and HEAD go through the store ([`crate::cached`]); PURGE drops a
//! URL; other methods are passed on and invalidate what was stored for the URL. Every
//! response says what the cache did in `Cache-Status` (RFC 9211).

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use appnet_http::linger::LingerOnDrop;
use appnet_service::metrics::Metrics;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::{Body as _, Incoming};
use hyper::header::{self, HeaderMap};
use hyper::server::conn::http1;
use hyper::{Method, Request, Response, StatusCode, Uri};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::cached::Lookup;
use crate::disk::DiskStore;
use crate::flights::Flights;
use crate::health;
use crate::origins::HealthRules;
use crate::policy::Policy;
use crate::reply::plain;
use crate::routes::{Route, RouteSpec, Routes};
use crate::stats::ProxyStats;
use crate::store::Store;
use crate::upstream::{self, ProxyBody, Upstream, boxed};

/// What the proxy does and where.
#[derive(Debug, Clone)]
pub struct ProxySettings {
    /// Addresses to listen on.
    pub listen: Vec<SocketAddr>,
    /// A reverse proxy's routes (host names to pools of origins); none: a forward proxy.
    pub routes: Vec<RouteSpec>,
    /// How a reverse proxy checks its origins.
    pub health: HealthRules,
    /// Who may use it and where it may go.
    pub policy: Policy,
    /// Memory for stored responses.
    pub cache_bytes: usize,
    /// A directory to keep stored responses in as well, across restarts, and its budget in
    /// bytes.
    pub cache_dir: Option<(PathBuf, u64)>,
    /// An access log line per request on standard output.
    pub access_log: bool,
    /// Targeted cache-control fields obeyed over Cache-Control (RFC 9213), in order of
    /// precedence: `CDN-Cache-Control` for a reverse proxy or CDN edge.
    pub targeted: Vec<String>,
    /// Remove the targeted fields from responses to clients (they are passed on by
    /// default, for CDN caches further down).
    pub strip_targeted: bool,
}

impl ProxySettings {
    /// The target list a proxy has by default: `CDN-Cache-Control` when it fronts an origin
    /// (it is then the origin's CDN), none as a forward proxy.
    pub fn default_targeted(reverse: bool) -> Vec<String> {
        if reverse { vec!["CDN-Cache-Control".to_owned()] } else { Vec::new() }
    }
}

/// A running proxy.
#[derive(Debug)]
pub struct RunningProxy {
    local_addrs: Vec<SocketAddr>,
    stop: CancellationToken,
    proxy: Arc<Proxy>,
}

impl RunningProxy {
    /// Where it listens.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.local_addrs
    }

    /// What it has done so far.
    pub fn stats(&self) -> &ProxyStats {
        &self.proxy.stats
    }

    /// The administrative view of its store (for `--admin`).
    pub fn admin(&self) -> crate::admin::Admin {
        crate::admin::Admin::new(self.proxy.clone())
    }

    /// Stops accepting, and waits (up to 10 s) for the disk's queued writes and removals.
    pub fn shutdown(self) {
        self.stop.cancel();
        if !self.proxy.store.flush(Duration::from_secs(10)) {
            tracing::warn!("disk cache writes still queued at shutdown");
        }
    }
}

/// A response as the proxy sends it: the body whole.
pub(crate) type Reply = Response<Full<Bytes>>;

/// The proxy's shared state.
#[derive(Debug)]
pub(crate) struct Proxy {
    pub(crate) routes: Routes,
    pub(crate) policy: Policy,
    pub(crate) store: Store,
    pub(crate) upstream: Upstream,
    pub(crate) access_log: bool,
    pub(crate) targets: Vec<String>,
    /// Field names removed from responses to clients.
    pub(crate) strip: Vec<String>,
    pub(crate) flights: Arc<Flights>,
    pub(crate) stats: ProxyStats,
}

/// Binds every listen address and serves until shut down; counters go into `metrics`.
pub async fn spawn(settings: ProxySettings, metrics: &Metrics) -> io::Result<RunningProxy> {
    let strip = if settings.strip_targeted { settings.targeted.clone() } else { Vec::new() };
    let store = match settings.cache_dir.clone() {
        None => Store::new(settings.cache_bytes),
        Some((dir, budget)) => {
            let memory = settings.cache_bytes;
            let opened = tokio::task::spawn_blocking(move || {
                let disk = DiskStore::open(&dir, budget).map_err(|error| {
                    io::Error::new(
                        error.kind(),
                        format!("cache directory {}: {error}", dir.display()),
                    )
                })?;
                Store::with_disk(memory, disk)
            });
            opened.await.map_err(io::Error::other)??
        }
    };
    let proxy = Arc::new(Proxy {
        routes: Routes::new(&settings.routes, &settings.health),
        policy: settings.policy,
        store,
        upstream: upstream::pool(),
        access_log: settings.access_log,
        targets: settings.targeted,
        strip,
        flights: Arc::default(),
        stats: ProxyStats::registered(metrics),
    });
    let stop = CancellationToken::new();
    for route in proxy.routes.all() {
        tokio::spawn(health::check(route.clone(), proxy.upstream.clone(), stop.clone()));
    }
    let mut local_addrs = Vec::new();
    for addr in &settings.listen {
        let listener = TcpListener::bind(addr).await?;
        local_addrs.push(listener.local_addr()?);
        tokio::spawn(accept(listener, proxy.clone(), stop.clone()));
    }
    Ok(RunningProxy { local_addrs, stop, proxy })
}

async fn accept(listener: TcpListener, proxy: Arc<Proxy>, stop: CancellationToken) {
    loop {
        let Some((stream, peer)) = appnet_service::accept::next(&listener, &stop).await else {
            return;
        };
        let _ = stream.set_nodelay(true);
        // Closed in stages when the client may still be sending (a body refused unread), so
        // that the refusal reaches it instead of a reset.
        let stream = LingerOnDrop::new(stream);
        let body = stream.body_flag();
        let proxy = proxy.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                body.store(!request.body().is_end_stream(), Ordering::Relaxed);
                let proxy = proxy.clone();
                async move { Ok::<_, Infallible>(proxy.handle(request, peer).await) }
            });
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .max_buf_size(64 * 1024)
                // Stored bodies go to the socket as they are (writev), not copied into
                // hyper's buffer first: 1 MiB hits 1959 → 2248 req/s, 423 → 329 CPU-µs each.
                .writev(true)
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            if let Err(error) = connection.await {
                tracing::debug!(%peer, %error, "client connection ended with an error");
            }
        });
    }
}

impl Proxy {
    async fn handle(
        self: &Arc<Self>,
        request: Request<Incoming>,
        peer: SocketAddr,
    ) -> Response<ProxyBody> {
        self.stats.requests.inc();
        let line = format!("{} {}", request.method(), request.uri());
        let (response, cache) = self.respond(request, peer).await;
        if self.access_log {
            println!("{} \"{line}\" {} {cache}", peer.ip(), response.status().as_u16());
        }
        response
    }

    async fn respond(
        self: &Arc<Self>,
        request: Request<Incoming>,
        peer: SocketAddr,
    ) -> (Response<ProxyBody>, &'static str) {
        if let Err(refusal) = self.policy.client(peer.ip()) {
            tracing::info!(%refusal, "refused");
            let text = format!("403 Forbidden: {refusal}");
            return (boxed(plain(StatusCode::FORBIDDEN, &text)), "-");
        }
        if request.method() == Method::CONNECT {
            return (boxed(upstream::tunnel(&self.policy, request)), "tunnel");
        }
        let (target, route) = match self.target(&request) {
            Ok(found) => found,
            Err(refusal) => return (boxed(*refusal), "-"),
        };
        let host = target.host().unwrap_or_default().to_owned();
        if route.is_none() {
            if let Err(refusal) = self.policy.host(&host) {
                tracing::info!(%refusal, "refused");
                let text = format!("403 Forbidden: {refusal}");
                return (boxed(plain(StatusCode::FORBIDDEN, &text)), "-");
            }
        }
        let key = target.to_string();
        if matches!(*request.method(), Method::GET | Method::HEAD) {
            let lookup = Lookup {
                key: &key,
                target: &target,
                headers: request.headers(),
                peer,
                head: request.method() == Method::HEAD,
                route: route.as_ref(),
            };
            return self.through_cache(lookup).await;
        }
        if request.method().as_str() == "PURGE" {
            // From an allowed network (checked above), as Squid and Varnish take it.
            return if self.store.invalidate(&key) {
                (boxed(plain(StatusCode::OK, "200 OK: purged")), "purged")
            } else {
                (boxed(plain(StatusCode::NOT_FOUND, "404 Not Found: nothing stored")), "-")
            };
        }
        // Unsafe methods invalidate what was stored for the URL (RFC 9111 §4.4), and, once the
        // origin has answered with success, for the same-origin URLs its Location and
        // Content-Location name.
        self.store.invalidate(&key);
        let response = self.forward(request, &target, route.as_ref(), peer).await;
        if response.status().as_u16() < 400 {
            // Again now that it has happened: a GET in flight meanwhile may have stored the
            // representation from before it (RFC 9111 §4.4: on a non-error response).
            self.store.invalidate(&key);
        }
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

    /// The URL asked for, which is also what it is stored under, and for a reverse proxy
    /// the route that serves it: the request's own absolute URI for a forward proxy; for a
    /// reverse proxy, `http://` + the Host asked for + the path, whichever origin serves it.
    fn target(&self, request: &Request<Incoming>) -> Result<(Uri, Option<Arc<Route>>), Box<Reply>> {
        let uri = request.uri();
        if self.routes.is_empty() {
            return if uri.scheme_str() == Some("http") && uri.authority().is_some() {
                Ok((uri.clone(), None))
            } else {
                let text = "400 Bad Request: a proxy request needs an absolute http:// URI";
                Err(Box::new(plain(StatusCode::BAD_REQUEST, text)))
            };
        }
        let host = uri.authority().map(|a| a.as_str().to_owned()).or_else(|| {
            request.headers().get(header::HOST).and_then(|v| v.to_str().ok()).map(str::to_owned)
        });
        let Some(route) = self.routes.for_host(host.as_deref()) else {
            let text = format!("404 Not Found: no route for host {}", host.unwrap_or_default());
            return Err(Box::new(plain(StatusCode::NOT_FOUND, &text)));
        };
        // Without a Host (HTTP/1.0), the route's first origin names the site.
        let site = host
            .map(|h| h.to_ascii_lowercase())
            .or_else(|| route.pool().uri(0).authority().map(|a| a.to_string()))
            .unwrap_or_default();
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        let public = Uri::builder()
            .scheme("http")
            .authority(site.as_str())
            .path_and_query(path)
            .build()
            .map_err(|_| Box::new(plain(StatusCode::BAD_REQUEST, "400 Bad Request: bad Host")))?;
        Ok((public, Some(route.clone())))
    }

    /// Passes a request other than GET/HEAD on: to the request's own target, or to one
    /// origin of its route (never retried elsewhere: it may not be idempotent).
    async fn forward(
        &self,
        request: Request<Incoming>,
        target: &Uri,
        route: Option<&Arc<Route>>,
        peer: SocketAddr,
    ) -> Response<ProxyBody> {
        self.stats.upstream_requests.inc();
        let Some(route) = route else {
            return upstream::forward(&self.upstream, request, target, peer)
                .await
                .unwrap_or_else(|failure| boxed(failure.response));
        };
        let picked = {
            let mut pool = route.pool();
            pool.pick(&[]).map(|index| (index, pool.uri(index).clone()))
        };
        let Some((index, origin)) = picked else {
            return boxed(plain(StatusCode::BAD_GATEWAY, "502 Bad Gateway: no origin"));
        };
        let Some(on_origin) = upstream::on_origin(&origin, target) else {
            return boxed(plain(StatusCode::BAD_GATEWAY, "502 Bad Gateway: bad origin"));
        };
        match upstream::forward(&self.upstream, request, &on_origin, peer).await {
            Ok(response) => {
                route.pool().report(index, true);
                response
            }
            Err(failure) => {
                if failure.origin_down {
                    route.report_failure(index);
                }
                boxed(failure.response)
            }
        }
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

/// A head's fields as (lowercase name, value) pairs, the form the cache rules read.
pub(crate) fn fields(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter_map(|(name, value)| {
            Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
        })
        .collect()
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
