//! One disk entry as bytes: a pure `encode`/`decode` pair, so the decoder can be fuzzed (the
//! `cache_disk_entry` target) and a torn or damaged file is told from a good one without IO.
//!
//! All integers are little-endian.
//!
//! ```text
//!  offset  size  field
//!  0       8     magic "APNCACHE"
//!  8       2     version (1)
//!  10      2     flags (0; any other value is refused, to leave room for later formats)
//!  12      4     key length K     (at most MAX_KEY_LEN)
//!  16      4     head length H    (at most MAX_HEAD_LEN)
//!  20      8     body length B    (at most MAX_BODY_LEN)
//!  28      4     head checksum: CRC-32 of bytes 0..28, the key and the head
//!  32      K     key (UTF-8): the store's key, compared on read, since file names may collide
//!  32+K    H     head: request time, response time (i64 unix nanoseconds), status (u16),
//!                targeted marker (u8 0/1, then u32 length and text when 1),
//!                field count (u32), then per field u32 length + name, u32 length + value
//!  32+K+H  B     body
//!  end-4   4     checksum: CRC-32 of every byte before it
//! ```
//!
//! Opening a store reads only the first `32 + K + H` bytes of each file ([`decode_prefix`]):
//! the lengths must add up to the file's size (so a file cut short by a crash is caught) and
//! the head checksum must match. The whole-file checksum, over a body of up to 64 MiB, is
//! checked when the entry is read ([`decode`]).
//!
//! Decoding is strict — reserved flags zero, no bytes left over in the head — so every
//! accepted entry re-encodes to exactly its own bytes (the fuzz target checks this).

use std::ops::Range;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use appnet_cache::Headers;
use appnet_cache::freshness::Stored;
use bytes::Bytes;

use crate::store::Object;

/// The first bytes of every entry.
pub const MAGIC: [u8; 8] = *b"APNCACHE";
/// The format version this code writes and reads.
pub const VERSION: u16 = 1;
/// Bytes of the fixed part before the key.
pub const FIXED_LEN: usize = 32;
/// Bytes of the trailing checksum.
pub const TRAILER_LEN: usize = 4;
/// Longest key stored (URLs plus Vary values; longer ones are not kept on disk).
pub const MAX_KEY_LEN: usize = 64 * 1024;
/// Longest encoded head stored.
pub const MAX_HEAD_LEN: usize = 1024 * 1024;
/// Longest body stored.
pub const MAX_BODY_LEN: u64 = 64 * 1024 * 1024;
/// Longest entry file there can be.
pub const MAX_ENTRY_LEN: u64 =
    (FIXED_LEN + MAX_KEY_LEN + MAX_HEAD_LEN + TRAILER_LEN) as u64 + MAX_BODY_LEN;

/// Why bytes are not a valid entry (or an object cannot be encoded as one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// The whole-entry checksum does not match: the file was damaged after it was written.
    #[error("checksum mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    Checksum {
        /// The checksum in the trailer.
        stored: u32,
        /// The checksum of the bytes.
        computed: u32,
    },
    /// Reserved flag bits are set (a format this code does not know).
    #[error("unknown flags {flags:#06x}")]
    Flags {
        /// The flags field.
        flags: u16,
    },
    /// The head checksum does not match.
    #[error("head checksum mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    HeadChecksum {
        /// The checksum in the fixed part.
        stored: u32,
        /// The checksum of the fixed part, key and head.
        computed: u32,
    },
    /// The entry's size is not what its lengths add up to (typically: cut short by a crash).
    #[error("entry is {actual} bytes, its lengths say {expected}")]
    Length {
        /// What the lengths add up to.
        expected: u64,
        /// The entry's size.
        actual: u64,
    },
    /// The entry does not start with [`MAGIC`].
    #[error("not a cache entry (bad magic)")]
    Magic,
    /// The targeted-field marker is neither 0 nor 1.
    #[error("targeted-field marker is {marker}, not 0 or 1")]
    Marker {
        /// The marker byte.
        marker: u8,
    },
    /// A string is not UTF-8.
    #[error("{field} is not utf-8")]
    NotUtf8 {
        /// Which string.
        field: &'static str,
    },
    /// A field of the head runs past the head's end.
    #[error("{field} runs past the end of the head")]
    PastHead {
        /// Which field.
        field: &'static str,
    },
    /// A time does not fit the platform's `SystemTime`.
    #[error("time of {nanos} ns from the unix epoch is out of range")]
    Time {
        /// The stored time.
        nanos: i64,
    },
    /// A part is longer than its limit.
    #[error("{field} is {length} bytes, over the limit of {limit}")]
    TooLong {
        /// Which part: key, head or body.
        field: &'static str,
        /// Its length.
        length: u64,
        /// Its limit.
        limit: u64,
    },
    /// Bytes are left in the head after its last field.
    #[error("head has {extra} bytes after its last field")]
    TrailingHead {
        /// How many.
        extra: usize,
    },
    /// Fewer bytes than the fixed part.
    #[error("entry of {length} bytes is shorter than the fixed part")]
    Truncated {
        /// How many bytes there were.
        length: usize,
    },
    /// A version this code does not read.
    #[error("unsupported format version {version}")]
    Version {
        /// The version field.
        version: u16,
    },
}

/// `object` under `key` as entry bytes; [`FormatError::TooLong`] if a part is over its limit.
pub fn encode(key: &str, object: &Object) -> Result<Vec<u8>, FormatError> {
    let frame = frame(key, object)?;
    let mut out = Vec::with_capacity(frame.len() as usize);
    out.extend_from_slice(&frame.prefix);
    out.extend_from_slice(&object.body);
    out.extend_from_slice(&frame.trailer);
    Ok(out)
}

/// The key and object of entry bytes, every length and both checksums verified; never
/// panics, whatever the bytes.
pub fn decode(data: &[u8]) -> Result<(String, Object), FormatError> {
    let (key, stored, body) = parse(data)?;
    Ok((key, Object { stored, body: Bytes::copy_from_slice(&data[body]) }))
}

/// The key and head of an entry of `file_len` bytes from its first bytes (at least
/// [`Layout::prefix_len`] of them): the lengths must add up to `file_len` and the head
/// checksum must match. What opening a store checks of each file, without reading bodies.
pub fn decode_prefix(prefix: &[u8], file_len: u64) -> Result<(String, Stored), FormatError> {
    let layout = Layout::read(prefix)?;
    let total = layout.total_len();
    if total != file_len {
        return Err(FormatError::Length { expected: total, actual: file_len });
    }
    let end = layout.prefix_len();
    let Some(prefix) = prefix.get(..end) else {
        return Err(FormatError::Length { expected: end as u64, actual: prefix.len() as u64 });
    };
    check_head(&layout, prefix)?;
    let (key, head) = prefix[FIXED_LEN..].split_at(layout.key_len);
    Ok((text(key, "key")?, decode_head(head)?))
}

/// The lengths and head checksum of the fixed part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    key_len: usize,
    head_len: usize,
    body_len: u64,
    head_crc: u32,
}

impl Layout {
    /// The fixed part at the start of `data` (which may go on past it), its lengths within
    /// their limits.
    pub fn read(data: &[u8]) -> Result<Self, FormatError> {
        let Some(fixed) = data.get(..FIXED_LEN) else {
            return Err(FormatError::Truncated { length: data.len() });
        };
        let mut fields = Reader { data: fixed, at: 0 };
        if fields.take(MAGIC.len(), "magic")? != MAGIC {
            return Err(FormatError::Magic);
        }
        let version = fields.u16("version")?;
        if version != VERSION {
            return Err(FormatError::Version { version });
        }
        let flags = fields.u16("flags")?;
        if flags != 0 {
            return Err(FormatError::Flags { flags });
        }
        let key_len = within("key", fields.u32("key length")?.into(), MAX_KEY_LEN as u64)?;
        let head_len = within("head", fields.u32("head length")?.into(), MAX_HEAD_LEN as u64)?;
        let body_len = within("body", fields.u64("body length")?, MAX_BODY_LEN)?;
        let head_crc = fields.u32("head checksum")?;
        // The limits above keep these far below usize::MAX on any 32- or 64-bit target.
        Ok(Self { key_len: key_len as usize, head_len: head_len as usize, body_len, head_crc })
    }

    /// Bytes from the start to the end of the head: what [`decode_prefix`] needs.
    pub fn prefix_len(&self) -> usize {
        FIXED_LEN + self.key_len + self.head_len
    }

    /// Bytes of the whole entry.
    pub fn total_len(&self) -> u64 {
        (self.prefix_len() + TRAILER_LEN) as u64 + self.body_len
    }
}

/// An encoded entry without its body, so a writer can send the body from the object itself
/// instead of copying up to 64 MiB into one buffer.
#[derive(Debug, Clone)]
pub(crate) struct Frame {
    /// Fixed part, key and head.
    pub(crate) prefix: Vec<u8>,
    /// Body length, to check the writer sends the body it was framed with.
    pub(crate) body_len: u64,
    /// The checksum to write after the body.
    pub(crate) trailer: [u8; TRAILER_LEN],
}

impl Frame {
    /// Bytes of the whole entry.
    pub(crate) fn len(&self) -> u64 {
        (self.prefix.len() + TRAILER_LEN) as u64 + self.body_len
    }
}

/// The parts of `object`'s entry around its body.
pub(crate) fn frame(key: &str, object: &Object) -> Result<Frame, FormatError> {
    let head = encode_head(&object.stored);
    within("key", key.len() as u64, MAX_KEY_LEN as u64)?;
    within("head", head.len() as u64, MAX_HEAD_LEN as u64)?;
    let body_len = within("body", object.body.len() as u64, MAX_BODY_LEN)?;
    let mut prefix = Vec::with_capacity(FIXED_LEN + key.len() + head.len());
    prefix.extend_from_slice(&MAGIC);
    prefix.extend_from_slice(&VERSION.to_le_bytes());
    prefix.extend_from_slice(&0u16.to_le_bytes());
    // Both lengths were checked against limits far below u32::MAX just above.
    prefix.extend_from_slice(&(key.len() as u32).to_le_bytes());
    prefix.extend_from_slice(&(head.len() as u32).to_le_bytes());
    prefix.extend_from_slice(&body_len.to_le_bytes());
    let mut head_crc = crc32fast::Hasher::new();
    head_crc.update(&prefix);
    head_crc.update(key.as_bytes());
    head_crc.update(&head);
    prefix.extend_from_slice(&head_crc.finalize().to_le_bytes());
    prefix.extend_from_slice(key.as_bytes());
    prefix.extend_from_slice(&head);
    let mut crc = crc32fast::Hasher::new();
    crc.update(&prefix);
    crc.update(&object.body);
    Ok(Frame { prefix, body_len, trailer: crc.finalize().to_le_bytes() })
}

/// [`decode`] without copying the body: it is a slice of `data`.
pub(crate) fn decode_bytes(data: Bytes) -> Result<(String, Object), FormatError> {
    let (key, stored, body) = parse(&data)?;
    Ok((key, Object { stored, body: data.slice(body) }))
}

/// Key, head and where the body is in a whole entry.
fn parse(data: &[u8]) -> Result<(String, Stored, Range<usize>), FormatError> {
    let layout = Layout::read(data)?;
    let total = layout.total_len();
    if total != data.len() as u64 {
        return Err(FormatError::Length { expected: total, actual: data.len() as u64 });
    }
    // The length check makes every slice below in bounds.
    let (covered, trailer) = data.split_at(data.len() - TRAILER_LEN);
    let stored = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
    let computed = crc32fast::hash(covered);
    if stored != computed {
        return Err(FormatError::Checksum { stored, computed });
    }
    let prefix = &covered[..layout.prefix_len()];
    check_head(&layout, prefix)?;
    let (key, head) = prefix[FIXED_LEN..].split_at(layout.key_len);
    Ok((text(key, "key")?, decode_head(head)?, layout.prefix_len()..covered.len()))
}

/// Checks the head checksum over `prefix` (exactly [`Layout::prefix_len`] bytes).
fn check_head(layout: &Layout, prefix: &[u8]) -> Result<(), FormatError> {
    let mut crc = crc32fast::Hasher::new();
    crc.update(&prefix[..FIXED_LEN - 4]);
    crc.update(&prefix[FIXED_LEN..]);
    let computed = crc.finalize();
    if computed != layout.head_crc {
        return Err(FormatError::HeadChecksum { stored: layout.head_crc, computed });
    }
    Ok(())
}

fn encode_head(stored: &Stored) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(&nanos(stored.request_time).to_le_bytes());
    out.extend_from_slice(&nanos(stored.response_time).to_le_bytes());
    out.extend_from_slice(&stored.status.to_le_bytes());
    match &stored.targeted {
        None => out.push(0),
        Some(targeted) => {
            out.push(1);
            put_text(&mut out, targeted);
        }
    }
    put_length(&mut out, stored.headers.0.len());
    for (name, value) in &stored.headers.0 {
        put_text(&mut out, name);
        put_text(&mut out, value);
    }
    out
}

fn decode_head(head: &[u8]) -> Result<Stored, FormatError> {
    let mut fields = Reader { data: head, at: 0 };
    let request_time = time(fields.i64("request time")?)?;
    let response_time = time(fields.i64("response time")?)?;
    let status = fields.u16("status")?;
    let targeted = match fields.take(1, "targeted marker")?[0] {
        0 => None,
        1 => Some(fields.text("targeted field")?),
        marker => return Err(FormatError::Marker { marker }),
    };
    let count = fields.u32("field count")?;
    // No capacity from `count`: it is untrusted, and each field takes at least 8 bytes anyway.
    let mut headers = Vec::new();
    for _ in 0..count {
        let name = fields.text("field name")?;
        let value = fields.text("field value")?;
        headers.push((name, value));
    }
    if fields.at != head.len() {
        return Err(FormatError::TrailingHead { extra: head.len() - fields.at });
    }
    Ok(Stored { request_time, response_time, status, headers: Headers(headers), targeted })
}

/// Writes a u32 length then `text`. Longer texts than u32::MAX are written with a wrong
/// length, but the head is then far over MAX_HEAD_LEN and refused as a whole.
fn put_text(out: &mut Vec<u8>, text: &str) {
    put_length(out, text.len());
    out.extend_from_slice(text.as_bytes());
}

fn put_length(out: &mut Vec<u8>, length: usize) {
    out.extend_from_slice(&u32::try_from(length).unwrap_or(u32::MAX).to_le_bytes());
}

/// `length` if it is at most `limit`.
fn within(field: &'static str, length: u64, limit: u64) -> Result<u64, FormatError> {
    if length > limit {
        return Err(FormatError::TooLong { field, length, limit });
    }
    Ok(length)
}

fn text(bytes: &[u8], field: &'static str) -> Result<String, FormatError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| FormatError::NotUtf8 { field })
}

/// Nanoseconds from the unix epoch, saturating outside about 1678–2262 (no HTTP response is
/// fetched then).
fn nanos(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_nanos()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_nanos()).map_or(i64::MIN, |n| -n),
    }
}

fn time(nanos: i64) -> Result<SystemTime, FormatError> {
    let offset = Duration::from_nanos(nanos.unsigned_abs());
    let time =
        if nanos >= 0 { UNIX_EPOCH.checked_add(offset) } else { UNIX_EPOCH.checked_sub(offset) };
    time.ok_or(FormatError::Time { nanos })
}

/// A cursor over untrusted bytes: every read is bounds-checked.
struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], FormatError> {
        let end = self.at.checked_add(n).ok_or(FormatError::PastHead { field })?;
        let bytes = self.data.get(self.at..end).ok_or(FormatError::PastHead { field })?;
        self.at = end;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], FormatError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N, field)?);
        Ok(out)
    }

    fn u16(&mut self, field: &'static str) -> Result<u16, FormatError> {
        Ok(u16::from_le_bytes(self.array(field)?))
    }

    fn u32(&mut self, field: &'static str) -> Result<u32, FormatError> {
        Ok(u32::from_le_bytes(self.array(field)?))
    }

    fn u64(&mut self, field: &'static str) -> Result<u64, FormatError> {
        Ok(u64::from_le_bytes(self.array(field)?))
    }

    fn i64(&mut self, field: &'static str) -> Result<i64, FormatError> {
        Ok(i64::from_le_bytes(self.array(field)?))
    }

    fn text(&mut self, field: &'static str) -> Result<String, FormatError> {
        let length = self.u32(field)? as usize;
        text(self.take(length, field)?, field)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object() -> Object {
        let at = UNIX_EPOCH + Duration::new(1_796_112_000, 123_456_789);
        Object {
            stored: Stored {
                request_time: at,
                response_time: at + Duration::from_millis(40),
                status: 200,
                headers: Headers(vec![
                    ("content-type".into(), "text/html".into()),
                    ("cache-control".into(), "max-age=60".into()),
                ]),
                targeted: Some("max-age=600".into()),
            },
            body: Bytes::from_static(b"<p>hello</p>"),
        }
    }

    #[test]
    fn round_trips_and_re_encodes_to_the_same_bytes() {
        let bytes = encode("http://a.test/\naccept-encoding:gzip", &object()).unwrap();
        let (key, decoded) = decode(&bytes).unwrap();
        assert_eq!(key, "http://a.test/\naccept-encoding:gzip");
        assert_eq!(decoded.stored, object().stored);
        assert_eq!(decoded.body, object().body);
        assert_eq!(encode(&key, &decoded).unwrap(), bytes);
        let (zero_copy_key, zero_copy) = decode_bytes(Bytes::from(bytes.clone())).unwrap();
        assert_eq!((zero_copy_key, zero_copy.body), (key, object().body));
    }

    /// Version 1 as the table in the module docs describes it, written by a separate
    /// implementation of that table: caches on disk stay readable unless VERSION changes.
    #[test]
    fn reads_and_writes_the_version_1_vector() {
        let vector = include_bytes!("testdata/entry-v1.bin");
        let (key, object) = decode(vector).unwrap();
        assert_eq!(key, "http://a.test/style.css\naccept-encoding:br,gzip");
        let at = UNIX_EPOCH + Duration::from_secs(1_796_112_000);
        let expected = Stored {
            request_time: at,
            response_time: at + Duration::from_millis(25),
            status: 200,
            headers: Headers(vec![
                ("content-type".into(), "text/css".into()),
                ("cache-control".into(), "max-age=60".into()),
                ("vary".into(), "accept-encoding".into()),
            ]),
            targeted: Some("max-age=600".into()),
        };
        assert_eq!((&object.stored, &object.body[..]), (&expected, &b"body { color: #333 }\n"[..]));
        assert_eq!(encode(&key, &object).unwrap(), vector);
    }

    #[test]
    fn the_prefix_alone_gives_key_and_head() {
        let bytes = encode("k", &object()).unwrap();
        let layout = Layout::read(&bytes).unwrap();
        let (key, stored) =
            decode_prefix(&bytes[..layout.prefix_len()], bytes.len() as u64).unwrap();
        assert_eq!((key.as_str(), stored), ("k", object().stored));
        let err = decode_prefix(&bytes, bytes.len() as u64 - 1).unwrap_err();
        assert!(matches!(err, FormatError::Length { .. }), "{err}");
    }

    #[test]
    fn times_before_the_epoch_and_no_targeted_field_round_trip() {
        let mut object = object();
        object.stored.request_time = UNIX_EPOCH - Duration::from_secs(86_400);
        object.stored.targeted = None;
        let (_, decoded) = decode(&encode("k", &object).unwrap()).unwrap();
        assert_eq!(decoded.stored, object.stored);
    }

    #[test]
    fn every_cut_and_every_flipped_bit_is_an_error() {
        let bytes = encode("k", &object()).unwrap();
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        for at in 0..bytes.len() {
            for bit in 0..8 {
                let mut damaged = bytes.clone();
                damaged[at] ^= 1 << bit;
                assert!(decode(&damaged).is_err(), "bit {bit} of byte {at}");
            }
        }
    }

    #[test]
    fn clear_errors_for_foreign_bytes() {
        let error = |bytes: &[u8]| decode(bytes).map(|_| ()).unwrap_err();
        assert_eq!(error(b"short"), FormatError::Truncated { length: 5 });
        assert_eq!(error(&[0; 40]), FormatError::Magic);
        let mut bytes = encode("k", &object()).unwrap();
        bytes[8] = 9;
        assert_eq!(error(&bytes), FormatError::Version { version: 9 });
        bytes[8] = 1;
        bytes[20..28].copy_from_slice(&u64::MAX.to_le_bytes());
        let err = decode(&bytes).unwrap_err();
        assert!(matches!(err, FormatError::TooLong { field: "body", .. }), "{err}");
    }

    #[test]
    fn over_limit_parts_are_refused() {
        let mut object = object();
        object.body = Bytes::from(vec![0; MAX_BODY_LEN as usize + 1]);
        let err = encode("k", &object).unwrap_err();
        assert!(matches!(err, FormatError::TooLong { field: "body", .. }), "{err}");
        let err = encode(&"k".repeat(MAX_KEY_LEN + 1), &self::object()).unwrap_err();
        assert!(matches!(err, FormatError::TooLong { field: "key", .. }), "{err}");
    }
}
