//! One `tracing` subscriber for the whole process, installed by the binary only.
//!
//! `-v`/`-q` move the level from the default `info` one step at a time; `RUST_LOG`, when set,
//! wins over both because a person who sets it wants exactly that filter (e.g.
//! `RUST_LOG=appnet_dns=trace`). Logs go to stderr so stdout stays clean for `dig`-style output.

use tracing_subscriber::EnvFilter;

/// The level for a net verbosity of `verbose - quiet` (`-v` counts up, `-q` counts down).
pub fn level_for(verbosity: i8) -> &'static str {
    match verbosity {
        i8::MIN..=-2 => "error",
        -1 => "warn",
        0 => "info",
        1 => "debug",
        2..=i8::MAX => "trace",
    }
}

/// The filter the subscriber uses: `RUST_LOG` if it is set and valid, else the `-v/-q` level.
pub fn filter(verbosity: i8, rust_log: Option<&str>) -> EnvFilter {
    rust_log
        .filter(|directives| !directives.trim().is_empty())
        .and_then(|directives| EnvFilter::try_new(directives).ok())
        .unwrap_or_else(|| EnvFilter::new(level_for(verbosity)))
}

/// Installs the process-wide subscriber. Call once, first thing in `main`; later calls are
/// ignored (tests may call it from several places).
pub fn init(verbosity: i8) {
    let rust_log = std::env::var("RUST_LOG").ok();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter(verbosity, rust_log.as_deref()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(true)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbosity_steps_through_levels() {
        assert_eq!(level_for(-5), "error");
        assert_eq!(level_for(-1), "warn");
        assert_eq!(level_for(0), "info");
        assert_eq!(level_for(1), "debug");
        assert_eq!(level_for(3), "trace");
    }

    #[test]
    fn rust_log_overrides_flags() {
        assert_eq!(filter(0, Some("appnet_dns=trace")).to_string(), "appnet_dns=trace");
        assert_eq!(filter(1, None).to_string(), "debug");
        assert_eq!(filter(-1, Some("  ")).to_string(), "warn");
    }
}
