//! DNS for appnet: zones, the authoritative server, and the `dig` client.
//!
//! ```text
//!   zone file ──► zone::load ──► Zone (pre-encoded RRsets, name index) ─┐
//!                                                                       ▼
//!   UDP/TCP ──► server (tokio driver) ──► authority::Authority::answer(query, out) ──► bytes
//! ```
//!
//! - [`zone`]: RFC 1035 master files (parsed with NLnet Labs' `domain` scanner) loaded into our
//!   own store, built for answering: lowercase wire-format owner names in a hash index, every
//!   RRset pre-encoded, additional-section targets resolved at load time.
//! - [`authority`]: the sans-IO answer core (RFC 1034 §4.3.2, DNAME, wildcards, EDNS, TC). It
//!   takes query bytes and writes response bytes into a reused buffer; nothing is allocated per
//!   query.
//! - [`server`]: the tokio UDP and TCP drivers for the authority.
//! - [`dig`]: the query tool's pure parts: dig's argument syntax and output layout.
//! - [`stub`]: a stub resolver (one question to one recursive server), for clients.
#![warn(missing_docs)]

pub mod authority;
pub mod dig;
pub mod resolver;
pub mod secondary;
pub mod server;
pub mod stub;
pub mod zone;
