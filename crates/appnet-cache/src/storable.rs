//! Whether a response may be stored at all (RFC 9111 §3), by a private cache (a browser's) or
//! a shared one (a proxy's, a CDN edge's).

use crate::Headers;
use crate::directives::CacheControl;
use crate::freshness::HEURISTICALLY_CACHEABLE;

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
    if asked.no_store || said.no_store {
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
    }
}
