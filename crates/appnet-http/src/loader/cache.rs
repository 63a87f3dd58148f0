//! The loader's private cache, for the repeat view (`--repeat`): what a browser keeps between
//! two visits. Each response the first view stored (RFC 9111's rules for a private cache, in
//! `appnet_cache`) is, on the second, used as it is while fresh, revalidated with its ETag or
//! Last-Modified once stale (a 304 refreshes it), or fetched again when it cannot be.

use std::collections::HashMap;
use std::time::SystemTime;

use appnet_cache::freshness::Stored;
use appnet_cache::{Headers, storable, validation};
use url::Url;

/// One stored response.
#[derive(Debug, Clone)]
pub struct Cached {
    /// The head and its times.
    pub stored: Stored,
    /// The decoded body of documents and stylesheets (to find their resources again).
    pub body: Option<Vec<u8>>,
    /// Its body's size as stored (decoded).
    pub size: u64,
}

/// What the cache can do for a request.
#[derive(Debug, Clone)]
pub enum Lookup {
    /// Nothing stored.
    Miss,
    /// Fresh: use it, no request.
    Fresh(Cached),
    /// Stale, with validators: ask conditionally with these fields.
    Revalidate(Vec<(&'static str, String)>),
}

/// Responses by URL.
#[derive(Debug, Default, Clone)]
pub struct PrivateCache {
    entries: HashMap<Url, Cached>,
}

impl PrivateCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Responses stored.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// What to do for `url` at `now`.
    pub fn lookup(&self, url: &Url, now: SystemTime) -> Lookup {
        let Some(cached) = self.entries.get(url) else { return Lookup::Miss };
        if cached.stored.is_fresh(now, false, &Default::default()) {
            return Lookup::Fresh(cached.clone());
        }
        match validation::conditional_headers(&cached.stored) {
            conditions if conditions.is_empty() => Lookup::Miss,
            conditions => Lookup::Revalidate(conditions),
        }
    }

    /// The stored body of `url` (after a 304), if any.
    pub fn body(&self, url: &Url) -> Option<&Vec<u8>> {
        self.entries.get(url).and_then(|c| c.body.as_ref())
    }

    /// Keeps a full response if a private cache may.
    pub fn store(&mut self, url: &Url, stored: Stored, body: Option<Vec<u8>>, size: u64) {
        if storable::may_store("GET", &Headers::default(), stored.status, &stored.headers, false) {
            self.entries.insert(url.clone(), Cached { stored, body, size });
        } else {
            self.entries.remove(url);
        }
    }

    /// Freshens `url`'s stored response with a 304's fields.
    pub fn freshen(
        &mut self,
        url: &Url,
        fields: &[(String, String)],
        sent: SystemTime,
        received: SystemTime,
    ) {
        if let Some(cached) = self.entries.get_mut(url) {
            cached.stored = validation::freshen(&cached.stored, fields, sent, received);
        }
    }
}
