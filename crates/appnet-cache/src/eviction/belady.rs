//! Belady's MIN, the offline reference (Belady, "A study of replacement algorithms for a
//! virtual-storage computer", IBM Systems Journal 1966): knowing the whole trace, evict the
//! resident object whose next request is furthest in the future.
//!
//! As the caching literature runs it for web objects (e.g. the LRB and S3-FIFO evaluations):
//! with variable sizes, objects are evicted furthest-next-request first until the new one
//! fits, and an object larger than the cache is never admitted. It may also decline to admit:
//! the new object is itself a candidate, so one whose next request comes after every victim's
//! (or never comes) passes by. For unit sizes that makes it optimal among all policies,
//! admission ones included; with variable sizes it is the usual yardstick but not a bound — a
//! size-aware policy can beat its *object* hit ratio by keeping many small objects.

use std::collections::BTreeSet;

use super::Policy;
use super::trace::Request;

/// The next request's position for "never again".
const NEVER: usize = usize::MAX;

/// Belady's MIN for one trace, replayed in order.
#[derive(Debug)]
pub struct Belady {
    capacity: u64,
    bytes: u64,
    /// Per request: the position of the same key's next request, or [`NEVER`].
    next: Vec<usize>,
    /// Requests served so far: the position of the one `access` is called for.
    at: usize,
    /// Resident objects: next request's position and size.
    resident: foldhash::HashMap<u64, (usize, u64)>,
    /// Resident objects by next request, furthest last.
    by_next: BTreeSet<(usize, u64)>,
}

impl Belady {
    /// MIN of `capacity` bytes for `requests`, which [`Policy::access`] must then be called with
    /// in order.
    pub fn new(capacity: u64, requests: &[Request]) -> Self {
        let mut next = vec![NEVER; requests.len()];
        let mut seen: foldhash::HashMap<u64, usize> = foldhash::HashMap::default();
        for (at, request) in requests.iter().enumerate().rev() {
            if let Some(later) = seen.insert(request.key, at) {
                next[at] = later;
            }
        }
        Self {
            capacity,
            bytes: 0,
            next,
            at: 0,
            resident: foldhash::HashMap::default(),
            by_next: BTreeSet::new(),
        }
    }
}

impl Policy for Belady {
    fn name(&self) -> &str {
        "belady"
    }

    /// # Panics
    /// When called more times than the trace has requests.
    fn access(&mut self, key: u64, size: u64) -> bool {
        let next = self.next[self.at];
        self.at += 1;
        if let Some((old, _)) = self.resident.get_mut(&key) {
            self.by_next.remove(&(*old, key));
            *old = next;
            self.by_next.insert((next, key));
            return true;
        }
        if size > self.capacity {
            return false;
        }
        while self.bytes + size > self.capacity {
            let &(furthest, victim) = self.by_next.last().expect("bytes held");
            if furthest <= next {
                return false;
            }
            self.by_next.pop_last();
            let (_, victim_size) = self.resident.remove(&victim).expect("queued means resident");
            self.bytes -= victim_size;
        }
        if next == NEVER {
            return false;
        }
        self.resident.insert(key, (next, size));
        self.by_next.insert((next, key));
        self.bytes += size;
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eviction::study::replay;
    use crate::eviction::trace::Trace;
    use crate::eviction::{GdsfPolicy, LruPolicy, S3FifoPolicy, TinyLfuPolicy};

    fn unit(keys: &[u64]) -> Trace {
        let requests = keys.iter().map(|&key| Request { key, size: 1 }).collect();
        Trace { requests, objects: 0, catalog_bytes: 0 }
    }

    #[test]
    fn evicts_the_furthest_next_request() {
        // Capacity 2: a b c a b — at c, a comes back first, b next: c is not worth admitting
        // (never again), so a and b both hit.
        let trace = unit(&[1, 2, 3, 1, 2]);
        let mut belady = Belady::new(2, &trace.requests);
        let hits: Vec<bool> = trace.requests.iter().map(|r| belady.access(r.key, 1)).collect();
        assert_eq!(hits, [false, false, false, true, true]);
        // a b c b c a: at c, both b and c come back before a: a goes.
        let trace = unit(&[1, 2, 3, 2, 3, 1]);
        let mut belady = Belady::new(2, &trace.requests);
        let hits: Vec<bool> = trace.requests.iter().map(|r| belady.access(r.key, 1)).collect();
        assert_eq!(hits, [false, false, false, true, true, false]);
    }

    #[test]
    fn no_policy_beats_it_with_unit_sizes() {
        // A small pseudo-random trace (a fixed LCG, no RNG needed): 40 keys, skewed.
        let mut state = 12345u64;
        let keys: Vec<u64> = (0..10_000)
            .map(|_| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let u = (state >> 33) as f64 / (1u64 << 31) as f64;
                (40.0 * u * u) as u64
            })
            .collect();
        let trace = unit(&keys);
        for capacity in [2, 5, 10, 20] {
            let best = replay(&mut Belady::new(capacity, &trace.requests), &trace, 0).hits;
            let others: [Box<dyn Policy>; 5] = [
                Box::new(LruPolicy::new(capacity)),
                Box::new(S3FifoPolicy::new(capacity)),
                Box::new(TinyLfuPolicy::new(capacity, 64)),
                Box::new(GdsfPolicy::classic(capacity)),
                Box::new(GdsfPolicy::new(capacity)),
            ];
            for mut policy in others {
                let hits = replay(policy.as_mut(), &trace, 0).hits;
                assert!(hits <= best, "{} {hits} > belady {best} at {capacity}", policy.name());
            }
        }
    }

    #[test]
    fn sizes_the_too_large_and_the_never_again() {
        let requests = [(1, 6), (2, 5), (1, 6), (3, 20), (2, 5), (1, 6)]
            .map(|(key, size)| Request { key, size });
        let mut belady = Belady::new(10, &requests);
        let hits: Vec<bool> = requests.iter().map(|r| belady.access(r.key, r.size)).collect();
        // 2 does not fit beside 1 and comes back after 1: passes by, then misses again; 3 is
        // larger than the cache.
        assert_eq!(hits, [false, false, true, false, false, true]);
        assert!(belady.bytes <= 10);
    }
}
