//! The page loader: fetch a page the way a browser does and measure where the time goes.
//!
//! - [`discover`]: which resources a document needs (HTML and CSS; pure); [`styles`]: which
//!   of its stylesheets' backgrounds and fonts apply to it (matched against its DOM; pure).
//! - [`mode`]: the fetching strategies compared (`http1.0`, `parallel:N`, `persistent`,
//!   `pipelined`, `h2`).
//! - [`connection`]: DNS, TCP, TLS and the HTTP handshake, timed.
//! - [`load`]: the driver that fetches by the mode's rules; [`record`]: what it measured.
//! - [`decode`]: Content-Encoding undone, with a size cap; [`framing`]: pipelined HTTP/1.1
//!   responses told apart (pure), for [`pipeline`], the pipelining client.
//! - [`cache`]: the private cache of the repeat view (RFC 9111 rules from `appnet_cache`).
//! - [`har`] and [`waterfall`]: the load as a HAR 1.2 file and as an SVG waterfall.
//! - [`prefault`]: the command-line loader's process readied before the clock starts.
pub mod cache;
pub mod connection;
pub mod decode;
pub mod discover;
pub mod first_flight;
pub mod framing;
pub mod har;
pub mod load;
pub mod mode;
pub mod pipeline;
#[cfg(target_os = "linux")]
pub mod prefault;
pub mod record;
pub mod styles;
pub mod text_waterfall;
pub mod waterfall;

/// Why a page could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct LoadError {
    message: String,
    /// The request went on a connection that died before any response came: worth one more
    /// try on another connection.
    unanswered: bool,
}

impl LoadError {
    /// An error saying `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Self { message: message.into(), unanswered: false }
    }

    /// This error, marked as a request no response came to.
    pub fn unanswered(self) -> Self {
        Self { unanswered: true, ..self }
    }

    /// Whether no response came to the request (the connection died first).
    pub fn is_unanswered(&self) -> bool {
        self.unanswered
    }
}
