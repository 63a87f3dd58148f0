//! `report.html`: one self-contained page, charts as inline SVG (no script, no network).

use std::fmt::Write as _;

use super::{Figure, Report};
use crate::cache::CacheReport;
use crate::dns::DnsReport;
use crate::origin::OriginReport;
use crate::pageload::PageLoadReport;

/// The page for `report`.
pub(super) fn render(report: &Report) -> String {
    let mut page = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>appnet lab report</title>\n\
         <style>body{font:15px/1.45 system-ui,sans-serif;max-width:980px;margin:2em auto;color:#222}\
         h1,h2{font-weight:600}table{border-collapse:collapse}td,th{padding:3px 10px;border-bottom:1px solid #ddd;text-align:left}\
         td.n{text-align:right;font-variant-numeric:tabular-nums}svg{display:block;margin:1em 0}\
         .note{color:#666}</style></head><body>\n",
    );
    let _ = writeln!(
        page,
        "<h1>appnet lab</h1>\n<p class=\"note\">appnet {}{}. Links: {}.</p>",
        report.version,
        if report.quick { ", quick run" } else { "" },
        escape(&report.links)
    );
    page.push_str("<h2>This machine</h2><ul>");
    for line in &report.environment {
        let _ = write!(page, "<li>{}</li>", escape(line));
    }
    page.push_str("</ul>");
    if let Some(dns) = &report.dns {
        dns_section(&mut page, dns);
    }
    if let Some(origin) = &report.origin {
        origin_section(&mut page, origin);
    }
    if let Some(http) = &report.http {
        http_section(&mut page, http);
    }
    if let Some(cache) = &report.cache {
        cache_section(&mut page, cache);
    }
    if !report.not_built.is_empty() {
        page.push_str("<h2>Not measured yet</h2><ul>");
        for line in &report.not_built {
            let _ = write!(page, "<li>{}</li>", escape(line));
        }
        page.push_str("</ul>");
    }
    page.push_str("</body></html>\n");
    page
}

fn dns_section(page: &mut String, dns: &DnsReport) {
    page.push_str("<h2>DNS</h2>\n<h3>The first lookup of www.example.lab, from the roots</h3>\n");
    sequence_diagram(page, dns);
    page.push_str("<h3>Cold and warm</h3>\n");
    bars(
        page,
        "lookup latency",
        &[
            ("first lookup (from the roots)", dns.first_lookup),
            ("same lookup, from the cache", dns.cached_lookup),
        ],
    );
    let _ = writeln!(
        page,
        "<h3>Cache hit ratio over the Zipf workload ({} queries, {} names)</h3>",
        dns.settings.queries, dns.settings.names
    );
    line_chart(page, "hit-ratio", &dns.hit_ratio_over_time);
    if !dns.regions.is_empty() {
        page.push_str("<h3>Clients in other regions</h3>\n");
        let labels: Vec<(String, Figure)> = dns
            .regions
            .iter()
            .flat_map(|r| {
                [
                    (format!("{}: first lookup", r.region.name), r.first_lookup),
                    (format!("{}: from the cache", r.region.name), r.cached_lookup),
                ]
            })
            .collect();
        let items: Vec<(&str, Figure)> = labels.iter().map(|(l, f)| (l.as_str(), *f)).collect();
        bars(page, "regions", &items);
    }
    page.push_str("<h3>The primary stopped</h3>\n");
    bars(
        page,
        "first-time lookups",
        &[
            ("both servers up", dns.failover_latency[0]),
            ("primary stopped (replica answers)", dns.failover_latency[1]),
        ],
    );
    page.push_str("<h3>Figures</h3><table>");
    let rows: Vec<(String, String)> = vec![
        ("first lookup".into(), dns.first_lookup.human()),
        ("cached lookup".into(), dns.cached_lookup.human()),
        ("workload hit ratio".into(), dns.hit_ratio.human()),
        ("workload latency, mean".into(), dns.workload_latency[0].human()),
        ("workload latency, median".into(), dns.workload_latency[1].human()),
        ("workload latency, 99th percentile".into(), dns.workload_latency[2].human()),
        ("zone change reaching the replica (NOTIFY)".into(), dns.notify_propagation.human()),
        (
            "answered with the primary stopped".into(),
            format!("{} of {}", dns.failover_answered[0], dns.failover_answered[1]),
        ),
    ];
    for (name, value) in rows {
        let _ = write!(
            page,
            "<tr><td>{}</td><td class=\"n\">{}</td></tr>",
            escape(&name),
            escape(&value)
        );
    }
    page.push_str("</table>\n");
}

fn http_section(page: &mut String, http: &PageLoadReport) {
    let _ = writeln!(
        page,
        "<h2>HTTP: page load time by strategy</h2>\n<p>The lab origin's front page ({} \
         resources) loaded by appnet's page loader under each mode, over each link.</p><ul>",
        http.page_resources
    );
    for finding in &http.findings {
        let _ = write!(page, "<li>{}</li>", escape(finding));
    }
    page.push_str("</ul>\n");
    for condition in &http.conditions {
        let _ = writeln!(
            page,
            "<h3>{:.0} ms round trip, {} Mbit/s</h3>",
            condition.link.rtt.as_secs_f64() * 1e3,
            condition.link.bandwidth.unwrap_or(0) / 1_000_000
        );
        let items: Vec<(&str, Figure)> =
            condition.loads.iter().map(|l| (l.mode.as_str(), l.plt)).collect();
        bars(page, &format!("page load time, median of {} runs", http.settings.samples), &items);
    }
    let _ = writeln!(
        page,
        "<h3>Compression at the slowest link (parallel:6)</h3><p>{} with br, {} with gzip, \
         {} with identity; {}, {} and {} over the wire.</p>",
        http.compression[0].human(),
        http.compression[1].human(),
        http.compression[2].human(),
        http.compression_bytes[0].human(),
        http.compression_bytes[1].human(),
        http.compression_bytes[2].human()
    );
    page.push_str("<h3>The repeat view at the slowest link (parallel:6)</h3>\n");
    bars(
        page,
        "repeat view",
        &[("full load", http.repeat_view[0]), ("repeat view, revalidated", http.repeat_view[1])],
    );
    let _ = writeln!(
        page,
        "<p>{} of {} requests of the repeat view were answered 304 Not Modified.</p>",
        http.revalidated[0], http.revalidated[1]
    );
    page.push_str("<h3>Waterfalls at the slowest link</h3>\n");
    for (mode, svg) in &http.waterfalls {
        let _ = writeln!(page, "<h4>{}</h4>\n{svg}", escape(mode));
    }
}

fn origin_section(page: &mut String, origin: &OriginReport) {
    let _ = writeln!(
        page,
        "<h2>Origin</h2>\n<p>appnet's HTTP server at {} with a generated site of {}; each client \
         group loads the front page ({} resources, six connections) and {} catalogue objects of \
         Zipf({}) popularity (four connections).</p>",
        escape(&origin.origin),
        origin.site_bytes.human(),
        origin.page_resources,
        origin.settings.object_requests,
        origin.settings.zipf_exponent
    );
    let names: Vec<String> = origin.groups.iter().map(|g| format!("clients {}", g.name)).collect();
    let series = |pick: fn(&crate::origin::GroupReport) -> Figure| -> Vec<(&str, Figure)> {
        names.iter().map(String::as_str).zip(origin.groups.iter().map(pick)).collect()
    };
    page.push_str("<h3>Front page load, by client group</h3>\n");
    bars(page, "page load", &series(|g| g.page_load));
    page.push_str("<h3>Bytes the origin served, by client group</h3>\n");
    bars(page, "bytes served", &series(|g| g.bytes));
    page.push_str(
        "<h3>Figures</h3><table><tr><th>clients</th><th>address</th><th>page</th><th>catalogue</th>\
         <th>requests</th><th>bytes</th><th>connections</th></tr>",
    );
    for group in &origin.groups {
        let _ = write!(
            page,
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            escape(&group.name),
            escape(&group.address),
            group.page_load.human(),
            group.catalogue_fetch.human(),
            group.requests,
            group.bytes.human(),
            group.connections
        );
    }
    page.push_str("</table>\n");
}

fn cache_section(page: &mut String, cache: &CacheReport) {
    let _ = writeln!(
        page,
        "<h2>Shared cache</h2>\n<p>{} clients behind appnet's forward proxy at {} ask for {} \
         objects of Zipf({}) popularity from a catalogue of {} objects ({}) at the origin {}, \
         {:.0} ms away; the cache has {} of memory, and the origin gives each object max-age={}.</p>",
        cache.settings.clients,
        escape(&cache.proxy),
        cache.requests,
        cache.settings.zipf_exponent,
        cache.settings.objects,
        cache.catalogue_bytes.human(),
        escape(&cache.origin),
        cache.settings.origin_link.rtt.as_secs_f64() * 1e3,
        cache.cache_bytes.human(),
        cache.settings.max_age
    );
    let _ = writeln!(
        page,
        "<h3>Hit ratio over the run</h3><p>{} of requests and {} of bytes answered from the \
         cache; by tenth of the run:</p>",
        cache.hit_ratio.human(),
        cache.byte_hit_ratio.human()
    );
    line_chart(page, "cache-hit-ratio", &cache.hit_ratio_over_time);
    page.push_str("<h3>Byte hit ratio over the run</h3>\n");
    line_chart(page, "cache-byte-hit-ratio", &cache.byte_hit_ratio_over_time);
    page.push_str("<h3>Load taken off the origin</h3>\n");
    bars(
        page,
        "origin load",
        &[
            ("requests the clients made", Figure { value: cache.requests as f64, unit: "" }),
            (
                "requests the origin served",
                Figure { value: cache.origin_requests as f64, unit: "" },
            ),
        ],
    );
    bars(
        page,
        "origin bytes",
        &[
            ("bytes the clients received", cache.client_bytes),
            ("bytes the origin sent", cache.origin_bytes),
        ],
    );
    page.push_str("<h3>Latency: hits, misses and revalidations (median)</h3>\n");
    let [hit, miss, revalidated] = &cache.latency;
    bars(
        page,
        "latency",
        &[
            ("hits", hit.median),
            ("misses (fetched whole)", miss.median),
            ("revalidated (304)", revalidated.median),
        ],
    );
    let _ = writeln!(
        page,
        "<table><tr><th>answer</th><th>count</th><th>median</th><th>p90</th></tr>\
         <tr><td>hit</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>\
         <tr><td>miss, fetched whole</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>\
         <tr><td>revalidated, 304</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>\
         <tr><td>collapsed onto another's fetch</td><td class=\"n\">{}</td><td></td><td></td></tr></table>",
        hit.count,
        hit.median.human(),
        hit.p90.human(),
        miss.count,
        miss.median.human(),
        miss.p90.human(),
        revalidated.count,
        revalidated.median.human(),
        revalidated.p90.human(),
        cache.collapsed
    );
}

/// Lanes for the client, the resolver and each server asked; an arrow per query and reply.
fn sequence_diagram(page: &mut String, dns: &DnsReport) {
    let mut lanes: Vec<String> = vec!["client".into(), "resolver".into()];
    for step in &dns.path {
        if !lanes.contains(&step.server_name) {
            lanes.push(step.server_name.clone());
        }
    }
    let lane_x = |i: usize| 70 + i * 170;
    let height = 90 + dns.path.len() * 56 + 60;
    let width = lane_x(lanes.len() - 1) + 110;
    let _ = write!(
        page,
        "<svg id=\"dns-path\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" xmlns=\"http://www.w3.org/2000/svg\" font-size=\"12\">"
    );
    page.push_str("<defs><marker id=\"arrow\" markerWidth=\"8\" markerHeight=\"8\" refX=\"7\" refY=\"4\" orient=\"auto\"><path d=\"M0,0 L8,4 L0,8 z\" fill=\"#333\"/></marker></defs>");
    for (i, lane) in lanes.iter().enumerate() {
        let x = lane_x(i);
        let _ = write!(
            page,
            "<text x=\"{x}\" y=\"20\" text-anchor=\"middle\" font-weight=\"600\">{}</text><line x1=\"{x}\" y1=\"30\" x2=\"{x}\" y2=\"{}\" stroke=\"#bbb\" stroke-dasharray=\"4 3\"/>",
            escape(lane),
            height - 10
        );
    }
    let arrow = |page: &mut String, from: usize, to: usize, y: usize, label: &str, color: &str| {
        let (x1, x2) = (lane_x(from), lane_x(to));
        let _ = write!(
            page,
            "<line class=\"hop\" x1=\"{x1}\" y1=\"{y}\" x2=\"{x2}\" y2=\"{y}\" stroke=\"{color}\" stroke-width=\"1.5\" marker-end=\"url(#arrow)\"/><text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            (x1 + x2) / 2,
            y - 5,
            escape(label)
        );
    };
    let mut y = 55;
    arrow(page, 0, 1, y, "www.example.lab A?", "#333");
    for step in &dns.path {
        y += 28;
        let lane = lanes.iter().position(|l| *l == step.server_name).unwrap_or(1);
        arrow(page, 1, lane, y, &format!("{} A?", step.qname), "#2b6cb0");
        y += 28;
        arrow(page, lane, 1, y, &format!("{} · {}", step.result, step.rtt.human()), "#c05621");
    }
    y += 30;
    arrow(page, 1, 0, y, &format!("answer · {} in all", dns.first_lookup.human()), "#2f855a");
    page.push_str("</svg>\n");
}

/// Horizontal bars, one per (label, figure), on a common linear scale.
fn bars(page: &mut String, title: &str, items: &[(&str, Figure)]) {
    let max = items.iter().map(|(_, f)| f.value).fold(0.0_f64, f64::max).max(1e-9);
    let height = 20 + items.len() * 34;
    let _ = write!(
        page,
        "<svg class=\"bars\" width=\"900\" height=\"{height}\" xmlns=\"http://www.w3.org/2000/svg\" font-size=\"12\" aria-label=\"{}\">",
        escape(title)
    );
    for (i, (label, figure)) in items.iter().enumerate() {
        let y = 10 + i * 34;
        let width = (figure.value / max * 560.0).max(1.0);
        let _ = write!(
            page,
            "<text x=\"0\" y=\"{}\">{}</text><rect class=\"bar\" x=\"240\" y=\"{y}\" width=\"{width:.1}\" height=\"22\" fill=\"#3182ce\"/><text x=\"{:.1}\" y=\"{}\">{}</text>",
            y + 15,
            escape(label),
            246.0 + width,
            y + 15,
            escape(&figure.human())
        );
    }
    page.push_str("</svg>\n");
}

/// The ratios as a line over the workload's tenths, 0–100 % on the vertical axis.
fn line_chart(page: &mut String, id: &str, points: &[Figure]) {
    let (width, height, left, top) = (900.0, 240.0, 50.0, 10.0);
    let plot_w = width - left - 20.0;
    let plot_h = height - top - 40.0;
    let _ = write!(
        page,
        "<svg id=\"{id}\" width=\"{width}\" height=\"{height}\" xmlns=\"http://www.w3.org/2000/svg\" font-size=\"12\">"
    );
    for pct in [0, 25, 50, 75, 100] {
        let y = top + plot_h * (1.0 - f64::from(pct) / 100.0);
        let _ = write!(
            page,
            "<line x1=\"{left}\" y1=\"{y:.1}\" x2=\"{}\" y2=\"{y:.1}\" stroke=\"#eee\"/><text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{pct} %</text>",
            left + plot_w,
            left - 6.0,
            y + 4.0
        );
    }
    let n = points.len().max(1);
    let coordinates: Vec<String> = points
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let x = left + plot_w * (i as f64 + 0.5) / n as f64;
            let y = top + plot_h * (1.0 - p.value);
            format!("{x:.1},{y:.1}")
        })
        .collect();
    let _ = write!(
        page,
        "<polyline class=\"series\" points=\"{}\" fill=\"none\" stroke=\"#2b6cb0\" stroke-width=\"2\"/>",
        coordinates.join(" ")
    );
    for (i, point) in coordinates.iter().enumerate() {
        let (x, y) = point.split_once(',').unwrap_or(("0", "0"));
        let _ = write!(
            page,
            "<circle cx=\"{x}\" cy=\"{y}\" r=\"3\" fill=\"#2b6cb0\"/><text x=\"{x}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            height - 12.0,
            (i + 1) * 10
        );
    }
    let _ = writeln!(
        page,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" class=\"note\">% of the workload done</text></svg>",
        left + plot_w / 2.0,
        height
    );
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
