//! Least recently used, simulated: the baseline every other policy must beat. A hit moves the
//! object to the front; a miss inserts it there and evicts from the back until it fits.

use super::Policy;
use super::list::{List, Slab};

/// LRU over `(key, size)` requests, under a byte capacity.
#[derive(Debug)]
pub struct LruPolicy {
    capacity: u64,
    bytes: u64,
    index: foldhash::HashMap<u64, u32>,
    slab: Slab<(u64, u64)>,
    queue: List,
}

impl LruPolicy {
    /// An empty LRU cache of `capacity` bytes.
    pub fn new(capacity: u64) -> Self {
        Self {
            capacity,
            bytes: 0,
            index: foldhash::HashMap::default(),
            slab: Slab::new(),
            queue: List::new(),
        }
    }
}

impl Policy for LruPolicy {
    fn name(&self) -> &str {
        "lru"
    }

    fn access(&mut self, key: u64, size: u64) -> bool {
        if let Some(&node) = self.index.get(&key) {
            self.slab.move_to_front(&mut self.queue, node);
            return true;
        }
        if size > self.capacity {
            return false;
        }
        while self.bytes + size > self.capacity {
            // The loop runs only while something is held: bytes > capacity - size >= 0.
            let victim = self.slab.pop_back(&mut self.queue).expect("bytes held");
            let (victim_key, victim_size) = self.slab.release(victim);
            self.index.remove(&victim_key);
            self.bytes -= victim_size;
        }
        let node = self.slab.alloc((key, size));
        self.slab.push_front(&mut self.queue, node);
        self.index.insert(key, node);
        self.bytes += size;
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_on_a_hand_made_trace() {
        // Capacity 3 units: a b c a d (evicts b) b (miss, evicts c) a (hit) c (miss, evicts d).
        let mut lru = LruPolicy::new(3);
        let hits: String = "abcadbac"
            .bytes()
            .map(|key| if lru.access(u64::from(key), 1) { 'h' } else { '.' })
            .collect();
        assert_eq!(hits, "...h..h.");
    }

    #[test]
    fn sizes_count_and_the_too_large_pass_by() {
        let mut lru = LruPolicy::new(10);
        assert!(!lru.access(1, 6));
        assert!(!lru.access(2, 4));
        assert!(!lru.access(3, 11), "larger than the cache");
        assert!(lru.access(1, 6) && lru.access(2, 4), "the too-large evicted nothing");
        assert!(!lru.access(4, 5), "evicts 1 (least recent), 6 bytes");
        assert!(!lru.access(1, 6), "evicts 2 and 4 to fit");
        assert_eq!(lru.bytes, 6);
        assert!(!lru.access(4, 5));
    }
}
