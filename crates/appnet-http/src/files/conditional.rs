//! Conditional requests (RFC 9110 §13.2.2): the preconditions evaluated in the order the RFC
//! gives, against the file's entity tag and modification time.

use std::time::SystemTime;

/// What the preconditions decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// Serve the request.
    Proceed,
    /// 304 Not Modified (GET and HEAD).
    NotModified,
    /// 412 Precondition Failed.
    Failed,
}

/// The request's precondition headers, as received.
#[derive(Debug, Clone, Copy, Default)]
pub struct Conditions<'a> {
    /// `If-Match`.
    pub if_match: Option<&'a str>,
    /// `If-None-Match`.
    pub if_none_match: Option<&'a str>,
    /// `If-Modified-Since`.
    pub if_modified_since: Option<&'a str>,
    /// `If-Unmodified-Since`.
    pub if_unmodified_since: Option<&'a str>,
}

/// RFC 9110 §13.2.2 for a file with strong entity tag `etag` (quoted) modified at `modified`;
/// `safe` is true for GET and HEAD.
pub fn evaluate(
    conditions: &Conditions<'_>,
    etag: &str,
    modified: SystemTime,
    safe: bool,
) -> Precondition {
    // Step 1–2: If-Match, else If-Unmodified-Since.
    if let Some(list) = conditions.if_match {
        if !matches_any(list, etag, true) {
            return Precondition::Failed;
        }
    } else if let Some(date) = conditions.if_unmodified_since.and_then(parse_date) {
        if seconds(modified) > seconds(date) {
            return Precondition::Failed;
        }
    }
    // Step 3–4: If-None-Match, else If-Modified-Since (GET and HEAD only).
    if let Some(list) = conditions.if_none_match {
        if matches_any(list, etag, false) {
            return if safe { Precondition::NotModified } else { Precondition::Failed };
        }
    } else if safe {
        if let Some(date) = conditions.if_modified_since.and_then(parse_date) {
            if seconds(modified) <= seconds(date) {
                return Precondition::NotModified;
            }
        }
    }
    Precondition::Proceed
}

/// Whether `If-Range` (an entity tag or a date) still names this version: ranges apply only if
/// so, otherwise the whole file is sent (RFC 9110 §13.1.5). Only strong validators count.
pub fn if_range_holds(if_range: &str, etag: &str, modified: SystemTime) -> bool {
    let value = if_range.trim();
    if value.starts_with('"') {
        return value == etag;
    }
    if value.starts_with("W/") {
        return false;
    }
    parse_date(value).is_some_and(|date| seconds(modified) == seconds(date))
}

/// A strong entity tag for a file: size and modification time, as nginx makes them.
pub fn etag_for(length: u64, modified: SystemTime) -> String {
    let mtime = modified.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    format!("\"{mtime:x}-{length:x}\"")
}

fn matches_any(list: &str, etag: &str, strong: bool) -> bool {
    let list = list.trim();
    if list == "*" {
        return true;
    }
    list.split(',').map(str::trim).any(|candidate| {
        let weak = candidate.starts_with("W/");
        let tag = candidate.trim_start_matches("W/");
        // Our tags are strong; a weak candidate matches only under weak comparison.
        tag == etag && !(strong && weak)
    })
}

fn parse_date(text: &str) -> Option<SystemTime> {
    httpdate::parse_http_date(text.trim()).ok()
}

/// HTTP dates have one-second resolution: compare at that.
fn seconds(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const TAG: &str = "\"5f-10\"";

    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)
    }

    fn date(seconds: u64) -> String {
        httpdate::fmt_http_date(at(seconds))
    }

    #[test]
    fn if_none_match_gives_304_for_reads_and_412_for_writes() {
        let c = Conditions { if_none_match: Some("\"x\", W/\"5f-10\""), ..Default::default() };
        assert_eq!(evaluate(&c, TAG, at(1000), true), Precondition::NotModified, "weak comparison");
        assert_eq!(evaluate(&c, TAG, at(1000), false), Precondition::Failed);
        let other = Conditions { if_none_match: Some("\"x\""), ..Default::default() };
        assert_eq!(evaluate(&other, TAG, at(1000), true), Precondition::Proceed);
        let star = Conditions { if_none_match: Some("*"), ..Default::default() };
        assert_eq!(evaluate(&star, TAG, at(1000), true), Precondition::NotModified);
    }

    #[test]
    fn if_modified_since_only_without_if_none_match() {
        let since = date(2000);
        let c = Conditions { if_modified_since: Some(&since), ..Default::default() };
        assert_eq!(evaluate(&c, TAG, at(1500), true), Precondition::NotModified);
        assert_eq!(evaluate(&c, TAG, at(2500), true), Precondition::Proceed);
        let both = Conditions {
            if_none_match: Some("\"x\""),
            if_modified_since: Some(&since),
            ..Default::default()
        };
        assert_eq!(
            evaluate(&both, TAG, at(1500), true),
            Precondition::Proceed,
            "If-None-Match wins"
        );
        let junk = Conditions { if_modified_since: Some("yesterday"), ..Default::default() };
        assert_eq!(
            evaluate(&junk, TAG, at(1500), true),
            Precondition::Proceed,
            "an invalid date is ignored"
        );
    }

    #[test]
    fn if_match_and_if_unmodified_since_guard_changes() {
        let weak = Conditions { if_match: Some("W/\"5f-10\""), ..Default::default() };
        assert_eq!(
            evaluate(&weak, TAG, at(1000), false),
            Precondition::Failed,
            "strong comparison"
        );
        let strong = Conditions { if_match: Some("\"5f-10\""), ..Default::default() };
        assert_eq!(evaluate(&strong, TAG, at(1000), false), Precondition::Proceed);
        let since = date(900);
        let c = Conditions { if_unmodified_since: Some(&since), ..Default::default() };
        assert_eq!(evaluate(&c, TAG, at(1000), false), Precondition::Failed);
    }

    #[test]
    fn if_range_takes_strong_tags_and_exact_dates() {
        assert!(if_range_holds(TAG, TAG, at(1000)));
        assert!(!if_range_holds("W/\"5f-10\"", TAG, at(1000)));
        assert!(if_range_holds(&date(1000), TAG, at(1000)));
        assert!(!if_range_holds(&date(999), TAG, at(1000)));
        assert_eq!(etag_for(16, at(95)), "\"5f-10\"");
    }
}
