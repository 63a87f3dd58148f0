//! The lab's hosts as network namespaces: real, separate network stacks joined by a switch.
//!
//! One namespace is the switch: a Linux bridge. Every host is a namespace of its own with one
//! interface, `eth0`, the end of a veth pair whose other end is a port of the bridge. A host's
//! link is shaped on both ends of its pair (netem, or tbf where the kernel lacks netem — see
//! [`shaping`]): packets leaving the host wait half the link's round trip, and so do packets
//! coming to it, so every exchange with the host pays its round trip once.
//!
//! Hosts are numbered in 198.18.0.0/15, the block RFC 2544 sets aside for benchmarking
//! networks; it is reachable only inside the lab's own namespaces. Needs CAP_SYS_ADMIN and
//! CAP_NET_ADMIN (root) and iproute2's `ip` and `tc`.

pub mod namespace;
pub mod shaping;

use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use namespace::Namespace;

use crate::LabError;
use crate::host::LabHost;
use crate::link::LinkSpec;

/// The lab network's prefix length: all of 198.18.0.0/15 is one segment.
const PREFIX: u8 = 15;

/// A lab address: 198.18.`third`.`fourth`.
pub fn address(third: u8, fourth: u8) -> Ipv4Addr {
    Ipv4Addr::new(198, 18, third, fourth)
}

/// The switch and the hosts attached to it.
pub struct Network {
    switch: Namespace,
    netem: bool,
    ports: usize,
}

impl Network {
    /// A switch with no hosts yet. `netem` says whether the kernel has netem (the
    /// [`Environment`](crate::environment::Environment) probe found out).
    pub fn new(netem: bool) -> Result<Self, LabError> {
        let switch = Namespace::create().map_err(|e| namespace_error("the lab's switch", e))?;
        switch.run("ip", &["link", "set", "lo", "up"])?;
        switch.run("ip", &["link", "add", "br0", "type", "bridge"])?;
        switch.run("ip", &["link", "set", "br0", "up"])?;
        Ok(Self { switch, netem, ports: 0 })
    }

    /// A new host on `ip` (in 198.18.0.0/15) behind a link of `link`, with its own runtime.
    pub fn add_host(&mut self, ip: Ipv4Addr, link: Option<LinkSpec>) -> Result<Host, LabError> {
        let qdisc = match link {
            Some(spec) => shaping::qdisc(spec, self.netem).map_err(LabError::new)?,
            None => None,
        };
        let namespace = Namespace::create().map_err(|e| namespace_error(&ip.to_string(), e))?;
        self.ports += 1;
        let port = format!("p{}", self.ports);
        let peer = namespace.path();
        self.switch.run(
            "ip",
            &["link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns", &peer],
        )?;
        self.switch.run("ip", &["link", "set", &port, "master", "br0", "up"])?;
        let cidr = format!("{ip}/{PREFIX}");
        namespace.run("ip", &["link", "set", "lo", "up"])?;
        namespace.run("ip", &["addr", "add", &cidr, "dev", "eth0"])?;
        namespace.run("ip", &["link", "set", "eth0", "up"])?;
        if let Some(qdisc) = qdisc {
            // Both ends: what the host sends, and what the switch sends to it.
            for (end, dev) in [(&namespace, "eth0"), (&self.switch, port.as_str())] {
                let mut args = vec!["qdisc", "add", "dev", dev, "root"];
                args.extend(qdisc.iter().map(String::as_str));
                end.run("tc", &args)?;
            }
        }
        Host::start(IpAddr::V4(ip), namespace)
    }
}

/// A host in its own namespace, and the runtime whose threads live there. Dropping it stops
/// the runtime; the namespace goes when the last socket in it closes.
pub struct Host {
    host: LabHost,
    runtime: Option<tokio::runtime::Runtime>,
    namespace: Arc<Namespace>,
}

impl Host {
    fn start(ip: IpAddr, namespace: Namespace) -> Result<Self, LabError> {
        let namespace = Arc::new(namespace);
        let inside = namespace.clone();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name(format!("lab-{ip}"))
            .on_thread_start(move || {
                if let Err(error) = inside.enter() {
                    tracing::error!(%error, "a lab host's thread could not enter its namespace");
                }
            })
            .enable_all()
            .build()?;
        // Every thread of the runtime enters the namespace as it starts; check one did.
        let (sender, receiver) = std::sync::mpsc::channel();
        runtime.spawn(async move { drop(sender.send(Namespace::current_inode())) });
        let seen = receiver
            .recv_timeout(Duration::from_secs(5))
            .map_err(|_| LabError::new(format!("lab host {ip}'s runtime did not start")))??;
        if seen != namespace.inode()? {
            return Err(LabError::new(format!("lab host {ip}'s threads are not in its namespace")));
        }
        let host = LabHost::in_namespace(ip, runtime.handle().clone());
        Ok(Self { host, runtime: Some(runtime), namespace })
    }

    /// The host as experiments use it.
    pub fn host(&self) -> &LabHost {
        &self.host
    }

    /// A path to the host's namespace, for `nsenter --net=PATH dig …` while the lab runs.
    pub fn namespace_path(&self) -> String {
        self.namespace.path()
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            // Not a blocking shutdown: hosts are dropped from inside the lab's own runtime.
            runtime.shutdown_background();
        }
    }
}

fn namespace_error(what: &str, error: io::Error) -> LabError {
    LabError::new(format!(
        "cannot make a network namespace for {what}: {error} (needs root or CAP_SYS_ADMIN)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether this process may make namespaces; the tests below say so and stop if not.
    fn privileged() -> bool {
        let allowed = Namespace::create().is_ok()
            && ["ip", "tc"].iter().all(|tool| crate::environment::on_path(tool));
        if !allowed {
            eprintln!("skipped: needs root (network namespaces) and iproute2");
        }
        allowed
    }

    /// Sends `bytes` from host `a` to an echo on host `b`; returns the echo and the time taken.
    async fn echo(a: &LabHost, b: &LabHost, port: u16, bytes: usize) -> (Vec<u8>, Duration) {
        let server_ip = b.ip;
        let server = b
            .run(async move {
                let socket = tokio::net::UdpSocket::bind((server_ip, port)).await.unwrap();
                tokio::spawn(async move {
                    let mut buffer = vec![0; 65_536];
                    let (length, from) = socket.recv_from(&mut buffer).await.unwrap();
                    socket.send_to(&buffer[..length], from).await.unwrap();
                });
            })
            .await;
        server.unwrap();
        let client_ip = a.ip;
        a.run(async move {
            let socket = tokio::net::UdpSocket::bind((client_ip, 0)).await.unwrap();
            let started = tokio::time::Instant::now();
            socket.send_to(&vec![7; bytes], (server_ip, port)).await.unwrap();
            let mut buffer = vec![0; 65_536];
            let (length, _) =
                tokio::time::timeout(Duration::from_secs(5), socket.recv_from(&mut buffer))
                    .await
                    .expect("an echo within 5 s")
                    .unwrap();
            (buffer[..length].to_vec(), started.elapsed())
        })
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn hosts_in_namespaces_reach_each_other_and_nothing_else() {
        if !privileged() {
            return;
        }
        let mut network = Network::new(false).unwrap();
        let a = network.add_host(address(0, 1), None).unwrap();
        let b = network.add_host(address(0, 2), None).unwrap();
        let (echoed, _) = echo(a.host(), b.host(), 7, 100).await;
        assert_eq!(echoed, vec![7; 100]);
        // The host's stack is its own: what it sends to 127.0.0.1 stays in its namespace and
        // never reaches a socket on this process's loopback.
        let outside = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        outside.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
        let target = outside.local_addr().unwrap();
        a.host()
            .run(async move {
                let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
                drop(socket.send_to(b"escape?", target).await);
            })
            .await
            .unwrap();
        assert!(outside.recv(&mut [0; 16]).is_err(), "a lab host reached the host's loopback");
        let here = Namespace::current_inode().unwrap();
        let there = a.host().run(async { Namespace::current_inode().unwrap() }).await.unwrap();
        assert_ne!(here, there);
    }

    #[tokio::test]
    async fn a_shaped_link_paces_to_its_bandwidth() {
        if !privileged() {
            return;
        }
        // 1 Mbit/s on b's link, no delay (tbf works on kernels without netem too): a 40 KB
        // datagram takes ~0.32 s each way through b's two shaped ends.
        let mut network = Network::new(false).unwrap();
        let a = network.add_host(address(0, 1), None).unwrap();
        let spec = LinkSpec { rtt: Duration::ZERO, bandwidth: Some(1_000_000) };
        let b = network.add_host(address(0, 2), Some(spec)).unwrap();
        let (echoed, elapsed) = echo(a.host(), b.host(), 7, 40_000).await;
        assert_eq!(echoed.len(), 40_000);
        assert!(elapsed >= Duration::from_millis(550), "paced: {elapsed:?}");
        let (_, small) = echo(a.host(), b.host(), 8, 100).await;
        assert!(small < Duration::from_millis(100), "a small datagram is not held: {small:?}");
    }
}
