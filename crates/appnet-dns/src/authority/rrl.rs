//! Response rate limiting, as NSD and Knot do it: a client network that asks for the same
//! answer (or the same kind of error) faster than a set rate gets most of the excess dropped,
//! and every `slip`-th of those answered with an empty truncated response instead, so a real
//! client behind a spoofed flood still gets through by retrying over TCP.
//!
//! State is a fixed-size table of token buckets keyed by a hash of (client network, response
//! kind); collisions overwrite, so memory is bounded whatever the flood's variety. Off unless
//! configured.

use std::hash::{BuildHasher, Hasher};
use std::net::IpAddr;
use std::time::Instant;

/// Buckets in the table: a power of two.
const TABLE_SIZE: usize = 1 << 16;

/// What to do with a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Within the rate: send it.
    Send,
    /// Over the rate: send nothing.
    Drop,
    /// Over the rate, but send a truncated empty response (TC) so real clients retry by TCP.
    Slip,
}

#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    key: u64,
    /// Thousandths of a response allowed now.
    tokens: i64,
    /// Milliseconds since the limiter's start, at the last update.
    updated: u64,
    /// Responses limited since the bucket started limiting, to pace the slips.
    limited: u32,
}

/// The limiter. One per server, shared by its UDP workers.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    rate: u32,
    slip: u32,
    start: Instant,
    hasher: std::collections::hash_map::RandomState,
    buckets: Vec<Bucket>,
}

impl RateLimiter {
    /// Allows `rate` identical responses per second to one client network (IPv4 /24, IPv6
    /// /56), with a burst of one second's worth; every `slip`-th limited response slips
    /// (0: never). `start` anchors the limiter's clock.
    pub fn new(rate: u32, slip: u32, start: Instant) -> Self {
        Self {
            rate: rate.max(1),
            slip,
            start,
            hasher: std::collections::hash_map::RandomState::new(),
            buckets: vec![Bucket::default(); TABLE_SIZE],
        }
    }

    /// Decides for `response` (a complete DNS message we are about to send) to `client`.
    pub fn check(&mut self, now: Instant, client: IpAddr, response: &[u8]) -> Verdict {
        let key = self.key(client, response);
        let elapsed = now.saturating_duration_since(self.start).as_millis() as u64;
        let capacity = i64::from(self.rate) * 1000;
        let bucket = &mut self.buckets[(key as usize) & (TABLE_SIZE - 1)];
        if bucket.key != key {
            *bucket = Bucket { key, tokens: capacity, updated: elapsed, limited: 0 };
        }
        // Refill: `rate` responses per second = `rate` milli-tokens per millisecond.
        let refill = (elapsed - bucket.updated.min(elapsed)) as i64 * i64::from(self.rate);
        bucket.tokens = (bucket.tokens + refill).min(capacity);
        bucket.updated = elapsed;
        if bucket.tokens >= 1000 {
            bucket.tokens -= 1000;
            bucket.limited = 0;
            return Verdict::Send;
        }
        bucket.limited = bucket.limited.wrapping_add(1);
        if self.slip > 0 && bucket.limited % self.slip == 0 { Verdict::Slip } else { Verdict::Drop }
    }

    /// Hash of the client's network and the response kind: NXDOMAIN and other errors count
    /// per network (random-name floods collapse into one bucket); answers count per question.
    fn key(&self, client: IpAddr, response: &[u8]) -> u64 {
        let mut hasher = self.hasher.build_hasher();
        match client {
            IpAddr::V4(ip) => hasher.write(&ip.octets()[..3]),
            IpAddr::V6(ip) => hasher.write(&ip.octets()[..7]),
        }
        let rcode = response.get(3).map_or(0, |b| b & 0x0F);
        hasher.write_u8(rcode);
        if rcode == 0 {
            let question = question(response);
            for byte in question {
                hasher.write_u8(byte.to_ascii_lowercase());
            }
        }
        hasher.finish()
    }
}

/// The question section (name, type, class) of a message, or nothing if it has none.
fn question(message: &[u8]) -> &[u8] {
    question_end(message).map_or(&[], |end| &message[12..end])
}

/// Where the (single) question of `message` ends.
fn question_end(message: &[u8]) -> Option<usize> {
    if message.get(4..6)? != [0, 1] {
        return None;
    }
    let mut at = 12;
    loop {
        let length = usize::from(*message.get(at)?);
        at += 1 + length;
        if length == 0 {
            break;
        }
        if length > 63 {
            return None;
        }
    }
    (at + 4 <= message.len()).then_some(at + 4)
}

/// Turns `response` into the slip form: header and question only, TC set.
pub fn slip(response: &mut Vec<u8>) {
    let end = question_end(response).unwrap_or_else(|| 12.min(response.len()));
    response.truncate(end);
    if response.len() >= 12 {
        response[2] |= 0x02;
        response[6..12].fill(0);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// A NOERROR response to a question for `name` (one label).
    fn response(name: &str, rcode: u8) -> Vec<u8> {
        let mut message = vec![0x12, 0x34, 0x84, rcode, 0, 1, 0, 1, 0, 0, 0, 0];
        message.push(name.len() as u8);
        message.extend_from_slice(name.as_bytes());
        message.extend_from_slice(&[0, 0, 1, 0, 1]);
        message.extend_from_slice(&[0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1]);
        message
    }

    #[allow(clippy::disallowed_methods)]
    fn origin() -> Instant {
        Instant::now()
    }

    fn count(
        limiter: &mut RateLimiter,
        now: Instant,
        client: &str,
        message: &[u8],
        n: usize,
    ) -> [usize; 3] {
        let client: IpAddr = client.parse().unwrap();
        let mut counts = [0; 3];
        for _ in 0..n {
            counts[limiter.check(now, client, message) as usize] += 1;
        }
        counts
    }

    #[test]
    fn a_flood_is_limited_to_the_rate_and_slips() {
        let t0 = origin();
        let mut limiter = RateLimiter::new(10, 2, t0);
        let [sent, dropped, slipped] =
            count(&mut limiter, t0, "192.0.2.7", &response("www", 0), 1000);
        assert_eq!(sent, 10, "one second's burst");
        assert_eq!((dropped, slipped), (495, 495), "half of the excess slips");
        let later = t0 + Duration::from_millis(500);
        assert_eq!(
            count(&mut limiter, later, "192.0.2.7", &response("www", 0), 100)[0],
            5,
            "refill at the rate"
        );
    }

    #[test]
    fn one_network_flooding_does_not_starve_another() {
        let t0 = origin();
        let mut limiter = RateLimiter::new(5, 2, t0);
        count(&mut limiter, t0, "192.0.2.7", &response("www", 0), 10_000);
        assert_eq!(count(&mut limiter, t0, "198.51.100.9", &response("www", 0), 5)[0], 5);
        assert_eq!(
            count(&mut limiter, t0, "192.0.2.200", &response("www", 0), 1)[0],
            0,
            "same /24 shares"
        );
        assert_eq!(
            count(&mut limiter, t0, "192.0.2.7", &response("mail", 0), 1)[0],
            1,
            "another answer"
        );
    }

    #[test]
    fn nxdomain_floods_share_one_bucket_per_network() {
        let t0 = origin();
        let mut limiter = RateLimiter::new(3, 0, t0);
        let sent: usize = (0..100)
            .map(|i| count(&mut limiter, t0, "192.0.2.7", &response(&format!("r{i}"), 3), 1)[0])
            .sum();
        assert_eq!(sent, 3, "random names do not escape the limit");
    }

    #[test]
    fn slip_keeps_the_question_and_sets_tc() {
        let mut message = response("www", 0);
        slip(&mut message);
        assert_eq!(message.len(), 12 + 5 + 4);
        assert_eq!(message[2] & 0x02, 0x02);
        assert_eq!(&message[4..12], &[0, 1, 0, 0, 0, 0, 0, 0]);
        let mut garbage = vec![1, 2, 3];
        slip(&mut garbage);
        assert_eq!(garbage, [1, 2, 3], "too short to touch");
    }
}
