//! Which entries the disk holds, their sizes and recency: in memory only, rebuilt from the
//! files at every open, so it can never disagree with them after a crash. Pure: no IO.

use std::collections::{BTreeMap, HashMap};

use super::name::Name;

/// Entries by name, and by when they were last used.
#[derive(Debug, Default, Clone)]
pub(super) struct Index {
    entries: HashMap<Name, Entry>,
    /// Names by their `used` tick, least recent first: the eviction order.
    by_use: BTreeMap<u64, Name>,
    /// Ticks on every insert and use; a logical clock, not time.
    clock: u64,
    bytes: u64,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    size: u64,
    used: u64,
    /// The tick it was inserted at: tells a reader whether the file it read is still the
    /// one the index means (a writer may have replaced it meanwhile).
    written: u64,
}

impl Index {
    /// Records `name`'s entry of `size` bytes as the most recently used, replacing any
    /// older one; returns its `written` tick.
    pub(super) fn insert(&mut self, name: Name, size: u64) -> u64 {
        self.remove(name);
        let tick = self.tick();
        self.entries.insert(name, Entry { size, used: tick, written: tick });
        self.by_use.insert(tick, name);
        self.bytes += size;
        tick
    }

    /// Marks `name` the most recently used; its `written` tick, or `None` if not held.
    pub(super) fn touch(&mut self, name: Name) -> Option<u64> {
        let tick = self.tick();
        let entry = self.entries.get_mut(&name)?;
        self.by_use.remove(&entry.used);
        entry.used = tick;
        self.by_use.insert(tick, name);
        Some(entry.written)
    }

    /// Forgets `name`; whether it was held.
    pub(super) fn remove(&mut self, name: Name) -> bool {
        let Some(entry) = self.entries.remove(&name) else { return false };
        self.by_use.remove(&entry.used);
        self.bytes -= entry.size;
        true
    }

    /// Forgets `name` only if it is still the entry inserted at tick `written`; whether it
    /// was.
    pub(super) fn remove_written(&mut self, name: Name, written: u64) -> bool {
        match self.entries.get(&name) {
            Some(entry) if entry.written == written => self.remove(name),
            _ => false,
        }
    }

    /// Forgets the least recently used entries until at most `budget` bytes are held; their
    /// names, for the caller to delete.
    pub(super) fn evict(&mut self, budget: u64) -> Vec<Name> {
        let mut evicted = Vec::new();
        while self.bytes > budget {
            let Some((_, name)) = self.by_use.pop_first() else { break };
            if let Some(entry) = self.entries.remove(&name) {
                self.bytes -= entry.size;
            }
            evicted.push(name);
        }
        evicted
    }

    /// Bytes of the entries held.
    pub(super) fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Entries held.
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(n: u8) -> Name {
        Name([n; 16])
    }

    #[test]
    fn evicts_least_recently_used_first() {
        let mut index = Index::default();
        for n in 1..=3 {
            index.insert(name(n), 100);
        }
        index.touch(name(1));
        assert_eq!(index.evict(150), vec![name(2), name(3)]);
        assert_eq!((index.len(), index.bytes()), (1, 100));
    }

    #[test]
    fn replacing_an_entry_counts_it_once_and_changes_its_written_tick() {
        let mut index = Index::default();
        let first = index.insert(name(1), 100);
        let second = index.insert(name(1), 30);
        assert_eq!((index.len(), index.bytes()), (1, 30));
        assert!(!index.remove_written(name(1), first), "a newer entry is kept");
        assert_eq!(index.touch(name(1)), Some(second));
        assert!(index.remove_written(name(1), second));
        assert_eq!((index.len(), index.bytes(), index.touch(name(1))), (0, 0, None));
    }
}
