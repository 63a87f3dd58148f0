//! `appnet proxy`: the shared cache as a forward or reverse proxy, until told to stop.

use std::process::ExitCode;

use anyhow::{Context, bail};
use appnet_proxy::policy::Policy;
use appnet_proxy::server::{self, ProxySettings};
use appnet_service::Lifecycle;

use crate::cli::ProxyArgs;

pub(crate) fn run(args: &ProxyArgs) -> anyhow::Result<ExitCode> {
    let origin = match &args.origin {
        Some(text) => {
            let uri: hyper::Uri = text.parse().with_context(|| format!("--origin `{text}`"))?;
            if uri.scheme_str() != Some("http") || uri.authority().is_none() {
                bail!(
                    "--origin `{text}`: expected http://HOST:PORT (https origins are not built yet)"
                );
            }
            Some(uri)
        }
        None => None,
    };
    let defaults = Policy::default();
    let policy = Policy {
        allow: if args.allow.is_empty() { defaults.allow } else { args.allow.clone() },
        deny_hosts: args.deny_host.clone(),
        connect_ports: if args.connect_port.is_empty() {
            defaults.connect_ports
        } else {
            args.connect_port.clone()
        },
    };
    let settings = ProxySettings {
        listen: args.listen.clone(),
        origin,
        policy,
        cache_bytes: args.cache_mem,
        access_log: !args.no_access_log,
    };
    let runtime = super::server_runtime("proxy")?;
    runtime.block_on(async {
        let lifecycle = Lifecycle::new();
        lifecycle.listen_for_signals().context("watch signals")?;
        let running = server::spawn(settings)
            .await
            .with_context(|| format!("listen on {:?}", args.listen))?;
        for addr in running.local_addrs() {
            match &args.origin {
                Some(origin) => tracing::info!("reverse proxy for {origin} on http://{addr}/"),
                None => tracing::info!("forward proxy on {addr} (http_proxy=http://{addr})"),
            }
        }
        lifecycle.shutdown_token().cancelled().await;
        running.shutdown();
        tracing::info!("stopped");
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}
