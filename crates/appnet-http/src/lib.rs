//! HTTP for appnet: the origin server, and (later) the browser-like page loader.
//!
//! ```text
//!   TCP ─[tls: rustls, ALPN]─[sniff: h2c preface?]─► hyper (HTTP/1.0, 1.1) or h2 (HTTP/2:
//!                                                     early hints, push)
//!                                     ──► server::Site ──► files::path (which file, safely)
//!                                          │          files::conditional (304/412)
//!                                          ▼          files::range (206/416), files::mime
//!                                   response + access log
//! ```
//!
//! The decisions about a request — which file, whether its preconditions hold, which ranges
//! to send — are pure functions in [`files`], tested without sockets; [`server`] only reads
//! files and writes responses.
#![warn(missing_docs)]

pub mod access_log;
pub mod beneath;
pub mod body;
pub mod cgi;
pub mod coalesce;
pub mod compression;
pub mod file_cache;
pub mod files;
mod found;
pub mod h1;
mod h2;
mod h2_turns;
mod http_date;
pub mod linger;
pub mod loader;
mod markup;
pub mod priority;
pub mod request_body;
pub mod server;
pub mod sniff;
pub mod stats;
pub mod tls;
pub mod upload;
