//! The plumbing every appnet server shares, written once.
//!
//! A server (`appnet dns authority`, `appnet http serve`, …) is a sans-IO protocol core plus a thin
//! tokio driver. The driver needs the same four things in every system, and they live here so the
//! systems stay about their protocols:
//!
//! ```text
//!   appnet binary ──► logging::init(verbosity)        one tracing subscriber, -v/-q and RUST_LOG
//!        │            config::load::<T>(path)         TOML with `file:line:col: message` errors
//!        │            Lifecycle::listen_for_signals() SIGINT/SIGTERM → shutdown, SIGHUP → reload
//!        ▼            metrics::serve(addr, registry)  Prometheus /metrics for every server's counters
//!   driver (tokio) ──► core (pure: bytes, events, `now` in; transmits and timeouts out)
//! ```
#![warn(missing_docs)]

pub mod accept;
pub mod calendar;
pub mod config;
pub mod lifecycle;
pub mod logging;
pub mod metrics;

pub use config::ConfigError;
pub use lifecycle::Lifecycle;
pub use metrics::Metrics;
