//! The resolver's response processing: after a real referral from the root to lab., any bytes
//! as lab.'s reply (given the right ID and question, so they get past the first check) never
//! panic, and never put anything into the cache outside lab. — the server's bailiwick.
#![no_main]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use appnet_dns::authority::{Authority, Transport};
use appnet_dns::resolver::{Cache, CacheConfig, Resolution, ResolverConfig, RootHints, Servers};
use appnet_dns::zone::name::is_at_or_below;
use libfuzzer_sys::fuzz_target;
use rand::SeedableRng;

const ROOT: &str = "$ORIGIN .\n$TTL 86400\n. SOA a.root.lab. h.root.lab. 1 3600 900 604800 300\n\
    . NS a.root.lab.\na.root.lab. A 127.0.0.2\nlab. NS ns.lab.\nns.lab. A 127.0.0.3\n";
const LAB: &[u8] = b"\x03lab\x00";

fuzz_target!(|data: &[u8]| {
    let root = appnet_dns::zone::parse_str(ROOT, Path::new("root"), None).expect("zone");
    let root = Authority::new([Arc::new(root)]);
    let hints = RootHints::parse(b". NS a.root.lab.\na.root.lab. A 127.0.0.2\n", Path::new("h"))
        .expect("hints");
    let (mut cache, mut servers) = (Cache::new(CacheConfig::default()), Servers::new());
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let now = Instant::now();
    let config = ResolverConfig { case_randomization: false, ..ResolverConfig::default() };
    let qname = b"\x03www\x03lab\x00";
    let mut resolution = Resolution::new(qname, 1, Arc::new(hints), &config, now);
    let first =
        resolution.poll_transmit(&mut cache, &mut servers, &mut rng, now).expect("asks the root");
    let mut referral = Vec::new();
    root.answer(&first.message, Transport::Udp, &mut referral);
    resolution.handle_response(first.to, &referral, &mut cache, &mut servers, now);
    let Some(second) = resolution.poll_transmit(&mut cache, &mut servers, &mut rng, now) else {
        return;
    };
    assert_eq!(second.to, SocketAddr::from(([127, 0, 0, 3], 53)));
    // The fuzzed reply: its own flags, counts and sections, our ID and question.
    let question_end = 12 + qname.len() + 4;
    let mut reply = second.message[..question_end].to_vec();
    if data.len() >= 10 {
        reply[2..12].copy_from_slice(&data[..10]);
        reply[4..6].copy_from_slice(&[0, 1]);
        reply.extend_from_slice(&data[10..]);
    }
    reply[2] |= 0x80;
    resolution.handle_response(second.to, &reply, &mut cache, &mut servers, now);
    let _ = resolution.poll_transmit(&mut cache, &mut servers, &mut rng, now);
    for line in cache.dump(now) {
        assert!(is_at_or_below(&line.name, LAB), "cached outside lab.: {:?}", line.name);
    }
});
