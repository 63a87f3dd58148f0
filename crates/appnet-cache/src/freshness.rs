//! How old a stored response is and how long it stays fresh (RFC 9111 §4.2).

use std::time::{Duration, SystemTime};

use crate::Headers;
use crate::directives::CacheControl;

/// Heuristic lifetimes (§4.2.2) are a tenth of the time since Last-Modified, at most this
/// (what Squid and Firefox cap them at: a week).
pub const HEURISTIC_CAP: Duration = Duration::from_secs(7 * 86_400);

/// Status codes a cache may give a heuristic lifetime (RFC 9110 §15.1).
pub const HEURISTICALLY_CACHEABLE: [u16; 12] =
    [200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501];

/// A response as a cache keeps it: when it was asked for and received, and its head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// When the request that fetched it was sent.
    pub request_time: SystemTime,
    /// When the response arrived.
    pub response_time: SystemTime,
    /// Its status.
    pub status: u16,
    /// Its header fields.
    pub headers: Headers,
    /// The directives of the targeted field this cache obeys ([`crate::targeted::select`]),
    /// which then stand in for `Cache-Control` and `Expires`; `None` for most caches.
    pub targeted: Option<String>,
}

impl Stored {
    /// The response's `Cache-Control`.
    pub fn cache_control(&self) -> CacheControl {
        if let Some(targeted) = &self.targeted {
            return CacheControl::parse(targeted);
        }
        self.headers.joined("cache-control").map(|v| CacheControl::parse(&v)).unwrap_or_default()
    }

    fn date(&self, name: &str) -> Option<SystemTime> {
        self.headers.get(name).and_then(|v| httpdate::parse_http_date(v).ok())
    }

    /// Its age now (§4.2.3): the age it arrived with, corrected for the request's round trip
    /// and for clocks, plus the time it has been stored.
    pub fn current_age(&self, now: SystemTime) -> Duration {
        let since = |later: SystemTime, earlier: SystemTime| {
            later.duration_since(earlier).unwrap_or(Duration::ZERO)
        };
        let apparent = self.date("date").map_or(Duration::ZERO, |d| since(self.response_time, d));
        let age_value = age_field(self.headers.joined("age").as_deref());
        let response_delay = since(self.response_time, self.request_time);
        // Saturating: an Age of 2^64 - 1 seconds is absurd, not a crash.
        let corrected_initial = apparent.max(age_value.saturating_add(response_delay));
        corrected_initial.saturating_add(since(now, self.response_time))
    }

    /// How long it is fresh (§4.2.1): s-maxage (shared caches), max-age, Expires minus Date,
    /// else a heuristic where allowed; and whether the lifetime was heuristic.
    pub fn lifetime(&self, shared: bool) -> (Duration, bool) {
        let control = self.cache_control();
        if let Some(seconds) = control.s_maxage.filter(|_| shared) {
            return (Duration::from_secs(seconds), false);
        }
        if let Some(seconds) = control.max_age {
            return (Duration::from_secs(seconds), false);
        }
        if let Some(expires) = self.headers.get("expires").filter(|_| self.targeted.is_none()) {
            // An Expires that cannot be read is in the past (§5.3).
            let Ok(expires) = httpdate::parse_http_date(expires) else {
                return (Duration::ZERO, false);
            };
            let date = self.date("date").unwrap_or(self.response_time);
            return (expires.duration_since(date).unwrap_or(Duration::ZERO), false);
        }
        let allowed = HEURISTICALLY_CACHEABLE.contains(&self.status) || control.public;
        match (allowed, self.date("last-modified")) {
            (true, Some(modified)) => {
                let date = self.date("date").unwrap_or(self.response_time);
                let since = date.duration_since(modified).unwrap_or(Duration::ZERO);
                ((since / 10).min(HEURISTIC_CAP), true)
            }
            _ => (Duration::ZERO, false),
        }
    }

    /// Whether it may be used now without revalidation, for a request whose Cache-Control is
    /// `request` (max-age, min-fresh and max-stale weigh in; §5.2.1). `no-cache` on either
    /// side means no.
    pub fn is_fresh(&self, now: SystemTime, shared: bool, request: &CacheControl) -> bool {
        let control = self.cache_control();
        if control.no_cache || request.no_cache {
            return false;
        }
        let age = self.current_age(now);
        let (mut lifetime, _) = self.lifetime(shared);
        if let Some(max_age) = request.max_age {
            lifetime = lifetime.min(Duration::from_secs(max_age));
        }
        let needed = age.saturating_add(Duration::from_secs(request.min_fresh.unwrap_or(0)));
        if needed < lifetime {
            return true;
        }
        // Stale: a request's max-stale lets it through, unless the response forbids it.
        // s-maxage implies proxy-revalidate for a shared cache (RFC 9111 §5.2.2.10).
        let forbids = control.must_revalidate
            || (shared && (control.proxy_revalidate || control.s_maxage.is_some()));
        match request.max_stale {
            Some(limit) if !forbids => {
                let staleness = needed - lifetime;
                limit.is_none_or(|seconds| staleness <= Duration::from_secs(seconds))
            }
            _ => false,
        }
    }
}

/// The `Age` a response arrived with (RFC 9111 §5.1): one non-negative integer. Anything
/// else — several values, a sign, a fraction, parameters, letters — cannot be trusted, so the
/// response is taken as older than any lifetime (stale), rather than as new.
fn age_field(value: Option<&str>) -> Duration {
    let Some(value) = value.map(str::trim) else { return Duration::ZERO };
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Duration::MAX;
    }
    // All digits: only too many of them fails, and that is very old.
    value.parse::<u64>().map_or(Duration::MAX, Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_796_112_000;

    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)
    }

    fn stored(headers: &[(&str, &str)]) -> Stored {
        Stored {
            request_time: at(T0),
            response_time: at(T0 + 1),
            status: 200,
            headers: Headers(headers.iter().map(|(n, v)| ((*n).into(), (*v).into())).collect()),
            targeted: None,
        }
    }

    fn http_date(seconds: u64) -> String {
        httpdate::fmt_http_date(at(seconds))
    }

    #[test]
    fn age_is_corrected_for_the_round_trip_and_grows_while_stored() {
        let date = http_date(T0);
        let response = stored(&[("date", &date), ("age", "10")]);
        // Age 10 + 1 s response delay, then 100 s resident.
        assert_eq!(response.current_age(at(T0 + 101)), Duration::from_secs(111));
        // A Date ahead of us (clock skew) makes no negative age.
        let ahead = http_date(T0 + 500);
        assert_eq!(stored(&[("date", &ahead)]).current_age(at(T0 + 1)), Duration::from_secs(1));
    }

    #[test]
    fn an_age_that_cannot_be_read_makes_a_response_stale() {
        let date = http_date(T0);
        for bad in ["abc", "-7200", "7200.0", "0, 0", "3600;foo=bar", "1 2", ""] {
            let response =
                stored(&[("date", &date), ("cache-control", "max-age=3600"), ("age", bad)]);
            assert!(response.current_age(at(T0 + 1)) == Duration::MAX, "Age: {bad:?}");
            assert!(!response.is_fresh(at(T0 + 1), true, &CacheControl::default()), "{bad:?}");
        }
        // Two Age lines are two values: just as unreadable.
        let two = stored(&[("cache-control", "max-age=3600"), ("age", "0"), ("age", "0")]);
        assert_eq!(two.current_age(at(T0 + 1)), Duration::MAX);
        let fine = stored(&[("date", &date), ("age", " 30 ")]);
        assert_eq!(fine.current_age(at(T0 + 1)), Duration::from_secs(31));
    }

    #[test]
    fn lifetimes_in_the_order_rfc_9111_gives() {
        let (date, expires, modified) =
            (http_date(T0), http_date(T0 + 3600), http_date(T0 - 100_000));
        let explicit = stored(&[
            ("cache-control", "max-age=60, s-maxage=600"),
            ("expires", &expires),
            ("date", &date),
        ]);
        assert_eq!(explicit.lifetime(true), (Duration::from_secs(600), false));
        assert_eq!(explicit.lifetime(false), (Duration::from_secs(60), false));
        let by_expires = stored(&[("expires", &expires), ("date", &date)]);
        assert_eq!(by_expires.lifetime(false).0, Duration::from_secs(3600));
        assert_eq!(stored(&[("expires", "0")]).lifetime(false).0, Duration::ZERO);
        let heuristic = stored(&[("last-modified", &modified), ("date", &date)]);
        assert_eq!(heuristic.lifetime(false), (Duration::from_secs(10_000), true));
        let old = http_date(T0 - 100_000_000);
        let capped = stored(&[("last-modified", &old), ("date", &date)]);
        assert_eq!(capped.lifetime(false).0, HEURISTIC_CAP);
        let not_allowed = Stored { status: 302, ..heuristic.clone() };
        assert_eq!(not_allowed.lifetime(false).0, Duration::ZERO);
    }

    #[test]
    fn absurd_numbers_saturate_rather_than_panic() {
        let huge = u64::MAX.to_string();
        let response = stored(&[("age", &huge), ("cache-control", "max-age=18446744073709551615")]);
        let far = at(T0 + 10);
        assert!(response.current_age(far) >= Duration::from_secs(u64::MAX / 2));
        let request = CacheControl::parse("min-fresh=18446744073709551615");
        // max-age 2^64-1 s against an age of 2^64-1 s: saturated, so not fresh, and no panic.
        assert!(!response.is_fresh(far, true, &request));
        // A max-stale as large lets it through, as max-stale says.
        let lenient =
            CacheControl::parse("min-fresh=18446744073709551615, max-stale=18446744073709551615");
        assert!(response.is_fresh(far, true, &lenient));
    }

    #[test]
    fn freshness_weighs_the_request_directives() {
        let date = http_date(T0);
        let response = stored(&[("cache-control", "max-age=100"), ("date", &date)]);
        let plain = CacheControl::default();
        assert!(response.is_fresh(at(T0 + 50), false, &plain));
        assert!(!response.is_fresh(at(T0 + 150), false, &plain));
        assert!(!response.is_fresh(at(T0 + 50), false, &CacheControl::parse("max-age=30")));
        assert!(!response.is_fresh(at(T0 + 50), false, &CacheControl::parse("min-fresh=60")));
        assert!(response.is_fresh(at(T0 + 150), false, &CacheControl::parse("max-stale=60")));
        assert!(response.is_fresh(at(T0 + 150), false, &CacheControl::parse("max-stale")));
        assert!(!response.is_fresh(at(T0 + 50), false, &CacheControl::parse("no-cache")));
        let strict = stored(&[("cache-control", "max-age=100, must-revalidate"), ("date", &date)]);
        assert!(!strict.is_fresh(at(T0 + 150), false, &CacheControl::parse("max-stale")));
        let no_cache = stored(&[("cache-control", "no-cache, max-age=100"), ("date", &date)]);
        assert!(!no_cache.is_fresh(at(T0 + 2), false, &plain));
    }
}
