//! `appnet dns authority`: serve zones with authority until told to stop.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use appnet_dns::server::{self, AuthorityConfig, SecondarySpec, ZoneSource, Zones};
use appnet_service::{Lifecycle, Metrics};
use serde::Deserialize;

use crate::cli::AuthorityArgs;

/// The parts of an appnet config file this command reads; other tables are other services'.
#[derive(Debug, Default, Deserialize)]
struct ConfigFile {
    #[serde(default)]
    dns: DnsTables,
}

#[derive(Debug, Default, Deserialize)]
struct DnsTables {
    #[serde(default)]
    authority: AuthorityConfig,
}

pub(crate) fn run(args: AuthorityArgs) -> anyhow::Result<ExitCode> {
    let config = match &args.config {
        Some(path) => appnet_service::config::load::<ConfigFile>(path)?.dns.authority,
        None => AuthorityConfig::default(),
    };
    let config_dir =
        args.config.as_deref().and_then(Path::parent).unwrap_or_else(|| Path::new("."));
    let (mut settings, mut sources, mut options, mut secondaries) = config.resolve(config_dir);
    for spec in &args.secondary {
        secondaries.push(SecondarySpec::parse(spec, &args.state_dir).map_err(anyhow::Error::msg)?);
    }
    options.accept_notify_for(&secondaries);
    options.transfer_acl.extend(&args.allow_transfer);
    let mut notify = config.notify.clone();
    notify.extend(&args.notify);
    settings.listen.extend(&args.listen);
    sources.extend(args.zone.iter().map(|spec| ZoneSource::parse(spec)));
    if let Some(rate) = args.rrl.filter(|&rate| rate > 0) {
        settings.rrl = Some((rate, args.rrl_slip));
    }
    if let Some(workers) = args.workers {
        settings.workers = workers.max(1);
    }
    let metrics_addr = args.metrics.or(config.metrics);
    if settings.listen.is_empty() {
        bail!("nothing to listen on: give --listen ADDR (e.g. --listen 127.0.0.1:5300)");
    }
    if sources.is_empty() && secondaries.is_empty() {
        bail!(
            "no zones to serve: give --zone FILE, --zone ORIGIN=FILE or --secondary ORIGIN=PRIMARY"
        );
    }
    let zones =
        Arc::new(Zones::load(sources, options).map_err(|error| anyhow::anyhow!("{error}"))?);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("dns-tcp")
        .enable_all()
        .build()
        .context("start the async runtime")?;
    runtime.block_on(serve(settings, zones, metrics_addr, notify, secondaries))?;
    Ok(ExitCode::SUCCESS)
}

async fn serve(
    settings: server::Settings,
    zones: Arc<Zones>,
    metrics_addr: Option<std::net::SocketAddr>,
    notify: Vec<std::net::SocketAddr>,
    secondaries: Vec<SecondarySpec>,
) -> anyhow::Result<()> {
    let lifecycle = Lifecycle::new();
    lifecycle.listen_for_signals().context("watch signals")?;
    let metrics = Metrics::new();
    let running = server::spawn(&settings, zones.clone(), &metrics)
        .await
        .with_context(|| format!("listen on {:?}", settings.listen))?;
    for addr in running.local_addrs() {
        tracing::info!("answering on {addr} (UDP and TCP)");
    }
    if let Some(addr) = metrics_addr {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("metrics listener on {addr}"))?;
        tracing::info!("metrics on http://{addr}/metrics");
        tokio::spawn(appnet_service::metrics::serve(listener, metrics, lifecycle.shutdown_token()));
    }
    for spec in secondaries {
        server::spawn_secondary(spec, zones.clone(), lifecycle.shutdown_token());
    }
    // Secondaries learn of the zones at start, as after any change.
    for zone in zones.loaded() {
        server::spawn_notifies(zone, &notify);
    }
    let shutdown = lifecycle.shutdown_token();
    let mut reloads = lifecycle.reloads();
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            changed = reloads.changed() => {
                if changed.is_err() {
                    break;
                }
                let zones = zones.clone();
                let report = tokio::task::spawn_blocking(move || zones.reload()).await?;
                tracing::info!(reloaded = report.reloaded, kept_old = report.kept.len(), "zones reloaded");
                for zone in report.changed {
                    server::spawn_notifies(zone, &notify);
                }
            }
        }
    }
    running.shutdown().await;
    tracing::info!("stopped");
    Ok(())
}
