//! `appnet dns authority` settings: command-line zone specs and the `[dns.authority]` table.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use ipnet::IpNet;

use super::Settings;
use super::secondary::SecondarySpec;
use super::zones::AuthorityOptions;
use crate::authority::DEFAULT_UDP_SIZE;

/// A zone to serve: its file, and its origin when the file does not say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneSource {
    /// The zone's name, if given (`ORIGIN=FILE`); otherwise the file's SOA owner.
    pub origin: Option<String>,
    /// The master file.
    pub path: PathBuf,
}

impl ZoneSource {
    /// Parses `--zone` text: `FILE` or `ORIGIN=FILE`.
    pub fn parse(spec: &str) -> Self {
        match spec.split_once('=') {
            Some((origin, path)) if !origin.is_empty() && !origin.contains('/') => {
                Self { origin: Some(origin.to_owned()), path: PathBuf::from(path) }
            }
            _ => Self { origin: None, path: PathBuf::from(spec) },
        }
    }
}

/// The `[dns.authority]` table of a config file.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AuthorityConfig {
    /// Addresses to serve UDP and TCP on.
    #[serde(default)]
    pub listen: Vec<SocketAddr>,
    /// Zones to serve.
    #[serde(default)]
    pub zone: Vec<ConfigZone>,
    /// UDP sockets per address (default: one per CPU).
    pub workers: Option<usize>,
    /// Largest UDP response for EDNS clients, in bytes (default 1232).
    pub udp_size: Option<u16>,
    /// Seconds an idle TCP connection stays open (default 10).
    pub tcp_idle_timeout: Option<u64>,
    /// TCP connections served at once (default 1024).
    pub tcp_max_connections: Option<usize>,
    /// Where to serve Prometheus metrics.
    pub metrics: Option<SocketAddr>,
    /// Response rate limit: identical responses per second per client network (off if unset).
    pub rrl_rate: Option<u32>,
    /// Every Nth rate-limited response is sent truncated instead of dropped (default 2).
    pub rrl_slip: Option<u32>,
    /// Networks allowed to transfer our zones (AXFR/IXFR), e.g. `["192.0.2.0/24", "::1/128"]`.
    #[serde(default)]
    pub allow_transfer: Vec<IpNet>,
    /// Secondaries to NOTIFY when a zone's serial changes.
    #[serde(default)]
    pub notify: Vec<SocketAddr>,
    /// Zones this server is secondary for.
    #[serde(default)]
    pub secondary: Vec<ConfigSecondary>,
}

/// One `[[dns.authority.secondary]]` entry.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ConfigSecondary {
    /// The zone's name.
    pub origin: String,
    /// Primaries to transfer from, tried in order.
    pub primaries: Vec<SocketAddr>,
    /// Where to keep the copy, relative to the config file.
    pub file: PathBuf,
}

/// One `[[dns.authority.zone]]` entry.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ConfigZone {
    /// The master file, relative to the config file.
    pub file: PathBuf,
    /// The zone's name, if the file does not give it.
    pub origin: Option<String>,
}

impl AuthorityConfig {
    /// The server settings, zone sources and UDP size this table asks for. Zone paths are
    /// taken relative to `config_dir`.
    pub fn resolve(
        &self,
        config_dir: &Path,
    ) -> (Settings, Vec<ZoneSource>, AuthorityOptions, Vec<SecondarySpec>) {
        let defaults = Settings::default();
        let settings = Settings {
            listen: self.listen.clone(),
            workers: self.workers.unwrap_or(defaults.workers),
            tcp_idle_timeout: self
                .tcp_idle_timeout
                .map_or(defaults.tcp_idle_timeout, Duration::from_secs),
            tcp_max_connections: self.tcp_max_connections.unwrap_or(defaults.tcp_max_connections),
            rrl: self
                .rrl_rate
                .filter(|&rate| rate > 0)
                .map(|rate| (rate, self.rrl_slip.unwrap_or(2))),
        };
        let zones = self
            .zone
            .iter()
            .map(|zone| ZoneSource {
                origin: zone.origin.clone(),
                path: config_dir.join(&zone.file),
            })
            .collect();
        let secondaries: Vec<SecondarySpec> = self
            .secondary
            .iter()
            .map(|s| SecondarySpec {
                origin: s.origin.clone(),
                primaries: s.primaries.clone(),
                file: config_dir.join(&s.file),
            })
            .collect();
        let options = AuthorityOptions {
            udp_size: self.udp_size.unwrap_or(DEFAULT_UDP_SIZE),
            transfer_acl: self.allow_transfer.clone(),
            notify_sources: Vec::new(),
        };
        (settings, zones, options, secondaries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_specs() {
        assert_eq!(ZoneSource::parse("a.zone"), ZoneSource { origin: None, path: "a.zone".into() });
        assert_eq!(
            ZoneSource::parse("example.test.=zones/a.zone"),
            ZoneSource { origin: Some("example.test.".into()), path: "zones/a.zone".into() }
        );
        assert_eq!(ZoneSource::parse("./x=y.zone").origin, None, "a path with '=' in it");
    }

    #[test]
    fn config_table_resolves_relative_paths() {
        #[derive(Deserialize)]
        struct File {
            dns: Dns,
        }
        #[derive(Deserialize)]
        struct Dns {
            authority: AuthorityConfig,
        }
        let text = "[dns.authority]\nlisten = [\"127.0.0.1:5300\"]\nworkers = 2\n\
                    [[dns.authority.zone]]\nfile = \"example.zone\"\norigin = \"example.test.\"\n";
        let file: File = appnet_service::config::parse(Path::new("a.toml"), text).unwrap();
        let (settings, zones, options, secondaries) =
            file.dns.authority.resolve(Path::new("/etc/appnet"));
        assert!(secondaries.is_empty());
        assert_eq!(settings.workers, 2);
        assert_eq!(zones[0].path, Path::new("/etc/appnet/example.zone"));
        assert_eq!(options.udp_size, DEFAULT_UDP_SIZE);
        assert!(options.transfer_acl.is_empty(), "no transfers unless allowed");
    }
}
