//! `Cache-Control` (RFC 9111 §5.2) read into its directives. Unknown directives are ignored,
//! as §5.2.3 requires; a malformed delta-seconds makes that directive absent (§1.2.2), except
//! that a `max-age` which cannot be read means "stale" (§4.2.1: treat it as 0).

/// The directives of one `Cache-Control` field (all of a message's fields, joined).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheControl {
    /// `max-age=N` (response: freshness lifetime; request: the oldest response accepted).
    pub max_age: Option<u64>,
    /// `s-maxage=N`: a shared cache's lifetime, over max-age and Expires.
    pub s_maxage: Option<u64>,
    /// `no-cache`: revalidate before every use; with field names (response), only those
    /// fields need it.
    pub no_cache: bool,
    /// The field names of a qualified `no-cache="…"`.
    pub no_cache_fields: Vec<String>,
    /// `no-store`: never store.
    pub no_store: bool,
    /// `private`: a shared cache must not store (with field names: those fields).
    pub private: bool,
    /// The field names of a qualified `private="…"`.
    pub private_fields: Vec<String>,
    /// `public`: storable even where it would not be (authorization, status).
    pub public: bool,
    /// `must-revalidate`: never served stale.
    pub must_revalidate: bool,
    /// `proxy-revalidate`: never served stale by a shared cache.
    pub proxy_revalidate: bool,
    /// `immutable` (RFC 8246): no revalidation while fresh, even on reload.
    pub immutable: bool,
    /// `stale-while-revalidate=N` (RFC 5861).
    pub stale_while_revalidate: Option<u64>,
    /// `stale-if-error=N` (RFC 5861).
    pub stale_if_error: Option<u64>,
    /// Request `max-stale` (`Some(None)`: any staleness).
    pub max_stale: Option<Option<u64>>,
    /// Request `min-fresh=N`.
    pub min_fresh: Option<u64>,
    /// Request `only-if-cached`.
    pub only_if_cached: bool,
    /// `no-transform`.
    pub no_transform: bool,
    /// `must-understand` (§5.2.2.3): store only if the status code's caching rules are
    /// understood, and then `no-store` does not apply.
    pub must_understand: bool,
}

impl CacheControl {
    /// The directives of `value` (a field value, or several joined by commas).
    pub fn parse(value: &str) -> Self {
        let mut parsed = Self::default();
        for (name, argument) in split(value) {
            let seconds = || argument.as_deref().and_then(|a| a.parse::<u64>().ok());
            let fields = || {
                argument
                    .as_deref()
                    .map(|a| {
                        a.split(',')
                            .map(|f| f.trim().to_ascii_lowercase())
                            .filter(|f| !f.is_empty())
                            .collect()
                    })
                    .unwrap_or_default()
            };
            match name.as_str() {
                "max-age" => parsed.max_age = Some(seconds().unwrap_or(0)),
                "s-maxage" => parsed.s_maxage = seconds(),
                "no-cache" => {
                    parsed.no_cache = true;
                    parsed.no_cache_fields = fields();
                }
                "no-store" => parsed.no_store = true,
                "private" => {
                    parsed.private = true;
                    parsed.private_fields = fields();
                }
                "public" => parsed.public = true,
                "must-revalidate" => parsed.must_revalidate = true,
                "proxy-revalidate" => parsed.proxy_revalidate = true,
                "immutable" => parsed.immutable = true,
                "stale-while-revalidate" => parsed.stale_while_revalidate = seconds(),
                "stale-if-error" => parsed.stale_if_error = seconds(),
                "max-stale" => parsed.max_stale = Some(seconds()),
                "min-fresh" => parsed.min_fresh = seconds(),
                "only-if-cached" => parsed.only_if_cached = true,
                "no-transform" => parsed.no_transform = true,
                "must-understand" => parsed.must_understand = true,
                _ => {}
            }
        }
        parsed
    }
}

/// `name[=argument]` pairs, names lowercase, quoted arguments unquoted (commas inside quotes
/// belong to the argument).
fn split(value: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let mut rest = value;
    while !rest.trim().is_empty() {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        let name_end = rest.find(['=', ',']).unwrap_or(rest.len());
        let name = rest[..name_end].trim().to_ascii_lowercase();
        rest = &rest[name_end..];
        let mut argument = None;
        if let Some(after) = rest.strip_prefix('=') {
            let after = after.trim_start();
            if let Some(quoted) = after.strip_prefix('"') {
                let end = quoted.find('"').unwrap_or(quoted.len());
                argument = Some(quoted[..end].to_owned());
                rest = quoted.get(end + 1..).unwrap_or("");
            } else {
                let end = after.find(',').unwrap_or(after.len());
                argument = Some(after[..end].trim().to_owned());
                rest = &after[end..];
            }
        }
        if !name.is_empty() {
            out.push((name, argument));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_response_and_request_directives() {
        let response = CacheControl::parse(
            "public, max-age=60, s-maxage=300, must-revalidate, stale-while-revalidate=30, \
             no-cache=\"set-cookie, x-user\", immutable, x-unknown=1",
        );
        assert_eq!((response.max_age, response.s_maxage), (Some(60), Some(300)));
        assert!(response.public && response.must_revalidate && response.immutable);
        assert!(response.no_cache);
        assert_eq!(response.no_cache_fields, ["set-cookie", "x-user"]);
        assert_eq!(response.stale_while_revalidate, Some(30));
        let request = CacheControl::parse("max-stale, min-fresh=10, only-if-cached, NO-STORE");
        assert_eq!(request.max_stale, Some(None));
        assert_eq!(request.min_fresh, Some(10));
        assert!(request.only_if_cached && request.no_store);
        assert_eq!(CacheControl::parse("max-stale=5").max_stale, Some(Some(5)));
    }

    #[test]
    fn a_max_age_that_cannot_be_read_means_stale_and_others_are_dropped() {
        assert_eq!(CacheControl::parse("max-age=soon").max_age, Some(0));
        assert_eq!(CacheControl::parse("s-maxage=-1").s_maxage, None);
        assert_eq!(CacheControl::parse(""), CacheControl::default());
        assert_eq!(CacheControl::parse(",,, ,").max_age, None);
        assert!(CacheControl::parse("private=\"unterminated").private);
    }
}
