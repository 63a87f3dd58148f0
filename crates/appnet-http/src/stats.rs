//! What the server did for each client address: connections accepted, requests answered and
//! body bytes sent. The lab reads it to show the origin's load per client group; an operator
//! gets the same from the access log, aggregated.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

/// Counts for one client address.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PeerCounts {
    /// Connections accepted (TCP; a TLS connection counts once).
    pub connections: u64,
    /// Requests answered.
    pub requests: u64,
    /// Response body bytes (as sent: compressed where coded; streamed CGI output is not known
    /// ahead and is not counted).
    pub bytes: u64,
}

/// Counts by client address.
#[derive(Debug, Default)]
pub struct PeerStats {
    peers: Mutex<HashMap<IpAddr, PeerCounts>>,
}

impl PeerStats {
    fn with(&self, peer: IpAddr, change: impl FnOnce(&mut PeerCounts)) {
        let mut peers = self.peers.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        change(peers.entry(peer).or_default());
    }

    /// A connection from `peer` was accepted.
    pub fn connection(&self, peer: IpAddr) {
        self.with(peer, |counts| counts.connections += 1);
    }

    /// A response of `bytes` body bytes went to `peer`.
    pub fn response(&self, peer: IpAddr, bytes: u64) {
        self.with(peer, |counts| {
            counts.requests += 1;
            counts.bytes += bytes;
        });
    }

    /// The counts so far, by address.
    pub fn snapshot(&self) -> HashMap<IpAddr, PeerCounts> {
        self.peers.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up_per_address() {
        let stats = PeerStats::default();
        let (a, b): (IpAddr, IpAddr) = ("127.0.0.1".parse().unwrap(), "::1".parse().unwrap());
        stats.connection(a);
        stats.response(a, 100);
        stats.response(a, 50);
        stats.connection(b);
        let counts = stats.snapshot();
        assert_eq!(counts[&a], PeerCounts { connections: 1, requests: 2, bytes: 150 });
        assert_eq!(counts[&b], PeerCounts { connections: 1, requests: 0, bytes: 0 });
    }
}
