//! `appnet http serve`: serve a directory until told to stop.

use std::process::ExitCode;

use anyhow::Context;
use appnet_http::server::{self, ServeSettings};
use appnet_http::tls;
use appnet_http::upload::Uploads;
use appnet_service::Lifecycle;

use crate::cli::ServeArgs;

pub(crate) fn run(args: &ServeArgs) -> anyhow::Result<ExitCode> {
    let uploads = match (&args.uploads, &args.upload_token_file) {
        (Some(prefix), Some(token_file)) => {
            let token = std::fs::read_to_string(token_file)
                .with_context(|| format!("read the upload token from {}", token_file.display()))?
                .trim()
                .to_owned();
            anyhow::ensure!(
                token.len() >= 16,
                "{}: the upload token must be at least 16 characters",
                token_file.display()
            );
            anyhow::ensure!(
                prefix.starts_with('/') && prefix.ends_with('/'),
                "--uploads takes a path prefix like /uploads/"
            );
            Some(Uploads { prefix: prefix.clone(), token, max_body: args.max_upload << 20 })
        }
        _ => None,
    };
    let tls = match (&args.tls_cert, &args.tls_key, args.tls_self_signed) {
        (Some(cert), Some(key), _) => Some(tls::from_pem_files(cert, key)?),
        (_, _, true) => {
            let (config, pem) = tls::self_signed()?;
            if let Some(out) = &args.tls_cert_out {
                std::fs::write(out, pem.as_bytes())
                    .with_context(|| format!("write the certificate to {}", out.display()))?;
            }
            tracing::info!(
                "TLS with a self-signed certificate for {}",
                tls::SELF_SIGNED_NAMES.join(", ")
            );
            Some(config)
        }
        _ => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let settings = ServeSettings {
        root: args.root.clone(),
        listen: args.listen.clone(),
        access_log: !args.no_access_log,
        uploads,
        cgi: args.cgi.clone(),
        cgi_timeout: std::time::Duration::from_secs(args.cgi_timeout.max(1)),
        tls,
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
            tracing::info!("serving {} on {scheme}://{addr}/", args.root.display());
        }
        lifecycle.shutdown_token().cancelled().await;
        running.shutdown().await;
        tracing::info!("stopped");
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}
