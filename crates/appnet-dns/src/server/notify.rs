//! NOTIFY out (RFC 1996): tell secondaries a zone changed so they transfer it now rather than
//! at their next refresh. Each target gets the message until it answers, with backoff.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use appnet_retransmit::driver::exchange;
use appnet_retransmit::{RetryConfig, RttEstimator};
use tokio::net::UdpSocket;

use crate::authority::notify_message;
use crate::zone::{Zone, name};

/// NOTIFY retries: RFC 1996 §3.6 suggests a few over some tens of seconds.
fn retry() -> RetryConfig {
    RetryConfig {
        max_attempts: 5,
        backoff: 2,
        max_timeout: Duration::from_secs(16),
        deadline: None,
    }
}

/// Sends NOTIFY for `zone` to every target, in the background.
pub fn spawn_notifies(zone: Arc<Zone>, targets: &[SocketAddr]) {
    spawn_notifies_from(zone, targets, None);
}

/// Like [`spawn_notifies`], from the address `source` (the primary's own, which is the address
/// its secondaries accept NOTIFY from) rather than whichever the kernel picks.
pub fn spawn_notifies_from(zone: Arc<Zone>, targets: &[SocketAddr], source: Option<IpAddr>) {
    for &target in targets {
        let zone = zone.clone();
        tokio::spawn(async move {
            let apex = name::display(zone.apex());
            match notify(&zone, target, source).await {
                Ok(()) => {
                    tracing::info!(zone = %apex, %target, serial = zone.serial(), "notify acknowledged")
                }
                Err(error) => tracing::warn!(zone = %apex, %target, %error, "notify failed"),
            }
        });
    }
}

async fn notify(zone: &Zone, target: SocketAddr, source: Option<IpAddr>) -> std::io::Result<()> {
    let unspecified: IpAddr =
        if target.is_ipv6() { Ipv6Addr::UNSPECIFIED.into() } else { Ipv4Addr::UNSPECIFIED.into() };
    let local = SocketAddr::new(source.unwrap_or(unspecified), 0);
    let socket = UdpSocket::bind(local).await?;
    let mut rtt = RttEstimator::new(
        Duration::from_secs(1),
        Duration::from_millis(100),
        Duration::from_secs(16),
    );
    let id: u16 = rand::random();
    let mut message = Vec::with_capacity(512);
    notify_message(zone, id, &mut message);
    exchange(
        &socket,
        target,
        &retry(),
        &mut rtt,
        |_| message.clone(),
        // A NOERROR response with our ID and the NOTIFY opcode acknowledges; a refusal is no
        // acknowledgement (the retries run out and the failure is logged).
        |reply| {
            (reply.len() >= 12
                && reply[..2] == id.to_be_bytes()
                && reply[2] & 0xF8 == 0xA0
                && reply[3] & 0x0F == 0)
                .then_some(((), None))
        },
    )
    .await
    .map(|_| ())
    .map_err(std::io::Error::other)
}
