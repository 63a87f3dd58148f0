//! The page loader's readings of what servers send: HTML and CSS discovery (every URL found is
//! http(s) and fragment-free, no panic), pipelined HTTP/1.1 responses split at any byte
//! boundary (the same responses as in one piece), and Content-Encoding decoding (bounded).
#![no_main]

use appnet_http::loader::{decode, discover, framing::Framer};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let base = url::Url::parse("http://lab.test/dir/page.html").expect("literal");
    for found in discover::html(&base, data)
        .into_iter()
        .chain(discover::css(&base, &String::from_utf8_lossy(data)))
    {
        assert!(matches!(found.url.scheme(), "http" | "https"), "{}", found.url);
        assert!(found.url.fragment().is_none(), "{}", found.url);
    }
    let whole = Framer::new().feed(data);
    if let Ok(whole) = whole {
        let split = data.len() / 2;
        let mut framer = Framer::new();
        let mut pieces = framer.feed(&data[..split]).expect("a prefix of a valid stream");
        pieces.extend(framer.feed(&data[split..]).expect("the rest of a valid stream"));
        assert_eq!(pieces, whole);
    }
    for coding in ["gzip", "br", "zstd", "deflate"] {
        if let Ok(out) = decode::decode(data, Some(coding), 1 << 20) {
            assert!(out.len() <= 1 << 20);
        }
    }
});
