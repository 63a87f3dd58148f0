//! The tokio driver on real loopback sockets: a server that ignores the first request.

use std::time::Duration;

use appnet_retransmit::driver::{ExchangeError, exchange};
use appnet_retransmit::{Outcome, RetryConfig, RttEstimator};
use tokio::net::UdpSocket;

fn estimator() -> RttEstimator {
    RttEstimator::new(Duration::from_millis(100), Duration::from_millis(10), Duration::from_secs(1))
}

#[tokio::test]
async fn retries_until_the_server_answers() {
    let server = UdpSocket::bind("127.0.0.1:0").await.expect("bind server");
    let server_addr = server.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut buffer = [0; 64];
        let mut seen = 0;
        loop {
            let (length, from) = server.recv_from(&mut buffer).await.expect("recv");
            seen += 1;
            if seen > 1 {
                server.send_to(&buffer[..length], from).await.expect("send");
            }
        }
    });
    let client = UdpSocket::bind("127.0.0.1:0").await.expect("bind client");
    let mut rtt = estimator();
    let reply = exchange(
        &client,
        server_addr,
        &RetryConfig::default(),
        &mut rtt,
        |attempt| vec![attempt.number as u8],
        |reply| Some((reply[0], Some(u32::from(reply[0])))),
    )
    .await
    .expect("answered on the retry");
    assert_eq!(reply.value, 2, "the second attempt was answered");
    assert!(matches!(reply.outcome, Outcome::Answered { attempts: 2, rtt: Some(_) }));
    assert!(rtt.smoothed().is_some(), "the estimator learned from the exchange");
}

#[tokio::test]
async fn gives_up_on_silence() {
    let silent = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let client = UdpSocket::bind("127.0.0.1:0").await.expect("bind client");
    let config = RetryConfig { max_attempts: 2, ..RetryConfig::default() };
    let result = exchange(
        &client,
        silent.local_addr().expect("addr"),
        &config,
        &mut estimator(),
        |_| vec![0],
        |_| Some(((), None)),
    )
    .await;
    assert!(matches!(result, Err(ExchangeError::GaveUp { attempts: 2, .. })), "{result:?}");
}
