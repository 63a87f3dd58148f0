//! A lab client: one question over UDP, timed, from the client's own host (the stub resolver
//! of `appnet_dns::stub`, asked once).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use appnet_dns::stub::{self, Asking};
use domain::base::iana::Rtype;

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
    let asking =
        Asking { recursive, tries: 1, timeout: Duration::from_secs(5), source: Some(source) };
    let answer = stub::ask(server, name, Rtype::A, asking).await.ok()?;
    let addresses = answer
        .addresses
        .iter()
        .filter_map(|address| match address {
            IpAddr::V4(v4) => Some(v4.octets()),
            IpAddr::V6(_) => None,
        })
        .collect();
    Some(Reply { rcode: answer.rcode, addresses, elapsed: answer.elapsed })
}
