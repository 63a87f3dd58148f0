//! One request/response exchange: when to send, when to send again, when to give up.

use std::time::{Duration, Instant};

/// Limits for one exchange. The defaults suit a DNS query to one server: up to 3 attempts,
/// doubling the timeout each time, never waiting longer than 5 s for one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryConfig {
    /// Attempts in all, the first included. At least 1.
    pub max_attempts: u32,
    /// Each retry waits this many times longer than the previous attempt (2 = binary backoff).
    pub backoff: u32,
    /// No single attempt waits longer than this.
    pub max_timeout: Duration,
    /// The whole exchange ends by this long after it started, however many attempts remain.
    pub deadline: Option<Duration>,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self { max_attempts: 3, backoff: 2, max_timeout: Duration::from_secs(5), deadline: None }
    }
}

/// An attempt the driver should send now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    /// 1 for the first transmission, 2 for the first retry, …
    pub number: u32,
    /// How long this attempt will wait for its reply.
    pub timeout: Duration,
}

/// How an exchange ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A reply arrived.
    Answered {
        /// Attempts sent before the reply came.
        attempts: u32,
        /// The round trip of the answered attempt, when it is known which one was answered
        /// (Karn's algorithm: a reply to "one of several" retransmissions is no sample).
        rtt: Option<Duration>,
    },
    /// Every attempt timed out, or the deadline passed.
    GaveUp {
        /// Attempts sent.
        attempts: u32,
    },
}

/// The state of one exchange. Create it, then loop: send what [`poll_transmit`] returns, sleep
/// until [`poll_timeout`], feed [`handle_timeout`] or [`handle_response`], and stop once
/// [`poll_outcome`] returns the outcome.
///
/// [`poll_transmit`]: Self::poll_transmit
/// [`poll_timeout`]: Self::poll_timeout
/// [`handle_timeout`]: Self::handle_timeout
/// [`handle_response`]: Self::handle_response
/// [`poll_outcome`]: Self::poll_outcome
#[derive(Debug, Clone)]
pub struct Exchange {
    config: RetryConfig,
    started: Instant,
    /// The timeout the next attempt will get.
    next_timeout: Duration,
    /// When each attempt went out, in order.
    sent: Vec<Instant>,
    /// An attempt is due and waits for `poll_transmit`.
    due: bool,
    /// When the attempt in flight expires.
    expires: Option<Instant>,
    outcome: Option<Outcome>,
    finished: bool,
}

impl Exchange {
    /// Starts an exchange at `now` whose first attempt waits `first_timeout` (usually the peer's
    /// [`RttEstimator::rto`](crate::RttEstimator::rto)). The first attempt is due at once.
    pub fn new(config: &RetryConfig, first_timeout: Duration, now: Instant) -> Self {
        Self {
            config: config.clone(),
            started: now,
            next_timeout: first_timeout.min(config.max_timeout),
            sent: Vec::with_capacity(config.max_attempts as usize),
            due: true,
            expires: None,
            outcome: None,
            finished: false,
        }
    }

    /// The attempt to send now, if one is due. Call after creating the exchange and after every
    /// `handle_timeout`.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Attempt> {
        if !self.due || self.finished {
            return None;
        }
        self.due = false;
        self.sent.push(now);
        let timeout = self.next_timeout;
        let mut expires = now + timeout;
        if let Some(deadline) = self.config.deadline {
            expires = expires.min(self.started + deadline);
        }
        self.expires = Some(expires);
        self.next_timeout = (timeout * self.config.backoff.max(1)).min(self.config.max_timeout);
        Some(Attempt { number: self.sent.len() as u32, timeout })
    }

    /// When the driver must call [`handle_timeout`](Self::handle_timeout) if nothing arrives;
    /// `None` once the exchange is over.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.finished { None } else { self.expires }
    }

    /// Fires the timer: retries if attempts and time remain, otherwise gives up.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.expires {
            Some(expires) if !self.finished && now >= expires => {}
            _ => return,
        }
        self.expires = None;
        let attempts = self.sent.len() as u32;
        let past_deadline = self.config.deadline.is_some_and(|d| now >= self.started + d);
        if attempts >= self.config.max_attempts.max(1) || past_deadline {
            tracing::debug!(attempts, "exchange gave up");
            self.finish(Outcome::GaveUp { attempts });
        } else {
            tracing::trace!(attempts, "attempt timed out, retrying");
            self.due = true;
        }
    }

    /// A reply arrived at `now`. `attempt` is the attempt it answers when the protocol can tell
    /// (e.g. a fresh DNS ID per attempt), else `None`. Returns the round-trip sample to feed
    /// the peer's [`RttEstimator`](crate::RttEstimator), when there is an unambiguous one.
    pub fn handle_response(&mut self, attempt: Option<u32>, now: Instant) -> Option<Duration> {
        if self.finished {
            return None;
        }
        let attempts = self.sent.len() as u32;
        let index = match attempt {
            Some(number) if (1..=attempts).contains(&number) => Some(number as usize - 1),
            None if attempts == 1 => Some(0),
            _ => None,
        };
        let rtt = index.map(|i| now.saturating_duration_since(self.sent[i]));
        self.finish(Outcome::Answered { attempts, rtt });
        rtt
    }

    /// The outcome, once, when the exchange is over.
    pub fn poll_outcome(&mut self) -> Option<Outcome> {
        self.outcome.take()
    }

    /// Whether the exchange is over (answered or given up).
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    fn finish(&mut self, outcome: Outcome) {
        self.finished = true;
        self.due = false;
        self.expires = None;
        self.outcome = Some(outcome);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// Any instant serves as the origin: the core only compares and subtracts instants.
    #[allow(clippy::disallowed_methods)]
    fn origin() -> Instant {
        Instant::now()
    }

    fn config(max_attempts: u32) -> RetryConfig {
        RetryConfig { max_attempts, backoff: 2, max_timeout: 1000 * MS, deadline: None }
    }

    #[test]
    fn first_attempt_is_due_at_once_and_only_once() {
        let t0 = origin();
        let mut exchange = Exchange::new(&config(3), 100 * MS, t0);
        assert_eq!(exchange.poll_transmit(t0), Some(Attempt { number: 1, timeout: 100 * MS }));
        assert_eq!(exchange.poll_transmit(t0), None);
        assert_eq!(exchange.poll_timeout(), Some(t0 + 100 * MS));
    }

    #[test]
    fn early_timer_does_nothing() {
        let t0 = origin();
        let mut exchange = Exchange::new(&config(3), 100 * MS, t0);
        exchange.poll_transmit(t0);
        exchange.handle_timeout(t0 + 99 * MS);
        assert_eq!(exchange.poll_transmit(t0 + 99 * MS), None);
        assert_eq!(exchange.poll_timeout(), Some(t0 + 100 * MS));
    }

    #[test]
    fn backs_off_caps_and_gives_up() {
        let t0 = origin();
        let mut exchange = Exchange::new(&config(4), 300 * MS, t0);
        let mut now = t0;
        let mut timeouts = Vec::new();
        while let Some(attempt) = exchange.poll_transmit(now) {
            timeouts.push(attempt.timeout);
            now = exchange.poll_timeout().expect("armed");
            exchange.handle_timeout(now);
        }
        assert_eq!(timeouts, [300 * MS, 600 * MS, 1000 * MS, 1000 * MS]);
        assert_eq!(now, t0 + 2900 * MS);
        assert_eq!(exchange.poll_outcome(), Some(Outcome::GaveUp { attempts: 4 }));
        assert_eq!(exchange.poll_outcome(), None, "outcome is taken once");
        assert_eq!(exchange.poll_timeout(), None);
    }

    #[test]
    fn deadline_cuts_the_last_wait_short() {
        let t0 = origin();
        let limits = RetryConfig { deadline: Some(250 * MS), ..config(5) };
        let mut exchange = Exchange::new(&limits, 100 * MS, t0);
        exchange.poll_transmit(t0);
        exchange.handle_timeout(t0 + 100 * MS);
        exchange.poll_transmit(t0 + 100 * MS);
        assert_eq!(exchange.poll_timeout(), Some(t0 + 250 * MS), "200 ms wait cut to the deadline");
        exchange.handle_timeout(t0 + 250 * MS);
        assert_eq!(exchange.poll_outcome(), Some(Outcome::GaveUp { attempts: 2 }));
    }

    #[test]
    fn karn_no_sample_from_ambiguous_reply() {
        let t0 = origin();
        let mut exchange = Exchange::new(&config(3), 100 * MS, t0);
        exchange.poll_transmit(t0);
        exchange.handle_timeout(t0 + 100 * MS);
        exchange.poll_transmit(t0 + 100 * MS);
        assert_eq!(exchange.handle_response(None, t0 + 130 * MS), None);
        assert_eq!(exchange.poll_outcome(), Some(Outcome::Answered { attempts: 2, rtt: None }));
    }

    #[test]
    fn sample_from_identified_attempt() {
        let t0 = origin();
        let mut exchange = Exchange::new(&config(3), 100 * MS, t0);
        exchange.poll_transmit(t0);
        exchange.handle_timeout(t0 + 100 * MS);
        exchange.poll_transmit(t0 + 100 * MS);
        // A late reply to attempt 1, identified by its ID: its RTT counts from attempt 1.
        assert_eq!(exchange.handle_response(Some(1), t0 + 130 * MS), Some(130 * MS));
        assert!(exchange.is_finished());
        assert_eq!(exchange.handle_response(Some(2), t0 + 140 * MS), None, "after the end");
    }

    #[test]
    fn unknown_attempt_number_is_no_sample() {
        let t0 = origin();
        let mut exchange = Exchange::new(&config(3), 100 * MS, t0);
        exchange.poll_transmit(t0);
        assert_eq!(exchange.handle_response(Some(7), t0 + 10 * MS), None);
        assert!(exchange.is_finished());
    }
}
