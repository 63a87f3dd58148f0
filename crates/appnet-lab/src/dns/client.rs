//! A lab client: one question over UDP, timed.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::time::{Duration, Instant};

use domain::base::iana::Rtype;
use domain::base::{Message, MessageBuilder, Name};
use tokio::net::UdpSocket;

use crate::host::LabHost;

/// What came back.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The RCODE.
    pub rcode: u8,
    /// The A records of the answer section.
    pub addresses: Vec<[u8; 4]>,
    /// From sending the query to the reply.
    pub elapsed: Duration,
}

impl Reply {
    /// Whether the answer holds `address`.
    pub fn has_address(&self, address: [u8; 4]) -> bool {
        self.addresses.contains(&address)
    }
}

/// Asks `server` for `name` A (with RD when `recursive`) from a client on `host`, waiting at
/// most 5 s.
pub async fn ask(host: &LabHost, server: SocketAddr, name: &str, recursive: bool) -> Option<Reply> {
    let (source, name) = (host.ip, name.to_owned());
    host.run(async move { ask_from(source, server, &name, recursive).await }).await.ok().flatten()
}

/// Like [`ask`], from `source` in this thread's network.
async fn ask_from(
    source: IpAddr,
    server: SocketAddr,
    name: &str,
    recursive: bool,
) -> Option<Reply> {
    let socket = UdpSocket::bind(SocketAddr::new(source, 0)).await.ok()?;
    let id: u16 = rand::random();
    let mut builder = MessageBuilder::new_vec();
    builder.header_mut().set_id(id);
    builder.header_mut().set_rd(recursive);
    let mut question = builder.question();
    question.push((Name::<Vec<u8>>::from_str(name).ok()?, Rtype::A)).ok()?;
    let query = question.finish();
    let started = Instant::now();
    socket.send_to(&query, server).await.ok()?;
    let mut buffer = vec![0; 4096];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let (length, from) =
            tokio::time::timeout_at(deadline, socket.recv_from(&mut buffer)).await.ok()?.ok()?;
        let elapsed = started.elapsed();
        let Ok(message) = Message::from_octets(&buffer[..length]) else { continue };
        if from != server || message.header().id() != id {
            continue;
        }
        let addresses = message
            .answer()
            .ok()?
            .limit_to::<domain::rdata::A>()
            .flatten()
            .map(|record| record.data().addr().octets())
            .collect();
        return Some(Reply { rcode: message.header().rcode().to_int(), addresses, elapsed });
    }
}
