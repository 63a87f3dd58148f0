//! What this machine lets the lab do, probed before anything starts.
//!
//! The lab's hosts are loopback addresses (Linux routes all of 127.0.0.0/8 to `lo`, so binding
//! 127.0.0.2 needs no set-up). Real links with delay and bandwidth need network namespaces and
//! netem, which take root (CAP_SYS_ADMIN and CAP_NET_ADMIN), iproute2, and a kernel built with
//! netem; without them the lab emulates links in-process. Each is tried for real (a throwaway
//! namespace, a netem qdisc in it), not guessed from capabilities, and the report states what
//! was found, because the numbers depend on it.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::path::Path;

/// Linux capability number of CAP_NET_ADMIN (`linux/capability.h`).
const CAP_NET_ADMIN: u32 = 12;

/// The facts the lab depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Environment {
    /// Distinct 127.x addresses can be bound (they are the lab's hosts).
    pub loopback_hosts: bool,
    /// `::1` can be bound.
    pub ipv6_loopback: bool,
    /// The process has CAP_NET_ADMIN (needed to create namespaces and qdiscs).
    pub net_admin: bool,
    /// `ip` and `tc` from iproute2 are installed.
    pub iproute2: bool,
    /// A network namespace could be made (and a bridge in it).
    pub namespaces: bool,
    /// A netem qdisc could be added in it (some kernels are built without sch_netem).
    pub netem: bool,
    /// Online CPUs, which bound how much load the lab can generate.
    pub cpus: usize,
}

impl Environment {
    /// Probes this machine. Binds a few loopback sockets and reads `/proc/self/status`.
    pub fn probe() -> Self {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let binds = |addr: SocketAddr| UdpSocket::bind(addr).is_ok();
        let net_admin =
            effective_capabilities(&status).is_some_and(|caps| caps & (1 << CAP_NET_ADMIN) != 0);
        let iproute2 = ["ip", "tc"].iter().all(|tool| on_path(tool));
        let (namespaces, netem) =
            if net_admin && iproute2 { try_namespace() } else { (false, false) };
        Self {
            loopback_hosts: [Ipv4Addr::new(127, 0, 0, 2), Ipv4Addr::new(127, 1, 2, 3)]
                .into_iter()
                .all(|ip| binds(SocketAddr::from((ip, 0)))),
            ipv6_loopback: binds(SocketAddr::from((Ipv6Addr::LOCALHOST, 0))),
            net_admin,
            iproute2,
            namespaces,
            netem,
            cpus: std::thread::available_parallelism().map_or(1, usize::from),
        }
    }

    /// Whether links can be real namespaces joined by veth pairs with netem delay.
    pub fn can_use_netem(&self) -> bool {
        self.namespaces && self.netem
    }

    /// One line per fact, for the terminal and the report.
    pub fn describe(&self) -> Vec<String> {
        let yes_no = |flag: bool| if flag { "yes" } else { "no" };
        let links = if self.can_use_netem() {
            "network namespaces with netem (root, iproute2, netem in the kernel)".to_owned()
        } else if self.namespaces {
            "network namespaces, bandwidth only (tbf): this kernel has no netem (sch_netem), so \
             delay is emulated in-process"
                .to_owned()
        } else {
            let mut missing = Vec::new();
            if !self.net_admin {
                missing.push("root or CAP_NET_ADMIN");
            }
            if !self.iproute2 {
                missing.push("iproute2 (ip, tc)");
            }
            if missing.is_empty() {
                missing.push("network namespaces (unshare was refused)");
            }
            format!("in-process emulation (netem needs {})", missing.join(" and "))
        };
        vec![
            format!("loopback hosts (127.0.0.2, 127.1.2.3): {}", yes_no(self.loopback_hosts)),
            format!("IPv6 loopback (::1): {}", yes_no(self.ipv6_loopback)),
            format!("link emulation available: {links}"),
            format!("CPUs: {}", self.cpus),
        ]
    }
}

/// The effective capability mask from the text of `/proc/self/status`.
pub fn effective_capabilities(status: &str) -> Option<u64> {
    let hex = status.lines().find_map(|line| line.strip_prefix("CapEff:"))?;
    u64::from_str_radix(hex.trim(), 16).ok()
}

/// Makes a throwaway namespace with a bridge, then tries netem in it: (namespaces, netem).
fn try_namespace() -> (bool, bool) {
    let Ok(namespace) = crate::netns::namespace::Namespace::create() else { return (false, false) };
    let bridge = namespace.run("ip", &["link", "add", "probe0", "type", "bridge"]).is_ok();
    let netem = namespace
        .run("tc", &["qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"])
        .is_ok();
    (bridge, bridge && netem)
}

/// Whether `tool` is an executable on PATH (or in /usr/sbin, /sbin).
pub(crate) fn on_path(tool: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin"].map(Into::into))
        .any(|dir| Path::new(&dir).join(tool).is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_effective_capabilities() {
        let status = "Name:\tappnet\nCapInh:\t0000000000000000\nCapEff:\t000001ffffffffff\n";
        let caps = effective_capabilities(status).unwrap();
        assert_ne!(caps & (1 << CAP_NET_ADMIN), 0);
        assert_eq!(effective_capabilities("CapEff:\t0000000000000000\n"), Some(0));
        assert_eq!(effective_capabilities("Name: x\n"), None);
        assert_eq!(effective_capabilities("CapEff: zz\n"), None);
    }

    #[test]
    fn describes_why_netem_is_unavailable() {
        let environment = Environment {
            loopback_hosts: true,
            ipv6_loopback: false,
            net_admin: false,
            iproute2: true,
            namespaces: false,
            netem: false,
            cpus: 2,
        };
        assert!(!environment.can_use_netem());
        let lines = environment.describe();
        assert!(
            lines[2].contains("in-process emulation (netem needs root or CAP_NET_ADMIN)"),
            "{lines:?}"
        );
        assert_eq!(lines[1], "IPv6 loopback (::1): no");
        let no_netem = Environment { net_admin: true, namespaces: true, ..environment };
        assert!(!no_netem.can_use_netem());
        assert!(
            no_netem.describe()[2].contains("no netem (sch_netem)"),
            "{:?}",
            no_netem.describe()
        );
    }

    #[test]
    fn probe_finds_loopback_hosts_on_linux() {
        assert!(Environment::probe().loopback_hosts);
    }
}
