//! The HTTP/2 server reading a request's `Priority` field (`appnet_http::priority`): any bytes
//! give a priority within RFC 9218's range — never a panic — and the same bytes the same one.
#![no_main]

use appnet_http::priority::Priority;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let priority = Priority::from_field(data);
    assert!(priority.urgency <= 7);
    assert_eq!(Priority::from_field(data), priority);
});
