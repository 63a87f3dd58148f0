//! A lab client group fetching from the origin as a browser without a cache would: HTTP/1.1
//! keep-alive connections from the group's address, each taking the next URL as soon as its
//! last response is read. (The page loader of issue #7 will do this with every strategy.)

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpSocket;

use crate::LabError;

/// Longest a whole fetch may take.
const TIMEOUT: Duration = Duration::from_secs(120);

/// What a fetch got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fetched {
    /// From the first connect to the last byte.
    pub elapsed: Duration,
    /// Responses read (all 200).
    pub responses: usize,
    /// Body bytes read.
    pub bytes: u64,
}

/// GETs every one of `paths` from `origin` over `connections` connections made from `source`.
pub async fn fetch(
    source: IpAddr,
    origin: SocketAddr,
    paths: Vec<String>,
    connections: usize,
) -> Result<Fetched, LabError> {
    let started = Instant::now();
    let queue = Arc::new(Mutex::new(VecDeque::from(paths)));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..connections.max(1) {
        let queue = queue.clone();
        workers.spawn(connection(source, origin, queue));
    }
    let work = async {
        let (mut responses, mut bytes) = (0, 0);
        while let Some(done) = workers.join_next().await {
            let (count, size) = done.map_err(|e| LabError::new(e.to_string()))??;
            responses += count;
            bytes += size;
        }
        Ok::<_, LabError>((responses, bytes))
    };
    let (responses, bytes) = tokio::time::timeout(TIMEOUT, work)
        .await
        .map_err(|_| LabError::new(format!("fetching from {origin} took over {TIMEOUT:?}")))??;
    Ok(Fetched { elapsed: started.elapsed(), responses, bytes })
}

/// An HTTP/1.1 keep-alive connection to `server` made from `source` (Nagle off), its driver
/// running in a task of its own.
pub(crate) async fn keep_alive(
    source: IpAddr,
    server: SocketAddr,
) -> Result<hyper::client::conn::http1::SendRequest<Empty<Bytes>>, LabError> {
    let failed = |what: &str, error: &dyn std::fmt::Display| {
        LabError::new(format!("{what} {server} from {source}: {error}"))
    };
    let socket = if source.is_ipv4() { TcpSocket::new_v4() } else { TcpSocket::new_v6() }
        .map_err(|e| failed("socket for", &e))?;
    socket.bind(SocketAddr::new(source, 0)).map_err(|e| failed("bind to reach", &e))?;
    let stream = socket.connect(server).await.map_err(|e| failed("connect to", &e))?;
    stream.set_nodelay(true).map_err(|e| failed("set up", &e))?;
    let (sender, driver) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| failed("HTTP/1.1 with", &e))?;
    tokio::spawn(driver);
    Ok(sender)
}

/// One keep-alive connection taking paths from `queue` until it is empty: (responses, bytes).
async fn connection(
    source: IpAddr,
    origin: SocketAddr,
    queue: Arc<Mutex<VecDeque<String>>>,
) -> Result<(usize, u64), LabError> {
    let next = || queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner).pop_front();
    let Some(mut path) = next() else { return Ok((0, 0)) };
    let failed = |what: &str, error: &dyn std::fmt::Display| {
        LabError::new(format!("{what} {origin} from {source}: {error}"))
    };
    let mut sender = keep_alive(source, origin).await?;
    let authority = origin.to_string();
    let (mut responses, mut bytes) = (0, 0);
    loop {
        sender.ready().await.map_err(|e| failed("keep-alive with", &e))?;
        let request = Request::get(path.as_str())
            .header(hyper::header::HOST, authority.as_str())
            .body(Empty::<Bytes>::new())
            .map_err(|e| failed("request to", &e))?;
        let response = sender.send_request(request).await.map_err(|e| failed("GET from", &e))?;
        if response.status() != StatusCode::OK {
            return Err(LabError::new(format!("{path}: {} from the origin", response.status())));
        }
        let body = response.into_body().collect().await.map_err(|e| failed("body from", &e))?;
        bytes += body.to_bytes().len() as u64;
        responses += 1;
        match next() {
            Some(following) => path = following,
            None => return Ok((responses, bytes)),
        }
    }
}
