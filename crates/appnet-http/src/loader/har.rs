//! A page load as a HAR 1.2 file (the HTTP Archive format Chrome DevTools, Firefox and every
//! HAR viewer open): one page, one entry per request, timings split as HAR splits them —
//! `blocked` (waiting for a connection), `dns`, `connect` (TCP and TLS, as HAR counts it),
//! `ssl`, `send`, `wait`, `receive`, in milliseconds.

use std::time::{Duration, SystemTime};

use appnet_service::calendar::Utc;
use serde_json::{Value, json};

use super::record::PageLoad;

/// The HAR document for `load`.
pub fn har(load: &PageLoad) -> Value {
    let ms = |d: Duration| (d.as_secs_f64() * 1e6).round() / 1e3;
    let entries: Vec<Value> = load
        .entries
        .iter()
        .map(|entry| {
            let [blocked, ..] = entry.phases();
            let time: Duration = entry.phases().iter().sum();
            let query: Vec<Value> = url::Url::parse(&entry.url)
                .map(|u| u.query_pairs().map(|(k, v)| json!({"name": k, "value": v})).collect())
                .unwrap_or_default();
            let headers: Vec<Value> = entry
                .headers
                .iter()
                .map(|(name, value)| json!({"name": name, "value": value}))
                .collect();
            // HTTP/2's pseudo-fields first, as Chrome's HAR lists them.
            let pseudo: Vec<(String, String)> = match url::Url::parse(&entry.url) {
                Ok(url) if entry.protocol == "HTTP/2.0" => vec![
                    (":method".into(), "GET".into()),
                    (
                        ":authority".into(),
                        url[url::Position::BeforeHost..url::Position::AfterPort].into(),
                    ),
                    (":scheme".into(), url.scheme().into()),
                    (
                        ":path".into(),
                        url[url::Position::BeforePath..url::Position::AfterQuery].into(),
                    ),
                ],
                _ => Vec::new(),
            };
            let sent: Vec<Value> = pseudo
                .iter()
                .chain(&entry.request_headers)
                .map(|(name, value)| json!({"name": name, "value": value}))
                .collect();
            json!({
                "pageref": "page_1",
                "startedDateTime": iso8601(load.started_at + entry.queued),
                "time": ms(time),
                "request": {
                    "method": "GET",
                    "url": entry.url,
                    "httpVersion": entry.protocol,
                    "cookies": [],
                    "headers": sent,
                    "queryString": query,
                    "headersSize": -1,
                    "bodySize": 0,
                },
                "response": {
                    "status": entry.status,
                    "statusText": hyper::StatusCode::from_u16(entry.status)
                        .ok()
                        .and_then(|s| s.canonical_reason())
                        .unwrap_or(""),
                    "httpVersion": entry.protocol,
                    "cookies": [],
                    "headers": headers,
                    "content": {
                        "size": entry.decoded_bytes,
                        "compression": entry.decoded_bytes.saturating_sub(entry.bytes),
                        "mimeType": entry.content_type.as_deref().unwrap_or("x-unknown"),
                    },
                    "redirectURL": entry.redirect.as_deref().unwrap_or(""),
                    "headersSize": -1,
                    "bodySize": entry.bytes,
                },
                "cache": {},
                "timings": {
                    "blocked": ms(blocked),
                    "dns": ms(entry.dns),
                    "connect": ms(entry.connect + entry.tls),
                    "ssl": if entry.tls.is_zero() { -1.0 } else { ms(entry.tls) },
                    "send": 0.0,
                    "wait": ms(entry.wait),
                    "receive": ms(entry.receive),
                },
                "connection": entry.connection.to_string(),
                "_resourceType": entry.kind,
                "_fromCache": entry.cache,
                // As Chrome's HAR names a failed request's reason (status 0 when none came).
                "_error": entry.error,
            })
        })
        .collect();
    json!({
        "log": {
            "version": "1.2",
            "creator": {"name": "appnet", "version": env!("CARGO_PKG_VERSION")},
            "pages": [{
                "startedDateTime": iso8601(load.started_at),
                "id": "page_1",
                "title": load.url,
                "pageTimings": {"onContentLoad": -1, "onLoad": ms(load.plt)},
                "comment": format!("appnet http load --mode {}", load.mode),
            }],
            "entries": entries,
        }
    })
}

/// `2026-12-01T11:08:46.123Z`.
fn iso8601(time: SystemTime) -> String {
    let utc = Utc::of(time);
    let millis = time.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.subsec_millis());
    format!(
        "{}-{:02}-{:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::loader::discover::Kind;
    use crate::loader::record::Entry;

    pub(crate) fn sample() -> PageLoad {
        let entry = |url: &str, kind, started: u64, tls: u64| Entry {
            url: url.to_owned(),
            kind,
            status: 200,
            protocol: "HTTP/1.1".to_owned(),
            connection: 1,
            queued: Duration::from_millis(started.saturating_sub(2)),
            started: Duration::from_millis(started),
            dns: Duration::from_millis(1),
            connect: Duration::from_millis(2),
            tls: Duration::from_millis(tls),
            wait: Duration::from_millis(10),
            receive: Duration::from_millis(5),
            bytes: 1000,
            decoded_bytes: 3000,
            content_type: Some("text/html".to_owned()),
            content_encoding: Some("br".to_owned()),
            redirect: None,
            cache: None,
            headers: vec![("content-type".to_owned(), "text/html".to_owned())],
            request_headers: vec![("accept-encoding".to_owned(), "br".to_owned())],
            error: None,
        };
        PageLoad {
            url: "https://lab.test/".to_owned(),
            mode: "parallel:6".to_owned(),
            plt: Duration::from_millis(40),
            entries: vec![
                entry("https://lab.test/", Kind::Document, 0, 3),
                entry("https://lab.test/a.css?v=2", Kind::Stylesheet, 21, 0),
            ],
            connections: 1,
            bytes: 2000,
            not_fetched: 0,
            timed_out: false,
            started_at: SystemTime::UNIX_EPOCH + Duration::from_millis(1_796_112_799_250),
        }
    }

    #[test]
    fn the_har_has_the_1_2_structure_and_the_phases() {
        let har = har(&sample());
        let log = &har["log"];
        assert_eq!(log["version"], "1.2");
        assert_eq!(log["pages"][0]["startedDateTime"], "2026-12-01T08:13:19.250Z");
        assert_eq!(log["pages"][0]["pageTimings"]["onLoad"], 40.0);
        let first = &log["entries"][0];
        for field in
            ["pageref", "startedDateTime", "time", "request", "response", "cache", "timings"]
        {
            assert!(!first[field].is_null(), "entries[].{field}");
        }
        let timings = &first["timings"];
        assert_eq!((timings["dns"].as_f64(), timings["connect"].as_f64()), (Some(1.0), Some(5.0)));
        assert_eq!(timings["ssl"], 3.0);
        assert_eq!(first["time"], 21.0, "dns + connect + ssl + wait + receive");
        assert_eq!(first["response"]["content"]["compression"], 2000);
        let second = &log["entries"][1];
        assert_eq!(second["timings"]["ssl"], -1.0, "no TLS on a reused connection");
        assert_eq!(second["timings"]["blocked"], 2.0);
        assert_eq!(second["request"]["queryString"][0]["name"], "v");
    }
}
