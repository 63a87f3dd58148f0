//! Retransmission for request/response exchanges over datagrams — and appnet's worked example
//! of a sans-IO core with a thin driver. Later crates copy this shape.
//!
//! DNS over UDP, BEP 15 tracker announces and Kademlia KRPC all send a request and wait for a
//! reply that may never come. Deciding *when* to send again is the same problem each time: an
//! RFC 6298 retransmission timeout learned from round-trip samples, doubled on every loss, capped,
//! and a limit on attempts. The protocol decides *what* to send (a fresh DNS ID per attempt, say).
//!
//! ```text
//!            handle_response(attempt, now)         poll_transmit(now) → Some(Attempt)
//!   driver ──► handle_timeout(now)       ──► core ──► poll_timeout()    → when to call back
//!   (sockets, tokio clock)                (pure)     poll_outcome()    → Answered / GaveUp
//! ```
//!
//! The core ([`Exchange`], [`RttEstimator`]) never reads a clock or touches a socket: time comes
//! in as `now`, so tests drive it with simulated time (see `tests/simulated_link.rs`, which runs
//! it over a lossy link in `appnet_testkit::World`). The [`driver`] module runs one exchange on a
//! real tokio `UdpSocket`.
#![warn(missing_docs)]

mod exchange;
mod rtt;

#[cfg(feature = "driver")]
pub mod driver;

pub use exchange::{Attempt, Exchange, Outcome, RetryConfig};
pub use rtt::RttEstimator;
