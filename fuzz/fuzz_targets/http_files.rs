//! The origin server's readings of request input: the path (never a file outside the root,
//! never a panic), the Range header (parts always inside the file), precondition headers and
//! Accept-Encoding.
#![no_main]

use std::path::Path;
use std::time::{Duration, SystemTime};

use appnet_http::files::conditional::{Conditions, evaluate, if_range_holds};
use appnet_http::files::encoding::acceptable;
use appnet_http::files::path::under_root;
use appnet_http::files::range::{Ranges, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // A CGI script's output: headers and body, or an error.
    if let Ok(output) = appnet_http::cgi::parse_output(data) {
        assert!((100..600).contains(&output.status));
        if let Some(reason) = &output.reason {
            assert!(!reason.is_empty() && reason.trim() == reason, "{reason:?}");
        }
    }
    let Ok(text) = std::str::from_utf8(data) else { return };
    let root = Path::new("/srv/www");
    if let Ok(file) = under_root(root, text) {
        assert!(file.starts_with(root), "{file:?}");
        assert!(!file.components().any(|c| c == std::path::Component::ParentDir), "{file:?}");
    }
    for length in [0u64, 1, 100, 1 << 40] {
        if let Ranges::Parts(parts) = parse(Some(text), length) {
            assert!(parts.iter().all(|&(first, last)| first <= last && last < length), "{parts:?}");
        }
    }
    let modified = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let conditions = Conditions {
        if_match: Some(text),
        if_none_match: Some(text),
        if_modified_since: Some(text),
        if_unmodified_since: Some(text),
    };
    let _ = evaluate(&conditions, "\"1-2\"", modified, true);
    let _ = if_range_holds(text, "\"1-2\"", modified);
    let codings = acceptable(Some(text));
    assert!(codings.len() <= 3, "{codings:?}");
});
