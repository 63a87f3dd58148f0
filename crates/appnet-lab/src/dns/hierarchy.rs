//! The lab's naming system: two root servers, a TLD server for `lab.`, the site zone
//! `example.lab.` on a primary and a replica kept in sync by zone transfer and NOTIFY, and a
//! recursive resolver whose root hints are the lab's roots. Every server is an appnet server
//! running in this process, each on its own host: 127.53.0.x on loopback (all on one free
//! port), or 198.18.0.x in its own network namespace (all on port 53, as on the Internet).

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use appnet_dns::resolver::driver::Shared;
use appnet_dns::resolver::hints::HintServer;
use appnet_dns::resolver::service::{self, RunningResolver, ServiceSettings};
use appnet_dns::resolver::{Cache, CacheConfig, ResolverConfig, RootHints};
use appnet_dns::server::{
    self, AuthorityOptions, Running, SecondarySpec, Settings, ZoneSource, Zones,
};
use appnet_dns::zone::Zone;
use appnet_service::Metrics;
use tokio_util::sync::CancellationToken;

use crate::LabError;
use crate::host::LabHost;
use crate::link::{self, LinkSpec};
use crate::net::{LabNet, loopback};
use crate::topology::Topology;

/// The hosts, by role.
pub const ROOT_A: u8 = 1;
/// The second root server.
pub const ROOT_B: u8 = 2;
/// The `lab.` TLD server.
pub const TLD: u8 = 3;
/// `example.lab.`'s primary.
pub const PRIMARY: u8 = 4;
/// `example.lab.`'s replica (a secondary).
pub const REPLICA: u8 = 5;
/// The recursive resolver every client asks.
pub const RESOLVER: u8 = 53;

/// One running authority.
pub struct Authority {
    /// What the lab calls it ("a.root.lab" …).
    pub name: &'static str,
    /// The host it runs on.
    pub host: LabHost,
    /// Where it answers.
    pub addr: SocketAddr,
    /// Its zones (for reloads).
    pub zones: Arc<Zones>,
    running: Option<Running>,
}

impl Authority {
    /// Stops it, as an operator's `kill` would: it answers nothing from then on.
    pub async fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown().await;
        }
    }
}

/// The whole naming system, running.
pub struct Hierarchy {
    /// The authorities: two roots, the TLD, the site's primary and replica.
    pub authorities: Vec<Authority>,
    /// The resolver's shared state (cache, statistics, traces).
    pub resolver: Arc<Shared>,
    /// Where the resolver listens.
    pub resolver_addr: SocketAddr,
    /// Where the resolver itself listens, behind any relay.
    resolver_backend: SocketAddr,
    /// Where the lab's own clients ask from.
    pub clients: LabHost,
    /// The port every authority listens on.
    pub port: u16,
    /// The primary's zone file, rewritten for the NOTIFY experiment.
    pub site_zone: PathBuf,
    resolver_running: Option<RunningResolver>,
    net: LabNet,
    stop: CancellationToken,
    _dir: tempfile::TempDir,
}

/// `example.lab.` with `names` workload names, serial `serial`, and `extra` lines. Addresses
/// are written for loopback; [`Hierarchy::zone_text`] moves them into the namespaces' network.
pub fn site_zone(names: usize, serial: u32, extra: &str) -> String {
    let mut zone = format!(
        "$ORIGIN example.lab.\n$TTL 3600\n@ SOA ns1 hostmaster {serial} 60 30 604800 300\n\
         @ NS ns1\n@ NS ns2\nns1 A 127.53.0.4\nns2 A 127.53.0.5\nwww A 192.0.2.80\n\
         alias CNAME www\n{extra}"
    );
    for i in 0..10 {
        zone.push_str(&format!("r{i} A 192.0.2.{}\n", 10 + i));
    }
    for i in 0..names {
        zone.push_str(&format!("n{i} A 10.{}.{}.{}\n", i >> 16 & 255, i >> 8 & 255, i & 255));
    }
    zone
}

const ROOT_ZONE: &str = "$ORIGIN .\n$TTL 86400\n. SOA a.root.lab. hostmaster.root.lab. 1 1800 900 604800 86400\n\
    . NS a.root.lab.\n. NS b.root.lab.\nlab. NS ns.lab.\nns.lab. A 127.53.0.3\n\
    a.root.lab. A 127.53.0.1\nb.root.lab. A 127.53.0.2\n";
const TLD_ZONE: &str = "$ORIGIN lab.\n$TTL 86400\n@ SOA ns hostmaster 1 1800 900 604800 3600\n@ NS ns\n\
    ns A 127.53.0.3\na.root A 127.53.0.1\nb.root A 127.53.0.2\n\
    example NS ns1.example\nexample NS ns2.example\nns1.example A 127.53.0.4\nns2.example A 127.53.0.5\n";

/// A port free on every lab host.
fn free_port() -> std::io::Result<u16> {
    for _ in 0..200 {
        let probe = UdpSocket::bind(SocketAddr::new(IpAddr::V4(loopback(0, ROOT_A)), 0))?;
        let port = probe.local_addr()?.port();
        drop(probe);
        let all_free = [ROOT_A, ROOT_B, TLD, PRIMARY, REPLICA].iter().all(|&h| {
            UdpSocket::bind(SocketAddr::new(IpAddr::V4(loopback(0, h)), port)).is_ok()
                && std::net::TcpListener::bind(SocketAddr::new(IpAddr::V4(loopback(0, h)), port))
                    .is_ok()
        });
        if all_free {
            return Ok(port);
        }
    }
    Err(std::io::Error::other("no port free on every lab host"))
}

impl Hierarchy {
    /// Starts every server on `topology`; returns once the replica has transferred the site
    /// zone. `link` is every server's link, and the lab's own clients'.
    pub async fn start(
        names: usize,
        link: Option<LinkSpec>,
        topology: Topology,
    ) -> Result<Self, LabError> {
        let dir = tempfile::tempdir()?;
        let mut net = LabNet::new(topology, link)?;
        // In namespaces every host has port 53 to itself. On loopback the hosts share one
        // port space, so take a port free on all of them; with a relay in front, each server
        // listens on a second, hidden port and the relay holds the public one.
        let (port, back_port) = if net.in_namespaces() {
            (53, 53)
        } else {
            let port = free_port()?;
            (port, if net.relay_link().is_some() { free_port_other_than(port)? } else { port })
        };
        let zone_text = |text: &str| {
            if net.in_namespaces() {
                text.replace("127.53.0.", "198.18.0.")
            } else {
                text.to_owned()
            }
        };
        let write = |name: &str, text: &str| -> std::io::Result<PathBuf> {
            let path = dir.path().join(name);
            std::fs::write(&path, zone_text(text))?;
            Ok(path)
        };
        let root = write("root.zone", ROOT_ZONE)?;
        let tld = write("lab.zone", TLD_ZONE)?;
        let site_zone = write("example.lab.zone", &site_zone(names, 1, ""))?;
        let stop = CancellationToken::new();
        let lab_networks: Vec<ipnet::IpNet> =
            ["127.0.0.0/8", "198.18.0.0/15"].map(|n| n.parse().expect("literal")).to_vec();
        let ports = (port, back_port);
        let mut authorities = Vec::new();
        for (name, last, origin, path) in [
            ("a.root.lab", ROOT_A, ".", &root),
            ("b.root.lab", ROOT_B, ".", &root),
            ("ns.lab", TLD, "lab.", &tld),
            ("ns1.example.lab (primary)", PRIMARY, "example.lab.", &site_zone),
        ] {
            let options = AuthorityOptions {
                transfer_acl: lab_networks.clone(),
                ..AuthorityOptions::default()
            };
            let source = ZoneSource { origin: Some(origin.into()), path: path.clone() };
            let zones = Arc::new(Zones::load(vec![source], options)?);
            let host = net.host(0, last, link)?;
            authorities.push(serve(name, host, ports, &net, zones).await?);
        }
        // The replica: a secondary of example.lab., NOTIFY accepted from the primary.
        let primary = SocketAddr::new(net.address(0, PRIMARY), port);
        let spec = SecondarySpec::parse(&format!("example.lab.={primary}"), dir.path())
            .map_err(std::io::Error::other)?;
        let mut options = AuthorityOptions::default();
        options.accept_notify_for(std::slice::from_ref(&spec));
        let replica_zones = Arc::new(Zones::load(Vec::new(), options)?);
        let host = net.host(0, REPLICA, link)?;
        let name = "ns2.example.lab (replica)";
        let replica = serve(name, host, ports, &net, replica_zones.clone()).await?;
        let secondary_stop = stop.clone();
        replica.host.enter(|| server::spawn_secondary(spec, replica_zones, secondary_stop));
        authorities.push(replica);

        let hints = RootHints {
            servers: [(ROOT_A, "\x01a\x04root\x03lab\x00"), (ROOT_B, "\x01b\x04root\x03lab\x00")]
                .iter()
                .map(|(last, name)| HintServer {
                    name: name.as_bytes().into(),
                    addresses: vec![net.address(0, *last)],
                })
                .collect(),
        };
        let config = ResolverConfig { ns_port: port, ..ResolverConfig::default() };
        let shared = Arc::new(Shared::new(Cache::new(CacheConfig::default()), hints, config));
        // The resolver's own link is none in namespaces: its clients' hosts carry the client
        // side of the path, the authorities' hosts the other.
        let resolver_host = net.host(0, RESOLVER, None)?;
        let (resolver_port, resolver_back) = if net.in_namespaces() {
            (53, 53)
        } else {
            let port = crate::net::free_port(resolver_host.ip)?;
            (
                port,
                if net.relay_link().is_some() {
                    crate::net::free_port(resolver_host.ip)?
                } else {
                    port
                },
            )
        };
        let settings = ServiceSettings {
            listen: vec![SocketAddr::new(resolver_host.ip, resolver_back)],
            allow: lab_networks,
            workers: 1,
            ..ServiceSettings::default()
        };
        let serving = shared.clone();
        let running =
            resolver_host.run(async move { service::spawn(settings, serving).await }).await??;
        let resolver_addr = SocketAddr::new(resolver_host.ip, resolver_port);
        let resolver_backend = running.local_addrs()[0];
        if let Some(spec) = net.relay_link() {
            net.relay(resolver_addr, resolver_backend, spec).await?;
        }
        let clients = net.host(1, 1, link)?;
        let hierarchy = Self {
            authorities,
            resolver: shared,
            resolver_addr,
            resolver_backend,
            clients,
            port,
            site_zone,
            resolver_running: Some(running),
            net,
            stop,
            _dir: dir,
        };
        hierarchy.wait_for_replica("www.example.lab.", [192, 0, 2, 80]).await?;
        Ok(hierarchy)
    }

    /// The address of the lab host with role `last` (ROOT_A, REPLICA, …).
    pub fn address_of(&self, last: u8) -> IpAddr {
        self.net.address(0, last)
    }

    /// Whether the hosts are network namespaces.
    pub fn in_namespaces(&self) -> bool {
        self.net.in_namespaces()
    }

    /// Paths to the hosts' namespaces (for `nsenter --net=PATH`), by address; empty on loopback.
    pub fn namespace_paths(&self) -> Vec<(IpAddr, String)> {
        self.net.namespace_paths()
    }

    /// Waits (up to 10 s) until the replica answers `name` with `address`.
    pub async fn wait_for_replica(
        &self,
        name: &str,
        address: [u8; 4],
    ) -> Result<std::time::Duration, LabError> {
        let started = tokio::time::Instant::now();
        let replica = SocketAddr::new(self.address_of(REPLICA), self.port);
        while started.elapsed() < std::time::Duration::from_secs(10) {
            if super::client::ask(&self.clients, replica, name, false)
                .await
                .is_some_and(|r| r.has_address(address))
            {
                return Ok(started.elapsed());
            }
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        Err(LabError::new(format!("the replica never answered {name}")))
    }

    /// Sends NOTIFY for `zone` from the primary to the replica, as the primary does on reload.
    pub fn notify_replica(&self, zone: Arc<Zone>) {
        let replica = SocketAddr::new(self.address_of(REPLICA), self.port);
        let primary = &self.authorities[3].host;
        let source = Some(primary.ip);
        primary.enter(|| server::spawn_notifies_from(zone, &[replica], source));
    }

    /// Puts `region`'s clients behind their own link to the resolver. On loopback: clients on
    /// 127.53.`10+index`.1 and a relay on 127.53.`10+index`.53; in namespaces: a host on
    /// 198.18.`10+index`.1 behind the region's link. Returns (the clients' host, the resolver's
    /// address for them).
    pub async fn add_region(
        &mut self,
        index: u8,
        region: &link::Region,
    ) -> Result<(LabHost, SocketAddr), LabError> {
        let server = if self.in_namespaces() { self.resolver_addr } else { self.resolver_backend };
        self.net.clients_behind(10 + index, region.link, server, RESOLVER).await
    }

    /// The primary's authority, for reloads and for stopping it.
    pub fn primary(&mut self) -> &mut Authority {
        &mut self.authorities[3]
    }

    /// Stops every server, then takes the namespaces (if any) down.
    pub async fn shutdown(mut self) {
        self.stop.cancel();
        if let Some(running) = self.resolver_running.take() {
            running.shutdown().await;
        }
        for authority in &mut self.authorities {
            authority.stop().await;
        }
    }

    /// Where the lab's zone files are.
    pub fn dir(&self) -> &Path {
        self._dir.path()
    }
}

/// An authority on `host`: on the first port directly, or on the second behind a relay on the
/// first that applies `net`'s relay link.
async fn serve(
    name: &'static str,
    host: LabHost,
    (port, back_port): (u16, u16),
    net: &LabNet,
    zones: Arc<Zones>,
) -> Result<Authority, LabError> {
    let addr = SocketAddr::new(host.ip, port);
    let back = SocketAddr::new(host.ip, back_port);
    let settings = Settings { listen: vec![back], workers: 1, ..Settings::default() };
    let serving = zones.clone();
    let running =
        host.run(async move { server::spawn(&settings, serving, &Metrics::new()).await }).await??;
    if let Some(spec) = net.relay_link() {
        net.relay(addr, back, spec).await?;
    }
    Ok(Authority { name, host, addr, zones, running: Some(running) })
}

/// A port free on every lab host, other than `taken`.
fn free_port_other_than(taken: u16) -> std::io::Result<u16> {
    for _ in 0..20 {
        let port = free_port()?;
        if port != taken {
            return Ok(port);
        }
    }
    Err(std::io::Error::other("no second port free on every lab host"))
}
