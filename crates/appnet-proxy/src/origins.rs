//! The origins behind one site of a reverse proxy, and which of them is healthy: a pure
//! state machine fed by results (the health checker's probes and real requests alike) and
//! asked which origin to use next. Like nginx's `max_fails` and HAProxy's `fall`/`rise`: an
//! origin is taken out after `fall` failures in a row and put back after `rise` successes in
//! a row, so one lost packet does not flap it and one lucky probe does not trust it again.

use std::time::Duration;

use hyper::Uri;

/// How origins are checked and judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthRules {
    /// The path each origin is asked for (`GET`); a 2xx or 3xx answer in time is healthy.
    pub path: String,
    /// Time between checks of one origin.
    pub interval: Duration,
    /// Time a check (or a request) may take before it counts as failed.
    pub timeout: Duration,
    /// Failures in a row that take an origin out.
    pub fall: u32,
    /// Successes in a row that put it back.
    pub rise: u32,
}

impl Default for HealthRules {
    fn default() -> Self {
        Self {
            path: "/".to_owned(),
            interval: Duration::from_secs(2),
            timeout: Duration::from_secs(2),
            fall: 2,
            rise: 2,
        }
    }
}

/// One origin and what is known of its health.
#[derive(Debug, Clone)]
struct Origin {
    uri: Uri,
    up: bool,
    fails: u32,
    passes: u32,
}

/// A site's origins, used in turn while healthy.
#[derive(Debug, Clone)]
pub struct OriginPool {
    origins: Vec<Origin>,
    rules: HealthRules,
    next: usize,
}

impl OriginPool {
    /// A pool of `uris` (at least one), all taken as healthy until shown otherwise.
    pub fn new(uris: Vec<Uri>, rules: HealthRules) -> Self {
        let origins =
            uris.into_iter().map(|uri| Origin { uri, up: true, fails: 0, passes: 0 }).collect();
        Self { origins, rules, next: 0 }
    }

    /// The rules this pool is judged by.
    pub fn rules(&self) -> &HealthRules {
        &self.rules
    }

    /// How many origins there are.
    pub fn len(&self) -> usize {
        self.origins.len()
    }

    /// Whether the pool has no origins.
    pub fn is_empty(&self) -> bool {
        self.origins.is_empty()
    }

    /// Origin `index`'s URI.
    pub fn uri(&self, index: usize) -> &Uri {
        &self.origins[index].uri
    }

    /// Whether origin `index` is in use.
    pub fn is_up(&self, index: usize) -> bool {
        self.origins[index].up
    }

    /// The origin to send the next request to, skipping those in `tried`: the healthy ones
    /// in turn (round robin); when none is healthy, any not yet tried — trying a sick origin
    /// beats refusing outright, and a success puts it back on its way up.
    pub fn pick(&mut self, tried: &[usize]) -> Option<usize> {
        let count = self.origins.len();
        let candidates = |want_up: bool| {
            (0..count)
                .map(|step| (self.next + step) % count)
                .find(|i| !tried.contains(i) && (!want_up || self.origins[*i].up))
        };
        let chosen = candidates(true).or_else(|| candidates(false))?;
        self.next = (chosen + 1) % count;
        Some(chosen)
    }

    /// Records how a request to (or a check of) origin `index` went; returns whether its
    /// state changed (for a log line).
    pub fn report(&mut self, index: usize, healthy: bool) -> bool {
        let rules = &self.rules;
        let origin = &mut self.origins[index];
        if healthy {
            origin.fails = 0;
            origin.passes = origin.passes.saturating_add(1);
            if !origin.up && origin.passes >= rules.rise {
                origin.up = true;
                return true;
            }
        } else {
            origin.passes = 0;
            origin.fails = origin.fails.saturating_add(1);
            if origin.up && origin.fails >= rules.fall {
                origin.up = false;
                return true;
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(n: usize) -> OriginPool {
        let uris =
            (0..n).map(|i| format!("http://127.0.0.{}:80", i + 1).parse().unwrap()).collect();
        OriginPool::new(uris, HealthRules::default())
    }

    #[test]
    fn healthy_origins_take_turns() {
        let mut pool = pool(3);
        let picks: Vec<usize> = (0..6).map(|_| pool.pick(&[]).unwrap()).collect();
        assert_eq!(picks, [0, 1, 2, 0, 1, 2]);
        assert_eq!(pool.pick(&[0]), Some(1), "a retry goes elsewhere");
        assert_eq!(pool.pick(&[0, 1, 2]), None, "all tried");
    }

    #[test]
    fn fall_failures_take_an_origin_out_and_rise_successes_bring_it_back() {
        let mut pool = pool(2);
        assert!(!pool.report(0, false), "one failure is not enough");
        assert!(pool.is_up(0));
        assert!(pool.report(0, false), "two in a row");
        assert!(!pool.is_up(0));
        let picks: Vec<usize> = (0..4).map(|_| pool.pick(&[]).unwrap()).collect();
        assert_eq!(picks, [1, 1, 1, 1], "only the healthy one");
        assert!(!pool.report(0, true));
        assert!(!pool.report(0, false), "a failure restarts the climb");
        assert!(!pool.report(0, true));
        assert!(pool.report(0, true), "two successes in a row");
        assert!(pool.is_up(0));
        // A success between failures keeps a healthy origin in.
        assert!(!pool.report(1, false) && !pool.report(1, true) && !pool.report(1, false));
        assert!(pool.is_up(1));
    }

    #[test]
    fn with_every_origin_down_any_untried_one_is_still_tried() {
        let mut pool = pool(2);
        for i in 0..2 {
            pool.report(i, false);
            pool.report(i, false);
        }
        let first = pool.pick(&[]).unwrap();
        let second = pool.pick(&[first]).unwrap();
        assert_ne!(first, second);
        assert_eq!(pool.pick(&[first, second]), None);
    }
}
