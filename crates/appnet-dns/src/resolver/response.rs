//! What an authority's response means for an iterative resolution (RFC 1034 §5.3.3 step 4,
//! RFC 2308 §2): an answer (possibly through CNAMEs), a negative answer, a referral to a zone
//! below, or nothing useful. Only records inside the asked server's bailiwick — at or below
//! the zone it was asked as — are taken; everything else in the message is ignored, which is
//! what keeps an authority from planting data for names it does not serve.

use domain::base::iana::Rtype;
use domain::base::{Message, ParsedName, ParsedRecord, ToName};
use domain::rdata::AllRecordData;

use crate::zone::name::{MAX_NAME_LEN, is_at_or_below, lowercase_into};

/// One record, names lowercased, rdata with names uncompressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireRecord {
    /// Owner, lowercase wire form.
    pub name: Box<[u8]>,
    /// Record type.
    pub rtype: u16,
    /// TTL as received.
    pub ttl: u32,
    /// Record data, names uncompressed.
    pub rdata: Box<[u8]>,
    /// For CNAME, DNAME and NS: the target name, lowercase wire form.
    pub target: Option<Box<[u8]>>,
}

/// The records of one RRset, as found in a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordSet {
    /// Owner, lowercase wire form.
    pub name: Box<[u8]>,
    /// Record type.
    pub rtype: u16,
    /// The lowest TTL of its records (RFC 2181 §5.2).
    pub ttl: u32,
    /// Each record's data.
    pub rdatas: Vec<Box<[u8]>>,
}

/// An SOA from an authority section, for negative caching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Soa {
    /// The zone apex.
    pub owner: Box<[u8]>,
    /// The negative TTL: the lesser of the record's TTL and its MINIMUM (RFC 2308 §5).
    pub negative_ttl: u32,
    /// The record data.
    pub rdata: Box<[u8]>,
}

/// What a response tells the resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Meaning {
    /// Data for the question, through any CNAMEs in the answer section: every RRset of the
    /// chain and of the final name. When the chain leaves the server's bailiwick, it ends at
    /// the last CNAME and the resolution continues with its target.
    Answer {
        /// The RRsets, chain first.
        rrsets: Vec<RecordSet>,
        /// Whether the server is authoritative for them (AA).
        authoritative: bool,
    },
    /// The final name does not exist (NXDOMAIN) or has no data of the type (NODATA).
    Negative {
        /// NXDOMAIN rather than NODATA.
        nxdomain: bool,
        /// CNAMEs that led to the final name.
        chain: Vec<RecordSet>,
        /// The name the negative answer is about.
        name: Box<[u8]>,
        /// The zone's SOA, if the authority section had one in bailiwick.
        soa: Option<Soa>,
    },
    /// A delegation to a zone below the one asked.
    Referral {
        /// The child zone's apex.
        cut: Box<[u8]>,
        /// Its NS RRset.
        ns: RecordSet,
        /// Addresses of NS names inside the asked server's bailiwick (glue).
        glue: Vec<RecordSet>,
    },
    /// An error RCODE: the server cannot help (SERVFAIL, REFUSED, NOTIMP, FORMERR…).
    Error {
        /// The RCODE, with the EDNS extension.
        rcode: u16,
    },
    /// Nothing usable: a referral upwards or sideways, or an empty non-authoritative answer.
    /// The server is lame for this zone.
    Lame,
}

/// Why a response could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResponseError {
    /// The bytes are not a DNS message.
    #[error("malformed response")]
    Malformed,
}

/// Reads `response` to the question `qname`/`qtype` (lowercase wire name), sent to a server
/// asked as authoritative for `zone` (lowercase wire name).
pub fn interpret(
    response: &[u8],
    qname: &[u8],
    qtype: u16,
    zone: &[u8],
) -> Result<Meaning, ResponseError> {
    let message = Message::from_octets(response).map_err(|_| ResponseError::Malformed)?;
    let rcode = message.opt_rcode().to_int();
    let authoritative = message.header().aa();
    let answer = section(message.answer().map_err(|_| ResponseError::Malformed)?)?;
    let authority_section = message.authority().map_err(|_| ResponseError::Malformed)?;
    let authority = section(authority_section)?;
    let additional = section(message.additional().map_err(|_| ResponseError::Malformed)?)?;
    if rcode != 0 && rcode != 3 {
        return Ok(Meaning::Error { rcode });
    }
    let in_bailiwick = |record: &WireRecord| is_at_or_below(&record.name, zone);
    let answer: Vec<WireRecord> = answer.into_iter().filter(in_bailiwick).collect();
    let authority: Vec<WireRecord> = authority.into_iter().filter(in_bailiwick).collect();

    // Follow the chain of CNAMEs from the question's name through the answer section.
    let mut name: Box<[u8]> = qname.into();
    let mut chain = Vec::new();
    for _ in 0..MAX_CHAIN {
        let wanted = |r: &&WireRecord| {
            *r.name == *name && (r.rtype == qtype || qtype == Rtype::ANY.to_int()) && r.rtype != OPT
        };
        if answer.iter().any(|r| wanted(&r)) {
            let mut rrsets = chain;
            rrsets.extend(group(answer.iter().filter(wanted)));
            return Ok(Meaning::Answer { rrsets, authoritative });
        }
        let Some(cname) = answer.iter().find(|r| *r.name == *name && r.rtype == CNAME) else {
            break;
        };
        chain.extend(group(std::iter::once(cname)));
        name = cname.target.clone().unwrap_or_default();
    }
    if !chain.is_empty() && !is_at_or_below(&name, zone) {
        // The chain leaves this server's zone: whatever it says of the target (NXDOMAIN, no
        // data) is not its to say. The CNAMEs are the answer to go on from.
        return Ok(Meaning::Answer { rrsets: chain, authoritative });
    }
    let soa =
        authority.iter().find(|r| r.rtype == SOA && is_at_or_below(&name, &r.name)).map(soa_of);
    if rcode == 3 {
        return Ok(Meaning::Negative { nxdomain: true, chain, name, soa });
    }
    if soa.is_some() || (authoritative && chain.is_empty() && answer.is_empty()) {
        return Ok(Meaning::Negative { nxdomain: false, chain, name, soa });
    }
    if !chain.is_empty() {
        // The chain ends inside the zone with neither data nor a negative answer: go on.
        return Ok(Meaning::Answer { rrsets: chain, authoritative });
    }
    Ok(referral(&authority, &additional, &name, zone).unwrap_or(Meaning::Lame))
}

/// Longest CNAME chain followed inside one response.
const MAX_CHAIN: usize = 16;

const CNAME: u16 = 5;
const SOA: u16 = 6;
const NS: u16 = 2;
const A: u16 = 1;
const AAAA: u16 = 28;
const OPT: u16 = 41;

/// A delegation in the authority section: NS records for a zone strictly below `zone` that
/// contains `name`, with glue from the additional section.
fn referral(
    authority: &[WireRecord],
    additional: &[WireRecord],
    name: &[u8],
    zone: &[u8],
) -> Option<Meaning> {
    let first = authority
        .iter()
        .find(|r| r.rtype == NS && r.name.len() > zone.len() && is_at_or_below(name, &r.name))?;
    let cut = first.name.clone();
    let ns_records: Vec<&WireRecord> =
        authority.iter().filter(|r| r.rtype == NS && r.name == cut).collect();
    let ns = group(ns_records.iter().copied()).pop()?;
    let targets: Vec<&[u8]> = ns_records.iter().filter_map(|r| r.target.as_deref()).collect();
    let glue_records = additional.iter().filter(|r| {
        (r.rtype == A || r.rtype == AAAA)
            && is_at_or_below(&r.name, zone)
            && targets.contains(&&*r.name)
    });
    Some(Meaning::Referral { cut, ns, glue: group(glue_records) })
}

fn soa_of(record: &WireRecord) -> Soa {
    let minimum = record.rdata.len().checked_sub(4).map_or(0, |at| {
        let b = &record.rdata[at..];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    });
    Soa {
        owner: record.name.clone(),
        negative_ttl: record.ttl.min(minimum),
        rdata: record.rdata.clone(),
    }
}

/// Groups records into RRsets by (name, type), in order of first appearance.
fn group<'a>(records: impl Iterator<Item = &'a WireRecord>) -> Vec<RecordSet> {
    let mut sets: Vec<RecordSet> = Vec::new();
    for record in records {
        match sets.iter_mut().find(|s| s.name == record.name && s.rtype == record.rtype) {
            Some(set) => {
                set.ttl = set.ttl.min(record.ttl);
                if !set.rdatas.contains(&record.rdata) {
                    set.rdatas.push(record.rdata.clone());
                }
            }
            None => sets.push(RecordSet {
                name: record.name.clone(),
                rtype: record.rtype,
                ttl: record.ttl,
                rdatas: vec![record.rdata.clone()],
            }),
        }
    }
    sets
}

/// Every record of a section, decoded; OPT is skipped.
fn section(
    records: domain::base::message::RecordSection<'_, &[u8]>,
) -> Result<Vec<WireRecord>, ResponseError> {
    let mut out = Vec::new();
    for record in records {
        let record = record.map_err(|_| ResponseError::Malformed)?;
        if record.rtype() == Rtype::OPT {
            continue;
        }
        out.push(decode(&record)?);
    }
    Ok(out)
}

fn decode(record: &ParsedRecord<'_, &[u8]>) -> Result<WireRecord, ResponseError> {
    let parsed = record
        .to_any_record::<AllRecordData<&[u8], ParsedName<&[u8]>>>()
        .map_err(|_| ResponseError::Malformed)?;
    let mut rdata = Vec::new();
    domain::base::rdata::ComposeRecordData::compose_rdata(parsed.data(), &mut rdata)
        .map_err(|_| ResponseError::Malformed)?;
    let target = match parsed.data() {
        AllRecordData::Cname(cname) => Some(lower(cname.cname())),
        AllRecordData::Dname(dname) => Some(lower(dname.dname())),
        AllRecordData::Ns(ns) => Some(lower(ns.nsdname())),
        _ => None,
    };
    Ok(WireRecord {
        name: lower(&record.owner()),
        rtype: record.rtype().to_int(),
        ttl: record.ttl().as_secs(),
        rdata: rdata.into(),
        target,
    })
}

/// A name as a lowercase wire name.
pub(crate) fn lower(name: &impl ToName) -> Box<[u8]> {
    let mut wire = Vec::with_capacity(usize::from(name.compose_len()));
    let _ = name.compose(&mut wire);
    let mut buffer = [0; MAX_NAME_LEN];
    lowercase_into(&wire, &mut buffer).into()
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use super::*;
    use crate::authority::{Authority, Response, Transport};
    use crate::resolver::request::build_query;

    const ROOT: &str = "$ORIGIN .\n$TTL 3600\n. SOA a.root.lab. h.root.lab. 1 3600 900 604800 300\n\
        . NS a.root.lab.\na.root.lab. A 127.0.0.2\nlab. NS ns.lab.\nns.lab. A 127.0.0.3\n\
        evil.lab. A 6.6.6.6\n";
    const LAB: &str = "$ORIGIN lab.\n$TTL 3600\n@ SOA ns hostmaster 1 3600 900 604800 60\n@ NS ns\n\
        ns A 127.0.0.3\nwww A 192.0.2.80\nalias CNAME www\nout CNAME www.elsewhere.test.\n\
        site NS ns.site\nns.site A 127.0.0.4\nglueless NS ns.other.test.\n";

    fn ask(zone: &str, name: &str, qtype: u16) -> Vec<u8> {
        let zone = crate::zone::parse_str(zone, Path::new("z"), None).expect("zone");
        let authority = Authority::new([Arc::new(zone)]);
        let qname = wire(name);
        let query = build_query(&qname, qtype, 7, true);
        let mut out = Vec::new();
        assert!(matches!(authority.answer(&query, Transport::Udp, &mut out), Response::Send));
        out
    }

    fn wire(name: &str) -> Box<[u8]> {
        let parsed = <domain::base::Name<Vec<u8>> as std::str::FromStr>::from_str(name).unwrap();
        parsed.as_slice().into()
    }

    #[test]
    fn referral_from_the_root_with_glue_in_bailiwick() {
        let response = ask(ROOT, "www.lab.", A);
        let meaning = interpret(&response, &wire("www.lab."), A, &wire(".")).unwrap();
        let Meaning::Referral { cut, ns, glue } = meaning else { panic!("{meaning:?}") };
        assert_eq!(cut, wire("lab."));
        assert_eq!((ns.rdatas.len(), glue.len()), (1, 1));
        assert_eq!((&*glue[0].name, &*glue[0].rdatas[0]), (&*wire("ns.lab."), &[127, 0, 0, 3][..]));
    }

    #[test]
    fn answers_and_chains() {
        let response = ask(LAB, "www.lab.", A);
        let Meaning::Answer { rrsets, authoritative: true } =
            interpret(&response, &wire("www.lab."), A, &wire("lab.")).unwrap()
        else {
            panic!()
        };
        assert_eq!(rrsets.len(), 1);
        let response = ask(LAB, "alias.lab.", A);
        let Meaning::Answer { rrsets, .. } =
            interpret(&response, &wire("alias.lab."), A, &wire("lab.")).unwrap()
        else {
            panic!()
        };
        assert_eq!(rrsets.iter().map(|s| s.rtype).collect::<Vec<_>>(), [CNAME, A]);
        // A chain leaving the zone ends at its last CNAME; the resolver goes on from there.
        let response = ask(LAB, "out.lab.", A);
        let Meaning::Answer { rrsets, .. } =
            interpret(&response, &wire("out.lab."), A, &wire("lab.")).unwrap()
        else {
            panic!()
        };
        assert_eq!(rrsets.len(), 1);
    }

    #[test]
    fn negative_answers_carry_the_soa_with_its_negative_ttl() {
        let response = ask(LAB, "nope.lab.", A);
        let Meaning::Negative { nxdomain: true, soa: Some(soa), .. } =
            interpret(&response, &wire("nope.lab."), A, &wire("lab.")).unwrap()
        else {
            panic!()
        };
        assert_eq!((soa.owner, soa.negative_ttl), (wire("lab."), 60));
        let response = ask(LAB, "www.lab.", AAAA);
        let meaning = interpret(&response, &wire("www.lab."), AAAA, &wire("lab.")).unwrap();
        assert!(matches!(meaning, Meaning::Negative { nxdomain: false, .. }), "{meaning:?}");
    }

    #[test]
    fn out_of_bailiwick_data_is_ignored() {
        // The root's server answers for lab. names it is not asked as: asked as the server for
        // site.lab., its referral to lab. is upwards — lame — and its A for evil.lab. is
        // outside the zone it was asked for.
        let response = ask(ROOT, "evil.lab.", A);
        let meaning = interpret(&response, &wire("evil.lab."), A, &wire("site.lab.")).unwrap();
        assert_eq!(meaning, Meaning::Lame);
        // Glue outside the asking zone's bailiwick is dropped from a referral.
        let response = ask(LAB, "x.glueless.lab.", A);
        let Meaning::Referral { glue, .. } =
            interpret(&response, &wire("x.glueless.lab."), A, &wire("lab.")).unwrap()
        else {
            panic!()
        };
        assert!(glue.is_empty());
    }

    #[test]
    fn a_negative_answer_about_a_name_outside_the_zone_is_not_believed() {
        // lab.'s server says out.lab. is a CNAME to www.elsewhere.test. and, with NXDOMAIN,
        // that the target does not exist: not its zone, so only the CNAME is taken.
        let mut response = ask(LAB, "out.lab.", A);
        response[3] = (response[3] & 0xF0) | 3;
        let meaning = interpret(&response, &wire("out.lab."), A, &wire("lab.")).unwrap();
        let Meaning::Answer { rrsets, .. } = meaning else { panic!("{meaning:?}") };
        assert_eq!((rrsets.len(), rrsets[0].rtype), (1, CNAME));
    }

    #[test]
    fn errors_and_garbage() {
        let mut response = ask(LAB, "www.lab.", A);
        response[3] = (response[3] & 0xF0) | 2;
        assert_eq!(
            interpret(&response, &wire("www.lab."), A, &wire("lab.")),
            Ok(Meaning::Error { rcode: 2 })
        );
        assert_eq!(
            interpret(&response[..20], &wire("www.lab."), A, &wire("lab.")),
            Err(ResponseError::Malformed)
        );
    }
}
