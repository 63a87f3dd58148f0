//! The access log: one line per request in the combined log format that Apache and nginx
//! write, so log analysers (goaccess, awstats, a shell pipeline) read ours unchanged.

use std::net::SocketAddr;
use std::time::SystemTime;

use appnet_service::calendar::Utc;

use hyper::header;
use hyper::{Request, Response};

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
        Self {
            peer,
            request_line: format!(
                "{} {} {:?}",
                escaped(request.method().as_str().as_bytes()),
                // HTTP/2's :path, or HTTP/1's request target, as origin-form.
                escaped(request.uri().path_and_query().map_or("/", |p| p.as_str()).as_bytes()),
                request.version()
            ),
            referer: header(header::REFERER),
            agent: header(header::USER_AGENT),
        }
    }

    /// The combined log format: `host - - [date] "request" status bytes "referer" "agent"`,
    /// as Apache and nginx write it.
    pub fn line(&self, response: &Response<Payload>) -> String {
        let bytes = hyper::body::Body::size_hint(response.body())
            .exact()
            .map_or_else(|| "-".to_owned(), |n| n.to_string());
        format!(
            "{} - - [{}] \"{}\" {} {} \"{}\" \"{}\"",
            self.peer.ip(),
            common_log_time(SystemTime::now()),
            self.request_line,
            response.status().as_u16(),
            bytes,
            self.referer,
            self.agent
        )
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
