//! The lab's report: every figure with its unit, the settings, what the machine allowed, and
//! which systems have no experiment yet — as `report.json`, as `report.html` (charts drawn as
//! inline SVG, so it opens from disk with no server and no network), and as a terminal summary.

mod html;
pub mod live;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::cache::CacheReport;
use crate::dns::DnsReport;
use crate::origin::OriginReport;
use crate::pageload::PageLoadReport;

/// A measured number and its unit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Figure {
    /// The value.
    pub value: f64,
    /// Its unit: "us", "ms", "ratio".
    pub unit: &'static str,
}

impl Figure {
    /// A duration in microseconds.
    pub fn micros(duration: Duration) -> Self {
        Self { value: duration.as_secs_f64() * 1e6, unit: "us" }
    }

    /// A duration in milliseconds.
    pub fn millis(duration: Duration) -> Self {
        Self { value: duration.as_secs_f64() * 1e3, unit: "ms" }
    }

    /// A count of bytes.
    pub fn bytes(count: u64) -> Self {
        Self { value: count as f64, unit: "bytes" }
    }

    /// `part` of `whole` (0 when `whole` is 0).
    pub fn ratio(part: u64, whole: u64) -> Self {
        Self { value: if whole == 0 { 0.0 } else { part as f64 / whole as f64 }, unit: "ratio" }
    }

    /// The figure for people: "412 µs", "3.1 ms", "87.5 %".
    pub fn human(&self) -> String {
        match self.unit {
            "us" if self.value >= 10_000.0 => format!("{:.1} ms", self.value / 1000.0),
            "us" => format!("{:.0} µs", self.value),
            "ms" => format!("{:.1} ms", self.value),
            "ratio" => format!("{:.1} %", self.value * 100.0),
            "bytes" if self.value >= 1e6 => format!("{:.1} MB", self.value / 1e6),
            "bytes" if self.value >= 1e3 => format!("{:.1} kB", self.value / 1e3),
            "bytes" => format!("{} B", self.value),
            other => format!("{} {other}", self.value),
        }
    }
}

/// Everything one run of the lab found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The appnet version that ran.
    pub version: &'static str,
    /// `--quick` or the full run.
    pub quick: bool,
    /// What the machine allowed (hosts, IPv6, link emulation).
    pub environment: Vec<String>,
    /// How links were made.
    pub links: String,
    /// The DNS experiment, if it ran.
    pub dns: Option<DnsReport>,
    /// The origin experiment's figures, if it ran.
    pub origin: Option<OriginReport>,
    /// The HTTP page-load experiment's figures, if it ran.
    pub http: Option<PageLoadReport>,
    /// The caching experiment's figures, if it ran.
    pub cache: Option<CacheReport>,
    /// Scenarios not built yet, with their issue.
    pub not_built: Vec<String>,
}

impl Report {
    /// Writes `report.json` and `report.html` into `dir` (created if needed); returns their
    /// paths. Each is written whole to a temporary file and renamed, so a reader never sees half.
    pub fn write(&self, dir: &Path) -> std::io::Result<(PathBuf, PathBuf)> {
        std::fs::create_dir_all(dir)?;
        let json = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        let json_path = dir.join("report.json");
        let html_path = dir.join("report.html");
        write_atomically(&json_path, json.as_bytes())?;
        write_atomically(&html_path, html::render(self).as_bytes())?;
        Ok((json_path, html_path))
    }

    /// The terminal summary.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        if let Some(dns) = &self.dns {
            out.push_str("DNS\n");
            out.push_str(&format!(
                "  first lookup of www.example.lab   {} ({} servers asked)\n",
                dns.first_lookup.human(),
                dns.path.len()
            ));
            for step in &dns.path {
                out.push_str(&format!(
                    "    {:<28} asked {:<22} as {:<14} {:<9} {}\n",
                    step.server_name,
                    step.qname,
                    step.zone,
                    step.result,
                    step.rtt.human()
                ));
            }
            out.push_str(&format!(
                "  same lookup from the cache        {}\n",
                dns.cached_lookup.human()
            ));
            out.push_str(&format!(
                "  Zipf workload ({} queries, {} names)  hit ratio {}, latency mean {} / median {} / p99 {}\n",
                dns.settings.queries,
                dns.settings.names,
                dns.hit_ratio.human(),
                dns.workload_latency[0].human(),
                dns.workload_latency[1].human(),
                dns.workload_latency[2].human()
            ));
            out.push_str(&format!(
                "  zone change to the replica by NOTIFY  {}\n",
                dns.notify_propagation.human()
            ));
            for region in &dns.regions {
                out.push_str(&format!(
                    "  region {:<10} ({:.0} ms away)   first lookup {}, from the cache {}\n",
                    region.region.name,
                    region.region.link.rtt.as_secs_f64() * 1e3,
                    region.first_lookup.human(),
                    region.cached_lookup.human()
                ));
            }
            out.push_str(&format!(
                "  primary stopped: {} of {} first-time lookups answered by the replica; latency {} before, {} after\n",
                dns.failover_answered[0],
                dns.failover_answered[1],
                dns.failover_latency[0].human(),
                dns.failover_latency[1].human()
            ));
        }
        if let Some(origin) = &self.origin {
            out.push_str(&format!(
                "Origin ({}: a site of {}, front page with {} resources)\n",
                origin.origin,
                origin.site_bytes.human(),
                origin.page_resources
            ));
            for group in &origin.groups {
                out.push_str(&format!(
                    "  clients {:<10} page {:>9}  catalogue ({} objects) {:>9}   origin served {} requests, {}, on {} connections\n",
                    group.name,
                    group.page_load.human(),
                    origin.settings.object_requests,
                    group.catalogue_fetch.human(),
                    group.requests,
                    group.bytes.human(),
                    group.connections
                ));
            }
        }
        if let Some(http) = &self.http {
            out.push_str(&format!(
                "HTTP page loads (a page of {} resources; PLT in ms, the median of {} runs)\n  {:<22}",
                http.page_resources, http.settings.samples, "link"
            ));
            let modes: Vec<&str> = http
                .conditions
                .first()
                .map(|c| c.loads.iter().map(|l| l.mode.as_str()).collect())
                .unwrap_or_default();
            for mode in &modes {
                out.push_str(&format!("{mode:>12}"));
            }
            out.push('\n');
            for condition in &http.conditions {
                out.push_str(&format!(
                    "  {:<22}",
                    format!(
                        "{:.0} ms, {} Mbit/s",
                        condition.link.rtt.as_secs_f64() * 1e3,
                        condition.link.bandwidth.unwrap_or(0) / 1_000_000
                    )
                ));
                for load in &condition.loads {
                    out.push_str(&format!("{:>12.0}", load.plt.value));
                }
                out.push('\n');
            }
            for finding in &http.findings {
                out.push_str(&format!("  {finding}\n"));
            }
            out.push_str(&format!(
                "  compression at the slowest link (parallel:6): {} with br, {} with gzip, {} with \
                 identity ({}, {}, {} over the wire)\n",
                http.compression[0].human(),
                http.compression[1].human(),
                http.compression[2].human(),
                http.compression_bytes[0].human(),
                http.compression_bytes[1].human(),
                http.compression_bytes[2].human()
            ));
            out.push_str(&format!(
                "  repeat view through the browser cache: {} against {} for the full load ({} of {} requests revalidated, 304)\n",
                http.repeat_view[1].human(),
                http.repeat_view[0].human(),
                http.revalidated[0],
                http.revalidated[1]
            ));
        }
        if let Some(cache) = &self.cache {
            out.push_str(&format!(
                "Shared cache (forward proxy, {} of memory for a catalogue of {}; origin {:.0} ms away)\n",
                cache.cache_bytes.human(),
                cache.catalogue_bytes.human(),
                cache.settings.origin_link.rtt.as_secs_f64() * 1e3
            ));
            let tenths: Vec<String> = cache
                .hit_ratio_over_time
                .iter()
                .map(|f| format!("{:.0}", f.value * 100.0))
                .collect();
            out.push_str(&format!(
                "  {} clients, {} Zipf({}) requests: hit ratio {}, byte hit ratio {} (by tenth of the run, %: {})\n",
                cache.settings.clients,
                cache.requests,
                cache.settings.zipf_exponent,
                cache.hit_ratio.human(),
                cache.byte_hit_ratio.human(),
                tenths.join(" ")
            ));
            out.push_str(&format!(
                "  taken off the origin: {} of requests, {} of bytes ({} requests and {} reached it)\n",
                cache.offload_requests.human(),
                cache.offload_bytes.human(),
                cache.origin_requests,
                cache.origin_bytes.human()
            ));
            let [hit, miss, revalidated] = &cache.latency;
            out.push_str(&format!(
                "  latency median / p90: hits {} / {}, misses {} / {}, revalidations {} / {}\n",
                hit.median.human(),
                hit.p90.human(),
                miss.median.human(),
                miss.p90.human(),
                revalidated.median.human(),
                revalidated.p90.human()
            ));
            out.push_str(&format!(
                "  {} revalidated with a 304 against {} fetched whole; {} waited for another's fetch\n",
                cache.revalidated, cache.full_fetches, cache.collapsed
            ));
        }
        for missing in &self.not_built {
            out.push_str(&format!("{missing}\n"));
        }
        out
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let aside = path.with_extension("tmp");
    let mut file = std::fs::File::create(&aside)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(aside, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_read_well() {
        assert_eq!(Figure::micros(Duration::from_micros(412)).human(), "412 µs");
        assert_eq!(Figure::micros(Duration::from_millis(31)).human(), "31.0 ms");
        assert_eq!(Figure::ratio(7, 8).human(), "87.5 %");
        assert_eq!(Figure::ratio(0, 0).value, 0.0);
        assert_eq!(Figure::millis(Duration::from_micros(3100)).human(), "3.1 ms");
        assert_eq!(Figure::bytes(2_500_000).human(), "2.5 MB");
        assert_eq!(Figure::bytes(1_234).human(), "1.2 kB");
        assert_eq!(Figure::bytes(12).human(), "12 B");
    }
}
