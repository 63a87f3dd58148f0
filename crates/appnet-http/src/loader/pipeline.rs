//! The pipelining client: several GETs written back to back on one HTTP/1.1 connection, the
//! responses read in the same order ([`super::framing`] tells them apart). What browsers once
//! tried and gave up on — one slow response holds up every one behind it — and what the lab
//! compares with parallel connections and HTTP/2.
//!
//! Requests can be written a few at a time as a document's scan finds them ([`Pipeline::send`])
//! and the responses read later, one by one ([`Pipeline::receive`]): the server works on the first while
//! the loader looks for the rest. Between writes, [`Pipeline::take_arrived`] reads what has
//! come without waiting, so each response is timed when it arrived, not when it was asked for.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadBuf};

use super::LoadError;
use super::connection::{self, Connected, Connector, Origin, Stream};
use super::framing::{Framer, Response};

/// Head bytes allowed per response beyond the bodies' budget.
const MOST_HEAD: u64 = 64 * 1024;

/// Reads [`Pipeline::take_arrived`] makes at most per call (of 64 KiB): a server sending a large
/// body while the loader scans does not keep it reading.
const MOST_EARLY_READS: usize = 16;

/// One response of a batch and when its parts arrived.
#[derive(Debug)]
pub struct Timed {
    /// The response.
    pub response: Response,
    /// From writing its request to the response's first bytes.
    pub wait: Duration,
    /// From its first bytes to its last.
    pub receive: Duration,
}

/// An open pipelining connection.
pub struct Pipeline {
    stream: Box<dyn Stream>,
    framer: Framer,
    authority: String,
    /// Whether the server said it will close after a response already read (or the
    /// connection broke).
    closing: bool,
    /// When each request not yet answered was written, oldest first.
    sent: VecDeque<Instant>,
    /// Responses read before [`Pipeline::receive`] asked for them.
    arrived: VecDeque<Timed>,
    /// When the response being read began: the first bytes after the one before it ended.
    began: Option<Instant>,
    /// Bytes read since the last [`Pipeline::receive`] returned.
    read_so_far: u64,
    /// How the connection broke, if it did, for [`Pipeline::receive`] to say.
    broken: Option<LoadError>,
    /// It broke off because the bodies passed the byte budget: asking again elsewhere would
    /// only fetch the same bytes again.
    over_budget: bool,
    buffer: Vec<u8>,
}

impl Pipeline {
    /// Connects to `origin` (HTTP/1.1 only, also over TLS): the pipeline, and what connecting
    /// cost (DNS, TCP, TLS).
    pub async fn open(
        origin: &Origin,
        authority: &str,
        tls: &Connector,
    ) -> Result<(Self, [Duration; 3]), LoadError> {
        let Connected { stream, dns, connect, tls, .. } =
            connection::connect(origin, false, tls).await?;
        let pipeline = Self {
            stream,
            framer: Framer::new(),
            authority: authority.to_owned(),
            closing: false,
            sent: VecDeque::new(),
            arrived: VecDeque::new(),
            began: None,
            read_so_far: 0,
            broken: None,
            over_budget: false,
            buffer: vec![0; 64 * 1024],
        };
        Ok((pipeline, [dns, connect, tls]))
    }

    /// A response already read and not yet asked for, if there is one (no reading).
    pub fn ready(&mut self) -> Option<Timed> {
        self.arrived.pop_front()
    }

    /// Whether the connection ended because the responses passed the byte budget.
    pub fn over_budget(&self) -> bool {
        self.over_budget
    }

    /// Whether the connection can take more requests.
    pub fn reusable(&self) -> bool {
        !self.closing
    }

    /// Writes a GET for every one of `targets` at once, behind any requests already written.
    /// An error leaves the connection unusable.
    pub async fn send(
        &mut self,
        targets: &[(String, Vec<(&'static str, String)>)],
        accept_encoding: &str,
    ) -> Result<(), LoadError> {
        let mut requests = String::new();
        for (target, conditions) in targets {
            requests.push_str(&format!(
                "GET {target} HTTP/1.1\r\nHost: {}\r\nAccept-Encoding: {accept_encoding}\r\n\
                 User-Agent: appnet/{}\r\n",
                self.authority,
                env!("CARGO_PKG_VERSION")
            ));
            for (name, value) in conditions {
                requests.push_str(&format!("{name}: {value}\r\n"));
            }
            requests.push_str("\r\n");
        }
        let written = async {
            self.stream.write_all(requests.as_bytes()).await?;
            self.stream.flush().await
        };
        if let Err(error) = written.await {
            self.closing = true;
            return Err(self.failed(&error));
        }
        let now = Instant::now();
        self.sent.extend(std::iter::repeat_n(now, targets.len()));
        Ok(())
    }

    /// Reads, without waiting, what the server has sent so far; the responses it completes are
    /// kept for [`Pipeline::receive`] with the times they arrived. A broken connection is
    /// kept to be said there.
    pub fn take_arrived(&mut self, max_bytes: u64) {
        let mut context = Context::from_waker(Waker::noop());
        for _ in 0..MOST_EARLY_READS {
            if self.closing || self.sent.is_empty() {
                return;
            }
            let mut buffer = ReadBuf::new(&mut self.buffer);
            let read = match Pin::new(&mut *self.stream).poll_read(&mut context, &mut buffer) {
                Poll::Pending => return,
                Poll::Ready(Ok(())) => buffer.filled().len(),
                Poll::Ready(Err(error)) => {
                    self.closing = true;
                    self.broken = Some(self.failed(&error));
                    return;
                }
            };
            if let Err(error) = self.take(read, Instant::now(), max_bytes) {
                self.closing = true;
                self.broken = Some(error);
                return;
            }
        }
    }

    /// Reads the response to the oldest request written and not yet answered; `None` when
    /// the server closed first (it may, after any response: the caller asks again for the
    /// rest on a new connection). More than `max_bytes` of bodies (and 64 KiB of head per
    /// response outstanding) read for it is an error: the framer holds a response whole until
    /// it ends.
    pub async fn receive(&mut self, max_bytes: u64) -> Result<Option<Timed>, LoadError> {
        let outcome = loop {
            if let Some(timed) = self.arrived.pop_front() {
                break Ok(Some(timed));
            }
            if let Some(error) = self.broken.take() {
                break Err(error);
            }
            if self.closing {
                break Ok(None);
            }
            let read = match self.stream.read(&mut self.buffer).await {
                Ok(read) => read,
                Err(error) => {
                    self.closing = true;
                    break Err(self.failed(&error));
                }
            };
            if let Err(error) = self.take(read, Instant::now(), max_bytes) {
                self.closing = true;
                break Err(error);
            }
        };
        self.read_so_far = 0;
        outcome
    }

    /// Takes `read` bytes just read into the buffer (0: the server closed) at `now`; more
    /// than `max_bytes` of bodies (and 64 KiB of head per response asked for) since the last
    /// [`Pipeline::receive`] is an error.
    fn take(&mut self, read: usize, now: Instant, max_bytes: u64) -> Result<(), LoadError> {
        self.read_so_far += read as u64;
        let most = max_bytes.saturating_add(MOST_HEAD * self.sent.len() as u64);
        if self.read_so_far > most {
            self.over_budget = true;
            return Err(self.failed(&format!("the bodies are longer than {max_bytes} bytes")));
        }
        let complete = if read == 0 {
            self.closing = true;
            self.framer.close().map(|last| last.into_iter().collect())
        } else {
            self.began.get_or_insert(now);
            self.framer.feed(&self.buffer[..read])
        };
        let complete = complete.map_err(|error| self.failed(&error))?;
        for response in complete {
            // A response still unasked for would be the server's error; it is not timed.
            let Some(sent) = self.sent.pop_front() else { break };
            // It began when the one before ended, or when its first bytes came if it was
            // asked for later than that.
            let began = self.began.unwrap_or(now).max(sent);
            if response.header("connection").is_some_and(|c| c.eq_ignore_ascii_case("close"))
                || response.minor_version == 0
            {
                self.closing = true;
            }
            self.arrived.push_back(Timed { response, wait: began - sent, receive: now - began });
            self.began = if self.sent.is_empty() { None } else { Some(now) };
        }
        Ok(())
    }

    fn failed(&self, error: &dyn std::fmt::Display) -> LoadError {
        LoadError::new(format!("{}: {error}", self.authority))
    }
}
