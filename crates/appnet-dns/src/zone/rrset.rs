//! One RRset, pre-encoded for the answer path.

/// Record type numbers the answer logic treats specially (RFC 1035, 3596, 6672, 2782).
pub mod rtype {
    /// IPv4 address.
    pub const A: u16 = 1;
    /// Name server.
    pub const NS: u16 = 2;
    /// Canonical name (alias).
    pub const CNAME: u16 = 5;
    /// Start of authority.
    pub const SOA: u16 = 6;
    /// Mail exchange.
    pub const MX: u16 = 15;
    /// IPv6 address.
    pub const AAAA: u16 = 28;
    /// Service location.
    pub const SRV: u16 = 33;
    /// Subtree redirection.
    pub const DNAME: u16 = 39;
    /// EDNS(0) pseudo-record.
    pub const OPT: u16 = 41;
    /// Delegation signer (answered from the parent side of a cut).
    pub const DS: u16 = 43;
    /// Incremental zone transfer.
    pub const IXFR: u16 = 251;
    /// Full zone transfer.
    pub const AXFR: u16 = 252;
    /// Any type (RFC 8482: answered minimally).
    pub const ANY: u16 = 255;
}

/// The records of one type at one owner name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rrset {
    /// The record type.
    pub rtype: u16,
    /// The TTL every record of the set is served with.
    pub ttl: u32,
    /// Each record as it follows its owner name on the wire: TYPE, CLASS, TTL, RDLENGTH, RDATA.
    pub records: Vec<Box<[u8]>>,
    /// Lowercase names whose A/AAAA records go in the additional section (NS, MX, SRV targets).
    pub additional: Vec<Box<[u8]>>,
    /// For CNAME and DNAME: the target name, as written in the zone (case preserved).
    pub target: Option<Box<[u8]>>,
}

impl Rrset {
    /// An empty set of `rtype` with `ttl`.
    pub fn new(rtype: u16, ttl: u32) -> Self {
        Self { rtype, ttl, records: Vec::new(), additional: Vec::new(), target: None }
    }

    /// Adds a record with wire-format `rdata`, unless the set already has it (RFC 2181 §5:
    /// an RRset has no duplicates). Returns whether it was added. Rdata longer than 65535
    /// bytes cannot be encoded and is refused (`false`).
    pub fn push(&mut self, class: u16, rdata: &[u8]) -> bool {
        let Ok(rdlength) = u16::try_from(rdata.len()) else {
            return false;
        };
        let mut record = Vec::with_capacity(10 + rdata.len());
        record.extend_from_slice(&self.rtype.to_be_bytes());
        record.extend_from_slice(&class.to_be_bytes());
        record.extend_from_slice(&self.ttl.to_be_bytes());
        record.extend_from_slice(&rdlength.to_be_bytes());
        record.extend_from_slice(rdata);
        if self.records.iter().any(|existing| existing[10..] == record[10..]) {
            return false;
        }
        // Most RRsets hold a few records; Vec's first growth to 4 would waste the rest.
        if self.records.len() < 4 {
            self.records.reserve_exact(1);
        }
        self.records.push(record.into_boxed_slice());
        true
    }

    /// The rdata of each record.
    pub fn rdatas(&self) -> impl Iterator<Item = &[u8]> {
        self.records.iter().map(|record| &record[10..])
    }

    /// A copy served with another TTL (the SOA in negative answers, RFC 2308 §3).
    pub fn with_ttl(&self, ttl: u32) -> Self {
        let mut copy = self.clone();
        copy.ttl = ttl;
        for record in &mut copy.records {
            record[4..8].copy_from_slice(&ttl.to_be_bytes());
        }
        copy
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_records_and_drops_duplicates() {
        let mut set = Rrset::new(rtype::A, 300);
        assert!(set.push(1, &[192, 0, 2, 1]));
        assert!(!set.push(1, &[192, 0, 2, 1]));
        assert!(set.push(1, &[192, 0, 2, 2]));
        assert_eq!(&*set.records[0], &[0, 1, 0, 1, 0, 0, 1, 44, 0, 4, 192, 0, 2, 1]);
        assert_eq!(set.rdatas().count(), 2);
        let negative = set.with_ttl(60);
        assert_eq!(&negative.records[1][4..8], &60u32.to_be_bytes());
    }

    #[test]
    fn refuses_oversized_rdata() {
        let mut set = Rrset::new(rtype::A, 1);
        assert!(!set.push(1, &vec![0; 70_000]));
    }
}
