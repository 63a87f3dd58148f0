//! Commands whose systems are not built yet say so, and exit with a distinct status.

use std::process::ExitCode;

/// Exit status of a command that is not built yet (EX_UNAVAILABLE from sysexits.h), so scripts
/// can tell "not there" from "failed".
const NOT_BUILT: u8 = 69;

/// Tells the user that `appnet NAME` is not built yet, and where its work is tracked.
pub(crate) fn report(name: &str, issue: Option<u32>) -> ExitCode {
    match issue {
        Some(issue) => eprintln!("appnet {name}: not built yet (tracked in issue #{issue})."),
        None => eprintln!("appnet {name}: not built yet."),
    }
    ExitCode::from(NOT_BUILT)
}
