//! The resolver's cache: RRsets and negative answers by (name, type), with TTLs counted from
//! when they were stored, trust levels (RFC 2181 §5.4.1), TTL caps, and a memory bound.
//!
//! Eviction samples a few random entries and drops the least recently used of them (expired
//! ones first), as Redis does: close to LRU without a list to update on every hit, so a cache
//! hit costs one hash lookup and one store.

use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

use indexmap::{Equivalent, IndexMap};

/// Limits of the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheConfig {
    /// Memory the entries may take, counting names, data and bookkeeping. Default 64 MiB.
    pub max_bytes: usize,
    /// TTLs below this are raised to it (0: as the authority said).
    pub min_ttl: u32,
    /// TTLs above this are lowered to it (one day by default, like Unbound's cache-max-ttl).
    pub max_ttl: u32,
    /// Negative answers are kept at most this long (one hour, RFC 2308 §5 suggests 1–3 hours).
    pub max_negative_ttl: u32,
    /// How long past its expiry an entry may still be served when no authority answers
    /// (RFC 8767 "serve-stale"; one day, within the RFC's 1–3 days). Zero turns it off.
    pub serve_stale: Duration,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            max_bytes: 64 << 20,
            min_ttl: 0,
            max_ttl: 86_400,
            max_negative_ttl: 3600,
            serve_stale: Duration::from_secs(86_400),
        }
    }
}

/// How far a record can be believed, lowest first (RFC 2181 §5.4.1, simplified): glue from an
/// additional section, data from an authority section or a non-authoritative answer, and the
/// answer section of an authoritative response. Lower trust never replaces higher trust that
/// is still live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Trust {
    /// Additional-section data (glue).
    Additional,
    /// Authority-section data, or an answer without AA.
    Authority,
    /// The answer section of an authoritative response.
    Answer,
}

/// An SOA record kept with a negative answer, so the answer can carry it (RFC 2308 §5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegativeSoa {
    /// The SOA's owner, the zone apex, lowercase wire form.
    pub owner: Box<[u8]>,
    /// The SOA's rdata, names uncompressed.
    pub rdata: Box<[u8]>,
}

/// What a lookup found, with the TTL left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hit<'a> {
    /// The RRset's records (rdata, names uncompressed).
    Records {
        /// Each record's rdata.
        rdatas: &'a [Box<[u8]>],
        /// Seconds left.
        ttl: u32,
        /// How the data came.
        trust: Trust,
        /// The TTL it was stored with (after the caps), for prefetch decisions.
        stored_ttl: u32,
    },
    /// The name does not exist (NXDOMAIN), or has no data of that type (NODATA).
    Negative {
        /// NXDOMAIN rather than NODATA.
        nxdomain: bool,
        /// The zone's SOA, to put in the authority section.
        soa: Option<&'a NegativeSoa>,
        /// Seconds left.
        ttl: u32,
    },
}

/// The TTL a stale answer goes out with (RFC 8767 §4 recommends 30 seconds).
pub const STALE_TTL: u32 = 30;

/// The type an NXDOMAIN is stored under: it covers every type at the name (RFC 2308 §5).
const ANY_TYPE: u16 = 0;

/// Bytes an entry costs beyond its data: the key, the map slot, the entry's fields.
const ENTRY_OVERHEAD: usize = 96;

/// Entries looked at per eviction.
const EVICTION_SAMPLE: usize = 5;

#[derive(Debug, Clone)]
enum Data {
    Records(Vec<Box<[u8]>>),
    Negative { nxdomain: bool, soa: Option<NegativeSoa> },
}

#[derive(Debug, Clone)]
struct Entry {
    data: Data,
    stored: Instant,
    ttl: u32,
    trust: Trust,
    last_used: u64,
    size: usize,
}

impl Entry {
    /// Seconds left at `now`, or `None` once expired. A TTL of 0 means "use for this answer
    /// only" (RFC 1035 §3.2.1): such an entry lives for the second it was stored in.
    fn remaining(&self, now: Instant) -> Option<u32> {
        let age = now.saturating_duration_since(self.stored);
        if self.ttl == 0 {
            return (age < Duration::from_secs(1)).then_some(0);
        }
        let left = u64::from(self.ttl).checked_sub(age.as_secs())?;
        (left > 0).then_some(left as u32)
    }
}

/// The cache. Names are lowercase uncompressed wire names.
#[derive(Debug, Clone)]
pub struct Cache {
    config: CacheConfig,
    entries: IndexMap<(Box<[u8]>, u16), Entry, foldhash::fast::RandomState>,
    bytes: usize,
    tick: u64,
    /// xorshift state for eviction sampling (not security-relevant).
    sample_state: u64,
}

/// A borrowed key, to look up without allocating; hashes exactly as `(Box<[u8]>, u16)`.
struct KeyRef<'a>(&'a [u8], u16);

impl Hash for KeyRef<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state);
        self.1.hash(state);
    }
}

impl Equivalent<(Box<[u8]>, u16)> for KeyRef<'_> {
    fn equivalent(&self, key: &(Box<[u8]>, u16)) -> bool {
        *key.0 == *self.0 && key.1 == self.1
    }
}

impl Cache {
    /// An empty cache with `config`'s limits.
    pub fn new(config: CacheConfig) -> Self {
        Self {
            config,
            entries: IndexMap::default(),
            bytes: 0,
            tick: 0,
            sample_state: 0x9E37_79B9_7F4A_7C15,
        }
    }

    /// Stores the RRset `name`/`rtype` with `ttl` (capped), unless a live one of higher trust
    /// is there. An RRset of equal or higher trust replaces the old one whole (RFC 2181 §5.2:
    /// an RRset is never merged from two responses).
    pub fn insert_records(
        &mut self,
        name: &[u8],
        rtype: u16,
        ttl: u32,
        rdatas: Vec<Box<[u8]>>,
        trust: Trust,
        now: Instant,
    ) {
        let ttl = ttl.clamp(self.config.min_ttl, self.config.max_ttl.max(self.config.min_ttl));
        if let Some(existing) = self.entries.get(&KeyRef(name, rtype)) {
            if existing.trust > trust && existing.remaining(now).is_some() {
                return;
            }
        }
        let size = ENTRY_OVERHEAD + name.len() + rdatas.iter().map(|r| r.len() + 16).sum::<usize>();
        self.store(name, rtype, Data::Records(rdatas), ttl, trust, size, now);
    }

    /// Stores a negative answer: for NXDOMAIN, the name has no data of any type; for NODATA,
    /// none of `qtype`. The TTL is the lesser of the SOA's TTL and its MINIMUM field
    /// (RFC 2308 §5), as the caller gives it in `ttl`, capped at the negative maximum.
    pub fn insert_negative(
        &mut self,
        name: &[u8],
        qtype: u16,
        nxdomain: bool,
        soa: Option<NegativeSoa>,
        ttl: u32,
        now: Instant,
    ) {
        let ttl = ttl.min(self.config.max_negative_ttl);
        let rtype = if nxdomain { ANY_TYPE } else { qtype };
        let size = ENTRY_OVERHEAD
            + name.len()
            + soa.as_ref().map_or(0, |soa| soa.owner.len() + soa.rdata.len() + 32);
        self.store(name, rtype, Data::Negative { nxdomain, soa }, ttl, Trust::Answer, size, now);
    }

    /// What the cache knows of `name`/`rtype` at `now`: the RRset, or that the name or the type
    /// does not exist. Expired entries are not returned.
    pub fn lookup(&mut self, name: &[u8], rtype: u16, now: Instant) -> Option<Hit<'_>> {
        self.tick += 1;
        let tick = self.tick;
        let key = if self.live(name, rtype, now) {
            KeyRef(name, rtype)
        } else if rtype != ANY_TYPE && self.live(name, ANY_TYPE, now) {
            KeyRef(name, ANY_TYPE)
        } else {
            return None;
        };
        let entry = self.entries.get_mut(&key)?;
        entry.last_used = tick;
        let ttl = entry.remaining(now)?;
        Some(match &entry.data {
            Data::Records(rdatas) => {
                Hit::Records { rdatas, ttl, trust: entry.trust, stored_ttl: entry.ttl }
            }
            Data::Negative { nxdomain, soa } => {
                Hit::Negative { nxdomain: *nxdomain, soa: soa.as_ref(), ttl }
            }
        })
    }

    /// Like [`lookup`](Self::lookup), but an entry expired less than
    /// [`CacheConfig::serve_stale`] ago is returned too, with [`STALE_TTL`].
    pub fn lookup_stale(&mut self, name: &[u8], rtype: u16, now: Instant) -> Option<Hit<'_>> {
        let window = self.config.serve_stale;
        let usable = |entry: &Entry| {
            let expiry = entry.stored + Duration::from_secs(u64::from(entry.ttl));
            entry.remaining(now).is_some() || now.saturating_duration_since(expiry) < window
        };
        let key = if self.entries.get(&KeyRef(name, rtype)).is_some_and(usable) {
            KeyRef(name, rtype)
        } else if rtype != ANY_TYPE && self.entries.get(&KeyRef(name, ANY_TYPE)).is_some_and(usable)
        {
            KeyRef(name, ANY_TYPE)
        } else {
            return None;
        };
        let entry = self.entries.get(&key)?;
        let ttl = entry.remaining(now).unwrap_or(STALE_TTL);
        Some(match &entry.data {
            Data::Records(rdatas) => {
                Hit::Records { rdatas, ttl, trust: entry.trust, stored_ttl: entry.ttl }
            }
            Data::Negative { nxdomain, soa } => {
                Hit::Negative { nxdomain: *nxdomain, soa: soa.as_ref(), ttl }
            }
        })
    }

    /// Every live entry at `now`, for a cache dump: (name, type, TTL left, record count, or
    /// `None` for a negative entry: its kind). Type 0 marks an NXDOMAIN.
    pub fn dump(&self, now: Instant) -> Vec<DumpLine> {
        self.entries
            .iter()
            .filter_map(|((name, rtype), entry)| {
                let ttl = entry.remaining(now)?;
                let records = match &entry.data {
                    Data::Records(rdatas) => Some(rdatas.clone()),
                    Data::Negative { .. } => None,
                };
                Some(DumpLine {
                    name: name.clone(),
                    rtype: *rtype,
                    ttl,
                    trust: entry.trust,
                    records,
                })
            })
            .collect()
    }

    /// Entries held (live or not yet evicted).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the cache holds nothing.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Memory the entries take, as counted against [`CacheConfig::max_bytes`].
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    fn live(&self, name: &[u8], rtype: u16, now: Instant) -> bool {
        self.entries.get(&KeyRef(name, rtype)).is_some_and(|entry| entry.remaining(now).is_some())
    }

    #[allow(clippy::too_many_arguments)] // one call site per kind of data, each spelled out
    fn store(
        &mut self,
        name: &[u8],
        rtype: u16,
        data: Data,
        ttl: u32,
        trust: Trust,
        size: usize,
        now: Instant,
    ) {
        self.tick += 1;
        let entry = Entry { data, stored: now, ttl, trust, last_used: self.tick, size };
        if let Some(old) = self.entries.insert((name.into(), rtype), entry) {
            self.bytes -= old.size;
        }
        self.bytes += size;
        while self.bytes > self.config.max_bytes && self.entries.len() > 1 {
            self.evict_one(now);
        }
    }

    fn evict_one(&mut self, now: Instant) {
        let len = self.entries.len();
        let mut victim: Option<(usize, bool, u64)> = None;
        for _ in 0..EVICTION_SAMPLE.min(len) {
            let index = (self.next_sample() % len as u64) as usize;
            let Some((_, entry)) = self.entries.get_index(index) else { continue };
            let expired = entry.remaining(now).is_none();
            let better = match victim {
                None => true,
                Some((_, victim_expired, victim_used)) => {
                    (expired, std::cmp::Reverse(entry.last_used))
                        > (victim_expired, std::cmp::Reverse(victim_used))
                }
            };
            if better {
                victim = Some((index, expired, entry.last_used));
            }
        }
        if let Some((index, ..)) = victim {
            if let Some((_, entry)) = self.entries.swap_remove_index(index) {
                self.bytes -= entry.size;
            }
        }
    }

    fn next_sample(&mut self) -> u64 {
        let mut x = self.sample_state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.sample_state = x;
        x
    }
}

/// One entry of [`Cache::dump`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpLine {
    /// Lowercase wire name.
    pub name: Box<[u8]>,
    /// Record type; 0 for an NXDOMAIN entry.
    pub rtype: u16,
    /// Seconds left.
    pub ttl: u32,
    /// How the data came.
    pub trust: Trust,
    /// The rdata of each record; `None` for a negative entry.
    pub records: Option<Vec<Box<[u8]>>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const WWW: &[u8] = b"\x03www\x07example\x03lab\x00";
    const A: u16 = 1;
    const AAAA: u16 = 28;

    #[allow(clippy::disallowed_methods)]
    fn origin() -> Instant {
        Instant::now()
    }

    fn rdata(bytes: &[u8]) -> Vec<Box<[u8]>> {
        vec![bytes.into()]
    }

    #[test]
    fn ttls_count_down_and_expire() {
        let t0 = origin();
        let mut cache = Cache::new(CacheConfig::default());
        cache.insert_records(WWW, A, 300, rdata(&[192, 0, 2, 1]), Trust::Answer, t0);
        let at = |s| t0 + Duration::from_secs(s);
        assert!(matches!(cache.lookup(WWW, A, at(0)), Some(Hit::Records { ttl: 300, .. })));
        assert!(matches!(cache.lookup(WWW, A, at(100)), Some(Hit::Records { ttl: 200, .. })));
        assert!(matches!(cache.lookup(WWW, A, at(299)), Some(Hit::Records { ttl: 1, .. })));
        assert_eq!(cache.lookup(WWW, A, at(300)), None, "expired at its TTL");
        assert_eq!(cache.lookup(WWW, AAAA, at(0)), None);
    }

    #[test]
    fn ttls_are_capped() {
        let t0 = origin();
        let config =
            CacheConfig { min_ttl: 10, max_ttl: 1000, max_negative_ttl: 60, ..Default::default() };
        let mut cache = Cache::new(config);
        cache.insert_records(WWW, A, 5, rdata(&[1, 2, 3, 4]), Trust::Answer, t0);
        cache.insert_records(WWW, AAAA, 99_999, rdata(&[0; 16]), Trust::Answer, t0);
        cache.insert_negative(b"\x02nx\x00", A, true, None, 900, t0);
        assert!(matches!(cache.lookup(WWW, A, t0), Some(Hit::Records { ttl: 10, .. })));
        assert!(matches!(cache.lookup(WWW, AAAA, t0), Some(Hit::Records { ttl: 1000, .. })));
        assert!(matches!(cache.lookup(b"\x02nx\x00", A, t0), Some(Hit::Negative { ttl: 60, .. })));
    }

    #[test]
    fn nxdomain_covers_every_type_nodata_only_its_own() {
        let t0 = origin();
        let mut cache = Cache::new(CacheConfig::default());
        let soa = NegativeSoa { owner: b"\x03lab\x00"[..].into(), rdata: b"soa"[..].into() };
        cache.insert_negative(b"\x02nx\x03lab\x00", A, true, Some(soa.clone()), 60, t0);
        cache.insert_negative(WWW, AAAA, false, None, 60, t0);
        let Some(Hit::Negative { nxdomain: true, soa: Some(kept), .. }) =
            cache.lookup(b"\x02nx\x03lab\x00", 15, t0)
        else {
            panic!("NXDOMAIN for MX too")
        };
        assert_eq!(kept, &soa);
        assert!(matches!(cache.lookup(WWW, AAAA, t0), Some(Hit::Negative { nxdomain: false, .. })));
        assert_eq!(cache.lookup(WWW, A, t0), None, "NODATA for AAAA says nothing of A");
    }

    #[test]
    fn lower_trust_does_not_replace_live_higher_trust() {
        let t0 = origin();
        let mut cache = Cache::new(CacheConfig::default());
        cache.insert_records(WWW, A, 300, rdata(&[1, 1, 1, 1]), Trust::Answer, t0);
        cache.insert_records(WWW, A, 300, rdata(&[6, 6, 6, 6]), Trust::Additional, t0);
        let Some(Hit::Records { rdatas, .. }) = cache.lookup(WWW, A, t0) else { panic!() };
        assert_eq!(&*rdatas[0], &[1, 1, 1, 1], "glue cannot overwrite an answer");
        // Once the answer has expired, glue may take its place.
        let later = t0 + Duration::from_secs(301);
        cache.insert_records(WWW, A, 300, rdata(&[6, 6, 6, 6]), Trust::Additional, later);
        let Some(Hit::Records { rdatas, trust, .. }) = cache.lookup(WWW, A, later) else {
            panic!()
        };
        assert_eq!((&*rdatas[0], trust), (&[6u8, 6, 6, 6][..], Trust::Additional));
        // Equal or higher trust replaces the whole RRset.
        cache.insert_records(WWW, A, 300, rdata(&[2, 2, 2, 2]), Trust::Answer, later);
        let Some(Hit::Records { rdatas, .. }) = cache.lookup(WWW, A, later) else { panic!() };
        assert_eq!(rdatas.len(), 1);
    }

    #[test]
    fn memory_stays_bounded_and_recently_used_entries_survive() {
        let t0 = origin();
        let mut cache = Cache::new(CacheConfig { max_bytes: 100_000, ..Default::default() });
        let name = |i: u32| format!("\x05n{i:04}\x03lab\x00").into_bytes();
        cache.insert_records(WWW, A, 3600, rdata(&[9, 9, 9, 9]), Trust::Answer, t0);
        for i in 0..10_000 {
            cache.insert_records(&name(i), A, 3600, rdata(&[10, 0, 0, 1]), Trust::Answer, t0);
            // A popular name, asked between every insert.
            assert!(cache.lookup(WWW, A, t0).is_some(), "the popular name survived insert {i}");
        }
        assert!(cache.bytes() <= 100_000, "{} bytes", cache.bytes());
        assert!(cache.len() > 500 && cache.len() < 10_000, "{} entries", cache.len());
        let recent = (9_900..10_000).filter(|&i| cache.lookup(&name(i), A, t0).is_some()).count();
        let old = (0..100).filter(|&i| cache.lookup(&name(i), A, t0).is_some()).count();
        assert!(recent > old, "recent entries outlive old ones: {recent} vs {old}");
    }

    #[test]
    fn stale_entries_serve_within_the_window_only() {
        let t0 = origin();
        let config = CacheConfig { serve_stale: Duration::from_secs(600), ..Default::default() };
        let mut cache = Cache::new(config);
        cache.insert_records(WWW, A, 60, rdata(&[192, 0, 2, 1]), Trust::Answer, t0);
        let at = |s| t0 + Duration::from_secs(s);
        assert!(
            matches!(cache.lookup_stale(WWW, A, at(10)), Some(Hit::Records { ttl: 50, .. })),
            "live"
        );
        assert_eq!(cache.lookup(WWW, A, at(100)), None);
        assert!(matches!(
            cache.lookup_stale(WWW, A, at(100)),
            Some(Hit::Records { ttl: STALE_TTL, .. })
        ));
        assert_eq!(cache.lookup_stale(WWW, A, at(700)), None, "past the window");
    }

    #[test]
    fn dump_lists_live_entries() {
        let t0 = origin();
        let mut cache = Cache::new(CacheConfig::default());
        cache.insert_records(WWW, A, 300, rdata(&[192, 0, 2, 1]), Trust::Answer, t0);
        cache.insert_records(WWW, AAAA, 10, rdata(&[0; 16]), Trust::Answer, t0);
        let dump = cache.dump(t0 + Duration::from_secs(20));
        assert_eq!(dump.len(), 1);
        assert_eq!((dump[0].rtype, dump[0].ttl), (A, 280));
    }
}
