//! Round-trip estimation per RFC 6298 §2: SRTT and RTTVAR from samples, RTO from both.
//!
//! One estimator per peer (a name server, a tracker, a DHT node) so that a slow peer does not
//! slow retries to a fast one. The resolver also ranks servers by [`RttEstimator::smoothed`].

use std::time::Duration;

/// Smoothed round-trip time and the retransmission timeout derived from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RttEstimator {
    smoothed: Option<Duration>,
    variation: Duration,
    min_rto: Duration,
    max_rto: Duration,
    initial_rto: Duration,
}

impl RttEstimator {
    /// An estimator with no samples yet. Its RTO is `initial_rto` until the first sample, and
    /// always within `min_rto..=max_rto`. RFC 6298 says 1 s initial and 1 s minimum for TCP;
    /// datagram protocols on one host or LAN want far less (unbound starts at 376 ms).
    pub fn new(initial_rto: Duration, min_rto: Duration, max_rto: Duration) -> Self {
        Self { smoothed: None, variation: Duration::ZERO, min_rto, max_rto, initial_rto }
    }

    /// Folds in one round-trip sample. Only feed samples that are unambiguous (Karn's algorithm):
    /// a reply that can be matched to the attempt it answers.
    pub fn handle_sample(&mut self, rtt: Duration) {
        match self.smoothed {
            None => {
                self.smoothed = Some(rtt);
                self.variation = rtt / 2;
            }
            Some(srtt) => {
                // RTTVAR = 3/4 RTTVAR + 1/4 |SRTT - R|; SRTT = 7/8 SRTT + 1/8 R.
                let error = srtt.abs_diff(rtt);
                self.variation = (self.variation * 3 + error) / 4;
                self.smoothed = Some((srtt * 7 + rtt) / 8);
            }
        }
    }

    /// The smoothed round-trip time, once there is a sample.
    pub fn smoothed(&self) -> Option<Duration> {
        self.smoothed
    }

    /// The current retransmission timeout: SRTT + 4·RTTVAR, clamped to the configured range.
    pub fn rto(&self) -> Duration {
        let raw = match self.smoothed {
            None => self.initial_rto,
            Some(srtt) => srtt + self.variation * 4,
        };
        raw.clamp(self.min_rto, self.max_rto)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn initial_rto_until_first_sample() {
        let estimator = RttEstimator::new(400 * MS, 50 * MS, 5000 * MS);
        assert_eq!(estimator.rto(), 400 * MS);
        assert_eq!(estimator.smoothed(), None);
    }

    #[test]
    fn first_sample_sets_srtt_and_half_variation() {
        let mut estimator = RttEstimator::new(400 * MS, 1 * MS, 5000 * MS);
        estimator.handle_sample(100 * MS);
        assert_eq!(estimator.smoothed(), Some(100 * MS));
        assert_eq!(estimator.rto(), 300 * MS, "100 + 4 * 50");
    }

    #[test]
    fn later_samples_follow_rfc6298_weights() {
        let mut estimator = RttEstimator::new(400 * MS, 1 * MS, 5000 * MS);
        estimator.handle_sample(100 * MS);
        estimator.handle_sample(180 * MS);
        // RTTVAR = (3*50 + 80)/4 = 57.5; SRTT = (7*100 + 180)/8 = 110.
        assert_eq!(estimator.smoothed(), Some(110 * MS));
        assert_eq!(estimator.rto(), 110 * MS + Duration::from_micros(57_500) * 4);
    }

    #[test]
    fn steady_samples_converge_and_clamp() {
        let mut estimator = RttEstimator::new(400 * MS, 20 * MS, 5000 * MS);
        for _ in 0..100 {
            estimator.handle_sample(2 * MS);
        }
        assert_eq!(estimator.smoothed(), Some(2 * MS));
        assert_eq!(estimator.rto(), 20 * MS, "clamped to min");
        estimator.handle_sample(60_000 * MS);
        assert_eq!(estimator.rto(), 5000 * MS, "clamped to max");
    }
}
