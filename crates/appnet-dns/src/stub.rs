//! A stub resolver: ask one recursive server for a name's addresses, as a host's resolver
//! library does — over UDP, asked again after a silence, over TCP when the answer is
//! truncated. `appnet http load --dns` and the lab's clients use it.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::time::{Duration, Instant};

use domain::base::iana::Rtype;
use domain::base::{Message, MessageBuilder, Name};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// What the server said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The RCODE.
    pub rcode: u8,
    /// The A and AAAA records of the answer section, in order.
    pub addresses: Vec<IpAddr>,
    /// From the first query sent to the reply.
    pub elapsed: Duration,
}

/// How to ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Asking {
    /// Set RD (ask for recursion).
    pub recursive: bool,
    /// Queries sent at most over UDP.
    pub tries: u32,
    /// Silence after which a query is sent again (and, after the last, given up on).
    pub timeout: Duration,
    /// The address to ask from (the lab's clients each have theirs); `None`: any.
    pub source: Option<IpAddr>,
}

impl Default for Asking {
    /// As glibc's resolver: recursion, two tries of five seconds... shortened to three tries
    /// of two seconds, which loopback and lab servers never need more than.
    fn default() -> Self {
        Self { recursive: true, tries: 3, timeout: Duration::from_secs(2), source: None }
    }
}

/// Asks `server` for `name`'s records of `rtype` (A or AAAA).
pub async fn ask(
    server: SocketAddr,
    name: &str,
    rtype: Rtype,
    asking: Asking,
) -> io::Result<Answer> {
    let invalid = |what: String| io::Error::new(io::ErrorKind::InvalidInput, what);
    let qname = Name::<Vec<u8>>::from_str(name).map_err(|e| invalid(format!("`{name}`: {e}")))?;
    let id: u16 = rand::random();
    let mut builder = MessageBuilder::new_vec();
    builder.header_mut().set_id(id);
    builder.header_mut().set_rd(asking.recursive);
    let mut question = builder.question();
    question.push((&qname, rtype)).map_err(|e| invalid(e.to_string()))?;
    let query = question.finish();
    let any: IpAddr =
        if server.is_ipv4() { [0, 0, 0, 0].into() } else { std::net::Ipv6Addr::UNSPECIFIED.into() };
    let socket = UdpSocket::bind(SocketAddr::new(asking.source.unwrap_or(any), 0)).await?;
    let started = Instant::now();
    let mut buffer = vec![0; 4096];
    for _ in 0..asking.tries.max(1) {
        socket.send_to(&query, server).await?;
        let deadline = tokio::time::Instant::now() + asking.timeout;
        while let Ok(received) =
            tokio::time::timeout_at(deadline, socket.recv_from(&mut buffer)).await
        {
            let (length, from) = received?;
            let Ok(message) = Message::from_octets(&buffer[..length]) else { continue };
            // Only the server asked, with our ID and question, is believed.
            if from != server || message.header().id() != id || !message.header().qr() {
                continue;
            }
            if message.header().tc() {
                return ask_tcp(server, &query, started).await;
            }
            return Ok(read(&message, started));
        }
    }
    Err(io::Error::new(io::ErrorKind::TimedOut, format!("no answer from {server} for {name}")))
}

/// The same question over TCP (RFC 7766), for an answer too big for UDP.
async fn ask_tcp(server: SocketAddr, query: &[u8], started: Instant) -> io::Result<Answer> {
    let mut stream = TcpStream::connect(server).await?;
    let length = u16::try_from(query.len()).map_err(|_| io::ErrorKind::InvalidInput)?;
    stream.write_all(&length.to_be_bytes()).await?;
    stream.write_all(query).await?;
    let length = stream.read_u16().await?;
    let mut reply = vec![0; usize::from(length)];
    stream.read_exact(&mut reply).await?;
    let message = Message::from_octets(&reply[..])
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
    Ok(read(&message, started))
}

fn read(message: &Message<&[u8]>, started: Instant) -> Answer {
    let mut addresses = Vec::new();
    if let Ok(answer) = message.answer() {
        for record in answer.limit_to::<domain::rdata::A>().flatten() {
            addresses.push(IpAddr::V4(record.data().addr()));
        }
    }
    if let Ok(answer) = message.answer() {
        for record in answer.limit_to::<domain::rdata::Aaaa>().flatten() {
            addresses.push(IpAddr::V6(record.data().addr()));
        }
    }
    Answer { rcode: message.header().rcode().to_int(), addresses, elapsed: started.elapsed() }
}
