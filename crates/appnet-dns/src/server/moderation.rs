//! Receive moderation for the UDP workers: under heavy load, a worker that found only a few
//! queries waiting pauses briefly before its next receive, so the next batch is larger. It is
//! what network cards call interrupt moderation, done in the worker.
//!
//! Why: on loopback about 90 % of a server's CPU per query is the kernel's, and much of that is
//! paid per system call and per wake-up rather than per datagram — a worker that empties its
//! socket after every handful of queries sleeps and is woken again for each handful, and every
//! `sendmmsg` of a few answers wakes the client anew. Pausing ~30 µs when queries are arriving
//! fast anyway lets a dozen more queue up and go through one `recvmmsg`/`sendmmsg` pair. In the
//! `dns-authority` benchmark (dnsperf, 100–130k queries/s on one core) this took the server's
//! CPU per query from 8.6 to 6.6 µs (an A/B of one build with and without it, eight interleaved
//! rounds, medians; NSD 9.3 in the same runs), with no loss of throughput. The price is latency under that load only: dnsperf's average went from 134
//! to 175 µs.
//!
//! Light load never pauses: a lone query is read, answered and sent at once, so a `dig` sees
//! the same latency as without moderation. The decision is a pure function of the batch sizes
//! and the times they arrived (`now` comes from the driver), so it is tested without sockets.

use std::time::{Duration, Instant};

/// How long a busy worker waits before its next receive. About the time one round of the
/// kernel's timer slack (50 µs) lets it oversleep, so the real pause is 30–80 µs.
pub(crate) const PAUSE: Duration = Duration::from_micros(30);

/// A batch this small after a busy spell is worth waiting on; a larger one already pays for its
/// system calls.
pub(crate) const FEW: usize = 16;

/// The span over which the arrival rate is counted.
const WINDOW: Duration = Duration::from_millis(1);

/// Busy means at least this many queries are expected to arrive during one [`PAUSE`]: fewer,
/// and the pause would cost a timer wake-up without saving a receive.
const EXPECTED_DURING_PAUSE: u32 = 1;

/// The arrival-rate estimate of one worker.
#[derive(Debug)]
pub(crate) struct Moderation {
    window_start: Option<Instant>,
    window_count: u32,
    busy: bool,
}

impl Moderation {
    pub(crate) fn new() -> Self {
        Self { window_start: None, window_count: 0, busy: false }
    }

    /// Records a batch of `received` queries taken from the socket at `now`, and says how long
    /// to wait before the next receive, if at all.
    pub(crate) fn pause_after(&mut self, now: Instant, received: usize) -> Option<Duration> {
        let start = *self.window_start.get_or_insert(now);
        let span = now.saturating_duration_since(start);
        if span >= WINDOW {
            // The window that just ended decides: `count` queries over `span`, so about
            // count × PAUSE / span of them would arrive during one pause.
            let expected = u128::from(self.window_count) * PAUSE.as_nanos() / span.as_nanos();
            self.busy = expected >= u128::from(EXPECTED_DURING_PAUSE);
            self.window_start = Some(now);
            self.window_count = 0;
        }
        self.window_count = self.window_count.saturating_add(received as u32);
        (self.busy && received < FEW).then_some(PAUSE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `n` batches of `size`, one every `gap`, and counts the pauses asked for.
    fn pauses(
        moderation: &mut Moderation,
        start: Instant,
        gap: Duration,
        size: usize,
        n: u32,
    ) -> u32 {
        (0..n).filter(|i| moderation.pause_after(start + gap * *i, size).is_some()).count() as u32
    }

    #[test]
    fn a_light_load_is_never_held_back() {
        let mut moderation = Moderation::new();
        let start = Instant::now();
        // One query every 100 µs (10k/s): 0.3 expected per pause.
        assert_eq!(pauses(&mut moderation, start, Duration::from_micros(100), 1, 1000), 0);
    }

    #[test]
    fn a_heavy_load_of_small_batches_pauses_once_the_first_window_is_counted() {
        let mut moderation = Moderation::new();
        let start = Instant::now();
        // Four queries every 20 µs (200k/s): the first millisecond is counted, then every
        // small batch pauses.
        let gap = Duration::from_micros(20);
        let n = 200;
        let counted_first = WINDOW.as_micros() as u32 / 20;
        assert_eq!(pauses(&mut moderation, start, gap, 4, n), n - counted_first);
    }

    #[test]
    fn large_batches_do_not_pause_however_busy() {
        let mut moderation = Moderation::new();
        let start = Instant::now();
        assert_eq!(pauses(&mut moderation, start, Duration::from_micros(50), FEW, 500), 0);
    }

    #[test]
    fn a_quiet_spell_after_a_busy_one_stops_the_pauses() {
        let mut moderation = Moderation::new();
        let start = Instant::now();
        pauses(&mut moderation, start, Duration::from_micros(20), 4, 200);
        assert!(moderation.pause_after(start + Duration::from_micros(4000), 4).is_some());
        // Then a query 6 ms later: the window it closes held four queries over 6 ms, quiet.
        let later = start + Duration::from_millis(10);
        assert_eq!(moderation.pause_after(later, 1), None);
        assert_eq!(moderation.pause_after(later + Duration::from_millis(5), 1), None);
    }
}
