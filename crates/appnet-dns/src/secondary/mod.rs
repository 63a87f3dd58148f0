//! Secondary zones: copies pulled from a primary by AXFR and kept fresh by the SOA timers.
//!
//! - [`Refresh`]: the sans-IO timer logic of RFC 1034 §4.3.5 and RFC 1996 — when to check the
//!   primary's SOA, when to transfer, when to retry, when the copy expires.
//! - [`AxfrReader`]: turns the messages of an AXFR response into a [`Zone`](crate::zone::Zone).
//! - [`persist`]: writes a transferred zone to disk as a master file, atomically, so a restart
//!   serves it at once.
//!
//! The tokio driver that runs these against sockets is `server::secondary`.

mod axfr;
pub mod persist;
mod refresh;

pub use axfr::{AxfrError, AxfrReader, soa_query, soa_serial};
pub use refresh::{Action, Refresh, Timers};
