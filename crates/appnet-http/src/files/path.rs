//! Request paths to files under the root, never outside it: percent-decoding done once, `.`
//! and `..` segments refused rather than resolved, NUL and backslashes refused, and the final
//! file's real location checked to be under the root's (so a symlink cannot lead out).

use std::path::{Path, PathBuf};

/// Why a request path maps to no file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    /// Not an origin-form path (`/…`), or a bad percent-escape.
    #[error("malformed path")]
    Malformed,
    /// A segment that climbs (`..`), a NUL byte, a backslash, or a way out of the root.
    #[error("path leaves the root")]
    Forbidden,
}

/// The file path under `root` that the request path `target` (e.g. `/img/a%20b.png?x=1`)
/// names, before any filesystem access. Query and fragment are dropped.
pub fn under_root(root: &Path, target: &str) -> Result<PathBuf, PathError> {
    let path = target.split(['?', '#']).next().unwrap_or_default();
    if !path.starts_with('/') {
        return Err(PathError::Malformed);
    }
    let decoded = percent_decode(path)?;
    let mut out = root.to_path_buf();
    for segment in decoded.split('/') {
        match segment {
            "" | "." => {}
            ".." => return Err(PathError::Forbidden),
            _ if segment.contains(['\0', '\\']) => return Err(PathError::Forbidden),
            _ => out.push(segment),
        }
    }
    Ok(out)
}

/// Whether `file` (existing) really lies under `root` (existing), symlinks resolved.
pub fn stays_inside(root: &Path, file: &Path) -> bool {
    match (root.canonicalize(), file.canonicalize()) {
        (Ok(root), Ok(file)) => file.starts_with(root),
        _ => false,
    }
}

/// `path` with its `%XX` escapes decoded; malformed escapes or bytes that are not UTF-8 are an error.
pub(crate) fn percent_decode(path: &str) -> Result<String, PathError> {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or(PathError::Malformed)?;
            let text = std::str::from_utf8(hex).map_err(|_| PathError::Malformed)?;
            out.push(u8::from_str_radix(text, 16).map_err(|_| PathError::Malformed)?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| PathError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_paths_under_the_root() {
        let root = Path::new("/srv/www");
        assert_eq!(under_root(root, "/a/b.html?x=1#top"), Ok(PathBuf::from("/srv/www/a/b.html")));
        assert_eq!(under_root(root, "/a%20b.png"), Ok(PathBuf::from("/srv/www/a b.png")));
        assert_eq!(under_root(root, "/./a//b"), Ok(PathBuf::from("/srv/www/a/b")));
        assert_eq!(under_root(root, "/"), Ok(PathBuf::from("/srv/www")));
    }

    #[test]
    fn refuses_every_way_out() {
        let root = Path::new("/srv/www");
        for target in [
            "/../etc/passwd",
            "/a/../../x",
            "/%2e%2e/etc/passwd",
            "/%2E%2E%2Fetc",
            "/a%00.html",
            "/a%5c..%5cb",
        ] {
            assert_eq!(under_root(root, target), Err(PathError::Forbidden), "{target}");
        }
        assert_eq!(under_root(root, "relative"), Err(PathError::Malformed));
        assert_eq!(under_root(root, "/bad%zz"), Err(PathError::Malformed));
        assert_eq!(under_root(root, "/trunc%2"), Err(PathError::Malformed));
    }

    #[test]
    fn symlinks_out_of_the_root_are_caught() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir(&root).unwrap();
        std::fs::write(root.join("in.txt"), "in").unwrap();
        std::fs::write(dir.path().join("secret"), "out").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret"), root.join("link")).unwrap();
        assert!(stays_inside(&root, &root.join("in.txt")));
        assert!(!stays_inside(&root, &root.join("link")));
    }
}
