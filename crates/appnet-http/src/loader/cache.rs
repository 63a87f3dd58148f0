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
    /// Keeps nothing (no repeat view will read it).
    off: bool,
}

impl PrivateCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// A cache that keeps nothing: a load no repeat view follows need not pay for storing
    /// (copying each response's head, and the document's body, on the loader's critical path).
    pub fn off() -> Self {
        Self { off: true, ..Self::default() }
    }

    /// Whether this cache keeps nothing.
    pub fn is_off(&self) -> bool {
        self.off
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
        if self.off {
            return;
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh_for_an_hour(now: SystemTime) -> Stored {
        let headers = vec![("cache-control".to_owned(), "max-age=3600".to_owned())];
        Stored {
            request_time: now,
            response_time: now,
            status: 200,
            headers: Headers(headers),
            targeted: None,
        }
    }

    #[test]
    fn a_cache_that_is_off_keeps_nothing_and_an_on_one_serves_what_it_kept() {
        let url = Url::parse("http://lab.test/a.png").unwrap();
        let now = SystemTime::now();
        let mut on = PrivateCache::new();
        on.store(&url, fresh_for_an_hour(now), None, 10);
        assert!(matches!(on.lookup(&url, now), Lookup::Fresh(_)));
        let mut off = PrivateCache::off();
        off.store(&url, fresh_for_an_hour(now), None, 10);
        assert!(off.is_empty() && off.is_off());
        assert!(matches!(off.lookup(&url, now), Lookup::Miss));
    }
}
