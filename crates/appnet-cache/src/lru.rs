//! A map under a byte budget that drops its least recently used entries when over it: what
//! holds the on-the-fly compressed copies of the origin and, for now, the proxy's stored
//! responses (issue #8 will choose the proxy's eviction policy by measurement).

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, PoisonError};

/// Entries of `V` by `K`, each weighing some bytes, at most `budget` bytes in all.
#[derive(Debug)]
pub struct Lru<K, V> {
    budget: usize,
    inner: Mutex<Entries<K, V>>,
}

#[derive(Debug)]
struct Entries<K, V> {
    map: HashMap<K, (V, usize, u64)>,
    bytes: usize,
    clock: u64,
}

impl<K: Hash + Eq + Clone, V: Clone> Lru<K, V> {
    /// An empty map of at most `budget` bytes.
    pub fn new(budget: usize) -> Self {
        Self { budget, inner: Mutex::new(Entries { map: HashMap::new(), bytes: 0, clock: 0 }) }
    }

    /// The value for `key`, now the most recently used.
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut entries = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        entries.clock += 1;
        let now = entries.clock;
        let (value, _, used) = entries.map.get_mut(key)?;
        *used = now;
        Some(value.clone())
    }

    /// Keeps `value` (weighing `weight` bytes) for `key`, evicting the least recently used
    /// entries past the budget — down to nine tenths of it, so evictions come in batches. A
    /// value heavier than the whole budget is not kept.
    pub fn insert(&self, key: K, value: V, weight: usize) {
        let mut entries = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, old, _)) = entries.map.remove(&key) {
            entries.bytes -= old;
        }
        if weight > self.budget {
            return;
        }
        entries.clock += 1;
        let now = entries.clock;
        entries.bytes += weight;
        entries.map.insert(key, (value, weight, now));
        if entries.bytes <= self.budget {
            return;
        }
        let mut by_age: Vec<(u64, K, usize)> =
            entries.map.iter().map(|(k, (_, w, used))| (*used, k.clone(), *w)).collect();
        by_age.sort_unstable_by_key(|(used, _, _)| *used);
        let target = self.budget / 10 * 9;
        for (_, key, weight) in by_age {
            if entries.bytes <= target {
                break;
            }
            entries.map.remove(&key);
            entries.bytes -= weight;
        }
    }

    /// Drops `key`'s entry.
    pub fn remove<Q>(&self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut entries = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, weight, _)) = entries.map.remove(key) {
            entries.bytes -= weight;
        }
    }

    /// Keeps only the entries for which `keep` holds.
    pub fn retain(&self, mut keep: impl FnMut(&K, &V) -> bool) {
        let mut entries = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let mut dropped = 0;
        entries.map.retain(|key, (value, weight, _)| {
            let kept = keep(key, value);
            if !kept {
                dropped += *weight;
            }
            kept
        });
        entries.bytes -= dropped;
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner).bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_its_budget_and_evicts_the_least_recently_used() {
        let lru = Lru::new(250);
        lru.insert("a", 1, 100);
        lru.insert("b", 2, 100);
        assert_eq!(lru.get(&"a"), Some(1), "a is now the most recently used");
        lru.insert("c", 3, 100);
        assert!(lru.bytes() <= 250, "{}", lru.bytes());
        assert_eq!(lru.get(&"b"), None, "b was the least recently used");
        assert_eq!((lru.get(&"a"), lru.get(&"c")), (Some(1), Some(3)));
        lru.insert("d", 4, 1000);
        assert_eq!(lru.get(&"d"), None, "heavier than the whole budget");
        lru.insert("a", 5, 10);
        assert_eq!((lru.get(&"a"), lru.bytes()), (Some(5), 110), "replaced, reweighed");
        lru.remove(&"a");
        assert_eq!(lru.bytes(), 100);
        lru.insert("e", 6, 50);
        lru.retain(|key, _| *key != "c");
        assert_eq!((lru.get(&"c"), lru.get(&"e"), lru.bytes()), (None, Some(6), 50));
    }
}
