//! Which authority to ask: per-address round-trip statistics kept across resolutions (the
//! "infrastructure cache"), the fastest server preferred, unknown ones explored first, a few
//! queries in ten sent to a random one so a server that got faster is noticed, and timeouts
//! that push a server back until it answers again.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use appnet_retransmit::RttEstimator;
use rand::Rng;

/// First timeout for a server never heard from, and the bounds of every timeout.
const INITIAL_TIMEOUT: Duration = Duration::from_millis(400);
const MIN_TIMEOUT: Duration = Duration::from_millis(50);
const MAX_TIMEOUT: Duration = Duration::from_secs(3);

/// One query in this many goes to a random eligible server instead of the fastest.
const EXPLORE_ONE_IN: u32 = 10;

/// Timeouts in a row after which a server's penalty stops growing.
const MAX_PENALTY_SHIFT: u32 = 5;

#[derive(Debug, Clone)]
struct Stats {
    rtt: RttEstimator,
    timeouts_in_row: u32,
    no_edns: bool,
}

impl Stats {
    fn new() -> Self {
        Self {
            rtt: RttEstimator::new(INITIAL_TIMEOUT, MIN_TIMEOUT, MAX_TIMEOUT),
            timeouts_in_row: 0,
            no_edns: false,
        }
    }

    /// The figure servers are ranked by: smoothed RTT doubled per timeout in a row; `None`
    /// for a server never measured.
    fn rank(&self) -> Option<Duration> {
        let smoothed = self.rtt.smoothed()?;
        Some(smoothed * (1 << self.timeouts_in_row.min(MAX_PENALTY_SHIFT)))
    }
}

/// Round-trip knowledge of every authority asked.
#[derive(Debug, Clone, Default)]
pub struct Servers {
    stats: HashMap<SocketAddr, Stats>,
}

impl Servers {
    /// Knows nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Picks one of `candidates` (none empty is the caller's duty to avoid): usually the best
    /// ranked, servers never measured before any measured one, now and then a random one.
    pub fn choose(&self, candidates: &[SocketAddr], rng: &mut impl Rng) -> Option<usize> {
        if candidates.is_empty() {
            return None;
        }
        if candidates.len() > 1 && rng.random_range(0..EXPLORE_ONE_IN) == 0 {
            return Some(rng.random_range(0..candidates.len()));
        }
        let rank = |address: &SocketAddr| self.stats.get(address).and_then(Stats::rank);
        let unknown: Vec<usize> =
            (0..candidates.len()).filter(|&i| rank(&candidates[i]).is_none()).collect();
        if !unknown.is_empty() {
            return Some(unknown[rng.random_range(0..unknown.len())]);
        }
        (0..candidates.len()).min_by_key(|&i| rank(&candidates[i]))
    }

    /// How long to wait for `server`'s answer.
    pub fn timeout(&self, server: SocketAddr) -> Duration {
        self.stats.get(&server).map_or(INITIAL_TIMEOUT, |stats| {
            (stats.rtt.rto() * (1 << stats.timeouts_in_row.min(MAX_PENALTY_SHIFT))).min(MAX_TIMEOUT)
        })
    }

    /// `server` answered after `rtt`.
    pub fn handle_rtt(&mut self, server: SocketAddr, rtt: Duration) {
        let stats = self.stats.entry(server).or_insert_with(Stats::new);
        stats.rtt.handle_sample(rtt);
        stats.timeouts_in_row = 0;
    }

    /// `server` did not answer in time.
    pub fn handle_timeout(&mut self, server: SocketAddr) {
        let stats = self.stats.entry(server).or_insert_with(Stats::new);
        if stats.rtt.smoothed().is_none() {
            // Rank it behind every server that has answered.
            stats.rtt.handle_sample(MAX_TIMEOUT);
        }
        stats.timeouts_in_row += 1;
    }

    /// Whether to send `server` an OPT record: not after it answered one with FORMERR.
    pub fn edns(&self, server: SocketAddr) -> bool {
        self.stats.get(&server).is_none_or(|stats| !stats.no_edns)
    }

    /// `server` refused EDNS (FORMERR to a query with OPT, RFC 6891 §7): ask it without.
    pub fn handle_no_edns(&mut self, server: SocketAddr) {
        self.stats.entry(server).or_insert_with(Stats::new).no_edns = true;
    }

    /// The smoothed RTT measured for `server`.
    pub fn smoothed_rtt(&self, server: SocketAddr) -> Option<Duration> {
        self.stats.get(&server).and_then(|stats| stats.rtt.smoothed())
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    fn addr(last: u8) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, last], 53))
    }

    #[test]
    fn prefers_unknown_then_fastest_with_some_exploration() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut servers = Servers::new();
        let all = [addr(1), addr(2), addr(3)];
        servers.handle_rtt(addr(1), Duration::from_millis(50));
        servers.handle_rtt(addr(2), Duration::from_millis(5));
        let picks: Vec<usize> = (0..100).filter_map(|_| servers.choose(&all, &mut rng)).collect();
        assert!(picks.iter().filter(|&&i| i == 2).count() > 80, "the unknown server is tried");
        servers.handle_rtt(addr(3), Duration::from_millis(20));
        let picks: Vec<usize> = (0..1000).filter_map(|_| servers.choose(&all, &mut rng)).collect();
        let fastest = picks.iter().filter(|&&i| i == 1).count();
        assert!((850..=970).contains(&fastest), "mostly the fastest: {fastest}");
        assert!(picks.contains(&0) && picks.contains(&2), "the others are explored");
    }

    #[test]
    fn timeouts_push_a_server_back_until_it_answers() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let mut servers = Servers::new();
        let both = [addr(1), addr(2)];
        servers.handle_rtt(addr(1), Duration::from_millis(5));
        servers.handle_rtt(addr(2), Duration::from_millis(30));
        for _ in 0..4 {
            servers.handle_timeout(addr(1));
        }
        let first = (0..100).filter(|_| servers.choose(&both, &mut rng) == Some(0)).count();
        assert!(first < 20, "the timing-out server is avoided: {first}");
        assert!(servers.timeout(addr(1)) > servers.timeout(addr(2)));
        servers.handle_rtt(addr(1), Duration::from_millis(5));
        let first = (0..100).filter(|_| servers.choose(&both, &mut rng) == Some(0)).count();
        assert!(first > 80, "back in favour once it answers: {first}");
    }

    #[test]
    fn edns_is_dropped_for_servers_that_refuse_it() {
        let mut servers = Servers::new();
        assert!(servers.edns(addr(1)));
        servers.handle_no_edns(addr(1));
        assert!(!servers.edns(addr(1)) && servers.edns(addr(2)));
    }
}
