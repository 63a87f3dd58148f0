//! One module per subcommand.

mod dig;
mod dns_authority;
mod dns_resolver;
mod http_load;
mod http_serve;
mod lab;
mod planned;

use std::process::ExitCode;

use crate::cli::{Command, DnsCommand, HttpCommand};

/// Runs a parsed command.
pub(crate) fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Dns(DnsCommand::Authority(args)) => dns_authority::run(*args),
        Command::Dns(DnsCommand::Resolver(args)) => dns_resolver::run(*args),
        Command::Dig(args) => dig::run(&args.args),
        Command::Http(HttpCommand::Serve(args)) => http_serve::run(&args),
        Command::Http(HttpCommand::Load(args)) => http_load::run(&args),
        Command::Proxy(_) => Ok(planned::report("proxy", Some(8))),
        Command::Torrent(_) => Ok(planned::report("torrent", None)),
        Command::Tracker(_) => Ok(planned::report("tracker", None)),
        Command::Lab(args) => lab::run(&args),
    }
}
