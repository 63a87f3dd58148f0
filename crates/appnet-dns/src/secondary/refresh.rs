//! When a secondary checks its primary, transfers, retries and gives up (RFC 1034 §4.3.5).

use std::time::{Duration, Instant};

/// The SOA's REFRESH, RETRY and EXPIRE, bounded to sane values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    /// How often to check the primary's serial.
    pub refresh: Duration,
    /// How soon to try again after a failed check or transfer.
    pub retry: Duration,
    /// How long the copy may be served without a successful check.
    pub expire: Duration,
}

impl Timers {
    /// Reads the timers from the SOA fields (seconds), clamping each to 1 s .. 4 weeks and
    /// the expiry to at least the refresh interval.
    pub fn from_soa(refresh: u32, retry: u32, expire: u32) -> Self {
        let clamp = |seconds: u32| Duration::from_secs(u64::from(seconds.clamp(1, 28 * 86_400)));
        let refresh = clamp(refresh);
        Self { refresh, retry: clamp(retry), expire: clamp(expire).max(refresh) }
    }
}

/// What the driver should do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Ask the primary for its SOA serial, then call [`Refresh::handle_soa`].
    CheckSoa,
    /// Transfer the zone, then call [`Refresh::handle_transferred`].
    Transfer,
}

/// One secondary zone's schedule.
#[derive(Debug, Clone)]
pub struct Refresh {
    serial: Option<u32>,
    timers: Timers,
    next_check: Option<Instant>,
    expires_at: Option<Instant>,
    busy: bool,
}

/// Timers used before any SOA is known.
const INITIAL: Timers = Timers {
    refresh: Duration::from_secs(60),
    retry: Duration::from_secs(10),
    expire: Duration::from_secs(86_400),
};

impl Refresh {
    /// A schedule for a zone we hold at `serial` with `timers` (from a copy on disk), or hold
    /// nothing of yet. Either way the first check is due at once.
    pub fn new(now: Instant, held: Option<(u32, Timers)>) -> Self {
        let (serial, timers) = match held {
            Some((serial, timers)) => (Some(serial), timers),
            None => (None, INITIAL),
        };
        let expires_at = serial.map(|_| now + timers.expire);
        Self { serial, timers, next_check: Some(now), expires_at, busy: false }
    }

    /// The serial held, if any.
    pub fn serial(&self) -> Option<u32> {
        self.serial
    }

    /// The action due at `now`, if any. While an action is under way, none other is given.
    pub fn poll_action(&mut self, now: Instant) -> Option<Action> {
        if self.busy || self.next_check.is_none_or(|at| now < at) {
            return None;
        }
        self.busy = true;
        self.next_check = None;
        Some(Action::CheckSoa)
    }

    /// The primary's serial is `serial`: transfer if it is newer than ours (RFC 1982), else
    /// wait a refresh interval.
    pub fn handle_soa(&mut self, serial: u32, now: Instant) -> Option<Action> {
        let newer = self
            .serial
            .is_none_or(|ours| serial != ours && crate::authority::serial_at_least(serial, ours));
        if newer {
            return Some(Action::Transfer);
        }
        self.checked(now);
        None
    }

    /// A transfer brought `serial` with `timers`.
    pub fn handle_transferred(&mut self, serial: u32, timers: Timers, now: Instant) {
        self.serial = Some(serial);
        self.timers = timers;
        self.checked(now);
    }

    /// The check or transfer failed: try again after the retry interval.
    pub fn handle_failure(&mut self, now: Instant) {
        self.busy = false;
        self.next_check = Some(now + self.timers.retry);
    }

    /// The primary sent NOTIFY: check now (RFC 1996 §3.7).
    pub fn handle_notify(&mut self, now: Instant) {
        if !self.busy {
            self.next_check = Some(now);
        }
    }

    /// Whether the copy has gone unconfirmed past EXPIRE and must no longer be served.
    pub fn is_expired(&self, now: Instant) -> bool {
        self.expires_at.is_some_and(|at| now >= at)
    }

    /// When the driver must next call [`poll_action`](Self::poll_action) or check expiry.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.next_check, self.expires_at) {
            (Some(check), Some(expiry)) => Some(check.min(expiry)),
            (check, expiry) => check.or(expiry),
        }
    }

    fn checked(&mut self, now: Instant) {
        self.busy = false;
        self.next_check = Some(now + self.timers.refresh);
        if self.serial.is_some() {
            self.expires_at = Some(now + self.timers.expire);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[allow(clippy::disallowed_methods)]
    fn origin() -> Instant {
        Instant::now()
    }

    fn timers() -> Timers {
        Timers::from_soa(3600, 600, 86_400)
    }

    #[test]
    fn empty_secondary_transfers_at_once() {
        let t0 = origin();
        let mut refresh = Refresh::new(t0, None);
        assert_eq!(refresh.poll_action(t0), Some(Action::CheckSoa));
        assert_eq!(refresh.poll_action(t0), None, "one action at a time");
        assert_eq!(refresh.handle_soa(7, t0), Some(Action::Transfer));
        refresh.handle_transferred(7, timers(), t0 + S);
        assert_eq!(refresh.poll_timeout(), Some(t0 + S + 3600 * S));
        assert_eq!(refresh.serial(), Some(7));
    }

    #[test]
    fn same_serial_waits_a_refresh_interval() {
        let t0 = origin();
        let mut refresh = Refresh::new(t0, Some((7, timers())));
        assert_eq!(refresh.poll_action(t0), Some(Action::CheckSoa));
        assert_eq!(refresh.handle_soa(7, t0), None);
        assert_eq!(refresh.handle_soa(6, t0), None, "older serial: keep ours");
        assert_eq!(refresh.poll_action(t0 + 3599 * S), None);
        assert_eq!(refresh.poll_action(t0 + 3600 * S), Some(Action::CheckSoa));
    }

    #[test]
    fn failures_retry_and_the_copy_expires() {
        let t0 = origin();
        let mut refresh = Refresh::new(t0, Some((7, Timers::from_soa(100, 10, 300))));
        let mut now = t0;
        while !refresh.is_expired(now) {
            if refresh.poll_action(now).is_some() {
                refresh.handle_failure(now);
            }
            now = refresh.poll_timeout().expect("a timer is always armed");
        }
        assert_eq!(now, t0 + 300 * S, "EXPIRE after the last good check");
    }

    #[test]
    fn notify_brings_the_check_forward() {
        let t0 = origin();
        let mut refresh = Refresh::new(t0, Some((7, timers())));
        refresh.poll_action(t0);
        refresh.handle_soa(7, t0);
        refresh.handle_notify(t0 + 5 * S);
        assert_eq!(refresh.poll_action(t0 + 5 * S), Some(Action::CheckSoa));
    }

    #[test]
    fn serial_wraps_per_rfc1982() {
        let t0 = origin();
        let mut refresh = Refresh::new(t0, Some((u32::MAX, timers())));
        refresh.poll_action(t0);
        assert_eq!(refresh.handle_soa(3, t0), Some(Action::Transfer));
    }

    #[test]
    fn timers_are_clamped() {
        let timers = Timers::from_soa(0, 0, 5);
        assert_eq!(timers.refresh, S);
        assert_eq!(timers.expire, 5 * S);
        assert_eq!(Timers::from_soa(100, 10, 50).expire, 100 * S, "expire at least refresh");
    }
}
