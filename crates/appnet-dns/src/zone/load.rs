//! Reading RFC 1035 master files into a [`Zone`].
//!
//! Tokenising the presentation format — `$ORIGIN`, `$TTL`, `@`, relative names, omitted owner,
//! TTL and class, parentheses, comments, escapes, RFC 3597 `\#` data and every record type's
//! text form — is done by NLnet Labs' `domain` scanner. This module handles `$INCLUDE` (paths
//! relative to the including file, nested at most [`MAX_INCLUDE_DEPTH`] deep), picks the apex,
//! encodes each record for the store, and reports every problem as `file:line[:column]: what`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use bytes::Bytes;
use domain::base::iana::Class;
use domain::base::name::{Name, ToName};
use domain::base::rdata::ComposeRecordData;
use domain::rdata::ZoneRecordData;
use domain::zonefile::inplace::{Entry, ScannedRecord, Zonefile};

use super::rrset::rtype;
use super::store::{Zone, ZoneBuilder};

/// `$INCLUDE` nesting limit, which also stops include loops.
pub const MAX_INCLUDE_DEPTH: usize = 8;

/// Why a zone could not be loaded; displays as `file:line:column: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// The file with the problem (an included file, if it is there).
    pub path: PathBuf,
    /// 1-based line, or 0 when the problem is the file as a whole.
    pub line: usize,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
        }
        if let Some(column) = self.column {
            write!(f, ":{column}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for LoadError {}

/// Loads the zone in the master file at `path`. `origin` (presentation form, e.g.
/// `example.test.`) names the zone; without it the file's SOA owner does.
pub fn load_file(path: &Path, origin: Option<&str>) -> Result<Zone, LoadError> {
    let source = std::fs::read(path).map_err(|e| whole_file(path, format!("cannot read: {e}")))?;
    parse_bytes(&source, path, origin)
}

/// Loads a zone from `source`, reporting errors against `path` (and reading `$INCLUDE`d
/// files relative to it).
pub fn parse_str(source: &str, path: &Path, origin: Option<&str>) -> Result<Zone, LoadError> {
    parse_bytes(source.as_bytes(), path, origin)
}

/// Like [`parse_str`], for bytes that may not be UTF-8 (zone files may hold any octets).
pub fn parse_bytes(source: &[u8], path: &Path, origin: Option<&str>) -> Result<Zone, LoadError> {
    let origin = origin
        .map(|text| {
            Name::<Bytes>::from_str(text)
                .map_err(|e| whole_file(path, format!("bad zone origin `{text}`: {e}")))
        })
        .transpose()?;
    // About one owner name per 32 bytes of master file: enough that a large zone's index is
    // sized once, cheap (5 bytes a slot) when the guess is high.
    let names = source.len() / 32;
    let mut sink = Sink { builder: None, pending: Vec::new(), names };
    if let Some(origin) = &origin {
        let mut builder = ZoneBuilder::new(origin.as_slice());
        builder.reserve(names);
        sink.builder = Some(builder);
    }
    read_file(source, path, origin, &mut sink, 0)?;
    let Some(builder) = sink.builder else {
        return Err(whole_file(path, "no SOA record: cannot tell the zone's origin".into()));
    };
    builder.finish().map_err(|e| whole_file(path, e.to_string()))
}

/// One record, encoded, with where it came from.
struct Encoded {
    owner: Vec<u8>,
    rtype: u16,
    class: u16,
    ttl: u32,
    rdata: Vec<u8>,
    target: Option<Vec<u8>>,
    line: usize,
}

/// Receives records; holds them back (with the file each came from) until the apex is known
/// (from `--zone ORIGIN=` or the SOA), then feeds the builder.
struct Sink {
    builder: Option<ZoneBuilder>,
    pending: Vec<(Encoded, PathBuf)>,
    /// How many names to make room for once the builder exists.
    names: usize,
}

impl Sink {
    fn accept(&mut self, record: Encoded, path: &Path) -> Result<(), LoadError> {
        if self.builder.is_none() {
            if record.rtype != rtype::SOA {
                self.pending.push((record, path.to_owned()));
                return Ok(());
            }
            let mut builder = ZoneBuilder::new(&record.owner);
            builder.reserve(self.names);
            self.builder = Some(builder);
            for (held, held_path) in std::mem::take(&mut self.pending) {
                self.add(held, &held_path)?;
            }
        }
        self.add(record, path)
    }

    fn add(&mut self, record: Encoded, path: &Path) -> Result<(), LoadError> {
        let Some(builder) = self.builder.as_mut() else {
            return Ok(());
        };
        builder
            .add(
                &record.owner,
                record.rtype,
                record.class,
                record.ttl,
                &record.rdata,
                record.target.as_deref(),
            )
            .map_err(|e| LoadError {
                path: path.to_owned(),
                line: record.line,
                column: None,
                message: e.to_string(),
            })
    }
}

fn read_file(
    source: &[u8],
    path: &Path,
    origin: Option<Name<Bytes>>,
    sink: &mut Sink,
    depth: usize,
) -> Result<(), LoadError> {
    let mut zonefile = Zonefile::with_capacity(source.len() + 1);
    zonefile.extend_from_slice(source);
    if !source.ends_with(b"\n") {
        zonefile.extend_from_slice(b"\n");
    }
    // Records may omit the class from the first one on (NSD and Knot default to IN too).
    zonefile.set_default_class(Class::IN);
    if let Some(origin) = origin {
        zonefile.set_origin(origin);
    }
    let mut lines = LineCounter::new(source);
    loop {
        let line = lines.entry_line(zonefile.current_offset());
        let entry = next_entry(&mut zonefile, path, line)?;
        match entry {
            None => return Ok(()),
            Some(Entry::Record(record)) => sink.accept(encode(&record, line), path)?,
            Some(Entry::Include { path: included, origin }) => {
                let at = |message| LoadError { path: path.to_owned(), line, column: None, message };
                if depth + 1 >= MAX_INCLUDE_DEPTH {
                    return Err(at(format!("$INCLUDE nested more than {MAX_INCLUDE_DEPTH} deep")));
                }
                let included = String::from_utf8_lossy(included.as_slice()).into_owned();
                let included = path.parent().unwrap_or_else(|| Path::new(".")).join(included);
                let source = std::fs::read(&included).map_err(|e| {
                    at(format!("cannot read $INCLUDE file {}: {e}", included.display()))
                })?;
                let origin = origin.or_else(|| zonefile.origin().ok());
                read_file(&source, &included, origin, sink, depth + 1)?;
            }
        }
    }
}

/// The scanner's next entry. domain 0.12.3's scanner can panic on some malformed input (an index
/// past its buffer in `convert_charstr`, found by our `zone_file` fuzz target); a zone file is
/// outside input, so that panic becomes an error at the entry's line and the server goes on.
fn next_entry(
    zonefile: &mut Zonefile,
    path: &Path,
    line: usize,
) -> Result<Option<Entry>, LoadError> {
    let scanned = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| zonefile.next_entry()));
    match scanned {
        Ok(entry) => entry.map_err(|e| scanner_error(path, line, &e.to_string())),
        Err(_) => Err(LoadError {
            path: path.to_owned(),
            line,
            column: None,
            message: "malformed record (the zone file scanner gave up)".to_owned(),
        }),
    }
}

fn encode(record: &ScannedRecord, line: usize) -> Encoded {
    let mut owner = Vec::with_capacity(64);
    let _ = record.owner().compose(&mut owner);
    let mut rdata = Vec::with_capacity(32);
    let _ = record.data().compose_rdata(&mut rdata);
    let target = match record.data() {
        ZoneRecordData::Ns(ns) => Some(wire(ns.nsdname())),
        ZoneRecordData::Mx(mx) => Some(wire(mx.exchange())),
        ZoneRecordData::Srv(srv) => Some(wire(srv.target())),
        ZoneRecordData::Cname(cname) => Some(wire(cname.cname())),
        ZoneRecordData::Dname(dname) => Some(wire(dname.dname())),
        _ => None,
    };
    Encoded {
        owner,
        rtype: record.rtype().to_int(),
        class: record.class().to_int(),
        ttl: record.ttl().as_secs(),
        rdata,
        target,
        line,
    }
}

fn wire(name: &impl ToName) -> Vec<u8> {
    let mut out = Vec::with_capacity(usize::from(name.compose_len()));
    let _ = name.compose(&mut out);
    out
}

/// The scanner says `line:column: message`, and when a record's last field is bad it points at
/// the start of the next line; then the record's own last line is the better pointer.
fn scanner_error(path: &Path, entry_line: usize, text: &str) -> LoadError {
    let mut parts = text.splitn(3, ':');
    let (line, column, message) = (parts.next(), parts.next(), parts.next());
    let parsed = (line.and_then(|l| l.parse::<usize>().ok()), column.and_then(|c| c.parse().ok()));
    let (line, column, message) = match (parsed, message) {
        ((Some(line), Some(1)), Some(message)) if line > entry_line => (line - 1, None, message),
        ((Some(line), Some(column)), Some(message)) => (line, Some(column), message),
        _ => (entry_line, None, text),
    };
    LoadError { path: path.to_owned(), line, column, message: message.trim().to_owned() }
}

fn whole_file(path: &Path, message: String) -> LoadError {
    LoadError { path: path.to_owned(), line: 0, column: None, message }
}

/// Finds the line an entry starts on, given the byte offset where the scanner began it:
/// the first byte after it that is not blank, a comment or a `$` directive line.
struct LineCounter<'a> {
    source: &'a [u8],
    offset: usize,
    line: usize,
}

impl<'a> LineCounter<'a> {
    fn new(source: &'a [u8]) -> Self {
        Self { source, offset: 0, line: 1 }
    }

    fn entry_line(&mut self, start: usize) -> usize {
        self.advance_to(start.min(self.source.len()));
        let (mut at, mut line) = (self.offset, self.line);
        let mut at_line_start = at == 0 || self.source[at - 1] == b'\n';
        while let Some(&byte) = self.source.get(at) {
            match byte {
                b'\n' => {
                    line += 1;
                    at += 1;
                    at_line_start = true;
                }
                b' ' | b'\t' | b'\r' => {
                    at += 1;
                    at_line_start = false;
                }
                b';' => at = skip_line(self.source, at),
                b'$' if at_line_start => at = skip_line(self.source, at),
                _ => break,
            }
        }
        line
    }

    fn advance_to(&mut self, offset: usize) {
        if offset > self.offset {
            self.line += self.source[self.offset..offset].iter().filter(|&&b| b == b'\n').count();
            self.offset = offset;
        }
    }
}

/// The offset of the newline ending the line that `at` is on (or the end).
fn skip_line(source: &[u8], at: usize) -> usize {
    source[at..].iter().position(|&b| b == b'\n').map_or(source.len(), |i| at + i)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"$ORIGIN example.lab.
$TTL 300
; the apex
@       IN SOA ns1 hostmaster.example.lab. (
            2026112501 ; serial
            3600 900 604800 60 )
        IN NS  ns1
        NS     ns2.elsewhere.test.
ns1     A      192.0.2.1
www     3600 IN A 192.0.2.80
        AAAA   2001:db8::80
WWW2    CNAME  www
mail    MX     10 mx1
mx1     A      192.0.2.25
txt     TXT    "hello world" "semi;colon" "quote\"d" \065BC
_sip._tcp SRV  0 5 5060 sip
sip     A      192.0.2.5
caa     CAA    0 issue "ca.example"
old     DNAME  new.example.lab.
*.wild  A      192.0.2.99
ptr     PTR    www.example.lab.
unknown TYPE65280 \# 4 0a000001
esc\.dot A     192.0.2.7
deep.a.b A     192.0.2.8
child   NS     ns.child
ns.child A     192.0.2.53
"#;

    fn zone(source: &str) -> Zone {
        parse_str(source, Path::new("full.zone"), None).unwrap_or_else(|e| panic!("{e}"))
    }

    fn node<'a>(zone: &'a Zone, name: &[u8]) -> &'a crate::zone::Node {
        zone.find(name).unwrap_or_else(|| panic!("no node {}", crate::zone::name::display(name)))
    }

    #[test]
    fn loads_every_feature_of_the_format() {
        let zone = zone(FULL);
        assert_eq!(zone.apex(), b"\x07example\x03lab\x00");
        assert_eq!(zone.serial(), 2026112501);
        assert_eq!(zone.negative_soa().ttl, 60);
        let apex = zone.apex_node();
        assert_eq!(apex.rrset(rtype::NS).unwrap().records.len(), 2, "omitted owner and class");
        let www = node(&zone, b"\x03www\x07example\x03lab\x00");
        assert_eq!(www.rrset(rtype::A).unwrap().ttl, 3600);
        assert_eq!(www.rrset(rtype::AAAA).unwrap().ttl, 300, "$TTL for the next record");
        let alias = node(&zone, b"\x04www2\x07example\x03lab\x00");
        assert_eq!(&*alias.name, b"\x04WWW2\x07example\x03lab\x00");
        let cname = alias.rrset(rtype::CNAME).unwrap();
        assert_eq!(cname.target.as_deref(), Some(&b"\x03www\x07example\x03lab\x00"[..]));
        let txt = node(&zone, b"\x03txt\x07example\x03lab\x00").rrset(16).unwrap();
        assert_eq!(
            txt.rdatas().next().unwrap(),
            b"\x0bhello world\x0asemi;colon\x07quote\"d\x03ABC"
        );
        let srv = node(&zone, b"\x04_sip\x04_tcp\x07example\x03lab\x00").rrset(rtype::SRV).unwrap();
        assert_eq!(srv.additional, [Box::from(&b"\x03sip\x07example\x03lab\x00"[..])]);
        let unknown = node(&zone, b"\x07unknown\x07example\x03lab\x00").rrset(65280).unwrap();
        assert_eq!(unknown.rdatas().next().unwrap(), [10, 0, 0, 1]);
        assert!(zone.find(b"\x07esc.dot\x07example\x03lab\x00").is_some());
        assert!(zone.find(b"\x01b\x07example\x03lab\x00").unwrap().is_empty_non_terminal());
        assert!(zone.find(b"\x01*\x04wild\x07example\x03lab\x00").is_some());
        assert!(node(&zone, b"\x05child\x07example\x03lab\x00").delegation);
        assert!(zone.find(b"\x03caa\x07example\x03lab\x00").unwrap().rrset(257).is_some());
        assert!(zone.find(b"\x03old\x07example\x03lab\x00").unwrap().rrset(rtype::DNAME).is_some());
    }

    #[test]
    fn origin_comes_from_the_soa_owner_or_the_command_line() {
        let absolute = "example.lab. 60 IN SOA ns1.example.lab. h.example.lab. 1 2 3 4 5\n\
                        example.lab. 60 IN NS ns1.example.lab.\n";
        assert_eq!(zone(absolute).apex(), b"\x07example\x03lab\x00");
        let relative = "@ 60 IN SOA ns1 h 1 2 3 4 5\n@ 60 IN NS ns1\n";
        let given = parse_str(relative, Path::new("z"), Some("Example.LAB")).unwrap();
        assert_eq!(given.apex(), b"\x07example\x03lab\x00");
    }

    #[test]
    fn records_before_the_soa_are_kept() {
        let source = "www.example.lab. 60 IN A 192.0.2.1\n\
                      example.lab. 60 IN SOA ns1.example.lab. h.example.lab. 1 2 3 4 5\n\
                      example.lab. 60 IN NS ns1.example.lab.\n";
        assert!(zone(source).find(b"\x03www\x07example\x03lab\x00").is_some());
    }

    fn error(source: &str) -> String {
        parse_str(source, Path::new("bad.zone"), None).unwrap_err().to_string()
    }

    #[test]
    fn syntax_errors_point_at_line_and_column() {
        let message = error("$ORIGIN example.lab.\n@ SOA ns1 h 1 2 3 4 5\nwww A 300.1.1.1\n");
        assert!(message.starts_with("bad.zone:3:"), "{message}");
    }

    #[test]
    fn semantic_errors_point_at_the_record_line() {
        let source = "$ORIGIN example.lab.\n$TTL 60\n@ SOA ns1 h 1 2 3 4 5\n  NS ns1\n\n; note\n\
                      www CNAME x\n\nwww (\n  A 192.0.2.1 )\n";
        assert_eq!(error(source), "bad.zone:9: www.example.lab. has a CNAME and other data");
        let outside = "$ORIGIN example.lab.\n@ 60 SOA ns1 h 1 2 3 4 5\n@ 60 NS ns1\nx.other. 60 A 192.0.2.1\n";
        assert_eq!(error(outside), "bad.zone:4: x.other. is outside the zone example.lab.");
    }

    #[test]
    fn whole_file_errors() {
        assert_eq!(
            error("$ORIGIN example.lab.\n@ 60 NS ns1\n"),
            "bad.zone: no SOA record: cannot tell the zone's origin"
        );
        let no_ns = "$ORIGIN example.lab.\n@ 60 SOA ns1 h 1 2 3 4 5\n";
        assert_eq!(error(no_ns), "bad.zone: no NS records at the zone apex example.lab.");
        let missing = load_file(Path::new("/nonexistent.zone"), None).unwrap_err().to_string();
        assert!(missing.starts_with("/nonexistent.zone: cannot read:"), "{missing}");
    }

    #[test]
    fn includes_resolve_relative_to_the_including_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("parts")).unwrap();
        std::fs::write(dir.path().join("parts/hosts.inc"), "www A 192.0.2.80\nbad A nonsense\n")
            .unwrap();
        std::fs::write(dir.path().join("parts/sub.inc"), "host A 192.0.2.9\n").unwrap();
        let main = "$ORIGIN example.lab.\n@ 60 SOA ns1 h 1 2 3 4 5\n@ 60 NS ns1\n\
                    $INCLUDE parts/sub.inc sub.example.lab.\n$INCLUDE parts/hosts.inc\n";
        std::fs::write(dir.path().join("main.zone"), main).unwrap();
        let error = load_file(&dir.path().join("main.zone"), None).unwrap_err();
        assert!(error.path.ends_with("parts/hosts.inc"), "{error}");
        assert_eq!(error.line, 2, "{error}");
        std::fs::write(dir.path().join("parts/hosts.inc"), "www A 192.0.2.80\n").unwrap();
        let zone = load_file(&dir.path().join("main.zone"), None).unwrap();
        assert!(zone.find(b"\x04host\x03sub\x07example\x03lab\x00").is_some(), "include origin");
        assert!(zone.find(b"\x03www\x07example\x03lab\x00").is_some());
    }

    #[test]
    fn include_loops_stop() {
        let dir = tempfile::tempdir().unwrap();
        let main =
            "$ORIGIN example.lab.\n@ 60 SOA ns1 h 1 2 3 4 5\n@ 60 NS ns1\n$INCLUDE loop.inc\n";
        std::fs::write(dir.path().join("main.zone"), main).unwrap();
        std::fs::write(dir.path().join("loop.inc"), "$INCLUDE loop.inc\n").unwrap();
        let error = load_file(&dir.path().join("main.zone"), None).unwrap_err().to_string();
        assert!(error.contains("$INCLUDE nested more than 8 deep"), "{error}");
    }

    /// Found by the `zone_file` fuzz target: domain 0.12.3's scanner panics on this input.
    #[test]
    fn a_scanner_panic_is_a_load_error() {
        let input = include_bytes!("../../testdata/scanner-panic.zone");
        let error = parse_bytes(input, Path::new("bad.zone"), Some("example.lab.")).unwrap_err();
        assert!(error.to_string().starts_with("bad.zone:"), "{error}");
        assert!(error.to_string().contains("malformed record"), "{error}");
    }
}
