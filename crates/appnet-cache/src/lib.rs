//! HTTP caching semantics (RFC 9111), as pure functions of headers and times: no clock is
//! read, no socket touched. The page loader's private cache (`appnet http load --repeat`)
//! uses them now; the shared cache and proxies (issue #8) build on the same rules.
//!
//! - [`directives`]: `Cache-Control` read into its directives (request and response).
//! - [`freshness`]: a stored response's age and freshness lifetime (explicit or heuristic),
//!   and whether it may be served without asking the origin.
//! - [`storable`]: whether a response may be stored at all, privately or in a shared cache.
//! - [`validation`]: the conditional request that revalidates a stored response.
//! - [`targeted`]: `CDN-Cache-Control` and other targeted fields (RFC 9213).
//! - [`lru`]: a byte-budgeted map that drops its least recently used entries.
//! - [`eviction`]: the shared cache's eviction policy, chosen by measurement (issue #8).
#![warn(missing_docs)]

pub mod directives;
pub mod eviction;
pub mod freshness;
pub mod lru;
pub mod storable;
pub mod targeted;
pub mod validation;

/// Header fields of a response (or request), names lowercase — what the rules read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(pub Vec<(String, String)>);

impl Headers {
    /// The first field named `name` (lowercase).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, comma-joined as RFC 9110 §5.3 allows.
    pub fn joined(&self, name: &str) -> Option<String> {
        let values: Vec<&str> =
            self.0.iter().filter(|(n, _)| n == name).map(|(_, v)| v.as_str()).collect();
        (!values.is_empty()).then(|| values.join(", "))
    }

    /// Replaces (or adds) `name`.
    pub fn set(&mut self, name: &str, value: &str) {
        self.0.retain(|(n, _)| n != name);
        self.0.push((name.to_owned(), value.to_owned()));
    }
}
