//! The health checker: every route's origins asked for the health path in turn, each result
//! fed to the route's [`crate::origins::OriginPool`], a log line when an origin goes out or
//! comes back. Real requests report too (see `cached`), so a dead origin is noticed at once
//! under load and by the checker when idle.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::{Request, Uri};
use tokio_util::sync::CancellationToken;

use crate::routes::Route;
use crate::upstream::Upstream;

/// Checks `route`'s origins until `stop` fires.
pub(crate) async fn check(route: Arc<Route>, upstream: Upstream, stop: CancellationToken) {
    let (rules, count) = {
        let pool = route.pool();
        (pool.rules().clone(), pool.len())
    };
    let mut ticker = tokio::time::interval(rules.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = ticker.tick() => {}
        }
        for index in 0..count {
            let origin = route.pool().uri(index).clone();
            let healthy = probe(&upstream, &origin, &rules.path, rules.timeout).await;
            let mut pool = route.pool();
            if pool.report(index, healthy) {
                if pool.is_up(index) {
                    tracing::info!(%origin, "origin healthy again: back in use");
                } else {
                    tracing::warn!(%origin, path = %rules.path, "origin failing its checks: out of use");
                }
            }
        }
    }
}

/// Whether `origin` answers `GET path` with 2xx or 3xx within `timeout`.
async fn probe(
    upstream: &Upstream,
    origin: &Uri,
    path: &str,
    timeout: std::time::Duration,
) -> bool {
    let Some(authority) = origin.authority() else { return false };
    let uri = format!("{}://{authority}{path}", origin.scheme_str().unwrap_or("http"));
    let Ok(request) = Request::get(uri)
        .header(hyper::header::USER_AGENT, "appnet-proxy-health-check")
        .body(Empty::<Bytes>::new().map_err(|never| match never {}).boxed())
    else {
        return false;
    };
    let answer = tokio::time::timeout(timeout, async {
        let response = crate::upstream::request(upstream, request).await.ok()?;
        let ok = response.status().is_success() || response.status().is_redirection();
        // Read the body so the connection goes back to the pool.
        response.into_body().collect().await.ok()?;
        Some(ok)
    });
    matches!(answer.await, Ok(Some(true)))
}
