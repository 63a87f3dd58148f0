//! `appnet lab`: probe the machine, then run the selected scenarios.

use std::process::ExitCode;

use appnet_lab::catalog::{self, Status};
use appnet_lab::environment::Environment;

use crate::cli::LabArgs;

pub(crate) fn run(args: &LabArgs) -> anyhow::Result<ExitCode> {
    let selected = catalog::select(&args.only)?;
    if args.list {
        for scenario in &selected {
            println!("{:<6} {}  [{}]", scenario.name, scenario.measures, status(scenario.status));
        }
        return Ok(ExitCode::SUCCESS);
    }

    println!("appnet lab {}", env!("CARGO_PKG_VERSION"));
    println!("\nThis machine:");
    for line in Environment::probe().describe() {
        println!("  {line}");
    }
    println!("\nScenarios:");
    let mut ran = 0;
    for scenario in &selected {
        println!("  {:<6} {}", scenario.name, status(scenario.status));
        if scenario.status == Status::Ready {
            ran += 1;
        }
    }
    if ran == 0 {
        println!(
            "\nNo scenario is built yet, so nothing was measured. The lab's hosts, links and \
             report arrive with issue #5; each system adds its scenario after that."
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn status(status: Status) -> String {
    match status {
        Status::Ready => "ready".to_owned(),
        Status::Planned { issue } => format!("not built yet (issue #{issue})"),
    }
}
