//! What a page load recorded: per resource, when it started and how long each phase took,
//! the way browsers' network panels and HAR files split a request.

use std::time::Duration;

use serde::Serialize;

use super::discover::Kind;

/// One request and its response.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// The URL asked for.
    pub url: String,
    /// What the page wanted it for.
    pub kind: Kind,
    /// The response status.
    pub status: u16,
    /// `HTTP/1.0`, `HTTP/1.1` or `HTTP/2.0`.
    pub protocol: String,
    /// The connection it went on (1, 2, …, in the order they were opened).
    pub connection: usize,
    /// When it was discovered, from the start of the page load.
    pub queued: Duration,
    /// When its request (or the connection made for it) started, from the start of the load.
    pub started: Duration,
    /// Resolving the host name (zero on a reused connection).
    pub dns: Duration,
    /// The TCP handshake (zero on a reused connection).
    pub connect: Duration,
    /// The TLS handshake (zero without TLS or on a reused connection).
    pub tls: Duration,
    /// From sending the request to the response's head (time to first byte).
    pub wait: Duration,
    /// From the head to the body's last byte.
    pub receive: Duration,
    /// Body bytes as they came over the wire (coded, when coded).
    pub bytes: u64,
    /// Body bytes after decoding Content-Encoding.
    pub decoded_bytes: u64,
    /// `Content-Type`, if any.
    pub content_type: Option<String>,
    /// `Content-Encoding`, if any.
    pub content_encoding: Option<String>,
    /// Where a redirect pointed, if it was one.
    pub redirect: Option<String>,
}

impl Entry {
    /// When the response's last byte arrived, from the start of the load.
    pub fn finished(&self) -> Duration {
        self.started + self.dns + self.connect + self.tls + self.wait + self.receive
    }
}

/// A whole page load.
#[derive(Debug, Clone, Serialize)]
pub struct PageLoad {
    /// The page asked for.
    pub url: String,
    /// The strategy used.
    pub mode: String,
    /// Page Load Time: from the start to the last resource's last byte.
    pub plt: Duration,
    /// Every request, in the order they were made.
    pub entries: Vec<Entry>,
    /// Connections opened.
    pub connections: usize,
    /// Body bytes received, over the wire.
    pub bytes: u64,
    /// When the load started (for the HAR's `startedDateTime`).
    #[serde(skip)]
    pub started_at: std::time::SystemTime,
}
