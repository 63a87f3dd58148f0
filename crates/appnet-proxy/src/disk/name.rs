//! Entry file names: the first 128 bits of the key's SHA-256, in hex, under a directory named
//! for its first byte (256 directories, so none holds more than a few thousand files at the
//! sizes a proxy's disk holds).
//!
//! A cryptographic hash because keys are URLs that clients choose: with a fast non-keyed hash
//! one could pick URLs that land on another's file and push it out. Two keys that still share
//! a name are told apart by the key stored in the file.

use std::fmt;
use std::path::{Path, PathBuf};

/// An entry's file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) struct Name(pub(super) [u8; 16]);

impl Name {
    /// The name of `key`'s entry.
    pub(super) fn of_key(key: &str) -> Self {
        let digest = ring::digest::digest(&ring::digest::SHA256, key.as_bytes());
        let mut name = [0; 16];
        name.copy_from_slice(&digest.as_ref()[..16]);
        Self(name)
    }

    /// The name a file is called, if it is an entry's (32 lowercase hex digits).
    pub(super) fn parse(file_name: &str) -> Option<Self> {
        let digits = file_name.as_bytes();
        if digits.len() != 32 {
            return None;
        }
        let mut name = [0; 16];
        for (byte, pair) in name.iter_mut().zip(digits.chunks_exact(2)) {
            *byte = (hex_value(pair[0])? << 4) | hex_value(pair[1])?;
        }
        Some(Self(name))
    }

    /// The directory this entry lives in, under the store's root.
    pub(super) fn subdirectory(&self, root: &Path) -> PathBuf {
        root.join(format!("{:02x}", self.0[0]))
    }

    /// The entry's path under the store's root.
    pub(super) fn path(&self, root: &Path) -> PathBuf {
        self.subdirectory(root).join(self.to_string())
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
    }
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_print_and_parse_back() {
        let name = Name::of_key("http://a.test/");
        let text = name.to_string();
        assert_eq!(text.len(), 32);
        assert_eq!(Name::parse(&text), Some(name));
        assert_eq!(Name::parse(&text.to_uppercase()), None);
        assert_eq!(Name::parse("tmp.0123"), None);
        assert_ne!(Name::of_key("http://b.test/"), name);
        assert!(name.path(Path::new("/c")).starts_with(format!("/c/{}", &text[..2])));
    }
}
