//! The retransmission core over a simulated lossy link: the worked example of testing a sans-IO
//! core with `appnet_testkit::World`. Every time asserted here is exact, because the clock is
//! virtual and the loss comes from a seeded RNG.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use appnet_retransmit::{Exchange, Outcome, RetryConfig, RttEstimator};
use appnet_testkit::sim::{Datagram, Link, Node, World};

const MS: Duration = Duration::from_millis(1);

fn addr(host: u8) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, host], 5300))
}

/// A client that runs `remaining` exchanges one after another. Each attempt carries its
/// exchange and attempt number, so every reply is an unambiguous RTT sample.
struct Client {
    me: SocketAddr,
    server: SocketAddr,
    config: RetryConfig,
    rtt: RttEstimator,
    current: Option<(u16, Exchange)>,
    next_id: u16,
    remaining: usize,
    outcomes: Vec<Outcome>,
}

impl Client {
    fn new(remaining: usize, config: RetryConfig) -> Self {
        Self {
            me: addr(1),
            server: addr(2),
            config,
            rtt: RttEstimator::new(200 * MS, 10 * MS, 2000 * MS),
            current: None,
            next_id: 0,
            remaining,
            outcomes: Vec::new(),
        }
    }

    fn start_next(&mut self, now: Instant) {
        if self.current.is_none() && self.remaining > 0 {
            self.remaining -= 1;
            self.next_id += 1;
            self.current = Some((self.next_id, Exchange::new(&self.config, self.rtt.rto(), now)));
        }
    }

    fn finish_if_done(&mut self, now: Instant) {
        if let Some((_, exchange)) = &mut self.current {
            if let Some(outcome) = exchange.poll_outcome() {
                self.outcomes.push(outcome);
                self.current = None;
                self.start_next(now);
            }
        }
    }
}

impl Node for Client {
    fn handle_datagram(&mut self, now: Instant, datagram: Datagram) {
        let [id_hi, id_lo, attempt] = datagram.payload[..] else {
            return;
        };
        let Some((id, exchange)) = &mut self.current else {
            return;
        };
        if u16::from_be_bytes([id_hi, id_lo]) != *id {
            return; // a late reply to an earlier exchange
        }
        if let Some(sample) = exchange.handle_response(Some(u32::from(attempt)), now) {
            self.rtt.handle_sample(sample);
        }
        self.finish_if_done(now);
    }

    fn handle_timeout(&mut self, now: Instant) {
        if let Some((_, exchange)) = &mut self.current {
            exchange.handle_timeout(now);
        }
        self.finish_if_done(now);
    }

    fn poll_transmit(&mut self, now: Instant) -> Option<Datagram> {
        self.start_next(now);
        let (id, exchange) = self.current.as_mut()?;
        let attempt = exchange.poll_transmit(now)?;
        let [hi, lo] = id.to_be_bytes();
        let payload = vec![hi, lo, attempt.number as u8];
        Some(Datagram { from: self.me, to: self.server, payload })
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.current.as_ref().and_then(|(_, exchange)| exchange.poll_timeout())
    }
}

/// Echoes every datagram back to its sender.
#[derive(Default)]
struct Echo {
    outbox: Vec<Datagram>,
}

impl Node for Echo {
    fn handle_datagram(&mut self, _now: Instant, datagram: Datagram) {
        self.outbox.push(Datagram {
            from: datagram.to,
            to: datagram.from,
            payload: datagram.payload,
        });
    }
    fn handle_timeout(&mut self, _now: Instant) {}
    fn poll_transmit(&mut self, _now: Instant) -> Option<Datagram> {
        self.outbox.pop()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
}

fn world(seed: u64, client: Client, link: Link) -> World {
    let mut world = World::new(seed);
    world.set_default_link(link);
    world.add_node(addr(1), client);
    world.add_node(addr(2), Echo::default());
    world
}

fn client(world: &World) -> &Client {
    world.node::<Client>(addr(1))
}

#[test]
fn two_lost_requests_cost_two_backed_off_timeouts() {
    let mut world = world(1, Client::new(1, RetryConfig::default()), Link::with_latency(5 * MS));
    let mut dropped = 0;
    world.drop_where(move |d| {
        dropped += 1;
        d.to == addr(2) && dropped <= 2
    });
    assert!(world.run_until(Duration::from_secs(10), |w| client(w).outcomes.len() == 1));
    // 200 ms (first timeout) + 400 ms (doubled) + a 10 ms round trip for attempt 3.
    assert_eq!(world.elapsed(), 610 * MS);
    assert_eq!(client(&world).outcomes, [Outcome::Answered { attempts: 3, rtt: Some(10 * MS) }]);
}

#[test]
fn gives_up_when_the_server_is_gone() {
    let mut world = world(1, Client::new(1, RetryConfig::default()), Link::with_latency(5 * MS));
    world.drop_where(|_| true);
    assert!(world.run_until(Duration::from_secs(10), |w| client(w).outcomes.len() == 1));
    assert_eq!(client(&world).outcomes, [Outcome::GaveUp { attempts: 3 }]);
    assert_eq!(world.elapsed(), (200 + 400 + 800) * MS);
}

#[test]
fn rto_learns_the_path_and_loss_is_recovered() {
    let link = Link { latency: 20 * MS, jitter: 4 * MS, loss: 0.2 };
    let config = RetryConfig { max_attempts: 6, ..RetryConfig::default() };
    let mut world = world(42, Client::new(300, config), link);
    assert!(world.run_until(Duration::from_secs(3600), |w| client(w).outcomes.len() == 300));

    let outcomes = &client(&world).outcomes;
    let answered = outcomes.iter().filter(|o| matches!(o, Outcome::Answered { .. })).count();
    let retried =
        outcomes.iter().filter(|o| matches!(o, Outcome::Answered { attempts: 2.., .. })).count();
    // With 20 % loss each way, about 36 % of attempts fail; all six fail 0.2 % of the time.
    assert!(answered >= 297, "answered {answered} of 300");
    assert!((60..=160).contains(&retried), "retried {retried}");
    let srtt = client(&world).rtt.smoothed().expect("samples taken");
    assert!((40 * MS..=48 * MS).contains(&srtt), "srtt {srtt:?}");
    assert!(client(&world).rtt.rto() < 80 * MS, "rto {:?}", client(&world).rtt.rto());
}
