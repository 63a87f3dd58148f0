//! `appnet proxy`: the shared cache as a forward or reverse proxy, until told to stop.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use appnet_proxy::origins::HealthRules;
use appnet_proxy::policy::Policy;
use appnet_proxy::routes::RouteSpec;
use appnet_proxy::server::{self, ProxySettings};
use appnet_service::Lifecycle;
use appnet_service::metrics::Metrics;
use serde::Deserialize;

use crate::cli::ProxyArgs;

/// The parts of an appnet config file this command reads.
#[derive(Debug, Default, Deserialize)]
struct ConfigFile {
    #[serde(default)]
    proxy: ProxyTable,
}

/// `[proxy]`: where to listen, how much to keep, and a reverse proxy's routes.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProxyTable {
    #[serde(default)]
    listen: Vec<SocketAddr>,
    /// Memory for stored responses, e.g. "256MiB".
    cache_mem: Option<String>,
    /// A directory for stored responses, kept across restarts.
    cache_dir: Option<PathBuf>,
    /// Its budget, e.g. "10GiB".
    cache_disk: Option<String>,
    #[serde(default, rename = "route")]
    routes: Vec<RouteTable>,
    health: Option<HealthTable>,
}

/// `[[proxy.route]]`: a host name (or `*.suffix`; absent: every other host) and its origins.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteTable {
    host: Option<String>,
    origins: Vec<String>,
}

/// `[proxy.health]`: how origins are checked.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HealthTable {
    path: Option<String>,
    interval_ms: Option<u64>,
    timeout_ms: Option<u64>,
    fall: Option<u32>,
    rise: Option<u32>,
}

fn origin_uri(text: &str, source: &str) -> anyhow::Result<hyper::Uri> {
    let uri: hyper::Uri = text.parse().with_context(|| format!("{source} `{text}`"))?;
    if uri.scheme_str() != Some("http") || uri.authority().is_none() {
        bail!("{source} `{text}`: expected http://HOST:PORT (https origins are not built yet)");
    }
    Ok(uri)
}

pub(crate) fn run(args: &ProxyArgs) -> anyhow::Result<ExitCode> {
    let table = match &args.config {
        Some(path) => appnet_service::config::load::<ConfigFile>(path)?.proxy,
        None => ProxyTable::default(),
    };
    let config_name = args.config.clone().unwrap_or_else(|| PathBuf::from("--config"));
    let mut routes = Vec::new();
    if !args.origin.is_empty() {
        let origins =
            args.origin.iter().map(|o| origin_uri(o, "--origin")).collect::<anyhow::Result<_>>()?;
        routes.push(RouteSpec { host: None, origins });
    }
    for route in &table.routes {
        let source = format!("{}: [[proxy.route]] origins", config_name.display());
        if route.origins.is_empty() {
            bail!("{source}: a route needs at least one origin");
        }
        let origins =
            route.origins.iter().map(|o| origin_uri(o, &source)).collect::<anyhow::Result<_>>()?;
        routes.push(RouteSpec { host: route.host.clone(), origins });
    }
    let defaults = HealthRules::default();
    let health_table = table.health.unwrap_or_default();
    let health = HealthRules {
        path: health_table.path.unwrap_or_else(|| args.health_path.clone()),
        interval: health_table.interval_ms.map_or(defaults.interval, Duration::from_millis),
        timeout: health_table.timeout_ms.map_or(defaults.timeout, Duration::from_millis),
        fall: health_table.fall.unwrap_or(defaults.fall).max(1),
        rise: health_table.rise.unwrap_or(defaults.rise).max(1),
    };
    if !health.path.starts_with('/') {
        bail!("health check path `{}`: must start with /", health.path);
    }
    let listen = if args.listen.is_empty() { table.listen.clone() } else { args.listen.clone() };
    if listen.is_empty() {
        bail!("nowhere to listen: give --listen ADDR (or listen in [proxy] of --config)");
    }
    let cache_bytes = match (args.cache_mem, &table.cache_mem) {
        (Some(bytes), _) => bytes,
        (None, Some(text)) => crate::cli::parse_size(text)
            .map_err(|error| anyhow::anyhow!("{}: cache_mem {error}", config_name.display()))?,
        (None, None) => 256 << 20,
    };
    let cache_dir = args.cache_dir.clone().or_else(|| table.cache_dir.clone());
    let disk_bytes = match (args.cache_disk, &table.cache_disk) {
        (Some(bytes), _) => bytes as u64,
        (None, Some(text)) => crate::cli::parse_size(text)
            .map_err(|error| anyhow::anyhow!("{}: cache_disk {error}", config_name.display()))?
            as u64,
        (None, None) => 10 << 30,
    };
    if cache_dir.is_none() && (args.cache_disk.is_some() || table.cache_disk.is_some()) {
        bail!("--cache-disk needs --cache-dir DIR (where to keep the responses)");
    }
    let policy_defaults = Policy::default();
    let policy = Policy {
        allow: if args.allow.is_empty() { policy_defaults.allow } else { args.allow.clone() },
        deny_hosts: args.deny_host.clone(),
        connect_ports: if args.connect_port.is_empty() {
            policy_defaults.connect_ports
        } else {
            args.connect_port.clone()
        },
    };
    let targeted = match args.targeted_field.as_slice() {
        [] => ProxySettings::default_targeted(!routes.is_empty()),
        [none] if none.eq_ignore_ascii_case("none") => Vec::new(),
        fields => fields.to_vec(),
    };
    let reverse: Vec<String> = routes
        .iter()
        .map(|route| {
            let origins: Vec<String> = route.origins.iter().map(ToString::to_string).collect();
            format!("{} → {}", route.host.as_deref().unwrap_or("*"), origins.join(", "))
        })
        .collect();
    let settings = ProxySettings {
        listen: listen.clone(),
        routes,
        health,
        policy,
        cache_bytes,
        cache_dir: cache_dir.map(|dir| (dir, disk_bytes)),
        access_log: !args.no_access_log,
        targeted,
        strip_targeted: args.strip_targeted,
    };
    let runtime = super::server_runtime("proxy")?;
    runtime.block_on(async {
        let lifecycle = Lifecycle::new();
        lifecycle.listen_for_signals().context("watch signals")?;
        let metrics = Metrics::new();
        let running = server::spawn(settings, &metrics)
            .await
            .with_context(|| format!("listen on {listen:?}"))?;
        for addr in running.local_addrs() {
            if reverse.is_empty() {
                tracing::info!("forward proxy on {addr} (http_proxy=http://{addr})");
            } else {
                tracing::info!("reverse proxy on http://{addr}/: {}", reverse.join("; "));
            }
        }
        if let Some(addr) = args.admin {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("admin listener on {addr}"))?;
            tracing::info!("admin endpoint on http://{}/stats", listener.local_addr()?);
            let stop = lifecycle.shutdown_token();
            tokio::spawn(running.admin().serve(listener, metrics.clone(), stop));
        }
        if let Some(addr) = args.metrics {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("metrics listener on {addr}"))?;
            tracing::info!("metrics on http://{}/metrics", listener.local_addr()?);
            let stop = lifecycle.shutdown_token();
            tokio::spawn(appnet_service::metrics::serve(listener, metrics.clone(), stop));
        }
        lifecycle.shutdown_token().cancelled().await;
        running.shutdown();
        tracing::info!("stopped");
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}
