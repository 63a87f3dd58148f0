//! The loader in pipelined mode: one connection per host, every request for it written without
//! waiting for the responses before it, the responses read back in order.
//!
//! A document's resources are written a few at a time as its scan finds them, on the
//! connection the document came by (what a pipelining browser's preload scanner did): the
//! server answers the first while the loader looks for the rest. On the 50-resource bench
//! page the scan takes ~130 µs cold, about a tenth of the load, which the server spent idle
//! when the whole scan's requests went out in one write after it. A host with no open
//! connection gets its requests as one batch when the scan is done.

use std::collections::HashMap;
use std::time::Duration;

use hyper::header;

use super::super::LoadError;
use super::super::connection::Origin;
use super::super::pipeline::{Pipeline, Timed};
use super::{Loader, SCAN_BATCH, Wanted, make_entry};

/// A connection and its number in the load.
type Pipes = HashMap<Origin, (Pipeline, usize)>;

/// Requests written ahead on a kept connection: each with when it was written.
type InFlight = Vec<(Origin, Vec<(Wanted, Duration)>)>;

/// Adds `items` to `origin`'s group, in order (hosts are few: a list, in the order first met).
fn by_host<T>(
    groups: &mut Vec<(Origin, Vec<T>)>,
    origin: Origin,
    items: impl IntoIterator<Item = T>,
) {
    match groups.iter_mut().find(|(o, _)| *o == origin) {
        Some((_, group)) => group.extend(items),
        None => groups.push((origin, items.into_iter().collect())),
    }
}

impl Loader<'_> {
    /// Pipelining: what a document names is written to its host's open connection as the
    /// scan finds it; what has no open connection goes in a batch once the scan is done; the
    /// responses are read back in order, then what they revealed is fetched, and so on. A
    /// server that closes early gets the rest on a new connection.
    pub(super) async fn run_pipelined(&mut self) -> Result<(), LoadError> {
        let mut pipes: Pipes = HashMap::new();
        loop {
            let (in_flight, later) = self.scan_and_send(&mut pipes).await?;
            if in_flight.is_empty() && later.is_empty() {
                break;
            }
            let mut batches: Vec<(Origin, Vec<Wanted>)> = Vec::new();
            let mut in_flight = std::collections::VecDeque::from(in_flight);
            while let Some((origin, sent)) = in_flight.pop_front() {
                // What the other hosts have sent already is recorded before waiting on this
                // one: a load its timeout cuts short keeps it.
                for (other, waiting) in &mut in_flight {
                    self.record_ready(&mut pipes, other, waiting)?;
                }
                let unanswered = self.receive_sent(&mut pipes, &origin, sent).await?;
                if !unanswered.is_empty() {
                    batches.push((origin, unanswered));
                }
            }
            for wanted in later {
                let origin = Origin::of(&wanted.found.url)?;
                by_host(&mut batches, origin, [wanted]);
            }
            for (origin, batch) in batches {
                self.exchange_batch(&mut pipes, &origin, batch).await?;
            }
        }
        Ok(())
    }

    /// Scans the documents waiting, writing what they name to open connections a few at a
    /// time: those requests by host, and the requests for hosts with no open connection.
    async fn scan_and_send(
        &mut self,
        pipes: &mut Pipes,
    ) -> Result<(InFlight, Vec<Wanted>), LoadError> {
        let mut in_flight: InFlight = Vec::new();
        let mut later = Vec::new();
        loop {
            let scanning = self.scan(SCAN_BATCH);
            let mut now: Vec<(Origin, Vec<Wanted>)> = Vec::new();
            for wanted in std::mem::take(&mut self.queue) {
                let Some(wanted) = self.through_cache(wanted)? else { continue };
                let origin = Origin::of(&wanted.found.url)?;
                if !pipes.get(&origin).is_some_and(|(pipe, _)| pipe.reusable()) {
                    later.push(wanted);
                    continue;
                }
                by_host(&mut now, origin, [wanted]);
            }
            for (origin, batch) in now {
                let Some((pipe, _)) = pipes.get_mut(&origin) else { continue };
                let targets: Vec<_> = batch.iter().map(|w| self.target(w)).collect();
                let at = self.start.elapsed();
                if pipe.send(&targets, self.options.accept_encoding).await.is_err() {
                    // A kept connection gone: these go on a new one after the scan.
                    later.extend(batch);
                    continue;
                }
                by_host(&mut in_flight, origin, batch.into_iter().map(|w| (w, at)));
            }
            if !scanning {
                return Ok((in_flight, later));
            }
            // What came while scanning is timed as it came.
            let budget = self.options.max_bytes.saturating_sub(self.bytes);
            for (pipe, _) in pipes.values_mut() {
                pipe.take_arrived(budget);
            }
        }
    }

    /// Records the responses `origin`'s connection has already read, the first of `sent`
    /// they answer taken off it.
    fn record_ready(
        &mut self,
        pipes: &mut Pipes,
        origin: &Origin,
        sent: &mut Vec<(Wanted, Duration)>,
    ) -> Result<(), LoadError> {
        let Some((pipe, id)) = pipes.get_mut(origin) else { return Ok(()) };
        let id = *id;
        while !sent.is_empty() {
            let Some(timed) = pipe.ready() else { break };
            let (wanted, at) = sent.remove(0);
            self.record_timed(wanted, timed, id, at, None)?;
        }
        Ok(())
    }

    /// Reads the responses to `sent`, written ahead on `origin`'s kept connection; what it
    /// did not answer (it closed or broke) is handed back to be asked again on a new one.
    async fn receive_sent(
        &mut self,
        pipes: &mut Pipes,
        origin: &Origin,
        sent: Vec<(Wanted, Duration)>,
    ) -> Result<Vec<Wanted>, LoadError> {
        let Some((pipe, id)) = pipes.get_mut(origin) else {
            return Ok(sent.into_iter().map(|(w, _)| w).collect());
        };
        let id = *id;
        let mut sent = std::collections::VecDeque::from(sent);
        // One at a time, each recorded as it comes: a load its timeout cuts short keeps
        // what had arrived.
        let mut over_budget = None;
        while !sent.is_empty() {
            let budget = self.options.max_bytes.saturating_sub(self.bytes);
            let timed = match pipe.receive(budget).await {
                Ok(timed) => timed,
                // Past the byte budget: the rest fail here rather than on a new connection.
                Err(error) if pipe.over_budget() => {
                    over_budget = Some(error);
                    None
                }
                Err(_) => None,
            };
            let Some(timed) = timed else { break };
            let Some((wanted, at)) = sent.pop_front() else { break };
            self.record_timed(wanted, timed, id, at, None)?;
        }
        if !pipe.reusable() {
            pipes.remove(origin);
        }
        let unanswered = sent.into_iter().map(|(w, _)| w).collect();
        if let Some(error) = over_budget {
            self.fail_all(unanswered, &error)?;
            return Ok(Vec::new());
        }
        Ok(unanswered)
    }

    /// Writes `batch` to `origin`'s connection, opening one if there is none or the kept one
    /// closed, and reads the responses; a server closing early gets the rest on a new
    /// connection. Persistent mode sends batches of one.
    pub(super) async fn exchange_batch(
        &mut self,
        pipes: &mut Pipes,
        origin: &Origin,
        mut batch: Vec<Wanted>,
    ) -> Result<(), LoadError> {
        while !batch.is_empty() {
            let started = self.start.elapsed();
            let mut costs = None;
            if !pipes.get(origin).is_some_and(|(p, _)| p.reusable()) {
                let url = &batch[0].found.url;
                let authority = &url[url::Position::BeforeHost..url::Position::AfterPort];
                self.opened += 1;
                match Pipeline::open(origin, authority, &self.tls).await {
                    Ok((pipe, opening)) => {
                        pipes.insert(origin.clone(), (pipe, self.opened));
                        costs = Some(opening);
                    }
                    Err(error) => {
                        self.unopened += 1;
                        return self.fail_all(batch, &error);
                    }
                }
            }
            let Some((pipe, id)) = pipes.get_mut(origin) else { break };
            let id = *id;
            let targets: Vec<_> = batch.iter().map(|w| self.target(w)).collect();
            let sent = self.start.elapsed();
            let mut pending = std::collections::VecDeque::from(std::mem::take(&mut batch));
            let mut answered = 0;
            let outcome = match pipe.send(&targets, self.options.accept_encoding).await {
                Err(error) => Err(Some(error)),
                // One at a time, each recorded as it comes (see `receive_sent`).
                Ok(()) => loop {
                    if pending.is_empty() {
                        break Ok(());
                    }
                    let budget = self.options.max_bytes.saturating_sub(self.bytes);
                    match pipe.receive(budget).await {
                        Ok(Some(timed)) => {
                            let Some(wanted) = pending.pop_front() else { break Ok(()) };
                            // The first request of a batch on a new connection paid for it.
                            let opening = costs.filter(|_| answered == 0);
                            let at = if opening.is_some() { started } else { sent };
                            self.record_timed(wanted, timed, id, at, opening)?;
                            answered += 1;
                        }
                        // The server closed before answering the rest.
                        Ok(None) => break Err(None),
                        Err(error) => break Err(Some(error)),
                    }
                },
            };
            batch = pending.into();
            let over_budget = pipe.over_budget();
            match outcome {
                Ok(()) => {}
                // Past the byte budget: asking again elsewhere would fetch the same bytes.
                Err(Some(error)) if over_budget => {
                    pipes.remove(origin);
                    return self.fail_all(batch, &error);
                }
                // Some answered, then the connection ended: the rest on a new one. Or a kept
                // connection that broke, or had been closed, before answering (the server's
                // idle close crossing the batch): a new one is opened and asked again.
                Err(_) if answered > 0 || costs.is_none() => {
                    pipes.remove(origin);
                }
                // A new connection that answered nothing: what it did not answer fails.
                Err(None) => {
                    pipes.remove(origin);
                    let error = LoadError::new("no response: the server closed the connection");
                    return self.fail_all(batch, &error);
                }
                Err(Some(error)) => {
                    pipes.remove(origin);
                    return self.fail_all(batch, &error);
                }
            }
        }
        Ok(())
    }

    /// Records `wanted`'s response `timed`, read on connection `id`, asked for at `at`
    /// (or, with `opening`'s DNS, connect and TLS times, when that connection's opening
    /// began).
    fn record_timed(
        &mut self,
        wanted: Wanted,
        timed: Timed,
        id: usize,
        at: Duration,
        opening: Option<[Duration; 3]>,
    ) -> Result<(), LoadError> {
        let response = &timed.response;
        let header = |name: header::HeaderName| response.header(name.as_str()).map(str::to_owned);
        let protocol = if response.minor_version == 0 { "HTTP/1.0" } else { "HTTP/1.1" };
        let made = make_entry(
            &wanted,
            id,
            (response.status, protocol),
            header,
            (response.body.len() as u64, Some(&response.body)),
            (timed.wait, timed.receive),
            self.options.max_bytes,
        );
        let made = made.map(|(mut entry, body)| {
            entry.started = at;
            if let Some([dns, connect, tls]) = opening {
                (entry.dns, entry.connect, entry.tls) = (dns, connect, tls);
            }
            (entry, body)
        });
        self.record(wanted, made)
    }

    /// `wanted`'s request target and conditional fields: origin form, or absolute form for
    /// plain HTTP through a proxy.
    fn target(&self, wanted: &Wanted) -> (String, Vec<(&'static str, String)>) {
        let url = &wanted.found.url;
        let target = if self.tls.proxied() && url.scheme() == "http" {
            &url[..url::Position::AfterQuery]
        } else {
            &url[url::Position::BeforePath..url::Position::AfterQuery]
        };
        (target.to_owned(), wanted.conditions.clone())
    }
}
