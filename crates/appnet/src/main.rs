//! The `appnet` command: one binary for every system, one subcommand each.
//!
//! This crate only parses the command line, sets up logging and hands over to the library
//! crates; no protocol logic lives here.

mod cli;
mod commands;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    // The lab runs dozens of servers in-process and prints its own progress: their routine
    // logs would drown it, so it starts one step quieter (warnings; -v brings them back).
    let quieter = i8::from(matches!(cli.command, cli::Command::Lab(_)));
    appnet_service::logging::init(cli.verbosity() - quieter);
    match commands::run(cli.command) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("appnet: {error:#}");
            ExitCode::FAILURE
        }
    }
}
