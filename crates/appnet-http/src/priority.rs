//! HTTP/2 response priorities: the client's `Priority` request field (RFC 9218) and the
//! decision of which streams may hand body bytes to the connection now.
//!
//! The `h2` crate sends whatever its streams give it, a frame from each in turn, and ignores
//! RFC 7540's PRIORITY signals (which RFC 9113 deprecated). So the order is decided here, before
//! a stream gives its bytes: a stream waits while another stream that goes before it is still
//! sending. What goes before: a lower urgency (`u`, 0 the most urgent, 3 by default); at the
//! same urgency a non-incremental response (the client uses it only whole) before the
//! incremental ones, and non-incremental ones one at a time in stream order, while incremental
//! ones of the same urgency share the connection (RFC 9218 §10).
//!
//! A stream that goes before but is stalled — it has sent nothing for [`STALL`] while the
//! connection wrote nothing either: the client's flow-control window is shut, or a CGI script
//! is slow — no longer holds the others back, until it sends again; the connection is not left
//! idle while something could be sent (RFC 9218 §10 warns against a server waiting on a
//! stream that cannot proceed). A stream that sends nothing while the connection is still
//! writing is held back by the link or the connection's own work, not stalled: bytes from the
//! others would only take turns with its own on the way out. Pure and synchronous: the caller
//! gives `now` and when the connection last wrote, and is told when to ask again.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How long a stream that goes before others may go without sending before they no longer
/// wait for it.
pub const STALL: Duration = Duration::from_millis(20);

/// A response's priority (RFC 9218 §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Priority {
    /// 0 (most urgent) to 7.
    pub urgency: u8,
    /// Whether the client can use the response as it arrives.
    pub incremental: bool,
}

impl Default for Priority {
    fn default() -> Self {
        Self { urgency: 3, incremental: false }
    }
}

impl Priority {
    /// The priority a `Priority` field value asks for. Members other than `u` and `i` are
    /// ignored, as are values out of range; a value that is not a Structured Fields dictionary
    /// is ignored whole (RFC 9218 §4 and RFC 9651 §4.2), leaving the defaults.
    pub fn from_field(value: &[u8]) -> Self {
        let mut priority = Self::default();
        let mut parser = sfparse::Parser::new(value);
        loop {
            match parser.parse_dict() {
                Ok(None) => return priority,
                Err(_) => return Self::default(),
                Ok(Some(("u", sfparse::Value::Integer(urgency)))) => {
                    if let Ok(urgency @ 0..=7) = u8::try_from(urgency) {
                        priority.urgency = urgency;
                    }
                }
                Ok(Some(("i", sfparse::Value::Bool(incremental)))) => {
                    priority.incremental = incremental;
                }
                Ok(Some(_)) => {}
            }
        }
    }

    /// Whether a stream with this priority and `id` goes before `other` with `other_id`.
    fn goes_before(self, id: u32, other: Self, other_id: u32) -> bool {
        self.urgency < other.urgency
            || (self.urgency == other.urgency
                && !self.incremental
                && (other.incremental || id < other_id))
    }
}

/// What a stream is told when it asks to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Turn {
    /// Send now.
    Go,
    /// Wait until a stream that goes before ends or sends, or until this time (when the
    /// earliest of them counts as stalled).
    Wait(Instant),
}

#[derive(Debug)]
struct Stream {
    priority: Priority,
    /// When it last sent, or was told it may.
    last_sent: Instant,
    /// Told to wait, and not told since that it may go: it is held back, not stalled.
    waiting: bool,
    /// Found stalled, and has not sent since: it holds nobody back.
    stalled: bool,
}

/// The streams of one connection that have a response to send.
#[derive(Debug, Default)]
pub struct Scheduler {
    streams: BTreeMap<u32, Stream>,
}

impl Scheduler {
    /// A stream with a response to send; until it sends, it counts as having just sent.
    pub fn open(&mut self, id: u32, priority: Priority, now: Instant) {
        let stream = Stream { priority, last_sent: now, waiting: false, stalled: false };
        self.streams.insert(id, stream);
    }

    /// Stream `id` handed bytes to the connection.
    pub fn sent(&mut self, id: u32, now: Instant) {
        if let Some(stream) = self.streams.get_mut(&id) {
            stream.last_sent = now;
            stream.stalled = false;
        }
    }

    /// Stream `id` has nothing more to send (ended, reset or gone).
    pub fn close(&mut self, id: u32) {
        self.streams.remove(&id);
    }

    /// Whether stream `id` may send now, the connection having last written at `last_write`.
    /// Told to go, it counts as sending from now; told to wait, as held back (so the streams
    /// behind it wait too, not for its stall).
    pub fn turn(&mut self, id: u32, now: Instant, last_write: Option<Instant>) -> Turn {
        let Some(asking) = self.streams.get(&id) else { return Turn::Go };
        let asking = asking.priority;
        let mut wait_until: Option<Instant> = None;
        for (&other_id, other) in &mut self.streams {
            if other_id == id || other.stalled || !other.priority.goes_before(other_id, asking, id)
            {
                continue;
            }
            // A stream held back itself is asked about again a stall time from now (or when
            // a stream ends); one that sends, or whose bytes the connection is still writing,
            // when it would count as stalled.
            let until = if other.waiting {
                now + STALL
            } else {
                last_write.map_or(other.last_sent, |at| at.max(other.last_sent)) + STALL
            };
            if until > now {
                wait_until = Some(wait_until.map_or(until, |at| at.min(until)));
            } else {
                other.stalled = true;
            }
        }
        let Some(stream) = self.streams.get_mut(&id) else { return Turn::Go };
        match wait_until {
            Some(until) => {
                stream.waiting = true;
                Turn::Wait(until)
            }
            None => {
                stream.waiting = false;
                stream.last_sent = now;
                Turn::Go
            }
        }
    }

    /// Streams with a response to send.
    pub fn len(&self) -> usize {
        self.streams.len()
    }

    /// Whether no stream has a response to send.
    pub fn is_empty(&self) -> bool {
        self.streams.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn priority(urgency: u8, incremental: bool) -> Priority {
        Priority { urgency, incremental }
    }

    #[test]
    fn the_field_is_read_as_rfc_9218_says() {
        assert_eq!(Priority::from_field(b"u=0, i"), priority(0, true));
        assert_eq!(Priority::from_field(b"u=5"), priority(5, false));
        assert_eq!(Priority::from_field(b"i"), priority(3, true));
        assert_eq!(Priority::from_field(b"i=?0, u=1"), priority(1, false));
        assert_eq!(Priority::from_field(b""), Priority::default());
        // Unknown members and parameters are ignored; the last of a repeated member wins.
        assert_eq!(Priority::from_field(b"x=1, u=2;foo=bar, y=(1 2)"), priority(2, false));
        assert_eq!(Priority::from_field(b"u=1, u=6"), priority(6, false));
        // Out of range, or of the wrong type: that member is ignored.
        assert_eq!(Priority::from_field(b"u=8, i"), priority(3, true));
        assert_eq!(Priority::from_field(b"u=-1"), Priority::default());
        assert_eq!(Priority::from_field(b"u=1.5, i=1"), Priority::default());
        assert_eq!(Priority::from_field(b"u=\"1\""), Priority::default());
        // Not a dictionary at all: ignored whole.
        assert_eq!(Priority::from_field(b"u=1, i, ("), Priority::default());
        assert_eq!(Priority::from_field(b"u=1,,"), Priority::default());
        assert_eq!(Priority::from_field(&[0xff, b'u', b'=', b'1']), Priority::default());
    }

    #[test]
    fn no_field_value_makes_it_panic() {
        // Every byte string up to three bytes long over an alphabet of the syntax's own
        // characters, and a few longer ones: each gives some priority, none panics.
        let alphabet = b"ui=0?1,;( )\"*:-.a\\";
        let mut value = Vec::new();
        for a in alphabet {
            for b in alphabet {
                for c in alphabet {
                    value.clear();
                    value.extend_from_slice(&[*a, *b, *c]);
                    let _ = Priority::from_field(&value);
                    value.extend_from_slice(b"u=1");
                    let _ = Priority::from_field(&value);
                }
            }
        }
    }

    #[test]
    fn a_more_urgent_stream_goes_first_then_the_rest() {
        let start = Instant::now();
        let mut scheduler = Scheduler::default();
        scheduler.open(1, priority(5, false), start);
        scheduler.open(3, priority(0, false), start);
        assert_eq!(scheduler.turn(3, start, None), Turn::Go);
        assert_eq!(scheduler.turn(1, start, None), Turn::Wait(start + STALL));
        scheduler.close(3);
        assert_eq!(scheduler.turn(1, start, None), Turn::Go);
    }

    #[test]
    fn non_incremental_responses_of_one_urgency_go_one_at_a_time_in_stream_order() {
        let now = Instant::now();
        let mut scheduler = Scheduler::default();
        for id in [1, 3, 5] {
            scheduler.open(id, Priority::default(), now);
        }
        scheduler.open(7, priority(3, true), now);
        assert_eq!(scheduler.turn(1, now, None), Turn::Go);
        for id in [3, 5, 7] {
            assert!(matches!(scheduler.turn(id, now, None), Turn::Wait(_)), "{id}");
        }
        scheduler.close(1);
        assert_eq!(scheduler.turn(3, now, None), Turn::Go);
        assert!(matches!(scheduler.turn(5, now, None), Turn::Wait(_)));
    }

    #[test]
    fn incremental_responses_of_one_urgency_share_the_connection() {
        let now = Instant::now();
        let mut scheduler = Scheduler::default();
        scheduler.open(1, priority(4, true), now);
        scheduler.open(3, priority(4, true), now);
        scheduler.open(5, priority(6, false), now);
        assert_eq!(scheduler.turn(1, now, None), Turn::Go);
        assert_eq!(scheduler.turn(3, now, None), Turn::Go);
        assert!(matches!(scheduler.turn(5, now, None), Turn::Wait(_)));
    }

    #[test]
    fn a_stream_that_stops_sending_stops_holding_the_others_back() {
        let start = Instant::now();
        let mut scheduler = Scheduler::default();
        scheduler.open(1, priority(0, false), start);
        scheduler.open(3, priority(1, false), start);
        scheduler.open(5, priority(2, false), start);
        // Stream 1 sends, and so goes on holding 3 and 5 back.
        let later = start + STALL / 2;
        scheduler.sent(1, later);
        assert_eq!(scheduler.turn(3, later, None), Turn::Wait(later + STALL));
        // Then stream 1 is stalled (its window, say): 3 goes, 5 still waits for 3 ...
        let stalled = later + STALL;
        assert_eq!(scheduler.turn(3, stalled, None), Turn::Go);
        scheduler.sent(3, stalled);
        assert_eq!(scheduler.turn(5, stalled, None), Turn::Wait(stalled + STALL));
        // ... and once stream 1 sends again, 3 waits for it again.
        scheduler.sent(1, stalled);
        assert_eq!(scheduler.turn(3, stalled, None), Turn::Wait(stalled + STALL));
        // A stream not (or no longer) known is never held back.
        assert_eq!(scheduler.turn(9, stalled, None), Turn::Go);
        scheduler.close(1);
        scheduler.close(3);
        scheduler.close(5);
        assert!(scheduler.is_empty());
    }

    #[test]
    fn a_stream_held_back_holds_back_those_behind_it_however_long_it_waited() {
        let start = Instant::now();
        let mut scheduler = Scheduler::default();
        scheduler.open(1, priority(0, false), start);
        scheduler.open(3, priority(1, false), start);
        scheduler.open(5, priority(2, false), start);
        assert_eq!(scheduler.turn(1, start, None), Turn::Go);
        assert!(matches!(scheduler.turn(3, start, None), Turn::Wait(_)));
        // Long after, stream 1 still sending: 3 has been held back, not stalled, so 5 waits.
        let late = start + STALL * 10;
        scheduler.sent(1, late);
        assert_eq!(scheduler.turn(5, late, None), Turn::Wait(late + STALL));
        // Stream 1 ends; 3 goes and counts as sending from then, so 5 still waits.
        scheduler.close(1);
        assert_eq!(scheduler.turn(3, late, None), Turn::Go);
        assert_eq!(scheduler.turn(5, late, None), Turn::Wait(late + STALL));
        scheduler.close(3);
        assert_eq!(scheduler.turn(5, late, None), Turn::Go);
        assert_eq!(scheduler.len(), 1);
    }

    #[test]
    fn a_stream_is_stalled_only_once_the_connection_has_nothing_to_write() {
        let start = Instant::now();
        let mut scheduler = Scheduler::default();
        scheduler.open(1, priority(0, false), start);
        scheduler.open(3, priority(5, false), start);
        assert_eq!(scheduler.turn(1, start, None), Turn::Go);
        // Stream 1 has not sent for long, but the connection wrote just now (a slow link, its
        // buffered bytes still going out): 3 waits.
        let late = start + STALL * 50;
        let wrote = Some(late - STALL / 4);
        assert_eq!(scheduler.turn(3, late, wrote), Turn::Wait(late - STALL / 4 + STALL));
        // The connection has written nothing since, nor has stream 1 sent: 3 goes, and goes
        // on going while its own bytes keep the connection writing ...
        let later = late + STALL;
        assert_eq!(scheduler.turn(3, later, wrote), Turn::Go);
        scheduler.sent(3, later);
        assert_eq!(scheduler.turn(3, later + STALL, Some(later + STALL)), Turn::Go);
        // ... until stream 1 sends again.
        scheduler.sent(1, later + STALL);
        let again = later + STALL * 2;
        assert_eq!(scheduler.turn(3, again, Some(again)), Turn::Wait(again + STALL));
    }
}
