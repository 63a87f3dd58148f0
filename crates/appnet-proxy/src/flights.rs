//! Request collapsing: when many clients miss the same URL at once, one request goes to the
//! origin and the others wait for it, then look in the store again. A follower gets the
//! leader's response only through the store — so only if it was storable, and only the
//! variant that matches its own request (Vary) — and otherwise goes upstream itself.
//!
//! URLs whose last response could not be stored (a dynamic page, `no-store`) are remembered
//! for a while and not collapsed: waiting in line for an answer nobody may share would only
//! serialise those clients (Varnish's "hit-for-miss").

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::watch;

/// How long a URL that gave an unstorable response is not collapsed.
const UNCACHEABLE_FOR: Duration = Duration::from_secs(60);

/// URLs remembered as unstorable at most (beyond, the memory starts afresh: forgetting
/// costs one round of waiting, never a wrong answer).
const MAX_UNCACHEABLE: usize = 10_000;

/// The fetches in flight, by URL.
#[derive(Debug, Default)]
pub(crate) struct Flights {
    in_flight: Mutex<HashMap<String, watch::Receiver<()>>>,
    uncacheable: Mutex<HashMap<String, Instant>>,
}

/// What a request that missed does: fetch (and let the others know when done), or wait.
pub(crate) enum Role {
    /// Fetch; the flight ends when this guard is dropped, stored or not, even if the
    /// leader's client went away mid-fetch. A body streamed to the client carries the guard
    /// until it has been stored.
    Leader(Guard),
    /// Another request is fetching this URL: wait for [`wait`], then look again.
    Follower(watch::Receiver<()>),
}

/// The leader's hold on a flight.
pub(crate) struct Guard {
    flights: Arc<Flights>,
    key: String,
    _done: watch::Sender<()>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        // Out of the map first, then the sender drops and wakes the followers: a woken
        // follower that misses again leads a new flight rather than joining this one.
        self.flights.lock_flights().remove(&self.key);
    }
}

impl Flights {
    fn lock_flights(&self) -> std::sync::MutexGuard<'_, HashMap<String, watch::Receiver<()>>> {
        self.in_flight.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Joins the flight for `key`, or starts it.
    pub(crate) fn join(self: &Arc<Self>, key: &str) -> Role {
        let mut flights = self.lock_flights();
        if let Some(receiver) = flights.get(key) {
            return Role::Follower(receiver.clone());
        }
        let (sender, receiver) = watch::channel(());
        flights.insert(key.to_owned(), receiver);
        Role::Leader(Guard { flights: self.clone(), key: key.to_owned(), _done: sender })
    }

    /// Starts the flight for `key` only if there is none (a background refresh).
    pub(crate) fn lead(self: &Arc<Self>, key: &str) -> Option<Guard> {
        match self.join(key) {
            Role::Leader(guard) => Some(guard),
            Role::Follower(_) => None,
        }
    }

    /// Fetches in flight now.
    pub(crate) fn len(&self) -> usize {
        self.lock_flights().len()
    }

    /// Notes whether `key`'s latest response could be stored.
    pub(crate) fn note_storable(&self, key: &str, storable: bool, now: Instant) {
        let mut uncacheable = self.uncacheable.lock().unwrap_or_else(PoisonError::into_inner);
        if storable {
            uncacheable.remove(key);
            return;
        }
        if uncacheable.len() >= MAX_UNCACHEABLE {
            uncacheable.retain(|_, until| *until > now);
            if uncacheable.len() >= MAX_UNCACHEABLE {
                uncacheable.clear();
            }
        }
        uncacheable.insert(key.to_owned(), now + UNCACHEABLE_FOR);
    }

    /// Whether `key` gave an unstorable response lately (then requests are not collapsed).
    pub(crate) fn is_uncacheable(&self, key: &str, now: Instant) -> bool {
        let uncacheable = self.uncacheable.lock().unwrap_or_else(PoisonError::into_inner);
        uncacheable.get(key).is_some_and(|until| *until > now)
    }
}

/// Waits until the flight a follower joined has ended (or `limit` passed).
pub(crate) async fn wait(mut follower: watch::Receiver<()>, limit: Duration) {
    // `changed` fails once the leader's sender is gone, which is the signal.
    let _ = tokio::time::timeout(limit, follower.changed()).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_leader_per_url_and_followers_wake_when_it_ends() {
        let flights = Arc::new(Flights::default());
        let Role::Leader(guard) = flights.join("http://a/") else { panic!("first leads") };
        let Role::Follower(follower) = flights.join("http://a/") else { panic!("second waits") };
        assert!(matches!(flights.join("http://b/"), Role::Leader(_)), "other URLs are apart");
        assert!(flights.lead("http://a/").is_none(), "no second refresh while one is in flight");
        let waiting = tokio::spawn(wait(follower, Duration::from_secs(5)));
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        drop(guard);
        tokio::time::timeout(Duration::from_secs(1), waiting).await.unwrap().unwrap();
        assert_eq!(flights.len(), 0);
        assert!(matches!(flights.join("http://a/"), Role::Leader(_)), "a new flight after");
    }

    #[test]
    fn unstorable_urls_are_remembered_for_a_while() {
        let flights = Flights::default();
        let now = Instant::now();
        flights.note_storable("http://a/", false, now);
        assert!(flights.is_uncacheable("http://a/", now + Duration::from_secs(1)));
        assert!(!flights.is_uncacheable("http://a/", now + UNCACHEABLE_FOR * 2));
        flights.note_storable("http://a/", true, now);
        assert!(!flights.is_uncacheable("http://a/", now));
    }
}
