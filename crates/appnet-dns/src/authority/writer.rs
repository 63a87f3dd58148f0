//! Writes a response into a reused buffer: header, question, RRs, OPT, truncation.
//!
//! Owner names are compressed against the question name (RFC 1035 §4.1.4): the qname itself
//! becomes a pointer to offset 12, and any name ending in a suffix of the qname (the zone apex,
//! usually) points into it. That captures nearly all the saving without a compression table.
//! Names inside RDATA stay as pre-encoded, uncompressed, which RFC 3597 §4 permits — except
//! the SOA's two names, compressed the same way: the SOA rides in every negative answer, and
//! NSD and Knot compress it too (18 bytes less per NXDOMAIN for a typical zone).

use crate::zone::Rrset;
use crate::zone::name::label_offsets;
use crate::zone::rtype::SOA;

/// Where the question's name starts in every message.
const QNAME_OFFSET: usize = 12;

/// The sections a record can go in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Section {
    Answer = 0,
    Authority = 1,
    Additional = 2,
}

/// How a record's owner name is written.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Owner<'a> {
    /// The question's name: a pointer to it.
    Question,
    /// Another name, in wire form (any case).
    Name(&'a [u8]),
}

/// Additional-section records remembered so truncation can drop whole records.
const MAX_TRACKED_ADDITIONAL: usize = 64;

/// A response under construction in `out`.
pub(crate) struct Writer<'a> {
    out: &'a mut Vec<u8>,
    qname_end: usize,
    counts: [u16; 3],
    section: Section,
    /// Offsets where each additional record starts, for cutting on truncation.
    additional_starts: [u32; MAX_TRACKED_ADDITIONAL],
    additional_tracked: usize,
    answer_end: usize,
    authority_end: usize,
}

impl<'a> Writer<'a> {
    /// Starts a response to a query whose 12-byte header is `query_header`, with the question
    /// (wire name, type, class) already appended to `out` after a header placeholder by
    /// [`Writer::start`]'s caller.
    pub(crate) fn new(out: &'a mut Vec<u8>, qname_end: usize) -> Self {
        let end = out.len();
        Self {
            out,
            qname_end,
            counts: [0; 3],
            section: Section::Answer,
            additional_starts: [0; MAX_TRACKED_ADDITIONAL],
            additional_tracked: 0,
            answer_end: end,
            authority_end: end,
        }
    }

    /// Moves on to `section`; sections are written in order.
    pub(crate) fn section(&mut self, section: Section) {
        if self.section < Section::Authority && section >= Section::Authority {
            self.answer_end = self.out.len();
        }
        if self.section < Section::Additional && section >= Section::Additional {
            self.authority_end = self.out.len();
        }
        self.section = self.section.max(section);
    }

    /// Writes every record of `set` with `owner`.
    pub(crate) fn rrset(&mut self, owner: Owner<'_>, set: &Rrset) {
        for record in &set.records {
            self.track_additional();
            self.owner(owner);
            if set.rtype == SOA {
                self.soa(record);
            } else {
                self.out.extend_from_slice(record);
            }
            self.counts[self.section as usize] += 1;
        }
    }

    /// One pre-encoded SOA record (TYPE, CLASS, TTL, RDLENGTH, MNAME, RNAME, five numbers) with
    /// its two names compressed and RDLENGTH fixed up.
    fn soa(&mut self, record: &[u8]) {
        let rdata = &record[10..];
        let mname_end = wire_name_len(rdata);
        let rname_end = mname_end + wire_name_len(&rdata[mname_end..]);
        if rname_end + 20 != rdata.len() {
            // Not the shape the loader writes; send it as it is.
            self.out.extend_from_slice(record);
            return;
        }
        self.out.extend_from_slice(&record[..8]);
        let length_at = self.out.len();
        self.out.extend_from_slice(&[0, 0]);
        self.name(&rdata[..mname_end]);
        self.name(&rdata[mname_end..rname_end]);
        self.out.extend_from_slice(&rdata[rname_end..]);
        let length = (self.out.len() - length_at - 2) as u16;
        self.out[length_at..length_at + 2].copy_from_slice(&length.to_be_bytes());
    }

    /// Writes one pre-encoded record (TYPE, CLASS, TTL, RDLENGTH, RDATA) with `owner`.
    pub(crate) fn raw(&mut self, owner: Owner<'_>, record: &[u8]) {
        self.track_additional();
        self.owner(owner);
        self.out.extend_from_slice(record);
        self.counts[self.section as usize] += 1;
    }

    /// How long the message is so far.
    pub(crate) fn len(&self) -> usize {
        self.out.len()
    }

    /// Writes one record whose RDATA is written by `rdata` (for synthesized records).
    pub(crate) fn record(&mut self, owner: Owner<'_>, rtype: u16, ttl: u32, rdata: &[&[u8]]) {
        self.track_additional();
        self.owner(owner);
        let length: usize = rdata.iter().map(|part| part.len()).sum();
        self.out.extend_from_slice(&rtype.to_be_bytes());
        self.out.extend_from_slice(&1u16.to_be_bytes());
        self.out.extend_from_slice(&ttl.to_be_bytes());
        self.out.extend_from_slice(&(length.min(usize::from(u16::MAX)) as u16).to_be_bytes());
        for part in rdata {
            self.out.extend_from_slice(part);
        }
        self.counts[self.section as usize] += 1;
    }

    /// Finishes the message: appends `opt` (an encoded OPT record, or nothing) as the last
    /// additional record, fits the whole into `max_size` bytes (dropping additional records
    /// that do not fit, or everything after the question with TC set), and fills in the
    /// counts. Returns whether the message was truncated (TC).
    pub(crate) fn finish(self, opt: &[u8], max_size: usize, glue_matters: bool) -> bool {
        let Writer { out, qname_end, mut counts, additional_starts, additional_tracked, .. } = self;
        let (answer_end, authority_end) = match self.section {
            Section::Answer => (out.len(), out.len()),
            Section::Authority => (self.answer_end, out.len()),
            Section::Additional => (self.answer_end, self.authority_end),
        };
        let mut truncated = false;
        if out.len() + opt.len() > max_size {
            if authority_end + opt.len() <= max_size {
                // Keep the additional records that fit, whole.
                let fitting = additional_starts[..additional_tracked]
                    .iter()
                    .rposition(|&start| start as usize + opt.len() <= max_size)
                    .map_or(authority_end, |i| additional_starts[i] as usize);
                let kept = additional_starts[..additional_tracked]
                    .iter()
                    .filter(|&&start| (start as usize) < fitting)
                    .count();
                out.truncate(fitting.max(authority_end));
                counts[Section::Additional as usize] = kept as u16;
                // RFC 9471: a referral missing in-domain glue must say so.
                truncated = glue_matters;
            } else {
                out.truncate(qname_end + 4);
                counts = [0; 3];
                truncated = true;
            }
        }
        let _ = answer_end;
        let has_opt = !opt.is_empty();
        out.extend_from_slice(opt);
        let additional = counts[2] + u16::from(has_opt);
        out[6..8].copy_from_slice(&counts[0].to_be_bytes());
        out[8..10].copy_from_slice(&counts[1].to_be_bytes());
        out[10..12].copy_from_slice(&additional.to_be_bytes());
        if truncated {
            out[2] |= 0x02;
        }
        truncated
    }

    fn track_additional(&mut self) {
        if self.section == Section::Additional && self.additional_tracked < MAX_TRACKED_ADDITIONAL {
            self.additional_starts[self.additional_tracked] = self.out.len() as u32;
            self.additional_tracked += 1;
        }
    }

    fn owner(&mut self, owner: Owner<'_>) {
        match owner {
            Owner::Question => self.out.extend_from_slice(&[0xC0, QNAME_OFFSET as u8]),
            Owner::Name(name) => self.name(name),
        }
    }

    /// Writes `name`, pointing into the question name for the longest common suffix.
    fn name(&mut self, name: &[u8]) {
        let qname_len = self.qname_end - QNAME_OFFSET;
        for start in label_offsets(name) {
            let suffix = &name[start..];
            if suffix.len() > qname_len {
                continue;
            }
            let at = self.qname_end - suffix.len();
            let qname = &self.out[QNAME_OFFSET..self.qname_end];
            let boundary = label_offsets(qname).any(|o| QNAME_OFFSET + o == at);
            if boundary && self.out[at..self.qname_end].eq_ignore_ascii_case(suffix) {
                self.out.extend_from_slice(&name[..start]);
                self.out.extend_from_slice(&(0xC000 | at as u16).to_be_bytes());
                return;
            }
        }
        self.out.extend_from_slice(name);
    }
}

/// The length of the uncompressed wire name at the start of `data` (all of `data` if it ends
/// before the root label).
fn wire_name_len(data: &[u8]) -> usize {
    let mut at = 0;
    while let Some(&length) = data.get(at) {
        at += 1 + usize::from(length);
        if length == 0 {
            return at;
        }
    }
    data.len()
}
