//! The administrative endpoint (`appnet proxy --admin ADDR`), on a listener of its own so
//! that clients of the cache never reach it: `GET /stats` (JSON: hit ratio, bytes, stored
//! objects), `GET /metrics` (OpenMetrics), `POST /purge?url=URL` (every variant of one URL)
//! and `POST /purge-all`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use appnet_service::metrics::{self, Metrics};
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::server::conn::http1;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::server::Proxy;

/// A handle on a running proxy's store and counters.
#[derive(Debug, Clone)]
pub struct Admin {
    proxy: Arc<Proxy>,
}

impl Admin {
    pub(crate) fn new(proxy: Arc<Proxy>) -> Self {
        Self { proxy }
    }

    /// The `/stats` document.
    pub fn stats_json(&self) -> String {
        let stats = &self.proxy.stats;
        let counters = self.proxy.store.disk_counters();
        let disk = serde_json::json!({
            "enabled": self.proxy.store.has_disk(),
            "entries": counters.entries,
            "bytes": counters.bytes,
            "corrupt_dropped": counters.corrupt_dropped,
            "evicted": counters.evicted,
        });
        serde_json::json!({
            "requests": stats.requests.get(),
            "hits": stats.hits.get(),
            "collapsed": stats.collapsed.get(),
            "misses": stats.misses.get(),
            "hit_ratio": stats.hit_ratio(),
            "revalidated": stats.revalidated.get(),
            "stale_while_revalidate": stats.stale_while_revalidate.get(),
            "stale_if_error": stats.stale_if_error.get(),
            "upstream_requests": stats.upstream_requests.get(),
            "bytes_from_cache": stats.bytes_from_cache.get(),
            "bytes_from_upstream": stats.bytes_from_upstream.get(),
            "stored_bytes": self.proxy.store.bytes(),
            "stored_objects": self.proxy.store.len(),
            "disk": disk,
            "fetches_in_flight": self.proxy.flights.len(),
        })
        .to_string()
    }

    /// Drops every stored variant of `url`; whether anything was stored.
    pub fn purge(&self, url: &str) -> bool {
        self.proxy.store.invalidate(url)
    }

    /// Drops everything stored; how many responses were.
    pub fn purge_all(&self) -> usize {
        self.proxy.store.clear()
    }

    /// Serves the endpoint on `listener` until `stop` fires.
    pub async fn serve(self, listener: TcpListener, metrics: Metrics, stop: CancellationToken) {
        while let Some((stream, peer)) = appnet_service::accept::next(&listener, &stop).await {
            let (admin, metrics) = (self.clone(), metrics.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let response = admin.respond(&request, &metrics);
                    async move { Ok::<_, Infallible>(response) }
                });
                let connection = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(Duration::from_secs(10))
                    .serve_connection(TokioIo::new(stream), service);
                if let Err(error) = connection.await {
                    tracing::debug!(%peer, %error, "admin connection ended with an error");
                }
            });
        }
    }

    fn respond(&self, request: &Request<Incoming>, metrics: &Metrics) -> Response<Full<Bytes>> {
        let url = request.uri().query().and_then(|query| {
            url::form_urlencoded::parse(query.as_bytes())
                .find(|(name, _)| name == "url")
                .map(|(_, value)| value.into_owned())
        });
        let (status, content_type, body) = match (request.method(), request.uri().path()) {
            (&Method::GET, "/stats") => (StatusCode::OK, "application/json", self.stats_json()),
            (&Method::GET, "/metrics") => (StatusCode::OK, metrics::CONTENT_TYPE, metrics.encode()),
            (&Method::POST, "/purge") => match url {
                Some(url) if self.purge(&url) => {
                    (StatusCode::OK, "text/plain", format!("purged {url}\n"))
                }
                Some(url) => {
                    (StatusCode::NOT_FOUND, "text/plain", format!("nothing stored for {url}\n"))
                }
                None => (StatusCode::BAD_REQUEST, "text/plain", "POST /purge?url=URL\n".into()),
            },
            (&Method::POST, "/purge-all") => {
                (StatusCode::OK, "text/plain", format!("purged {} responses\n", self.purge_all()))
            }
            (_, "/stats" | "/metrics" | "/purge" | "/purge-all") => {
                (StatusCode::METHOD_NOT_ALLOWED, "text/plain", "wrong method\n".into())
            }
            _ => (
                StatusCode::NOT_FOUND,
                "text/plain",
                "GET /stats, GET /metrics, POST /purge?url=URL, POST /purge-all\n".into(),
            ),
        };
        let mut response = Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = status;
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        response
    }
}
