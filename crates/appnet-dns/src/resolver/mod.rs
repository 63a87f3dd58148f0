//! The recursive resolver: answers questions by iterating from the root (RFC 1034 §5.3.3) and
//! caching what it learns.
//!
//! ```text
//!   client query ──► hosts file? ──► cache? ──► Resolution (sans-IO) ◄──► authorities
//!                                     ▲              │   referral / answer / negative
//!                                     └── Cache ◄────┘   (bailiwick-checked, TTL-capped)
//! ```
//!
//! - [`cache`]: RRsets and negative answers with TTLs, trust levels and a memory bound.
//! - [`resolution`]: one question's iteration — closest cut, server choice, referrals, CNAMEs,
//!   glueless NS lookups, TCP after TC, limits on work.
//! - [`response`]: what an authority's reply means, keeping only in-bailiwick records.
//! - [`selection`]: per-server RTT statistics and the choice of server.
//! - [`hints`], [`hosts`]: root hints (named.root) and the local hosts file.
//! - [`reply`]: reading clients' queries and writing replies.
//! - [`driver`], [`service`]: the tokio halves — sockets for the authorities (a fresh random
//!   port per query), coalescing of identical questions, and the UDP/TCP listeners.

pub mod cache;
pub mod driver;
pub mod dump;
pub mod hints;
pub mod hosts;
pub mod reply;
pub mod request;
pub mod resolution;
pub mod response;
pub mod selection;
pub mod service;

pub use cache::{Cache, CacheConfig};
pub use hints::RootHints;
pub use hosts::Hosts;
pub use resolution::{
    Answer, AnswerRecord, CacheWalk, Hop, Resolution, ResolveError, ResolverConfig, Transmit,
    walk_cache, walk_cache_stale,
};
pub use selection::Servers;

#[cfg(test)]
mod tests;
