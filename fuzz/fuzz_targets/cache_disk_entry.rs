//! The disk cache's entry decoder on any bytes — what a torn write, a failing disk or a
//! stranger's file can leave in the cache directory: an entry or an error, never a panic.
//! Whatever decodes passes the open-time prefix check with the same key and head, and
//! re-encodes to exactly the same bytes (decoding is strict, so no two byte strings mean one
//! entry).
#![no_main]

use appnet_proxy::disk::format::{decode, decode_prefix, encode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let prefix = decode_prefix(data, data.len() as u64);
    let Ok((key, object)) = decode(data) else { return };
    let (prefix_key, stored) = prefix.expect("a whole entry passes the prefix check");
    assert_eq!(prefix_key, key);
    assert_eq!(stored, object.stored);
    assert_eq!(encode(&key, &object).expect("a decoded entry is within the limits"), data);
});
