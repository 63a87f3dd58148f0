//! `appnet dig`: ask a DNS server a question with dig's syntax, print the answer in dig's
//! layout, so that people and scripts used to BIND's dig need not learn anything new.
//!
//! ```text
//!   argv ──► options::DigOptions::parse ──► request::build_query ──► client (UDP/TCP) ──┐
//!                                                                                        ▼
//!   stdout ◄── present::render (header, sections on BIND's tab stops, stats, +short) ◄──┘
//! ```
//!
//! Everything but [`client`] is pure and tested without sockets; the interop test compares
//! `appnet dig` with BIND's dig line by line against the same server.

pub mod client;
pub mod options;
pub mod present;
pub mod request;
pub mod resolv_conf;
pub mod trace;

pub use options::{DigArgsError, DigOptions, Display, Family};
