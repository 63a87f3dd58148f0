//! The zone store: nodes by lowercase name, RRsets pre-encoded, facts decided at load.

use std::hash::BuildHasher;

use hashbrown::HashTable;

use super::name::{self, MAX_NAME_LEN};
use super::rrset::{Rrset, rtype};

/// DNSSEC records that may sit beside a CNAME (RFC 4035 §2.5).
const RRSIG: u16 = 46;
const NSEC: u16 = 47;

/// The class every appnet zone is in.
pub const CLASS_IN: u16 = 1;

/// Index of a node in its zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NodeId(u32);

/// One owner name and its RRsets. A node without RRsets is an empty non-terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The owner name in wire form, with the case of its first appearance in the zone file.
    pub name: Box<[u8]>,
    /// The RRsets, one per type, in the order the file introduced them.
    pub rrsets: Vec<Rrset>,
    /// NS records below the apex: a zone cut. Queries at or below it get a referral.
    pub delegation: bool,
    /// Below a zone cut: the node's data is glue, not authoritative.
    pub occluded: bool,
}

impl Node {
    /// The RRset of `rtype`, if the node has one.
    pub fn rrset(&self, rtype: u16) -> Option<&Rrset> {
        self.rrsets.iter().find(|set| set.rtype == rtype)
    }

    /// Whether the node has no data of its own (an empty non-terminal).
    pub fn is_empty_non_terminal(&self) -> bool {
        self.rrsets.is_empty()
    }
}

/// A loaded zone, immutable once built; reloads build a new one and swap it in whole.
///
/// The name index holds only node numbers: it hashes and compares the nodes' own names
/// without case, so no second, lowercased copy of every name is kept (a 1,000,000-record zone
/// saves about 50 MB), and it uses foldhash with a per-process random seed rather than SipHash,
/// which was an eighth of the load time.
#[derive(Debug, Clone)]
pub struct Zone {
    apex: Box<[u8]>,
    nodes: Vec<Node>,
    index: HashTable<NodeId>,
    hasher: foldhash::fast::RandomState,
    soa: Rrset,
    negative_soa: Rrset,
    serial: u32,
    records: usize,
}

impl Zone {
    /// The apex name, lowercase wire form.
    pub fn apex(&self) -> &[u8] {
        &self.apex
    }

    /// The apex node (it always exists: it has the SOA).
    pub fn apex_node(&self) -> &Node {
        &self.nodes[0]
    }

    /// The SOA serial.
    pub fn serial(&self) -> u32 {
        self.serial
    }

    /// The SOA's REFRESH, RETRY and EXPIRE fields, in seconds.
    pub fn soa_timers(&self) -> (u32, u32, u32) {
        let rdata = self.soa.rdatas().next().unwrap_or_default();
        let field = |back: usize| {
            let at = rdata.len().saturating_sub(back);
            rdata.get(at..at + 4).map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        };
        (field(16), field(12), field(8))
    }

    /// The SOA RRset as served in answers.
    pub fn soa(&self) -> &Rrset {
        &self.soa
    }

    /// The SOA RRset for negative answers: TTL is the lesser of the SOA's TTL and its MINIMUM
    /// field (RFC 2308 §3).
    pub fn negative_soa(&self) -> &Rrset {
        &self.negative_soa
    }

    /// The node at the lowercase wire name `name`, if the zone has that name (with data or as
    /// an empty non-terminal).
    pub fn find(&self, name: &[u8]) -> Option<&Node> {
        self.find_id(name).map(|id| &self.nodes[id.0 as usize])
    }

    fn find_id(&self, lower: &[u8]) -> Option<NodeId> {
        self.find_hashed(self.hasher.hash_one(lower), lower)
    }

    fn find_hashed(&self, hash: u64, lower: &[u8]) -> Option<NodeId> {
        let nodes = &self.nodes;
        self.index.find(hash, |id| nodes[id.0 as usize].name.eq_ignore_ascii_case(lower)).copied()
    }

    /// Hashes a node's name as its lowercase form, so it matches `find`'s lowercase keys.
    fn hash_node(hasher: &foldhash::fast::RandomState, node: &Node) -> u64 {
        let mut lower = [0; MAX_NAME_LEN];
        hasher.hash_one(name::lowercase_into(&node.name, &mut lower))
    }

    /// Every node, apex first.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// Whether a strict ancestor of `name` (any case) below the apex is a zone cut.
    fn is_below_cut(&self, name: &[u8]) -> bool {
        let mut lower = [0; MAX_NAME_LEN];
        let mut current = name::parent(name::lowercase_into(name, &mut lower));
        while let Some(ancestor) = current.filter(|a| a.len() > self.apex.len()) {
            if self.find(ancestor).is_some_and(|node| node.delegation) {
                return true;
            }
            current = name::parent(ancestor);
        }
        false
    }

    /// How many records the zone holds.
    pub fn record_count(&self) -> usize {
        self.records
    }
}

/// Why a record or a zone is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The owner name is not at or below the zone's apex.
    #[error("{owner} is outside the zone {apex}")]
    OutOfZone {
        /// The record's owner.
        owner: String,
        /// The zone's apex.
        apex: String,
    },
    /// Only class IN is served.
    #[error("class {class} is not supported (only IN)")]
    Class {
        /// The class number given.
        class: u16,
    },
    /// A CNAME shares its owner with other data (RFC 1034 §3.6.2, RFC 2181 §10.1).
    #[error("{owner} has a CNAME and other data")]
    CnameAndOtherData {
        /// The owner name.
        owner: String,
    },
    /// A singleton type (CNAME, DNAME, SOA) has more than one record at an owner.
    #[error("{owner} has more than one {rtype} record")]
    Multiple {
        /// The owner name.
        owner: String,
        /// The type's name.
        rtype: &'static str,
    },
    /// An SOA anywhere but the apex.
    #[error("SOA record at {owner}, which is not the zone apex {apex}")]
    SoaNotAtApex {
        /// The SOA's owner.
        owner: String,
        /// The zone's apex.
        apex: String,
    },
    /// The zone has no SOA at its apex.
    #[error("no SOA record at the zone apex {apex}")]
    MissingSoa {
        /// The zone's apex.
        apex: String,
    },
    /// The zone has no NS records at its apex.
    #[error("no NS records at the zone apex {apex}")]
    MissingApexNs {
        /// The zone's apex.
        apex: String,
    },
    /// A record's data is too long to encode.
    #[error("record data of {owner} is longer than 65535 bytes")]
    RdataTooLong {
        /// The owner name.
        owner: String,
    },
}

/// Collects records, checking each as it comes, and builds the [`Zone`].
#[derive(Debug)]
pub struct ZoneBuilder {
    zone: Zone,
}

impl ZoneBuilder {
    /// A builder for the zone whose apex is the wire name `apex` (any case).
    pub fn new(apex: &[u8]) -> Self {
        let mut lower = [0; MAX_NAME_LEN];
        let apex_lower: Box<[u8]> = name::lowercase_into(apex, &mut lower).into();
        let node =
            Node { name: apex.into(), rrsets: Vec::new(), delegation: false, occluded: false };
        let hasher = foldhash::fast::RandomState::default();
        let mut index = HashTable::new();
        index.insert_unique(hasher.hash_one(&*apex_lower), NodeId(0), |_| 0);
        Self {
            zone: Zone {
                apex: apex_lower,
                nodes: vec![node],
                index,
                hasher,
                soa: Rrset::new(rtype::SOA, 0),
                negative_soa: Rrset::new(rtype::SOA, 0),
                serial: 0,
                records: 0,
            },
        }
    }

    /// The apex, lowercase wire form.
    pub fn apex(&self) -> &[u8] {
        &self.zone.apex
    }

    /// Makes room for about `names` more owner names, so a large zone's index is not rebuilt
    /// as it grows (each rebuild rehashes every name, a pointer chase per node).
    pub fn reserve(&mut self, names: usize) {
        let zone = &mut self.zone;
        let (nodes, hasher) = (&zone.nodes, &zone.hasher);
        zone.index.reserve(names, |id| Zone::hash_node(hasher, &nodes[id.0 as usize]));
        // Only address space until used; `finish` gives back what the guess overshot.
        zone.nodes.reserve(names);
    }

    /// Adds one record. `owner` is a wire name in any case; `rdata` is its wire-format data
    /// with uncompressed names; `target` is the name inside the data for NS, MX, SRV, CNAME
    /// and DNAME records (wire form, case as written).
    pub fn add(
        &mut self,
        owner: &[u8],
        rtype: u16,
        class: u16,
        ttl: u32,
        rdata: &[u8],
        target: Option<&[u8]>,
    ) -> Result<(), BuildError> {
        if class != CLASS_IN {
            return Err(BuildError::Class { class });
        }
        let mut lower = [0; MAX_NAME_LEN];
        let owner_lower = name::lowercase_into(owner, &mut lower);
        if !name::is_at_or_below(owner_lower, &self.zone.apex) {
            return Err(BuildError::OutOfZone {
                owner: name::display(owner),
                apex: name::display(&self.zone.apex),
            });
        }
        if rtype == rtype::SOA && owner_lower != &*self.zone.apex {
            return Err(BuildError::SoaNotAtApex {
                owner: name::display(owner),
                apex: name::display(&self.zone.apex),
            });
        }
        let id = self.node_id(owner, owner_lower);
        let node = &mut self.zone.nodes[id.0 as usize];
        check_coexistence(node, rtype)?;
        let set = match node.rrsets.iter().position(|set| set.rtype == rtype) {
            Some(i) => &mut node.rrsets[i],
            None => {
                // Most nodes hold one or two RRsets: grow by one, not to Vec's first 4.
                node.rrsets.reserve_exact(1);
                node.rrsets.push(Rrset::new(rtype, ttl));
                node.rrsets.last_mut().expect("just pushed")
            }
        };
        if !set.records.is_empty() && matches!(rtype, rtype::CNAME | rtype::DNAME | rtype::SOA) {
            if set.rdatas().any(|existing| existing == rdata) {
                return Ok(());
            }
            let rtype = match rtype {
                rtype::CNAME => "CNAME",
                rtype::DNAME => "DNAME",
                _ => "SOA",
            };
            return Err(BuildError::Multiple { owner: name::display(owner), rtype });
        }
        if rdata.len() > usize::from(u16::MAX) {
            return Err(BuildError::RdataTooLong { owner: name::display(owner) });
        }
        // The set's TTL is its first record's (RFC 2181 §5.2 wants them equal anyway).
        if set.push(class, rdata) {
            self.zone.records += 1;
        }
        if let Some(target) = target {
            match rtype {
                rtype::CNAME | rtype::DNAME => set.target = Some(target.into()),
                rtype::NS | rtype::MX | rtype::SRV => {
                    let mut lower = [0; MAX_NAME_LEN];
                    let target = name::lowercase_into(target, &mut lower);
                    if target != b"\x00" && !set.additional.iter().any(|t| &**t == target) {
                        set.additional.push(target.into());
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Checks the zone as a whole and returns it.
    pub fn finish(mut self) -> Result<Zone, BuildError> {
        let apex = name::display(&self.zone.apex);
        let zone = &mut self.zone;
        let apex_node = &zone.nodes[0];
        let soa = apex_node
            .rrset(rtype::SOA)
            .ok_or_else(|| BuildError::MissingSoa { apex: apex.clone() })?;
        if apex_node.rrset(rtype::NS).is_none() {
            return Err(BuildError::MissingApexNs { apex });
        }
        let rdata =
            soa.rdatas().next().ok_or_else(|| BuildError::MissingSoa { apex: apex.clone() })?;
        // SOA rdata ends with SERIAL REFRESH RETRY EXPIRE MINIMUM, 4 bytes each.
        let field = |back: usize| {
            let at = rdata.len() - back;
            u32::from_be_bytes([rdata[at], rdata[at + 1], rdata[at + 2], rdata[at + 3]])
        };
        if rdata.len() < 22 {
            return Err(BuildError::MissingSoa { apex });
        }
        zone.serial = field(20);
        let minimum = field(4);
        zone.soa = soa.clone();
        zone.negative_soa = soa.with_ttl(soa.ttl.min(minimum));
        for node in &mut zone.nodes[1..] {
            node.delegation = node.rrset(rtype::NS).is_some();
        }
        let occluded: Vec<bool> =
            zone.nodes.iter().map(|node| zone.is_below_cut(&node.name)).collect();
        for (node, occluded) in zone.nodes.iter_mut().zip(occluded) {
            node.occluded = occluded;
        }
        if zone.nodes.capacity() > zone.nodes.len() + zone.nodes.len() / 4 {
            zone.nodes.shrink_to_fit();
        }
        Ok(self.zone)
    }

    /// The node for `owner`, created with any missing ancestors (as empty non-terminals).
    fn node_id(&mut self, owner: &[u8], owner_lower: &[u8]) -> NodeId {
        let hash = self.zone.hasher.hash_one(owner_lower);
        if let Some(id) = self.zone.find_hashed(hash, owner_lower) {
            return id;
        }
        let id = NodeId(self.zone.nodes.len() as u32);
        let zone = &mut self.zone;
        let (nodes, hasher) = (&zone.nodes, &zone.hasher);
        zone.index.insert_unique(hash, id, |id| Zone::hash_node(hasher, &nodes[id.0 as usize]));
        self.zone.nodes.push(Node {
            name: owner.into(),
            rrsets: Vec::new(),
            delegation: false,
            occluded: false,
        });
        if let (Some(parent), Some(parent_lower)) = (name::parent(owner), name::parent(owner_lower))
        {
            if parent_lower.len() >= self.zone.apex.len() {
                self.node_id(parent, parent_lower);
            }
        }
        id
    }
}

/// CNAME excludes other data at its owner, DNSSEC records aside.
fn check_coexistence(node: &Node, rtype: u16) -> Result<(), BuildError> {
    let others =
        |except: u16| node.rrsets.iter().any(|set| ![except, RRSIG, NSEC].contains(&set.rtype));
    let conflict = match rtype {
        rtype::CNAME => others(rtype::CNAME),
        RRSIG | NSEC => false,
        _ => node.rrset(rtype::CNAME).is_some(),
    };
    if conflict {
        return Err(BuildError::CnameAndOtherData { owner: name::display(&node.name) });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const APEX: &[u8] = b"\x07example\x03lab\x00";
    const SOA_RDATA: &[u8] = b"\x03ns1\x07example\x03lab\x00\x0ahostmaster\x07example\x03lab\x00\
        \x00\x00\x00\x01\x00\x00\x0e\x10\x00\x00\x03\x84\x00\x09\x3a\x80\x00\x00\x00\x3c";

    fn builder() -> ZoneBuilder {
        let mut builder = ZoneBuilder::new(APEX);
        builder.add(APEX, rtype::SOA, 1, 300, SOA_RDATA, None).unwrap();
        let ns1 = b"\x03ns1\x07example\x03lab\x00";
        builder.add(APEX, rtype::NS, 1, 300, ns1, Some(ns1)).unwrap();
        builder
    }

    #[test]
    fn index_finds_every_name_without_case_after_growing() {
        let wire = |label: &str| [&[label.len() as u8], label.as_bytes(), APEX].concat();
        // No reserve: the table is rebuilt many times as 5,000 names arrive, in mixed case.
        let mut builder = builder();
        for i in 0..5000 {
            builder
                .add(&wire(&format!("Host{i}")), rtype::A, 1, 300, &[192, 0, 2, 1], None)
                .unwrap();
        }
        let zone = builder.finish().unwrap();
        for i in [0, 999, 4999] {
            let node = zone.find(&wire(&format!("host{i}"))).expect("found without case");
            assert_eq!(node.name[1], b'H', "the zone's own case is kept");
        }
        assert!(zone.find(&wire("host5000")).is_none());
        assert_eq!(zone.nodes().len(), 5001);
    }

    #[test]
    fn builds_index_with_empty_non_terminals() {
        let mut builder = builder();
        builder
            .add(b"\x01a\x01B\x07EXAMPLE\x03lab\x00", rtype::A, 1, 60, &[192, 0, 2, 1], None)
            .unwrap();
        let zone = builder.finish().unwrap();
        let node = zone.find(b"\x01a\x01b\x07example\x03lab\x00").expect("lowercase lookup");
        assert_eq!(&*node.name, b"\x01a\x01B\x07EXAMPLE\x03lab\x00", "case preserved");
        assert!(zone.find(b"\x01b\x07example\x03lab\x00").unwrap().is_empty_non_terminal());
        assert_eq!(zone.serial(), 1);
        assert_eq!(zone.negative_soa().ttl, 60, "min(SOA TTL 300, MINIMUM 60)");
        assert_eq!(zone.record_count(), 3);
    }

    #[test]
    fn marks_delegations_below_the_apex_only() {
        let mut builder = builder();
        let child = b"\x05child\x07example\x03lab\x00";
        let ns = b"\x02ns\x05child\x07example\x03lab\x00";
        builder.add(child, rtype::NS, 1, 300, ns, Some(ns)).unwrap();
        builder.add(ns, rtype::A, 1, 300, &[192, 0, 2, 53], None).unwrap();
        let zone = builder.finish().unwrap();
        assert!(zone.find(child).unwrap().delegation);
        assert!(zone.find(ns).unwrap().occluded, "glue below the cut");
        assert!(!zone.find(child).unwrap().occluded);
        assert!(!zone.apex_node().delegation);
        assert_eq!(zone.find(child).unwrap().rrsets[0].additional, [Box::from(&ns[..])]);
    }

    #[test]
    fn rejects_what_a_zone_cannot_hold() {
        let mut builder = builder();
        let www = b"\x03www\x07example\x03lab\x00";
        let target = b"\x04host\x07example\x03lab\x00";
        builder.add(www, rtype::CNAME, 1, 300, target, Some(target)).unwrap();
        assert!(matches!(
            builder.add(www, rtype::A, 1, 300, &[1, 2, 3, 4], None),
            Err(BuildError::CnameAndOtherData { .. })
        ));
        assert!(matches!(
            builder.add(www, rtype::CNAME, 1, 300, b"\x01x\x00", None),
            Err(BuildError::Multiple { rtype: "CNAME", .. })
        ));
        assert!(matches!(
            builder.add(b"\x03www\x05other\x00", rtype::A, 1, 300, &[1, 2, 3, 4], None),
            Err(BuildError::OutOfZone { .. })
        ));
        assert!(matches!(
            builder.add(www, rtype::SOA, 1, 300, SOA_RDATA, None),
            Err(BuildError::SoaNotAtApex { .. })
        ));
        assert!(matches!(
            builder.add(www, rtype::A, 3, 300, &[1, 2, 3, 4], None),
            Err(BuildError::Class { class: 3 })
        ));
    }

    #[test]
    fn zone_needs_soa_and_apex_ns() {
        assert!(matches!(ZoneBuilder::new(APEX).finish(), Err(BuildError::MissingSoa { .. })));
        let mut builder = ZoneBuilder::new(APEX);
        builder.add(APEX, rtype::SOA, 1, 300, SOA_RDATA, None).unwrap();
        assert!(matches!(builder.finish(), Err(BuildError::MissingApexNs { .. })));
    }
}
