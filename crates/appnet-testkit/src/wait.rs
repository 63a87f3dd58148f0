//! Waiting for a peer to come up, with a limit.

use std::net::{SocketAddr, TcpStream};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// Polls `ready` every 20 ms until it returns true or `timeout` passes. Returns whether it did.
pub fn wait_until(timeout: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if ready() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        sleep(Duration::from_millis(20));
    }
}

/// Waits until something accepts TCP connections at `addr`.
pub fn wait_for_tcp(addr: SocketAddr, timeout: Duration) -> bool {
    wait_until(timeout, || TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok())
}
