//! Whether a response may be stored at all (RFC 9111 §3), by a private cache (a browser's) or
//! a shared one (a proxy's, a CDN edge's).

use crate::Headers;
use crate::directives::CacheControl;
use crate::freshness::HEURISTICALLY_CACHEABLE;

/// Status codes whose caching rules this cache implements (for `must-understand`): the
/// heuristically cacheable ones plus the redirects and 304 handling it knows.
const UNDERSTOOD: [u16; 15] =
    [200, 203, 204, 206, 300, 301, 302, 303, 307, 308, 404, 405, 410, 414, 501];

/// Whether a response of `status` with `response` headers to a `method` request with
/// `request` headers may be stored; `shared` for a shared cache.
pub fn may_store(
    method: &str,
    request: &Headers,
    status: u16,
    response: &Headers,
    shared: bool,
) -> bool {
    if !matches!(method, "GET" | "HEAD") || !(200..600).contains(&status) || status == 206 {
        // Methods and partial content this cache does not combine are not stored.
        return false;
    }
    let control = |headers: &Headers| {
        headers.joined("cache-control").map(|v| CacheControl::parse(&v)).unwrap_or_default()
    };
    let (asked, said) = (control(request), control(response));
    if said.must_understand {
        // Only a status whose caching rules this cache implements; then no-store, which is
        // there for caches that do not understand must-understand, is overridden.
        if !UNDERSTOOD.contains(&status) {
            return false;
        }
    } else if said.no_store {
        return false;
    }
    if asked.no_store {
        return false;
    }
    if shared && said.private && said.private_fields.is_empty() {
        return false;
    }
    // §3.5: a shared cache stores answers to authorized requests only when told it may.
    if shared
        && request.get("authorization").is_some()
        && !(said.must_revalidate || said.public || said.s_maxage.is_some())
    {
        return false;
    }
    said.public
        || (!shared && said.private)
        || said.max_age.is_some()
        || (shared && said.s_maxage.is_some())
        || response.get("expires").is_some()
        || HEURISTICALLY_CACHEABLE.contains(&status)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(fields: &[(&str, &str)]) -> Headers {
        Headers(fields.iter().map(|(n, v)| ((*n).into(), (*v).into())).collect())
    }

    #[test]
    fn the_storage_rules_of_rfc_9111() {
        let none = Headers::default();
        assert!(may_store("GET", &none, 200, &none, true));
        assert!(!may_store("POST", &none, 200, &none, true));
        assert!(!may_store("GET", &none, 206, &none, false));
        assert!(!may_store("GET", &none, 200, &headers(&[("cache-control", "no-store")]), false));
        assert!(!may_store("GET", &headers(&[("cache-control", "no-store")]), 200, &none, false));
        let private = headers(&[("cache-control", "private, max-age=60")]);
        assert!(
            may_store("GET", &none, 200, &private, false)
                && !may_store("GET", &none, 200, &private, true)
        );
        let authorized = headers(&[("authorization", "Bearer x")]);
        assert!(!may_store("GET", &authorized, 200, &none, true));
        assert!(may_store("GET", &authorized, 200, &headers(&[("cache-control", "public")]), true));
        assert!(may_store("GET", &authorized, 200, &none, false), "a private cache may");
        // A 302 needs explicit freshness; a 404 is cacheable by default.
        assert!(!may_store("GET", &none, 302, &none, false));
        assert!(may_store("GET", &none, 302, &headers(&[("cache-control", "max-age=5")]), false));
        assert!(may_store("GET", &none, 404, &none, true));
        // must-understand: an unknown status is never stored, a known one despite no-store.
        let understand = headers(&[("cache-control", "max-age=60, must-understand, no-store")]);
        assert!(may_store("GET", &none, 200, &understand, true));
        assert!(!may_store("GET", &none, 599, &understand, true));
    }
}
