//! `appnet dns resolver`: a recursive caching resolver until told to stop.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use appnet_dns::resolver::driver::Shared;
use appnet_dns::resolver::service::{self, ServiceSettings};
use appnet_dns::resolver::{Cache, CacheConfig, Hosts, ResolverConfig, RootHints};
use appnet_service::Lifecycle;
use serde::Deserialize;

use crate::cli::ResolverArgs;

/// The parts of an appnet config file this command reads.
#[derive(Debug, Default, Deserialize)]
struct ConfigFile {
    #[serde(default)]
    dns: DnsTables,
}

#[derive(Debug, Default, Deserialize)]
struct DnsTables {
    #[serde(default)]
    resolver: ResolverTable,
}

/// `[dns.resolver]`: the command line's settings, in a file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResolverTable {
    /// Addresses to serve UDP and TCP on.
    #[serde(default)]
    listen: Vec<SocketAddr>,
    /// Root hints file (named.root format).
    root_hints: Option<PathBuf>,
    /// Hosts-format file answered first.
    hosts: Option<PathBuf>,
    /// Client networks answered (default: loopback).
    #[serde(default)]
    allow: Vec<ipnet::IpNet>,
    /// Port every authority is asked on.
    ns_port: Option<u16>,
    /// Cache memory in MiB.
    cache_size: Option<usize>,
    /// TTL floor, seconds.
    min_ttl: Option<u32>,
    /// TTL ceiling, seconds.
    max_ttl: Option<u32>,
    /// Ceiling for negative answers, seconds (default 3600).
    max_negative_ttl: Option<u32>,
    /// Seconds past expiry an answer may be served when no authority answers (default
    /// 86400; 0 turns serve-stale off).
    serve_stale: Option<u64>,
    /// Queries one question may cause (default 64).
    max_queries: Option<u32>,
    /// Randomise the case of query names (0x20; default true).
    case_randomization: Option<bool>,
    /// QNAME minimisation, RFC 9156 (default true).
    qname_minimisation: Option<bool>,
    /// Upstream resolvers to forward to instead of iterating.
    #[serde(default)]
    forward: Vec<SocketAddr>,
}

pub(crate) fn run(args: ResolverArgs) -> anyhow::Result<ExitCode> {
    let table = match &args.config {
        Some(path) => appnet_service::config::load::<ConfigFile>(path)?.dns.resolver,
        None => ResolverTable::default(),
    };
    let mut listen = table.listen.clone();
    listen.extend(&args.listen);
    if listen.is_empty() {
        bail!("nothing to listen on: give --listen ADDR (e.g. --listen 127.0.0.1:5353)");
    }
    let hints_path = args.root_hints.clone().or_else(|| table.root_hints.clone());
    let hints =
        RootHints::load_default(hints_path.as_deref()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let hosts = match args.hosts.clone().or_else(|| table.hosts.clone()) {
        Some(path) => Some(Hosts::load(&path).map_err(|e| anyhow::anyhow!("{e}"))?),
        None => None,
    };
    let defaults = CacheConfig::default();
    let cache = CacheConfig {
        max_bytes: args.cache_size.or(table.cache_size).map_or(defaults.max_bytes, |mib| mib << 20),
        min_ttl: args.min_ttl.or(table.min_ttl).unwrap_or(defaults.min_ttl),
        max_ttl: args.max_ttl.or(table.max_ttl).unwrap_or(defaults.max_ttl),
        max_negative_ttl: table.max_negative_ttl.unwrap_or(defaults.max_negative_ttl),
        serve_stale: table.serve_stale.map_or(defaults.serve_stale, std::time::Duration::from_secs),
    };
    let base = ResolverConfig::default();
    let config = ResolverConfig {
        ns_port: args.ns_port.or(table.ns_port).unwrap_or(base.ns_port),
        max_queries: table.max_queries.unwrap_or(base.max_queries),
        case_randomization: table.case_randomization.unwrap_or(base.case_randomization),
        forwarders: table.forward.iter().chain(&args.forward).copied().collect(),
        qname_minimisation: table.qname_minimisation.unwrap_or(base.qname_minimisation),
        ..base
    };
    let mut allow = table.allow.clone();
    allow.extend(&args.allow);
    let settings = ServiceSettings {
        listen,
        allow: if allow.is_empty() { service::default_allow() } else { allow },
        hosts,
        ..ServiceSettings::default()
    };
    tracing::info!(
        root_servers = hints.servers.len(),
        ns_port = config.ns_port,
        "root hints loaded"
    );
    let shared = Arc::new(Shared::new(Cache::new(cache), hints, config));
    let runtime = super::server_runtime("dns-resolver")?;
    runtime.block_on(serve(settings, shared, args.dump_file))?;
    Ok(ExitCode::SUCCESS)
}

async fn serve(
    settings: ServiceSettings,
    shared: Arc<Shared>,
    dump_file: Option<PathBuf>,
) -> anyhow::Result<()> {
    let lifecycle = Lifecycle::new();
    lifecycle.listen_for_signals().context("watch signals")?;
    let mut dump_signal =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::user_defined1())
            .context("watch SIGUSR1")?;
    let dumper = shared.clone();
    tokio::spawn(async move {
        while dump_signal.recv().await.is_some() {
            if let Err(error) = dump_cache(&dumper, dump_file.as_deref()) {
                tracing::error!("cache dump failed: {error:#}");
            }
        }
    });
    let listen = settings.listen.clone();
    let running =
        service::spawn(settings, shared).await.with_context(|| format!("listen on {listen:?}"))?;
    for addr in running.local_addrs() {
        tracing::info!("resolving on {addr} (UDP and TCP)");
    }
    lifecycle.shutdown_token().cancelled().await;
    running.shutdown().await;
    tracing::info!("stopped");
    Ok(())
}

/// Writes the cache in master-file form to `path` (atomically: a temporary file, synced, then
/// renamed over it) or to standard output.
fn dump_cache(shared: &Shared, path: Option<&std::path::Path>) -> anyhow::Result<()> {
    let text = {
        let cache = shared.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        appnet_dns::resolver::dump::render(&cache, tokio::time::Instant::now().into_std())
    };
    let Some(path) = path else {
        use std::io::Write as _;
        std::io::stdout().lock().write_all(text.as_bytes())?;
        return Ok(());
    };
    let aside = path.with_extension("tmp");
    {
        use std::io::Write as _;
        let mut file =
            std::fs::File::create(&aside).with_context(|| format!("create {}", aside.display()))?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
    }
    std::fs::rename(&aside, path).with_context(|| format!("rename to {}", path.display()))?;
    tracing::info!("cache dumped to {}", path.display());
    Ok(())
}
