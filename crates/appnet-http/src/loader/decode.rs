//! Content-Encoding undone (gzip, br, zstd, and deflate), with a cap on what a body may grow to,
//! so a small compressed bomb cannot take the loader's memory.

use std::io::{self, Read};

/// `body` decoded from `encoding` (`None`, `identity`: as it is), at most `limit` bytes.
pub fn decode(body: &[u8], encoding: Option<&str>, limit: u64) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let reader: Box<dyn Read + '_> =
        match encoding.map(str::trim).map(str::to_ascii_lowercase).as_deref() {
            None | Some("" | "identity") => Box::new(body),
            Some("gzip" | "x-gzip") => Box::new(flate2::read::GzDecoder::new(body)),
            Some("deflate") => Box::new(flate2::read::ZlibDecoder::new(body)),
            Some("br") => Box::new(brotli::Decompressor::new(body, 64 * 1024)),
            Some("zstd") => Box::new(zstd::stream::read::Decoder::new(body)?),
            Some(other) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("unknown coding {other}"),
                ));
            }
        };
    reader.take(limit.saturating_add(1)).read_to_end(&mut out)?;
    if out.len() as u64 > limit {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "decoded body over the size limit"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compression::compress;
    use crate::files::encoding::Coding;

    #[test]
    fn every_coding_we_serve_decodes_and_bombs_are_refused() {
        let text = b"appnet page loader ".repeat(500);
        for (coding, name) in
            [(Coding::Gzip, "gzip"), (Coding::Brotli, "br"), (Coding::Zstd, "zstd")]
        {
            let coded = compress(&text, coding).unwrap();
            assert_eq!(decode(&coded, Some(name), 1 << 20).unwrap(), text, "{name}");
            assert!(decode(&coded, Some(name), 100).is_err(), "{name}: over the limit");
        }
        assert_eq!(decode(b"plain", None, 10).unwrap(), b"plain");
        assert!(decode(b"not gzip", Some("gzip"), 100).is_err());
        assert!(decode(b"x", Some("compress"), 100).is_err());
    }
}
