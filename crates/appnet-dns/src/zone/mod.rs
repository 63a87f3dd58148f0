//! Zones: master files loaded into a store built for answering.
//!
//! A [`Zone`] holds every owner name of one zone in a hash index keyed by lowercase wire form,
//! including empty non-terminals (names with no data but data below them, which must answer
//! NODATA rather than NXDOMAIN, RFC 4592 §2.2.2). Each RRset is pre-encoded as the wire bytes
//! that follow the owner name in an answer, so answering is copying. What answering needs to
//! know about a node — is it a delegation, a DNAME, a CNAME — is decided once, at load.

mod load;
pub mod name;
mod rrset;
mod store;

pub use load::{LoadError, MAX_INCLUDE_DEPTH, load_file, parse_bytes, parse_str};
pub use rrset::{Rrset, rtype};
pub use store::{BuildError, CLASS_IN, Node, NodeId, Zone, ZoneBuilder};
