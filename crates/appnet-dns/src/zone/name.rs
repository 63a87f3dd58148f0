//! Owner names as the store keeps them: uncompressed wire format, ASCII-lowercased.
//!
//! DNS matching is case-insensitive (RFC 4343), so the store keys every name by its lowercase
//! wire form and a query name is lowercased once into a stack buffer. In wire form every
//! ancestor of a name is a suffix of its bytes starting at a label boundary, so walking from a
//! name up to its zone apex is slicing, not allocating.

/// The longest wire-format name (RFC 1035 §3.1).
pub const MAX_NAME_LEN: usize = 255;

/// The wire form of the wildcard label `*`.
pub const WILDCARD_LABEL: &[u8] = b"\x01*";

/// Copies the wire name `name` into `out`, lowercased, and returns the used prefix. `name`
/// must be a valid uncompressed wire name (at most 255 bytes).
pub fn lowercase_into<'a>(name: &[u8], out: &'a mut [u8; MAX_NAME_LEN]) -> &'a [u8] {
    let len = name.len().min(MAX_NAME_LEN);
    for (dst, src) in out.iter_mut().zip(&name[..len]) {
        *dst = src.to_ascii_lowercase();
    }
    &out[..len]
}

/// Byte offsets of each label start of a valid wire name, from the name itself (offset 0) up
/// to, but not including, the root label.
pub fn label_offsets(name: &[u8]) -> impl Iterator<Item = usize> + '_ {
    let mut offset = 0;
    std::iter::from_fn(move || {
        let len = usize::from(*name.get(offset)?);
        if len == 0 {
            return None;
        }
        let start = offset;
        offset += 1 + len;
        Some(start)
    })
}

/// How many labels `name` has, not counting the root.
pub fn label_count(name: &[u8]) -> usize {
    label_offsets(name).count()
}

/// The parent of `name` (its suffix after the first label), or `None` for the root.
pub fn parent(name: &[u8]) -> Option<&[u8]> {
    let first = usize::from(*name.first()?);
    if first == 0 { None } else { name.get(1 + first..) }
}

/// Whether `name` equals `ancestor` or lies below it. Both must be lowercase wire names.
pub fn is_at_or_below(name: &[u8], ancestor: &[u8]) -> bool {
    name.len() >= ancestor.len()
        && name.ends_with(ancestor)
        && label_offsets(name).chain([name.len() - 1]).any(|o| o == name.len() - ancestor.len())
}

/// Whether the first label of `name` is `*`.
pub fn is_wildcard(name: &[u8]) -> bool {
    name.starts_with(WILDCARD_LABEL)
}

/// Formats a wire name in presentation form with a trailing dot, for logs and errors.
pub fn display(name: &[u8]) -> String {
    let mut text = String::new();
    for offset in label_offsets(name) {
        let len = usize::from(name[offset]);
        for &byte in &name[offset + 1..offset + 1 + len] {
            match byte {
                b'.' | b'\\' | b'"' | b'(' | b')' | b';' | b'@' | b'$' => {
                    text.push('\\');
                    text.push(char::from(byte));
                }
                0x21..=0x7e => text.push(char::from(byte)),
                _ => text.push_str(&format!("\\{byte:03}")),
            }
        }
        text.push('.');
    }
    if text.is_empty() {
        text.push('.');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const WWW: &[u8] = b"\x03www\x07example\x03lab\x00";

    #[test]
    fn walks_labels_and_parents() {
        assert_eq!(label_offsets(WWW).collect::<Vec<_>>(), [0, 4, 12]);
        assert_eq!(label_count(WWW), 3);
        assert_eq!(parent(WWW), Some(&b"\x07example\x03lab\x00"[..]));
        assert_eq!(parent(b"\x00"), None);
        assert_eq!(label_count(b"\x00"), 0);
    }

    #[test]
    fn below_means_at_a_label_boundary() {
        assert!(is_at_or_below(WWW, b"\x07example\x03lab\x00"));
        assert!(is_at_or_below(WWW, WWW));
        assert!(is_at_or_below(WWW, b"\x00"));
        assert!(!is_at_or_below(b"\x04xlab\x00", b"\x03lab\x00"));
        assert!(!is_at_or_below(b"\x03lab\x00", WWW));
    }

    #[test]
    fn lowercases_ascii_only() {
        let mut buffer = [0; MAX_NAME_LEN];
        assert_eq!(lowercase_into(b"\x03WwW\x02\xC3X\x00", &mut buffer), b"\x03www\x02\xC3x\x00");
    }

    #[test]
    fn displays_with_escapes() {
        assert_eq!(display(WWW), "www.example.lab.");
        assert_eq!(display(b"\x00"), ".");
        assert_eq!(display(b"\x03a.b\x02\x00 \x00"), "a\\.b.\\000\\032.");
        assert!(is_wildcard(b"\x01*\x03lab\x00"));
    }
}
