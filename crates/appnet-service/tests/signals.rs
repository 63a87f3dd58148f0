//! Real signals delivered to this test process reach the lifecycle. One test per file: signal
//! handlers are process-wide.

use std::process::Command;
use std::time::Duration;

use appnet_service::Lifecycle;

fn send(signal: &str) {
    let status = Command::new("kill")
        .args([format!("-{signal}"), std::process::id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{signal} failed");
}

#[tokio::test]
async fn sighup_reloads_and_sigterm_shuts_down() {
    let lifecycle = Lifecycle::new();
    lifecycle.listen_for_signals().expect("register signal handlers");
    let mut reloads = lifecycle.reloads();
    let token = lifecycle.shutdown_token();

    send("HUP");
    tokio::time::timeout(Duration::from_secs(10), reloads.changed())
        .await
        .expect("SIGHUP arrives within 10 s")
        .expect("lifecycle alive");
    assert_eq!(*reloads.borrow(), 1);
    assert!(!token.is_cancelled(), "SIGHUP must not shut down");

    send("TERM");
    tokio::time::timeout(Duration::from_secs(10), token.cancelled())
        .await
        .expect("SIGTERM arrives within 10 s");
}
