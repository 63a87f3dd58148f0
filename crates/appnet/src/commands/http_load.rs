//! `appnet http load`: load a page like a browser and say where the time went.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use appnet_http::loader::cache::PrivateCache;
use appnet_http::loader::connection::{Origin, Trust};
use appnet_http::loader::load::{self, LoadOptions};
use appnet_http::loader::mode::Mode;
use appnet_http::loader::record::{PageLoad, human_bytes};
use appnet_http::loader::{har, text_waterfall, waterfall};

use crate::cli::LoadArgs;

pub(crate) fn run(args: &LoadArgs) -> anyhow::Result<ExitCode> {
    let url = url::Url::parse(&args.url).with_context(|| format!("`{}` is not a URL", args.url))?;
    if !matches!(url.scheme(), "http" | "https") {
        bail!("{url}: only http:// and https:// pages can be loaded");
    }
    let modes: Vec<Mode> = if args.mode == "compare" {
        Mode::COMPARED.to_vec()
    } else {
        vec![args.mode.parse().map_err(anyhow::Error::msg)?]
    };
    let proxy = match &args.proxy {
        Some(text) => {
            let proxy = url::Url::parse(text).with_context(|| format!("--proxy `{text}`"))?;
            if proxy.scheme() != "http" {
                bail!("--proxy `{text}`: expected http://HOST:PORT");
            }
            Some(Origin::of(&proxy).map_err(anyhow::Error::msg)?)
        }
        None => None,
    };
    let trust = match (&args.cacert, args.insecure) {
        (Some(file), _) => Trust::CaFile(file.clone()),
        (None, true) => Trust::Insecure,
        (None, false) => Trust::System,
    };
    // Before any clock starts: page faults are the loader's own cost, not the page's.
    appnet_http::loader::prefault::prepare();
    // One thread: a browser's network stack is one event loop too, and a request's wake-ups
    // then never cross threads (on loopback that was a third of the loader's time per request).
    let runtime = Background(Some(
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("start the async runtime")?,
    ));
    let mut loads = Vec::new();
    let mut failed: Vec<(Mode, String)> = Vec::new();
    for mode in &modes {
        let options = LoadOptions {
            mode: *mode,
            trust: trust.clone(),
            max_resources: usize::try_from(args.max_resources).unwrap_or(usize::MAX),
            max_bytes: args.max_bytes as u64,
            timeout: Duration::from_secs(args.timeout),
            connect_timeout: Duration::from_secs(args.connect_timeout),
            accept_encoding: match (args.accept_encoding, args.no_compression) {
                (Some(codings), _) => codings,
                (None, true) => "identity",
                (None, false) => load::COMPRESSED,
            },
            resolver: args.dns,
            proxy: proxy.clone(),
            ..LoadOptions::default()
        };
        if modes.len() > 1 && !args.json {
            eprintln!("loading {url} with {mode} …");
        }
        // Without a repeat view nothing the first view could store is ever read.
        let first = if args.repeat { PrivateCache::new() } else { PrivateCache::off() };
        let views = runtime.block_on(async {
            let (page, cache) = load::load_cached(&url, &options, first).await?;
            let repeat = if args.repeat {
                Some(load::load_cached(&url, &options, cache).await?.0)
            } else {
                None
            };
            Ok::<_, appnet_http::loader::LoadError>((page, repeat))
        });
        let (page, repeat) = match views {
            Ok(views) => views,
            // One mode failing (h2 to a server without h2c, say) leaves the others compared.
            Err(error) if modes.len() > 1 => {
                eprintln!("{mode}: failed: {error}");
                failed.push((*mode, error.to_string()));
                continue;
            }
            Err(error) => return Err(error.into()),
        };
        let views = std::iter::once((&page, "")).chain(repeat.iter().map(|r| (r, "repeat")));
        for (view, label) in views {
            let mut suffix: Vec<String> = Vec::new();
            if modes.len() > 1 {
                suffix.push(mode.to_string().replace(':', "-"));
            }
            if !label.is_empty() {
                suffix.push(label.to_owned());
            }
            let suffix = (!suffix.is_empty()).then(|| suffix.join("."));
            if let Some(path) = &args.har {
                let text = serde_json::to_string_pretty(&har::har(view))?;
                write(&named(path, suffix.as_deref()), text.as_bytes())?;
            }
            if let Some(path) = &args.waterfall {
                write(&named(path, suffix.as_deref()), waterfall::svg(view).as_bytes())?;
            }
        }
        loads.push((page, repeat));
    }
    if args.json {
        let views = |(first, repeat): &(PageLoad, Option<PageLoad>)| match repeat {
            Some(repeat) => serde_json::json!({"first": first, "repeat": repeat}),
            None => serde_json::to_value(first).unwrap_or_default(),
        };
        let value = if modes.len() == 1 {
            views(&loads[0])
        } else {
            let failures = failed
                .iter()
                .map(|(mode, error)| serde_json::json!({"mode": mode.to_string(), "error": error}));
            serde_json::Value::Array(loads.iter().map(views).chain(failures).collect())
        };
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else if modes.len() == 1 {
        print!("{}", table(&loads[0].0));
        if let Some(repeat) = &loads[0].1 {
            println!("\nRepeat view, through the private cache: {}", reuse(repeat));
            print!("{}", table(repeat));
        }
    } else {
        let firsts: Vec<PageLoad> = loads.iter().map(|(first, _)| first.clone()).collect();
        print!("{}", comparison(&url, &firsts, &failed));
        let repeats: Vec<PageLoad> = loads.iter().filter_map(|(_, r)| r.clone()).collect();
        if !repeats.is_empty() {
            println!("\nRepeat views, through the private cache:");
            print!("{}", comparison(&url, &repeats, &[]));
            for repeat in &repeats {
                println!("  {:<12} {}", repeat.mode, reuse(repeat));
            }
        }
        for first in &firsts {
            println!(
                "\n{} — PLT {:.1} ms, {} connection{}:",
                first.mode,
                first.plt.as_secs_f64() * 1e3,
                first.connections,
                if first.connections == 1 { "" } else { "s" }
            );
            print!("{}", text_waterfall::text(first, WATERFALL_WIDTH));
        }
    }
    // What went wrong is said on standard error, also with --json (where entries carry it).
    let mut timed_out = false;
    for (first, repeat) in &loads {
        for view in std::iter::once(first).chain(repeat) {
            for line in problems(view, args) {
                eprintln!("{line}");
            }
            timed_out |= view.timed_out;
        }
    }
    Ok(if failed.is_empty() && !timed_out { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// Columns of a waterfall's bars in the terminal (with the name and outcome, ~110 in all).
const WATERFALL_WIDTH: usize = 60;

/// The runtime, shut down without waiting for its blocking threads: a name lookup the
/// connect timeout gave up on (getaddrinfo cannot be cancelled) must not hold the exit.
struct Background(Option<tokio::runtime::Runtime>);

impl std::ops::Deref for Background {
    type Target = tokio::runtime::Runtime;

    fn deref(&self) -> &Self::Target {
        self.0.as_ref().expect("taken only on drop")
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// "3 fresh from the cache, 7 revalidated (304), 1 fetched again".
fn reuse(page: &PageLoad) -> String {
    let count = |cache: Option<&str>| page.entries.iter().filter(|e| e.cache == cache).count();
    format!(
        "{} fresh from the cache, {} revalidated (304), {} fetched again",
        count(Some("fresh")),
        count(Some("revalidated")),
        count(None)
    )
}

/// A line per failed request and one for what the caps left out.
fn problems(page: &PageLoad, args: &LoadArgs) -> Vec<String> {
    let mut lines: Vec<String> = page
        .entries
        .iter()
        .filter_map(|entry| entry.error.as_ref())
        .map(|error| format!("{} ({}): failed: {error}", page.mode, page.url))
        .collect();
    if page.timed_out {
        let unfinished = page
            .entries
            .iter()
            .filter(|e| e.error.as_deref().is_some_and(|e| e.contains("unfinished when")))
            .count();
        lines.push(format!(
            "{} ({}): the page took longer than {}s (--timeout): {unfinished} requests \
             unfinished; what came in before is shown",
            page.mode, page.url, args.timeout
        ));
    }
    if page.not_fetched > 0 {
        lines.push(format!(
            "{} ({}): {} resources not fetched: the cap of {} requests or {} was reached \
             (--max-resources, --max-bytes)",
            page.mode,
            page.url,
            page.not_fetched,
            args.max_resources,
            human_bytes(args.max_bytes as u64)
        ));
    }
    lines
}

/// `page.har` → `page.h2.har` for one mode of a comparison.
fn named(path: &Path, suffix: Option<&str>) -> PathBuf {
    let Some(suffix) = suffix else { return path.to_path_buf() };
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let name = match path.extension() {
        Some(ext) => format!("{stem}.{suffix}.{}", ext.to_string_lossy()),
        None => format!("{stem}.{suffix}"),
    };
    path.with_file_name(name)
}

fn write(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("write {}", path.display()))
}

fn ms(d: Duration) -> String {
    if d.is_zero() { "-".to_owned() } else { format!("{:.1}", d.as_secs_f64() * 1e3) }
}

/// The summary and a line per resource, times in milliseconds.
fn table(page: &PageLoad) -> String {
    let mut out = format!(
        "{} ({}): PLT {:.1} ms{}, {}, {}, {} connection{}\n\n",
        page.url,
        page.mode,
        page.plt.as_secs_f64() * 1e3,
        if page.timed_out { " (timed out)" } else { "" },
        counted(page),
        human_bytes(page.bytes),
        page.connections,
        if page.connections == 1 { "" } else { "s" }
    );
    out.push_str(
        "  #  status proto     conn   start    dns  connect    tls    wait  receive      size  url\n",
    );
    for (i, entry) in page.entries.iter().enumerate() {
        let status = if entry.status == 0 { "failed".to_owned() } else { entry.status.to_string() };
        out.push_str(&format!(
            "{:>3}  {:<6} {:<9} {:>4} {:>7} {:>6} {:>8} {:>6} {:>7} {:>8} {:>9}  {}\n",
            i + 1,
            status,
            entry.protocol,
            entry.connection,
            format!("{:.1}", entry.started.as_secs_f64() * 1e3),
            ms(entry.dns),
            ms(entry.connect),
            ms(entry.tls),
            ms(entry.wait),
            ms(entry.receive),
            human_bytes(entry.bytes),
            entry.url
        ));
    }
    out
}

/// "12 requests", or with copies the cache answered, "12 resources (8 requests, 4 from the
/// cache)": a fresh copy is no request.
fn counted(page: &PageLoad) -> String {
    let fresh = page.entries.iter().filter(|e| e.cache == Some("fresh")).count();
    let all = page.entries.len();
    if fresh == 0 {
        format!("{all} requests")
    } else {
        format!("{all} resources ({} requests, {fresh} from the cache)", all - fresh)
    }
}

/// Requests made: the entries less the copies the cache answered.
fn requests(page: &PageLoad) -> usize {
    page.entries.iter().filter(|e| e.cache != Some("fresh")).count()
}

/// One line per mode, fastest marked, and one per mode that `failed`.
fn comparison(url: &url::Url, loads: &[PageLoad], failed: &[(Mode, String)]) -> String {
    let best = loads.iter().filter(|l| !l.timed_out).map(|l| l.plt).min();
    let mut out = format!("{url}\n\n  mode           PLT (ms)  requests  connections      bytes\n");
    for load in loads {
        out.push_str(&format!(
            "  {:<12} {:>10.1} {:>9} {:>12} {:>10}{}\n",
            load.mode,
            load.plt.as_secs_f64() * 1e3,
            requests(load),
            load.connections,
            human_bytes(load.bytes),
            if load.timed_out {
                "  timed out"
            } else if Some(load.plt) == best {
                "  fastest"
            } else {
                ""
            }
        ));
    }
    for (mode, error) in failed {
        out.push_str(&format!("  {:<12} failed: {error}\n", mode.to_string()));
    }
    out
}
