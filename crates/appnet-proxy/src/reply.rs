//! Responses to clients: built from a stored response (its head, `Age`, `Cache-Status`, and
//! the client's own conditions and ranges answered from it), or short ones of the proxy's own.

use std::time::{Duration, SystemTime};

use appnet_cache::directives::CacheControl;
use appnet_http::files::range::{self, Ranges};
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Response, StatusCode};

use crate::forwarding;
use crate::store::Object;

/// The largest `Age` sent (RFC 9111 §1.2.2: 2^31 stands for "more").
const MAX_AGE_SENT: u64 = 1 << 31;

/// A short response of `status` with `text`.
pub(crate) fn plain(status: StatusCode, text: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(format!("{text}\n"))));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}

/// What a GET or HEAD asks of the cache, read once from its head.
#[derive(Debug, Clone, Default)]
pub(crate) struct ClientAsk {
    /// HEAD: the head only.
    pub(crate) head: bool,
    /// Its Cache-Control (with `Pragma: no-cache` read in, RFC 9111 §5.4).
    pub(crate) directives: CacheControl,
    /// `If-None-Match`.
    pub(crate) if_none_match: Option<String>,
    /// `If-Modified-Since`.
    pub(crate) if_modified_since: Option<String>,
    /// `Range`.
    pub(crate) range: Option<String>,
    /// `If-Range`.
    pub(crate) if_range: Option<String>,
}

impl ClientAsk {
    /// What `headers` (of a `method` request) ask.
    pub(crate) fn of(method: &Method, headers: &HeaderMap) -> Self {
        let text = |name| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        Self {
            head: method == Method::HEAD,
            directives: request_directives(headers),
            if_none_match: text(header::IF_NONE_MATCH),
            if_modified_since: text(header::IF_MODIFIED_SINCE),
            range: text(header::RANGE),
            if_range: text(header::IF_RANGE),
        }
    }
}

/// The request's Cache-Control, with `Pragma: no-cache` read as `no-cache` where there is no
/// Cache-Control (RFC 9111 §5.4).
fn request_directives(headers: &HeaderMap) -> CacheControl {
    let joined: Vec<&str> =
        headers.get_all(header::CACHE_CONTROL).iter().filter_map(|v| v.to_str().ok()).collect();
    if joined.is_empty() {
        let pragma = headers.get(header::PRAGMA).and_then(|v| v.to_str().ok()).unwrap_or_default();
        return CacheControl {
            no_cache: pragma.to_ascii_lowercase().contains("no-cache"),
            ..CacheControl::default()
        };
    }
    CacheControl::parse(&joined.join(", "))
}

/// The client's response from `object`: its stored head (hop-by-hop fields and, if asked,
/// the targeted fields out; Via in) and body (none for HEAD).
pub(crate) fn build(object: &Object, head: bool, strip: &[String]) -> Response<Full<Bytes>> {
    let body = if head { Bytes::new() } else { object.body.clone() };
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = StatusCode::from_u16(object.stored.status).unwrap_or(StatusCode::OK);
    let headers = response.headers_mut();
    for (name, value) in &object.stored.headers.0 {
        if strip.iter().any(|s| s.eq_ignore_ascii_case(name)) {
            continue;
        }
        if let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value))
        {
            headers.append(name, value);
        }
    }
    forwarding::strip_hop_by_hop(headers);
    headers.remove(header::CONTENT_LENGTH);
    forwarding::add_via(headers);
    if head {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(object.body.len()));
    }
    response
}

/// Sets `Cache-Status` (RFC 9211) to `appnet; {value}`.
pub(crate) fn cache_status(response: &mut Response<Full<Bytes>>, value: &str) {
    if let Ok(value) = HeaderValue::from_str(&format!("appnet; {value}")) {
        response.headers_mut().insert(HeaderName::from_static("cache-status"), value);
    }
}

/// A stored response served to `ask` at `now`: 304 when the client's own conditions hold
/// against it, 206/416 for a range of a stored 200, else whole; with its `Age` and a
/// `Cache-Status` of `how` and the remaining ttl.
pub(crate) fn serve_stored(
    object: &Object,
    now: SystemTime,
    ask: &ClientAsk,
    how: &str,
    strip: &[String],
) -> Response<Full<Bytes>> {
    let mut response = if not_modified(object, ask) {
        let mut response = build(object, true, strip);
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        response.headers_mut().remove(header::CONTENT_LENGTH);
        response
    } else {
        match ranged(object, ask) {
            Some(parts) => partial(object, parts, ask.head, strip),
            None => build(object, ask.head, strip),
        }
    };
    let age = object.stored.current_age(now);
    let (lifetime, _) = object.stored.lifetime(true);
    let ttl = if lifetime >= age {
        (lifetime - age).as_secs().min(MAX_AGE_SENT) as i64
    } else {
        -((age - lifetime).as_secs().min(MAX_AGE_SENT) as i64)
    };
    let age = age.as_secs().min(MAX_AGE_SENT);
    response.headers_mut().insert(header::AGE, HeaderValue::from(age));
    cache_status(&mut response, &format!("{how}; ttl={ttl}"));
    response
}

/// Whether the client's If-None-Match (weak comparison, RFC 9110 §13.1.2) or, without one,
/// its If-Modified-Since holds against the stored response: then 304.
pub(crate) fn not_modified(object: &Object, ask: &ClientAsk) -> bool {
    let headers = &object.stored.headers;
    // Only a 2xx can be "not modified" (RFC 9110 §13.2.1): a stored 404 is sent as it is.
    if !(200..300).contains(&object.stored.status) {
        return false;
    }
    if let Some(asked) = &ask.if_none_match {
        let Some(etag) = headers.get("etag") else { return false };
        let weak = |tag: &str| tag.trim().trim_start_matches("W/").to_owned();
        return asked.split(',').any(|tag| tag.trim() == "*" || weak(tag) == weak(etag));
    }
    let Some(since) = ask.if_modified_since.as_deref() else { return false };
    let Ok(since) = httpdate::parse_http_date(since) else { return false };
    let modified = headers.get("last-modified").and_then(|v| httpdate::parse_http_date(v).ok());
    object.stored.status == 200 && modified.is_some_and(|modified| modified <= since)
}

/// The ranges of a stored 200 a client asked for, if it did and its If-Range still names
/// the stored version (a strong ETag, or the exact Last-Modified).
fn ranged(object: &Object, ask: &ClientAsk) -> Option<Ranges> {
    let asked = ask.range.as_deref()?;
    if object.stored.status != 200 || object.stored.headers.get("content-range").is_some() {
        return None;
    }
    if let Some(if_range) = ask.if_range.as_deref().map(str::trim) {
        let headers = &object.stored.headers;
        let holds = if if_range.starts_with('"') {
            headers.get("etag").is_some_and(|etag| etag == if_range)
        } else {
            let date = |v: &str| httpdate::parse_http_date(v).ok();
            let modified = headers.get("last-modified").and_then(date);
            modified.is_some() && modified == date(if_range)
        };
        if !holds {
            return None;
        }
    }
    match range::parse(Some(asked), object.body.len() as u64) {
        Ranges::Whole => None,
        // Ranges adding up to more than the body (overlaps, repeats) get the body once, as
        // RFC 9110 §14.2 allows, not a copy per range.
        Ranges::Parts(parts)
            if parts.iter().map(|(first, last)| last - first + 1).sum::<u64>()
                > object.body.len() as u64 =>
        {
            None
        }
        ranges => Some(ranges),
    }
}

/// 206 (one range, or multipart/byteranges) or 416 from a stored full response.
fn partial(object: &Object, ranges: Ranges, head: bool, strip: &[String]) -> Response<Full<Bytes>> {
    let length = object.body.len() as u64;
    let mut response = build(object, true, strip);
    let headers = response.headers_mut();
    headers.remove(header::CONTENT_LENGTH);
    let body = match ranges {
        Ranges::Whole => return build(object, head, strip),
        Ranges::Unsatisfiable => {
            *response.status_mut() = StatusCode::RANGE_NOT_SATISFIABLE;
            insert(response.headers_mut(), header::CONTENT_RANGE, &format!("bytes */{length}"));
            return response;
        }
        Ranges::Parts(parts) if parts.len() == 1 => {
            let (first, last) = parts[0];
            insert(headers, header::CONTENT_RANGE, &format!("bytes {first}-{last}/{length}"));
            object.body.slice(first as usize..=last as usize)
        }
        Ranges::Parts(parts) => {
            let content_type =
                object.stored.headers.get("content-type").unwrap_or("application/octet-stream");
            let pieces: Vec<&[u8]> =
                parts.iter().map(|&(f, l)| &object.body[f as usize..=l as usize]).collect();
            let body = range::multipart_body(&pieces, &parts, length, content_type);
            insert(headers, header::CONTENT_TYPE, range::MULTIPART_TYPE);
            Bytes::from(body)
        }
    };
    *response.status_mut() = StatusCode::PARTIAL_CONTENT;
    if head {
        insert(response.headers_mut(), header::CONTENT_LENGTH, &body.len().to_string());
    } else {
        *response.body_mut() = Full::new(body);
    }
    response
}

fn insert(headers: &mut HeaderMap, name: HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(name, value);
    }
}

/// How long `object` has been stale at `now` (zero while fresh).
pub(crate) fn staleness(object: &Object, now: SystemTime) -> Duration {
    let (lifetime, _) = object.stored.lifetime(true);
    object.stored.current_age(now).saturating_sub(lifetime)
}

#[cfg(test)]
mod tests {
    use appnet_cache::Headers;
    use appnet_cache::freshness::Stored;
    use http_body_util::BodyExt;

    use super::*;

    fn object(fields: &[(&str, &str)], body: &'static str) -> Object {
        let now = SystemTime::now();
        let headers = Headers(fields.iter().map(|(n, v)| ((*n).into(), (*v).into())).collect());
        Object {
            stored: Stored {
                request_time: now,
                response_time: now,
                status: 200,
                headers,
                targeted: None,
            },
            body: Bytes::from_static(body.as_bytes()),
        }
    }

    async fn body(response: Response<Full<Bytes>>) -> Bytes {
        response.into_body().collect().await.unwrap().to_bytes()
    }

    fn ask(fields: &[(&str, &str)]) -> ClientAsk {
        let mut headers = HeaderMap::new();
        for (name, value) in fields {
            headers
                .insert(HeaderName::from_bytes(name.as_bytes()).unwrap(), value.parse().unwrap());
        }
        ClientAsk::of(&Method::GET, &headers)
    }

    #[tokio::test]
    async fn ranges_are_cut_from_the_stored_body() {
        let stored = object(&[("etag", "\"v1\""), ("content-type", "text/plain")], "0123456789");
        let now = SystemTime::now();
        let one = serve_stored(&stored, now, &ask(&[("range", "bytes=2-4")]), "hit", &[]);
        assert_eq!(one.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(one.headers()[header::CONTENT_RANGE], "bytes 2-4/10");
        assert_eq!(body(one).await, "234");
        let two = serve_stored(&stored, now, &ask(&[("range", "bytes=0-0,-2")]), "hit", &[]);
        assert_eq!(two.headers()[header::CONTENT_TYPE], range::MULTIPART_TYPE);
        let text = body(two).await;
        assert!(text.windows(16).any(|w| w == b"bytes 8-9/10\r\n\r\n"), "{text:?}");
        let repeated = ask(&[("range", "bytes=0-,0-,0-")]);
        assert_eq!(serve_stored(&stored, now, &repeated, "hit", &[]).status(), StatusCode::OK);
        let beyond = serve_stored(&stored, now, &ask(&[("range", "bytes=50-")]), "hit", &[]);
        assert_eq!(beyond.status(), StatusCode::RANGE_NOT_SATISFIABLE);
        // If-Range naming another version: the whole body.
        let other = ask(&[("range", "bytes=2-4"), ("if-range", "\"v0\"")]);
        let whole = serve_stored(&stored, now, &other, "hit", &[]);
        assert_eq!(
            (whole.status(), body(whole).await),
            (StatusCode::OK, Bytes::from("0123456789"))
        );
        let same = ask(&[("range", "bytes=2-4"), ("if-range", "\"v1\"")]);
        assert_eq!(
            serve_stored(&stored, now, &same, "hit", &[]).status(),
            StatusCode::PARTIAL_CONTENT
        );
    }

    #[tokio::test]
    async fn the_clients_own_conditions_are_answered_from_the_store() {
        let modified = "Tue, 01 Dec 2026 08:00:00 GMT";
        let stored = object(&[("etag", "W/\"v1\""), ("last-modified", modified)], "body");
        let now = SystemTime::now();
        let weak = serve_stored(&stored, now, &ask(&[("if-none-match", "\"v1\"")]), "hit", &[]);
        assert_eq!(weak.status(), StatusCode::NOT_MODIFIED, "If-None-Match compares weakly");
        assert!(body(weak).await.is_empty());
        let other = serve_stored(&stored, now, &ask(&[("if-none-match", "\"v2\"")]), "hit", &[]);
        assert_eq!(other.status(), StatusCode::OK);
        let later = ask(&[("if-modified-since", "Tue, 01 Dec 2026 09:00:00 GMT")]);
        assert_eq!(
            serve_stored(&stored, now, &later, "hit", &[]).status(),
            StatusCode::NOT_MODIFIED
        );
        let mut missing = object(&[("etag", "\"gone\"")], "not here");
        missing.stored.status = 404;
        let asked = ask(&[("if-none-match", "\"gone\"")]);
        assert_eq!(
            serve_stored(&missing, now, &asked, "hit", &[]).status(),
            404,
            "only 2xx are 304s"
        );
        let earlier = ask(&[("if-modified-since", "Tue, 01 Dec 2026 07:00:00 GMT")]);
        assert_eq!(serve_stored(&stored, now, &earlier, "hit", &[]).status(), StatusCode::OK);
    }

    #[test]
    fn targeted_fields_are_stripped_only_when_asked_and_age_is_capped() {
        let stored = object(&[("cdn-cache-control", "max-age=60"), ("age", "99999999999")], "x");
        let kept = serve_stored(&stored, SystemTime::now(), &ClientAsk::default(), "hit", &[]);
        assert!(kept.headers().contains_key("cdn-cache-control"));
        assert_eq!(kept.headers()[header::AGE], (1u64 << 31).to_string().as_str());
        let strip = ["CDN-Cache-Control".to_owned()];
        let stripped = build(&stored, false, &strip);
        assert!(!stripped.headers().contains_key("cdn-cache-control"));
    }
}
