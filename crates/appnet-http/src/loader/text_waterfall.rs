//! A page load's waterfall in the terminal: the SVG's rows and phases as characters, so that
//! `appnet http load --mode compare` shows where each mode spent its time without a viewer —
//! a bar per request, time across (0 to the PLT), a letter per phase.

use std::fmt::Write as _;
use std::time::Duration;

use super::record::{PageLoad, human_bytes};

/// The phases, in the order a request goes through them, and the character each is drawn
/// with: blocked (waiting for a connection), dns, connect, tls, wait (time to first byte),
/// receive.
const PHASES: [(char, &str); 6] = [
    ('.', "blocked"),
    ('d', "dns"),
    ('c', "connect"),
    ('s', "tls"),
    ('-', "wait"),
    ('#', "receive"),
];

/// Columns of a resource's name; longer names keep their end (the file name).
const NAME: usize = 30;

/// The waterfall of `load`, its bars `width` characters across, ending with a legend.
pub fn text(load: &PageLoad, width: usize) -> String {
    let width = width.max(10);
    let span = load.plt.max(Duration::from_micros(1)).as_secs_f64();
    let column = |d: Duration| d.as_secs_f64() / span * width as f64;
    let mut out = String::new();
    let axis_end = format!("{:.1} ms", span * 1e3);
    let _ = writeln!(
        out,
        "  {:>3} {:<NAME$} |0{}{axis_end}|",
        "#",
        "resource",
        " ".repeat(width.saturating_sub(1 + axis_end.len()))
    );
    for (row, entry) in load.entries.iter().enumerate() {
        let mut bar = vec![' '; width];
        let mut at = entry.queued;
        for (duration, (mark, _)) in entry.phases().into_iter().zip(PHASES) {
            if duration > Duration::ZERO {
                // At least one character for a phase that took any time, so a short one is
                // seen; a later phase drawn over an earlier one where they round together.
                let from = (column(at).floor() as usize).min(width - 1);
                let to = (column(at + duration).round() as usize).clamp(from + 1, width);
                bar[from..to].fill(mark);
            }
            at += duration;
        }
        let outcome = match (entry.status, entry.cache) {
            (0, _) => "failed".to_owned(),
            (_, Some("fresh")) => "cache".to_owned(),
            (status, _) => format!("{status} {}", human_bytes(entry.bytes)),
        };
        let _ = writeln!(
            out,
            "  {:>3} {:<NAME$} |{}| {outcome}",
            row + 1,
            shortened(&entry.url),
            bar.into_iter().collect::<String>()
        );
    }
    let legend: Vec<String> =
        PHASES.iter().map(|(mark, phase)| format!("{mark} {phase}")).collect();
    let _ = writeln!(out, "  {:>3} {:<NAME$}  {}", "", "", legend.join("  "));
    out
}

/// `url` without its scheme, cut to [`NAME`] characters from its end.
fn shortened(url: &str) -> String {
    let name = url.split_once("://").map_or(url, |(_, rest)| rest);
    let chars: Vec<char> = name.chars().collect();
    if chars.len() <= NAME {
        return name.to_owned();
    }
    let tail: String = chars[chars.len() - (NAME - 1)..].iter().collect();
    format!("…{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bar_per_request_its_phases_where_they_took_place() {
        let load = crate::loader::har::tests::sample();
        let text = text(&load, 40);
        let lines: Vec<&str> = text.lines().collect();
        // The axis, a row per request, the legend.
        assert_eq!(lines.len(), 2 + load.entries.len(), "{text}");
        assert!(lines[0].contains("|0") && lines[0].ends_with("40.0 ms|"), "{text}");
        let bar = |line: &str| line.split('|').nth(1).unwrap().to_owned();
        for line in &lines[..lines.len() - 1] {
            assert_eq!(bar(line).chars().count(), 40, "{text}");
        }
        // The first request opened the connection: dns, connect and tls before its wait and
        // receive, in that order from the start of the chart.
        let first = bar(lines[1]);
        let order: String = first.chars().filter(|c| *c != ' ').collect();
        let phases: Vec<char> = {
            let mut seen = Vec::new();
            for c in order.chars() {
                if seen.last() != Some(&c) {
                    seen.push(c);
                }
            }
            seen
        };
        assert_eq!(phases, ['d', 'c', 's', '-', '#'], "{text}");
        // The second was queued at 19 ms and blocked for 2 (a column a millisecond here),
        // then had no TLS of its own.
        let second = bar(lines[2]);
        assert_eq!(&second[..21], format!("{}..", " ".repeat(19)), "{text}");
        assert!(second.contains('-') && second.contains('#') && !second.contains('s'), "{text}");
        assert!(lines.last().unwrap().contains("# receive"), "{text}");
    }

    #[test]
    fn long_names_keep_their_end() {
        let url = format!("http://lab.test/{}/picture.png", "a".repeat(60));
        let short = shortened(&url);
        assert_eq!(short.chars().count(), NAME);
        assert!(short.starts_with('…') && short.ends_with("/picture.png"), "{short}");
        assert_eq!(shortened("https://lab.test/x"), "lab.test/x");
    }
}
