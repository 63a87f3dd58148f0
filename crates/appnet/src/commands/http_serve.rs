//! `appnet http serve`: serve a directory until told to stop.

use std::process::ExitCode;

use anyhow::Context;
use appnet_http::server::{self, ServeSettings};
use appnet_service::Lifecycle;

use crate::cli::ServeArgs;

pub(crate) fn run(args: &ServeArgs) -> anyhow::Result<ExitCode> {
    let settings = ServeSettings {
        root: args.root.clone(),
        listen: args.listen.clone(),
        access_log: !args.no_access_log,
        ..ServeSettings::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(std::thread::available_parallelism().map_or(1, usize::from))
        .thread_name("http")
        .enable_all()
        .build()
        .context("start the async runtime")?;
    runtime.block_on(async {
        let lifecycle = Lifecycle::new();
        lifecycle.listen_for_signals().context("watch signals")?;
        let running = server::spawn(settings)
            .await
            .with_context(|| format!("serve {} on {:?}", args.root.display(), args.listen))?;
        for addr in running.local_addrs() {
            tracing::info!("serving {} on http://{addr}/", args.root.display());
        }
        lifecycle.shutdown_token().cancelled().await;
        running.shutdown().await;
        tracing::info!("stopped");
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}
