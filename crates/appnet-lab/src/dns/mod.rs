//! The DNS experiment: a first lookup walked from the lab's roots (every server asked, every
//! referral, every round trip), the same lookup from the cache, a Zipf workload's hit ratio and
//! latency, a zone change reaching the replica by NOTIFY, and the primary stopped while the
//! replica keeps answering.

pub mod client;
pub mod hierarchy;

use std::time::Duration;

use rand::SeedableRng;
use serde::Serialize;

use crate::LabError;
use crate::report::Figure;
use crate::topology::Topology;
use crate::zipf::Zipf;
use hierarchy::Hierarchy;

/// Lab clients asking at once during the workload.
const CLIENTS: usize = 16;

/// How big the experiment is.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct DnsSettings {
    /// Names in the site zone that the workload draws from.
    pub names: usize,
    /// Queries in the workload.
    pub queries: usize,
    /// The Zipf exponent of the names' popularity.
    pub zipf_exponent: f64,
    /// Repeats of the cached lookup.
    pub cached_repeats: usize,
    /// The link every server sits behind (client to resolver, resolver to each authority);
    /// `None`: plain loopback.
    pub link: Option<crate::link::LinkSpec>,
    /// How the hosts are joined.
    pub topology: Topology,
}

/// What clients in one region saw.
#[derive(Debug, Clone, Serialize)]
pub struct RegionReport {
    /// The region and its link to the resolver.
    pub region: crate::link::Region,
    /// A name nobody asked before, from there.
    pub first_lookup: Figure,
    /// The same name again, from the cache.
    pub cached_lookup: Figure,
}

impl DnsSettings {
    /// `--quick` (well under a minute) or the full run.
    pub fn new(quick: bool) -> Self {
        if quick {
            Self {
                names: 500,
                queries: 3000,
                zipf_exponent: 1.0,
                cached_repeats: 20,
                link: None,
                topology: Topology::Loopback,
            }
        } else {
            Self {
                names: 5000,
                queries: 30_000,
                zipf_exponent: 1.0,
                cached_repeats: 100,
                link: None,
                topology: Topology::Loopback,
            }
        }
    }
}

/// One server asked during the first lookup.
#[derive(Debug, Clone, Serialize)]
pub struct PathStep {
    /// The server's address.
    pub server: String,
    /// The lab's name for it.
    pub server_name: String,
    /// The zone it was asked as.
    pub zone: String,
    /// The name asked (QNAME minimisation shows here).
    pub qname: String,
    /// What it said: referral, answer, nxdomain…
    pub result: String,
    /// The round trip.
    pub rtt: Figure,
}

/// Everything the DNS experiment measured.
#[derive(Debug, Clone, Serialize)]
pub struct DnsReport {
    /// The experiment's size.
    pub settings: DnsSettings,
    /// The lookup walked from the roots.
    pub first_lookup: Figure,
    /// Its path.
    pub path: Vec<PathStep>,
    /// The same lookup from the cache (mean of the repeats).
    pub cached_lookup: Figure,
    /// The workload's cache hit ratio, over all its queries.
    pub hit_ratio: Figure,
    /// The hit ratio in each tenth of the workload.
    pub hit_ratio_over_time: Vec<Figure>,
    /// The workload's mean, median and 99th-percentile latency.
    pub workload_latency: [Figure; 3],
    /// From the primary's reload to the replica answering the new record.
    pub notify_propagation: Figure,
    /// Mean latency of first-time lookups with both servers up, and with the primary stopped.
    pub failover_latency: [Figure; 2],
    /// Questions answered with the primary stopped, of those asked.
    pub failover_answered: [usize; 2],
    /// Client groups in other regions, each behind its own link to the resolver.
    pub regions: Vec<RegionReport>,
}

/// Runs the experiment, reporting progress through `progress`.
pub async fn run(
    settings: DnsSettings,
    regions: &[crate::link::Region],
    progress: &mut impl FnMut(&str),
) -> Result<DnsReport, LabError> {
    progress(
        "starting two roots, the lab. TLD, example.lab.'s primary and replica, and the resolver",
    );
    let mut lab = Hierarchy::start(settings.names, settings.link, settings.topology).await?;
    let result = experiment(&mut lab, settings, regions, progress).await;
    lab.shutdown().await;
    result
}

async fn experiment(
    lab: &mut Hierarchy,
    settings: DnsSettings,
    regions: &[crate::link::Region],
    progress: &mut impl FnMut(&str),
) -> Result<DnsReport, LabError> {
    let resolver = lab.resolver_addr;
    progress("first lookup of www.example.lab, from the roots");
    let first = client::ask(&lab.clients, resolver, "www.example.lab.", true)
        .await
        .ok_or_else(|| LabError::new("no answer to the first lookup"))?;
    if !first.has_address([192, 0, 2, 80]) {
        return Err(LabError::new("the first lookup gave a wrong answer"));
    }
    let trace = lab
        .resolver
        .recent_traces()
        .into_iter()
        .rev()
        .find(|t| &*t.qname == b"\x03www\x07example\x03lab\x00")
        .ok_or_else(|| LabError::new("the resolver kept no trace of the first lookup"))?;
    let names: Vec<(std::net::SocketAddr, &str)> =
        lab.authorities.iter().map(|a| (a.addr, a.name)).collect();
    let path = trace
        .hops
        .iter()
        .map(|hop| PathStep {
            server: hop.server.to_string(),
            server_name: names
                .iter()
                .find(|(a, _)| *a == hop.server)
                .map_or("?", |(_, n)| n)
                .to_owned(),
            zone: appnet_dns::zone::name::display(&hop.zone),
            qname: appnet_dns::zone::name::display(&hop.qname),
            result: hop.result.to_owned(),
            rtt: Figure::micros(hop.rtt),
        })
        .collect();

    progress("the same lookup from the cache");
    let mut cached = Vec::new();
    for _ in 0..settings.cached_repeats {
        let reply = client::ask(&lab.clients, resolver, "www.example.lab.", true)
            .await
            .ok_or_else(|| LabError::new("no cached answer"))?;
        cached.push(reply.elapsed);
    }

    progress(&format!(
        "{} queries over {} names with Zipf({}) popularity",
        settings.queries, settings.names, settings.zipf_exponent
    ));
    let zipf = Zipf::new(settings.names, settings.zipf_exponent);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(53);
    let asked: Vec<String> =
        (0..settings.queries).map(|_| format!("n{}.example.lab.", zipf.sample(&mut rng))).collect();
    let (hits_before, misses_before) = lab.resolver.hit_counts();
    let mut window_start = (hits_before, misses_before);
    let mut latencies = Vec::with_capacity(settings.queries);
    let mut over_time = Vec::new();
    // Tenths of the workload, one after the other; inside each, CLIENTS clients at once (so a
    // run with --rtt takes tens of round trips per client, not thousands).
    let window = settings.queries.div_ceil(10).max(1);
    for tenth in asked.chunks(window) {
        let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(CLIENTS));
        let mut clients = tokio::task::JoinSet::new();
        for name in tenth.iter().cloned() {
            let permit =
                permits.clone().acquire_owned().await.map_err(|e| LabError::new(e.to_string()))?;
            let host = lab.clients.clone();
            clients.spawn(async move {
                let reply = client::ask(&host, resolver, &name, true).await;
                drop(permit);
                reply.map(|r| r.elapsed).ok_or(name)
            });
        }
        while let Some(done) = clients.join_next().await {
            match done.map_err(|e| LabError::new(e.to_string()))? {
                Ok(elapsed) => latencies.push(elapsed),
                Err(name) => return Err(LabError::new(format!("no answer for {name}"))),
            }
        }
        let (hits, misses) = lab.resolver.hit_counts();
        over_time.push(Figure::ratio(
            hits - window_start.0,
            (hits - window_start.0) + (misses - window_start.1),
        ));
        window_start = (hits, misses);
    }
    let (hits, misses) = lab.resolver.hit_counts();
    let hit_ratio =
        Figure::ratio(hits - hits_before, (hits - hits_before) + (misses - misses_before));
    latencies.sort();

    progress("a zone change on the primary, NOTIFY to the replica");
    let new_zone = hierarchy::site_zone(settings.names, 2, "new A 192.0.2.200\n");
    std::fs::write(&lab.site_zone, new_zone).map_err(|e| LabError::new(e.to_string()))?;
    let started = tokio::time::Instant::now();
    let zones = lab.primary().zones.clone();
    let report = tokio::task::spawn_blocking(move || zones.reload())
        .await
        .map_err(|e| LabError::new(e.to_string()))?;
    for zone in report.changed {
        lab.notify_replica(zone);
    }
    lab.wait_for_replica("new.example.lab.", [192, 0, 2, 200]).await?;
    let notify_propagation = Figure::millis(started.elapsed());

    let mut region_reports = Vec::new();
    for (index, region) in regions.iter().enumerate() {
        let millis = region.link.rtt.as_secs_f64() * 1e3;
        progress(&format!("clients in region {} ({millis} ms from the resolver)", region.name));
        let (client, resolver_there) = lab.add_region(index as u8, region).await?;
        let name = format!("r{}.example.lab.", index % 10);
        let no_answer = || LabError::new(format!("no answer in region {}", region.name));
        let first =
            client::ask(&client, resolver_there, &name, true).await.ok_or_else(no_answer)?;
        let again =
            client::ask(&client, resolver_there, &name, true).await.ok_or_else(no_answer)?;
        region_reports.push(RegionReport {
            region: region.clone(),
            first_lookup: Figure::micros(first.elapsed),
            cached_lookup: Figure::micros(again.elapsed),
        });
    }

    progress("first-time lookups with both example.lab. servers up, then with the primary stopped");
    let fresh = |i: usize| format!("n{}.example.lab.", settings.names - 1 - i);
    let mut before = Vec::new();
    for i in 0..10 {
        if let Some(reply) = client::ask(&lab.clients, resolver, &fresh(i), true).await {
            before.push(reply.elapsed);
        }
    }
    lab.primary().stop().await;
    let mut after = Vec::new();
    let asked = 20;
    for i in 10..10 + asked {
        if let Some(reply) = client::ask(&lab.clients, resolver, &fresh(i), true)
            .await
            .filter(|r| r.rcode == 0 && !r.addresses.is_empty())
        {
            after.push(reply.elapsed);
        }
    }

    Ok(DnsReport {
        settings,
        first_lookup: Figure::micros(first.elapsed),
        path,
        cached_lookup: Figure::micros(mean(&cached)),
        hit_ratio,
        hit_ratio_over_time: over_time,
        workload_latency: [
            Figure::micros(mean(&latencies)),
            Figure::micros(percentile(&latencies, 50)),
            Figure::micros(percentile(&latencies, 99)),
        ],
        notify_propagation,
        failover_latency: [Figure::micros(mean(&before)), Figure::micros(mean(&after))],
        failover_answered: [after.len(), asked],
        regions: region_reports,
    })
}

fn mean(values: &[Duration]) -> Duration {
    if values.is_empty() {
        return Duration::ZERO;
    }
    values.iter().sum::<Duration>() / values.len() as u32
}

/// The `p`th percentile of sorted `values`.
fn percentile(values: &[Duration], p: usize) -> Duration {
    if values.is_empty() {
        return Duration::ZERO;
    }
    values[(values.len() * p / 100).min(values.len() - 1)]
}
