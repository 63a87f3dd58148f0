//! dig's output, byte for byte where it can be: the banner, the header and flags, the OPT
//! pseudo-section, the sections with BIND's column layout, the statistics, and `+short`.
//!
//! Pure: it takes the response bytes and what the driver measured, and returns text.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use domain::base::iana::{Class, Rtype};
use domain::base::opt::UnknownOptData;
use domain::base::zonefile_fmt::{DisplayKind, ZonefileFmt};
use domain::base::{Message, ParsedName, ParsedRecord, ToName};
use domain::rdata::AllRecordData;

use super::DigOptions;

/// What the driver learnt about the exchange that produced a response.
#[derive(Debug, Clone)]
pub struct Received<'a> {
    /// The response message.
    pub response: &'a [u8],
    /// Where it came from.
    pub server: SocketAddr,
    /// The server as the user named it (`@localhost`), or its address.
    pub server_name: &'a str,
    /// Whether it came over TCP.
    pub tcp: bool,
    /// Round-trip time of the query that was answered.
    pub elapsed: Duration,
    /// When the answer arrived (wall clock), for the `WHEN:` line.
    pub when: SystemTime,
}

/// Why a response could not be shown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PresentError {
    /// The response is not a parsable DNS message.
    #[error("the response is not a valid DNS message: {0}")]
    Malformed(String),
}

/// The banner dig prints before asking: `; <<>> VERSION <<>> ARGS`, and how many servers
/// an `@SERVER` name gave.
pub fn banner(options: &DigOptions, command_line: &str, servers_found: Option<usize>) -> String {
    if options.display.short || !options.display.cmd {
        return String::new();
    }
    let mut out =
        format!("\n; <<>> appnet dig {} <<>> {command_line}\n", env!("CARGO_PKG_VERSION"));
    if let Some(found) = servers_found {
        let plural = if found == 1 { "" } else { "s" };
        let _ = writeln!(out, "; ({found} server{plural} found)");
    }
    out.push_str(";; global options: +cmd\n");
    out
}

/// The whole output for one response, as dig prints it for `options`.
pub fn render(options: &DigOptions, received: &Received<'_>) -> Result<String, PresentError> {
    let message = Message::from_octets(received.response)
        .map_err(|error| PresentError::Malformed(error.to_string()))?;
    if options.display.short {
        return short(&message);
    }
    let display = options.display;
    let mut out = String::new();
    if display.comments {
        out.push_str(";; Got answer:\n");
        header(&mut out, &message, options.recurse);
        out.push('\n');
        opt_pseudo_section(&mut out, &message);
    }
    let question = message.question();
    if display.question && message.header_counts().qdcount() > 0 {
        if display.comments {
            out.push_str(";; QUESTION SECTION:\n");
        }
        for item in question {
            let item = item.map_err(|error| PresentError::Malformed(error.to_string()))?;
            question_line(&mut out, &item.qname().to_name_string(), item.qclass(), item.qtype());
        }
        if display.comments {
            out.push('\n');
        }
    }
    let mut section = question.answer().map_err(malformed)?;
    for (title, shown) in [
        ("ANSWER", display.answer),
        ("AUTHORITY", display.authority),
        ("ADDITIONAL", display.additional),
    ] {
        let records: Vec<_> = section
            .filter(|record| record.as_ref().map_or(true, |r| r.rtype() != Rtype::OPT))
            .collect::<Result<_, _>>()
            .map_err(malformed)?;
        if shown && !records.is_empty() {
            if display.comments {
                let _ = writeln!(out, ";; {title} SECTION:");
            }
            for record in &records {
                record_line(&mut out, record);
            }
            if display.comments {
                out.push('\n');
            }
        }
        match section.next_section().map_err(malformed)? {
            Some(next) => section = next,
            None => break,
        }
    }
    if display.stats {
        stats(&mut out, received);
    }
    Ok(out)
}

/// One step of `+trace`: the answer and authority records of a response, then where it came
/// from, as dig prints them (`;; Received 80 bytes from 127.0.0.2#53(a.root.lab) in 1 ms`).
pub fn trace_step(received: &Received<'_>) -> Result<String, PresentError> {
    let message = Message::from_octets(received.response).map_err(malformed)?;
    let mut out = String::new();
    let answer = message.answer().map_err(malformed)?;
    let authority = answer
        .next_section()
        .map_err(malformed)?
        .ok_or_else(|| malformed("no authority section"))?;
    for record in answer.chain(authority) {
        let record = record.map_err(malformed)?;
        if record.rtype() != Rtype::OPT {
            record_line(&mut out, &record);
        }
    }
    let _ = writeln!(
        out,
        ";; Received {} bytes from {}#{}({}) in {} ms\n",
        received.response.len(),
        received.server.ip(),
        received.server.port(),
        received.server_name.trim_end_matches('.'),
        received.elapsed.as_millis()
    );
    Ok(out)
}

fn malformed(error: impl std::fmt::Display) -> PresentError {
    PresentError::Malformed(error.to_string())
}

/// `+short`: the answer section's record data, one record a line.
fn short(message: &Message<&[u8]>) -> Result<String, PresentError> {
    let mut out = String::new();
    for record in message.answer().map_err(malformed)? {
        let record = record.map_err(malformed)?;
        out.push_str(&rdata_text(&record));
        out.push('\n');
    }
    Ok(out)
}

fn header(out: &mut String, message: &Message<&[u8]>, asked_recursion: bool) {
    let header = message.header();
    let counts = message.header_counts();
    let rcode = message.opt_rcode().to_int();
    let _ = writeln!(
        out,
        ";; ->>HEADER<<- opcode: {}, status: {}, id: {}",
        opcode_name(header.opcode().to_int()),
        rcode_name(rcode),
        header.id()
    );
    let flags: Vec<&str> = [
        (header.qr(), "qr"),
        (header.aa(), "aa"),
        (header.tc(), "tc"),
        (header.rd(), "rd"),
        (header.ra(), "ra"),
        (header.ad(), "ad"),
        (header.cd(), "cd"),
    ]
    .into_iter()
    .filter_map(|(set, name)| set.then_some(name))
    .collect();
    let _ = writeln!(
        out,
        ";; flags: {}; QUERY: {}, ANSWER: {}, AUTHORITY: {}, ADDITIONAL: {}",
        flags.join(" "),
        counts.qdcount(),
        counts.ancount(),
        counts.nscount(),
        counts.arcount()
    );
    if asked_recursion && header.rd() && !header.ra() {
        out.push_str(";; WARNING: recursion requested but not available\n");
    }
}

fn opt_pseudo_section(out: &mut String, message: &Message<&[u8]>) {
    let Some(opt) = message.opt() else { return };
    out.push_str(";; OPT PSEUDOSECTION:\n");
    let flags = if opt.dnssec_ok() { " do" } else { "" };
    let _ = writeln!(
        out,
        "; EDNS: version: {}, flags:{flags}; udp: {}",
        opt.version(),
        opt.udp_payload_size()
    );
    for option in opt.opt().iter::<UnknownOptData<_>>().flatten() {
        let data: &[u8] = option.data();
        let code = option.code().to_int();
        let line = match code {
            3 => format!("NSID: {} (\"{}\")", spaced_hex(data), printable(data)),
            10 => format!("COOKIE: {}", hex(data)),
            15 if data.len() >= 2 => {
                let info = u16::from_be_bytes([data[0], data[1]]);
                let text = printable(&data[2..]);
                if text.is_empty() {
                    format!("EDE: {info}")
                } else {
                    format!("EDE: {info}: ({text})")
                }
            }
            _ => format!("OPT={code}: {} (\"{}\")", spaced_hex(data), printable(data)),
        };
        let _ = writeln!(out, "; {line}");
    }
}

fn stats(out: &mut String, received: &Received<'_>) {
    let _ = writeln!(out, ";; Query time: {} msec", received.elapsed.as_millis());
    let transport = if received.tcp { "TCP" } else { "UDP" };
    let _ = writeln!(
        out,
        ";; SERVER: {}#{}({}) ({transport})",
        received.server.ip(),
        received.server.port(),
        received.server_name
    );
    let _ = writeln!(out, ";; WHEN: {}", when(received.when));
    let _ = writeln!(out, ";; MSG SIZE  rcvd: {}\n", received.response.len());
}

/// The question line: `;NAME` then class and type on BIND's tab stops (class at column 32).
/// dig prints the `;` before BIND formats the question, so it does not count in the columns.
fn question_line(out: &mut String, name: &str, class: Class, rtype: Rtype) {
    let mut line = format!(";{name}");
    let mut column = name.len();
    indent(&mut line, &mut column, CLASS_COLUMN);
    push_counted(&mut line, &mut column, &class.to_string());
    indent(&mut line, &mut column, TYPE_COLUMN);
    line.push_str(&rtype.to_string());
    out.push_str(&line);
    out.push('\n');
}

/// A record line: owner, TTL, class, type and data on BIND's tab stops.
fn record_line(out: &mut String, record: &ParsedRecord<'_, &[u8]>) {
    let mut line = record.owner().to_name_string();
    let mut column = line.len();
    indent(&mut line, &mut column, TTL_COLUMN);
    push_counted(&mut line, &mut column, &record.ttl().as_secs().to_string());
    indent(&mut line, &mut column, CLASS_COLUMN);
    push_counted(&mut line, &mut column, &record.class().to_string());
    indent(&mut line, &mut column, TYPE_COLUMN);
    push_counted(&mut line, &mut column, &record.rtype().to_string());
    indent(&mut line, &mut column, RDATA_COLUMN);
    line.push_str(&rdata_text(record));
    out.push_str(&line);
    out.push('\n');
}

/// The columns of dig's default style (`dns_master_stylecreate(…, 24, 24, 24, 32, …)` in effect
/// places the TTL at 24, the class at 32, the type at 40 and the data at 48), 8-column tabs.
const TTL_COLUMN: usize = 24;
const CLASS_COLUMN: usize = 32;
const TYPE_COLUMN: usize = 40;
const RDATA_COLUMN: usize = 48;
const TAB: usize = 8;

/// BIND's `indent()`: tabs up to the column `to` if that is ahead, at least one character of
/// separation, spaces when no tab stop lies between. So long owner names get a single space.
fn indent(line: &mut String, column: &mut usize, to: usize) {
    let to = to.max(*column + 1);
    let tabs = to / TAB - *column / TAB;
    let mut from = *column;
    if tabs > 0 {
        line.extend(std::iter::repeat_n('\t', tabs));
        from = to / TAB * TAB;
    }
    line.extend(std::iter::repeat_n(' ', to - from));
    *column = to;
}

fn push_counted(line: &mut String, column: &mut usize, text: &str) {
    line.push_str(text);
    *column += text.len();
}

/// The record data in presentation format, as BIND writes it.
fn rdata_text(record: &ParsedRecord<'_, &[u8]>) -> String {
    match record.to_any_record::<AllRecordData<&[u8], ParsedName<&[u8]>>>() {
        // RFC 3597 generic form; BIND writes the hex in upper case, in one word.
        Ok(parsed) => match parsed.data() {
            AllRecordData::Unknown(unknown) => {
                let data: &[u8] = unknown.data();
                if data.is_empty() {
                    "\\# 0".to_owned()
                } else {
                    format!("\\# {} {}", data.len(), hex(data).to_uppercase())
                }
            }
            data => data.display_zonefile(DisplayKind::Simple).to_string(),
        },
        Err(_) => "<invalid data>".to_owned(),
    }
}

trait NameString {
    fn to_name_string(&self) -> String;
}

impl<N: ToName> NameString for N {
    /// The name with its final dot, the root as `.`.
    fn to_name_string(&self) -> String {
        let text = self.to_name::<Vec<u8>>().to_string();
        if text.is_empty() || text == "." { ".".to_owned() } else { format!("{text}.") }
    }
}

fn opcode_name(opcode: u8) -> String {
    match opcode {
        0 => "QUERY".into(),
        1 => "IQUERY".into(),
        2 => "STATUS".into(),
        4 => "NOTIFY".into(),
        5 => "UPDATE".into(),
        other => format!("RESERVED{other}"),
    }
}

fn rcode_name(rcode: u16) -> String {
    let name = match rcode {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        16 => "BADVERS",
        23 => "BADCOOKIE",
        other => return other.to_string(),
    };
    name.to_owned()
}

fn hex(data: &[u8]) -> String {
    data.iter().fold(String::with_capacity(data.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn spaced_hex(data: &[u8]) -> String {
    data.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")
}

fn printable(data: &[u8]) -> String {
    data.iter().map(|&b| if b.is_ascii_graphic() || b == b' ' { b as char } else { '.' }).collect()
}

/// `Tue Dec 01 08:13:19 UTC 2026`, as `date` prints it, in UTC.
fn when(time: SystemTime) -> String {
    let utc = appnet_service::calendar::Utc::of(time);
    format!(
        "{} {} {:02} {:02}:{:02}:{:02} UTC {}",
        utc.weekday_name(),
        utc.month_name(),
        utc.day,
        utc.hour,
        utc.minute,
        utc.second,
        utc.year
    )
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    #[test]
    fn columns_follow_binds_indent() {
        let mut line = String::from("www.example.lab.");
        let mut column = line.len();
        indent(&mut line, &mut column, TTL_COLUMN);
        assert_eq!((line.as_str(), column), ("www.example.lab.\t", 24));
        let mut long = String::from("anything.wild.example.lab.");
        let mut column = long.len();
        indent(&mut long, &mut column, TTL_COLUMN);
        assert_eq!(long, "anything.wild.example.lab. ", "past the column: one space");
        let mut short = String::from("a.");
        let mut column = 2;
        indent(&mut short, &mut column, TTL_COLUMN);
        assert_eq!(short, "a.\t\t\t");
    }

    #[test]
    fn question_lines_put_the_class_at_column_32() {
        let mut out = String::new();
        question_line(&mut out, "www.example.lab.", Class::IN, Rtype::A);
        question_line(&mut out, "example.lab.", Class::IN, Rtype::MX);
        question_line(&mut out, "anything.wild.example.lab.", Class::IN, Rtype::A);
        question_line(&mut out, "host.child.example.lab.", Class::IN, Rtype::A);
        assert_eq!(
            out,
            ";www.example.lab.\t\tIN\tA\n;example.lab.\t\t\tIN\tMX\n\
             ;anything.wild.example.lab.\tIN\tA\n;host.child.example.lab.\t\tIN\tA\n"
        );
    }

    #[test]
    fn dates_print_like_date() {
        // 2026-12-01 08:13:19 UTC was a Tuesday.
        let t = UNIX_EPOCH + Duration::from_secs(1_796_112_799);
        assert_eq!(when(t), "Tue Dec 01 08:13:19 UTC 2026");
        assert_eq!(when(UNIX_EPOCH), "Thu Jan 01 00:00:00 UTC 1970");
    }

    #[test]
    fn rcodes_and_opcodes_have_digs_names() {
        assert_eq!(
            (rcode_name(3), rcode_name(16), rcode_name(12)),
            ("NXDOMAIN".into(), "BADVERS".into(), "12".into())
        );
        assert_eq!(
            (opcode_name(0), opcode_name(4), opcode_name(9)),
            ("QUERY".into(), "NOTIFY".into(), "RESERVED9".into())
        );
    }
}
