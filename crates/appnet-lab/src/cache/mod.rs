//! The caching experiment: a pool of clients behind appnet's forward proxy plays a Zipf
//! workload over the origin's catalogue, the origin a round trip away. The report shows the
//! shared cache's hit ratio and byte hit ratio over time (a cold cache warming up, then
//! holding what it can of a catalogue larger than itself), the load taken off the origin
//! (requests and bytes it did not have to serve), the latency of hits against misses, and
//! revalidations (304: the copy was still good) against full fetches. Catalogue objects are
//! served with a short `max-age`, so popular ones go stale and are revalidated during the run.

pub mod clients;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use appnet_http::files::rules::{Rule, RuleTable, Rules};
use appnet_http::server::{self, ServeSettings};
use appnet_http::stats::PeerStats;
use appnet_proxy::policy::Policy;
use appnet_proxy::server::ProxySettings;
use appnet_service::metrics::Metrics;
use rand::SeedableRng;
use serde::Serialize;

use crate::LabError;
use crate::link::LinkSpec;
use crate::net::{LabNet, free_port};
use crate::origin::site::{self, SiteShape};
use crate::report::Figure;
use crate::topology::Topology;
use crate::zipf::Zipf;
use clients::{Answer, Verdict};

/// The origin's host number: 127.53.0.82 or 198.18.0.82.
const ORIGIN: u8 = 82;

/// The proxy's host: 127.53.2.31 or 198.18.2.31 (Squid's port, in spirit).
const PROXY: (u8, u8) = (2, 31);

/// The clients' host: 127.53.3.1 or 198.18.3.1.
const CLIENTS: (u8, u8) = (3, 1);

/// Slices of the run the hit ratio is shown over.
const WINDOWS: usize = 10;

/// How big the experiment is.
#[derive(Debug, Clone, Serialize)]
pub struct CacheSettings {
    /// Objects in the origin's catalogue (sizes 1–256 KiB, log-uniform).
    pub objects: usize,
    /// Requests the clients make in all.
    pub requests: usize,
    /// Clients (keep-alive connections to the proxy) at once.
    pub clients: usize,
    /// Requests per second the clients aim for.
    pub rate: f64,
    /// The Zipf exponent of the catalogue's popularity.
    pub zipf_exponent: f64,
    /// The cache's memory as a fraction of the catalogue's bytes.
    pub cache_fraction: f64,
    /// The `max-age` the origin gives catalogue objects, seconds.
    pub max_age: u64,
    /// The link between the proxy and the origin.
    pub origin_link: LinkSpec,
    /// How the hosts are joined.
    pub topology: Topology,
}

impl CacheSettings {
    /// `--quick` or the full run.
    pub fn new(quick: bool) -> Self {
        let (objects, requests, rate) =
            if quick { (400, 1500, 500.0) } else { (2000, 8000, 800.0) };
        Self {
            objects,
            requests,
            clients: 16,
            rate,
            zipf_exponent: 0.8,
            cache_fraction: 0.25,
            max_age: 2,
            origin_link: LinkSpec { rtt: Duration::from_millis(30), bandwidth: None },
            topology: Topology::InProcess,
        }
    }
}

/// Median and 90th percentile of one kind of answer's latency, and how many there were.
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    /// Answers of this kind.
    pub count: usize,
    /// Their median latency.
    pub median: Figure,
    /// Their 90th percentile.
    pub p90: Figure,
}

/// Everything the caching experiment measured.
#[derive(Debug, Clone, Serialize)]
pub struct CacheReport {
    /// The experiment's size.
    pub settings: CacheSettings,
    /// Where the proxy listened and the origin answered.
    pub proxy: String,
    /// The origin as the proxy reached it.
    pub origin: String,
    /// Bytes of the catalogue.
    pub catalogue_bytes: Figure,
    /// The cache's memory.
    pub cache_bytes: Figure,
    /// Requests answered (all 200).
    pub requests: usize,
    /// Answered from the store (collapsed requests included), of all.
    pub hit_ratio: Figure,
    /// Body bytes answered from the store, of all.
    pub byte_hit_ratio: Figure,
    /// The hit ratio in each tenth of the run.
    pub hit_ratio_over_time: Vec<Figure>,
    /// The byte hit ratio in each tenth of the run.
    pub byte_hit_ratio_over_time: Vec<Figure>,
    /// Requests the origin served (full fetches and 304s) and bytes it sent.
    pub origin_requests: u64,
    /// Body bytes the origin sent.
    pub origin_bytes: Figure,
    /// Body bytes the clients received.
    pub client_bytes: Figure,
    /// Requests the origin did not have to serve, of all the clients made.
    pub offload_requests: Figure,
    /// Bytes the origin did not have to send, of all the clients received.
    pub offload_bytes: Figure,
    /// Latency of hits, of full fetches (misses) and of revalidations.
    pub latency: [Latency; 3],
    /// Stale copies revalidated with a 304.
    pub revalidated: usize,
    /// Objects fetched whole from the origin.
    pub full_fetches: usize,
    /// Requests that waited for another's fetch (request collapsing).
    pub collapsed: usize,
}

/// Runs the experiment, reporting progress through `progress`.
pub async fn run(
    settings: CacheSettings,
    progress: &mut impl FnMut(&str),
) -> Result<CacheReport, LabError> {
    let dir = tempfile::tempdir()?;
    let root = dir.path().to_path_buf();
    let shape = SiteShape {
        pages: 0,
        stylesheets: 0,
        scripts: 0,
        images_per_page: 0,
        objects: settings.objects,
    };
    progress(&format!("generating the origin's catalogue of {} objects", settings.objects));
    let site = tokio::task::spawn_blocking(move || site::generate(&root, shape))
        .await
        .map_err(|e| LabError::new(e.to_string()))??;
    let catalogue_bytes: u64 = site.catalogue.iter().map(|(_, size)| size).sum();
    let cache_bytes = (catalogue_bytes as f64 * settings.cache_fraction) as usize;

    let link = settings.origin_link;
    let mut net = LabNet::new(settings.topology, Some(link))?;
    let origin_host = net.host(0, ORIGIN, Some(link))?;
    let port = if net.in_namespaces() { 80 } else { free_port(origin_host.ip)? };
    let backend = SocketAddr::new(origin_host.ip, port);
    let short_lived = RuleTable {
        pattern: "/objects/".to_owned(),
        expires: None,
        cache_control: Some(format!("max-age={}", settings.max_age)),
        preload: Vec::new(),
    };
    let stats = Arc::new(PeerStats::default());
    let serve = ServeSettings {
        root: dir.path().to_path_buf(),
        listen: vec![backend],
        access_log: false,
        peer_stats: Some(stats.clone()),
        rules: Rules(vec![Rule::from_table(&short_lived).map_err(LabError::new)?]),
        ..ServeSettings::default()
    };
    progress(&format!(
        "starting the origin (appnet http serve) {:.0} ms from the proxy",
        link.rtt.as_secs_f64() * 1e3
    ));
    let origin_server = origin_host.run(async move { server::spawn(serve).await }).await??;
    // On loopback the link is a relay in front of the origin; in namespaces, the origin's own.
    let origin = match net.relay_link() {
        Some(spec) => {
            let front = SocketAddr::new(origin_host.ip, free_port(origin_host.ip)?);
            net.relay(front, backend, spec).await?;
            front
        }
        None => backend,
    };

    let proxy_host = net.host(PROXY.0, PROXY.1, None)?;
    let proxy_port = if net.in_namespaces() { 3128 } else { free_port(proxy_host.ip)? };
    let proxy_addr = SocketAddr::new(proxy_host.ip, proxy_port);
    let lab_networks = ["127.0.0.0/8", "198.18.0.0/15"];
    let proxy_settings = ProxySettings {
        listen: vec![proxy_addr],
        routes: Vec::new(),
        health: appnet_proxy::origins::HealthRules::default(),
        policy: Policy {
            allow: lab_networks.iter().filter_map(|n| n.parse().ok()).collect(),
            ..Policy::default()
        },
        cache_bytes,
        cache_dir: None,
        access_log: false,
        targeted: Vec::new(),
        strip_targeted: false,
    };
    progress(&format!(
        "starting the forward proxy (appnet proxy) at {proxy_addr} with {} of memory ({:.0} % of the catalogue)",
        Figure::bytes(cache_bytes as u64).human(),
        settings.cache_fraction * 100.0
    ));
    let proxy = proxy_host
        .run(async move { appnet_proxy::server::spawn(proxy_settings, &Metrics::new()).await })
        .await??;

    let zipf = Zipf::new(site.catalogue.len(), settings.zipf_exponent);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3128);
    let urls: Vec<String> = (0..settings.requests)
        .map(|_| format!("http://{origin}{}", site.catalogue[zipf.sample(&mut rng)].0))
        .collect();
    let clients_host = net.host(CLIENTS.0, CLIENTS.1, None)?;
    progress(&format!(
        "{} clients ({}) ask for {} Zipf({}) objects at {:.0}/s through the proxy",
        settings.clients, clients_host.ip, settings.requests, settings.zipf_exponent, settings.rate
    ));
    let source: IpAddr = clients_host.ip;
    let (connections, rate) = (settings.clients, settings.rate);
    let answers = clients_host
        .run(async move { clients::play(source, proxy_addr, urls, connections, rate).await })
        .await??;
    proxy.shutdown();
    origin_server.shutdown().await;
    drop(net);

    let served = stats.snapshot();
    let origin_requests: u64 = served.values().map(|c| c.requests).sum();
    let origin_bytes: u64 = served.values().map(|c| c.bytes).sum();
    Ok(summarise(
        settings,
        &answers,
        Summary {
            proxy: proxy_addr.to_string(),
            origin: origin.to_string(),
            catalogue_bytes,
            cache_bytes: cache_bytes as u64,
            origin_requests,
            origin_bytes,
        },
    ))
}

/// What the experiment knows besides the answers.
struct Summary {
    proxy: String,
    origin: String,
    catalogue_bytes: u64,
    cache_bytes: u64,
    origin_requests: u64,
    origin_bytes: u64,
}

fn summarise(settings: CacheSettings, answers: &[Answer], known: Summary) -> CacheReport {
    let from_store = |a: &&Answer| matches!(a.verdict, Verdict::Hit | Verdict::Collapsed);
    let ratios = |slice: &[Answer]| {
        let hits = slice.iter().filter(from_store).count() as u64;
        let hit_bytes: u64 = slice.iter().filter(from_store).map(|a| a.bytes).sum();
        let bytes: u64 = slice.iter().map(|a| a.bytes).sum();
        (Figure::ratio(hits, slice.len() as u64), Figure::ratio(hit_bytes, bytes))
    };
    let (hit_ratio, byte_hit_ratio) = ratios(answers);
    let end = answers.last().map_or(Duration::ZERO, |a| a.at);
    let mut over_time = (Vec::new(), Vec::new());
    for window in 0..WINDOWS {
        let (from, to) =
            (end * window as u32 / WINDOWS as u32, end * (window as u32 + 1) / WINDOWS as u32);
        let slice: Vec<Answer> = answers
            .iter()
            .filter(|a| a.at >= from && (a.at < to || (window + 1 == WINDOWS && a.at <= to)))
            .copied()
            .collect();
        let (hits, bytes) = ratios(&slice);
        over_time.0.push(hits);
        over_time.1.push(bytes);
    }
    let latency = |verdict: Verdict| {
        let mut times: Vec<Duration> =
            answers.iter().filter(|a| a.verdict == verdict).map(|a| a.latency).collect();
        times.sort();
        let at = |q: f64| {
            times
                .get(((times.len() as f64 * q) as usize).min(times.len().saturating_sub(1)))
                .copied()
                .unwrap_or_default()
        };
        Latency {
            count: times.len(),
            median: Figure::millis(at(0.5)),
            p90: Figure::millis(at(0.9)),
        }
    };
    let count = |verdict: Verdict| answers.iter().filter(|a| a.verdict == verdict).count();
    let client_bytes: u64 = answers.iter().map(|a| a.bytes).sum();
    let requests = answers.len() as u64;
    CacheReport {
        proxy: known.proxy,
        origin: known.origin,
        catalogue_bytes: Figure::bytes(known.catalogue_bytes),
        cache_bytes: Figure::bytes(known.cache_bytes),
        requests: answers.len(),
        hit_ratio,
        byte_hit_ratio,
        hit_ratio_over_time: over_time.0,
        byte_hit_ratio_over_time: over_time.1,
        origin_requests: known.origin_requests,
        origin_bytes: Figure::bytes(known.origin_bytes),
        client_bytes: Figure::bytes(client_bytes),
        offload_requests: Figure::ratio(requests.saturating_sub(known.origin_requests), requests),
        offload_bytes: Figure::ratio(client_bytes.saturating_sub(known.origin_bytes), client_bytes),
        latency: [latency(Verdict::Hit), latency(Verdict::Miss), latency(Verdict::Revalidated)],
        revalidated: count(Verdict::Revalidated),
        full_fetches: count(Verdict::Miss),
        collapsed: count(Verdict::Collapsed),
        settings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(at_ms: u64, bytes: u64, verdict: Verdict) -> Answer {
        let at = Duration::from_millis(at_ms);
        Answer {
            at,
            latency: Duration::from_millis(if verdict == Verdict::Hit { 1 } else { 30 }),
            bytes,
            verdict,
        }
    }

    #[test]
    fn ratios_offload_and_latencies_come_from_the_answers() {
        let answers: Vec<Answer> = (0..100)
            .map(|i| {
                let verdict = match i {
                    0..10 => Verdict::Miss,
                    10..20 => Verdict::Revalidated,
                    _ => Verdict::Hit,
                };
                answer(i * 10, 1000, verdict)
            })
            .collect();
        let known = Summary {
            proxy: "p".into(),
            origin: "o".into(),
            catalogue_bytes: 1,
            cache_bytes: 1,
            origin_requests: 20,
            origin_bytes: 10_000,
        };
        let report = summarise(CacheSettings::new(true), &answers, known);
        assert!((report.hit_ratio.value - 0.8).abs() < 1e-9);
        assert!((report.byte_hit_ratio.value - 0.8).abs() < 1e-9);
        assert_eq!(report.hit_ratio_over_time.len(), WINDOWS);
        assert_eq!(report.hit_ratio_over_time[0].value, 0.0, "the first tenth: all misses");
        assert_eq!(report.hit_ratio_over_time[9].value, 1.0);
        assert!((report.offload_requests.value - 0.8).abs() < 1e-9);
        assert!((report.offload_bytes.value - 0.9).abs() < 1e-9);
        assert_eq!((report.revalidated, report.full_fetches, report.collapsed), (10, 10, 0));
        assert_eq!(report.latency[0].count, 80);
        assert!((report.latency[0].median.value - 1.0).abs() < 1e-9);
        assert!((report.latency[1].p90.value - 30.0).abs() < 1e-9);
    }
}
