//! `appnet dig`: ask a DNS server, print the answer as dig does.

use std::process::ExitCode;

pub(crate) fn run(_args: &[String]) -> anyhow::Result<ExitCode> {
    eprintln!("appnet dig: not built yet (tracked in issue #3).");
    Ok(ExitCode::from(69))
}
