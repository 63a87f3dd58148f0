//! Access policy: which client networks the proxy serves (default loopback only), which
//! destination hosts it refuses (`--deny-host`, `*.` wildcards), and which ports CONNECT may
//! open (443 unless told). A refusal is a 403 and a log line saying why.

use std::net::IpAddr;

use ipnet::IpNet;

/// The proxy's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Client networks served.
    pub allow: Vec<IpNet>,
    /// Destination host patterns refused: `example.com` (that host) or `*.example.com` (it and
    /// every name under it).
    pub deny_hosts: Vec<String>,
    /// Ports a CONNECT tunnel may reach.
    pub connect_ports: Vec<u16>,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            allow: vec![
                "127.0.0.0/8".parse().expect("literal"),
                "::1/128".parse().expect("literal"),
            ],
            deny_hosts: Vec::new(),
            connect_ports: vec![443],
        }
    }
}

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The client is not in an allowed network.
    #[error("client {0} is not in an allowed network")]
    Client(IpAddr),
    /// The destination matches a deny pattern.
    #[error("host {host} is denied by `{pattern}`")]
    Host {
        /// The host asked for.
        host: String,
        /// The pattern it matched.
        pattern: String,
    },
    /// CONNECT to a port not allowed.
    #[error("CONNECT to port {0} is not allowed")]
    Port(u16),
}

impl Policy {
    /// Whether `client` may use the proxy.
    pub fn client(&self, client: IpAddr) -> Result<(), Refusal> {
        let client = match client {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
            v4 => v4,
        };
        if self.allow.iter().any(|net| net.contains(&client)) {
            Ok(())
        } else {
            Err(Refusal::Client(client))
        }
    }

    /// Whether the proxy may reach `host`.
    pub fn host(&self, host: &str) -> Result<(), Refusal> {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        for pattern in &self.deny_hosts {
            let denied = match pattern.strip_prefix("*.") {
                Some(suffix) => host == suffix || host.ends_with(&format!(".{suffix}")),
                None => host == pattern.to_ascii_lowercase(),
            };
            if denied {
                return Err(Refusal::Host { host, pattern: pattern.clone() });
            }
        }
        Ok(())
    }

    /// Whether CONNECT may reach `port`.
    pub fn connect_port(&self, port: u16) -> Result<(), Refusal> {
        if self.connect_ports.contains(&port) { Ok(()) } else { Err(Refusal::Port(port)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_hosts_and_ports() {
        let policy = Policy {
            deny_hosts: vec!["*.ads.test".into(), "tracker.test".into()],
            ..Policy::default()
        };
        assert!(policy.client("127.0.0.9".parse().unwrap()).is_ok());
        assert!(policy.client("::ffff:127.0.0.1".parse().unwrap()).is_ok());
        assert!(policy.client("192.0.2.1".parse().unwrap()).is_err());
        assert!(policy.host("x.ads.test").is_err() && policy.host("ADS.test.").is_err());
        assert!(policy.host("tracker.test").is_err() && policy.host("sub.tracker.test").is_ok());
        assert!(policy.host("lab.test").is_ok());
        assert!(policy.connect_port(443).is_ok() && policy.connect_port(25).is_err());
    }
}
