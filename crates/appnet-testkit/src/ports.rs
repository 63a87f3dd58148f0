//! Free loopback ports for peers under test.
//!
//! The kernel picks an unused port when we bind port 0; we release it and hand the number to the
//! peer. Another process could take it in between, so each pick is random across the kernel's
//! range, and DNS servers get a port that is free for both UDP and TCP.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, UdpSocket};

/// A port on `127.0.0.1` that is free for both UDP and TCP right now (a DNS server needs both).
pub fn free_port() -> u16 {
    free_port_on(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

/// A port on `127.0.0.1` that is free for TCP right now.
pub fn free_tcp_port() -> u16 {
    let listener =
        TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a TCP port on 127.0.0.1");
    listener.local_addr().expect("local address").port()
}

/// A port on `ip` (any loopback address) free for both UDP and TCP.
pub fn free_port_on(ip: IpAddr) -> u16 {
    for _ in 0..100 {
        let udp = UdpSocket::bind(SocketAddr::new(ip, 0)).expect("bind a UDP port on loopback");
        let port = udp.local_addr().expect("local address").port();
        if TcpListener::bind(SocketAddr::new(ip, port)).is_ok() {
            return port;
        }
    }
    panic!("no port on {ip} was free for both UDP and TCP in 100 tries");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_is_bindable_for_both_protocols() {
        let port = free_port();
        assert_ne!(port, 0);
        UdpSocket::bind((Ipv4Addr::LOCALHOST, port)).expect("UDP free");
        TcpListener::bind((Ipv4Addr::LOCALHOST, port)).expect("TCP free");
    }
}
