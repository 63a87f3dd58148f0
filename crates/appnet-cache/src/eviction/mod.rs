//! The shared cache's eviction policy, chosen by measurement (issue #8): what the proxy and
//! the CDN edges keep when their byte budget is full.
//!
//! The choice is [`Gdsf`]: GreedyDual-Size-Frequency with a size exponent of 0.5 and
//! second-request admission, a thread-safe byte-budgeted map with the API of
//! [`crate::lru::Lru`]. Its docs give the measured figures and why it won.
//!
//! The rest of this module is the measurement: every candidate as a [`Policy`] that a trace
//! is replayed through, the offline yardstick, the traces, and the replay.
//!
//! ```text
//!   trace::Trace::zipf / ::shifting ──requests──▶ study::compare ──▶ Outcome per policy
//!                                                   │ (hit ratio, byte hit ratio)
//!        LruPolicy   S3FifoPolicy   TinyLfuPolicy   GdsfPolicy (the Gdsf code)   Belady
//! ```
//!
//! - [`lru`](LruPolicy): least recently used, the baseline.
//! - [`s3fifo`](S3FifoPolicy): S3-FIFO, small + main FIFO queues and a ghost queue (SOSP 2023).
//! - [`tinylfu`](TinyLfuPolicy): W-TinyLFU, an LRU window before a segmented LRU, admission
//!   by a count-min sketch with a doorkeeper and aging (Caffeine's policy).
//! - [`gdsf`](Gdsf): GDSF, classic and the chosen variant; the production map.
//! - [`belady`](Belady): Belady's MIN, offline: evicts what is requested again furthest ahead.
//! - [`trace`]: Zipf request traces over web-like object sizes, seeded.
//! - [`study`]: replays a trace through each policy.
//!
//! `examples/eviction_study.rs` prints the comparison; `bench/workloads/cache-eviction` runs it.

mod belady;
mod gdsf;
mod ghost;
mod list;
mod lru;
mod s3fifo;
mod seen;
mod sketch;
pub mod study;
mod tinylfu;
pub mod trace;

pub use belady::Belady;
pub use gdsf::{Gdsf, GdsfPolicy};
pub use lru::LruPolicy;
pub use s3fifo::S3FifoPolicy;
pub use tinylfu::TinyLfuPolicy;

/// A cache policy as the study replays it: objects by 64-bit key, sizes in bytes.
pub trait Policy {
    /// A short name for tables.
    fn name(&self) -> &str;

    /// Serves one request for `key` (of `size` bytes) and says whether it was a hit. On a miss
    /// the policy decides whether to admit the object and what to evict for it.
    fn access(&mut self, key: u64, size: u64) -> bool;
}
