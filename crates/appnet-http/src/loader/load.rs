//! The loader's driver: fetch the document, discover what it needs, fetch that by the mode's
//! rules — which connections may be opened, reused or shared — discover again in each
//! stylesheet, until nothing is left; every request timed by phase.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant, SystemTime};

use http_body_util::{BodyExt, Empty};
use hyper::{Request, Version, header};
use url::Url;

use super::cache::{Lookup, PrivateCache};
use super::connection::{self, Connector, Http1, Http2, Opened, Origin, Sender, Trust};
use super::discover::{Found, HtmlScan, Kind};
use super::mode::Mode;
use super::record::{Entry, PageLoad};
use super::styles::Styles;
use super::{LoadError, decode};

mod persistent;
mod pipelined;

/// What a load may do.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// The strategy.
    pub mode: Mode,
    /// Which certificates to believe.
    pub trust: Trust,
    /// Requests at most (the document and its redirects included).
    pub max_resources: usize,
    /// Body bytes at most, over the wire, for the whole page.
    pub max_bytes: u64,
    /// The whole load at most.
    pub timeout: Duration,
    /// Each step of opening a connection (resolving, TCP, a proxy's tunnel, TLS) at most.
    pub connect_timeout: Duration,
    /// Redirects followed at most for one resource.
    pub max_redirects: usize,
    /// The Accept-Encoding sent: [`COMPRESSED`] or `identity`.
    pub accept_encoding: &'static str,
    /// The DNS server to resolve names through; `None`: the system's resolver.
    pub resolver: Option<std::net::SocketAddr>,
    /// A forward proxy every request goes through (`http://host:port`).
    pub proxy: Option<Origin>,
}

/// What the loader accepts by default, best first.
pub const COMPRESSED: &str = "br, zstd, gzip";

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            mode: Mode::Parallel(super::mode::DEFAULT_PARALLEL),
            trust: Trust::System,
            max_resources: 500,
            max_bytes: 256 << 20,
            timeout: Duration::from_secs(60),
            connect_timeout: connection::CONNECT_TIMEOUT,
            max_redirects: 10,
            accept_encoding: COMPRESSED,
            resolver: None,
            proxy: None,
        }
    }
}

/// Loads the page at `url`.
pub async fn load(url: &Url, options: &LoadOptions) -> Result<PageLoad, LoadError> {
    Ok(load_cached(url, options, PrivateCache::off()).await?.0)
}

/// Loads the page at `url` through the private `cache` (fresh copies used, stale ones
/// revalidated), and returns the cache with what this load stored.
pub async fn load_cached(
    url: &Url,
    options: &LoadOptions,
    cache: PrivateCache,
) -> Result<(PageLoad, PrivateCache), LoadError> {
    let mut loader = Loader::new(options, cache)?;
    match tokio::time::timeout(options.timeout, loader.run(url)).await {
        Ok(done) => done?,
        // What came in before the time ran out is kept, as a browser's network log keeps it;
        // what did not is an entry saying so. Without the document there is nothing to show.
        Err(_) => loader.out_of_time()?,
    }
    Ok(loader.page(url))
}

/// The response fields the entries keep (the HAR lists them; the private cache reads them).
const KEPT_HEADERS: [header::HeaderName; 10] = [
    header::CACHE_CONTROL,
    header::EXPIRES,
    header::DATE,
    header::AGE,
    header::ETAG,
    header::LAST_MODIFIED,
    header::VARY,
    header::CONTENT_TYPE,
    header::CONTENT_ENCODING,
    header::LOCATION,
];

/// A connection of the load.
struct Conn {
    id: usize,
    origin: Origin,
    sender: Sender,
}

/// A resource waiting for a connection.
struct Wanted {
    found: Found,
    queued: Duration,
    redirects: usize,
    /// Fields making the request conditional (revalidating a stale cached copy).
    conditions: Vec<(&'static str, String)>,
    /// Tried once already on a kept-alive connection that died unanswered.
    retried: bool,
}

/// What a request task hands back.
struct Done {
    conn: Option<Conn>,
    wanted: Wanted,
    entry: Result<(Entry, Option<Vec<u8>>), LoadError>,
    /// The server ended the HTTP/1 connection after this response (`Connection: close`, or
    /// HTTP/1.0 without keep-alive): it no longer counts, and is not used again.
    closed: bool,
    /// The request went on a reused connection that died before answering: try again.
    retry: bool,
    /// The connection opened for it could not be made: it does not count as opened.
    unopened: bool,
}

impl Done {
    /// A request that failed before it had a connection.
    fn failed(wanted: Wanted, error: LoadError) -> Self {
        Self { conn: None, wanted, entry: Err(error), closed: false, retry: false, unopened: false }
    }
}

struct Loader<'a> {
    options: &'a LoadOptions,
    tls: Connector,
    start: Instant,
    entries: Vec<Entry>,
    seen: HashSet<Url>,
    queue: VecDeque<Wanted>,
    idle: HashMap<Origin, Vec<Conn>>,
    open: HashMap<Origin, usize>,
    opened: usize,
    bytes: u64,
    requests: usize,
    cache: PrivateCache,
    started_at: SystemTime,
    /// Documents still being scanned for resources.
    scans: VecDeque<HtmlScan>,
    /// Resources found once the caps were reached.
    not_fetched: usize,
    /// Connections opened that could not be made.
    unopened: usize,
    /// The stylesheets' backgrounds and fonts, held until every stylesheet is in.
    styles: Styles,
    /// Stylesheets asked for and not yet recorded.
    sheets_outstanding: usize,
    /// The page's document, for matching the stylesheets' rules.
    document: Option<Vec<u8>>,
    /// Its frames' documents, matched too.
    frames: Vec<Vec<u8>>,
    /// Every resource asked for, and when: what the timeout finds unanswered is recorded.
    asked: Vec<(Found, Duration)>,
    /// The load's timeout ran out.
    timed_out: bool,
}

/// Resources taken from a document's scan at a time before the connections get to write the
/// requests made for them: the server starts on a page's first resources while the loader
/// is still finding the rest.
const SCAN_BATCH: usize = 8;

impl<'a> Loader<'a> {
    fn new(options: &'a LoadOptions, cache: PrivateCache) -> Result<Self, LoadError> {
        Ok(Self {
            options,
            tls: Connector::new(&options.trust, options.resolver, options.proxy.clone())?
                .with_connect_timeout(options.connect_timeout),
            start: Instant::now(),
            entries: Vec::new(),
            seen: HashSet::new(),
            queue: VecDeque::new(),
            idle: HashMap::new(),
            open: HashMap::new(),
            opened: 0,
            bytes: 0,
            requests: 0,
            cache,
            started_at: SystemTime::now(),
            scans: VecDeque::new(),
            not_fetched: 0,
            unopened: 0,
            styles: Styles::new(),
            sheets_outstanding: 0,
            document: None,
            frames: Vec::new(),
            asked: Vec::new(),
            timed_out: false,
        })
    }

    async fn run(&mut self, url: &Url) -> Result<(), LoadError> {
        if url.scheme() == "https" {
            self.tls.prepare()?;
        }
        self.started_at = SystemTime::now();
        self.start = Instant::now();
        self.want(Found { url: url.clone(), kind: Kind::Document }, 0);
        match self.options.mode {
            Mode::Pipelined => self.run_pipelined().await,
            Mode::Persistent => self.run_persistent().await,
            _ => self.run_tasks().await,
        }
    }

    /// The load cut short by its timeout (the requests in flight dropped with [`Self::run`]):
    /// every resource asked for and not answered becomes a failed entry saying so. An error
    /// if the document itself had not come.
    fn out_of_time(&mut self) -> Result<(), LoadError> {
        let limit = self.options.timeout;
        if self.document.is_none() {
            let url =
                self.asked.first().map_or_else(String::new, |(found, _)| found.url.to_string());
            return Err(LoadError::new(format!("{url}: the page took longer than {limit:?}")));
        }
        // By count: a URL can be asked for twice (a redirect to a resource the page names).
        let mut answered: HashMap<&str, usize> = HashMap::new();
        for entry in &self.entries {
            *answered.entry(entry.url.as_str()).or_default() += 1;
        }
        let at = self.start.elapsed();
        let unanswered: Vec<Entry> = self
            .asked
            .iter()
            .filter(|(found, _)| match answered.get_mut(found.url.as_str()) {
                Some(left) if *left > 0 => {
                    *left -= 1;
                    false
                }
                _ => true,
            })
            .map(|(found, queued)| {
                let error = format!("{}: unfinished when the page's {limit:?} ran out", found.url);
                Entry::failed(found.url.as_str(), found.kind, *queued, at, error)
            })
            .collect();
        self.entries.extend(unanswered);
        self.timed_out = true;
        Ok(())
    }

    /// The load as it ended, and the cache as it left it.
    fn page(mut self, url: &Url) -> (PageLoad, PrivateCache) {
        let plt = self.entries.iter().map(Entry::finished).max().unwrap_or_default();
        // In the order the requests were made (they finish in another).
        self.entries.sort_by_key(|e| (e.started, e.queued));
        let page = PageLoad {
            url: url.to_string(),
            mode: self.options.mode.to_string(),
            plt,
            entries: self.entries,
            // Attempts that never became a connection (refused, unreachable) are not counted.
            connections: self.opened - self.unopened,
            bytes: self.bytes,
            not_fetched: self.not_fetched,
            timed_out: self.timed_out,
            started_at: self.started_at,
        };
        (page, self.cache)
    }

    /// `wanted` as the cache leaves it: `None` when a fresh copy answered it (recorded here),
    /// else the request to make, conditional when a stale copy can be revalidated.
    fn through_cache(&mut self, mut wanted: Wanted) -> Result<Option<Wanted>, LoadError> {
        if self.cache.is_off() {
            return Ok(Some(wanted));
        }
        match self.cache.lookup(&wanted.found.url, SystemTime::now()) {
            Lookup::Miss => Ok(Some(wanted)),
            Lookup::Revalidate(conditions) => {
                wanted.conditions = conditions;
                Ok(Some(wanted))
            }
            Lookup::Fresh(cached) => {
                let at = self.start.elapsed();
                let header = |name: &str| cached.stored.headers.get(name).map(str::to_owned);
                let status = cached.stored.status;
                let entry = Entry {
                    url: wanted.found.url.to_string(),
                    kind: wanted.found.kind,
                    status,
                    protocol: "cache".to_owned(),
                    connection: 0,
                    queued: wanted.queued,
                    started: at,
                    dns: Duration::ZERO,
                    connect: Duration::ZERO,
                    tls: Duration::ZERO,
                    wait: Duration::ZERO,
                    receive: Duration::ZERO,
                    bytes: 0,
                    decoded_bytes: cached.size,
                    content_type: header("content-type"),
                    content_encoding: header("content-encoding"),
                    redirect: header("location").filter(|_| (300..400).contains(&status)),
                    cache: Some("fresh"),
                    headers: cached.stored.headers.0.clone(),
                    request_headers: Vec::new(),
                    error: None,
                };
                self.record(wanted, Ok((entry, cached.body)))?;
                Ok(None)
            }
        }
    }

    /// Every mode but pipelining: a task per request, on the connections the mode allows.
    async fn run_tasks(&mut self) -> Result<(), LoadError> {
        let mut tasks = tokio::task::JoinSet::new();
        loop {
            let scanning = self.scan(SCAN_BATCH);
            while let Some(wanted) = self.queue.pop_front() {
                let Some(wanted) = self.through_cache(wanted)? else { continue };
                match self.dispatch(wanted, tasks.len()) {
                    Ok(task) => {
                        task.spawn_on(&mut tasks, self.start, self.fetch());
                    }
                    Err(wanted) => {
                        self.queue.push_front(*wanted);
                        break;
                    }
                }
            }
            if scanning {
                // The requests just made go out (and the finished come back) before the scan
                // goes on.
                tokio::task::yield_now().await;
                while let Some(done) = tasks.try_join_next() {
                    self.finish(*done.map_err(|e| LoadError::new(e.to_string()))?)?;
                }
                continue;
            }
            let Some(done) = tasks.join_next().await else { break };
            let done = done.map_err(|e| LoadError::new(e.to_string()))?;
            self.finish(*done)?;
        }
        Ok(())
    }

    /// Takes up to `most` resources from the documents being scanned into the queue; whether
    /// any scan has more.
    fn scan(&mut self, most: usize) -> bool {
        let mut taken = 0;
        while taken < most {
            let Some(scan) = self.scans.front_mut() else { return false };
            match scan.next() {
                Some(found) => {
                    let first = scan.handed() == 1;
                    self.want(found, 0);
                    taken += 1;
                    if first {
                        // A document's first resource is requested on its own, at once: the
                        // server would otherwise sit idle while the scan finds the next seven.
                        break;
                    }
                }
                None => {
                    if let Some(mut done) = self.scans.pop_front() {
                        for (base, sheet) in done.take_inline_styles() {
                            for import in self.styles.add(&base, &sheet) {
                                self.want(import, 0);
                            }
                        }
                    }
                    self.styles_if_ready();
                }
            }
        }
        !self.scans.is_empty()
    }

    /// Once the documents are scanned and every stylesheet is in, as a browser's style
    /// recalculation: the backgrounds and fonts of the rules that apply to the document.
    fn styles_if_ready(&mut self) {
        if self.sheets_outstanding > 0 || !self.scans.is_empty() || !self.styles.has_pending() {
            return;
        }
        let mut documents: Vec<&[u8]> = vec![self.document.as_deref().unwrap_or_default()];
        documents.extend(self.frames.iter().map(Vec::as_slice));
        for found in self.styles.resolve_in(&documents) {
            self.want(found, 0);
        }
    }

    /// Records every one of `batch` as failed with `error` (the load fails if the document
    /// is among them).
    fn fail_all(&mut self, batch: Vec<Wanted>, error: &LoadError) -> Result<(), LoadError> {
        for wanted in batch {
            self.record(wanted, Err(error.clone()))?;
        }
        Ok(())
    }

    /// Keeps a fetched response in the cache, or on a 304 freshens the stored copy and takes
    /// its body for discovery.
    fn remember(&mut self, wanted: &Wanted, entry: &mut Entry, body: &mut Option<Vec<u8>>) {
        if entry.cache.is_some() || self.cache.is_off() {
            return;
        }
        let url = &wanted.found.url;
        let sent = self.started_at + entry.started + entry.dns + entry.connect + entry.tls;
        let received = sent + entry.wait + entry.receive;
        if entry.status == 304 && !wanted.conditions.is_empty() {
            self.cache.freshen(url, &entry.headers, sent, received);
            entry.cache = Some("revalidated");
            if matches!(wanted.found.kind, Kind::Document | Kind::Frame | Kind::Stylesheet) {
                *body = self.cache.body(url).cloned();
            }
            return;
        }
        let stored = appnet_cache::freshness::Stored {
            request_time: sent,
            response_time: received,
            status: entry.status,
            headers: appnet_cache::Headers(entry.headers.clone()),
            // A browser's cache obeys no targeted field (RFC 9213 fields are for CDNs).
            targeted: None,
        };
        self.cache.store(url, stored, body.clone(), entry.decoded_bytes);
    }

    /// What a request made now shares with the others: the body bytes left of the page's
    /// budget among them.
    fn fetch(&self) -> Fetch {
        Fetch {
            max_bytes: self.options.max_bytes.saturating_sub(self.bytes),
            accept_encoding: self.options.accept_encoding,
            proxied: self.tls.proxied(),
        }
    }

    /// Queues `found` unless seen, or past the caps (then counted as not fetched).
    fn want(&mut self, found: Found, redirects: usize) {
        if redirects == 0 && self.seen.contains(&found.url) {
            return;
        }
        if self.requests >= self.options.max_resources || self.bytes >= self.options.max_bytes {
            self.not_fetched += 1;
            return;
        }
        if redirects == 0 {
            self.seen.insert(found.url.clone());
        }
        if found.kind == Kind::Stylesheet {
            self.sheets_outstanding += 1;
        }
        self.requests += 1;
        let queued = self.start.elapsed();
        self.asked.push((found.clone(), queued));
        let conditions = Vec::new();
        self.queue.push_back(Wanted { found, queued, redirects, conditions, retried: false });
    }

    /// A task fetching `wanted` on a connection the mode allows now, or `wanted` back when it
    /// must wait for one.
    fn dispatch(&mut self, wanted: Wanted, in_flight: usize) -> Result<Task, Box<Wanted>> {
        let Ok(origin) = Origin::of(&wanted.found.url) else {
            let error = LoadError::new(format!("{}: no host", wanted.found.url));
            return Ok(Task::Failed(wanted, error));
        };
        let mode = self.options.mode;
        let idle = self.idle.entry(origin.clone()).or_default();
        // Connections that ended while pooled (an HTTP/2 GOAWAY, an HTTP/1 server's idle
        // timeout) leave the pool and no longer count.
        let before = idle.len();
        idle.retain_mut(|c| match &mut c.sender {
            Sender::Http2(h2) => !h2.is_closed(),
            Sender::Http1(http1) => http1.still_usable(),
        });
        let ended = before - idle.len();
        if ended > 0 {
            let open = self.open.entry(origin.clone()).or_default();
            *open = open.saturating_sub(ended);
        }
        // An HTTP/2 connection takes every request at once; it stays in the pool until it ends.
        let shared = idle.iter().find_map(|c| match &c.sender {
            Sender::Http2(h2) => Some((c.id, h2.clone())),
            Sender::Http1(_) => None,
        });
        if let Some((id, h2)) = shared {
            // Sent here, not in the task: every request dispatched in this turn goes out in
            // the connection's next write.
            let started = self.start.elapsed();
            let sent = send_h2(&h2, &wanted, self.options.accept_encoding);
            return Ok(Task::Shared { id, started, sent, wanted });
        }
        if let Some(conn) = idle.pop() {
            return Ok(Task::Reuse { conn, wanted });
        }
        let open = self.open.entry(origin.clone()).or_default();
        let may_open =
            *open < mode.connections_per_host() && (mode != Mode::Http10 || in_flight == 0);
        if !may_open {
            return Err(Box::new(wanted));
        }
        *open += 1;
        self.opened += 1;
        let task = Task::Open {
            id: self.opened,
            origin,
            h2: mode == Mode::H2,
            http10: mode == Mode::Http10,
            tls: self.tls.clone(),
            wanted,
        };
        Ok(task)
    }

    /// Records a finished request, returns its connection to the pool, and queues what it
    /// pointed to: a redirect's target, a document's or stylesheet's resources.
    fn finish(&mut self, done: Done) -> Result<(), LoadError> {
        let Done { conn, mut wanted, entry, closed, retry, unopened } = done;
        self.unopened += usize::from(unopened);
        if let Some(conn) = conn {
            if self.options.mode == Mode::Http10 {
                *self.open.entry(conn.origin.clone()).or_default() -= 1;
            } else {
                self.idle.entry(conn.origin.clone()).or_default().push(conn);
            }
        } else if let Ok(origin) = Origin::of(&wanted.found.url) {
            // The connection broke, could not be opened, or was closed: it no longer counts.
            if entry.is_err() || closed {
                let open = self.open.entry(origin).or_default();
                *open = open.saturating_sub(1);
            }
        }
        if retry && !wanted.retried {
            // As browsers do: a request on a kept-alive connection that died before answering
            // (the server's idle timeout racing the request) goes again, once, on another.
            wanted.retried = true;
            self.queue.push_front(wanted);
            return Ok(());
        }
        self.record(wanted, entry)
    }

    /// Keeps a finished request's entry and queues what it pointed to.
    fn record(
        &mut self,
        wanted: Wanted,
        entry: Result<(Entry, Option<Vec<u8>>), LoadError>,
    ) -> Result<(), LoadError> {
        let recorded = self.record_entry(wanted, entry);
        if recorded.is_ok() {
            self.styles_if_ready();
        }
        recorded
    }

    fn record_entry(
        &mut self,
        wanted: Wanted,
        entry: Result<(Entry, Option<Vec<u8>>), LoadError>,
    ) -> Result<(), LoadError> {
        if wanted.found.kind == Kind::Stylesheet {
            self.sheets_outstanding = self.sheets_outstanding.saturating_sub(1);
        }
        let (mut entry, mut body) = match entry {
            Ok(done) => done,
            // The document (or a redirect on its way) failing fails the load; a resource
            // failing is an entry that says why, as in a browser's network log.
            Err(error) if wanted.found.kind == Kind::Document => return Err(error),
            Err(error) => {
                let Wanted { found, queued, .. } = wanted;
                let at = self.start.elapsed();
                // Named by its URL, which a connection's error does not say.
                let mut error = error.to_string();
                if !error.starts_with(found.url.as_str()) {
                    error = format!("{}: {error}", found.url);
                }
                let entry = Entry::failed(found.url.as_str(), found.kind, queued, at, error);
                self.entries.push(entry);
                return Ok(());
            }
        };
        if entry.cache != Some("fresh") {
            let http2 = entry.protocol == "HTTP/2.0";
            let fields = request_fields(&wanted, self.options.accept_encoding, http2);
            entry.request_headers = fields.into_iter().map(|(n, v)| (n.to_owned(), v)).collect();
        }
        self.bytes += entry.bytes;
        self.remember(&wanted, &mut entry, &mut body);
        if let Some(location) = &entry.redirect {
            if wanted.redirects >= self.options.max_redirects {
                let url = &wanted.found.url;
                let most = self.options.max_redirects;
                let error = format!("{url}: too many redirects (followed {most})");
                if wanted.found.kind == Kind::Document {
                    return Err(LoadError::new(error));
                }
                entry.error = Some(error);
                self.entries.push(entry);
                return Ok(());
            }
            if let Ok(target) = wanted.found.url.join(location) {
                let found = Found { url: target, kind: wanted.found.kind };
                self.want(found, wanted.redirects + 1);
            }
        } else if let Some(body) = body {
            // The entry's URL is this one's text: no parsing it back (~20 µs, cold).
            let url = &wanted.found.url;
            match wanted.found.kind {
                // Scanned a few resources at a time by the fetching loop.
                Kind::Document => {
                    // The page's own document (not a redirect's body) is what rules match.
                    if self.document.is_none() {
                        self.document = Some(body.clone());
                    }
                    self.scans.push_back(HtmlScan::new(url, body));
                }
                // A frame's document: scanned for its own resources, its elements matched by
                // the stylesheets' rules with the page's.
                Kind::Frame => {
                    self.frames.push(body.clone());
                    self.scans.push_back(HtmlScan::new(url, body));
                }
                Kind::Stylesheet => {
                    for import in self.styles.add(url, &String::from_utf8_lossy(&body)) {
                        self.want(import, 0);
                    }
                }
                _ => {}
            }
        }
        self.entries.push(entry);
        Ok(())
    }
}

/// What every request of a load shares.
#[derive(Debug, Clone, Copy)]
struct Fetch {
    max_bytes: u64,
    accept_encoding: &'static str,
    /// Plain-HTTP requests go to a proxy: absolute form.
    proxied: bool,
}

/// One request's work, run as its own task.
enum Task {
    Open {
        id: usize,
        origin: Origin,
        h2: bool,
        http10: bool,
        tls: Connector,
        wanted: Wanted,
    },
    Reuse {
        conn: Conn,
        wanted: Wanted,
    },
    /// Already sent on a shared HTTP/2 connection (at `started`).
    Shared {
        id: usize,
        started: Duration,
        sent: Result<(h2::client::ResponseFuture, Instant), LoadError>,
        wanted: Wanted,
    },
    Failed(Wanted, LoadError),
}

impl Task {
    /// Runs the task in `tasks`. A request already sent on a shared HTTP/2 connection (most
    /// of an h2 page) gets a future of its own, a third the size of one that may open a
    /// connection or drive HTTP/1: a task's future is copied into it when spawned and its
    /// state copied again when it ends. On a 2,000-image page over h2 (callgrind) that cut
    /// the loader's `memcpy` by a quarter and its instructions by 5 %.
    fn spawn_on(self, tasks: &mut tokio::task::JoinSet<Box<Done>>, start: Instant, fetch: Fetch) {
        match self {
            Self::Shared { id, started, sent, wanted } => {
                tasks.spawn(shared(id, started, sent, wanted, fetch.max_bytes));
            }
            task => {
                tasks.spawn(async move { Box::new(task.run(start, fetch).await) });
            }
        }
    }

    async fn run(self, start: Instant, fetch: Fetch) -> Done {
        let started = start.elapsed();
        match self {
            Self::Failed(wanted, error) => Done::failed(wanted, error),
            Self::Open { id, origin, h2, http10, tls, wanted } => {
                // Boxed: opening (DNS, TCP, TLS) is this task's largest state, needed once per
                // connection, not per request.
                let opened = match Box::pin(connection::open(&origin, h2, &tls)).await {
                    Ok(opened) => opened,
                    Err(error) => return Done { unopened: true, ..Done::failed(wanted, error) },
                };
                let Opened { sender, dns, connect, tls } = opened;
                let mut conn = Conn { id, origin, sender };
                let result = request(&mut conn.sender, id, &wanted, http10, fetch).await;
                let entry = result.map(|(mut entry, body)| {
                    entry.started = started;
                    (entry.dns, entry.connect, entry.tls) = (dns, connect, tls);
                    entry.queued = wanted.queued;
                    (entry, body)
                });
                let (conn, closed) = still_open(conn, &entry);
                Done { conn, wanted, entry, closed, retry: false, unopened: false }
            }
            // Only HTTP/1.1 connections are reused (HTTP/1.0 ones close after one response).
            Self::Reuse { mut conn, wanted } => {
                let result = request(&mut conn.sender, conn.id, &wanted, false, fetch).await;
                let entry = result.map(|(mut entry, body)| {
                    (entry.started, entry.queued) = (started, wanted.queued);
                    (entry, body)
                });
                let retry = matches!(&entry, Err(error) if error.is_unanswered());
                let (conn, closed) = still_open(conn, &entry);
                Done { conn, wanted, entry, closed, retry, unopened: false }
            }
            Self::Shared { id, started, sent, wanted } => {
                *shared(id, started, sent, wanted, fetch.max_bytes).await
            }
        }
    }
}

/// The response to a request sent (at `started`) on the shared HTTP/2 connection `id`.
async fn shared(
    id: usize,
    started: Duration,
    sent: Result<(h2::client::ResponseFuture, Instant), LoadError>,
    wanted: Wanted,
    max_bytes: u64,
) -> Box<Done> {
    let result = match sent {
        Ok((response, sent)) => receive_h2(response, sent, id, &wanted, max_bytes).await,
        Err(error) => Err(error),
    };
    let entry = result.map(|(mut entry, body)| {
        (entry.started, entry.queued) = (started, wanted.queued);
        (entry, body)
    });
    Box::new(Done { conn: None, wanted, entry, closed: false, retry: false, unopened: false })
}

/// `conn` back for the pool after `entry`, unless the request failed or the server closes the
/// connection after this response; and whether it does.
fn still_open(
    conn: Conn,
    entry: &Result<(Entry, Option<Vec<u8>>), LoadError>,
) -> (Option<Conn>, bool) {
    let reusable = match &conn.sender {
        Sender::Http1(http1) => http1.reusable(),
        Sender::Http2(h2) => !h2.is_closed(),
    };
    match entry {
        Ok(_) if reusable => (Some(conn), false),
        Ok(_) => (None, true),
        Err(_) => (None, false),
    }
}

/// Whether the server closes the connection after a response with `headers` in `version`
/// (RFC 9112 §9.3): after `Connection: close`, and after HTTP/1.0 unless `keep-alive`.
fn closes_connection(headers: &hyper::HeaderMap, version: Version) -> bool {
    let mut tokens = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim);
    let mut keep_alive = false;
    for token in tokens.by_ref() {
        if token.eq_ignore_ascii_case("close") {
            return true;
        }
        keep_alive |= token.eq_ignore_ascii_case("keep-alive");
    }
    version == Version::HTTP_10 && !keep_alive
}

const USER_AGENT: &str = concat!("appnet/", env!("CARGO_PKG_VERSION"));

/// The fields of the request for `wanted`, in the order they are sent — what the HAR lists
/// as the request's headers. HTTP/1 names the host in `Host` (HTTP/2 in `:authority`); HTTP/2
/// also carries the `Priority` a browser sends for the resource's kind, so a server that
/// orders its responses by it (ours does) sends stylesheets and scripts before images here
/// too. The pipelining client writes the same HTTP/1 fields.
fn request_fields(
    wanted: &Wanted,
    accept_encoding: &'static str,
    http2: bool,
) -> Vec<(&'static str, String)> {
    let url = &wanted.found.url;
    let mut fields = Vec::with_capacity(4 + wanted.conditions.len());
    if !http2 {
        fields.push(("host", url[url::Position::BeforeHost..url::Position::AfterPort].to_owned()));
    }
    fields.push(("accept-encoding", accept_encoding.to_owned()));
    fields.push(("user-agent", USER_AGENT.to_owned()));
    fields.extend(wanted.conditions.iter().cloned());
    if let Some(priority) = wanted.found.kind.priority_field().filter(|_| http2) {
        fields.push(("priority", priority.to_owned()));
    }
    fields
}

/// GET `wanted` on `sender`: the entry (phases from sending on) and, for documents and
/// stylesheets, the decoded body.
async fn request(
    sender: &mut Sender,
    connection: usize,
    wanted: &Wanted,
    http10: bool,
    Fetch { max_bytes, accept_encoding, proxied }: Fetch,
) -> Result<(Entry, Option<Vec<u8>>), LoadError> {
    let conn = match sender {
        Sender::Http1(conn) => conn,
        Sender::Http2(h2) => {
            let (response, sent) = send_h2(h2, wanted, accept_encoding)?;
            return receive_h2(response, sent, connection, wanted, max_bytes).await;
        }
    };
    let url = &wanted.found.url;
    // To a proxy, a plain-HTTP request names the whole URL (RFC 9112 §3.2.2).
    let target = if proxied && url.scheme() == "http" {
        &url[..url::Position::AfterQuery]
    } else {
        &url[url::Position::BeforePath..url::Position::AfterQuery]
    };
    let failed = |error: &dyn std::fmt::Display| LoadError::new(format!("{url}: {error}"));
    let mut builder = Request::get(target);
    for (name, value) in request_fields(wanted, accept_encoding, false) {
        builder = builder.header(name, value);
    }
    if http10 {
        builder = builder.version(Version::HTTP_10);
    }
    let request = builder.body(Empty::new()).map_err(|e| failed(&e))?;
    let sent = Instant::now();
    let Http1 { sender, io, closing } = conn;
    let send = async {
        sender.ready().await?;
        sender.send_request(request).await
    };
    // The connection's I/O runs in this task: no hand-over to another and back.
    let response = io.drive(send).await.map_err(|e| failed(&e).unanswered())?;
    let wait = sent.elapsed();
    let head_at = Instant::now();
    let (parts, mut body) = response.into_parts();
    *closing = closes_connection(&parts.headers, parts.version);
    let mut received = Received::for_head(wanted, &parts, max_bytes);
    let read = async {
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame.map_err(|e| e.to_string())?.into_data() {
                received.add(&data)?;
            }
        }
        Ok::<(), String>(())
    };
    io.drive(read).await.map_err(|e| failed(&e))?;
    let receive = head_at.elapsed();
    entry_of(wanted, connection, &parts, &received, (wait, receive), max_bytes)
}

/// Queues `wanted` on the HTTP/2 connection `h2` now: the response to wait for, and when the
/// request went.
fn send_h2(
    h2: &Http2,
    wanted: &Wanted,
    accept_encoding: &'static str,
) -> Result<(h2::client::ResponseFuture, Instant), LoadError> {
    let url = &wanted.found.url;
    let failed = |error: &dyn std::fmt::Display| LoadError::new(format!("{url}: {error}"));
    // HTTP/2 wants the absolute form: h2 makes :scheme and :authority of it.
    let mut builder = Request::get(url.as_str()).version(Version::HTTP_2);
    for (name, value) in request_fields(wanted, accept_encoding, true) {
        builder = builder.header(name, value);
    }
    let request = builder.body(()).map_err(|e| failed(&e))?;
    let sent = Instant::now();
    let response = h2.send(request).map_err(|e| failed(&e))?;
    Ok((response, sent))
}

/// The response to a request [`send_h2`] sent at `sent`, read to its end.
async fn receive_h2(
    response: h2::client::ResponseFuture,
    sent: Instant,
    connection: usize,
    wanted: &Wanted,
    max_bytes: u64,
) -> Result<(Entry, Option<Vec<u8>>), LoadError> {
    let url = &wanted.found.url;
    let failed = |error: &dyn std::fmt::Display| LoadError::new(format!("{url}: {error}"));
    let response = response.await.map_err(|e| {
        // Over http:// h2 is prior knowledge; a server that does not speak it answers the
        // preface with HTTP/1 bytes, which h2 reads as a malformed frame.
        if url.scheme() == "http" && e.is_library() && !e.is_reset() {
            let hint = "does the server speak HTTP/2 by prior knowledge (h2c)?";
            return failed(&format!("{e} ({hint})"));
        }
        failed(&e)
    })?;
    let wait = sent.elapsed();
    let head_at = Instant::now();
    let (parts, mut body) = response.into_parts();
    let mut received = Received::for_head(wanted, &parts, max_bytes);
    while let Some(chunk) = body.data().await {
        let chunk = chunk.map_err(|e| failed(&e))?;
        // Read: the window opens again (h2 sends the WINDOW_UPDATE when it is worth one).
        let _ = body.flow_control().release_capacity(chunk.len());
        received.add(&chunk).map_err(|e| failed(&e))?;
    }
    let receive = head_at.elapsed();
    entry_of(wanted, connection, &parts, &received, (wait, receive), max_bytes)
}

/// A response body as the loader takes it in: every byte counted, the bytes themselves kept
/// only when something will read them — a document or stylesheet is scanned for resources, a
/// coded body decoded to learn its size. An image's bytes are dropped as they arrive (gathering
/// them was the loader's largest cost after the server's).
struct Received {
    len: u64,
    kept: Option<Vec<u8>>,
    max: u64,
}

impl Received {
    /// For the response whose head is `parts`, at most `max` bytes.
    fn for_head(wanted: &Wanted, parts: &hyper::http::response::Parts, max: u64) -> Self {
        let coded = parts.headers.contains_key(header::CONTENT_ENCODING);
        let keep = coded || wants_body(wanted.found.kind, parts.status.as_u16());
        Self { len: 0, kept: keep.then(Vec::new), max }
    }

    fn add(&mut self, chunk: &[u8]) -> Result<(), String> {
        self.len += chunk.len() as u64;
        if self.len > self.max {
            return Err(format!("the body is longer than {} bytes", self.max));
        }
        if let Some(kept) = &mut self.kept {
            kept.extend_from_slice(chunk);
        }
        Ok(())
    }
}

/// Whether a response's body is scanned for more resources.
fn wants_body(kind: Kind, status: u16) -> bool {
    matches!(kind, Kind::Document | Kind::Frame | Kind::Stylesheet) && (200..300).contains(&status)
}

/// The entry for a response with head `parts` and body `received`.
fn entry_of(
    wanted: &Wanted,
    connection: usize,
    parts: &hyper::http::response::Parts,
    received: &Received,
    timings: (Duration, Duration),
    max_bytes: u64,
) -> Result<(Entry, Option<Vec<u8>>), LoadError> {
    let header = |name: header::HeaderName| {
        parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
    };
    let protocol = match parts.version {
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2.0",
        _ => "HTTP/1.1",
    };
    let status = (parts.status.as_u16(), protocol);
    let body = (received.len, received.kept.as_deref());
    make_entry(wanted, connection, status, header, body, timings, max_bytes)
}

/// The entry for `wanted`'s response, and for documents and stylesheets its decoded body.
fn make_entry(
    wanted: &Wanted,
    connection: usize,
    (status, protocol): (u16, &str),
    header: impl Fn(header::HeaderName) -> Option<String>,
    (bytes, body): (u64, Option<&[u8]>),
    (wait, receive): (Duration, Duration),
    max_bytes: u64,
) -> Result<(Entry, Option<Vec<u8>>), LoadError> {
    let url = &wanted.found.url;
    let content_encoding = header(header::CONTENT_ENCODING);
    let is_redirect = (300..400).contains(&status) && status != 304;
    let redirect = is_redirect.then(|| header(header::LOCATION)).flatten();
    let wants_body = wants_body(wanted.found.kind, status);
    let decoded = if wants_body || content_encoding.is_some() {
        let body = body.unwrap_or_default();
        let decoded = decode::decode(body, content_encoding.as_deref(), max_bytes);
        Some(decoded.map_err(|e| LoadError::new(format!("{url}: {e}")))?)
    } else {
        None
    };
    let entry = Entry {
        url: url.to_string(),
        kind: wanted.found.kind,
        status,
        protocol: protocol.to_owned(),
        connection,
        queued: wanted.queued,
        started: Duration::ZERO,
        dns: Duration::ZERO,
        connect: Duration::ZERO,
        tls: Duration::ZERO,
        wait,
        receive,
        bytes,
        decoded_bytes: decoded.as_ref().map_or(bytes, |d| d.len() as u64),
        content_type: header(header::CONTENT_TYPE),
        content_encoding,
        redirect,
        cache: None,
        headers: KEPT_HEADERS
            .iter()
            .filter_map(|name| header(name.clone()).map(|v| (name.as_str().to_owned(), v)))
            .collect(),
        request_headers: Vec::new(),
        error: None,
    };
    Ok((entry, decoded.filter(|_| wants_body)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each request runs as a task holding this future, so its size is copied per request;
    /// opening a connection (DNS, TCP, TLS: a large future) is boxed to keep it small.
    #[test]
    fn a_request_task_stays_small() {
        let wanted = || Wanted {
            found: Found { url: Url::parse("http://127.0.0.1/").unwrap(), kind: Kind::Image },
            queued: Duration::ZERO,
            redirects: 0,
            conditions: Vec::new(),
            retried: false,
        };
        let fetch = Fetch { max_bytes: 1, accept_encoding: "identity", proxied: false };
        let task = Task::Failed(wanted(), LoadError::new("test".to_owned()));
        let size = size_of_val(&task.run(Instant::now(), fetch));
        eprintln!("request task: {size} bytes");
        // 1.8 KiB with hyper's HTTP/1 connection in a task of its own, 2.7 KiB driving it here.
        assert!(size <= 3072, "{size} bytes");
        // Most of an h2 page's requests: under 1 KiB, a size glibc serves from its per-thread
        // cache (the larger ones go through malloc_consolidate, 2–3 % of a load's samples).
        let sent = Err(LoadError::new("test".to_owned()));
        let size = size_of_val(&shared(1, Duration::ZERO, sent, wanted(), 1));
        eprintln!("shared HTTP/2 request task: {size} bytes");
        assert!(size <= 900, "{size} bytes");
    }

    #[test]
    fn a_documents_first_resource_is_taken_alone_then_batches_follow() {
        let options = LoadOptions::default();
        let mut loader = Loader::new(&options, PrivateCache::off()).unwrap();
        let base = Url::parse("http://example.test/").unwrap();
        let page: String = (0..20).map(|i| format!("<img src=/i{i}.png>")).collect();
        loader.scans.push_back(HtmlScan::new(&base, page.into_bytes()));
        assert!(loader.scan(SCAN_BATCH), "more to come");
        assert_eq!(loader.queue.len(), 1, "the first alone");
        assert!(loader.scan(SCAN_BATCH));
        assert_eq!(loader.queue.len(), 1 + SCAN_BATCH, "then a batch");
        while loader.scan(SCAN_BATCH) {}
        assert_eq!(loader.queue.len(), 20, "and the rest");
    }
}
