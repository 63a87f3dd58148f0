//! `appnet dns authority`: serve zones with authority.

use std::process::ExitCode;

use crate::cli::AuthorityArgs;

pub(crate) fn run(_args: AuthorityArgs) -> anyhow::Result<ExitCode> {
    eprintln!("appnet dns authority: not built yet (tracked in issue #3).");
    Ok(ExitCode::from(69))
}
