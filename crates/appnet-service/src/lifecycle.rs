//! Process lifecycle: graceful shutdown on SIGINT/SIGTERM and reload on SIGHUP.
//!
//! Servers do not handle signals themselves. They hold a [`CancellationToken`] that fires once
//! when the process should stop (stop accepting, finish what is in flight, flush, exit) and a
//! [`watch::Receiver`] whose value counts reload requests (re-read zones or config, swap them in
//! atomically). A second SIGINT/SIGTERM while shutting down exits at once with status 130, as
//! operators expect when a drain hangs.

use std::io;

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;
pub use tokio_util::sync::CancellationToken;

/// The shutdown and reload signals one process shares among its servers.
#[derive(Debug, Clone)]
pub struct Lifecycle {
    shutdown: CancellationToken,
    reload: watch::Sender<u64>,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Self::new()
    }
}

impl Lifecycle {
    /// A lifecycle that nothing has triggered yet. Signals are not watched until
    /// [`listen_for_signals`](Self::listen_for_signals) is called.
    pub fn new() -> Self {
        Self { shutdown: CancellationToken::new(), reload: watch::Sender::new(0) }
    }

    /// Routes SIGINT and SIGTERM to [`request_shutdown`](Self::request_shutdown) and SIGHUP to
    /// [`request_reload`](Self::request_reload). Call once, inside a tokio runtime; the handlers
    /// are registered before this returns, so no signal sent afterwards is lost.
    pub fn listen_for_signals(&self) -> io::Result<()> {
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        let mut hangup = signal(SignalKind::hangup())?;
        let this = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    Some(()) = interrupt.recv() => this.handle_stop_signal("SIGINT"),
                    Some(()) = terminate.recv() => this.handle_stop_signal("SIGTERM"),
                    Some(()) = hangup.recv() => {
                        tracing::info!("SIGHUP: reloading");
                        this.request_reload();
                    }
                    else => break,
                }
            }
        });
        Ok(())
    }

    /// A token that is cancelled when the process should shut down.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// A receiver that sees the reload count change on every reload request.
    pub fn reloads(&self) -> watch::Receiver<u64> {
        self.reload.subscribe()
    }

    /// Asks every server to shut down gracefully.
    pub fn request_shutdown(&self) {
        self.shutdown.cancel();
    }

    /// Asks every server to reload its configuration and data.
    pub fn request_reload(&self) {
        self.reload.send_modify(|count| *count += 1);
    }

    /// Whether shutdown has been requested.
    pub fn is_shutting_down(&self) -> bool {
        self.shutdown.is_cancelled()
    }

    fn handle_stop_signal(&self, name: &str) {
        if self.is_shutting_down() {
            tracing::warn!("{name} again while shutting down: exiting now");
            std::process::exit(130);
        }
        tracing::info!("{name}: shutting down");
        self.request_shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reload_and_shutdown_reach_every_holder() {
        let lifecycle = Lifecycle::new();
        let mut reloads = lifecycle.reloads();
        let token = lifecycle.shutdown_token();
        assert!(!reloads.has_changed().unwrap());
        lifecycle.request_reload();
        assert!(reloads.has_changed().unwrap());
        assert_eq!(*reloads.borrow_and_update(), 1);
        assert!(!token.is_cancelled());
        lifecycle.clone().request_shutdown();
        assert!(token.is_cancelled());
    }
}
