//! A simulated datagram network for sans-IO cores: virtual time, latency, loss, a seeded RNG.
//!
//! Each endpoint under test is wrapped in a [`Node`] (a few lines in the test: forward to the
//! core's `handle_*` and `poll_*`). [`World::step`] then does what a network and a clock would:
//! it collects every datagram the nodes want to send, decides per link whether it is lost and
//! when it arrives, jumps the clock to the next arrival or timer — whichever is first — and
//! delivers it. Nothing sleeps, and the same seed gives the same run, bit for bit.

use std::any::Any;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// One datagram on the simulated network.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Datagram {
    /// Sender.
    pub from: SocketAddr,
    /// Receiver.
    pub to: SocketAddr,
    /// The bytes.
    pub payload: Vec<u8>,
}

/// An endpoint in the simulation: a sans-IO core behind a uniform face.
pub trait Node: Any {
    /// A datagram arrived for this node at `now`.
    fn handle_datagram(&mut self, now: Instant, datagram: Datagram);
    /// The time this node asked for in [`poll_timeout`](Self::poll_timeout) has come.
    fn handle_timeout(&mut self, now: Instant);
    /// The next datagram this node wants to send, if any.
    fn poll_transmit(&mut self, now: Instant) -> Option<Datagram>;
    /// When this node wants [`handle_timeout`](Self::handle_timeout) to be called.
    fn poll_timeout(&self) -> Option<Instant>;
}

/// Delay and loss on the path from one address to another.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Link {
    /// One-way delay.
    pub latency: Duration,
    /// Extra delay, uniform in `0..=jitter`, per datagram.
    pub jitter: Duration,
    /// Probability in `0.0..=1.0` that a datagram is lost.
    pub loss: f64,
}

impl Link {
    /// A lossless link with a fixed one-way delay.
    pub fn with_latency(latency: Duration) -> Self {
        Self { latency, jitter: Duration::ZERO, loss: 0.0 }
    }
}

/// What happened to a datagram, for assertions and for printing a trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Delivered at `at`.
    Delivered {
        /// Arrival time, as time since the world started.
        at: Duration,
        /// The datagram.
        datagram: Datagram,
    },
    /// Lost on its link (or dropped by a rule) when sent at `at`.
    Lost {
        /// Send time, as time since the world started.
        at: Duration,
        /// The datagram.
        datagram: Datagram,
    },
}

type DropRule = Box<dyn FnMut(&Datagram) -> bool>;

/// The simulated network and clock.
pub struct World {
    start: Instant,
    now: Instant,
    rng: ChaCha8Rng,
    nodes: BTreeMap<SocketAddr, Box<dyn Node>>,
    default_link: Link,
    links: HashMap<(SocketAddr, SocketAddr), Link>,
    in_flight: BinaryHeap<Reverse<(Instant, u64, Datagram)>>,
    sequence: u64,
    drop_rule: Option<DropRule>,
    events: Vec<Event>,
}

impl World {
    /// An empty world whose randomness all comes from `seed`; links default to 10 ms, lossless.
    pub fn new(seed: u64) -> Self {
        // The real clock is read once, as an origin; every later instant is origin + offset.
        let start = Instant::now();
        Self {
            start,
            now: start,
            rng: ChaCha8Rng::seed_from_u64(seed),
            nodes: BTreeMap::new(),
            default_link: Link::with_latency(Duration::from_millis(10)),
            links: HashMap::new(),
            in_flight: BinaryHeap::new(),
            sequence: 0,
            drop_rule: None,
            events: Vec::new(),
        }
    }

    /// Adds a node reachable at `addr`.
    pub fn add_node(&mut self, addr: SocketAddr, node: impl Node) {
        self.nodes.insert(addr, Box::new(node));
    }

    /// The node at `addr`, as its concrete type. Panics if there is none of that type.
    pub fn node<T: Node>(&self, addr: SocketAddr) -> &T {
        let node: &dyn Any = self.nodes.get(&addr).expect("no node at that address").as_ref();
        node.downcast_ref().expect("node has another type")
    }

    /// The node at `addr`, mutably.
    pub fn node_mut<T: Node>(&mut self, addr: SocketAddr) -> &mut T {
        let node: &mut dyn Any =
            self.nodes.get_mut(&addr).expect("no node at that address").as_mut();
        node.downcast_mut().expect("node has another type")
    }

    /// Sets the link used where no specific one is set.
    pub fn set_default_link(&mut self, link: Link) {
        self.default_link = link;
    }

    /// Sets the link for datagrams from `from` to `to` (one direction).
    pub fn set_link(&mut self, from: SocketAddr, to: SocketAddr, link: Link) {
        self.links.insert((from, to), link);
    }

    /// Drops every datagram for which `rule` returns true, besides random loss (e.g. "the first
    /// two queries", or a partition).
    pub fn drop_where(&mut self, rule: impl FnMut(&Datagram) -> bool + 'static) {
        self.drop_rule = Some(Box::new(rule));
    }

    /// The current virtual time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Virtual time since the world started.
    pub fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    /// Every delivery and loss so far, in order.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// Advances to the next event (an arrival or a timer) and handles it. Returns false when
    /// nothing is left to happen: no datagram in flight and no timer armed.
    pub fn step(&mut self) -> bool {
        self.collect_transmits();
        let next_arrival = self.in_flight.peek().map(|Reverse((at, _, _))| *at);
        let next_timer = self.nodes.values().filter_map(|node| node.poll_timeout()).min();
        let next = match (next_arrival, next_timer) {
            (None, None) => return false,
            (Some(a), Some(t)) => a.min(t),
            (Some(a), None) => a,
            (None, Some(t)) => t,
        };
        self.now = self.now.max(next);
        if next_arrival == Some(next) {
            // Checked by the peek above.
            let Some(Reverse((_, _, datagram))) = self.in_flight.pop() else { unreachable!() };
            self.deliver(datagram);
        } else {
            let now = self.now;
            for node in self.nodes.values_mut() {
                if node.poll_timeout().is_some_and(|t| t <= now) {
                    node.handle_timeout(now);
                }
            }
        }
        self.collect_transmits();
        true
    }

    /// Steps until `done` holds or nothing is left to happen; then returns whether `done` holds.
    /// Stops with false after `limit` of virtual time, so a livelocked protocol fails the test.
    pub fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&Self) -> bool) -> bool {
        let deadline = self.now + limit;
        while !done(self) {
            if self.now > deadline || !self.step() {
                return done(self);
            }
        }
        true
    }

    fn collect_transmits(&mut self) {
        let now = self.now;
        let mut sent = Vec::new();
        for node in self.nodes.values_mut() {
            while let Some(datagram) = node.poll_transmit(now) {
                sent.push(datagram);
            }
        }
        for datagram in sent {
            self.send(datagram);
        }
    }

    fn send(&mut self, datagram: Datagram) {
        let link = *self.links.get(&(datagram.from, datagram.to)).unwrap_or(&self.default_link);
        let ruled_out = self.drop_rule.as_mut().is_some_and(|rule| rule(&datagram));
        let lost = ruled_out || (link.loss > 0.0 && self.rng.random_bool(link.loss.min(1.0)));
        if lost {
            self.events.push(Event::Lost { at: self.elapsed(), datagram });
            return;
        }
        let jitter = if link.jitter.is_zero() {
            Duration::ZERO
        } else {
            let nanos = u64::try_from(link.jitter.as_nanos()).unwrap_or(u64::MAX);
            Duration::from_nanos(self.rng.random_range(0..=nanos))
        };
        self.sequence += 1;
        self.in_flight.push(Reverse((self.now + link.latency + jitter, self.sequence, datagram)));
    }

    fn deliver(&mut self, datagram: Datagram) {
        let at = self.elapsed();
        match self.nodes.get_mut(&datagram.to) {
            Some(node) => {
                node.handle_datagram(self.now, datagram.clone());
                self.events.push(Event::Delivered { at, datagram });
            }
            // Nobody there: like a closed UDP port, the datagram vanishes.
            None => self.events.push(Event::Lost { at, datagram }),
        }
    }
}

impl std::fmt::Debug for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("World")
            .field("elapsed", &self.elapsed())
            .field("nodes", &self.nodes.keys().collect::<Vec<_>>())
            .field("in_flight", &self.in_flight.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sends one ping at start and counts the pongs; the peer answers every ping.
    struct Pinger {
        me: SocketAddr,
        peer: SocketAddr,
        outbox: Vec<Datagram>,
        received: Vec<(Instant, Vec<u8>)>,
        wake: Option<Instant>,
    }

    impl Node for Pinger {
        fn handle_datagram(&mut self, now: Instant, datagram: Datagram) {
            if datagram.payload == b"ping" {
                self.outbox.push(Datagram {
                    from: self.me,
                    to: datagram.from,
                    payload: b"pong".to_vec(),
                });
            }
            self.received.push((now, datagram.payload));
        }
        fn handle_timeout(&mut self, _now: Instant) {
            self.wake = None;
            self.outbox.push(Datagram { from: self.me, to: self.peer, payload: b"ping".to_vec() });
        }
        fn poll_transmit(&mut self, _now: Instant) -> Option<Datagram> {
            self.outbox.pop()
        }
        fn poll_timeout(&self) -> Option<Instant> {
            self.wake
        }
    }

    fn addr(n: u8) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, n], 5300))
    }

    fn world_with_pair(seed: u64) -> World {
        let mut world = World::new(seed);
        let wake = Some(world.now() + Duration::from_millis(5));
        for (me, peer, wake) in [(addr(1), addr(2), wake), (addr(2), addr(1), None)] {
            world.add_node(me, Pinger { me, peer, outbox: vec![], received: vec![], wake });
        }
        world
    }

    #[test]
    fn round_trip_takes_twice_the_latency_in_virtual_time() {
        let mut world = world_with_pair(1);
        world.set_link(addr(2), addr(1), Link::with_latency(Duration::from_millis(30)));
        assert!(world.run_until(Duration::from_secs(1), |w| {
            !w.node::<Pinger>(addr(1)).received.is_empty()
        }));
        assert_eq!(world.elapsed(), Duration::from_millis(5 + 10 + 30));
        assert_eq!(world.events().len(), 2);
        assert!(!world.step(), "nothing left to do");
    }

    #[test]
    fn drop_rule_loses_matching_datagrams() {
        let mut world = world_with_pair(1);
        world.drop_where(|d| d.payload == b"ping");
        world.run_until(Duration::from_secs(1), |_| false);
        assert!(matches!(world.events(), [Event::Lost { .. }]));
        assert!(world.node::<Pinger>(addr(2)).received.is_empty());
    }

    #[test]
    fn same_seed_same_run() {
        let run = |seed| {
            let mut world = world_with_pair(seed);
            let link = Link {
                latency: Duration::from_millis(10),
                jitter: Duration::from_millis(50),
                loss: 0.3,
            };
            world.set_default_link(link);
            for _ in 0..50 {
                world.node_mut::<Pinger>(addr(1)).wake = Some(world.now());
                world.run_until(Duration::from_secs(1), |_| false);
            }
            world.events().to_vec()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }
}
