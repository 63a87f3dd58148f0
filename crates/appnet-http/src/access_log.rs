//! The access log: one line per request in the combined log format that Apache and nginx
//! write, so log analysers (goaccess, awstats, a shell pipeline) read ours unchanged.

use std::net::SocketAddr;
use std::time::SystemTime;

use appnet_service::calendar::Utc;

use hyper::Request;
use hyper::body::Body;
use hyper::header;

use crate::body::Payload;

/// What the access log line needs from a request, taken before the request is consumed.
#[derive(Debug)]
pub struct LogHead {
    peer: SocketAddr,
    request_line: String,
    referer: String,
    agent: String,
}

impl LogHead {
    /// Takes the request line, Referer and User-Agent of `request` from `peer`.
    pub fn of<B>(request: &Request<B>, peer: SocketAddr) -> Self {
        let header = |name: header::HeaderName| {
            request.headers().get(name).map_or_else(|| "-".to_owned(), |v| escaped(v.as_bytes()))
        };
        // The request target as the client wrote it, as nginx's `$request` has it: CONNECT's
        // authority, HTTP/1's absolute form (to a proxy) whole, else the path — HTTP/2's
        // :path (its URI also holds :scheme and :authority, which nginx does not log).
        let uri = request.uri();
        let target = if request.method() == hyper::Method::CONNECT {
            uri.authority().map_or_else(|| uri.to_string(), ToString::to_string)
        } else if uri.scheme().is_some() && request.version() < hyper::Version::HTTP_2 {
            uri.to_string()
        } else {
            uri.path_and_query().map_or("/", |p| p.as_str()).to_owned()
        };
        Self {
            peer,
            request_line: format!(
                "{} {} {:?}",
                escaped(request.method().as_str().as_bytes()),
                escaped(target.as_bytes()),
                request.version()
            ),
            referer: header(header::REFERER),
            agent: header(header::USER_AGENT),
        }
    }

    /// For a request hyper refused before it was one (a head it could not parse): its first
    /// line as it came, up to 2 KiB, as nginx logs what it could not parse.
    pub fn unparsed(head: &[u8], peer: SocketAddr) -> Self {
        let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let line = &line[..line.len().min(2048)];
        let request_line = if line.is_empty() { "-".to_owned() } else { escaped(line) };
        Self { peer, request_line, referer: "-".to_owned(), agent: "-".to_owned() }
    }

    /// The combined log format: `host - - [date] "request" status bytes "referer" "agent"`,
    /// as Apache and nginx write it, `bytes` being the body bytes sent.
    fn line(&self, status: u16, bytes: u64, time: SystemTime) -> String {
        format!(
            "{} - - [{}] \"{}\" {} {} \"{}\" \"{}\"",
            self.peer.ip(),
            common_log_time(time),
            self.request_line,
            status,
            bytes,
            self.referer,
            self.agent
        )
    }
}

/// A request's access-log line, written when the response is done with — sent, or given up
/// on — so that its bytes are the body bytes that went out, as nginx logs `$body_bytes_sent`
/// when a request ends: 0 for HEAD and 304, the script's whole output for a streamed CGI
/// response (whose length no head announced), what was sent before a client went away.
#[derive(Debug)]
pub struct Entry {
    head: LogHead,
    status: u16,
    sent: u64,
}

impl Entry {
    /// The line of a request whose response has `status`.
    pub fn new(head: LogHead, status: hyper::StatusCode) -> Self {
        Self { head, status: status.as_u16(), sent: 0 }
    }

    /// Counts `bytes` more of the body as sent.
    pub fn sent(&mut self, bytes: u64) {
        self.sent += bytes;
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        println!("{}", self.head.line(self.status, self.sent, SystemTime::now()));
    }
}

/// A response body for hyper's writer that counts what hyper takes of it into the request's
/// log entry, written when hyper drops the body: after its last frame, or when the connection
/// ends first. hyper takes nothing of a HEAD response's body.
#[derive(Debug)]
pub struct Counted {
    body: Payload,
    entry: Option<Entry>,
}

impl Counted {
    /// `body`, counted into `entry` (nothing is logged without one).
    pub fn new(body: Payload, entry: Option<Entry>) -> Self {
        Self { body, entry }
    }
}

impl Body for Counted {
    type Data = hyper::body::Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        let frame = std::pin::Pin::new(&mut this.body).poll_frame(cx);
        if let (std::task::Poll::Ready(Some(Ok(frame))), Some(entry)) = (&frame, &mut this.entry) {
            entry.sent(frame.data_ref().map_or(0, |data| data.len() as u64));
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}

/// `bytes` as a log field, as nginx escapes one: `"`, `\`, control bytes and bytes past
/// ASCII as `\xHH`, so a client cannot end a quoted field early and forge the rest of the line
/// (a User-Agent of `x" 200 1 "y`) or write a line break.
fn escaped(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &byte in bytes {
        if byte == b'"' || byte == b'\\' || !(0x20..0x7f).contains(&byte) {
            out.push_str(&format!("\\x{byte:02X}"));
        } else {
            out.push(char::from(byte));
        }
    }
    out
}

/// `10/Oct/2000:13:55:36 +0000`: the Common Log Format's time, in UTC.
pub fn common_log_time(time: SystemTime) -> String {
    let utc = Utc::of(time);
    format!(
        "{:02}/{}/{}:{:02}:{:02}:{:02} +0000",
        utc.day,
        utc.month_name(),
        utc.year,
        utc.hour,
        utc.minute,
        utc.second
    )
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn a_field_cannot_forge_the_rest_of_the_line() {
        assert_eq!(escaped(br#"x" 200 1 "evil"#), r"x\x22 200 1 \x22evil");
        assert_eq!(escaped(b"a\\b\nc\xc3\xa9"), r"a\x5Cb\x0Ac\xC3\xA9");
        assert_eq!(escaped(b"curl/7.88.1"), "curl/7.88.1");
    }

    #[test]
    fn a_line_is_the_combined_format() {
        let mut request = Request::new(());
        *request.uri_mut() = "/a%20b?q=1".parse().unwrap();
        request.headers_mut().insert(header::USER_AGENT, "curl/8.0".parse().unwrap());
        let head = LogHead::of(&request, "192.0.2.1:5000".parse().unwrap());
        assert_eq!(
            head.line(206, 45, UNIX_EPOCH + Duration::from_secs(971_211_336)),
            r#"192.0.2.1 - - [10/Oct/2000:20:55:36 +0000] "GET /a%20b?q=1 HTTP/1.1" 206 45 "-" "curl/8.0""#
        );
    }

    #[test]
    fn an_unparsed_head_is_logged_by_its_first_line() {
        let peer = "127.0.0.1:1".parse().unwrap();
        let head = LogHead::unparsed(b"GET /a\"b HTTP/1.1\r\nHost: x\r\n", peer);
        assert_eq!(head.request_line, r"GET /a\x22b HTTP/1.1");
        assert_eq!(LogHead::unparsed(b"", peer).request_line, "-");
        assert_eq!(LogHead::unparsed(&[b'a'; 5000], peer).request_line.len(), 2048);
    }

    #[test]
    fn a_request_target_is_logged_in_the_form_it_came() {
        use hyper::Version;
        let line = |method: &str, target: &str, version: Version| {
            let mut request = Request::new(());
            *request.method_mut() = method.parse().unwrap();
            *request.uri_mut() = target.parse().unwrap();
            *request.version_mut() = version;
            LogHead::of(&request, "127.0.0.1:1".parse().unwrap()).request_line
        };
        assert_eq!(
            line("CONNECT", "example.org:443", Version::HTTP_11),
            "CONNECT example.org:443 HTTP/1.1"
        );
        assert_eq!(
            line("GET", "http://a.example/x?y", Version::HTTP_11),
            "GET http://a.example/x?y HTTP/1.1"
        );
        assert_eq!(line("GET", "https://a.example/x?y", Version::HTTP_2), "GET /x?y HTTP/2.0");
        assert_eq!(line("OPTIONS", "*", Version::HTTP_11), "OPTIONS * HTTP/1.1");
    }

    fn at(seconds: u64) -> String {
        common_log_time(UNIX_EPOCH + Duration::from_secs(seconds))
    }

    #[test]
    fn times_are_written_as_apache_and_nginx_write_them() {
        assert_eq!(at(0), "01/Jan/1970:00:00:00 +0000");
        // Apache's documentation example, 10/Oct/2000:13:55:36 -0700, in UTC.
        assert_eq!(at(971_211_336), "10/Oct/2000:20:55:36 +0000");
        // Leap days and the ends of months and years.
        assert_eq!(at(951_782_400), "29/Feb/2000:00:00:00 +0000");
        assert_eq!(at(1_709_251_199), "29/Feb/2024:23:59:59 +0000");
        assert_eq!(at(1_798_761_599), "31/Dec/2026:23:59:59 +0000");
        assert_eq!(at(4_107_542_400), "01/Mar/2100:00:00:00 +0000");
    }
}
