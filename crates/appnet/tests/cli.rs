//! The `appnet` binary as a user meets it: help, version, the lab, and honest "not built yet".

use std::process::{Command, Output};

fn appnet(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_appnet")).args(args).output().expect("run appnet")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn help_lists_every_system() {
    let output = appnet(&["--help"]);
    assert!(output.status.success());
    let help = stdout(&output);
    for command in ["dns", "dig", "http", "proxy", "torrent", "tracker", "lab"] {
        assert!(help.contains(&format!("\n  {command} ")), "`{command}` missing from:\n{help}");
    }
}

#[test]
fn every_subcommand_explains_itself() {
    let commands: &[&[&str]] = &[
        &["dns"],
        &["dns", "authority"],
        &["dns", "resolver"],
        &["dig"],
        &["http"],
        &["http", "serve"],
        &["http", "load"],
        &["proxy"],
        &["torrent"],
        &["tracker"],
        &["lab"],
    ];
    for command in commands {
        let mut args = command.to_vec();
        args.push("--help");
        let output = appnet(&args);
        assert!(output.status.success(), "{args:?}: {}", stderr(&output));
        let help = stdout(&output);
        assert!(help.lines().count() >= 3, "{args:?} help too thin:\n{help}");
        assert!(help.contains("Usage: appnet"), "{args:?}:\n{help}");
    }
}

#[test]
fn version_prints_the_package_version() {
    let output = appnet(&["--version"]);
    assert!(output.status.success());
    assert_eq!(stdout(&output), format!("appnet {}\n", env!("CARGO_PKG_VERSION")));
}

#[test]
fn no_arguments_shows_help_and_fails() {
    let output = appnet(&[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("Usage: appnet"));
}

#[test]
fn lab_probes_the_machine_and_runs_only_the_selected_scenario() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().to_str().expect("utf-8 path");
    let output = appnet(&["lab", "--quick", "--only", "cache", "--out", out]);
    assert!(output.status.success(), "{}", stderr(&output));
    let report = stdout(&output);
    assert!(report.contains("loopback hosts (127.0.0.2, 127.1.2.3): yes"), "{report}");
    assert!(report.contains("link emulation available: "), "{report}");
    assert!(report.contains("Caching experiment:"), "{report}");
    assert!(!report.contains("DNS experiment:"), "only what was asked:\n{report}");
    assert!(dir.path().join("report.html").exists() && dir.path().join("report.json").exists());
}

#[test]
fn lab_list_and_only() {
    let output = appnet(&["lab", "--list", "--only", "dns"]);
    assert!(output.status.success());
    let listed = stdout(&output);
    assert!(listed.starts_with("dns "), "{listed}");
    assert_eq!(listed.lines().count(), 1, "{listed}");

    let output = appnet(&["lab", "--only", "nosuch"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("no scenario named `nosuch`"), "{}", stderr(&output));
}

#[test]
fn unbuilt_commands_say_so_with_their_issue() {
    let output = appnet(&["torrent", "ubuntu.torrent"]);
    assert_eq!(output.status.code(), Some(69));
    assert_eq!(stderr(&output), "appnet torrent: not built yet.\n");
}
