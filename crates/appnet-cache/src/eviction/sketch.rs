//! TinyLFU's frequency sketch (Einziger, Friedman and Manes, "TinyLFU: a highly efficient cache
//! admission policy", ACM ToS 2017): a count-min sketch of 4-bit counters behind a doorkeeper
//! Bloom filter, halved every `10 × width` additions so that old popularity fades.
//!
//! The doorkeeper takes each key's first sighting, so the one-hit wonders that make up much of
//! a web trace never reach the counters; an estimate is the counters' minimum plus one if the
//! doorkeeper has the key.

/// Counters' ceiling (4 bits).
const MAX_COUNT: u8 = 15;

/// Approximate recent request counts of 64-bit key hashes.
#[derive(Debug)]
pub(crate) struct Sketch {
    /// Four rows of `width` counters, one per byte (simpler than packing; 4 bytes a slot).
    rows: [Vec<u8>; 4],
    mask: u64,
    doorkeeper: Vec<u64>,
    additions: u64,
    sample: u64,
}

impl Sketch {
    /// A sketch for about `entries` resident keys (its width: the power of two at or above).
    pub(crate) fn new(entries: usize) -> Self {
        let width = entries.clamp(64, 1 << 26).next_power_of_two();
        Self {
            rows: std::array::from_fn(|_| vec![0; width]),
            mask: width as u64 - 1,
            // Eight doorkeeper bits per counter slot.
            doorkeeper: vec![0; width / 8],
            additions: 0,
            sample: 10 * width as u64,
        }
    }

    /// Counts one request for `hash`.
    pub(crate) fn increment(&mut self, hash: u64) {
        let bits = self.doorkeeper_bits(hash);
        if !self.doorkeeper_has(bits) {
            for bit in bits {
                self.doorkeeper[bit / 64] |= 1 << (bit % 64);
            }
        } else {
            // Conservative update: only the counters at the minimum move.
            let slots = self.slots(hash);
            let least = self.least(slots);
            if least < MAX_COUNT {
                for (row, slot) in self.rows.iter_mut().zip(slots) {
                    if row[slot] == least {
                        row[slot] += 1;
                    }
                }
            }
        }
        self.additions += 1;
        if self.additions >= self.sample {
            self.age();
        }
    }

    /// About how often `hash` was requested lately.
    pub(crate) fn estimate(&self, hash: u64) -> u8 {
        let seen = self.doorkeeper_has(self.doorkeeper_bits(hash));
        self.least(self.slots(hash)) + u8::from(seen)
    }

    /// Halves every counter and clears the doorkeeper: the "reset" that keeps the sketch fresh.
    fn age(&mut self) {
        for row in &mut self.rows {
            for counter in row.iter_mut() {
                *counter /= 2;
            }
        }
        self.doorkeeper.fill(0);
        self.additions /= 2;
    }

    fn least(&self, slots: [usize; 4]) -> u8 {
        self.rows.iter().zip(slots).map(|(row, slot)| row[slot]).min().unwrap_or(0)
    }

    /// One slot per row, by double hashing (Kirsch and Mitzenmacher).
    fn slots(&self, hash: u64) -> [usize; 4] {
        let (first, second) = (mix(hash), mix(hash ^ 0x9e37_79b9_7f4a_7c15) | 1);
        std::array::from_fn(|row| {
            (first.wrapping_add(second.wrapping_mul(row as u64)) & self.mask) as usize
        })
    }

    fn doorkeeper_bits(&self, hash: u64) -> [usize; 2] {
        let bits = self.doorkeeper.len() as u64 * 64 - 1;
        let mixed = mix(hash.rotate_left(32));
        [(mixed & bits) as usize, ((mixed >> 32) & bits) as usize]
    }

    fn doorkeeper_has(&self, bits: [usize; 2]) -> bool {
        bits.iter().all(|&bit| self.doorkeeper[bit / 64] & (1 << (bit % 64)) != 0)
    }
}

/// SplitMix64's finaliser: spreads the bits of a key or hash.
pub(crate) fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_past_the_doorkeeper_and_ages() {
        let mut sketch = Sketch::new(1024);
        assert_eq!(sketch.estimate(mix(7)), 0);
        sketch.increment(mix(7));
        assert_eq!(sketch.estimate(mix(7)), 1, "the doorkeeper has it");
        for _ in 0..4 {
            sketch.increment(mix(7));
        }
        assert_eq!(sketch.estimate(mix(7)), 5);
        for _ in 0..100 {
            sketch.increment(mix(7));
        }
        assert_eq!(sketch.estimate(mix(7)), MAX_COUNT + 1, "4-bit counters saturate");
        // Fill up to the sample size with other keys: the counters halve.
        for key in 0..10 * 1024 {
            sketch.increment(mix(1_000_000 + key));
        }
        assert!(sketch.estimate(mix(7)) <= 8, "{}", sketch.estimate(mix(7)));
    }
}
