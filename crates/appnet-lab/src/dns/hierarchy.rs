//! The lab's naming system: two root servers, a TLD server for `lab.`, the site zone
//! `example.lab.` on a primary and a replica kept in sync by zone transfer and NOTIFY, and a
//! recursive resolver whose root hints are the lab's roots. Every server is an appnet server
//! running in this process, each on its own 127.53.0.x host, all on one port.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use appnet_dns::resolver::driver::Shared;
use appnet_dns::resolver::hints::HintServer;
use appnet_dns::resolver::service::{self, RunningResolver, ServiceSettings};
use appnet_dns::resolver::{Cache, CacheConfig, ResolverConfig, RootHints};
use appnet_dns::server::{
    self, AuthorityOptions, Running, SecondarySpec, Settings, ZoneSource, Zones,
};
use appnet_service::Metrics;
use tokio_util::sync::CancellationToken;

use crate::LabError;
use crate::link::{self, LinkSpec};

/// A lab host's address: 127.53.0.`last`.
pub fn host(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 53, 0, last))
}

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
    /// The port every authority listens on.
    pub port: u16,
    /// The primary's zone file, rewritten for the NOTIFY experiment.
    pub site_zone: PathBuf,
    resolver_running: Option<RunningResolver>,
    stop: CancellationToken,
    _dir: tempfile::TempDir,
}

/// `example.lab.` with `names` workload names, serial `serial`, and `extra` lines.
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
        let probe = UdpSocket::bind(SocketAddr::new(host(ROOT_A), 0))?;
        let port = probe.local_addr()?.port();
        drop(probe);
        let all_free = [ROOT_A, ROOT_B, TLD, PRIMARY, REPLICA].iter().all(|&h| {
            UdpSocket::bind(SocketAddr::new(host(h), port)).is_ok()
                && std::net::TcpListener::bind(SocketAddr::new(host(h), port)).is_ok()
        });
        if all_free {
            return Ok(port);
        }
    }
    Err(std::io::Error::other("no port free on every lab host"))
}

impl Hierarchy {
    /// Starts every server; returns once the replica has transferred the site zone.
    pub async fn start(names: usize, link: Option<LinkSpec>) -> Result<Self, LabError> {
        let dir = tempfile::tempdir()?;
        let port = free_port()?;
        // With a link, each server listens on a hidden port and a relay holds the public one.
        let back_port = if link.is_some() { free_port_other_than(port)? } else { port };
        let write = |name: &str, text: &str| -> std::io::Result<PathBuf> {
            let path = dir.path().join(name);
            std::fs::write(&path, text)?;
            Ok(path)
        };
        let root = write("root.zone", ROOT_ZONE)?;
        let tld = write("lab.zone", TLD_ZONE)?;
        let site_zone = write("example.lab.zone", &site_zone(names, 1, ""))?;
        let stop = CancellationToken::new();
        let loopback: ipnet::IpNet = "127.0.0.0/8".parse().expect("literal");
        let mut authorities = Vec::new();
        for (name, last, origin, path) in [
            ("a.root.lab", ROOT_A, ".", &root),
            ("b.root.lab", ROOT_B, ".", &root),
            ("ns.lab", TLD, "lab.", &tld),
            ("ns1.example.lab (primary)", PRIMARY, "example.lab.", &site_zone),
        ] {
            let options =
                AuthorityOptions { transfer_acl: vec![loopback], ..AuthorityOptions::default() };
            let source = ZoneSource { origin: Some(origin.into()), path: path.clone() };
            let zones = Arc::new(Zones::load(vec![source], options)?);
            authorities.push(serve(name, last, (port, back_port), link, &stop, zones).await?);
        }
        // The replica: a secondary of example.lab., NOTIFY accepted from the primary.
        let primary = SocketAddr::new(host(PRIMARY), port);
        let spec = SecondarySpec::parse(&format!("example.lab.={primary}"), dir.path())
            .map_err(std::io::Error::other)?;
        let mut options = AuthorityOptions::default();
        options.accept_notify_for(std::slice::from_ref(&spec));
        let replica_zones = Arc::new(Zones::load(Vec::new(), options)?);
        let ports = (port, back_port);
        let replica =
            serve("ns2.example.lab (replica)", REPLICA, ports, link, &stop, replica_zones.clone())
                .await?;
        server::spawn_secondary(spec, replica_zones, stop.clone());
        authorities.push(replica);

        let hints = RootHints {
            servers: [(ROOT_A, "\x01a\x04root\x03lab\x00"), (ROOT_B, "\x01b\x04root\x03lab\x00")]
                .iter()
                .map(|(last, name)| HintServer {
                    name: name.as_bytes().into(),
                    addresses: vec![host(*last)],
                })
                .collect(),
        };
        let config = ResolverConfig { ns_port: port, ..ResolverConfig::default() };
        let shared = Arc::new(Shared::new(Cache::new(CacheConfig::default()), hints, config));
        let resolver_port = free_port_on(host(RESOLVER))?;
        let resolver_back =
            if link.is_some() { free_port_on(host(RESOLVER))? } else { resolver_port };
        let settings = ServiceSettings {
            listen: vec![SocketAddr::new(host(RESOLVER), resolver_back)],
            workers: 1,
            ..ServiceSettings::default()
        };
        let running = service::spawn(settings, shared.clone()).await?;
        let resolver_addr = SocketAddr::new(host(RESOLVER), resolver_port);
        let resolver_backend = running.local_addrs()[0];
        if let Some(spec) = link {
            relay(resolver_addr, resolver_backend, spec, &stop).await?;
        }
        let hierarchy = Self {
            authorities,
            resolver: shared,
            resolver_addr,
            resolver_backend,
            port,
            site_zone,
            resolver_running: Some(running),
            stop,
            _dir: dir,
        };
        hierarchy.wait_for_replica("www.example.lab.", [192, 0, 2, 80]).await?;
        Ok(hierarchy)
    }

    /// Waits (up to 10 s) until the replica answers `name` with `address`.
    pub async fn wait_for_replica(
        &self,
        name: &str,
        address: [u8; 4],
    ) -> Result<std::time::Duration, LabError> {
        let started = tokio::time::Instant::now();
        let replica = SocketAddr::new(host(REPLICA), self.port);
        while started.elapsed() < std::time::Duration::from_secs(10) {
            if super::client::ask_once(replica, name, false)
                .await
                .is_some_and(|r| r.has_address(address))
            {
                return Ok(started.elapsed());
            }
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        Err(LabError::new(format!("the replica never answered {name}")))
    }

    /// Puts `region`'s clients (on 127.53.`10+index`.1) behind its link to the resolver: a
    /// relay on 127.53.`10+index`.53. Returns (the clients' address, the resolver's for them).
    pub async fn add_region(
        &self,
        index: u8,
        region: &link::Region,
    ) -> Result<(IpAddr, SocketAddr), LabError> {
        let network = 10 + index;
        let front_ip = IpAddr::V4(Ipv4Addr::new(127, 53, network, RESOLVER));
        let front = SocketAddr::new(front_ip, free_port_on(front_ip)?);
        relay(front, self.resolver_backend, region.link, &self.stop).await?;
        Ok((IpAddr::V4(Ipv4Addr::new(127, 53, network, 1)), front))
    }

    /// The primary's authority, for reloads and for stopping it.
    pub fn primary(&mut self) -> &mut Authority {
        &mut self.authorities[3]
    }

    /// Stops every server.
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

/// An authority on `host(last)`: on the first port directly, or on the second behind a relay
/// on the first that applies `link`.
async fn serve(
    name: &'static str,
    last: u8,
    (port, back_port): (u16, u16),
    link: Option<LinkSpec>,
    stop: &CancellationToken,
    zones: Arc<Zones>,
) -> Result<Authority, LabError> {
    let addr = SocketAddr::new(host(last), port);
    let back = SocketAddr::new(host(last), back_port);
    let settings = Settings { listen: vec![back], workers: 1, ..Settings::default() };
    let running = server::spawn(&settings, zones.clone(), &Metrics::new()).await?;
    if let Some(spec) = link {
        relay(addr, back, spec, stop).await?;
    }
    Ok(Authority { name, addr, zones, running: Some(running) })
}

/// UDP and TCP relays from `front` to `back` through a link of `spec`.
async fn relay(
    front: SocketAddr,
    back: SocketAddr,
    spec: LinkSpec,
    stop: &CancellationToken,
) -> Result<(), LabError> {
    link::spawn_udp(front, back, spec, stop.clone()).await?;
    link::spawn_tcp(front, back, spec, stop.clone()).await?;
    Ok(())
}

/// A UDP and TCP port free on `ip`.
fn free_port_on(ip: IpAddr) -> std::io::Result<u16> {
    for _ in 0..100 {
        let port = UdpSocket::bind(SocketAddr::new(ip, 0))?.local_addr()?.port();
        if std::net::TcpListener::bind(SocketAddr::new(ip, port)).is_ok() {
            return Ok(port);
        }
    }
    Err(std::io::Error::other(format!("no free port on {ip}")))
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
