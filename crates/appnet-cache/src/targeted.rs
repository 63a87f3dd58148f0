//! Targeted cache control (RFC 9213): fields like `CDN-Cache-Control` that carry
//! Cache-Control directives for one class of cache. A cache has a target list (a CDN edge:
//! `CDN-Cache-Control`); the first listed field present with a valid, non-empty value is
//! used **instead of** `Cache-Control` and `Expires` for that cache's decisions, while the
//! response passes on unchanged for the caches after it.

use crate::Headers;

/// The targeted field in `headers` that a cache with the target list `targets` (names,
/// any case, in order of precedence) obeys: its directives in Cache-Control syntax. `None`
/// when no listed field has a valid value — then Cache-Control rules as usual.
///
/// Targeted fields are Structured Field dictionaries (RFC 8941): members `key[=value]`, each
/// with optional `;parameters`, which carry nothing this cache uses and are dropped. A value
/// that is not a dictionary (a member whose key is not a lowercase token) is invalid, and the
/// next field on the list is tried.
pub fn select(headers: &Headers, targets: &[String]) -> Option<String> {
    targets.iter().find_map(|target| {
        let value = headers.joined(&target.to_ascii_lowercase())?;
        directives(&value)
    })
}

/// `headers` as a cache obeying `targeted` reads them for the storage rules
/// ([`crate::storable::may_store`]): its directives as the Cache-Control, no Expires.
pub fn effective(headers: &Headers, targeted: &str) -> Headers {
    let mut fields: Vec<(String, String)> =
        headers.0.iter().filter(|(n, _)| n != "cache-control" && n != "expires").cloned().collect();
    fields.push(("cache-control".to_owned(), targeted.to_owned()));
    Headers(fields)
}

/// `value` as Cache-Control directives, or `None` if it is not a valid, non-empty dictionary.
fn directives(value: &str) -> Option<String> {
    let mut members = Vec::new();
    for member in value.split(',') {
        let member = member.trim_matches([' ', '\t']);
        let bare = member.split(';').next().unwrap_or_default();
        let (key, argument) = match bare.split_once('=') {
            Some((key, argument)) => (key, Some(argument)),
            None => (bare, None),
        };
        let key_ok = key.bytes().next().is_some_and(|b| b.is_ascii_lowercase() || b == b'*')
            && key
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-.*".contains(&b));
        // SF allows no space around '=': `max-age = 5` is not a dictionary member.
        if !key_ok || argument.is_some_and(|a| a.is_empty() || a.starts_with([' ', '\t'])) {
            return None;
        }
        members.push(match argument {
            Some(argument) => format!("{key}={argument}"),
            None => key.to_owned(),
        });
    }
    (!members.is_empty()).then(|| members.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(fields: &[(&str, &str)]) -> Headers {
        Headers(fields.iter().map(|(n, v)| ((*n).into(), (*v).into())).collect())
    }

    #[test]
    fn the_first_valid_listed_field_wins_and_parameters_are_dropped() {
        let targets = vec!["CDN-Cache-Control".to_owned(), "Surrogate-Control".to_owned()];
        let both = headers(&[
            ("cache-control", "no-store"),
            ("surrogate-control", "max-age=60"),
            ("cdn-cache-control", "max-age=600;foo, stale-if-error=30"),
        ]);
        assert_eq!(select(&both, &targets).as_deref(), Some("max-age=600, stale-if-error=30"));
        let surrogate = headers(&[("surrogate-control", "no-store")]);
        assert_eq!(select(&surrogate, &targets).as_deref(), Some("no-store"));
        assert_eq!(select(&headers(&[("cache-control", "max-age=1")]), &targets), None);
        assert_eq!(select(&both, &[]), None, "a cache with no target list ignores them");
    }

    #[test]
    fn invalid_values_fall_through_to_the_next_field() {
        let targets = vec!["cdn-cache-control".to_owned(), "surrogate-control".to_owned()];
        for bad in ["", "Max-Age=5", "max-age =5", "max-age= 5", "max-age=", "9lives"] {
            let fields = headers(&[("cdn-cache-control", bad), ("surrogate-control", "max-age=7")]);
            assert_eq!(select(&fields, &targets).as_deref(), Some("max-age=7"), "{bad:?}");
        }
    }
}
