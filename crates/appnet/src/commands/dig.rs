//! `appnet dig`: ask a DNS server, print the answer as dig does.

use std::process::ExitCode;

use appnet_dns::dig::DigOptions;
use appnet_dns::dig::client::{self, exit};

pub(crate) fn run(args: &[String]) -> anyhow::Result<ExitCode> {
    let options = match DigOptions::parse(args) {
        Ok(options) => options,
        Err(error) => {
            eprintln!("appnet dig: {error}");
            eprintln!("Usage: appnet dig [@SERVER] [-p PORT] NAME [TYPE] [+option…]; see --help");
            return Ok(ExitCode::from(exit::USAGE));
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let command_line = args.join(" ");
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
    let status = if options.trace {
        runtime.block_on(appnet_dns::dig::trace::run(
            &options,
            &command_line,
            &mut out,
            &mut err,
        ))?
    } else {
        runtime.block_on(client::run(&options, &command_line, &mut out, &mut err))?
    };
    Ok(ExitCode::from(status))
}
