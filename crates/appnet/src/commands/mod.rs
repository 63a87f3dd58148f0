//! One module per subcommand.

mod dig;
mod dns_authority;
mod dns_resolver;
mod http_load;
mod http_serve;
mod lab;
mod planned;
mod proxy;

use std::process::ExitCode;

use crate::cli::{Command, DnsCommand, HttpCommand};

/// A server's async runtime: one worker per CPU this process may use (taskset narrows it),
/// threads named for the server.
pub(crate) fn server_runtime(thread_name: &str) -> anyhow::Result<tokio::runtime::Runtime> {
    use anyhow::Context;
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(std::thread::available_parallelism().map_or(1, usize::from))
        .thread_name(thread_name)
        .enable_all()
        .build()
        .context("start the async runtime")
}

/// Runs a parsed command.
pub(crate) fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Dns(DnsCommand::Authority(args)) => dns_authority::run(*args),
        Command::Dns(DnsCommand::Resolver(args)) => dns_resolver::run(*args),
        Command::Dig(args) => dig::run(&args.args),
        Command::Http(HttpCommand::Serve(args)) => http_serve::run(&args),
        Command::Http(HttpCommand::Load(args)) => http_load::run(&args),
        Command::Proxy(args) => proxy::run(&args),
        Command::Torrent(_) => Ok(planned::report("torrent", None)),
        Command::Tracker(_) => Ok(planned::report("tracker", None)),
        Command::Lab(args) => lab::run(&args),
    }
}
