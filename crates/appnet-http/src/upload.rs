//! PUT and DELETE of files under one writable prefix, for a client holding the bearer token —
//! off unless both are configured. A PUT is written whole beside its target, synced and
//! renamed over it, so a reader sees the old file or the new one, never half of either.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Where writes are allowed, and who may make them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uploads {
    /// URL path prefix (e.g. `/uploads/`) under which PUT and DELETE are allowed.
    pub prefix: String,
    /// The `Authorization: Bearer` token required.
    pub token: String,
    /// Largest body accepted (413 beyond).
    pub max_body: u64,
}

/// What a write request may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Go ahead.
    Allowed,
    /// The path is outside the writable prefix: the method is not allowed there (405).
    NotHere,
    /// No credentials (401).
    Unauthenticated,
    /// Wrong credentials (403).
    Forbidden,
}

impl Uploads {
    /// Whether a write to `path` with `authorization` (the header's value) may proceed.
    pub fn permits(&self, path: &str, authorization: Option<&str>) -> Permission {
        if !path.starts_with(&self.prefix) || path.len() == self.prefix.len() {
            return Permission::NotHere;
        }
        match authorization.and_then(|value| value.strip_prefix("Bearer ")) {
            None => Permission::Unauthenticated,
            Some(token) if constant_time_eq(token.trim().as_bytes(), self.token.as_bytes()) => {
                Permission::Allowed
            }
            Some(_) => Permission::Forbidden,
        }
    }
}

/// Compares without stopping at the first difference, so timing does not leak the token.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Writes `body` to `root/relative` atomically; whether the file is new.
pub fn store(root: &Path, relative: &Path, body: &[u8]) -> io::Result<bool> {
    let target = inside(root, relative, true)?;
    let existed = target.exists();
    let aside = target.with_file_name(format!(
        ".{}.appnet-upload",
        target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
    ));
    let mut file = std::fs::File::create(&aside)?;
    file.write_all(body)?;
    file.sync_all()?;
    std::fs::rename(&aside, &target)?;
    if let Some(parent) = target.parent() {
        // The rename is durable once the directory is.
        let _ = std::fs::File::open(parent).and_then(|dir| dir.sync_all());
    }
    Ok(!existed)
}

/// Removes `root/relative`; `NotFound` if there is no such file.
pub fn remove(root: &Path, relative: &Path) -> io::Result<()> {
    let target = inside(root, relative, false)?;
    if !target.is_file() {
        return Err(io::ErrorKind::NotFound.into());
    }
    std::fs::remove_file(target)
}

/// `root/relative` with its directory's real location checked to be under `root` (symlinked
/// directories cannot lead a write out); creates the directories first when `create`.
fn inside(root: &Path, relative: &Path, create: bool) -> io::Result<PathBuf> {
    let target = root.join(relative);
    let parent = target.parent().ok_or(io::ErrorKind::InvalidInput)?;
    if create {
        std::fs::create_dir_all(parent)?;
    }
    let real_parent = parent.canonicalize()?;
    let real_root = root.canonicalize()?;
    if !real_parent.starts_with(&real_root) || target.file_name().is_none() {
        return Err(io::Error::new(io::ErrorKind::PermissionDenied, "path leaves the root"));
    }
    if target.symlink_metadata().is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "will not write through a symlink",
        ));
    }
    Ok(real_parent.join(target.file_name().ok_or(io::ErrorKind::InvalidInput)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uploads() -> Uploads {
        Uploads { prefix: "/up/".into(), token: "s3cret".into(), max_body: 1 << 20 }
    }

    #[test]
    fn only_the_prefix_and_the_token() {
        let u = uploads();
        assert_eq!(u.permits("/up/a.txt", Some("Bearer s3cret")), Permission::Allowed);
        assert_eq!(u.permits("/up/a.txt", None), Permission::Unauthenticated);
        assert_eq!(u.permits("/up/a.txt", Some("Bearer nope")), Permission::Forbidden);
        assert_eq!(u.permits("/up/a.txt", Some("Basic czNjcmV0")), Permission::Unauthenticated);
        assert_eq!(u.permits("/other.txt", Some("Bearer s3cret")), Permission::NotHere);
        assert_eq!(u.permits("/up/", Some("Bearer s3cret")), Permission::NotHere);
    }

    #[test]
    fn writes_are_atomic_and_stay_inside() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir(&root).unwrap();
        assert!(store(&root, Path::new("up/new/a.txt"), b"one").unwrap(), "new");
        assert!(!store(&root, Path::new("up/new/a.txt"), b"two").unwrap(), "replaced");
        assert_eq!(std::fs::read(root.join("up/new/a.txt")).unwrap(), b"two");
        std::os::unix::fs::symlink(dir.path(), root.join("up/out")).unwrap();
        assert_eq!(
            store(&root, Path::new("up/out/x.txt"), b"no").unwrap_err().kind(),
            io::ErrorKind::PermissionDenied
        );
        remove(&root, Path::new("up/new/a.txt")).unwrap();
        assert_eq!(
            remove(&root, Path::new("up/new/a.txt")).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
    }
}
