//! The shared HTTP cache in front of origins: as a forward proxy (clients send absolute-form
//! requests, `CONNECT` for TLS) and as a reverse proxy (`--origin`). What may be stored, for
//! how long and how to revalidate are `appnet_cache`'s rules; this crate does the proxy's
//! duties and holds the copies.
//!
//! - [`policy`]: who may use the proxy, which hosts and CONNECT ports it will reach.
//! - [`forwarding`]: hop-by-hop fields removed, `Via` and `X-Forwarded-For` added.
//! - [`store`]: the stored responses, in memory under a byte budget.
//! - [`server`]: the hyper driver: requests in, cache lookups, upstream fetches, tunnels.
#![warn(missing_docs)]

pub mod forwarding;
pub mod policy;
pub mod server;
pub mod store;
