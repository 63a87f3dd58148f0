//! The cache experiment's clients: keep-alive connections to the forward proxy asking for
//! catalogue objects in absolute form, paced to a target rate, each answer recorded with
//! when it came, how long it took, how many bytes it carried and what the cache said it did
//! (`Cache-Status`).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::{Request, StatusCode};

use crate::LabError;

/// What the cache did for one request, read from its `Cache-Status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Served from the store without asking the origin.
    Hit,
    /// Served from a copy another request's fetch had just stored (request collapsing).
    Collapsed,
    /// A stored copy revalidated upstream: the origin said 304.
    Revalidated,
    /// Fetched whole from the origin.
    Miss,
}

impl Verdict {
    /// From a `Cache-Status` value such as `appnet; hit; ttl=3`.
    pub fn of(status: &str) -> Self {
        let mut parameters = status.split(';').map(str::trim).skip(1);
        let first = parameters.next().unwrap_or_default();
        if first == "hit" {
            Self::Hit
        } else if status.contains("collapsed") {
            Self::Collapsed
        } else if status.contains("fwd-status=304") {
            Self::Revalidated
        } else {
            Self::Miss
        }
    }
}

/// One answered request.
#[derive(Debug, Clone, Copy)]
pub struct Answer {
    /// When it was answered, from the workload's start.
    pub at: Duration,
    /// From sending the request to the last byte of the body.
    pub latency: Duration,
    /// Body bytes.
    pub bytes: u64,
    /// What the cache did.
    pub verdict: Verdict,
}

/// The workload: `urls` asked in order at `rate` per second at most, by `connections`
/// clients from `source` through the proxy at `proxy`.
pub async fn play(
    source: IpAddr,
    proxy: SocketAddr,
    urls: Vec<String>,
    connections: usize,
    rate: f64,
) -> Result<Vec<Answer>, LabError> {
    let started = Instant::now();
    let urls = Arc::new(urls);
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..connections.max(1) {
        workers.spawn(client(source, proxy, urls.clone(), next.clone(), started, rate));
    }
    let mut answers = Vec::with_capacity(urls.len());
    while let Some(done) = workers.join_next().await {
        answers.extend(done.map_err(|e| LabError::new(e.to_string()))??);
    }
    answers.sort_by_key(|a| a.at);
    Ok(answers)
}

/// One keep-alive connection taking the next URL until none is left, each no earlier than
/// its place in the schedule.
async fn client(
    source: IpAddr,
    proxy: SocketAddr,
    urls: Arc<Vec<String>>,
    next: Arc<AtomicUsize>,
    started: Instant,
    rate: f64,
) -> Result<Vec<Answer>, LabError> {
    let failed = |what: &str, error: &dyn std::fmt::Display| {
        LabError::new(format!("{what} the proxy at {proxy} from {source}: {error}"))
    };
    let mut sender = crate::origin::fetch::keep_alive(source, proxy).await?;
    let mut answers = Vec::new();
    loop {
        let index = next.fetch_add(1, Ordering::Relaxed);
        let Some(url) = urls.get(index) else { return Ok(answers) };
        let due = started + Duration::from_secs_f64(index as f64 / rate.max(1e-9));
        tokio::time::sleep_until(due.into()).await;
        sender.ready().await.map_err(|e| failed("keep-alive with", &e))?;
        let request = Request::get(url.as_str())
            .body(Empty::<Bytes>::new())
            .map_err(|e| failed("request to", &e))?;
        let sent = Instant::now();
        let response = sender.send_request(request).await.map_err(|e| failed("GET from", &e))?;
        if response.status() != StatusCode::OK {
            return Err(LabError::new(format!("{url}: {} through the proxy", response.status())));
        }
        let status = response
            .headers()
            .get("cache-status")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = response.into_body().collect().await.map_err(|e| failed("body from", &e))?;
        let now = Instant::now();
        answers.push(Answer {
            at: now - started,
            latency: now - sent,
            bytes: body.to_bytes().len() as u64,
            verdict: Verdict::of(&status),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_status_values_read_as_verdicts() {
        assert_eq!(Verdict::of("appnet; hit; ttl=3"), Verdict::Hit);
        assert_eq!(
            Verdict::of("appnet; hit; fwd=stale; detail=stale-while-revalidate; ttl=-1"),
            Verdict::Hit
        );
        assert_eq!(Verdict::of("appnet; fwd=uri-miss; collapsed; ttl=2"), Verdict::Collapsed);
        assert_eq!(Verdict::of("appnet; fwd=stale; fwd-status=304; ttl=2"), Verdict::Revalidated);
        assert_eq!(Verdict::of("appnet; fwd=uri-miss; fwd-status=200; stored"), Verdict::Miss);
        assert_eq!(Verdict::of(""), Verdict::Miss);
    }
}
