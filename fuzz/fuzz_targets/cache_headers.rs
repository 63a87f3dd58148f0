//! The cache's readings of header fields: Cache-Control directives of any text, and the age,
//! freshness lifetime, freshness and storability of a response with any header fields —
//! never a panic (absurd numbers saturate), a lifetime never longer than the field allows;
//! and the targeted field (CDN-Cache-Control) chosen and obeyed the same way.
#![no_main]

use std::time::{Duration, SystemTime};

use appnet_cache::Headers;
use appnet_cache::directives::CacheControl;
use appnet_cache::freshness::{HEURISTIC_CAP, Stored};
use appnet_cache::storable::may_store;
use appnet_cache::targeted;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let control = CacheControl::parse(&text);
    // Fields from lines "name: value".
    let headers = Headers(
        text.lines()
            .filter_map(|line| line.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect(),
    );
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_112_000);
    let targets = ["CDN-Cache-Control".to_owned(), "surrogate-control".to_owned()];
    for targeted in [None, targeted::select(&headers, &targets)] {
        let rules = match &targeted {
            Some(directives) => targeted::effective(&headers, directives),
            None => headers.clone(),
        };
        let stored = Stored {
            request_time: t0,
            response_time: t0,
            status: 200,
            headers: headers.clone(),
            targeted,
        };
        let _ = stored.current_age(t0 + Duration::from_secs(60));
        let (lifetime, heuristic) = stored.lifetime(true);
        if heuristic {
            assert!(lifetime <= HEURISTIC_CAP);
        }
        let _ = stored.is_fresh(t0 + Duration::from_secs(60), true, &control);
        let _ = may_store("GET", &headers, 200, &rules, true);
    }
});
