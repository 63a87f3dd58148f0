//! On-the-fly compression of static files that have no precompressed sibling, and the cache
//! that makes it cost one compression per file version rather than one per request.
//!
//! A compressed copy is keyed by the file's identity and version (device, inode, size,
//! modification time) and the coding, so an edited file is never served stale: its key
//! changes and the old copy ages out. The cache holds at most its byte budget; when over, the
//! least recently used copies go. Levels are the ones nginx's gzip and brotli modules default
//! to for dynamic compression (gzip 6, brotli 6), and zstd's default (3): the output is cached,
//! so a little more CPU on the first request buys every later one fewer bytes.

use std::io::{self, Write};

use bytes::Bytes;

use crate::files::encoding::Coding;

/// Files smaller than this are sent as they are: the coding's framing would outweigh the gain.
pub const MIN_SIZE: u64 = 256;

/// Files larger than this are sent as they are, not held in memory to compress.
pub const MAX_SIZE: u64 = 16 << 20;

/// Which version of which file, in which coding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    device: u64,
    inode: u64,
    size: u64,
    modified_nanos: i128,
    coding: Coding,
}

impl Key {
    /// The key of the file with `identity` in `coding`.
    pub fn new(identity: &crate::file_cache::Identity, coding: Coding) -> Self {
        let (device, inode) = identity.file_id();
        Self {
            device,
            inode,
            size: identity.len(),
            modified_nanos: identity.modified_nanos(),
            coding,
        }
    }
}

/// Compressed copies, least recently used out first.
#[derive(Debug)]
pub struct Cache {
    copies: appnet_cache::lru::Lru<Key, Bytes>,
}

impl Cache {
    /// A cache of at most `budget` bytes of compressed copies.
    pub fn new(budget: usize) -> Self {
        Self { copies: appnet_cache::lru::Lru::new(budget) }
    }

    /// The copy for `key`, if held.
    pub fn get(&self, key: &Key) -> Option<Bytes> {
        self.copies.get(key)
    }

    /// Keeps `bytes` as the copy for `key` (least recently used copies go past the budget).
    pub fn insert(&self, key: Key, bytes: Bytes) {
        let weight = bytes.len();
        self.copies.insert(key, bytes, weight);
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.copies.bytes()
    }
}

/// `data` in `coding`.
pub fn compress(data: &[u8], coding: Coding) -> io::Result<Vec<u8>> {
    match coding {
        Coding::Gzip => {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
            encoder.write_all(data)?;
            encoder.finish()
        }
        Coding::Brotli => {
            let mut out = Vec::new();
            let params = brotli::enc::BrotliEncoderParams {
                quality: 6,
                lgwin: 22,
                size_hint: data.len(),
                ..Default::default()
            };
            brotli::BrotliCompress(&mut &data[..], &mut out, &params)?;
            Ok(out)
        }
        Coding::Zstd => zstd::bulk::compress(data, 3),
    }
}

/// Media types worth compressing on the fly: text and the text-like formats, as nginx's
/// `gzip_types` lists are commonly set.
pub fn worth_compressing(content_type: &str) -> bool {
    let base = content_type.split(';').next().unwrap_or_default().trim();
    base.starts_with("text/")
        || base.ends_with("+xml")
        || base.ends_with("+json")
        || matches!(
            base,
            "application/javascript"
                | "application/json"
                | "application/xml"
                | "application/wasm"
                | "application/manifest+json"
                | "font/ttf"
                | "font/otf"
        )
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn sample() -> Vec<u8> {
        "<p>appnet compresses text on the fly</p>\n".repeat(200).into_bytes()
    }

    #[test]
    fn every_coding_round_trips_and_shrinks_text() {
        let data = sample();
        let gzip = compress(&data, Coding::Gzip).unwrap();
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&gzip[..]).read_to_end(&mut back).unwrap();
        assert_eq!(back, data);
        let br = compress(&data, Coding::Brotli).unwrap();
        let mut back = Vec::new();
        brotli::BrotliDecompress(&mut &br[..], &mut back).unwrap();
        assert_eq!(back, data);
        let zst = compress(&data, Coding::Zstd).unwrap();
        assert_eq!(zstd::bulk::decompress(&zst, data.len()).unwrap(), data);
        for encoded in [&gzip, &br, &zst] {
            assert!(encoded.len() * 10 < data.len(), "{} of {}", encoded.len(), data.len());
        }
    }

    #[test]
    fn the_cache_keeps_its_budget_and_evicts_the_least_recently_used() {
        let dir = tempfile::tempdir().unwrap();
        let keys: Vec<Key> = (0..3)
            .map(|i| {
                let path = dir.path().join(format!("f{i}"));
                std::fs::write(&path, [i]).unwrap();
                Key::new(
                    &crate::file_cache::Identity::of(&std::fs::metadata(&path).unwrap()),
                    Coding::Gzip,
                )
            })
            .collect();
        let cache = Cache::new(250);
        cache.insert(keys[0], Bytes::from(vec![0; 100]));
        cache.insert(keys[1], Bytes::from(vec![1; 100]));
        assert!(cache.get(&keys[0]).is_some(), "0 is now the most recently used");
        cache.insert(keys[2], Bytes::from(vec![2; 100]));
        assert!(cache.bytes() <= 250, "{}", cache.bytes());
        assert!(cache.get(&keys[1]).is_none(), "1 was the least recently used");
        assert!(cache.get(&keys[0]).is_some() && cache.get(&keys[2]).is_some());
        cache.insert(keys[1], Bytes::from(vec![1; 1000]));
        assert!(cache.get(&keys[1]).is_none(), "a copy over the whole budget is not kept");
    }

    #[test]
    fn a_changed_file_has_a_new_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("page.html");
        std::fs::write(&path, "one").unwrap();
        let before = Key::new(
            &crate::file_cache::Identity::of(&std::fs::metadata(&path).unwrap()),
            Coding::Brotli,
        );
        std::fs::write(&path, "three").unwrap();
        let after = Key::new(
            &crate::file_cache::Identity::of(&std::fs::metadata(&path).unwrap()),
            Coding::Brotli,
        );
        assert_ne!(before, after);
        assert_ne!(before, Key { coding: Coding::Gzip, ..before });
    }

    #[test]
    fn text_is_worth_compressing_and_binaries_are_not() {
        for yes in ["text/html; charset=utf-8", "application/javascript", "image/svg+xml"] {
            assert!(worth_compressing(yes), "{yes}");
        }
        for no in ["image/png", "application/octet-stream", "font/woff2", "video/mp4"] {
            assert!(!worth_compressing(no), "{no}");
        }
    }
}
