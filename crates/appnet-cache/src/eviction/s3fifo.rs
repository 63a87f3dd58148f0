//! S3-FIFO, simulated (Yang et al., "FIFO queues are all you need for cache eviction",
//! SOSP 2023): three FIFO queues and no reordering on a hit.
//!
//! ```text
//!   new ──▶ small (10 %) ──(hit twice there: freq ≥ 2)──▶ main (90 %) ──▶ out
//!             │                                            ▲  │ freq > 0: back in, freq − 1
//!             └─(not)──▶ ghost (keys only, 90 % of bytes)  │  └──────────┘
//!   new, but in ghost ─────────────────────────────────────┘
//! ```
//!
//! A hit only bumps a 2-bit counter (0–3; reset when an object moves to main). Most objects are
//! requested once, and the small queue sheds them quickly; the ghost catches those it shed too
//! soon. Parameters as in the authors' libCacheSim: small queue 10 % of the bytes, ghost 90 %,
//! move-to-main threshold 2, objects as large as the small queue not admitted. (Threshold 1 and
//! a small queue of 20 % were measured too, and did slightly worse here.)

use super::Policy;
use super::ghost::Ghost;
use super::list::{List, Slab};

#[derive(Debug)]
struct Entry {
    key: u64,
    size: u64,
    freq: u8,
}

/// S3-FIFO over `(key, size)` requests, under a byte capacity.
#[derive(Debug)]
pub struct S3FifoPolicy {
    capacity: u64,
    small_capacity: u64,
    ghost_capacity: u64,
    threshold: u8,
    index: foldhash::HashMap<u64, u32>,
    slab: Slab<Entry>,
    small: List,
    main: List,
    small_bytes: u64,
    main_bytes: u64,
    ghost: Ghost,
}

impl S3FifoPolicy {
    /// S3-FIFO of `capacity` bytes, with the paper's parameters.
    pub fn new(capacity: u64) -> Self {
        Self {
            capacity,
            small_capacity: capacity / 10,
            ghost_capacity: capacity / 10 * 9,
            threshold: 2,
            index: foldhash::HashMap::default(),
            slab: Slab::new(),
            small: List::new(),
            main: List::new(),
            small_bytes: 0,
            main_bytes: 0,
            ghost: Ghost::default(),
        }
    }

    /// One step towards room: evicts one object or moves one along.
    fn evict_one(&mut self) {
        if self.main_bytes > self.capacity - self.small_capacity || self.small.len() == 0 {
            self.evict_main();
        } else {
            self.evict_small();
        }
    }

    fn evict_small(&mut self) {
        while let Some(node) = self.slab.pop_back(&mut self.small) {
            let entry = self.slab.get_mut(node);
            self.small_bytes -= entry.size;
            if entry.freq >= self.threshold {
                entry.freq = 0;
                self.main_bytes += entry.size;
                self.slab.push_front(&mut self.main, node);
            } else {
                let entry = self.slab.release(node);
                self.index.remove(&entry.key);
                self.ghost.push(entry.key, entry.size, self.ghost_capacity);
                return;
            }
        }
    }

    fn evict_main(&mut self) {
        while let Some(node) = self.slab.pop_back(&mut self.main) {
            let entry = self.slab.get_mut(node);
            if entry.freq > 0 {
                entry.freq -= 1;
                self.slab.push_front(&mut self.main, node);
            } else {
                let entry = self.slab.release(node);
                self.index.remove(&entry.key);
                self.main_bytes -= entry.size;
                return;
            }
        }
    }
}

impl Policy for S3FifoPolicy {
    fn name(&self) -> &str {
        "s3-fifo"
    }

    fn access(&mut self, key: u64, size: u64) -> bool {
        if let Some(&node) = self.index.get(&key) {
            let entry = self.slab.get_mut(node);
            entry.freq = (entry.freq + 1).min(3);
            return true;
        }
        if size > self.capacity {
            return false;
        }
        let main = self.ghost.take(key);
        if !main && size >= self.small_capacity {
            return false;
        }
        while self.small_bytes + self.main_bytes + size > self.capacity {
            self.evict_one();
        }
        let node = self.slab.alloc(Entry { key, size, freq: 0 });
        if main {
            self.slab.push_front(&mut self.main, node);
            self.main_bytes += size;
        } else {
            self.slab.push_front(&mut self.small, node);
            self.small_bytes += size;
        }
        self.index.insert(key, node);
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_hit_wonders_pass_through_small_and_the_requested_stay() {
        // 100 units: small holds 10. Keys 1 and 2 are requested twice while in small.
        let mut cache = S3FifoPolicy::new(100);
        for key in [1, 2, 1, 2, 1, 2] {
            cache.access(key, 1);
        }
        // A scan of 200 one-time keys: 1 and 2 move to main; the scan churns through small.
        for key in 1000..1200 {
            assert!(!cache.access(key, 1));
        }
        assert!(cache.access(1, 1) && cache.access(2, 1), "kept through the scan");
        assert_eq!(cache.main.len(), 2, "only they reached main");
        assert!(!cache.access(1000, 1), "the scan's first went through small and out");
    }

    #[test]
    fn the_ghost_sends_a_returning_key_to_main() {
        let mut cache = S3FifoPolicy::new(100);
        cache.access(7, 1);
        for key in 1000..1100 {
            cache.access(key, 1);
        }
        assert!(!cache.index.contains_key(&7), "7 left small, into the ghost");
        assert!(!cache.access(7, 1));
        let node = cache.index[&7];
        assert_eq!(cache.main.back(), Some(node), "readmitted straight to main");
    }

    #[test]
    fn bytes_stay_within_capacity() {
        let mut cache = S3FifoPolicy::new(1000);
        for i in 0..10_000u64 {
            cache.access(i % 97 + (i % 7) * 1000, 1 + i % 50);
            assert!(cache.small_bytes + cache.main_bytes <= 1000);
        }
        assert!(!cache.access(5000, 100), "as large as the small queue: not admitted");
        assert!(!cache.index.contains_key(&5000));
    }
}
