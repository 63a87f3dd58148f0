//! What a page load recorded: per resource, when it started and how long each phase took,
//! the way browsers' network panels and HAR files split a request. In JSON every time is in
//! milliseconds, its field named `…_ms`.

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
    #[serde(rename = "queued_ms", serialize_with = "millis")]
    pub queued: Duration,
    /// When its request (or the connection made for it) started, from the start of the load.
    #[serde(rename = "started_ms", serialize_with = "millis")]
    pub started: Duration,
    /// Resolving the host name (zero on a reused connection).
    #[serde(rename = "dns_ms", serialize_with = "millis")]
    pub dns: Duration,
    /// The TCP handshake (zero on a reused connection).
    #[serde(rename = "connect_ms", serialize_with = "millis")]
    pub connect: Duration,
    /// The TLS handshake (zero without TLS or on a reused connection).
    #[serde(rename = "tls_ms", serialize_with = "millis")]
    pub tls: Duration,
    /// From sending the request to the response's head (time to first byte).
    #[serde(rename = "wait_ms", serialize_with = "millis")]
    pub wait: Duration,
    /// From the head to the body's last byte.
    #[serde(rename = "receive_ms", serialize_with = "millis")]
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
    /// `fresh` (used from the private cache, no request), `revalidated` (a 304 confirmed the
    /// stored copy), or `None` (fetched).
    pub cache: Option<&'static str>,
    /// The response's caching and content fields (names lowercase), as the HAR lists them.
    pub headers: Vec<(String, String)>,
    /// The request's fields as sent (names lowercase), as the HAR lists them; none for a
    /// copy used from the private cache without a request.
    pub request_headers: Vec<(String, String)>,
    /// Why the request got no usable response — the connection could not be made or broke,
    /// the body was cut off or over the cap, too many redirects — or `None`. With no response
    /// at all the status is 0 (as in a browser's HAR) and `wait` runs until the failure.
    pub error: Option<String>,
}

impl Entry {
    /// The entry of a request for `url` (a `kind`, discovered at `queued`) that failed at
    /// `failed` with no response.
    pub fn failed(
        url: &str,
        kind: Kind,
        queued: Duration,
        failed: Duration,
        error: String,
    ) -> Self {
        Self {
            url: url.to_owned(),
            kind,
            status: 0,
            protocol: String::new(),
            connection: 0,
            queued,
            started: queued,
            dns: Duration::ZERO,
            connect: Duration::ZERO,
            tls: Duration::ZERO,
            wait: failed.saturating_sub(queued),
            receive: Duration::ZERO,
            bytes: 0,
            decoded_bytes: 0,
            content_type: None,
            content_encoding: None,
            redirect: None,
            cache: None,
            headers: Vec::new(),
            request_headers: Vec::new(),
            error: Some(error),
        }
    }

    /// Its phases in the order a request goes through them, from when it was queued: blocked
    /// (waiting for a connection), DNS, connect, TLS, wait (to the first byte), receive.
    pub fn phases(&self) -> [Duration; 6] {
        let blocked = self.started.saturating_sub(self.queued);
        [blocked, self.dns, self.connect, self.tls, self.wait, self.receive]
    }

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
    #[serde(rename = "plt_ms", serialize_with = "millis")]
    pub plt: Duration,
    /// Every request, in the order they were made.
    pub entries: Vec<Entry>,
    /// Connections opened.
    pub connections: usize,
    /// Body bytes received, over the wire.
    pub bytes: u64,
    /// Resources the page named that were not fetched: the caps on requests or bytes were
    /// reached first.
    pub not_fetched: usize,
    /// The load's timeout ran out: the entries that failed saying "unfinished" were still
    /// waiting (the PLT is then the time limit's, not the page's).
    pub timed_out: bool,
    /// When the load started (for the HAR's `startedDateTime`).
    #[serde(skip)]
    pub started_at: std::time::SystemTime,
}

/// A duration as milliseconds (fractional), for JSON readers.
fn millis<S: serde::Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64((duration.as_secs_f64() * 1e6).round() / 1e3)
}

/// `812 B`, `12.3 kB`, `4.5 MB`: sizes as the table and the waterfall print them.
pub fn human_bytes(bytes: u64) -> String {
    match bytes {
        0..1_000 => format!("{bytes} B"),
        1_000..1_000_000 => format!("{:.1} kB", bytes as f64 / 1e3),
        _ => format!("{:.1} MB", bytes as f64 / 1e6),
    }
}
