//! The proxy's stored responses: the head with its times (for `appnet_cache`'s rules) and the
//! body, by URL, in memory under a byte budget, least recently used out first.

use std::sync::Arc;

use appnet_cache::freshness::Stored;
use appnet_cache::lru::Lru;
use bytes::Bytes;

/// One stored response.
#[derive(Debug, Clone)]
pub struct Object {
    /// Its head and when it was fetched.
    pub stored: Stored,
    /// Its body.
    pub body: Bytes,
}

/// Stored responses by absolute URL.
#[derive(Debug)]
pub struct Store {
    objects: Lru<String, Arc<Object>>,
}

/// Bytes a stored head is counted as, beside its body.
const HEAD_WEIGHT: usize = 512;

impl Store {
    /// A store of at most `budget` bytes.
    pub fn new(budget: usize) -> Self {
        Self { objects: Lru::new(budget) }
    }

    /// The response stored for `url`.
    pub fn get(&self, url: &str) -> Option<Arc<Object>> {
        self.objects.get(&url.to_owned())
    }

    /// Stores `object` for `url`.
    pub fn put(&self, url: &str, object: Object) {
        let weight = object.body.len() + HEAD_WEIGHT;
        self.objects.insert(url.to_owned(), Arc::new(object), weight);
    }

    /// Forgets `url` (an unsafe method went through for it).
    pub fn invalidate(&self, url: &str) {
        self.objects.remove(&url.to_owned());
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.objects.bytes()
    }
}
