//! The `Date` field our own HTTP/1 and HTTP/2 writers add (hyper adds its own on its paths).

use std::time::SystemTime;

use hyper::header::HeaderValue;

/// Today's `Date` value, formatted once a second per thread (as hyper caches it).
pub(crate) fn now() -> HeaderValue {
    use std::cell::RefCell;
    thread_local! {
        static CACHED: RefCell<(u64, Option<HeaderValue>)> = const { RefCell::new((0, None)) };
    }
    let now = SystemTime::now();
    let second = now.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    CACHED.with(|cached| {
        let mut cached = cached.borrow_mut();
        if cached.0 != second || cached.1.is_none() {
            let value = HeaderValue::from_str(&httpdate::fmt_http_date(now)).ok();
            *cached = (second, value);
        }
        cached.1.clone().unwrap_or(HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 GMT"))
    })
}
