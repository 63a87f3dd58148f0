//! The proxy's stored responses: the head with its times (for `appnet_cache`'s rules) and the
//! body, in memory under a byte budget, kept by the eviction policy the study in
//! `bench/workloads/cache-eviction` chose (`appnet_cache::eviction::Gdsf`: frequency over
//! √size, a new key admitted to a full cache on its second request; 1.02× Belady's hit
//! ratio and 1.64× LRU's at Zipf α 0.8).
//!
//! A response with `Vary` is one of several variants of its URL (RFC 9111 §4.1): it is kept
//! under the URL plus the request's values of the fields it names, normalised (names
//! lowercase and sorted, whitespace trimmed, the tokens of list fields like Accept-Encoding in
//! order), and served only to requests whose values match. The URL remembers the field names
//! its last response varied on, so a lookup knows which values to take. `Vary: *` is never
//! stored.
//!
//! With a disk (`--cache-dir`), every stored response is also written there, and a response
//! the memory no longer holds is read back from it (and kept in memory again). The disk's
//! keys are this store's keys, so at start the Vary lists are rebuilt from them: a URL's
//! variants on disk are found, and invalidated, after a restart as before it.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use appnet_cache::Headers;
use appnet_cache::eviction::Gdsf;
use appnet_cache::freshness::Stored;
use bytes::Bytes;

use crate::disk::DiskStore;
use crate::disk_tier::DiskTier;

/// One stored response.
#[derive(Debug, Clone)]
pub struct Object {
    /// Its head and when it was fetched.
    pub stored: Stored,
    /// Its body.
    pub body: Bytes,
}

/// Stored responses by absolute URL and variant.
#[derive(Debug)]
pub struct Store {
    objects: Gdsf<String, Arc<Object>>,
    /// Per URL: the field names its responses vary on, and the keys of its stored variants
    /// (some may have been evicted since; removing those is harmless).
    varies: Mutex<HashMap<String, Variants>>,
    disk: Option<DiskTier>,
    /// Bumped by every invalidation: a disk read that began before one is not kept.
    epoch: AtomicU64,
    /// The memory budget.
    budget: usize,
}

/// What a URL's stored variants vary on, and their keys.
type Variants = (Vec<String>, HashSet<String>);

/// Bytes a stored head is counted as, beside its body.
const HEAD_WEIGHT: usize = 512;

/// URLs whose Vary names are remembered at most (beyond, the map starts afresh: a forgotten
/// name list costs a miss, never a wrong variant).
const MAX_VARY_URLS: usize = 100_000;

impl Store {
    /// A store of at most `budget` bytes.
    pub fn new(budget: usize) -> Self {
        Self {
            objects: Gdsf::new(budget),
            varies: Mutex::default(),
            disk: None,
            epoch: AtomicU64::new(0),
            budget,
        }
    }

    /// A store of at most `budget` bytes in memory over `disk`, which already holds what it
    /// held before.
    pub fn with_disk(budget: usize, disk: DiskStore) -> std::io::Result<Self> {
        let disk = DiskTier::new(disk)?;
        let mut varies: HashMap<String, Variants> = HashMap::new();
        for key in disk.keys_at_open() {
            let mut lines = key.split('\n');
            let url = lines.next().unwrap_or_default().to_owned();
            let names: Vec<String> =
                lines.filter_map(|l| l.split_once(':').map(|(name, _)| name.to_owned())).collect();
            let entry = varies.entry(url).or_default();
            entry.0 = names;
            entry.1.insert(key);
        }
        Ok(Self {
            objects: Gdsf::new(budget),
            varies: Mutex::new(varies),
            disk: Some(disk),
            epoch: AtomicU64::new(0),
            budget,
        })
    }

    /// The largest body worth keeping aside while it streams: what the memory can hold, or
    /// with a disk up to `limit`.
    pub fn largest_keepable(&self, limit: usize) -> usize {
        if self.disk.is_some() { limit } else { limit.min(self.budget) }
    }

    /// Whether there is a disk under the memory.
    pub fn has_disk(&self) -> bool {
        self.disk.is_some()
    }

    /// Bytes and entries on disk (zero without one) and entries dropped for failed checks.
    pub fn disk_counters(&self) -> crate::disk::Counters {
        self.disk.as_ref().map(DiskTier::counters).unwrap_or_default()
    }

    /// The key of the variant of `url` for `request`, if one was stored.
    fn stored_key(&self, url: &str, request: &Headers) -> Option<String> {
        let varies = self.varies.lock().unwrap_or_else(PoisonError::into_inner);
        let (names, keys) = varies.get(url)?;
        let key = key(url, names, request);
        keys.contains(&key).then_some(key)
    }

    /// The variant of `url` for `request` from the disk, kept in memory again. Blocking:
    /// call it where blocking is allowed (`spawn_blocking`).
    pub fn get_from_disk(&self, url: &str, request: &Headers) -> Option<Arc<Object>> {
        let disk = self.disk.as_ref()?;
        let key = self.stored_key(url, request)?;
        let epoch = self.epoch.load(Ordering::SeqCst);
        let object = Arc::new(disk.get(&key)?);
        // An invalidation while the file was read, or a newer copy put meanwhile, wins over
        // what the file said.
        let unchanged = self.epoch.load(Ordering::SeqCst) == epoch && !disk.is_pending(&key);
        if !unchanged || self.stored_key(url, request).as_deref() != Some(key.as_str()) {
            return None;
        }
        if self.objects.contains(&key) {
            return self.objects.get(&key);
        }
        let weight = object.body.len() + HEAD_WEIGHT;
        self.objects.insert(key, object.clone(), weight);
        Some(object)
    }

    /// Waits (up to `limit`) until every disk write and removal queued so far is done: at
    /// shutdown, so that nothing purged comes back after a restart.
    pub fn flush(&self, limit: std::time::Duration) -> bool {
        self.disk.as_ref().is_none_or(|disk| disk.flush(limit))
    }

    /// The variant stored for `url` that matches `request`'s fields.
    pub fn get(&self, url: &str, request: &Headers) -> Option<Arc<Object>> {
        let varies = self.varies.lock().unwrap_or_else(PoisonError::into_inner);
        let names = varies.get(url).map(|(names, _)| names.clone());
        drop(varies);
        self.objects.get(&key(url, names.as_deref().unwrap_or_default(), request))
    }

    /// Stores `object` as the variant of `url` for `request`; `false` if it is not kept:
    /// `Vary: *`, or the memory declined it (a full cache admits a new URL on its second
    /// request) and there is no disk to keep it.
    pub fn put(&self, url: &str, request: &Headers, object: Object) -> bool {
        let Some(names) = vary_names(&object.stored.headers) else {
            // The URL now varies on everything: no stored variant of it can be chosen.
            self.invalidate(url);
            return false;
        };
        let weight = object.body.len() + HEAD_WEIGHT;
        let key = key(url, &names, request);
        {
            let mut varies = self.varies.lock().unwrap_or_else(PoisonError::into_inner);
            if varies.len() >= MAX_VARY_URLS && !varies.contains_key(url) {
                varies.clear();
            }
            let entry = varies.entry(url.to_owned()).or_default();
            entry.0 = names;
            entry.1.insert(key.clone());
        }
        let object = Arc::new(object);
        if let Some(disk) = &self.disk {
            disk.put(&key, object.clone());
        }
        let kept = self.objects.insert(key.clone(), object, weight);
        if !kept && self.disk.is_none() {
            let mut varies = self.varies.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(entry) = varies.get_mut(url) {
                entry.1.remove(&key);
                if entry.1.is_empty() {
                    varies.remove(url);
                }
            }
        }
        kept || self.disk.is_some()
    }

    /// Forgets every stored variant of `url` (an unsafe method went through for it, it was
    /// PURGEd, or a new response may not be stored); whether anything was stored.
    pub fn invalidate(&self, url: &str) -> bool {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        let removed = self.varies.lock().unwrap_or_else(PoisonError::into_inner).remove(url);
        let mut keys: HashSet<String> = removed.map(|(_, keys)| keys).unwrap_or_default();
        // The URL's own key too: a copy without Vary is found by it even when the URL's Vary
        // list was forgotten (past MAX_VARY_URLS), so it must go by it as well.
        keys.insert(url.to_owned());
        let mut any = false;
        for key in keys {
            any |= self.objects.get(&key).is_some();
            self.objects.remove(&key);
            if let Some(disk) = &self.disk {
                // What was on disk counts as stored too.
                any = true;
                disk.remove(&key);
            }
        }
        any
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.objects.bytes()
    }

    /// Responses held.
    pub fn len(&self) -> usize {
        self.varies
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .map(|(_, k)| k.len())
            .sum()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops everything; how many responses were held.
    pub fn clear(&self) -> usize {
        let all = std::mem::take(&mut *self.varies.lock().unwrap_or_else(PoisonError::into_inner));
        let mut dropped = 0;
        for key in all.into_values().flat_map(|(_, keys)| keys) {
            dropped += usize::from(self.objects.get(&key).is_some() || self.disk.is_some());
            self.objects.remove(&key);
            if let Some(disk) = &self.disk {
                disk.remove(&key);
            }
        }
        dropped
    }
}

/// The field names of a response's `Vary`, lowercase and sorted; `None` for `Vary: *`.
fn vary_names(headers: &Headers) -> Option<Vec<String>> {
    let mut names: Vec<String> = headers
        .joined("vary")
        .unwrap_or_default()
        .split(',')
        .map(|n| n.trim().to_ascii_lowercase())
        .filter(|n| !n.is_empty())
        .collect();
    if names.iter().any(|n| n == "*") {
        return None;
    }
    names.sort();
    names.dedup();
    Some(names)
}

/// `url`, then for each varied-on field its normalised value in the request.
fn key(url: &str, names: &[String], request: &Headers) -> String {
    let mut key = url.to_owned();
    for name in names {
        let value = request.joined(name).unwrap_or_default();
        let normal: Vec<String> =
            value.split(',').map(|t| t.split_whitespace().collect::<Vec<_>>().join(" ")).collect();
        key.push('\n');
        key.push_str(name);
        key.push(':');
        key.push_str(&normal.join(","));
    }
    key
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;

    fn headers(fields: &[(&str, &str)]) -> Headers {
        Headers(fields.iter().map(|(n, v)| ((*n).into(), (*v).into())).collect())
    }

    fn object(fields: &[(&str, &str)], body: &'static str) -> Object {
        let now = SystemTime::now();
        Object {
            stored: Stored {
                request_time: now,
                response_time: now,
                status: 200,
                headers: headers(fields),
                targeted: None,
            },
            body: Bytes::from_static(body.as_bytes()),
        }
    }

    #[test]
    fn variants_are_kept_apart_by_the_fields_they_vary_on() {
        let store = Store::new(1 << 20);
        let br = headers(&[("accept-encoding", "br,  gzip")]);
        let plain = headers(&[]);
        let url = "http://lab.test/page.html";
        assert!(store.put(
            url,
            &br,
            object(&[("vary", "Accept-Encoding"), ("content-encoding", "br")], "BR")
        ));
        assert!(store.get(url, &plain).is_none(), "a client without br never gets the br copy");
        assert!(store.put(url, &plain, object(&[("vary", "accept-encoding")], "plain")));
        assert_eq!(store.get(url, &br).unwrap().body, "BR");
        assert_eq!(store.get(url, &plain).unwrap().body, "plain");
        // The same value, differently spaced, is the same variant.
        assert_eq!(
            store.get(url, &headers(&[("accept-encoding", "br, gzip")])).unwrap().body,
            "BR"
        );
        // Invalidation takes every variant.
        assert!(store.invalidate(url));
        assert!(store.get(url, &br).is_none() && store.get(url, &plain).is_none());
    }

    #[test]
    fn vary_star_is_never_stored_and_no_vary_is_one_copy() {
        let store = Store::new(1 << 20);
        let url = "http://lab.test/x";
        assert!(!store.put(url, &headers(&[]), object(&[("vary", "*")], "x")));
        assert!(store.get(url, &headers(&[])).is_none());
        assert!(store.put(url, &headers(&[("accept", "a")]), object(&[], "one")));
        assert_eq!(store.get(url, &headers(&[("accept", "b")])).unwrap().body, "one");
        assert!(store.invalidate(url));
        assert!(store.get(url, &headers(&[])).is_none());
        assert!(!store.invalidate(url), "nothing left");
    }
}
