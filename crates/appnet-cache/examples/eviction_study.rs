//! The eviction study (issue #8): Zipf traces replayed through LRU, the candidate policies and
//! Belady's MIN, printing each one's hit ratio, byte hit ratio and hit ratio relative to
//! Belady's. `bench/workloads/cache-eviction` runs it.
//!
//! ```text
//! cargo run --release -p appnet-cache --example eviction_study -- \
//!     [--alpha 0.6,0.7,0.8,0.9,1.0] [--objects 100000] [--cache-fraction 0.05] \
//!     [--requests 4000000] [--seed 1] [--shift-alpha 0.8]
//! ```
//!
//! The cache holds `--cache-fraction` of the catalog's bytes. Besides one plain Zipf trace per
//! alpha, a "shifting" trace (one-hit wonders, a crawler's scan, a popularity shift) is run at
//! `--shift-alpha` (`none` to skip it). The first tenth of each trace warms the caches up and
//! is not counted; `seconds` is each policy's replay time.

use std::process::ExitCode;
use std::time::Instant;

use appnet_cache::eviction::study::{self, Outcome};
use appnet_cache::eviction::trace::Trace;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

struct Options {
    alphas: Vec<f64>,
    objects: usize,
    cache_fraction: f64,
    requests: usize,
    seed: u64,
    shift_alpha: Option<f64>,
}

fn main() -> ExitCode {
    let options = match parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("eviction_study: {message}");
            return ExitCode::from(2);
        }
    };
    println!(
        "# {} objects, {} requests, cache {} of the catalog's bytes, seed {}",
        options.objects, options.requests, options.cache_fraction, options.seed
    );
    println!(
        "{:<9} {:>5} {:<12} {:>9} {:>14} {:>9} {:>7}",
        "trace", "alpha", "policy", "hit_ratio", "byte_hit_ratio", "to_belady", "seconds"
    );
    let mut runs: Vec<(&str, f64)> = options.alphas.iter().map(|&alpha| ("zipf", alpha)).collect();
    runs.extend(options.shift_alpha.map(|alpha| ("shifting", alpha)));
    for (kind, alpha) in runs {
        let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
        let trace = match kind {
            "zipf" => Trace::zipf(options.objects, alpha, options.requests, &mut rng),
            _ => Trace::shifting(options.objects, alpha, options.requests, &mut rng),
        };
        let capacity = (trace.catalog_bytes as f64 * options.cache_fraction) as u64;
        let warmup = study::warmup(&trace);
        let outcomes: Vec<(Outcome, f64)> = study::candidates(&trace, capacity)
            .iter_mut()
            .map(|policy| {
                let started = Instant::now();
                let outcome = study::replay(policy.as_mut(), &trace, warmup);
                (outcome, started.elapsed().as_secs_f64())
            })
            .collect();
        print_rows(kind, alpha, &outcomes);
    }
    ExitCode::SUCCESS
}

fn print_rows(kind: &str, alpha: f64, outcomes: &[(Outcome, f64)]) {
    // candidates() puts Belady last.
    let belady = outcomes.last().map_or(1.0, |(outcome, _)| outcome.hit_ratio());
    for (outcome, seconds) in outcomes {
        println!(
            "{:<9} {:>5.2} {:<12} {:>9.4} {:>14.4} {:>9.3} {:>7.2}",
            kind,
            alpha,
            outcome.policy,
            outcome.hit_ratio(),
            outcome.byte_hit_ratio(),
            outcome.hit_ratio() / belady.max(f64::MIN_POSITIVE),
            seconds,
        );
    }
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut options = Options {
        alphas: vec![0.6, 0.7, 0.8, 0.9, 1.0],
        objects: 100_000,
        cache_fraction: 0.05,
        requests: 4_000_000,
        seed: 1,
        shift_alpha: Some(0.8),
    };
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = |what: &str| format!("{flag} {value}: {what}");
        match flag.as_str() {
            "--alpha" => {
                options.alphas = value
                    .split(',')
                    .map(|alpha| alpha.trim().parse().map_err(|_| bad("not a list of numbers")))
                    .collect::<Result<_, _>>()?;
            }
            "--objects" => options.objects = value.parse().map_err(|_| bad("not a count"))?,
            "--cache-fraction" => {
                options.cache_fraction = value.parse().map_err(|_| bad("not a number"))?;
            }
            "--requests" => options.requests = value.parse().map_err(|_| bad("not a count"))?,
            "--seed" => options.seed = value.parse().map_err(|_| bad("not a number"))?,
            "--shift-alpha" if value == "none" => options.shift_alpha = None,
            "--shift-alpha" => {
                options.shift_alpha = Some(value.parse().map_err(|_| bad("not a number"))?);
            }
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    if options.objects == 0 || options.requests == 0 {
        return Err("--objects and --requests must be positive".to_owned());
    }
    if !(options.cache_fraction > 0.0 && options.cache_fraction <= 1.0) {
        return Err("--cache-fraction must be in (0, 1]".to_owned());
    }
    Ok(options)
}
