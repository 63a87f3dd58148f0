//! The HTTP experiment: the Page Load Time of one page under every fetching strategy —
//! `http1.0`, `persistent`, `pipelined`, `parallel:6`, `h2` — over links of several round-trip
//! times and bandwidths, with a waterfall of each mode at the slowest link; what br/gzip
//! compression changes; and the repeat view through a browser cache, each copy revalidated,
//! against the full load. The page is the lab origin's generated front page; the loader is
//! `appnet http load`'s. The report says which mode wins at which RTT, from this run's numbers.

use std::net::SocketAddr;
use std::time::Duration;

use appnet_http::files::rules::{Rule, RuleTable, Rules};
use appnet_http::loader::cache::PrivateCache;
use appnet_http::loader::load::{self, LoadOptions};
use appnet_http::loader::mode::Mode;
use appnet_http::loader::record::PageLoad;
use appnet_http::loader::waterfall;
use appnet_http::server::{self, ServeSettings};
use serde::Serialize;

use crate::LabError;
use crate::host::LabHost;
use crate::link::LinkSpec;
use crate::net::{LabNet, free_port};
use crate::origin::site::{self, SiteShape};
use crate::report::Figure;
use crate::topology::Topology;

/// The origin's host number for this experiment: 127.53.0.81 or 198.18.0.81.
const ORIGIN: u8 = 81;

/// How big the experiment is.
#[derive(Debug, Clone, Serialize)]
pub struct PageLoadSettings {
    /// The page: its stylesheets, scripts and images.
    pub site: SiteShape,
    /// Round-trip times tried.
    pub rtts: Vec<Duration>,
    /// Bandwidths tried, bits per second.
    pub bandwidths: Vec<u64>,
    /// How the hosts are joined (delay needs namespaces with netem, else in-process links).
    pub topology: Topology,
    /// Loads of each mode under each link, taken in turns (every mode once, then again), so
    /// that the figures are medians and the findings can tell a win from noise.
    pub samples: usize,
}

impl PageLoadSettings {
    /// `--quick` or the full run.
    pub fn new(quick: bool) -> Self {
        let (images_per_page, rtts, bandwidths, samples) = if quick {
            (12, vec![5, 40], vec![10_000_000, 100_000_000], 3)
        } else {
            (40, vec![10, 50, 100], vec![5_000_000, 50_000_000], 5)
        };
        Self {
            site: SiteShape { pages: 1, stylesheets: 3, scripts: 4, images_per_page, objects: 0 },
            rtts: rtts.into_iter().map(Duration::from_millis).collect(),
            bandwidths,
            topology: Topology::InProcess,
            samples,
        }
    }
}

/// One mode's load under one link.
#[derive(Debug, Clone, Serialize)]
pub struct ModeLoad {
    /// The mode.
    pub mode: String,
    /// Page Load Time: the median of the samples.
    pub plt: Figure,
    /// The fastest and the slowest sample.
    pub plt_range: [Figure; 2],
    /// Connections opened.
    pub connections: usize,
    /// Requests made.
    pub requests: usize,
    /// Body bytes over the wire.
    pub bytes: Figure,
}

/// Every mode under one link.
#[derive(Debug, Clone, Serialize)]
pub struct Condition {
    /// The link.
    pub link: LinkSpec,
    /// One per mode, in the order run.
    pub loads: Vec<ModeLoad>,
    /// The fastest mode here.
    pub fastest: String,
}

/// Everything the HTTP experiment measured.
#[derive(Debug, Clone, Serialize)]
pub struct PageLoadReport {
    /// The experiment's size.
    pub settings: PageLoadSettings,
    /// Resources on the page (the document excluded).
    pub page_resources: usize,
    /// One per (RTT, bandwidth).
    pub conditions: Vec<Condition>,
    /// At the slowest link, parallel:6, accepting only br, only gzip, then nothing (identity):
    /// the PLT of each.
    pub compression: [Figure; 3],
    /// Body bytes over the wire of the same three loads.
    pub compression_bytes: [Figure; 3],
    /// At the slowest link, parallel:6: a full load, then the repeat view through the
    /// browser cache, every copy revalidated (the origin says `no-cache`).
    pub repeat_view: [Figure; 2],
    /// Requests answered 304 in the repeat view, of all it made.
    pub revalidated: [usize; 2],
    /// Sentences stating which mode won where, from the numbers above.
    pub findings: Vec<String>,
    /// The waterfalls at the slowest link, one per mode (SVG), for the HTML report.
    #[serde(skip)]
    pub waterfalls: Vec<(String, String)>,
}

/// Runs the experiment, reporting progress through `progress`.
pub async fn run(
    settings: PageLoadSettings,
    progress: &mut impl FnMut(&str),
) -> Result<PageLoadReport, LabError> {
    let dir = tempfile::tempdir()?;
    let root = dir.path().to_path_buf();
    let shape = settings.site;
    let site = tokio::task::spawn_blocking(move || site::generate(&root, shape))
        .await
        .map_err(|e| LabError::new(e.to_string()))??;
    let page = site.pages.first().ok_or_else(|| LabError::new("the site has no page"))?;
    let page_resources = page.resources.len();
    let mut net = LabNet::new(settings.topology, None)?;
    let origin_host = net.host(0, ORIGIN, None)?;
    let port = if net.in_namespaces() { 80 } else { free_port(origin_host.ip)? };
    let backend = SocketAddr::new(origin_host.ip, port);
    // Every copy must be revalidated before reuse, so the repeat view shows validation.
    let no_cache = RuleTable {
        pattern: "/".to_owned(),
        expires: Some("epoch".to_owned()),
        cache_control: None,
        preload: Vec::new(),
    };
    let serve = ServeSettings {
        root: dir.path().to_path_buf(),
        listen: vec![backend],
        access_log: false,
        rules: Rules(vec![Rule::from_table(&no_cache).map_err(LabError::new)?]),
        ..ServeSettings::default()
    };
    progress(&format!("an origin with a page of {page_resources} resources"));
    let running = origin_host.run(async move { server::spawn(serve).await }).await??;

    let mut links = Vec::new();
    for rtt in &settings.rtts {
        for bandwidth in &settings.bandwidths {
            links.push(LinkSpec { rtt: *rtt, bandwidth: Some(*bandwidth) });
        }
    }
    let mut conditions = Vec::new();
    let mut waterfalls = Vec::new();
    let mut compression = [Figure::millis(Duration::ZERO); 3];
    let mut compression_bytes = [Figure::bytes(0); 3];
    let mut repeat_view = [Figure::millis(Duration::ZERO); 2];
    let mut revalidated = [0; 2];
    let slowest = links.iter().copied().max_by_key(|l| (l.rtt, std::cmp::Reverse(l.bandwidth)));
    for (index, link) in links.iter().enumerate() {
        // Each link has its own client host (a namespace behind it) or relay (on loopback).
        let third = 30 + index as u8;
        let (client, target) = net.clients_behind(third, *link, backend, ORIGIN).await?;
        let url = url::Url::parse(&format!("http://{target}{}", page.path))
            .map_err(|e| LabError::new(e.to_string()))?;
        let samples = settings.samples.max(1);
        let mut taken: Vec<Vec<PageLoad>> = Mode::COMPARED.iter().map(|_| Vec::new()).collect();
        for round in 1..=samples {
            progress(&format!(
                "every mode at {:.0} ms, {} Mbit/s ({round} of {samples})",
                link.rtt.as_secs_f64() * 1e3,
                link.bandwidth.unwrap_or(0) / 1_000_000
            ));
            for (mode, of_mode) in Mode::COMPARED.into_iter().zip(&mut taken) {
                let options = LoadOptions { mode, ..LoadOptions::default() };
                of_mode.push(load_on(&client, &url, options).await?);
            }
        }
        let mut loads = Vec::new();
        for (mode, mut of_mode) in Mode::COMPARED.into_iter().zip(taken) {
            of_mode.sort_by_key(|load| load.plt);
            let median = &of_mode[of_mode.len() / 2];
            if Some(*link) == slowest {
                waterfalls.push((mode.to_string(), waterfall::svg(median)));
            }
            let (first, last) = (&of_mode[0], &of_mode[of_mode.len() - 1]);
            loads.push(ModeLoad {
                mode: mode.to_string(),
                plt: Figure::millis(median.plt),
                plt_range: [Figure::millis(first.plt), Figure::millis(last.plt)],
                connections: median.connections,
                requests: median.entries.len(),
                bytes: Figure::bytes(median.bytes),
            });
        }
        if Some(*link) == slowest {
            for (index, coding) in CODINGS.into_iter().enumerate() {
                progress(&format!("parallel:6 accepting {coding} only, at the slowest link"));
                let options = LoadOptions { accept_encoding: coding, ..LoadOptions::default() };
                let loaded = load_on(&client, &url, options).await?;
                compression[index] = Figure::millis(loaded.plt);
                compression_bytes[index] = Figure::bytes(loaded.bytes);
            }
            progress("parallel:6 again, through the browser cache (the repeat view)");
            let (first, repeat) = repeat_on(&client, &url).await?;
            repeat_view = [Figure::millis(first.plt), Figure::millis(repeat.plt)];
            let answered = repeat.entries.iter().filter(|e| e.cache == Some("revalidated")).count();
            revalidated = [answered, repeat.entries.len()];
        }
        let fastest = loads
            .iter()
            .min_by(|a, b| a.plt.value.total_cmp(&b.plt.value))
            .map_or_else(String::new, |l| l.mode.clone());
        conditions.push(Condition { link: *link, loads, fastest });
    }
    running.shutdown().await;
    drop(net);
    let mut findings = findings(&conditions);
    if let Some(link) = slowest {
        findings.push(compression_finding(link, &compression, &compression_bytes));
    }
    Ok(PageLoadReport {
        settings,
        page_resources,
        conditions,
        compression,
        compression_bytes,
        repeat_view,
        revalidated,
        findings,
        waterfalls,
    })
}

/// The Accept-Encoding of the compression loads, in the order of
/// [`PageLoadReport::compression`].
pub const CODINGS: [&str; 3] = ["br", "gzip", "identity"];

/// Loads `url` from `client`'s host.
async fn load_on(
    client: &LabHost,
    url: &url::Url,
    options: LoadOptions,
) -> Result<PageLoad, LabError> {
    let url = url.clone();
    let loaded = client
        .run(async move { load::load(&url, &options).await })
        .await?
        .map_err(|e| LabError::new(e.to_string()))?;
    whole(loaded)
}

/// `page`, if it finished within its time: a load the timeout cut short has no PLT to compare.
fn whole(page: PageLoad) -> Result<PageLoad, LabError> {
    if page.timed_out {
        return Err(LabError::new(format!("{} ({}): the load timed out", page.url, page.mode)));
    }
    Ok(page)
}

/// A full load from `client`, then the same through the cache it filled.
async fn repeat_on(client: &LabHost, url: &url::Url) -> Result<(PageLoad, PageLoad), LabError> {
    let url = url.clone();
    client
        .run(async move {
            let options = LoadOptions::default();
            let (first, cache) = load::load_cached(&url, &options, PrivateCache::new()).await?;
            let (repeat, _) = load::load_cached(&url, &options, cache).await?;
            Ok::<_, appnet_http::loader::LoadError>((first, repeat))
        })
        .await?
        .map_err(|e| LabError::new(e.to_string()))
        .and_then(|(first, repeat)| Ok((whole(first)?, whole(repeat)?)))
}

/// What each coding did at `link`, from the three loads' figures (see [`CODINGS`]).
fn compression_finding(link: LinkSpec, plt: &[Figure; 3], bytes: &[Figure; 3]) -> String {
    let saved =
        |coded: f64, plain: f64| if plain > 0.0 { (1.0 - coded / plain) * 100.0 } else { 0.0 };
    format!(
        "At {:.0} ms RTT and {} Mbit/s (parallel:6), br took the page's bytes {:.0} % and its PLT \
         {:.0} % below identity's ({} in {:.0} ms), gzip {:.0} % and {:.0} %.",
        link.rtt.as_secs_f64() * 1e3,
        link.bandwidth.unwrap_or(0) / 1_000_000,
        saved(bytes[0].value, bytes[2].value),
        saved(plt[0].value, plt[2].value),
        bytes[2].human(),
        plt[2].value,
        saved(bytes[1].value, bytes[2].value),
        saved(plt[1].value, plt[2].value),
    )
}

/// "At 40 ms, h2 was fastest (…), 3.1x faster than http1.0", one per condition.
fn findings(conditions: &[Condition]) -> Vec<String> {
    conditions
        .iter()
        .map(|condition| {
            let plt = |mode: &str| {
                condition.loads.iter().find(|l| l.mode == mode).map_or(0.0, |l| l.plt.value)
            };
            let best = plt(&condition.fastest);
            let worst = condition.loads.iter().map(|l| l.plt.value).fold(0.0, f64::max);
            let slowest = condition
                .loads
                .iter()
                .find(|l| l.plt.value == worst)
                .map_or("", |l| l.mode.as_str());
            let mut said = format!(
                "At {:.0} ms RTT and {} Mbit/s, {} was fastest ({best:.0} ms), {:.1}x faster than \
                 {slowest} ({worst:.0} ms).",
                condition.link.rtt.as_secs_f64() * 1e3,
                condition.link.bandwidth.unwrap_or(0) / 1_000_000,
                condition.fastest,
                if best > 0.0 { worst / best } else { 0.0 }
            );
            // A runner-up whose samples reach below the winner's slowest is no clear loser.
            let winner = condition.loads.iter().find(|l| l.mode == condition.fastest);
            let close: Vec<String> = condition
                .loads
                .iter()
                .filter(|l| l.mode != condition.fastest)
                .filter(|l| winner.is_some_and(|w| l.plt_range[0].value <= w.plt_range[1].value))
                .map(|l| format!("{} ({:.0} ms)", l.mode, l.plt.value))
                .collect();
            if !close.is_empty() {
                said.push_str(&format!(
                    " Not a clear win over {}: their samples overlap.",
                    close.join(" and ")
                ));
            }
            said
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn condition(rtt_ms: u64, plts: &[(&str, u64)]) -> Condition {
        let loads: Vec<ModeLoad> = plts
            .iter()
            .map(|(mode, ms)| ModeLoad {
                mode: (*mode).to_owned(),
                plt: Figure::millis(Duration::from_millis(*ms)),
                plt_range: [ms * 9 / 10, ms * 11 / 10]
                    .map(|ms| Figure::millis(Duration::from_millis(ms))),
                connections: 1,
                requests: 10,
                bytes: Figure::bytes(1000),
            })
            .collect();
        let fastest = loads
            .iter()
            .min_by(|a, b| a.plt.value.total_cmp(&b.plt.value))
            .map(|l| l.mode.clone())
            .unwrap();
        let link = LinkSpec { rtt: Duration::from_millis(rtt_ms), bandwidth: Some(10_000_000) };
        Condition { link, loads, fastest }
    }

    #[test]
    fn the_findings_name_each_links_fastest_and_slowest_mode_from_the_numbers() {
        let conditions = [
            condition(5, &[("http1.0", 90), ("persistent", 60), ("h2", 30)]),
            condition(40, &[("http1.0", 800), ("parallel:6", 200), ("h2", 250)]),
            // Within each other's spread (each sample range ±10 %).
            condition(40, &[("pipelined", 396), ("h2", 409), ("http1.0", 800)]),
        ];
        let said = findings(&conditions);
        assert_eq!(
            said[2],
            "At 40 ms RTT and 10 Mbit/s, pipelined was fastest (396 ms), 2.0x faster than \
             http1.0 (800 ms). Not a clear win over h2 (409 ms): their samples overlap."
        );
        assert_eq!(
            said[0],
            "At 5 ms RTT and 10 Mbit/s, h2 was fastest (30 ms), 3.0x faster than http1.0 (90 ms)."
        );
        assert_eq!(
            said[1],
            "At 40 ms RTT and 10 Mbit/s, parallel:6 was fastest (200 ms), 4.0x faster than \
             http1.0 (800 ms)."
        );
        let link = conditions[1].link;
        let plt = [100, 150, 200].map(|ms| Figure::millis(Duration::from_millis(ms)));
        let bytes = [Figure::bytes(250), Figure::bytes(300), Figure::bytes(1000)];
        assert_eq!(
            compression_finding(link, &plt, &bytes),
            "At 40 ms RTT and 10 Mbit/s (parallel:6), br took the page's bytes 75 % and its PLT 50 % \
             below identity's (1.0 kB in 200 ms), gzip 70 % and 25 %."
        );
    }
}
