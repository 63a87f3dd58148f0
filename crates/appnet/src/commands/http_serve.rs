//! `appnet http serve`: serve a directory until told to stop.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use appnet_http::cgi::CgiDir;
use appnet_http::files::rules::{Rule, RuleTable, Rules};
use appnet_http::server::{self, ServeSettings};
use appnet_http::tls;
use appnet_http::upload::Uploads;
use appnet_service::Lifecycle;
use serde::Deserialize;

use crate::cli::ServeArgs;

/// The parts of an appnet config file this command reads.
#[derive(Debug, Default, Deserialize)]
struct ConfigFile {
    #[serde(default)]
    http: HttpTables,
}

#[derive(Debug, Default, Deserialize)]
struct HttpTables {
    #[serde(default)]
    server: ServerTable,
}

/// `[http.server]`: the command line's settings in a file, and the per-path rules.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerTable {
    /// The directory served.
    root: Option<PathBuf>,
    /// Addresses to listen on.
    #[serde(default)]
    listen: Vec<SocketAddr>,
    /// The access log on standard output (default true).
    access_log: Option<bool>,
    /// An HTML index for a directory without index.html (default false).
    listing: Option<bool>,
    /// TRACE echoes the request (default false).
    trace: Option<bool>,
    /// CGI mappings, `PREFIX=DIR`.
    #[serde(default)]
    cgi: Vec<String>,
    /// Seconds a CGI script may stay silent.
    cgi_timeout: Option<u64>,
    /// MiB for copies compressed on the fly; 0: off.
    compression_cache_mib: Option<usize>,
    /// Connections served at once.
    max_connections: Option<u64>,
    /// Seconds for a request head once begun.
    header_timeout: Option<u64>,
    /// Seconds a kept-alive connection waits idle.
    idle_timeout: Option<u64>,
    /// Seconds between two pieces of a request body.
    body_timeout: Option<u64>,
    /// MiB for copies of small files; 0: off.
    file_cache_mib: Option<usize>,
    /// PUT/DELETE under a prefix.
    uploads: Option<UploadsTable>,
    /// TLS.
    tls: Option<TlsTable>,
    /// Per-path rules, first match wins.
    #[serde(default, rename = "rule")]
    rules: Vec<RuleTable>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UploadsTable {
    prefix: String,
    token_file: PathBuf,
    max_upload_mib: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsTable {
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    #[serde(default)]
    self_signed: bool,
}

/// `given` seconds (at least one), else `default`.
fn seconds(given: Option<u64>, default: u64) -> Duration {
    Duration::from_secs(given.unwrap_or(default).max(1))
}

pub(crate) fn run(args: &ServeArgs) -> anyhow::Result<ExitCode> {
    let table = match &args.config {
        Some(path) => appnet_service::config::load::<ConfigFile>(path)?.http.server,
        None => ServerTable::default(),
    };
    let Some(root) = args.root.clone().or_else(|| table.root.clone()) else {
        bail!("nothing to serve: give --root DIR (or root = \"DIR\" under [http.server])");
    };
    let mut listen = table.listen.clone();
    listen.extend(&args.listen);
    if listen.is_empty() {
        bail!("nothing to listen on: give --listen ADDR (e.g. --listen 127.0.0.1:8080)");
    }
    let uploads = match (&args.uploads, &args.upload_token_file, &table.uploads) {
        (Some(prefix), Some(token_file), _) => Some(uploads(prefix, token_file, args.max_upload)?),
        (_, _, Some(t)) => Some(uploads(&t.prefix, &t.token_file, t.max_upload_mib.unwrap_or(64))?),
        _ => None,
    };
    let mut cgi = table
        .cgi
        .iter()
        .map(|spec| CgiDir::parse(spec).map_err(anyhow::Error::msg))
        .collect::<anyhow::Result<Vec<_>>>()
        .context("[http.server] cgi")?;
    cgi.extend(args.cgi.iter().cloned());
    let rules = table
        .rules
        .iter()
        .map(|rule| Rule::from_table(rule).map_err(anyhow::Error::msg))
        .collect::<anyhow::Result<Vec<_>>>()
        .context("[[http.server.rule]]")?;
    let tls = tls_config(args, table.tls.as_ref())?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let settings = ServeSettings {
        root: root.clone(),
        listen: listen.clone(),
        access_log: !args.no_access_log && table.access_log.unwrap_or(true),
        uploads,
        cgi,
        cgi_timeout: Duration::from_secs(
            args.cgi_timeout.or(table.cgi_timeout).unwrap_or(30).max(1),
        ),
        rules: Rules(rules),
        compression_cache: args.compression_cache.or(table.compression_cache_mib).unwrap_or(64)
            << 20,
        file_cache: args.file_cache.or(table.file_cache_mib).unwrap_or(64) << 20,
        tls,
        max_connections: usize::try_from(
            args.max_connections.or(table.max_connections).unwrap_or(1024).max(1),
        )
        .unwrap_or(usize::MAX),
        header_timeout: seconds(args.header_timeout.or(table.header_timeout), 10),
        idle_timeout: seconds(args.idle_timeout.or(table.idle_timeout), 10),
        body_timeout: seconds(args.body_timeout.or(table.body_timeout), 60),
        listing: args.listing || table.listing.unwrap_or(false),
        trace: args.trace || table.trace.unwrap_or(false),
        ..ServeSettings::default()
    };
    let runtime = super::server_runtime("http")?;
    runtime.block_on(async {
        let lifecycle = Lifecycle::new();
        lifecycle.listen_for_signals().context("watch signals")?;
        let running = server::spawn(settings)
            .await
            .with_context(|| format!("serve {} on {listen:?}", root.display()))?;
        for addr in running.local_addrs() {
            tracing::info!("serving {} on {scheme}://{addr}/", root.display());
        }
        lifecycle.shutdown_token().cancelled().await;
        running.shutdown().await;
        tracing::info!("stopped");
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// PUT/DELETE under `prefix` for the token in `token_file`, bodies up to `max_mib`.
fn uploads(prefix: &str, token_file: &Path, max_mib: u64) -> anyhow::Result<Uploads> {
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
    Ok(Uploads { prefix: prefix.to_owned(), token, max_body: max_mib << 20 })
}

/// TLS from the command line, else from `[http.server.tls]`; `None` for cleartext.
fn tls_config(
    args: &ServeArgs,
    table: Option<&TlsTable>,
) -> anyhow::Result<Option<std::sync::Arc<tls::ServerConfig>>> {
    let from_file = table.map(|t| (t.cert.as_ref(), t.key.as_ref(), t.self_signed));
    let (cert, key, self_signed) = match (&args.tls_cert, &args.tls_key, args.tls_self_signed) {
        (Some(cert), Some(key), _) => (Some(cert), Some(key), false),
        (_, _, true) => (None, None, true),
        _ => from_file.unwrap_or((None, None, false)),
    };
    match (cert, key, self_signed) {
        (Some(cert), Some(key), _) => Ok(Some(tls::from_pem_files(cert, key)?)),
        (None, None, true) => {
            let (config, pem) = tls::self_signed()?;
            if let Some(out) = &args.tls_cert_out {
                std::fs::write(out, pem.as_bytes())
                    .with_context(|| format!("write the certificate to {}", out.display()))?;
            }
            tracing::info!(
                "TLS with a self-signed certificate for {}",
                tls::SELF_SIGNED_NAMES.join(", ")
            );
            Ok(Some(config))
        }
        (None, None, false) => Ok(None),
        _ => bail!("[http.server.tls] needs both cert and key (or self_signed = true)"),
    }
}
