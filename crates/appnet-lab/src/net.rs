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

/// A TCP port free on `ip` (on loopback, where hosts share one port space).
pub fn free_tcp_port(ip: IpAddr) -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind(SocketAddr::new(ip, 0))?.local_addr()?.port())
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
