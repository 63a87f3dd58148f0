//! The lab's network as experiments use it: hosts by number, on whichever
//! [`Topology`](crate::topology::Topology) this run has. A host is 127.53.`third`.`fourth` on
//! loopback, or 198.18.`third`.`fourth` as a network namespace of its own; on loopback a link is
//! a relay in front of the server ([`LabNet::relay`]), in namespaces it is the host's shaped veth.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use tokio_util::sync::CancellationToken;

use crate::LabError;
use crate::host::LabHost;
use crate::link::{self, LinkSpec};
use crate::netns::{self, Network};
use crate::topology::Topology;

/// A loopback lab host's address: 127.53.`third`.`fourth`.
pub fn loopback(third: u8, fourth: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 53, third, fourth)
}

/// A port free on `ip` for both UDP and TCP (on loopback, where hosts share one port space;
/// a relay holds both).
pub fn free_port(ip: IpAddr) -> std::io::Result<u16> {
    for _ in 0..100 {
        let port = std::net::UdpSocket::bind(SocketAddr::new(ip, 0))?.local_addr()?.port();
        if std::net::TcpListener::bind(SocketAddr::new(ip, port)).is_ok() {
            return Ok(port);
        }
    }
    Err(std::io::Error::other(format!("no free port on {ip}")))
}

/// One experiment's hosts and links. Dropping it stops its relays and takes its namespaces down.
pub struct LabNet {
    kind: Kind,
    stop: CancellationToken,
}

enum Kind {
    Loopback { link: Option<LinkSpec> },
    Namespaces { network: Network, hosts: Vec<netns::Host> },
}

impl LabNet {
    /// The network for `topology`; `link` is what relays apply on loopback.
    pub fn new(topology: Topology, link: Option<LinkSpec>) -> Result<Self, LabError> {
        let kind = match topology {
            Topology::Namespaces { netem } => {
                Kind::Namespaces { network: Network::new(netem)?, hosts: Vec::new() }
            }
            Topology::Loopback => Kind::Loopback { link: None },
            Topology::InProcess => Kind::Loopback { link },
        };
        Ok(Self { kind, stop: CancellationToken::new() })
    }

    /// The address of host `third`.`fourth`.
    pub fn address(&self, third: u8, fourth: u8) -> IpAddr {
        IpAddr::V4(self.address_v4(third, fourth))
    }

    fn address_v4(&self, third: u8, fourth: u8) -> Ipv4Addr {
        match self.kind {
            Kind::Loopback { .. } => loopback(third, fourth),
            Kind::Namespaces { .. } => netns::address(third, fourth),
        }
    }

    /// Host `third`.`fourth`; in namespaces a new one behind `link` (on loopback the link is
    /// a relay's job: see [`relay_link`](Self::relay_link)).
    pub fn host(
        &mut self,
        third: u8,
        fourth: u8,
        link: Option<LinkSpec>,
    ) -> Result<LabHost, LabError> {
        let ip = self.address_v4(third, fourth);
        match &mut self.kind {
            Kind::Loopback { .. } => Ok(LabHost::loopback(IpAddr::V4(ip))),
            Kind::Namespaces { network, hosts } => {
                let host = network.add_host(ip, link)?;
                let lab_host = host.host().clone();
                hosts.push(host);
                Ok(lab_host)
            }
        }
    }

    /// The link relays must emulate: on loopback with links only.
    pub fn relay_link(&self) -> Option<LinkSpec> {
        match self.kind {
            Kind::Loopback { link } => link,
            Kind::Namespaces { .. } => None,
        }
    }

    /// Whether hosts are network namespaces.
    pub fn in_namespaces(&self) -> bool {
        matches!(self.kind, Kind::Namespaces { .. })
    }

    /// Paths to the hosts' namespaces (for `nsenter --net=PATH`), by address; empty on loopback.
    pub fn namespace_paths(&self) -> Vec<(IpAddr, String)> {
        match &self.kind {
            Kind::Loopback { .. } => Vec::new(),
            Kind::Namespaces { hosts, .. } => {
                hosts.iter().map(|h| (h.host().ip, h.namespace_path())).collect()
            }
        }
    }

    /// A group of clients on host `third`.1 reaching `server` (on host number `server_host`)
    /// over their own `link`: in namespaces a host behind that link, asking `server` itself;
    /// on loopback clients on 127.53.`third`.1 and a relay for them on
    /// 127.53.`third`.`server_host`. Returns the clients' host and the address they ask.
    pub async fn clients_behind(
        &mut self,
        third: u8,
        link: LinkSpec,
        server: SocketAddr,
        server_host: u8,
    ) -> Result<(LabHost, SocketAddr), LabError> {
        if self.in_namespaces() {
            return Ok((self.host(third, 1, Some(link))?, server));
        }
        let front_ip = IpAddr::V4(loopback(third, server_host));
        let front = SocketAddr::new(front_ip, free_port(front_ip)?);
        self.relay(front, server, link).await?;
        Ok((LabHost::loopback(IpAddr::V4(loopback(third, 1))), front))
    }

    /// UDP and TCP relays from `front` to `back` through a link of `spec`, until this network
    /// is dropped.
    pub async fn relay(
        &self,
        front: SocketAddr,
        back: SocketAddr,
        spec: LinkSpec,
    ) -> Result<(), LabError> {
        // One link for both: datagrams and connections share its bandwidth.
        let shared = link::Link::new(spec);
        link::spawn_udp(front, back, shared.clone(), self.stop.clone()).await?;
        link::spawn_tcp(front, back, shared, self.stop.clone()).await?;
        Ok(())
    }
}

impl Drop for LabNet {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}
