//! The pipelining client: several GETs written back to back on one HTTP/1.1 connection, the
//! responses read in the same order ([`super::framing`] tells them apart). What browsers once
//! tried and gave up on — one slow response holds up every one behind it — and what the lab
//! compares with parallel connections and HTTP/2.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::LoadError;
use super::connection::{self, Connected, Connector, Origin, Stream};
use super::framing::{Framer, Response};

/// One response of a batch and when its parts arrived.
#[derive(Debug)]
pub struct Timed {
    /// The response.
    pub response: Response,
    /// From writing the batch to the response's first bytes.
    pub wait: Duration,
    /// From its first bytes to its last.
    pub receive: Duration,
}

/// An open pipelining connection.
pub struct Pipeline {
    stream: Box<dyn Stream>,
    framer: Framer,
    authority: String,
    /// Whether the server said it will close after a response already read.
    closing: bool,
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
        let pipeline =
            Self { stream, framer: Framer::new(), authority: authority.to_owned(), closing: false };
        Ok((pipeline, [dns, connect, tls]))
    }

    /// Whether the connection can take another batch.
    pub fn reusable(&self) -> bool {
        !self.closing
    }

    /// Writes a GET for every one of `targets` (origin-form paths) at once, then reads the
    /// responses in order. Fewer come back than asked when the server closes early (it may,
    /// after any response): the caller asks again for the rest on a new connection. More than
    /// `max_bytes` of bodies (and 64 KiB of head per response) is an error: the framer holds
    /// a response whole until it ends.
    pub async fn exchange(
        &mut self,
        targets: &[(String, Vec<(&'static str, String)>)],
        accept_encoding: &str,
        max_bytes: u64,
    ) -> Result<Vec<Timed>, LoadError> {
        let most = max_bytes.saturating_add(64 * 1024 * targets.len() as u64);
        let mut read_so_far = 0u64;
        let authority = self.authority.clone();
        let failed = |e: &dyn std::fmt::Display| LoadError::new(format!("{authority}: {e}"));
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
        let sent = Instant::now();
        self.stream.write_all(requests.as_bytes()).await.map_err(|e| failed(&e))?;
        self.stream.flush().await.map_err(|e| failed(&e))?;
        let mut done = Vec::with_capacity(targets.len());
        let mut buffer = vec![0; 64 * 1024];
        // A response's first bytes come right after the one before it ends.
        let mut first_bytes: Option<Instant> = None;
        while done.len() < targets.len() && !self.closing {
            let read = match self.stream.read(&mut buffer).await {
                Ok(read) => read,
                Err(error) => return self.cut_short(done, failed(&error)),
            };
            read_so_far += read as u64;
            if read_so_far > most {
                let error = failed(&format!("the bodies are longer than {max_bytes} bytes"));
                return self.cut_short(done, error);
            }
            let now = Instant::now();
            let complete = if read == 0 {
                self.closing = true;
                self.framer.close().map(|last| last.into_iter().collect())
            } else {
                first_bytes.get_or_insert(now);
                self.framer.feed(&buffer[..read])
            };
            let complete = match complete {
                Ok(complete) => complete,
                Err(error) => return self.cut_short(done, failed(&error)),
            };
            for response in complete {
                let began = first_bytes.unwrap_or(now);
                if response.header("connection").is_some_and(|c| c.eq_ignore_ascii_case("close"))
                    || response.minor_version == 0
                {
                    self.closing = true;
                }
                done.push(Timed { response, wait: began - sent, receive: now - began });
                first_bytes = Some(now);
            }
        }
        Ok(done)
    }

    /// The connection broke, or sent what cannot be read, after the responses `done`: it is
    /// not used again; those are kept (the caller asks again for the rest on a new
    /// connection), and with none the error is the batch's.
    fn cut_short(&mut self, done: Vec<Timed>, error: LoadError) -> Result<Vec<Timed>, LoadError> {
        self.closing = true;
        if done.is_empty() { Err(error) } else { Ok(done) }
    }
}
