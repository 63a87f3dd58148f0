//! The command-line grammar. Help texts say what each command does and, for the parts still
//! being built, plainly that they are not built yet.

use std::ffi::OsString;

use clap::{ArgAction, Args, Parser, Subcommand};

const ABOUT: &str = "The Internet's application layer: DNS, HTTP, web caches, CDN and BitTorrent \
servers and clients, and a lab that runs them together on loopback and measures them.";

const AFTER_HELP: &str = "\
Start with `appnet lab`: it builds a small Internet on this machine and reports what each
system does. Logging: -v for debug, -vv for trace, -q for warnings only; RUST_LOG (e.g.
RUST_LOG=appnet_dns=trace) overrides both. Every command has its own --help.";

/// `appnet [-v|-q] COMMAND …`
#[derive(Debug, Parser)]
#[command(name = "appnet", version, about = ABOUT, after_help = AFTER_HELP)]
#[command(propagate_version = true, subcommand_required = true, arg_required_else_help = true)]
pub(crate) struct Cli {
    /// More log output (repeat for more: -v debug, -vv trace).
    #[arg(short, long, action = ArgAction::Count, global = true)]
    verbose: u8,
    /// Less log output (repeat for less: -q warnings, -qq errors only).
    #[arg(short, long, action = ArgAction::Count, global = true, conflicts_with = "verbose")]
    quiet: u8,
    #[command(subcommand)]
    pub(crate) command: Command,
}

impl Cli {
    /// Net verbosity: `-v` counts up, `-q` counts down.
    pub(crate) fn verbosity(&self) -> i8 {
        i8::try_from(i16::from(self.verbose) - i16::from(self.quiet)).unwrap_or(0)
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// DNS servers: an authoritative server for zone files, and a recursive resolver.
    #[command(subcommand)]
    Dns(DnsCommand),
    /// Ask a DNS server, in dig's syntax and output layout.
    #[command(long_about = "Ask a DNS server a question, with dig's syntax and output layout:\n  \
    appnet dig [@SERVER] [-p PORT] [-t TYPE] [-c CLASS] [-x ADDR] [-4|-6] NAME [TYPE] [CLASS] \
    [+option...]\n\n\
    SERVER defaults to the first nameserver in /etc/resolv.conf. TYPE defaults to A (NS for the \
    root when no name is given). The output is dig's, line for line: header, flags, OPT \
    pseudo-section, QUESTION/ANSWER/AUTHORITY/ADDITIONAL on BIND's tab stops, query time, \
    server, date and size. A truncated UDP answer is asked again over TCP.\n\n\
    Options (any unambiguous prefix works, and +no turns one off):\n  \
    +tcp +vc           ask over TCP (ANY questions do by default)\n  \
    +[no]recurse       the RD flag (on)\n  \
    +short             only the answer data, as dig +short prints it\n  \
    +dnssec            set the DO bit\n  \
    +[no]edns[=V]      send EDNS version V (0); +bufsize=B its UDP size (1232)\n  \
    +[no]adflag +[no]cdflag   the AD (on) and CD (off) flags\n  \
    +time=T +tries=N +retry=N   T seconds per attempt (5), N attempts (3)\n  \
    +ignore            show a truncated answer instead of retrying over TCP\n  \
    +trace             follow the delegations from the root, printing each server's reply \
    (all queries on -p's port; missing glue is found by iterating)\n  \
    +[no]all +[no]cmd +[no]comments +[no]question +[no]answer +[no]authority \
    +[no]additional +[no]stats   what to print\n\n\
    Exit status: 0 answered (any RCODE), 1 bad command line, 9 no server answered, 10 other \
    errors. Not yet: +nssearch and AXFR/IXFR output. dig's -q NAME is appnet's \
    --quiet here: give the name plainly.")]
    Dig(DigArgs),
    /// HTTP: the origin server and the browser-like page loader.
    #[command(subcommand)]
    Http(HttpCommand),
    Proxy(ProxyArgs),
    /// BitTorrent client: download and seed torrents and magnet links [not built yet].
    #[command(long_about = "A BitTorrent client: .torrent files and magnet links, rarest-first \
        piece picking, tit-for-tat choking, seeding, trackers and the DHT.\n\nNot built yet.")]
    Torrent(Planned),
    /// BitTorrent tracker over HTTP and UDP [not built yet].
    #[command(long_about = "A BitTorrent tracker speaking HTTP (BEP 3) and UDP (BEP 15) \
        announces and scrapes.\n\nNot built yet.")]
    Tracker(Planned),
    Lab(LabArgs),
}

#[derive(Debug, Subcommand)]
pub(crate) enum DnsCommand {
    Authority(Box<AuthorityArgs>),
    Resolver(Box<ResolverArgs>),
}

#[derive(Debug, Subcommand)]
pub(crate) enum HttpCommand {
    Serve(Box<ServeArgs>),
    Load(Box<LoadArgs>),
}

/// `appnet proxy …`
#[derive(Debug, Args)]
#[command(
    about = "Shared HTTP cache as a forward or reverse proxy",
    long_about = "A shared HTTP cache with RFC 9111 semantics, as a forward proxy \
    (clients set http_proxy=http://127.0.0.1:3128, curl -x, chromium --proxy-server) or as a \
    reverse proxy in front of an origin:\n  appnet proxy --listen 127.0.0.1:3128\n  \
    appnet proxy --listen 127.0.0.1:8081 --origin http://127.0.0.1:8080\n\n\
    GET and HEAD are served from the cache while fresh (with Age), revalidated upstream when \
    stale (If-None-Match / If-Modified-Since; a 304 refreshes the copy), fetched and stored \
    when RFC 9111 lets a shared cache store them (no-store, private, Authorization rules); \
    other methods pass through and invalidate the URL. CONNECT tunnels reach allowed ports \
    (443). Hop-by-hop fields are removed, Via and X-Forwarded-For added, and every response \
    says what the cache did in Cache-Status (RFC 9211). Clients outside --allow (default \
    loopback) and hosts matching --deny-host get 403.\n\n\
    A stale copy within stale-while-revalidate is served while a refresh runs in the \
    background; one within stale-if-error stands in for an origin that is down or failing. \
    Many clients missing the same URL at once cause one upstream fetch (request collapsing). \
    Ranges and the client's own conditional requests are answered from stored copies; \
    PURGE from an allowed client drops a URL. As a reverse proxy it obeys CDN-Cache-Control \
    (RFC 9213) over Cache-Control (--targeted-field changes the list).\n\n\
    Stored responses live in memory (--cache-mem), kept by a size-aware GDSF policy chosen by \
    measurement, and with --cache-dir on disk too, crash-safe and checksummed, across \
    restarts. Large or chunked bodies stream through; a reverse proxy's origins are health \
    checked and used in turn (--origin repeated, or routes per host name in --config).\n\n\
    --admin ADDR serves GET /stats (JSON), GET /metrics, POST /purge?url=URL and \
    POST /purge-all on a listener of its own; --metrics ADDR serves GET /metrics only."
)]
pub(crate) struct ProxyArgs {
    /// Address to listen on; repeatable (or `listen` in --config).
    #[arg(long, value_name = "ADDR")]
    pub(crate) listen: Vec<std::net::SocketAddr>,
    /// Be a reverse proxy for this origin (http://HOST:PORT) instead of a forward proxy;
    /// repeatable: the origins take turns, and one failing its health checks (or requests)
    /// is left out until it recovers.
    #[arg(long, value_name = "URL")]
    pub(crate) origin: Vec<String>,
    /// The path the health checker asks each origin for (2xx/3xx within 2 s is healthy;
    /// 2 failures in a row take an origin out, 2 successes bring it back).
    #[arg(long, value_name = "PATH", default_value = "/")]
    pub(crate) health_path: String,
    /// TOML settings: [proxy] listen, cache_mem, cache_dir, cache_disk, and [[proxy.route]]
    /// host = "www.example.lab"
    /// (or "*.example.lab"), origins = ["http://…"] for a reverse proxy per host name;
    /// [proxy.health] path, interval_ms, timeout_ms, fall, rise.
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<std::path::PathBuf>,
    /// Client network served; repeatable. Default: 127.0.0.0/8 and ::1.
    #[arg(long, value_name = "CIDR")]
    pub(crate) allow: Vec<ipnet::IpNet>,
    /// Refuse requests for this host (or, as *.example.com, it and every name under it).
    #[arg(long, value_name = "PATTERN")]
    pub(crate) deny_host: Vec<String>,
    /// Ports CONNECT may reach; repeatable. Default: 443.
    #[arg(long, value_name = "PORT")]
    pub(crate) connect_port: Vec<u16>,
    /// Memory for stored responses, e.g. 256MiB (default 256MiB).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub(crate) cache_mem: Option<usize>,
    /// Keep stored responses in this directory too: they survive a restart (and a kill -9:
    /// each entry is written whole, fsynced and renamed into place, and checksummed).
    #[arg(long, value_name = "DIR")]
    pub(crate) cache_dir: Option<std::path::PathBuf>,
    /// Disk for stored responses under --cache-dir, e.g. 10GiB (the default).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub(crate) cache_disk: Option<usize>,
    /// No access log on standard output.
    #[arg(long)]
    pub(crate) no_access_log: bool,
    /// A targeted cache-control field (RFC 9213) to obey over Cache-Control and Expires;
    /// repeatable, first present wins. Default: CDN-Cache-Control with --origin, none
    /// without. `--targeted-field none` obeys none.
    #[arg(long, value_name = "FIELD")]
    pub(crate) targeted_field: Vec<String>,
    /// Remove the targeted fields from responses (by default they are passed on, for CDN
    /// caches further down, as RFC 9213 recommends).
    #[arg(long)]
    pub(crate) strip_targeted: bool,
    /// Serve the admin endpoint here: GET /stats, GET /metrics, POST /purge?url=URL,
    /// POST /purge-all.
    #[arg(long, value_name = "ADDR")]
    pub(crate) admin: Option<std::net::SocketAddr>,
    /// Serve Prometheus metrics on http://ADDR/metrics.
    #[arg(long, value_name = "ADDR")]
    pub(crate) metrics: Option<std::net::SocketAddr>,
}

/// `256MiB`, `1GiB`, `64MB`, `1048576`.
pub(crate) fn parse_size(text: &str) -> Result<usize, String> {
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: usize = number.parse().map_err(|_| format!("`{text}`: expected e.g. 256MiB"))?;
    let scale: usize = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "kb" => 1000,
        "m" | "mib" => 1 << 20,
        "mb" => 1_000_000,
        "g" | "gib" => 1 << 30,
        "gb" => 1_000_000_000,
        _ => return Err(format!("`{text}`: units are KiB, MiB, GiB (or kB, MB, GB)")),
    };
    number.checked_mul(scale).ok_or_else(|| format!("`{text}`: too large"))
}

/// `--dns`: `127.0.0.1`, `127.0.0.1:5353`, `::1` or `[::1]:53`.
fn parse_dns_server(text: &str) -> Result<std::net::SocketAddr, String> {
    if let Ok(address) = text.parse::<std::net::SocketAddr>() {
        return Ok(address);
    }
    text.parse::<std::net::IpAddr>()
        .map(|ip| std::net::SocketAddr::new(ip, 53))
        .map_err(|_| format!("`{text}`: expected ADDR or ADDR:PORT"))
}

/// `appnet http load …`
#[derive(Debug, Args)]
#[command(
    about = "Load a page like a browser: Page Load Time, per-resource phases, HAR and waterfall",
    long_about = "Fetch a page and everything it embeds the way a browser does — \
    stylesheets (and what they import), scripts, images, srcsets, icons, preloads, fonts — and \
    measure where the time goes:\n  appnet http load http://127.0.0.1:8080/ --mode parallel:6\n  \
    appnet http load https://localhost:8443/ --mode h2 --cacert ca.pem --har page.har \
    --waterfall page.svg\n  appnet http load http://127.0.0.1:8080/ --mode compare\n\n\
    Modes: http1.0 (a new connection per resource, one at a time), parallel:N (HTTP/1.1, up to N \
    persistent connections per host; default 6), persistent (one HTTP/1.1 connection, one \
    request after another), pipelined (one HTTP/1.1 connection, requests written as the page \
    reveals them without waiting for the responses, read back in order), h2 (one HTTP/2 \
    connection per host, every request multiplexed: ALPN over TLS, prior knowledge over \
    http://), compare (each in turn: a table of PLTs and a waterfall each in the terminal). \
    Frames (iframe) are documents of their own, loaded with theirs. gzip, br and zstd are \
    accepted and decoded; redirects followed, 10 at most. Prints the Page Load Time, requests, bytes, connections and, \
    per resource, its DNS, connect, TLS, wait (time to first byte) and receive times. --repeat \
    loads it again through a private cache (Cache-Control, Expires, heuristic freshness, \
    revalidation) and says what was reused. --dns SERVER resolves names through that server \
    (ours, or any) instead of the system's resolver; --proxy URL sends everything through a \
    forward proxy (ours, or any).\n\n\
    Exit status: 0 when the page loaded (a resource that failed is an entry saying why, and a \
    line on standard error), 1 when the document could not be had, the load ran past \
    --timeout, or a mode of compare failed."
)]
pub(crate) struct LoadArgs {
    /// The page.
    #[arg(value_name = "URL")]
    pub(crate) url: String,
    /// http1.0, parallel[:N], persistent, pipelined, h2, or compare (every mode in turn: a
    /// table of PLTs and a waterfall each in the terminal; a mode that fails — h2 to a server
    /// without h2c, say — is a row saying why, and the exit status is 1). h2 is ALPN over
    /// https:// and prior knowledge (h2c) over http://.
    #[arg(long, value_name = "MODE", default_value = "parallel:6")]
    pub(crate) mode: String,
    /// Write the load as a HAR 1.2 file (with compare: one file per mode, the mode in the name).
    #[arg(long, value_name = "FILE")]
    pub(crate) har: Option<std::path::PathBuf>,
    /// Draw the waterfall as SVG (with compare: one file per mode).
    #[arg(long, value_name = "FILE.svg")]
    pub(crate) waterfall: Option<std::path::PathBuf>,
    /// Print the load as JSON instead of the table.
    #[arg(long)]
    pub(crate) json: bool,
    /// Believe the certificates in this PEM file (e.g. a self-signed server's).
    #[arg(long, value_name = "PEM", conflicts_with = "insecure")]
    pub(crate) cacert: Option<std::path::PathBuf>,
    /// Believe any certificate (as curl -k).
    #[arg(long, short = 'k')]
    pub(crate) insecure: bool,
    /// Resolve host names through this DNS server (ADDR or ADDR:PORT, e.g. our resolver at
    /// 127.0.0.1:5353) instead of the system's resolver.
    #[arg(long, value_name = "SERVER[:PORT]", value_parser = parse_dns_server)]
    pub(crate) dns: Option<std::net::SocketAddr>,
    /// Send every request through this forward proxy (http://HOST:PORT): plain-HTTP requests
    /// in absolute form, https:// through CONNECT tunnels.
    #[arg(long, value_name = "URL")]
    pub(crate) proxy: Option<String>,
    /// Load the page a second time through a private browser cache filled by the first load:
    /// fresh copies used as they are, stale ones revalidated (ETag/Last-Modified → 304).
    #[arg(long)]
    pub(crate) repeat: bool,
    /// Ask for no content coding (Accept-Encoding: identity), to see what compression saves.
    #[arg(long, conflicts_with = "accept_encoding")]
    pub(crate) no_compression: bool,
    /// The Accept-Encoding to send instead of "br, zstd, gzip" (e.g. "zstd" or "gzip;q=1, br;q=0.5"),
    /// to see what each coding does; br, zstd, gzip and deflate are decoded.
    #[arg(long, value_name = "CODINGS", value_parser = parse_accept_encoding)]
    pub(crate) accept_encoding: Option<&'static str>,
    /// Requests at most (the document and redirects included); what the page names beyond
    /// is counted as not fetched.
    #[arg(long, value_name = "N", default_value_t = 500, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) max_resources: u64,
    /// Body bytes at most over the wire for the whole page (e.g. 64MiB); a response that
    /// would pass it is cut off and recorded as failed, and nothing more is asked for.
    #[arg(long, value_name = "SIZE", default_value = "256MiB", value_parser = parse_size)]
    pub(crate) max_bytes: usize,
    /// Seconds the whole load may take (at least 1); past it, what came in is shown, what did
    /// not is marked unfinished, and the exit status is 1.
    #[arg(long, value_name = "SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) timeout: u64,
    /// Seconds each step of opening a connection may wait for an answer — resolving the name,
    /// the TCP handshake, a proxy's tunnel, the TLS handshake — before the host is reported
    /// unreachable (as curl's --connect-timeout).
    #[arg(long, value_name = "SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) connect_timeout: u64,
}

/// An Accept-Encoding value: printable ASCII, as a field value must be. Kept for the life of
/// the process (a load's options hold it as `&'static str`, like the built-in lists).
fn parse_accept_encoding(value: &str) -> Result<&'static str, String> {
    let value = value.trim();
    if value.is_empty() || !value.bytes().all(|b| b == b' ' || b.is_ascii_graphic()) {
        return Err(format!("`{value}`: expected codings such as \"zstd\" or \"gzip, br\""));
    }
    Ok(Box::leak(value.to_owned().into_boxed_str()))
}

/// `appnet dig …`: dig's own syntax (`@server`, `+options`, `-p`), which is parsed by
/// `appnet_dns::dig`, not by clap.
#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub(crate) struct DigArgs {
    /// Print help.
    #[arg(short = 'h', long = "help", action = ArgAction::HelpLong)]
    help: Option<bool>,
    /// Query, in dig's syntax: [@SERVER] [-p PORT] NAME [TYPE] [+option…].
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_name = "QUERY")]
    pub(crate) args: Vec<String>,
}

/// `appnet http serve …`
#[derive(Debug, Args)]
#[command(
    about = "Origin server for a directory of static files and CGI scripts, over HTTP/1.0, 1.1 and 2",
    long_about = "Serve a directory of static files over HTTP/1.0, HTTP/1.1 (persistent \
    connections, pipelining) and HTTP/2:\n  appnet http serve --root DIR --listen 127.0.0.1:8080\n  \
    appnet http serve --root DIR --listen 127.0.0.1:8443 --tls-cert cert.pem --tls-key key.pem\n\n\
    Without TLS a port speaks HTTP/1.x and HTTP/2 with prior knowledge (h2c, told apart by the \
    connection preface); with --tls-cert/--tls-key (or --tls-self-signed, for local use) every \
    port speaks TLS and ALPN picks h2 or http/1.1. \
    Files get their type from their extension, ETag and Last-Modified validators, conditional \
    requests (If-None-Match, If-Modified-Since, If-Match, If-Unmodified-Since: 304/412) and \
    ranges (Range, If-Range: 206, multipart/byteranges, 416). A directory serves its index.html; \
    listings are off unless --listing. TRACE is 405 unless --trace. Paths never leave the root (.., encoded dots, NUL, symlinks out). \
    Precompressed .br/.zst/.gz siblings are served by Accept-Encoding. --uploads PREFIX with \
    --upload-token-file allows PUT (atomic) and DELETE there. An access log in the combined \
    format goes to standard output. --cgi PREFIX=DIR runs CGI/1.1 scripts, their output streamed \
    to the client as they write it. --config FILE adds per-path Cache-Control, Expires and \
    preload Link rules. Text files without a sibling are compressed on the fly (br, zstd, \
    gzip) and the copies kept in memory (--compression-cache). A page a preload rule covers gets \
    103 Early Hints (HTTP/1.1 and HTTP/2) and, over HTTP/2 where the client allows, server push \
    of its same-site resources."
)]
pub(crate) struct ServeArgs {
    /// The directory to serve.
    #[arg(long, value_name = "DIR")]
    pub(crate) root: Option<std::path::PathBuf>,
    /// Address to listen on; repeatable.
    #[arg(long, value_name = "ADDR")]
    pub(crate) listen: Vec<std::net::SocketAddr>,
    /// TOML settings under [http.server] (root, listen, cgi, uploads, tls) and per-path rules
    /// ([[http.server.rule]]: match = "/static/" | "*.css" | "=/index.html", expires = "30d",
    /// cache_control = "...", preload = ["/site.css"]); the command line adds to and overrides
    /// them.
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<std::path::PathBuf>,
    /// No access log on standard output.
    #[arg(long)]
    pub(crate) no_access_log: bool,
    /// Serve an HTML index of a directory that has no index.html (names starting with a dot
    /// left out). Off by default: such a directory is 404.
    #[arg(long)]
    pub(crate) listing: bool,
    /// Answer TRACE by sending the request back as message/http (RFC 9110 §9.3.8), less
    /// Authorization, Proxy-Authorization and Cookie. Off by default: 405.
    #[arg(long)]
    pub(crate) trace: bool,
    /// Allow PUT and DELETE of files under this URL prefix (e.g. /uploads/), for clients
    /// sending `Authorization: Bearer TOKEN` with the token in --upload-token-file. Off by
    /// default.
    #[arg(long, value_name = "PREFIX", requires = "upload_token_file")]
    pub(crate) uploads: Option<String>,
    /// File holding the bearer token for --uploads (one line).
    #[arg(long, value_name = "FILE", requires = "uploads")]
    pub(crate) upload_token_file: Option<std::path::PathBuf>,
    /// Largest upload accepted, in MiB (default 64).
    #[arg(long, value_name = "MIB", default_value_t = 64)]
    pub(crate) max_upload: u64,
    /// Run the executables in DIR as CGI/1.1 scripts for requests under PREFIX
    /// (e.g. /cgi-bin/=./cgi); repeatable.
    #[arg(long, value_name = "PREFIX=DIR", value_parser = appnet_http::cgi::CgiDir::parse)]
    pub(crate) cgi: Vec<appnet_http::cgi::CgiDir>,
    /// Kill a CGI script that writes nothing for this many seconds (before its headers, or
    /// between pieces of its body).
    #[arg(long, value_name = "SECONDS")]
    pub(crate) cgi_timeout: Option<u64>,
    /// Memory in MiB for copies of files compressed on the fly (br, zstd, gzip, by
    /// Accept-Encoding, for text types without a precompressed sibling); 0 turns on-the-fly
    /// compression off. Default 64.
    #[arg(long, value_name = "MIB")]
    pub(crate) compression_cache: Option<usize>,
    /// Memory in MiB for copies of small files (up to 32 KiB each; up to 128 larger ones are
    /// held open instead), so a request for an unchanged file costs no open, read or close.
    /// A kept file is checked against the disk (device, inode, size, times) at most once a
    /// millisecond, so an edit is seen at once. 0 turns it off. Default 64.
    #[arg(long, value_name = "MIB")]
    pub(crate) file_cache: Option<usize>,
    /// Connections served at once (default 1024); more wait in the kernel's backlog.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) max_connections: Option<u64>,
    /// Seconds for a request head to arrive once it began, and for a TLS handshake or an
    /// HTTP/2 preface (default 10).
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) header_timeout: Option<u64>,
    /// Seconds a kept-alive connection may wait for its next request: HTTP/1 between
    /// requests, HTTP/2 with no stream open (then GOAWAY). Default 10.
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) idle_timeout: Option<u64>,
    /// Seconds allowed between two pieces of a request body a handler reads (CGI, uploads):
    /// past it, 408 and the connection closes. Default 60 (nginx's client_body_timeout).
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) body_timeout: Option<u64>,
    /// Speak TLS with this certificate chain (PEM, leaf first) on every --listen.
    #[arg(long, value_name = "PEM", requires = "tls_key", conflicts_with = "tls_self_signed")]
    pub(crate) tls_cert: Option<std::path::PathBuf>,
    /// The certificate's private key (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub(crate) tls_key: Option<std::path::PathBuf>,
    /// Speak TLS with a certificate made at start for localhost, 127.0.0.1 and ::1 (clients
    /// must be told not to verify it, e.g. curl -k, or given it with --tls-cert-out).
    #[arg(long)]
    pub(crate) tls_self_signed: bool,
    /// With --tls-self-signed: write the certificate (PEM) to FILE, for clients to trust
    /// (curl --cacert FILE).
    #[arg(long, value_name = "FILE", requires = "tls_self_signed")]
    pub(crate) tls_cert_out: Option<std::path::PathBuf>,
}

/// `appnet dns resolver …`
#[derive(Debug, Args)]
#[command(
    about = "Recursive caching resolver, iterating from the root",
    long_about = "Answer recursive queries by walking the DNS hierarchy from the root and \
    caching what it learns, like Unbound:\n  \
    appnet dns resolver --listen 127.0.0.1:5353\n  \
    dig @127.0.0.1 -p 5353 www.example.org\n\n\
    Root hints come from --root-hints (named.root format), else Debian's \
    /usr/share/dns/root.hints (package dns-root-data), else the built-in a-m.root-servers.net. \
    For a private hierarchy on loopback, give hints naming your root servers and --ns-port for \
    the port they all listen on. Only --allow networks are answered (default: loopback); others \
    get REFUSED. --hosts FILE answers the names in an /etc/hosts-format file first. SIGUSR1 \
    dumps the cache; SIGINT or SIGTERM stop it."
)]
pub(crate) struct ResolverArgs {
    /// Address to serve UDP and TCP on; repeatable (e.g. 127.0.0.1:5353, [::1]:5353).
    #[arg(long, value_name = "ADDR")]
    pub(crate) listen: Vec<std::net::SocketAddr>,
    /// Root hints file in the named.root format.
    #[arg(long, value_name = "FILE")]
    pub(crate) root_hints: Option<std::path::PathBuf>,
    /// Answer the names of this hosts-format file (IP NAME [ALIAS…]) before anything else.
    #[arg(long, value_name = "FILE")]
    pub(crate) hosts: Option<std::path::PathBuf>,
    /// Client network to answer; repeatable. Default: 127.0.0.0/8 and ::1.
    #[arg(long, value_name = "CIDR")]
    pub(crate) allow: Vec<ipnet::IpNet>,
    /// Port to ask every authority on (default 53).
    #[arg(long, value_name = "PORT")]
    pub(crate) ns_port: Option<u16>,
    /// Memory for the cache, in MiB (default 64).
    #[arg(long, value_name = "MIB")]
    pub(crate) cache_size: Option<usize>,
    /// Raise TTLs below this many seconds (default 0).
    #[arg(long, value_name = "SECONDS")]
    pub(crate) min_ttl: Option<u32>,
    /// Lower TTLs above this many seconds (default 86400).
    #[arg(long, value_name = "SECONDS")]
    pub(crate) max_ttl: Option<u32>,
    /// Send every question to this upstream resolver (RD set) instead of iterating; repeatable,
    /// the fastest answering is preferred.
    #[arg(long, value_name = "ADDR")]
    pub(crate) forward: Vec<std::net::SocketAddr>,
    /// On SIGUSR1, write the cache (master-file form) to FILE, replaced atomically; without
    /// it, to standard output.
    #[arg(long, value_name = "FILE")]
    pub(crate) dump_file: Option<std::path::PathBuf>,
    /// TOML file with the same settings in a [dns.resolver] table; flags add to it.
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<std::path::PathBuf>,
}

/// `appnet dns authority …`
#[derive(Debug, Args)]
#[command(
    about = "Authoritative server for RFC 1035 zone files, over UDP and TCP",
    long_about = "Serve DNS zones with authority over UDP and TCP, like NSD or Knot:\n  \
    appnet dns authority --listen 127.0.0.1:5300 --zone example.test.zone\n\n\
    Zone files are RFC 1035 master files ($ORIGIN, $TTL, $INCLUDE, parentheses, RFC 3597 \\# \
    data). A file's origin comes from its $ORIGIN or its SOA owner, or from ORIGIN=FILE. \
    SIGHUP reloads every zone atomically; a zone whose new file is bad keeps serving its old \
    data and the error is logged as file:line:column. SIGINT or SIGTERM stop the server."
)]
pub(crate) struct AuthorityArgs {
    /// Address to serve UDP and TCP on; repeatable, IPv4 or IPv6 (e.g. 127.0.0.1:5300, [::1]:5300).
    #[arg(long, value_name = "ADDR")]
    pub(crate) listen: Vec<std::net::SocketAddr>,
    /// Zone to serve, as FILE or ORIGIN=FILE; repeatable.
    #[arg(long, value_name = "[ORIGIN=]FILE")]
    pub(crate) zone: Vec<String>,
    /// TOML file with the same settings, in a [dns.authority] table; flags add to it.
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<std::path::PathBuf>,
    /// UDP worker sockets (SO_REUSEPORT); default: one per CPU.
    #[arg(long, value_name = "N")]
    pub(crate) workers: Option<usize>,
    /// Serve Prometheus metrics on ADDR at /metrics.
    #[arg(long, value_name = "ADDR")]
    pub(crate) metrics: Option<std::net::SocketAddr>,
    /// Allow zone transfers (AXFR/IXFR over TCP) to this network; repeatable. Default: none.
    #[arg(long, value_name = "CIDR")]
    pub(crate) allow_transfer: Vec<ipnet::IpNet>,
    /// Send NOTIFY to this secondary when a zone's serial changes; repeatable.
    #[arg(long, value_name = "ADDR")]
    pub(crate) notify: Vec<std::net::SocketAddr>,
    /// Be a secondary for ORIGIN, transferring it from PRIMARY (ADDR:PORT, several separated
    /// by commas) and refreshing it by its SOA timers and on NOTIFY; repeatable.
    #[arg(long, value_name = "ORIGIN=PRIMARY")]
    pub(crate) secondary: Vec<String>,
    /// Response rate limiting: at most RATE identical responses per second to one client
    /// network (IPv4 /24, IPv6 /56) over UDP; the excess is dropped or slipped. Default: off.
    #[arg(long, value_name = "RATE")]
    pub(crate) rrl: Option<u32>,
    /// With --rrl, every Nth limited response is sent truncated (TC) instead of dropped, so
    /// real clients under a spoofed flood get through over TCP; 0 never slips.
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub(crate) rrl_slip: u32,
    /// Where secondary zones' copies are kept (ORIGIN.zone), so a restart serves them at once.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub(crate) state_dir: std::path::PathBuf,
}

/// The arguments of a command that is not built yet: whatever is given is accepted, so the
/// user gets the "not built yet" message rather than a parse error about options to come.
#[derive(Debug, Args)]
pub(crate) struct Planned {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    pub(crate) args: Vec<OsString>,
}

#[derive(Debug, Args)]
#[command(
    about = "Build a small Internet on loopback, run the experiments, and report",
    long_about = "Build a small Internet on this machine out of appnet's own servers \
    — root, TLD and site name servers, a resolver, an origin, caches, a swarm — on distinct \
    hosts, run one experiment per system, and report what each shows.\n\n\
    The lab first probes the machine (loopback hosts, IPv6, whether it can make network \
    namespaces and netem qdiscs). Hosts are loopback addresses (127.53.x.x), or with links \
    (--rtt, --bandwidth, --region) network namespaces of their own on 198.18.0.0/15 where \
    this process may make them, else loopback hosts behind in-process relays; --links \
    chooses. Namespaces are held only by this process, so nothing outlives it. Today the DNS \
    experiment is built; the others are listed with the issue that adds them."
)]
pub(crate) struct LabArgs {
    /// List the scenarios and what each measures, then exit.
    #[arg(long)]
    pub(crate) list: bool,
    /// Run only these scenarios (comma-separated, repeatable), e.g. --only dns,http.
    #[arg(long, value_name = "NAMES")]
    pub(crate) only: Vec<String>,
    /// A short run (well under a minute on two cores): smaller workloads, fewer repeats.
    #[arg(long)]
    pub(crate) quick: bool,
    /// Where to write report.json and report.html.
    #[arg(long, value_name = "DIR", default_value = "lab-report")]
    pub(crate) out: std::path::PathBuf,
    /// Round-trip time of every link (client to resolver, resolver to each name server), e.g.
    /// 50ms. Default: plain loopback, no links.
    #[arg(long, value_name = "TIME", value_parser = appnet_lab::link::parse_duration)]
    pub(crate) rtt: Option<std::time::Duration>,
    /// Bandwidth of every link each way, e.g. 10mbit. Default: unlimited.
    #[arg(long, value_name = "RATE", value_parser = appnet_lab::link::parse_rate)]
    pub(crate) bandwidth: Option<u64>,
    /// After the experiments, start the lab's servers again and leave them up, printing their
    /// addresses, until Ctrl-C: poke at them with appnet dig, dig or kdig.
    #[arg(long)]
    pub(crate) keep_running: bool,
    /// A group of clients in another region, behind its own link to the resolver:
    /// NAME=RTT[/RATE], e.g. far=80ms/10mbit; repeatable (up to 10).
    #[arg(long, value_name = "NAME=RTT[/RATE]", value_parser = appnet_lab::link::parse_region)]
    pub(crate) region: Vec<appnet_lab::link::Region>,
    /// How links are made: `namespaces` (each host a network namespace on a bridge, links
    /// shaped by netem — needs root and iproute2; kernels without netem can pace bandwidth
    /// but not add delay), `in-process` (relays in this process delay and pace), or `auto`:
    /// namespaces where they can do what was asked, else in-process. The report says which.
    #[arg(long, value_name = "HOW", default_value = "auto")]
    pub(crate) links: appnet_lab::topology::LinksChoice,
    /// Serve the report over HTTP on ADDR while the lab runs (a progress page until it is
    /// ready), and afterwards until Ctrl-C.
    #[arg(long, value_name = "ADDR")]
    pub(crate) serve: Option<std::net::SocketAddr>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_command_explains_itself_at_length() {
        fn leaves(command: &clap::Command, out: &mut Vec<clap::Command>) {
            let subcommands: Vec<_> =
                command.get_subcommands().filter(|c| c.get_name() != "help").collect();
            if subcommands.is_empty() {
                out.push(command.clone());
            }
            for subcommand in subcommands {
                leaves(subcommand, out);
            }
        }
        let mut all = Vec::new();
        leaves(&Cli::command(), &mut all);
        assert!(all.len() >= 9, "{}", all.len());
        for command in all {
            let name = command.get_name().to_owned();
            let about = command.get_about().map(ToString::to_string).unwrap_or_default();
            let long = command.get_long_about().map(ToString::to_string).unwrap_or_default();
            assert!(!about.is_empty(), "{name}: no summary");
            // `--help` says more than the one line `-h` and the command list show.
            assert!(long.len() > about.len() + 40, "{name}: --help is only {long:?}");
        }
    }

    #[test]
    fn verbosity_counts_flags() {
        let cli = Cli::parse_from(["appnet", "-vv", "lab"]);
        assert_eq!(cli.verbosity(), 2);
        let cli = Cli::parse_from(["appnet", "lab", "-q"]);
        assert_eq!(cli.verbosity(), -1);
    }

    #[test]
    fn planned_commands_accept_their_future_arguments() {
        let cli =
            Cli::parse_from(["appnet", "dig", "@127.0.0.1", "-p", "5300", "example.", "+short"]);
        let Command::Dig(planned) = cli.command else { panic!("parsed as dig") };
        assert_eq!(planned.args.len(), 5);
    }
}
