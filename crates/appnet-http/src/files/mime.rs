//! Content types from file name extensions (the common web types; others are
//! application/octet-stream, as nginx's default_type).

/// The media type for a file named `name`.
pub fn for_name(name: &str) -> &'static str {
    let extension = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match extension.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        "xml" => "application/xml",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "ico" => "image/x-icon",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "pdf" => "application/pdf",
        "wasm" => "application/wasm",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        "mp3" => "audio/mpeg",
        "gz" => "application/gzip",
        "zip" => "application/zip",
        "torrent" => "application/x-bittorrent",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_by_extension_in_any_case() {
        assert_eq!(for_name("index.HTML"), "text/html; charset=utf-8");
        assert_eq!(for_name("a.b.png"), "image/png");
        assert_eq!(for_name("README"), "application/octet-stream");
    }
}
