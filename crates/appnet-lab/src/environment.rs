//! What this machine lets the lab do, probed before anything starts.
//!
//! The lab's hosts are loopback addresses (Linux routes all of 127.0.0.0/8 to `lo`, so binding
//! 127.0.0.2 needs no set-up). Real links with delay and bandwidth need network namespaces and
//! netem, which take root or CAP_NET_ADMIN and iproute2; without them the lab must emulate links
//! in-process. The report states which was found, because the numbers depend on it.

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
    /// Online CPUs, which bound how much load the lab can generate.
    pub cpus: usize,
}

impl Environment {
    /// Probes this machine. Binds a few loopback sockets and reads `/proc/self/status`.
    pub fn probe() -> Self {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let binds = |addr: SocketAddr| UdpSocket::bind(addr).is_ok();
        Self {
            loopback_hosts: [Ipv4Addr::new(127, 0, 0, 2), Ipv4Addr::new(127, 1, 2, 3)]
                .into_iter()
                .all(|ip| binds(SocketAddr::from((ip, 0)))),
            ipv6_loopback: binds(SocketAddr::from((Ipv6Addr::LOCALHOST, 0))),
            net_admin: effective_capabilities(&status)
                .is_some_and(|caps| caps & (1 << CAP_NET_ADMIN) != 0),
            iproute2: ["ip", "tc"].iter().all(|tool| on_path(tool)),
            cpus: std::thread::available_parallelism().map_or(1, usize::from),
        }
    }

    /// Whether links can be real namespaces joined by veth pairs with netem delay.
    pub fn can_use_netem(&self) -> bool {
        self.net_admin && self.iproute2
    }

    /// One line per fact, for the terminal and the report.
    pub fn describe(&self) -> Vec<String> {
        let yes_no = |flag: bool| if flag { "yes" } else { "no" };
        let links = if self.can_use_netem() {
            "network namespaces with netem (root or CAP_NET_ADMIN, iproute2 present)".to_owned()
        } else {
            let mut missing = Vec::new();
            if !self.net_admin {
                missing.push("root or CAP_NET_ADMIN");
            }
            if !self.iproute2 {
                missing.push("iproute2 (ip, tc)");
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

fn on_path(tool: &str) -> bool {
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
            cpus: 2,
        };
        assert!(!environment.can_use_netem());
        let lines = environment.describe();
        assert!(
            lines[2].contains("in-process emulation (netem needs root or CAP_NET_ADMIN)"),
            "{lines:?}"
        );
        assert_eq!(lines[1], "IPv6 loopback (::1): no");
    }

    #[test]
    fn probe_finds_loopback_hosts_on_linux() {
        assert!(Environment::probe().loopback_hosts);
    }
}
