//! "Seen before?": the admission filter that keeps one-hit wonders out of a full cache. Two
//! Bloom filters take turns: keys go into the current one, a lookup asks both, and once the
//! current one has taken `window` new keys it becomes the previous one and a fresh filter
//! starts. A key is so remembered for between one and two windows of new keys, in a few bits
//! per key, and the filter never grows beyond two windows.
//!
//! The window follows the cache: a quarter of its entries at each turn (at least 64), so a key
//! counts as seen only if it comes back before about a quarter to a half of the cache's worth
//! of other new keys has arrived. The study measured longer memories (one, two, four and eight
//! times the entries) and shorter ones (an eighth to a thirty-second): a quarter was about the
//! best for both ratios, and the longer ones let in too much. False positives (about 1 % when
//! a filter is full, at 10 bits and 3 probes per key) only let a wonder in now and then.

/// Bits per key a filter is sized for.
const BITS_PER_KEY: usize = 10;
/// The smallest window, so that a small or empty cache still remembers something.
const MIN_WINDOW: usize = 64;

/// Recently seen 64-bit key hashes, approximately.
#[derive(Debug)]
pub(crate) struct Seen {
    current: Bloom,
    previous: Bloom,
    added: usize,
    window: usize,
}

impl Seen {
    /// An empty filter.
    pub(crate) fn new() -> Self {
        Self {
            current: Bloom::new(MIN_WINDOW),
            previous: Bloom::new(0),
            added: 0,
            window: MIN_WINDOW,
        }
    }

    /// Whether `hash` was inserted lately.
    pub(crate) fn contains(&self, hash: u64) -> bool {
        self.current.contains(hash) || self.previous.contains(hash)
    }

    /// Remembers `hash`; `entries` (the cache's entry count) sizes the next window.
    pub(crate) fn insert(&mut self, hash: u64, entries: usize) {
        if self.current.insert(hash) {
            self.added += 1;
        }
        if self.added >= self.window {
            self.window = (entries / 4).max(MIN_WINDOW);
            self.previous = std::mem::replace(&mut self.current, Bloom::new(self.window));
            self.added = 0;
        }
    }
}

/// One Bloom filter of a power-of-two number of bits, three probes per key.
#[derive(Debug)]
struct Bloom {
    words: Vec<u64>,
    mask: u64,
}

impl Bloom {
    /// A filter for `keys` keys (empty for 0: it contains nothing).
    fn new(keys: usize) -> Self {
        if keys == 0 {
            return Self { words: Vec::new(), mask: 0 };
        }
        let bits = (keys * BITS_PER_KEY).next_power_of_two().max(64);
        Self { words: vec![0; bits / 64], mask: bits as u64 - 1 }
    }

    fn contains(&self, hash: u64) -> bool {
        !self.words.is_empty()
            && self.probes(hash).iter().all(|&bit| self.words[bit / 64] & (1 << (bit % 64)) != 0)
    }

    /// Sets `hash`'s bits; whether any was clear (the key is new to this filter).
    fn insert(&mut self, hash: u64) -> bool {
        let mut new = false;
        for bit in self.probes(hash) {
            let word = &mut self.words[bit / 64];
            new |= *word & (1 << (bit % 64)) == 0;
            *word |= 1 << (bit % 64);
        }
        new
    }

    /// Three bit positions by double hashing (Kirsch and Mitzenmacher).
    fn probes(&self, hash: u64) -> [usize; 3] {
        let first = super::sketch::mix(hash);
        let second = first.rotate_left(32) | 1;
        std::array::from_fn(|i| {
            (first.wrapping_add(second.wrapping_mul(i as u64)) & self.mask) as usize
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_for_one_to_two_windows() {
        let mut seen = Seen::new();
        seen.insert(7, 0);
        assert!(seen.contains(7) && !seen.contains(8));
        // Fill one window with other keys: 7 moves to the previous filter, still seen.
        for key in 1000..1000 + MIN_WINDOW as u64 {
            seen.insert(key, 0);
        }
        assert!(seen.contains(7), "in the previous filter");
        for key in 10_000..10_000 + MIN_WINDOW as u64 {
            seen.insert(key, 0);
        }
        assert!(!seen.contains(7), "forgotten after two windows");
    }

    #[test]
    fn few_false_positives() {
        let mut seen = Seen::new();
        for key in 0..1000 {
            seen.insert(key, 0);
        }
        let false_positives = (1_000_000..1_100_000).filter(|&key| seen.contains(key)).count();
        assert!(false_positives < 1000, "{false_positives} in 100000");
    }
}
