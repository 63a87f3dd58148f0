//! The in-process link emulator: a server's public address is a relay that holds every
//! datagram (and every TCP segment of data) for half the link's round-trip time, and paces it
//! to the link's bandwidth, before passing it on to the server's hidden address — the same in
//! the other direction. Used when the lab cannot make network namespaces with netem, or when
//! asked to; the report says which.
//!
//! The relay's upstream sockets bind the client's own loopback address, so the server still
//! sees who asked (ACLs, NOTIFY sources and rate limits keep working).

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// What a link does to traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LinkSpec {
    /// Round-trip time added: half on the way there, half on the way back.
    pub rtt: Duration,
    /// Bits per second each way; `None` for no limit.
    pub bandwidth: Option<u64>,
}

impl LinkSpec {
    /// When a packet of `bytes` entering at `now` leaves, given the link is busy until
    /// `*busy_until` (serialisation at the bandwidth), plus the one-way delay.
    fn schedule(&self, bytes: usize, now: Instant, busy_until: &mut Instant) -> Instant {
        let start = now.max(*busy_until);
        let serialisation = self
            .bandwidth
            .map_or(Duration::ZERO, |bps| Duration::from_secs_f64(bytes as f64 * 8.0 / bps as f64));
        *busy_until = start + serialisation;
        start + serialisation + self.rtt / 2
    }
}

/// Relays UDP from `front` to `back` and back through a link of `spec`, until `stop`.
pub async fn spawn_udp(
    front: SocketAddr,
    back: SocketAddr,
    spec: LinkSpec,
    stop: CancellationToken,
) -> io::Result<()> {
    let socket = Arc::new(UdpSocket::bind(front).await?);
    tokio::spawn(async move {
        let upstreams: Arc<Mutex<HashMap<SocketAddr, Arc<UdpSocket>>>> = Arc::default();
        let mut busy = Instant::now();
        let mut buffer = vec![0; 65_535];
        loop {
            let (length, client) = tokio::select! {
                () = stop.cancelled() => return,
                received = socket.recv_from(&mut buffer) => match received {
                    Ok(received) => received,
                    Err(_) => continue,
                },
            };
            let Ok(upstream) = upstream_for(&upstreams, client, back, &socket, spec, &stop).await
            else {
                continue;
            };
            let due = spec.schedule(length, Instant::now(), &mut busy);
            let datagram = buffer[..length].to_vec();
            tokio::spawn(async move {
                tokio::time::sleep_until(due).await;
                let _ = upstream.send(&datagram).await;
            });
        }
    });
    Ok(())
}

/// The socket that carries `client`'s datagrams to `back` (bound to the client's address), and
/// the task that carries the replies back through the link.
async fn upstream_for(
    upstreams: &Arc<Mutex<HashMap<SocketAddr, Arc<UdpSocket>>>>,
    client: SocketAddr,
    back: SocketAddr,
    front: &Arc<UdpSocket>,
    spec: LinkSpec,
    stop: &CancellationToken,
) -> io::Result<Arc<UdpSocket>> {
    if let Some(existing) = upstreams.lock().unwrap_or_else(PoisonError::into_inner).get(&client) {
        return Ok(existing.clone());
    }
    let upstream = Arc::new(UdpSocket::bind(SocketAddr::new(client.ip(), 0)).await?);
    upstream.connect(back).await?;
    upstreams.lock().unwrap_or_else(PoisonError::into_inner).insert(client, upstream.clone());
    let (reader, front, stop) = (upstream.clone(), front.clone(), stop.clone());
    tokio::spawn(async move {
        let mut busy = Instant::now();
        let mut buffer = vec![0; 65_535];
        loop {
            let length = tokio::select! {
                () = stop.cancelled() => return,
                received = reader.recv(&mut buffer) => match received {
                    Ok(length) => length,
                    Err(_) => continue,
                },
            };
            let due = spec.schedule(length, Instant::now(), &mut busy);
            let (front, datagram) = (front.clone(), buffer[..length].to_vec());
            tokio::spawn(async move {
                tokio::time::sleep_until(due).await;
                let _ = front.send_to(&datagram, client).await;
            });
        }
    });
    Ok(upstream)
}

/// Relays TCP connections from `front` to `back`, each direction through a link of `spec`.
pub async fn spawn_tcp(
    front: SocketAddr,
    back: SocketAddr,
    spec: LinkSpec,
    stop: CancellationToken,
) -> io::Result<()> {
    let listener = TcpListener::bind(front).await?;
    tokio::spawn(async move {
        loop {
            let (client, peer) = tokio::select! {
                () = stop.cancelled() => return,
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(_) => continue,
                },
            };
            let stop = stop.clone();
            tokio::spawn(async move {
                let Ok(socket) = tokio::net::TcpSocket::new_v4() else { return };
                if socket.bind(SocketAddr::new(peer.ip(), 0)).is_err() {
                    return;
                }
                let Ok(server) = socket.connect(back).await else { return };
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                tokio::select! {
                    () = stop.cancelled() => {}
                    _ = pipe(client_read, server_write, spec) => {}
                    _ = pipe(server_read, client_write, spec) => {}
                }
            });
        }
    });
    Ok(())
}

/// Copies `from` to `to`, each chunk held until the link lets it out.
async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    spec: LinkSpec,
) -> io::Result<()> {
    let mut busy = Instant::now();
    let mut buffer = vec![0; 16 * 1024];
    loop {
        let length = from.read(&mut buffer).await?;
        if length == 0 {
            return to.shutdown().await;
        }
        tokio::time::sleep_until(spec.schedule(length, Instant::now(), &mut busy)).await;
        to.write_all(&buffer[..length]).await?;
    }
}

/// A group of lab clients and the link between them and the resolver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Region {
    /// Its name in the report.
    pub name: String,
    /// Its clients' link to the resolver.
    pub link: LinkSpec,
}

/// `--region NAME=RTT[/RATE]`, e.g. `far=80ms/10mbit`.
pub fn parse_region(text: &str) -> Result<Region, String> {
    let (name, link) =
        text.split_once('=').ok_or_else(|| format!("`{text}`: expected NAME=RTT[/RATE]"))?;
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(format!("`{name}`: a region name is letters, digits and -"));
    }
    let (rtt, rate) = match link.split_once('/') {
        Some((rtt, rate)) => (parse_duration(rtt)?, Some(parse_rate(rate)?)),
        None => (parse_duration(link)?, None),
    };
    Ok(Region { name: name.to_owned(), link: LinkSpec { rtt, bandwidth: rate } })
}

/// `50ms`, `0.2s`, `100us` or plain milliseconds (`50`), as `--rtt` takes them.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, scale) = if let Some(n) = text.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = text.strip_suffix("us") {
        (n, 1e-6)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1.0)
    } else {
        (text, 1e-3)
    };
    let value: f64 =
        number.trim().parse().map_err(|_| format!("`{text}` is not a duration (e.g. 50ms)"))?;
    if !(0.0..=60.0).contains(&(value * scale)) {
        return Err(format!("`{text}`: between 0 and 60 s"));
    }
    Ok(Duration::from_secs_f64(value * scale))
}

/// `10mbit`, `512kbit`, `1gbit` or plain bits per second, as `--bandwidth` (and tc) take them.
pub fn parse_rate(text: &str) -> Result<u64, String> {
    let lower = text.trim().to_ascii_lowercase();
    let (number, scale) = [("gbit", 1e9), ("mbit", 1e6), ("kbit", 1e3), ("bit", 1.0)]
        .iter()
        .find_map(|(suffix, scale)| lower.strip_suffix(suffix).map(|n| (n.to_owned(), *scale)))
        .unwrap_or_else(|| (lower.clone(), 1.0));
    let value: f64 =
        number.trim().parse().map_err(|_| format!("`{text}` is not a rate (e.g. 10mbit)"))?;
    let bits = (value * scale) as u64;
    if bits < 1000 {
        return Err(format!("`{text}`: at least 1kbit"));
    }
    Ok(bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_wait_half_the_rtt_and_queue_behind_the_bandwidth() {
        let spec = LinkSpec { rtt: Duration::from_millis(50), bandwidth: Some(8_000) };
        let now = Instant::now();
        let mut busy = now;
        // 100 bytes at 8 kbit/s take 100 ms to send, then 25 ms to arrive.
        assert_eq!(spec.schedule(100, now, &mut busy), now + Duration::from_millis(125));
        // The next one waits for the link to be free.
        assert_eq!(spec.schedule(100, now, &mut busy), now + Duration::from_millis(225));
        let unlimited = LinkSpec { rtt: Duration::from_millis(10), bandwidth: None };
        let mut idle = now;
        assert_eq!(unlimited.schedule(1500, now, &mut idle), now + Duration::from_millis(5));
    }

    #[test]
    fn knobs_parse_like_tc() {
        assert_eq!(parse_duration("50ms"), Ok(Duration::from_millis(50)));
        assert_eq!(parse_duration("0.2s"), Ok(Duration::from_millis(200)));
        assert_eq!(parse_duration("30"), Ok(Duration::from_millis(30)));
        assert!(parse_duration("fast").is_err() && parse_duration("100s").is_err());
        assert_eq!(parse_rate("10mbit"), Ok(10_000_000));
        assert_eq!(parse_rate("512kbit"), Ok(512_000));
        assert!(parse_rate("lots").is_err() && parse_rate("10bit").is_err());
        let far = parse_region("far=80ms/10mbit").unwrap();
        assert_eq!(
            (far.name.as_str(), far.link.rtt, far.link.bandwidth),
            ("far", Duration::from_millis(80), Some(10_000_000))
        );
        assert_eq!(parse_region("near=5ms").unwrap().link.bandwidth, None);
        assert!(parse_region("noequals").is_err() && parse_region("a b=5ms").is_err());
    }

    #[tokio::test]
    async fn a_udp_round_trip_through_the_link_takes_its_rtt() {
        let back = UdpSocket::bind("127.53.9.1:0").await.unwrap();
        let back_addr = back.local_addr().unwrap();
        let front = SocketAddr::new(back_addr.ip(), {
            let probe = std::net::UdpSocket::bind("127.53.9.1:0").unwrap();
            probe.local_addr().unwrap().port()
        });
        let stop = CancellationToken::new();
        let spec = LinkSpec { rtt: Duration::from_millis(40), bandwidth: None };
        spawn_udp(front, back_addr, spec, stop.clone()).await.unwrap();
        tokio::spawn(async move {
            let mut buffer = [0; 64];
            let (length, from) = back.recv_from(&mut buffer).await.unwrap();
            assert_eq!(from.ip().to_string(), "127.53.9.2", "the server sees the client's address");
            back.send_to(&buffer[..length], from).await.unwrap();
        });
        let client = UdpSocket::bind("127.53.9.2:0").await.unwrap();
        let started = std::time::Instant::now();
        client.send_to(b"ping", front).await.unwrap();
        let mut buffer = [0; 64];
        let (length, from) = client.recv_from(&mut buffer).await.unwrap();
        let elapsed = started.elapsed();
        assert_eq!((&buffer[..length], from), (&b"ping"[..], front));
        assert!(
            elapsed >= Duration::from_millis(40) && elapsed < Duration::from_millis(200),
            "{elapsed:?}"
        );
        stop.cancel();
    }
}
