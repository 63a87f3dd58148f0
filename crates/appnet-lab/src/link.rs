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

/// One link in use: its spec, and until when each direction is busy sending. Every datagram and
/// every TCP connection through one relay shares it, as every flow on a real link shares its
/// bandwidth.
#[derive(Debug)]
pub struct Link {
    spec: LinkSpec,
    to_server: Mutex<Instant>,
    to_client: Mutex<Instant>,
}

impl Link {
    /// An idle link of `spec`.
    pub fn new(spec: LinkSpec) -> Arc<Self> {
        let now = Instant::now();
        Arc::new(Self { spec, to_server: Mutex::new(now), to_client: Mutex::new(now) })
    }

    /// When `bytes` entering now towards the server (or the client) come out.
    fn due(&self, bytes: usize, to_server: bool) -> Instant {
        let busy = if to_server { &self.to_server } else { &self.to_client };
        let mut busy = busy.lock().unwrap_or_else(PoisonError::into_inner);
        self.spec.schedule(bytes, Instant::now(), &mut busy)
    }
}

/// Relays UDP from `front` to `back` and back through `link`, until `stop`. Returns the
/// address bound (`front` with port 0 takes a free port, with no window for another socket to
/// take it between a probe and the bind).
pub async fn spawn_udp(
    front: SocketAddr,
    back: SocketAddr,
    link: Arc<Link>,
    stop: CancellationToken,
) -> io::Result<SocketAddr> {
    let socket = Arc::new(UdpSocket::bind(front).await?);
    let bound = socket.local_addr()?;
    tokio::spawn(async move {
        let upstreams: Arc<Mutex<HashMap<SocketAddr, Arc<UdpSocket>>>> = Arc::default();
        let mut buffer = vec![0; 65_535];
        loop {
            let (length, client) = tokio::select! {
                () = stop.cancelled() => return,
                received = socket.recv_from(&mut buffer) => match received {
                    Ok(received) => received,
                    Err(_) => continue,
                },
            };
            let Ok(upstream) = upstream_for(&upstreams, client, back, &socket, &link, &stop).await
            else {
                continue;
            };
            let due = link.due(length, true);
            let datagram = buffer[..length].to_vec();
            tokio::spawn(async move {
                tokio::time::sleep_until(due).await;
                let _ = upstream.send(&datagram).await;
            });
        }
    });
    Ok(bound)
}

/// The socket that carries `client`'s datagrams to `back` (bound to the client's address), and
/// the task that carries the replies back through the link.
async fn upstream_for(
    upstreams: &Arc<Mutex<HashMap<SocketAddr, Arc<UdpSocket>>>>,
    client: SocketAddr,
    back: SocketAddr,
    front: &Arc<UdpSocket>,
    link: &Arc<Link>,
    stop: &CancellationToken,
) -> io::Result<Arc<UdpSocket>> {
    if let Some(existing) = upstreams.lock().unwrap_or_else(PoisonError::into_inner).get(&client) {
        return Ok(existing.clone());
    }
    let upstream = Arc::new(UdpSocket::bind(SocketAddr::new(client.ip(), 0)).await?);
    upstream.connect(back).await?;
    upstreams.lock().unwrap_or_else(PoisonError::into_inner).insert(client, upstream.clone());
    let (reader, front, stop, link) = (upstream.clone(), front.clone(), stop.clone(), link.clone());
    tokio::spawn(async move {
        let mut buffer = vec![0; 65_535];
        loop {
            let length = tokio::select! {
                () = stop.cancelled() => return,
                received = reader.recv(&mut buffer) => match received {
                    Ok(length) => length,
                    Err(_) => continue,
                },
            };
            let due = link.due(length, false);
            let (front, datagram) = (front.clone(), buffer[..length].to_vec());
            tokio::spawn(async move {
                tokio::time::sleep_until(due).await;
                let _ = front.send_to(&datagram, client).await;
            });
        }
    });
    Ok(upstream)
}

/// Relays TCP connections from `front` to `back`, each direction through `link`. Returns the
/// address bound, as [`spawn_udp`] does.
pub async fn spawn_tcp(
    front: SocketAddr,
    back: SocketAddr,
    link: Arc<Link>,
    stop: CancellationToken,
) -> io::Result<SocketAddr> {
    let listener = TcpListener::bind(front).await?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let Some((client, peer)) = appnet_service::accept::next(&listener, &stop).await else {
                return;
            };
            let (stop, link) = (stop.clone(), link.clone());
            // The client's handshake ended here at once, on loopback; on the link it would
            // have taken a round trip before the client could send. So nothing it sends
            // reaches the server before then plus the half round trip on the way.
            let handshake_done = Instant::now() + link.spec.rtt;
            tokio::spawn(async move {
                let Ok(socket) = tokio::net::TcpSocket::new_v4() else { return };
                if socket.bind(SocketAddr::new(peer.ip(), 0)).is_err() {
                    return;
                }
                let Ok(server) = socket.connect(back).await else { return };
                // The relay must add only the link's delay: no Nagle holding back a short
                // last segment until the peer's (delayed) ACK.
                let _ = (client.set_nodelay(true), server.set_nodelay(true));
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                tokio::select! {
                    () = stop.cancelled() => {}
                    _ = pipe(client_read, server_write, &link, Some(handshake_done)) => {}
                    _ = pipe(server_read, client_write, &link, None) => {}
                }
            });
        }
    });
    Ok(bound)
}

/// Chunks a TCP relay may hold in flight one way: 16 MiB, more than any lab link's
/// bandwidth-delay product, so the relay never limits a transfer below its link.
const IN_FLIGHT: usize = 1024;

/// Copies `from` to `to`, each chunk held until the link lets it out. Reading and writing are
/// apart, so chunks are in flight together as packets on a real link are: the throughput is
/// the link's bandwidth, not one chunk per half round trip. Towards the server, nothing
/// leaves before the emulated handshake is over (`handshake_done`) plus the way there.
async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    link: &Link,
    handshake_done: Option<Instant>,
) -> io::Result<()> {
    let to_server = handshake_done.is_some();
    let floor = handshake_done.map(|at| at + link.spec.rtt / 2);
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<(Instant, Vec<u8>)>(IN_FLIGHT);
    let read = async move {
        loop {
            let mut chunk = vec![0; 16 * 1024];
            let length = from.read(&mut chunk).await?;
            if length == 0 {
                return Ok::<_, io::Error>(());
            }
            chunk.truncate(length);
            let due = link.due(length, to_server);
            let due = floor.map_or(due, |floor| due.max(floor));
            if sender.send((due, chunk)).await.is_err() {
                return Ok(());
            }
        }
    };
    let write = async move {
        while let Some((due, chunk)) = receiver.recv().await {
            tokio::time::sleep_until(due).await;
            to.write_all(&chunk).await?;
        }
        to.shutdown().await
    };
    let (read, write) = tokio::join!(read, write);
    read.and(write)
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
        let stop = CancellationToken::new();
        let spec = LinkSpec { rtt: Duration::from_millis(40), bandwidth: None };
        let front = SocketAddr::new(back_addr.ip(), 0);
        let front = spawn_udp(front, back_addr, Link::new(spec), stop.clone()).await.unwrap();
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

    #[tokio::test]
    async fn a_tcp_transfer_is_paced_by_the_bandwidth_not_by_the_round_trip() {
        let back = TcpListener::bind("127.53.9.3:0").await.unwrap();
        let back_addr = back.local_addr().unwrap();
        let stop = CancellationToken::new();
        // 40 ms round trip, 80 Mbit/s: 2 MB take ~200 ms on the wire. A relay that held each
        // 16 KiB chunk for the half round trip before reading the next would take 2.5 s.
        let spec = LinkSpec { rtt: Duration::from_millis(40), bandwidth: Some(80_000_000) };
        let front = SocketAddr::new(back_addr.ip(), 0);
        let front = spawn_tcp(front, back_addr, Link::new(spec), stop.clone()).await.unwrap();
        const SIZE: usize = 2_000_000;
        tokio::spawn(async move {
            let (mut stream, _) = back.accept().await.unwrap();
            stream.write_all(&vec![7; SIZE]).await.unwrap();
            stream.shutdown().await.unwrap();
        });
        let started = std::time::Instant::now();
        let mut client = tokio::net::TcpStream::connect(front).await.unwrap();
        let mut received = Vec::new();
        client.read_to_end(&mut received).await.unwrap();
        let elapsed = started.elapsed();
        assert_eq!(received.len(), SIZE);
        assert!(
            elapsed >= Duration::from_millis(200) && elapsed < Duration::from_millis(1200),
            "{elapsed:?}"
        );
        stop.cancel();
    }

    #[tokio::test]
    async fn a_fresh_connection_pays_a_round_trip_for_its_handshake() {
        let back = TcpListener::bind("127.53.9.4:0").await.unwrap();
        let back_addr = back.local_addr().unwrap();
        let stop = CancellationToken::new();
        let spec = LinkSpec { rtt: Duration::from_millis(40), bandwidth: None };
        let front = SocketAddr::new(back_addr.ip(), 0);
        let front = spawn_tcp(front, back_addr, Link::new(spec), stop.clone()).await.unwrap();
        tokio::spawn(async move {
            let (mut stream, _) = back.accept().await.unwrap();
            let mut byte = [0; 1];
            while stream.read_exact(&mut byte).await.is_ok() {
                stream.write_all(&byte).await.unwrap();
            }
        });
        // Connect, then one exchange: the handshake's round trip and the exchange's.
        let started = std::time::Instant::now();
        let mut client = tokio::net::TcpStream::connect(front).await.unwrap();
        client.write_all(b"x").await.unwrap();
        let mut byte = [0; 1];
        client.read_exact(&mut byte).await.unwrap();
        let first = started.elapsed();
        assert!(
            first >= Duration::from_millis(80) && first < Duration::from_millis(300),
            "{first:?}"
        );
        // A second exchange on the same connection: one round trip.
        let again = std::time::Instant::now();
        client.write_all(b"y").await.unwrap();
        client.read_exact(&mut byte).await.unwrap();
        let second = again.elapsed();
        assert!(
            second >= Duration::from_millis(40) && second < Duration::from_millis(75),
            "{second:?}"
        );
        stop.cancel();
    }
}
