//! S3-FIFO's ghost queue: the fingerprints of objects recently evicted from the small queue
//! without a second request, up to a byte total. An object requested again while its ghost is
//! remembered was evicted too soon, and goes straight to the main queue.
//!
//! It keeps 64-bit fingerprints — in the study, the keys themselves. A production cache would
//! keep hashes of its keys rather than the keys (URLs can be long): a collision would send one
//! object to the main queue early, costing a little hit ratio, never a wrong answer.

use std::collections::VecDeque;

/// Fingerprints in FIFO order, with the bytes their objects weighed.
#[derive(Debug, Default)]
pub(crate) struct Ghost {
    /// Oldest first: (fingerprint, stamp). An entry whose stamp no longer matches `live` was
    /// taken (or pushed again later) and is skipped when it reaches the front.
    order: VecDeque<(u64, u64)>,
    /// Remembered fingerprints: their latest stamp and object size.
    live: foldhash::HashMap<u64, (u64, u64)>,
    bytes: u64,
    stamp: u64,
}

impl Ghost {
    /// Remembers `fingerprint` (of an object of `size` bytes), forgetting the oldest past
    /// `limit` bytes.
    pub(crate) fn push(&mut self, fingerprint: u64, size: u64, limit: u64) {
        self.stamp += 1;
        if let Some((_, old)) = self.live.insert(fingerprint, (self.stamp, size)) {
            self.bytes -= old;
        }
        self.bytes += size;
        self.order.push_back((fingerprint, self.stamp));
        while self.bytes > limit {
            let Some((oldest, stamp)) = self.order.pop_front() else { break };
            if self.live.get(&oldest).is_some_and(|&(live, _)| live == stamp) {
                let (_, size) = self.live.remove(&oldest).expect("just seen");
                self.bytes -= size;
            }
        }
        // Entries taken while the ghost stays under its limit are never popped; past twice
        // the live ones (plenty of slack to amortise), drop them all at once.
        if self.order.len() > 2 * self.live.len() + 1024 {
            let live = &self.live;
            self.order.retain(|(fingerprint, stamp)| {
                live.get(fingerprint).is_some_and(|&(live, _)| live == *stamp)
            });
        }
    }

    /// Whether `fingerprint` was remembered; it is forgotten either way.
    pub(crate) fn take(&mut self, fingerprint: u64) -> bool {
        match self.live.remove(&fingerprint) {
            Some((_, size)) => {
                self.bytes -= size;
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_up_to_its_limit_oldest_out_first() {
        let mut ghost = Ghost::default();
        for fingerprint in 1..=4 {
            ghost.push(fingerprint, 10, 30);
        }
        assert!(!ghost.take(1), "the oldest was forgotten past 30 bytes");
        assert!(ghost.take(2));
        assert!(!ghost.take(2), "taken once");
        ghost.push(5, 10, 30);
        assert!(ghost.take(3) && ghost.take(4) && ghost.take(5), "2's stale entry made room");
        assert_eq!(ghost.bytes, 0);
    }

    #[test]
    fn stale_entries_do_not_pile_up() {
        let mut ghost = Ghost::default();
        for fingerprint in 0..100_000 {
            ghost.push(fingerprint, 1, u64::MAX);
            assert!(ghost.take(fingerprint));
        }
        assert!(ghost.order.len() <= 1025, "{}", ghost.order.len());
    }
}
