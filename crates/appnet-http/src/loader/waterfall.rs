//! A page load as a waterfall chart in SVG, as WebPageTest draws one: a row per request in
//! the order made, time across, each bar split into its phases by colour — waiting for a
//! connection, DNS, TCP connect, TLS, waiting for the first byte, receiving.

use std::fmt::Write as _;
use std::time::Duration;

use super::record::{PageLoad, human_bytes};
use crate::markup::escape;

/// The phases drawn, their colours and names (the legend).
const PHASES: [(&str, &str); 6] = [
    ("#d9d9d9", "blocked"),
    ("#1f9e89", "dns"),
    ("#f28e2b", "connect"),
    ("#b07aa1", "tls"),
    ("#59a14f", "wait (TTFB)"),
    ("#4e79a7", "receive"),
];

const ROW: f64 = 18.0;
const LABEL: f64 = 320.0;
const CHART: f64 = 640.0;

/// The SVG document for `load`.
pub fn svg(load: &PageLoad) -> String {
    let rows = load.entries.len() as f64;
    let top = 40.0;
    let height = top + rows * ROW + 50.0;
    let width = LABEL + CHART + 20.0;
    let span = load.plt.max(Duration::from_micros(1)).as_secs_f64();
    let x = |d: Duration| LABEL + d.as_secs_f64() / span * CHART;
    let mut out = String::new();
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"waterfall\" width=\"{width}\" height=\"{height}\" \
         font-family=\"sans-serif\" font-size=\"11\">\n<title>{} — {} — PLT {:.1} ms</title>\n\
         <text x=\"4\" y=\"16\" font-size=\"13\">{} ({}) — PLT {:.1} ms, {} requests, {} connections</text>\n",
        escape(&load.url),
        escape(&load.mode),
        load.plt.as_secs_f64() * 1e3,
        escape(&load.url),
        escape(&load.mode),
        load.plt.as_secs_f64() * 1e3,
        load.entries.len(),
        load.connections
    );
    // Gridlines every tenth of the PLT, labelled in milliseconds.
    for tick in 0..=10 {
        let at = LABEL + CHART * f64::from(tick) / 10.0;
        let label = span * 1e3 * f64::from(tick) / 10.0;
        let _ = writeln!(
            out,
            "<line x1=\"{at:.1}\" y1=\"{}\" x2=\"{at:.1}\" y2=\"{}\" stroke=\"#eee\"/>\
             <text x=\"{at:.1}\" y=\"{}\" text-anchor=\"middle\" fill=\"#666\">{label:.0}</text>",
            top - 4.0,
            top + rows * ROW,
            top - 8.0
        );
    }
    for (row, entry) in load.entries.iter().enumerate() {
        let y = top + row as f64 * ROW;
        let name = entry.url.split_once("://").map_or(entry.url.as_str(), |(_, rest)| rest);
        let name = if name.len() > 48 {
            format!("…{}", &name[name.len() - 47..])
        } else {
            name.to_owned()
        };
        let _ = write!(
            out,
            "<g class=\"request\"><text x=\"4\" y=\"{:.1}\">{} {}</text>",
            y + 12.0,
            row + 1,
            escape(&name)
        );
        let mut at = entry.queued;
        for (duration, (colour, phase)) in entry.phases().into_iter().zip(PHASES) {
            let (from, to) = (x(at), x(at + duration));
            if duration > Duration::ZERO {
                let _ = write!(
                    out,
                    "<rect class=\"phase {}\" x=\"{from:.2}\" y=\"{:.1}\" width=\"{:.2}\" height=\"{}\" fill=\"{colour}\">\
                     <title>{phase} {:.2} ms</title></rect>",
                    phase.split(' ').next().unwrap_or(phase),
                    y + 3.0,
                    (to - from).max(0.5),
                    ROW - 6.0,
                    duration.as_secs_f64() * 1e3
                );
            }
            at += duration;
        }
        let _ = writeln!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"#444\">{} {}</text></g>",
            x(at) + 4.0,
            y + 12.0,
            if entry.status == 0 { "failed".to_owned() } else { entry.status.to_string() },
            human_bytes(entry.bytes)
        );
    }
    let legend_y = top + rows * ROW + 24.0;
    for (i, (colour, phase)) in PHASES.iter().enumerate() {
        let lx = LABEL + i as f64 * 105.0;
        let _ = write!(
            out,
            "<rect x=\"{lx}\" y=\"{}\" width=\"12\" height=\"12\" fill=\"{colour}\"/>\
             <text x=\"{}\" y=\"{}\">{phase}</text>",
            legend_y - 10.0,
            lx + 16.0,
            legend_y
        );
    }
    out.push_str("\n</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_row_per_request_with_a_rectangle_per_phase_taken() {
        let load = crate::loader::har::tests::sample();
        let svg = svg(&load);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<g class=\"request\">").count(), 2);
        // The first request opened its connection: dns, connect, tls, wait, receive; the
        // second waited for it (blocked), then wait and receive.
        assert_eq!(svg.matches("class=\"phase tls\"").count(), 1);
        assert_eq!(svg.matches("class=\"phase wait\"").count(), 2);
        assert_eq!(svg.matches("class=\"phase blocked\"").count(), 1);
        assert!(svg.contains("lab.test/a.css?v=2") && svg.contains("PLT 40.0 ms"));
    }
}
