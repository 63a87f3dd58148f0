//! What the cache did, counted: Prometheus counters (`appnet_proxy_*` on `--metrics`) and
//! the hit ratios the admin endpoint and the lab report.

use appnet_service::metrics::{Counter, Gauge, Metrics};

/// The proxy's counters; each is an atomic, bumped without a lock.
#[derive(Debug, Clone, Default)]
pub struct ProxyStats {
    /// Requests answered (every method).
    pub requests: Counter,
    /// Answered from a stored response without asking the origin (fresh, or stale by
    /// stale-while-revalidate or stale-if-error).
    pub hits: Counter,
    /// Answered from a response another request's fetch stored (request collapsing).
    pub collapsed: Counter,
    /// GET/HEAD that had to go upstream.
    pub misses: Counter,
    /// Stale responses revalidated upstream and confirmed by a 304.
    pub revalidated: Counter,
    /// Stale responses served while a refresh ran (stale-while-revalidate).
    pub stale_while_revalidate: Counter,
    /// Stale responses served because the origin failed (stale-if-error).
    pub stale_if_error: Counter,
    /// Requests sent to origins (fetches, revalidations, refreshes, other methods).
    pub upstream_requests: Counter,
    /// Body bytes sent to clients from stored responses.
    pub bytes_from_cache: Counter,
    /// Body bytes received from origins.
    pub bytes_from_upstream: Counter,
    /// Bytes the memory store holds now.
    pub stored_bytes: Gauge,
}

impl ProxyStats {
    /// Counters registered in `metrics` under `proxy_*`.
    pub fn registered(metrics: &Metrics) -> Self {
        Self {
            requests: metrics.counter("proxy_requests", "Requests answered by the proxy"),
            hits: metrics.counter("proxy_cache_hits", "Requests answered from a stored response"),
            collapsed: metrics
                .counter("proxy_collapsed", "Requests answered by another request's fetch"),
            misses: metrics.counter("proxy_cache_misses", "GET/HEAD requests that went upstream"),
            revalidated: metrics
                .counter("proxy_revalidated", "Stale responses confirmed by a 304 from upstream"),
            stale_while_revalidate: metrics.counter(
                "proxy_stale_while_revalidate",
                "Stale responses served while refreshed in the background",
            ),
            stale_if_error: metrics
                .counter("proxy_stale_if_error", "Stale responses served for a failing origin"),
            upstream_requests: metrics
                .counter("proxy_upstream_requests", "Requests sent to origin servers"),
            bytes_from_cache: metrics
                .counter("proxy_bytes_from_cache", "Body bytes served from stored responses"),
            bytes_from_upstream: metrics
                .counter("proxy_bytes_from_upstream", "Body bytes received from origin servers"),
            stored_bytes: metrics.gauge("proxy_stored_bytes", "Bytes of responses stored"),
        }
    }

    /// Hits (collapsed ones included) over GET/HEAD requests, 0 before any.
    pub fn hit_ratio(&self) -> f64 {
        let hits = self.hits.get() + self.collapsed.get();
        let all = hits + self.misses.get();
        if all == 0 { 0.0 } else { hits as f64 / all as f64 }
    }
}
