//! Runs one [`Exchange`] on a tokio `UdpSocket` — the thin-driver half of the pattern.
//!
//! The driver owns the socket and the clock and nothing else: it reads tokio's clock (so it runs
//! under turmoil or a paused runtime too), hands the core `now`, sends what the core says, and
//! sleeps until the core's timeout. Every decision stays in the core.

use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use tokio::net::UdpSocket;

use crate::{Attempt, Exchange, Outcome, RetryConfig, RttEstimator};

/// Why an exchange produced no reply.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExchangeError {
    /// No acceptable reply to any attempt.
    #[error("no reply from {peer} after {attempts} attempts")]
    GaveUp {
        /// The peer asked.
        peer: SocketAddr,
        /// Attempts sent.
        attempts: u32,
    },
    /// The socket failed.
    #[error("socket error talking to {peer}: {source}")]
    Io {
        /// The peer asked.
        peer: SocketAddr,
        /// The error from the operating system.
        source: io::Error,
    },
}

/// A reply and what the exchange learned.
#[derive(Debug)]
pub struct Reply<T> {
    /// What `accept` made of the reply datagram.
    pub value: T,
    /// Attempts sent and the RTT sample, if any.
    pub outcome: Outcome,
}

/// Sends `request(attempt)` to `peer` until `accept` takes a datagram from `peer`, retrying per
/// `config` with the first timeout taken from `rtt`, which learns from the exchange.
///
/// `accept` returns `None` for datagrams that are not the reply (wrong ID, malformed: they are
/// ignored, the timer keeps running) or the value and, if it can tell, the attempt it answers.
pub async fn exchange<T>(
    socket: &UdpSocket,
    peer: SocketAddr,
    config: &RetryConfig,
    rtt: &mut RttEstimator,
    mut request: impl FnMut(Attempt) -> Vec<u8>,
    mut accept: impl FnMut(&[u8]) -> Option<(T, Option<u32>)>,
) -> Result<Reply<T>, ExchangeError> {
    let io_error = |source| ExchangeError::Io { peer, source };
    let mut core = Exchange::new(config, rtt.rto(), now());
    let mut buffer = vec![0; 65_535];
    loop {
        while let Some(attempt) = core.poll_transmit(now()) {
            socket.send_to(&request(attempt), peer).await.map_err(io_error)?;
        }
        if let Some(Outcome::GaveUp { attempts }) = core.poll_outcome() {
            return Err(ExchangeError::GaveUp { peer, attempts });
        }
        // The core is armed whenever it is neither finished nor due to send.
        let Some(wake) = core.poll_timeout() else {
            return Err(ExchangeError::GaveUp { peer, attempts: 0 });
        };
        tokio::select! {
            () = tokio::time::sleep_until(wake.into()) => core.handle_timeout(now()),
            received = socket.recv_from(&mut buffer) => {
                let (length, from) = received.map_err(io_error)?;
                if from != peer {
                    continue;
                }
                let Some((value, attempt)) = accept(&buffer[..length]) else { continue };
                if let Some(sample) = core.handle_response(attempt, now()) {
                    rtt.handle_sample(sample);
                }
                let outcome = core.poll_outcome().unwrap_or(Outcome::Answered { attempts: 1, rtt: None });
                return Ok(Reply { value, outcome });
            }
        }
    }
}

fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}
