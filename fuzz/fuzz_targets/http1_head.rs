//! The origin server's HTTP/1 fast path reading a request head (`appnet_http::h1::read_head`):
//! any bytes give a partial head, a head it takes, or a hand-over to hyper — never a panic; a
//! head it takes is inside the input, reads the same on its own, and is still taken with any
//! bytes after it (pipelining).
#![no_main]

use appnet_http::h1::{Reading, read_head};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Reading::Taken(used) = read_head(data) {
        assert!(used > 0 && used <= data.len());
        assert_eq!(read_head(&data[..used]), Reading::Taken(used));
        let mut longer = data[..used].to_vec();
        longer.extend_from_slice(b"GET / HTTP/1.1\r\n");
        assert_eq!(read_head(&longer), Reading::Taken(used));
    }
});
