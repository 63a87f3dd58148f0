//! Root hints: where iteration starts when the cache knows no closer zone cut. Read from a
//! `named.root` file (RFC 1035 master format: the root's NS records and their addresses), by
//! default Debian's `/usr/share/dns/root.hints` from the `dns-root-data` package, else the
//! thirteen root servers built in. A private hierarchy on loopback uses its own file.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use bytes::Bytes;
use domain::base::iana::Class;
use domain::base::name::ToName;
use domain::rdata::ZoneRecordData;
use domain::zonefile::inplace::{Entry, Zonefile};

use crate::zone::LoadError;
use crate::zone::name::{MAX_NAME_LEN, lowercase_into};

/// Where Debian's dns-root-data package puts the root hints.
pub const DEBIAN_ROOT_HINTS: &str = "/usr/share/dns/root.hints";

/// One root server: its name and addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HintServer {
    /// Lowercase wire name.
    pub name: Box<[u8]>,
    /// Its addresses, from the hints' A and AAAA records.
    pub addresses: Vec<IpAddr>,
}

/// The root servers to start from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootHints {
    /// Each server named by the root's NS records, in file order.
    pub servers: Vec<HintServer>,
}

impl RootHints {
    /// Reads a named.root file. Errors are `file:line: what`; a file whose root NS names have no
    /// address at all is refused, as the resolver could not start from it.
    pub fn load(path: &Path) -> Result<Self, LoadError> {
        let text = std::fs::read(path).map_err(|e| error(path, 0, format!("cannot read: {e}")))?;
        Self::parse(&text, path)
    }

    /// Parses named.root text; `path` is for error messages.
    pub fn parse(text: &[u8], path: &Path) -> Result<Self, LoadError> {
        let mut zonefile = Zonefile::with_capacity(text.len() + 1);
        zonefile.extend_from_slice(text);
        zonefile.extend_from_slice(b"\n");
        zonefile.set_default_class(Class::IN);
        zonefile.set_origin(domain::base::Name::<Bytes>::root());
        let mut names: Vec<Box<[u8]>> = Vec::new();
        let mut addresses: Vec<(Box<[u8]>, IpAddr)> = Vec::new();
        loop {
            // domain 0.12.3's scanner can panic on malformed input; see `zone::load`.
            let scanned =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| zonefile.next_entry()))
                    .map_err(|_| error(path, 0, "malformed record (the scanner gave up)".into()))?;
            let entry = scanned.map_err(|e| scanner_error(path, &e.to_string()))?;
            let record = match entry {
                None => break,
                Some(Entry::Record(record)) => record,
                Some(Entry::Include { .. }) => {
                    return Err(error(path, 0, "$INCLUDE is not allowed in root hints".into()));
                }
            };
            let owner = lower(&record.owner());
            match record.data() {
                ZoneRecordData::Ns(ns) if owner[..] == [0] => names.push(lower(ns.nsdname())),
                ZoneRecordData::A(a) => addresses.push((owner, IpAddr::V4(a.addr()))),
                ZoneRecordData::Aaaa(aaaa) => addresses.push((owner, IpAddr::V6(aaaa.addr()))),
                _ => {}
            }
        }
        let servers: Vec<HintServer> = names
            .into_iter()
            .map(|name| {
                let found = addresses.iter().filter(|(owner, _)| *owner == name).map(|(_, a)| *a);
                HintServer { addresses: found.collect(), name }
            })
            .collect();
        if servers.iter().all(|server| server.addresses.is_empty()) {
            return Err(error(path, 0, "no root NS record with an address".into()));
        }
        Ok(Self { servers })
    }

    /// The root servers' published names and addresses (a.root-servers.net … m), for when no
    /// hints file is given or installed.
    pub fn builtin() -> Self {
        const ROOTS: [(char, [u8; 4], [u16; 8]); 13] = [
            ('a', [198, 41, 0, 4], [0x2001, 0x503, 0xba3e, 0, 0, 0, 2, 0x30]),
            ('b', [170, 247, 170, 2], [0x2801, 0x1b8, 0x10, 0, 0, 0, 0, 0xb]),
            ('c', [192, 33, 4, 12], [0x2001, 0x500, 0x2, 0, 0, 0, 0, 0xc]),
            ('d', [199, 7, 91, 13], [0x2001, 0x500, 0x2d, 0, 0, 0, 0, 0xd]),
            ('e', [192, 203, 230, 10], [0x2001, 0x500, 0xa8, 0, 0, 0, 0, 0xe]),
            ('f', [192, 5, 5, 241], [0x2001, 0x500, 0x2f, 0, 0, 0, 0, 0xf]),
            ('g', [192, 112, 36, 4], [0x2001, 0x500, 0x12, 0, 0, 0, 0, 0xd0d]),
            ('h', [198, 97, 190, 53], [0x2001, 0x500, 0x1, 0, 0, 0, 0, 0x53]),
            ('i', [192, 36, 148, 17], [0x2001, 0x7fe, 0, 0, 0, 0, 0, 0x53]),
            ('j', [192, 58, 128, 30], [0x2001, 0x503, 0xc27, 0, 0, 0, 2, 0x30]),
            ('k', [193, 0, 14, 129], [0x2001, 0x7fd, 0, 0, 0, 0, 0, 1]),
            ('l', [199, 7, 83, 42], [0x2001, 0x500, 0x9f, 0, 0, 0, 0, 0x42]),
            ('m', [202, 12, 27, 33], [0x2001, 0xdc3, 0, 0, 0, 0, 0, 0x35]),
        ];
        let servers = ROOTS
            .iter()
            .map(|(letter, v4, v6)| {
                let mut name = vec![1, *letter as u8];
                name.extend_from_slice(b"\x0croot-servers\x03net\x00");
                let [a, b, c, d, e, f, g, h] = *v6;
                HintServer {
                    name: name.into(),
                    addresses: vec![
                        IpAddr::V4(Ipv4Addr::from(*v4)),
                        IpAddr::V6(Ipv6Addr::new(a, b, c, d, e, f, g, h)),
                    ],
                }
            })
            .collect();
        Self { servers }
    }

    /// The hints at `path`, or Debian's file if installed, or the built-in list.
    pub fn load_default(path: Option<&Path>) -> Result<Self, LoadError> {
        match path {
            Some(path) => Self::load(path),
            None if Path::new(DEBIAN_ROOT_HINTS).exists() => {
                Self::load(Path::new(DEBIAN_ROOT_HINTS))
            }
            None => Ok(Self::builtin()),
        }
    }
}

fn lower(name: &impl ToName) -> Box<[u8]> {
    let mut wire = Vec::with_capacity(usize::from(name.compose_len()));
    let _ = name.compose(&mut wire);
    let mut buffer = [0; MAX_NAME_LEN];
    lowercase_into(&wire, &mut buffer).into()
}

fn error(path: &Path, line: usize, message: String) -> LoadError {
    LoadError { path: path.to_owned(), line, column: None, message }
}

/// The scanner's errors read `line:column: message`; a bad last field is reported at the start
/// of the next line, so column 1 means the line before.
fn scanner_error(path: &Path, text: &str) -> LoadError {
    let mut parts = text.splitn(3, ':');
    match (parts.next().and_then(|l| l.parse::<usize>().ok()), parts.next(), parts.next()) {
        (Some(line), Some(column), Some(message)) => {
            let column = column.trim().parse::<usize>().ok();
            let (line, column) = match column {
                Some(1) if line > 1 => (line - 1, None),
                other => (line, other),
            };
            LoadError { path: path.to_owned(), line, column, message: message.trim().to_owned() }
        }
        _ => error(path, 0, text.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_named_root_file() {
        let text = b"; private root\n.  3600000 NS A.ROOT.LAB.\n.  3600000 IN NS b.root.lab.\n\
                     A.ROOT.LAB. 3600000 A 127.0.0.2\nb.root.lab. 3600000 AAAA ::1\n\
                     b.root.lab. 3600000 A 127.0.0.3\n";
        let hints = RootHints::parse(text, Path::new("root.hints")).unwrap();
        assert_eq!(hints.servers.len(), 2);
        assert_eq!(&*hints.servers[0].name, b"\x01a\x04root\x03lab\x00", "lowercased");
        assert_eq!(hints.servers[0].addresses, ["127.0.0.2".parse::<IpAddr>().unwrap()]);
        assert_eq!(hints.servers[1].addresses.len(), 2);
    }

    #[test]
    fn refuses_hints_without_addresses_and_points_at_bad_lines() {
        let none = RootHints::parse(b". NS a.root.lab.\n", Path::new("h")).unwrap_err();
        assert!(none.to_string().contains("no root NS record with an address"), "{none}");
        let bad = RootHints::parse(b". NS a.root.lab.\na.root.lab. A 300.1.1.1\n", Path::new("h"))
            .unwrap_err();
        assert_eq!((bad.path.to_str(), bad.line), (Some("h"), 2), "{bad}");
    }

    #[test]
    fn builtin_hints_name_thirteen_root_servers() {
        let hints = RootHints::builtin();
        assert_eq!(hints.servers.len(), 13);
        assert_eq!(&*hints.servers[0].name, b"\x01a\x0croot-servers\x03net\x00");
        assert_eq!(hints.servers[0].addresses[0], "198.41.0.4".parse::<IpAddr>().unwrap());
    }
}
