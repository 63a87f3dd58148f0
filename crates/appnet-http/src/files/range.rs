//! `Range: bytes=…` (RFC 9110 §14.1.2): which parts of a file of known length to send.

/// What a Range header asks of a file of `length` bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ranges {
    /// No (usable) Range header: the whole file.
    Whole,
    /// These byte ranges, inclusive, each within the file, in request order.
    Parts(Vec<(u64, u64)>),
    /// None of the ranges overlaps the file: 416.
    Unsatisfiable,
}

/// Most ranges honoured in one request; more are a sign of abuse and get the whole file.
const MAX_RANGES: usize = 16;

/// Reads `header` for a file of `length` bytes. A header that is not a valid `bytes` range set
/// is ignored (the whole file), as RFC 9110 §14.2 allows.
pub fn parse(header: Option<&str>, length: u64) -> Ranges {
    let Some(set) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return Ranges::Whole;
    };
    let mut parts = Vec::new();
    for spec in set.split(',').map(str::trim) {
        let Some((first, last)) = spec.split_once('-') else { return Ranges::Whole };
        let part = match (first.trim(), last.trim()) {
            ("", "") => return Ranges::Whole,
            ("", suffix) => {
                let Ok(n) = suffix.parse::<u64>() else { return Ranges::Whole };
                if n == 0 || length == 0 {
                    continue;
                }
                Some((length.saturating_sub(n), length - 1))
            }
            (first, last) => {
                let Ok(first) = first.parse::<u64>() else { return Ranges::Whole };
                let last = if last.is_empty() {
                    u64::MAX
                } else {
                    match last.parse::<u64>() {
                        Ok(last) if last >= first => last,
                        _ => return Ranges::Whole,
                    }
                };
                (first < length).then(|| (first, last.min(length - 1)))
            }
        };
        if let Some(part) = part {
            parts.push(part);
        }
        if parts.len() > MAX_RANGES {
            return Ranges::Whole;
        }
    }
    if parts.is_empty() { Ranges::Unsatisfiable } else { Ranges::Parts(parts) }
}

/// The boundary of our `multipart/byteranges` bodies (never in a part's head; a body that
/// contains it is still framed correctly by each part's Content-Range).
const BOUNDARY: &str = "appnet-byteranges-3f2a9c";

/// The Content-Type of a [`multipart_body`].
pub const MULTIPART_TYPE: &str = "multipart/byteranges; boundary=appnet-byteranges-3f2a9c";

/// A `multipart/byteranges` body (RFC 9110 §14.6): each of `pieces`, the bytes of the range
/// beside it in `parts`, of a representation of `length` bytes and type `content_type`.
pub fn multipart_body(
    pieces: &[&[u8]],
    parts: &[(u64, u64)],
    length: u64,
    content_type: &str,
) -> Vec<u8> {
    let mut body = Vec::new();
    for (piece, &(first, last)) in pieces.iter().zip(parts) {
        let head = format!(
            "\r\n--{BOUNDARY}\r\nContent-Type: {content_type}\r\nContent-Range: bytes {first}-{last}/{length}\r\n\r\n"
        );
        body.extend_from_slice(head.as_bytes());
        body.extend_from_slice(piece);
    }
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_of_every_form() {
        assert_eq!(parse(Some("bytes=0-99"), 1000), Ranges::Parts(vec![(0, 99)]));
        assert_eq!(parse(Some("bytes=900-"), 1000), Ranges::Parts(vec![(900, 999)]));
        assert_eq!(parse(Some("bytes=-100"), 1000), Ranges::Parts(vec![(900, 999)]));
        assert_eq!(parse(Some("bytes=-5000"), 1000), Ranges::Parts(vec![(0, 999)]));
        assert_eq!(parse(Some("bytes=990-2000"), 1000), Ranges::Parts(vec![(990, 999)]));
        assert_eq!(parse(Some("bytes=0-0, 10-19"), 1000), Ranges::Parts(vec![(0, 0), (10, 19)]));
    }

    #[test]
    fn unsatisfiable_and_ignored() {
        assert_eq!(parse(Some("bytes=1000-"), 1000), Ranges::Unsatisfiable);
        assert_eq!(parse(Some("bytes=-0"), 1000), Ranges::Unsatisfiable);
        assert_eq!(parse(None, 1000), Ranges::Whole);
        assert_eq!(parse(Some("items=0-1"), 1000), Ranges::Whole);
        assert_eq!(parse(Some("bytes=5-1"), 1000), Ranges::Whole);
        assert_eq!(parse(Some("bytes=a-b"), 1000), Ranges::Whole);
        let many =
            format!("bytes={}", (0..20).map(|i| format!("{i}-{i}")).collect::<Vec<_>>().join(","));
        assert_eq!(parse(Some(&many), 1000), Ranges::Whole, "too many ranges");
    }
}
