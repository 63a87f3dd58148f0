//! Synthetic request traces for the study: a catalog of objects with web-like sizes, requested
//! with Zipf-distributed popularity, and a harder variant with one-hit wonders, a crawler's scan
//! and a popularity shift. Randomness comes in as `&mut impl Rng`, so a seed fixes a trace.
//!
//! Sizes are lognormal, median 16 KiB, σ = 1.5 (mean ≈ 49 KiB, p99 ≈ 0.5 MiB), clamped to
//! 1 KiB – 8 MiB: the heavy-tailed shape measured for web objects (Breslau et al., "Web caching
//! and Zipf-like distributions", INFOCOM 1999, for popularity; Downey, "Lognormal and Pareto
//! distributions in the Internet", 2005, for sizes). Size and popularity are independent.

use rand::Rng;
use rand::seq::SliceRandom;

/// One request: which object, and how many bytes it weighs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    /// The object.
    pub key: u64,
    /// Its size in bytes (the same every time it is requested).
    pub size: u64,
}

/// A sequence of requests, with what its catalog holds.
#[derive(Debug, Clone)]
pub struct Trace {
    /// The requests, in order.
    pub requests: Vec<Request>,
    /// Objects in the catalog (the one-hit wonders of [`Trace::shifting`] are outside it).
    pub objects: usize,
    /// Their bytes, each counted once: what a cache's "fraction of the catalog" is taken of.
    pub catalog_bytes: u64,
}

impl Trace {
    /// `requests` requests to a catalog of `objects`, popularity Zipf with exponent `alpha`
    /// (the rank-`r` object is requested in proportion to `1 / r^alpha`), keys shuffled so that
    /// rank and key are unrelated.
    pub fn zipf(objects: usize, alpha: f64, requests: usize, rng: &mut impl Rng) -> Self {
        let sizes: Vec<u64> = (0..objects).map(|_| object_size(rng)).collect();
        let mut by_rank: Vec<u64> = (0..objects as u64).collect();
        by_rank.shuffle(rng);
        let zipf = Zipf::new(objects, alpha);
        let requests = (0..requests)
            .map(|_| {
                let key = by_rank[zipf.sample(rng)];
                Request { key, size: sizes[key as usize] }
            })
            .collect();
        Self { requests, objects, catalog_bytes: sizes.iter().sum() }
    }

    /// Like [`Trace::zipf`], with what makes a real trace hard for frequency and recency alike:
    /// a fifth of the requests go to one-hit wonders (new objects, outside the catalog, never
    /// requested again); a quarter of the way in, a crawler scans half the catalog once, in
    /// key order; and halfway the popularity order is drawn again, so the hot objects go cold.
    pub fn shifting(objects: usize, alpha: f64, requests: usize, rng: &mut impl Rng) -> Self {
        let sizes: Vec<u64> = (0..objects).map(|_| object_size(rng)).collect();
        let catalog_bytes: u64 = sizes.iter().sum();
        let mut by_rank: Vec<u64> = (0..objects as u64).collect();
        by_rank.shuffle(rng);
        let zipf = Zipf::new(objects, alpha);
        let mut out = Vec::with_capacity(requests);
        let mut wonders = objects as u64;
        while out.len() < requests {
            if out.len() == requests / 4 {
                let scan = (objects / 2).min(requests - out.len());
                out.extend((0..scan as u64).map(|key| Request { key, size: sizes[key as usize] }));
                continue;
            }
            if out.len() == requests / 2 {
                by_rank.shuffle(rng);
            }
            if rng.random_bool(0.2) {
                out.push(Request { key: wonders, size: object_size(rng) });
                wonders += 1;
            } else {
                let key = by_rank[zipf.sample(rng)];
                out.push(Request { key, size: sizes[key as usize] });
            }
        }
        Self { requests: out, objects, catalog_bytes }
    }
}

/// Zipf ranks `0..n` (rank 0 the most popular), sampled by inverting the cumulative weights.
#[derive(Debug, Clone)]
pub struct Zipf {
    cumulative: Vec<f64>,
}

impl Zipf {
    /// Ranks `0..n`, rank `r` weighing `1 / (r + 1)^alpha`.
    pub fn new(n: usize, alpha: f64) -> Self {
        let mut total = 0.0;
        let mut cumulative: Vec<f64> = (1..=n)
            .map(|rank| {
                total += (rank as f64).powf(-alpha);
                total
            })
            .collect();
        for weight in &mut cumulative {
            *weight /= total;
        }
        Self { cumulative }
    }

    /// A rank.
    pub fn sample(&self, rng: &mut impl Rng) -> usize {
        let u: f64 = rng.random();
        self.cumulative.partition_point(|&c| c < u).min(self.cumulative.len() - 1)
    }
}

/// Median object size: 16 KiB.
const MEDIAN_SIZE: f64 = 16384.0;
/// σ of the size's logarithm.
const SIZE_SIGMA: f64 = 1.5;

/// A web object's size in bytes: lognormal, clamped to 1 KiB – 8 MiB.
pub fn object_size(rng: &mut impl Rng) -> u64 {
    // Box–Muller: u1 in (0, 1] keeps the logarithm finite.
    let u1 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random();
    let normal = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
    (MEDIAN_SIZE * (SIZE_SIGMA * normal).exp()).clamp(1024.0, 8.0 * 1024.0 * 1024.0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn zipf_ranks_fall_off_as_a_power() {
        let zipf = Zipf::new(1000, 1.0);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut counts = vec![0u32; 1000];
        for _ in 0..100_000 {
            counts[zipf.sample(&mut rng)] += 1;
        }
        // Rank 0 gets 1/H(1000) ≈ 13.4 %, rank 1 half that, rank 9 a tenth.
        let share = |rank: usize| f64::from(counts[rank]) / 100_000.0;
        assert!((share(0) - 0.134).abs() < 0.01, "{}", share(0));
        assert!((share(0) / share(1) - 2.0).abs() < 0.2, "{}", share(0) / share(1));
        assert!((share(0) / share(9) - 10.0).abs() < 1.5, "{}", share(0) / share(9));
    }

    #[test]
    fn sizes_are_web_like_and_seeded() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let mut sizes: Vec<u64> = (0..20_000).map(|_| object_size(&mut rng)).collect();
        sizes.sort_unstable();
        let median = sizes[sizes.len() / 2];
        assert!((14_000..19_000).contains(&median), "{median}");
        assert!(sizes[0] >= 1024 && sizes[sizes.len() - 1] > 1 << 20, "a heavy tail");
        let again = Trace::zipf(100, 0.8, 50, &mut ChaCha8Rng::seed_from_u64(3));
        let trace = Trace::zipf(100, 0.8, 50, &mut ChaCha8Rng::seed_from_u64(3));
        assert_eq!(again.requests, trace.requests, "a seed fixes the trace");
    }

    #[test]
    fn the_shifting_trace_has_its_wonders_and_its_scan() {
        let trace = Trace::shifting(1000, 0.8, 8000, &mut ChaCha8Rng::seed_from_u64(4));
        assert_eq!(trace.requests.len(), 8000);
        let scan: Vec<u64> = trace.requests[2000..2500].iter().map(|r| r.key).collect();
        assert_eq!(scan, (0..500).collect::<Vec<_>>(), "the crawler at a quarter");
        let wonders = trace.requests.iter().filter(|r| r.key >= 1000).count();
        assert!((1300..1700).contains(&wonders), "a fifth of the non-scan requests: {wonders}");
        assert_eq!(trace.objects, 1000, "the wonders are outside the catalog");
    }
}
