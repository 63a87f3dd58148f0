//! The measurement: a trace replayed through each policy, counting hits and hit bytes.
//!
//! The first tenth of a trace only warms the caches up (every policy starts empty, and cold
//! misses would blur the differences); the ratios count the rest.

use super::trace::Trace;
use super::{Belady, GdsfPolicy, LruPolicy, Policy, S3FifoPolicy, TinyLfuPolicy};

/// What one policy made of one trace.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The policy's name.
    pub policy: String,
    /// Requests counted (after the warm-up).
    pub requests: u64,
    /// Of which hits.
    pub hits: u64,
    /// Bytes requested.
    pub bytes: u64,
    /// Of which served from the cache.
    pub hit_bytes: u64,
}

impl Outcome {
    /// Hits per request.
    pub fn hit_ratio(&self) -> f64 {
        self.hits as f64 / self.requests.max(1) as f64
    }

    /// Bytes served from the cache per byte requested.
    pub fn byte_hit_ratio(&self) -> f64 {
        self.hit_bytes as f64 / self.bytes.max(1) as f64
    }
}

/// Replays `trace` through `policy`, counting from request `warmup` on.
pub fn replay(policy: &mut dyn Policy, trace: &Trace, warmup: usize) -> Outcome {
    let mut outcome =
        Outcome { policy: policy.name().to_owned(), requests: 0, hits: 0, bytes: 0, hit_bytes: 0 };
    for (at, request) in trace.requests.iter().enumerate() {
        let hit = policy.access(request.key, request.size);
        if at >= warmup {
            outcome.requests += 1;
            outcome.bytes += request.size;
            if hit {
                outcome.hits += 1;
                outcome.hit_bytes += request.size;
            }
        }
    }
    outcome
}

/// Every candidate policy and Belady's MIN on `trace` with a cache of `capacity` bytes, Belady
/// last.
pub fn compare(trace: &Trace, capacity: u64) -> Vec<Outcome> {
    let warmup = warmup(trace);
    let mut policies = candidates(trace, capacity);
    policies.iter_mut().map(|policy| replay(policy.as_mut(), trace, warmup)).collect()
}

/// The policies [`compare`] replays, fresh: LRU, S3-FIFO, W-TinyLFU, classic GDSF, the chosen
/// GDSF, and Belady's MIN for `trace`, last.
pub fn candidates(trace: &Trace, capacity: u64) -> Vec<Box<dyn Policy>> {
    // W-TinyLFU's sketch wants the number of resident objects: capacity over mean size.
    let mean_size = trace.catalog_bytes / trace.objects.max(1) as u64;
    let entries = usize::try_from(capacity / mean_size.max(1)).unwrap_or(usize::MAX);
    vec![
        Box::new(LruPolicy::new(capacity)),
        Box::new(S3FifoPolicy::new(capacity)),
        Box::new(TinyLfuPolicy::new(capacity, entries)),
        Box::new(GdsfPolicy::classic(capacity)),
        Box::new(GdsfPolicy::new(capacity)),
        Box::new(Belady::new(capacity, &trace.requests)),
    ]
}

/// Requests [`compare`] replays before it counts: the first tenth.
pub fn warmup(trace: &Trace) -> usize {
    trace.requests.len() / 10
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eviction::trace::Request;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn replay_counts_after_the_warmup() {
        let requests =
            [(1, 10), (1, 10), (2, 30), (1, 10)].map(|(key, size)| Request { key, size });
        let trace = Trace { requests: requests.to_vec(), objects: 2, catalog_bytes: 40 };
        let outcome = replay(&mut LruPolicy::new(100), &trace, 1);
        assert_eq!(
            (outcome.requests, outcome.hits, outcome.bytes, outcome.hit_bytes),
            (3, 2, 50, 20)
        );
        assert!((outcome.hit_ratio() - 2.0 / 3.0).abs() < 1e-9);
        assert!((outcome.byte_hit_ratio() - 0.4).abs() < 1e-9);
    }

    #[test]
    fn the_chosen_policy_beats_lru_through_a_scan_and_a_shift() {
        let trace = Trace::shifting(2000, 0.8, 60_000, &mut ChaCha8Rng::seed_from_u64(1));
        let outcomes = compare(&trace, trace.catalog_bytes / 20);
        let by_name = |name: &str| outcomes.iter().find(|o| o.policy == name).expect(name);
        let (lru, gdsf, belady) = (by_name("lru"), by_name("gdsf"), by_name("belady"));
        assert!(gdsf.hit_ratio() > lru.hit_ratio() * 1.3, "{gdsf:?} vs {lru:?}");
        assert!(gdsf.byte_hit_ratio() > lru.byte_hit_ratio(), "{gdsf:?} vs {lru:?}");
        assert!(gdsf.hit_ratio() > 0.85 * belady.hit_ratio(), "{gdsf:?} vs {belady:?}");
    }
}
