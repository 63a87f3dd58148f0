//! The tokio driver of `appnet dig`: finds the servers, sends the query over UDP (retried by
//! `appnet_retransmit`) or TCP, retries over TCP when the answer is truncated, and prints.
//!
//! Every decision about the message and the output is in the pure modules beside this one.

use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant, SystemTime};

use appnet_retransmit::driver::{self, ExchangeError};
use appnet_retransmit::{RetryConfig, RttEstimator};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use super::present::{self, Received};
use super::request::{build_query, is_answer};
use super::{DigOptions, Family, resolv_conf};

/// dig's exit status: 0 when a response was printed (whatever its RCODE), 1 for a bad command
/// line, 9 when no server answered, 10 for an internal error.
pub mod exit {
    /// A response arrived and was printed.
    pub const ANSWERED: u8 = 0;
    /// The command line could not be read.
    pub const USAGE: u8 = 1;
    /// No server answered.
    pub const NO_REPLY: u8 = 9;
    /// Something else went wrong (no usable server address, a malformed response).
    pub const INTERNAL: u8 = 10;
}

/// Runs the query `options` describes and writes dig's output to `out`, diagnostics to `err`.
/// `command_line` is echoed in the banner. Returns dig's exit status.
pub async fn run(
    options: &DigOptions,
    command_line: &str,
    out: &mut impl Write,
    err: &mut impl Write,
) -> io::Result<u8> {
    let Some(Targets { servers, server_name, banner }) =
        targets(options, command_line, err).await?
    else {
        return Ok(exit::INTERNAL);
    };
    // dig prints its banner with the answer (or the failure), after any retry notes.
    let query = build_query(options, rand::random());
    for server in servers {
        let name = server_name.clone().unwrap_or_else(|| server.ip().to_string());
        match ask(options, &query, server, out).await {
            Ok((response, tcp, elapsed)) => {
                let received = Received {
                    response: &response,
                    server,
                    server_name: &name,
                    tcp,
                    elapsed,
                    when: SystemTime::now(),
                };
                return match present::render(options, &received) {
                    Ok(text) => {
                        out.write_all(banner.as_bytes())?;
                        out.write_all(text.as_bytes())?;
                        Ok(exit::ANSWERED)
                    }
                    Err(error) => {
                        writeln!(err, ";; {error}")?;
                        Ok(exit::INTERNAL)
                    }
                };
            }
            Err(error) => writeln!(err, ";; {error}")?,
        }
    }
    out.write_all(banner.as_bytes())?;
    writeln!(out, ";; connection timed out; no servers could be reached")?;
    Ok(exit::NO_REPLY)
}

/// The servers a query goes to, and dig's banner for them.
pub(crate) struct Targets {
    /// In the order to try them.
    pub(crate) servers: Vec<SocketAddr>,
    /// `@SERVER` as given, if it was.
    pub(crate) server_name: Option<String>,
    /// The banner (empty with `+short` or `+nocmd`).
    pub(crate) banner: String,
}

/// The servers `options` names (or the system's) and the banner; `None` once the reason there
/// are none is written to `err`.
pub(crate) async fn targets(
    options: &DigOptions,
    command_line: &str,
    err: &mut impl Write,
) -> io::Result<Option<Targets>> {
    match servers(options).await {
        Ok((servers, server_name)) => {
            let found = options.server.as_ref().map(|_| servers.len());
            let banner = present::banner(options, command_line, found);
            Ok(Some(Targets { servers, server_name, banner }))
        }
        Err(message) => {
            writeln!(err, "dig: {message}")?;
            Ok(None)
        }
    }
}

/// The servers to ask, with the name the user gave for them.
pub(crate) async fn servers(
    options: &DigOptions,
) -> Result<(Vec<SocketAddr>, Option<String>), String> {
    let port = options.port;
    let (addresses, name) = match &options.server {
        Some(server) => {
            let bare = server.trim_start_matches('[').trim_end_matches(']');
            let addresses = match bare.parse::<IpAddr>() {
                Ok(ip) => vec![SocketAddr::new(ip, port)],
                Err(_) => tokio::net::lookup_host((bare, port))
                    .await
                    .map_err(|error| format!("couldn't get address for '{server}': {error}"))?
                    .collect(),
            };
            (addresses, Some(server.clone()))
        }
        None => {
            let text = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
            let mut found = resolv_conf::nameservers(&text);
            if found.is_empty() {
                found = resolv_conf::fallback();
            }
            (found.into_iter().map(|ip| SocketAddr::new(ip, port)).collect(), None)
        }
    };
    let usable: Vec<SocketAddr> = addresses
        .into_iter()
        .filter(|address| match options.family {
            Some(Family::V4) => address.is_ipv4(),
            Some(Family::V6) => address.is_ipv6(),
            None => true,
        })
        .collect();
    if usable.is_empty() {
        return Err("no usable server address (check @SERVER, -4 and -6)".to_owned());
    }
    Ok((usable, name))
}

/// Asks one server: UDP with retries (then TCP if truncated), or TCP alone with `+tcp`.
pub(crate) async fn ask(
    options: &DigOptions,
    query: &[u8],
    server: SocketAddr,
    out: &mut impl Write,
) -> Result<(Vec<u8>, bool, Duration), String> {
    if options.tcp {
        return ask_tcp(options, query, server).await.map(|(r, t)| (r, true, t));
    }
    let (response, elapsed) = ask_udp(options, query, server).await?;
    let truncated = response.len() > 2 && response[2] & 0x02 != 0;
    if truncated && !options.ignore_truncation {
        let _ = writeln!(out, ";; Truncated, retrying in TCP mode.");
        return ask_tcp(options, query, server).await.map(|(r, t)| (r, true, t));
    }
    Ok((response, false, elapsed))
}

async fn ask_udp(
    options: &DigOptions,
    query: &[u8],
    server: SocketAddr,
) -> Result<(Vec<u8>, Duration), String> {
    let local: SocketAddr = if server.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        "[::]:0".parse().expect("literal")
    };
    let socket = UdpSocket::bind(local).await.map_err(|error| format!("bind {local}: {error}"))?;
    // dig waits +time seconds for each of +tries attempts, the same each time.
    let config = RetryConfig {
        max_attempts: options.tries.max(1),
        backoff: 1,
        max_timeout: options.timeout,
        deadline: None,
    };
    let mut rtt = RttEstimator::new(options.timeout, options.timeout, options.timeout);
    let started = Instant::now();
    let reply = driver::exchange(
        &socket,
        server,
        &config,
        &mut rtt,
        |_| query.to_vec(),
        |datagram| is_answer(query, datagram).then(|| (datagram.to_vec(), None)),
    )
    .await
    .map_err(|error| match error {
        ExchangeError::GaveUp { .. } => format!("no answer from {server} (UDP)"),
        other => other.to_string(),
    })?;
    let elapsed = match reply.outcome {
        appnet_retransmit::Outcome::Answered { rtt: Some(rtt), .. } => rtt,
        _ => started.elapsed(),
    };
    Ok((reply.value, elapsed))
}

async fn ask_tcp(
    options: &DigOptions,
    query: &[u8],
    server: SocketAddr,
) -> Result<(Vec<u8>, Duration), String> {
    let mut last_error = String::new();
    for _ in 0..options.tries.max(1) {
        let started = Instant::now();
        match tokio::time::timeout(options.timeout, tcp_exchange(query, server)).await {
            Ok(Ok(response)) => return Ok((response, started.elapsed())),
            Ok(Err(error)) => last_error = format!("communications error to {server}: {error}"),
            Err(_) => last_error = format!("no answer from {server} (TCP)"),
        }
    }
    Err(last_error)
}

/// One query over a fresh TCP connection: two-byte length prefixes (RFC 1035 §4.2.2);
/// responses that do not answer the query are skipped.
async fn tcp_exchange(query: &[u8], server: SocketAddr) -> io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect(server).await?;
    let length = u16::try_from(query.len()).map_err(|_| io::ErrorKind::InvalidInput)?;
    let mut framed = length.to_be_bytes().to_vec();
    framed.extend_from_slice(query);
    stream.write_all(&framed).await?;
    loop {
        let length = stream.read_u16().await?;
        let mut response = vec![0; usize::from(length)];
        stream.read_exact(&mut response).await?;
        if is_answer(query, &response) {
            return Ok(response);
        }
    }
}
