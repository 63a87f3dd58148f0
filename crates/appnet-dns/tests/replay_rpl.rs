//! The resolver core replays `.rpl` scenarios (Unbound testbound / Deckard format) from
//! `testdata/rpl/`: referrals, lame servers, CNAMEs across zones, timeouts and expiry.

#[path = "support/rpl.rs"]
mod rpl;

use std::path::Path;

#[test]
fn every_rpl_scenario_passes() {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/rpl"));
    let mut files: Vec<_> =
        std::fs::read_dir(dir).expect("testdata/rpl").flatten().map(|e| e.path()).collect();
    files.retain(|p| p.extension().is_some_and(|e| e == "rpl"));
    files.sort();
    assert!(files.len() >= 4, "the scenarios are there: {files:?}");
    let mut failures = Vec::new();
    for file in &files {
        let scenario = rpl::parse(file);
        if let Err(mismatch) = rpl::run(&scenario) {
            failures.push(format!("{} ({}): {}", file.display(), scenario.name, mismatch.0));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A replay must be able to fail: the same referral scenario, checked against a wrong answer.
#[test]
fn a_wrong_expectation_is_reported() {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/rpl"));
    let mut scenario = rpl::parse(&dir.join("iter_referral.rpl"));
    for step in &mut scenario.steps {
        if let rpl::Step::CheckAnswer(_, entry) = step {
            entry.answer[0].rdata = vec![10, 99, 99, 99];
        }
    }
    assert!(rpl::run(&scenario).is_err());
}
