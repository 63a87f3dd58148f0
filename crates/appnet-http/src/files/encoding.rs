//! Content-Encoding negotiation (RFC 9110 §12.5.3) for files with precompressed siblings
//! (`page.html.br`, `page.html.zst`, `page.html.gz` beside `page.html`), and for the copies
//! compressed on the fly (see `crate::compression`).

/// A coding appnet can serve (from a sibling file, or compressed on the fly), best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Coding {
    /// Brotli, `.br`.
    Brotli,
    /// Zstandard, `.zst`.
    Zstd,
    /// gzip, `.gz`.
    Gzip,
}

impl Coding {
    /// Preference when the client accepts several equally: smallest output first.
    pub const ALL: [Self; 3] = [Self::Brotli, Self::Zstd, Self::Gzip];

    /// The token in Accept-Encoding and Content-Encoding.
    pub fn token(self) -> &'static str {
        match self {
            Self::Brotli => "br",
            Self::Zstd => "zstd",
            Self::Gzip => "gzip",
        }
    }

    /// The sibling file's suffix.
    pub fn suffix(self) -> &'static str {
        match self {
            Self::Brotli => ".br",
            Self::Zstd => ".zst",
            Self::Gzip => ".gz",
        }
    }
}

/// The codings `accept_encoding` allows, most preferred first: by q-value, then by
/// [`Coding::ALL`]'s order. A coding with `q=0` is refused; `*` stands for the unnamed ones.
pub fn acceptable(accept_encoding: Option<&str>) -> Vec<Coding> {
    let Some(header) = accept_encoding else { return Vec::new() };
    let mut weighted: Vec<(u16, usize, Coding)> = Vec::new();
    let entries: Vec<(String, u16)> = header
        .split(',')
        .filter_map(|item| {
            let mut parts = item.split(';');
            let token = parts.next()?.trim().to_ascii_lowercase();
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q=").map(str::to_owned))
                .map_or(Some(1000), |q| parse_q(&q))?;
            (!token.is_empty()).then_some((token, q))
        })
        .collect();
    let star = entries.iter().find(|(t, _)| t == "*").map(|(_, q)| *q);
    for (rank, coding) in Coding::ALL.iter().enumerate() {
        let named = entries
            .iter()
            .find(|(t, _)| t == coding.token() || (*coding == Coding::Gzip && t == "x-gzip"));
        let q = named.map(|(_, q)| *q).or(star).unwrap_or(0);
        if q > 0 {
            weighted.push((q, rank, *coding));
        }
    }
    weighted.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    weighted.into_iter().map(|(_, _, coding)| coding).collect()
}

/// A q-value in thousandths; `None` if malformed.
fn parse_q(text: &str) -> Option<u16> {
    let value: f64 = text.trim().parse().ok()?;
    (0.0..=1.0).contains(&value).then(|| (value * 1000.0).round() as u16)
}

/// Media types that are compressed already: never served with another coding.
pub fn already_compressed(content_type: &str) -> bool {
    let base = content_type.split(';').next().unwrap_or_default();
    base.starts_with("image/") && base != "image/svg+xml"
        || base.starts_with("video/")
        || base.starts_with("audio/")
        || matches!(base, "application/gzip" | "application/zip" | "font/woff" | "font/woff2")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiates_by_q_then_by_size() {
        assert_eq!(
            acceptable(Some("gzip, deflate, br, zstd")),
            [Coding::Brotli, Coding::Zstd, Coding::Gzip]
        );
        assert_eq!(acceptable(Some("gzip;q=1.0, br;q=0.5")), [Coding::Gzip, Coding::Brotli]);
        assert_eq!(acceptable(Some("br;q=0, *")), [Coding::Zstd, Coding::Gzip]);
        assert_eq!(acceptable(Some("identity")), []);
        assert_eq!(acceptable(None), []);
        assert_eq!(acceptable(Some("gzip;q=nope")), [], "a malformed q drops the entry");
        assert_eq!(acceptable(Some("x-gzip")), [Coding::Gzip]);
    }

    #[test]
    fn compressed_media_stay_as_they_are() {
        assert!(already_compressed("image/png") && already_compressed("font/woff2"));
        assert!(
            !already_compressed("image/svg+xml") && !already_compressed("text/html; charset=utf-8")
        );
    }
}
