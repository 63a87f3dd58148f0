//! `--hosts FILE`: names answered locally before anything else, from a file in the
//! `/etc/hosts` format (hosts(5)): an address, then a canonical name and aliases, `#` comments.
//! Both directions are served: A/AAAA for the names, PTR for the addresses.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::str::FromStr;

use crate::zone::LoadError;
use crate::zone::name::{MAX_NAME_LEN, lowercase_into};

/// The TTL local answers carry: short, so an edited file is seen soon by caching clients.
pub const HOSTS_TTL: u32 = 60;

/// The parsed file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hosts {
    /// Lowercase wire name → its addresses, in file order.
    addresses: HashMap<Box<[u8]>, Vec<IpAddr>>,
    /// Lowercase wire reverse name (in-addr.arpa / ip6.arpa) → the canonical name (wire).
    reverse: HashMap<Box<[u8]>, Box<[u8]>>,
}

impl Hosts {
    /// Reads a hosts file; a line with a bad address or name is an error `file:line: what`.
    pub fn load(path: &Path) -> Result<Self, LoadError> {
        let text = std::fs::read_to_string(path).map_err(|e| LoadError {
            path: path.to_owned(),
            line: 0,
            column: None,
            message: format!("cannot read: {e}"),
        })?;
        Self::parse(&text, path)
    }

    /// Parses hosts-file text; `path` is for error messages.
    pub fn parse(text: &str, path: &Path) -> Result<Self, LoadError> {
        let mut hosts = Self::default();
        for (index, line) in text.lines().enumerate() {
            let at = |message: String| LoadError {
                path: path.to_owned(),
                line: index + 1,
                column: None,
                message,
            };
            let line = line.split('#').next().unwrap_or_default();
            let mut words = line.split_whitespace();
            let Some(address) = words.next() else { continue };
            // Scoped IPv6 addresses (fe80::1%eth0) name no global host: keep the address part.
            let address = IpAddr::from_str(address.split('%').next().unwrap_or_default())
                .map_err(|_| at(format!("`{address}` is not an IP address")))?;
            let mut canonical = None;
            for name in words {
                let wire = wire_name(name)
                    .ok_or_else(|| at(format!("`{name}` is not a valid host name")))?;
                let list = hosts.addresses.entry(wire.clone()).or_default();
                if !list.contains(&address) {
                    list.push(address);
                }
                canonical.get_or_insert(wire);
            }
            let canonical = canonical.ok_or_else(|| at(format!("{address} has no name")))?;
            hosts.reverse.entry(reverse_name(address)).or_insert(canonical);
        }
        Ok(hosts)
    }

    /// The addresses of the lowercase wire name `name` of the family `rtype` asks for (1 = A,
    /// 28 = AAAA); `None` when the file does not name it at all.
    pub fn lookup(&self, name: &[u8], rtype: u16) -> Option<Vec<IpAddr>> {
        let all = self.addresses.get(name)?;
        Some(
            all.iter()
                .copied()
                .filter(|a| if rtype == 28 { a.is_ipv6() } else { a.is_ipv4() })
                .collect(),
        )
    }

    /// The canonical name (wire) for the lowercase wire reverse name `name`.
    pub fn lookup_reverse(&self, name: &[u8]) -> Option<&[u8]> {
        self.reverse.get(name).map(|name| &**name)
    }

    /// Whether the file names nothing.
    pub fn is_empty(&self) -> bool {
        self.addresses.is_empty()
    }
}

/// `name` (presentation form, relative names taken as absolute) as a lowercase wire name.
fn wire_name(name: &str) -> Option<Box<[u8]>> {
    let absolute = if name.ends_with('.') { name.to_owned() } else { format!("{name}.") };
    let parsed = domain::base::Name::<Vec<u8>>::from_str(&absolute).ok()?;
    let mut buffer = [0; MAX_NAME_LEN];
    Some(lowercase_into(parsed.as_slice(), &mut buffer).into())
}

/// The in-addr.arpa or ip6.arpa wire name of `address` (RFC 1035 §3.5, RFC 3596 §2.5).
pub fn reverse_name(address: IpAddr) -> Box<[u8]> {
    let mut wire = Vec::with_capacity(74);
    match address {
        IpAddr::V4(v4) => {
            for octet in v4.octets().iter().rev() {
                let label = octet.to_string();
                wire.push(label.len() as u8);
                wire.extend_from_slice(label.as_bytes());
            }
            wire.extend_from_slice(b"\x07in-addr\x04arpa\x00");
        }
        IpAddr::V6(v6) => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            for byte in v6.octets().iter().rev() {
                wire.extend_from_slice(&[
                    1,
                    HEX[usize::from(byte & 0x0F)],
                    1,
                    HEX[usize::from(byte >> 4)],
                ]);
            }
            wire.extend_from_slice(b"\x03ip6\x04arpa\x00");
        }
    }
    wire.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "127.0.0.1 localhost\n::1 localhost ip6-localhost # loopback\n\n\
                        192.0.2.10 Web.Lab www.lab\t# the site\n2001:db8::10 web.lab\n";

    fn wire(name: &str) -> Box<[u8]> {
        wire_name(name).unwrap()
    }

    #[test]
    fn names_answer_by_family_in_any_case() {
        let hosts = Hosts::parse(FILE, Path::new("hosts")).unwrap();
        let v4: IpAddr = "192.0.2.10".parse().unwrap();
        assert_eq!(hosts.lookup(&wire("web.lab"), 1), Some(vec![v4]));
        assert_eq!(hosts.lookup(&wire("www.lab"), 1), Some(vec![v4]), "aliases too");
        assert_eq!(hosts.lookup(&wire("web.lab"), 28), Some(vec!["2001:db8::10".parse().unwrap()]));
        assert_eq!(hosts.lookup(&wire("www.lab"), 28), Some(vec![]), "named, but no IPv6: NODATA");
        assert_eq!(hosts.lookup(&wire("other.lab"), 1), None);
        assert_eq!(hosts.lookup(&wire("localhost"), 28), Some(vec!["::1".parse().unwrap()]));
    }

    #[test]
    fn addresses_answer_ptr_with_the_canonical_name() {
        let hosts = Hosts::parse(FILE, Path::new("hosts")).unwrap();
        let reverse = reverse_name("192.0.2.10".parse().unwrap());
        assert_eq!(&*reverse, b"\x0210\x012\x010\x03192\x07in-addr\x04arpa\x00");
        assert_eq!(hosts.lookup_reverse(&reverse), Some(&*wire("web.lab")));
        let six = reverse_name("2001:db8::10".parse().unwrap());
        assert!(six.starts_with(b"\x010\x011\x010\x010"), "nibbles, least significant first");
        assert_eq!(hosts.lookup_reverse(&six), Some(&*wire("web.lab")));
    }

    #[test]
    fn bad_lines_are_reported_with_file_and_line() {
        let error =
            Hosts::parse("127.0.0.1 ok\n999.1.1.1 bad\n", Path::new("/etc/hosts")).unwrap_err();
        assert_eq!(error.to_string(), "/etc/hosts:2: `999.1.1.1` is not an IP address");
        let error = Hosts::parse("192.0.2.1\n", Path::new("h")).unwrap_err();
        assert_eq!(error.line, 1);
        assert!(Hosts::parse("192.0.2.1 a..b\n", Path::new("h")).is_err());
    }
}
