//! Revalidating a stored response (RFC 9111 §4.3): the conditional request that asks whether
//! it is still current, and the stored response freshened by a 304.

use std::time::SystemTime;

use crate::freshness::Stored;

/// The header fields that make a request conditional on `stored` still being current: its
/// ETag as If-None-Match, its Last-Modified as If-Modified-Since. Empty when it has neither
/// (then only a full request will do).
pub fn conditional_headers(stored: &Stored) -> Vec<(&'static str, String)> {
    let mut fields = Vec::new();
    if let Some(etag) = stored.headers.get("etag") {
        fields.push(("if-none-match", etag.to_owned()));
    }
    if let Some(modified) = stored.headers.get("last-modified") {
        fields.push(("if-modified-since", modified.to_owned()));
    }
    fields
}

/// Fields a 304 does not replace in the stored head (§3.2): they describe the stored body
/// (its length, coding, range, digest), and the validator that selected it for update
/// (§4.3.4) — a 304 naming another ETag must not relabel the stored body.
const KEPT: [&str; 6] = [
    "content-length",
    "content-encoding",
    "transfer-encoding",
    "content-range",
    "content-md5",
    "etag",
];

/// `stored` updated by a 304's `fields` (§4.3.4), received at `response_time` for a request
/// sent at `request_time`: its other fields replaced, its age restarted.
pub fn freshen(
    stored: &Stored,
    fields: &[(String, String)],
    request_time: SystemTime,
    response_time: SystemTime,
) -> Stored {
    let mut updated = stored.clone();
    // The old Age described the old response; the 304's own Age, if any, is the new one.
    updated.headers.0.retain(|(n, _)| n != "age");
    for (name, _) in fields {
        if !KEPT.contains(&name.as_str()) {
            updated.headers.0.retain(|(n, _)| n != name);
        }
    }
    for (name, value) in fields {
        if !KEPT.contains(&name.as_str()) {
            updated.headers.0.push((name.clone(), value.clone()));
        }
    }
    updated.request_time = request_time;
    updated.response_time = response_time;
    updated
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::Headers;

    #[test]
    fn validators_become_conditions_and_a_304_freshens() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_112_000);
        let stored = Stored {
            request_time: t0,
            response_time: t0,
            status: 200,
            headers: Headers(vec![
                ("etag".into(), "\"v1\"".into()),
                ("last-modified".into(), "Tue, 01 Dec 2026 08:00:00 GMT".into()),
                ("cache-control".into(), "max-age=10".into()),
                ("content-length".into(), "1234".into()),
            ]),
            targeted: None,
        };
        assert_eq!(
            conditional_headers(&stored),
            [
                ("if-none-match", "\"v1\"".to_owned()),
                ("if-modified-since", "Tue, 01 Dec 2026 08:00:00 GMT".to_owned())
            ]
        );
        let later = t0 + Duration::from_secs(60);
        let reply = [
            ("cache-control".to_owned(), "max-age=300".to_owned()),
            ("content-length".to_owned(), "0".to_owned()),
        ];
        let fresh = freshen(&stored, &reply, later, later);
        assert_eq!(fresh.headers.get("cache-control"), Some("max-age=300"));
        assert_eq!(fresh.headers.get("content-length"), Some("1234"), "the body's length stays");
        assert_eq!(fresh.headers.get("etag"), Some("\"v1\""));
        assert!(fresh.is_fresh(later + Duration::from_secs(100), false, &Default::default()));
        let bare = Stored { headers: Headers::default(), ..stored };
        assert!(conditional_headers(&bare).is_empty());
    }
}
