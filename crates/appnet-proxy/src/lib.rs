//! The shared HTTP cache in front of origins: as a forward proxy (clients send absolute-form
//! requests, `CONNECT` for TLS) and as a reverse proxy (`--origin`). What may be stored, for
//! how long and how to revalidate are `appnet_cache`'s rules; this crate does the proxy's
//! duties and holds the copies.
//!
//! - [`policy`]: who may use the proxy, which hosts and CONNECT ports it will reach.
//! - [`forwarding`]: hop-by-hop fields removed, `Via` and `X-Forwarded-For` added.
//! - [`store`]: the stored responses, in memory under a byte budget.
//! - [`disk`]: the disk tier under it: entries in files that survive restarts and crashes.
//! - [`server`]: the hyper driver: requests in, policy, dispatch, invalidation.
//! - `cached`: GET and HEAD through the store — freshness, stale-while-revalidate,
//!   collapsing, revalidation, stale-if-error.
//! - `flights`: request collapsing (one upstream fetch per URL at a time).
//! - `reply`: responses built from stored ones (Age, Cache-Status, 304s and ranges).
//! - `upstream`: the keep-alive pool to origins, tunnels.
//! - [`routes`]: a reverse proxy's sites (by host name) and their origins; [`origins`]: which
//!   origin of a site to use, by health; `health`: the checker that probes them.
//! - [`stats`]: counters (Prometheus) and hit ratios.
//! - [`admin`]: the administrative endpoint (`--admin`).
#![warn(missing_docs)]

pub mod admin;
mod cached;
mod connection_uses;
pub mod disk;
mod disk_tier;
mod flights;
pub mod forwarding;
mod health;
pub mod origins;
pub mod policy;
mod reply;
mod resend;
pub mod routes;
pub mod server;
pub mod stats;
pub mod store;
mod tee;
mod upstream;
