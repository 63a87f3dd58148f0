//! The system resolver's addresses from `/etc/resolv.conf` (resolv.conf(5)): dig's default
//! servers when no `@SERVER` is given.

use std::net::IpAddr;

/// The `nameserver` addresses of a resolv.conf text, in order. Scope suffixes (`fe80::1%eth0`)
/// are dropped; lines that are not valid addresses are skipped, as the C library does.
pub fn nameservers(text: &str) -> Vec<IpAddr> {
    text.lines()
        .filter_map(|line| {
            let line = line.split(['#', ';']).next().unwrap_or_default();
            let mut words = line.split_whitespace();
            (words.next() == Some("nameserver")).then(|| words.next()).flatten()
        })
        .filter_map(|address| address.split('%').next()?.parse().ok())
        .collect()
}

/// Where the C library asks when resolv.conf names no server: the local host.
pub fn fallback() -> Vec<IpAddr> {
    vec![IpAddr::from([127, 0, 0, 1]), IpAddr::from(std::net::Ipv6Addr::LOCALHOST)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_nameserver_lines_in_order() {
        let text = "# generated\nsearch lab\nnameserver 10.255.255.53\n nameserver ::1 # local\n\
                    nameserver fe80::1%eth0\nnameserver bogus\noptions ndots:2\n";
        let expected: Vec<IpAddr> =
            ["10.255.255.53", "::1", "fe80::1"].iter().map(|a| a.parse().unwrap()).collect();
        assert_eq!(nameservers(text), expected);
        assert!(nameservers("domain lab\n").is_empty());
    }
}
