//! W-TinyLFU, simulated (Einziger, Friedman and Manes, ACM ToS 2017; the policy of Caffeine):
//! new objects enter a small LRU window (1 % of the bytes); what the window pushes out must win
//! a frequency contest against the main cache's victims to get in. The main cache is a
//! segmented LRU: probation (20 %) for objects seen in main once, protected (80 %) for those
//! hit there again. Frequencies come from a count-min [`Sketch`] with a doorkeeper and aging.
//! The window stays at 1 % (Caffeine adapts it by hill climbing; not done here).
//!
//! Sizes vary, so one candidate may need several victims' room: it is admitted only if its
//! estimated frequency beats every one of them (probation's oldest first, then protected's);
//! otherwise it is dropped and the victims stay.

use super::Policy;
use super::list::{List, Slab};
use super::sketch::{Sketch, mix};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Segment {
    Probation,
    Protected,
    Window,
}

#[derive(Debug)]
struct Entry {
    key: u64,
    size: u64,
    segment: Segment,
}

/// W-TinyLFU over `(key, size)` requests, under a byte capacity.
#[derive(Debug)]
pub struct TinyLfuPolicy {
    window_capacity: u64,
    main_capacity: u64,
    protected_capacity: u64,
    index: foldhash::HashMap<u64, u32>,
    slab: Slab<Entry>,
    window: List,
    probation: List,
    protected: List,
    window_bytes: u64,
    probation_bytes: u64,
    protected_bytes: u64,
    sketch: Sketch,
    victims: Vec<u32>,
}

impl TinyLfuPolicy {
    /// W-TinyLFU of `capacity` bytes, its sketch sized for about `entries` resident objects.
    pub fn new(capacity: u64, entries: usize) -> Self {
        let window_capacity = capacity / 100;
        let main_capacity = capacity - window_capacity;
        Self {
            window_capacity,
            main_capacity,
            protected_capacity: main_capacity / 10 * 8,
            index: foldhash::HashMap::default(),
            slab: Slab::new(),
            window: List::new(),
            probation: List::new(),
            protected: List::new(),
            window_bytes: 0,
            probation_bytes: 0,
            protected_bytes: 0,
            sketch: Sketch::new(entries),
            victims: Vec::new(),
        }
    }

    fn hit(&mut self, node: u32) {
        let entry = self.slab.get_mut(node);
        match entry.segment {
            Segment::Window => self.slab.move_to_front(&mut self.window, node),
            Segment::Protected => self.slab.move_to_front(&mut self.protected, node),
            Segment::Probation => {
                entry.segment = Segment::Protected;
                let size = entry.size;
                self.slab.unlink(&mut self.probation, node);
                self.slab.push_front(&mut self.protected, node);
                self.probation_bytes -= size;
                self.protected_bytes += size;
                while self.protected_bytes > self.protected_capacity {
                    let demoted = self.slab.pop_back(&mut self.protected).expect("bytes held");
                    let entry = self.slab.get_mut(demoted);
                    entry.segment = Segment::Probation;
                    self.protected_bytes -= entry.size;
                    self.probation_bytes += entry.size;
                    self.slab.push_front(&mut self.probation, demoted);
                }
            }
        }
    }

    /// The window's oldest, pushed out, tries to enter the main cache.
    fn admit(&mut self, candidate: u32) {
        if !self.wins_room(candidate) {
            self.drop_entry(candidate);
            return;
        }
        let mut victims = std::mem::take(&mut self.victims);
        for victim in victims.drain(..) {
            let entry = self.slab.get(victim);
            let (list, bytes) = match entry.segment {
                Segment::Probation => (&mut self.probation, &mut self.probation_bytes),
                _ => (&mut self.protected, &mut self.protected_bytes),
            };
            *bytes -= entry.size;
            self.slab.unlink(list, victim);
            self.drop_entry(victim);
        }
        self.victims = victims;
        let entry = self.slab.get_mut(candidate);
        entry.segment = Segment::Probation;
        self.probation_bytes += entry.size;
        self.slab.push_front(&mut self.probation, candidate);
    }

    /// Whether `candidate` beats every victim it needs the room of (probation's oldest first,
    /// then protected's); those victims are left in `self.victims`.
    fn wins_room(&mut self, candidate: u32) -> bool {
        let size = self.slab.get(candidate).size;
        if size > self.main_capacity {
            return false;
        }
        let held = self.probation_bytes + self.protected_bytes;
        let mut need = (held + size).saturating_sub(self.main_capacity);
        let frequency = self.sketch.estimate(mix(self.slab.get(candidate).key));
        self.victims.clear();
        let mut at = self.probation.back().or_else(|| self.protected.back());
        while need > 0 {
            // The main cache holds more than `need` bytes, so victims run out only after.
            let Some(victim) = at else { return true };
            let entry = self.slab.get(victim);
            if self.sketch.estimate(mix(entry.key)) >= frequency {
                return false;
            }
            need = need.saturating_sub(entry.size);
            self.victims.push(victim);
            at = self.slab.prev(victim).or_else(|| match entry.segment {
                Segment::Probation => self.protected.back(),
                _ => None,
            });
        }
        true
    }

    fn drop_entry(&mut self, node: u32) {
        let entry = self.slab.release(node);
        self.index.remove(&entry.key);
    }
}

impl Policy for TinyLfuPolicy {
    fn name(&self) -> &str {
        "w-tinylfu"
    }

    fn access(&mut self, key: u64, size: u64) -> bool {
        self.sketch.increment(mix(key));
        if let Some(&node) = self.index.get(&key) {
            self.hit(node);
            return true;
        }
        if size > self.window_capacity + self.main_capacity {
            return false;
        }
        let node = self.slab.alloc(Entry { key, size, segment: Segment::Window });
        self.slab.push_front(&mut self.window, node);
        self.index.insert(key, node);
        self.window_bytes += size;
        while self.window_bytes > self.window_capacity {
            let candidate = self.slab.pop_back(&mut self.window).expect("bytes held");
            self.window_bytes -= self.slab.get(candidate).size;
            self.admit(candidate);
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frequent_key_survives_a_scan_that_lru_would_not() {
        // 1000 units: window 10, probation ~198, protected 792.
        let mut cache = TinyLfuPolicy::new(1000, 1000);
        for _ in 0..5 {
            for key in 0..50 {
                cache.access(key, 1);
            }
        }
        for key in 10_000..12_000 {
            assert!(!cache.access(key, 1));
        }
        let kept = (0..50).filter(|&key| cache.access(key, 1)).count();
        assert_eq!(kept, 50, "the scan lost every contest against the hot keys");
    }

    #[test]
    fn admission_needs_to_beat_every_victim_it_displaces() {
        let mut cache = TinyLfuPolicy::new(1000, 1000);
        // Fill main with keys requested twice.
        for key in 0..990 {
            cache.access(key, 1);
            cache.access(key, 1);
        }
        // A 100-unit object requested once would need 100 victims of frequency 2: refused.
        cache.access(5000, 100);
        for key in 5001..5020 {
            cache.access(key, 1);
        }
        assert!(!cache.index.contains_key(&5000));
        let main = cache.probation_bytes + cache.protected_bytes;
        assert!(main + cache.window_bytes <= 1000, "{main} + {}", cache.window_bytes);
    }
}
