//! dig's command line: `[@SERVER] [-p PORT] [-t TYPE] [-c CLASS] [-x ADDR] NAME [TYPE] [CLASS]
//! [+option…]`, parsed the way BIND's dig reads it, so that scripts written for dig work.

use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use domain::base::iana::{Class, Rtype};

/// One query as the command line asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigOptions {
    /// `@SERVER` as written (an address or a host name); `None`: the system's resolver.
    pub server: Option<String>,
    /// `-p PORT`; 53 by default.
    pub port: u16,
    /// The name asked for, in presentation form, always absolute (ends with a dot).
    pub name: String,
    /// The question's type; A by default (NS for the root when no name is given, PTR for `-x`).
    pub qtype: Rtype,
    /// The question's class; IN by default.
    pub qclass: Class,
    /// `+tcp` / `+vc`: ask over TCP instead of UDP. ANY questions go over TCP unless `+notcp`
    /// says otherwise, as dig 9.18 does (RFC 8482 answers over UDP are minimal anyway).
    pub tcp: bool,
    /// Whether `+[no]tcp` was given, so the ANY default does not override it.
    pub(crate) tcp_given: bool,
    /// `+[no]recurse`: the RD flag; on by default.
    pub recurse: bool,
    /// `+[no]adflag`: the AD flag in the query; on by default, as in dig 9.18.
    pub ad_flag: bool,
    /// `+[no]cdflag`: the CD flag in the query.
    pub cd_flag: bool,
    /// `+dnssec`: the DO bit in the OPT record.
    pub dnssec: bool,
    /// `+[no]edns[=VERSION]`: send an OPT record with this version; `None` for `+noedns`.
    pub edns: Option<u8>,
    /// `+bufsize=B`: the UDP payload size advertised in the OPT record (1232 by default).
    pub bufsize: u16,
    /// `+time=T`: seconds to wait for each attempt (5).
    pub timeout: Duration,
    /// `+tries=N` (or `+retry=N-1`): attempts per server over UDP (3).
    pub tries: u32,
    /// `+ignore`: show a truncated UDP answer instead of asking again over TCP.
    pub ignore_truncation: bool,
    /// `-4` / `-6`: use only servers of that address family.
    pub family: Option<Family>,
    /// `+trace`: follow the delegations from the root, asking each zone's servers in turn and
    /// printing what each one said.
    pub trace: bool,
    /// What to print.
    pub display: Display,
}

/// `-4` or `-6`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// IPv4 only.
    V4,
    /// IPv6 only.
    V6,
}

/// The parts of the output that `+[no]cmd`, `+[no]comments`… switch on and off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(clippy::struct_excessive_bools)] // one switch per dig option, as dig has them
pub struct Display {
    /// `+short`: only the answer's record data, one per line.
    pub short: bool,
    /// `+[no]cmd`: the banner with the version and the command line.
    pub cmd: bool,
    /// `+[no]comments`: the header, flags, the OPT pseudo-section and section titles.
    pub comments: bool,
    /// `+[no]question`
    pub question: bool,
    /// `+[no]answer`
    pub answer: bool,
    /// `+[no]authority`
    pub authority: bool,
    /// `+[no]additional`
    pub additional: bool,
    /// `+[no]stats`: query time, server, date and message size.
    pub stats: bool,
}

impl Display {
    fn all(on: bool) -> Self {
        Self {
            short: false,
            cmd: on,
            comments: on,
            question: on,
            answer: on,
            authority: on,
            additional: on,
            stats: on,
        }
    }
}

/// Why the command line could not be read; dig exits with status 1 for these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DigArgsError {
    /// A `+option` dig does not have (or that appnet does not have yet).
    #[error("Invalid option: {0}")]
    InvalidOption(String),
    /// A `+option` that needs a value was given none, or a bad one.
    #[error("invalid value for {option}: '{value}'")]
    InvalidValue {
        /// The option.
        option: String,
        /// What was given.
        value: String,
    },
    /// A `-flag` that needs an argument came last.
    #[error("option requires an argument -- '{0}'")]
    MissingArgument(char),
    /// An unknown `-flag`.
    #[error("invalid option -- '{0}'")]
    InvalidFlag(String),
    /// The name to ask for is not a valid domain name.
    #[error("'{0}' is not a legal name")]
    BadName(String),
    /// `-x` was given something that is not an IP address.
    #[error("'{0}' is not a legal IPv4 or IPv6 address")]
    BadReverse(String),
    /// A valid option that needs what appnet does not have yet.
    #[error("{option} is not supported yet ({reason})")]
    Unsupported {
        /// The option.
        option: String,
        /// What is missing.
        reason: &'static str,
    },
}

/// The `+options` dig knows, each with whether it takes `=VALUE`. dig accepts any unambiguous
/// prefix (`+norec` for `+norecurse`), and so do we; exact names win over longer matches.
const PLUS_OPTIONS: &[&str] = &[
    "additional",
    "adflag",
    "all",
    "answer",
    "authority",
    "bufsize",
    "cdflag",
    "cmd",
    "comments",
    "dnssec",
    "edns",
    "ignore",
    "nssearch",
    "question",
    "recurse",
    "retry",
    "short",
    "stats",
    "tcp",
    "time",
    "trace",
    "tries",
    "vc",
];

impl DigOptions {
    /// Reads dig's arguments (without the program name).
    pub fn parse<S: AsRef<str>>(args: &[S]) -> Result<Self, DigArgsError> {
        let mut options = Self::defaults();
        let mut name: Option<String> = None;
        let mut qtype: Option<Rtype> = None;
        let mut qclass: Option<Class> = None;
        let mut args = args.iter().map(AsRef::as_ref);
        while let Some(arg) = args.next() {
            if let Some(server) = arg.strip_prefix('@') {
                options.server = Some(server.to_owned());
            } else if let Some(plus) = arg.strip_prefix('+') {
                options.apply_plus(plus)?;
            } else if let Some(flag) = arg.strip_prefix('-').filter(|f| !f.is_empty()) {
                let mut value = |letter| {
                    // `-p53` and `-p 53` both work, as with getopt.
                    let rest = &flag[1..];
                    if rest.is_empty() {
                        args.next().map(str::to_owned).ok_or(DigArgsError::MissingArgument(letter))
                    } else {
                        Ok(rest.to_owned())
                    }
                };
                match flag.as_bytes()[0] {
                    b'p' => {
                        let port = value('p')?;
                        options.port = port.parse().map_err(|_| DigArgsError::InvalidValue {
                            option: "-p".into(),
                            value: port,
                        })?;
                    }
                    b't' => qtype = Some(parse_type(&value('t')?)?),
                    b'c' => qclass = Some(parse_class(&value('c')?)?),
                    b'q' => name = Some(value('q')?),
                    b'x' => {
                        name = Some(reverse_name(&value('x')?)?);
                        qtype = qtype.or(Some(Rtype::PTR));
                    }
                    b'4' if flag.len() == 1 => options.family = Some(Family::V4),
                    b'6' if flag.len() == 1 => options.family = Some(Family::V6),
                    _ => return Err(DigArgsError::InvalidFlag(arg.to_owned())),
                }
            } else if qtype.is_none() && name.is_some() && is_type(arg) {
                qtype = Some(parse_type(arg)?);
            } else if qclass.is_none() && name.is_some() && is_class(arg) {
                qclass = Some(parse_class(arg)?);
            } else if name.is_none() && qtype.is_none() && is_type_only(arg) {
                // `dig NS` asks the root for its NS, as dig does.
                qtype = Some(parse_type(arg)?);
            } else {
                name = Some(arg.to_owned());
            }
        }
        let (name, default_type) = match name {
            Some(name) => (absolute(&name)?, Rtype::A),
            None => (".".to_owned(), Rtype::NS),
        };
        options.name = name;
        options.qtype = qtype.unwrap_or(default_type);
        options.qclass = qclass.unwrap_or(Class::IN);
        if options.qtype == Rtype::ANY && !options.tcp_given {
            options.tcp = true;
        }
        if matches!(options.qtype, Rtype::AXFR | Rtype::IXFR) {
            return Err(DigArgsError::Unsupported {
                option: options.qtype.to_string(),
                reason: "zone transfers are not shown by appnet dig yet; use dig or kdig",
            });
        }
        Ok(options)
    }

    fn defaults() -> Self {
        Self {
            server: None,
            port: 53,
            name: ".".to_owned(),
            qtype: Rtype::NS,
            qclass: Class::IN,
            tcp: false,
            tcp_given: false,
            recurse: true,
            ad_flag: true,
            cd_flag: false,
            dnssec: false,
            edns: Some(0),
            bufsize: 1232,
            timeout: Duration::from_secs(5),
            tries: 3,
            ignore_truncation: false,
            family: None,
            trace: false,
            display: Display::all(true),
        }
    }

    /// One `+[no]option[=value]`.
    fn apply_plus(&mut self, text: &str) -> Result<(), DigArgsError> {
        let (word, value) = match text.split_once('=') {
            Some((word, value)) => (word, Some(value)),
            None => (text, None),
        };
        let lower = word.to_ascii_lowercase();
        let (on, stem) = match lower.strip_prefix("no") {
            // `+noall`, but not `+nssearch` read as "no ssearch".
            Some(rest) if !rest.is_empty() && lookup(&lower).is_none() => (false, rest),
            _ => (true, lower.as_str()),
        };
        let invalid = || DigArgsError::InvalidOption(format!("+{text}"));
        let option = lookup(stem).ok_or_else(invalid)?;
        let number = |min: u32| -> Result<u32, DigArgsError> {
            let value = value.ok_or_else(invalid)?;
            value.parse::<u32>().ok().filter(|n| *n >= min).ok_or_else(|| {
                DigArgsError::InvalidValue { option: format!("+{option}"), value: value.into() }
            })
        };
        match option {
            "all" => self.display = Display { short: self.display.short, ..Display::all(on) },
            "additional" => self.display.additional = on,
            "adflag" => self.ad_flag = on,
            "answer" => self.display.answer = on,
            "authority" => self.display.authority = on,
            "bufsize" => self.bufsize = u16::try_from(number(0)?.min(65_535)).unwrap_or(65_535),
            "cdflag" => self.cd_flag = on,
            "cmd" => self.display.cmd = on,
            "comments" => self.display.comments = on,
            "dnssec" => self.dnssec = on,
            "edns" => {
                self.edns = match (on, value) {
                    (false, _) => None,
                    (true, None) => Some(0),
                    (true, Some(_)) => {
                        Some(u8::try_from(number(0)?).map_err(|_| DigArgsError::InvalidValue {
                            option: "+edns".into(),
                            value: value.unwrap_or_default().into(),
                        })?)
                    }
                }
            }
            "ignore" => self.ignore_truncation = on,
            "question" => self.display.question = on,
            "recurse" => self.recurse = on,
            "retry" => self.tries = number(0)? + 1,
            "short" => self.display.short = on,
            "stats" => self.display.stats = on,
            "tcp" | "vc" => (self.tcp, self.tcp_given) = (on, true),
            "time" => self.timeout = Duration::from_secs(u64::from(number(1)?)),
            "tries" => self.tries = number(1)?,
            "trace" => self.trace = on,
            "nssearch" => {
                return Err(DigArgsError::Unsupported {
                    option: "+nssearch".into(),
                    reason: "not built yet",
                });
            }
            _ => return Err(invalid()),
        }
        Ok(())
    }
}

/// The option `word` names: itself, or the one option it is an unambiguous prefix of.
fn lookup(word: &str) -> Option<&'static str> {
    if let Some(exact) = PLUS_OPTIONS.iter().find(|o| **o == word) {
        return Some(exact);
    }
    let mut matches = PLUS_OPTIONS.iter().filter(|o| o.starts_with(word));
    match (matches.next(), matches.next()) {
        (Some(only), None) if word.len() >= 2 => Some(only),
        // dig's historical short forms, ambiguous by prefix alone.
        _ => match word {
            "rec" => Some("recurse"),
            "ad" => Some("adflag"),
            "cd" => Some("cdflag"),
            _ => None,
        },
    }
}

fn parse_type(text: &str) -> Result<Rtype, DigArgsError> {
    Rtype::from_str(&text.to_ascii_uppercase())
        .map_err(|_| DigArgsError::InvalidValue { option: "type".into(), value: text.into() })
}

fn parse_class(text: &str) -> Result<Class, DigArgsError> {
    Class::from_str(&text.to_ascii_uppercase())
        .map_err(|_| DigArgsError::InvalidValue { option: "class".into(), value: text.into() })
}

fn is_class(text: &str) -> bool {
    let upper = text.to_ascii_uppercase();
    matches!(upper.as_str(), "IN" | "CH" | "HS" | "CHAOS" | "HESIOD" | "ANY")
        || upper.strip_prefix("CLASS").is_some_and(|n| n.parse::<u16>().is_ok())
}

fn is_type(text: &str) -> bool {
    Rtype::from_str(&text.to_ascii_uppercase()).is_ok()
}

/// A word that can only be a type, never a sensible first name (dig reads `dig MX` as the root's
/// MX). Words with a dot are names.
fn is_type_only(text: &str) -> bool {
    !text.contains('.') && is_type(text)
}

/// `name` made absolute, checked as a domain name.
fn absolute(name: &str) -> Result<String, DigArgsError> {
    let absolute = if name.ends_with('.') { name.to_owned() } else { format!("{name}.") };
    domain::base::Name::<Vec<u8>>::from_str(&absolute)
        .map_err(|_| DigArgsError::BadName(name.to_owned()))?;
    Ok(absolute)
}

/// `-x ADDR`: the in-addr.arpa or ip6.arpa name of an address (RFC 1035 §3.5, RFC 3596 §2.5).
fn reverse_name(address: &str) -> Result<String, DigArgsError> {
    match IpAddr::from_str(address) {
        Ok(IpAddr::V4(v4)) => {
            let [a, b, c, d] = v4.octets();
            Ok(format!("{d}.{c}.{b}.{a}.in-addr.arpa."))
        }
        Ok(IpAddr::V6(v6)) => {
            let mut name = String::with_capacity(73);
            for byte in v6.octets().iter().rev() {
                name.push_str(&format!("{:x}.{:x}.", byte & 0x0F, byte >> 4));
            }
            name.push_str("ip6.arpa.");
            Ok(name)
        }
        Err(_) => Err(DigArgsError::BadReverse(address.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> DigOptions {
        DigOptions::parse(&line.split_whitespace().collect::<Vec<_>>()).expect(line)
    }

    #[test]
    fn server_port_name_type_and_flags() {
        let o = parse("@127.0.0.1 -p 5300 www.example.lab AAAA +tcp +norec +short +dnssec");
        assert_eq!(o.server.as_deref(), Some("127.0.0.1"));
        assert_eq!((o.port, o.name.as_str(), o.qtype), (5300, "www.example.lab.", Rtype::AAAA));
        assert!(o.tcp && !o.recurse && o.display.short && o.dnssec);
    }

    #[test]
    fn defaults_are_digs() {
        let o = parse("example.org");
        assert_eq!((o.server, o.port, o.qtype, o.qclass), (None, 53, Rtype::A, Class::IN));
        assert!(o.recurse && o.ad_flag && !o.tcp && o.edns == Some(0) && o.bufsize == 1232);
        assert_eq!((o.timeout, o.tries), (Duration::from_secs(5), 3));
        let root = DigOptions::parse::<&str>(&[]).unwrap();
        assert_eq!((root.name.as_str(), root.qtype), (".", Rtype::NS));
    }

    #[test]
    fn a_type_alone_asks_the_root() {
        assert_eq!((parse("MX").name.as_str(), parse("mx").qtype), (".", Rtype::MX));
        // After a name, a type word is the type, and a class word the class.
        let o = parse("a.example txt ch");
        assert_eq!((o.name.as_str(), o.qtype, o.qclass), ("a.example.", Rtype::TXT, Class::CH));
    }

    #[test]
    fn dash_flags_take_joined_or_separate_values() {
        let o = parse("-p5353 -t soa -c IN -q example.");
        assert_eq!((o.port, o.qtype, o.name.as_str()), (5353, Rtype::SOA, "example."));
        assert_eq!(parse("-6 x.").family, Some(Family::V6));
        assert_eq!(DigOptions::parse(&["-p"]), Err(DigArgsError::MissingArgument('p')));
        assert!(matches!(DigOptions::parse(&["-z"]), Err(DigArgsError::InvalidFlag(_))));
    }

    #[test]
    fn reverse_lookups() {
        let o = parse("-x 192.0.2.1");
        assert_eq!((o.name.as_str(), o.qtype), ("1.2.0.192.in-addr.arpa.", Rtype::PTR));
        let six = parse("-x 2001:db8::1").name;
        assert!(six.starts_with("1.0.0.0.0.0.0.0.") && six.ends_with(".8.b.d.0.1.0.0.2.ip6.arpa."));
        assert_eq!(six.split('.').count(), 32 + 3);
        assert!(matches!(DigOptions::parse(&["-x", "nope"]), Err(DigArgsError::BadReverse(_))));
    }

    #[test]
    fn plus_options_take_prefixes_values_and_no() {
        let o = parse("x. +noall +answer +time=2 +tries=1 +bufsize=512 +noedns +nocmd +rec");
        assert!(!o.display.comments && o.display.answer && !o.display.question && o.recurse);
        assert_eq!((o.timeout, o.tries, o.bufsize, o.edns), (Duration::from_secs(2), 1, 512, None));
        assert_eq!(parse("x. +retry=4").tries, 5);
        assert_eq!(parse("x. +edns=1").edns, Some(1));
        assert!(!parse("x. +noad").ad_flag && parse("x. +cd").cd_flag && parse("x. +vc").tcp);
        assert!(parse("x. +ign").ignore_truncation);
        assert!(parse("x. ANY").tcp && !parse("x. ANY +notcp").tcp, "ANY goes over TCP by default");
    }

    #[test]
    fn bad_options_are_refused_like_dig_does() {
        let err = DigOptions::parse(&["x.", "+frobnicate"]).unwrap_err();
        assert_eq!(err.to_string(), "Invalid option: +frobnicate");
        assert!(matches!(
            DigOptions::parse(&["x.", "+time=0"]),
            Err(DigArgsError::InvalidValue { .. })
        ));
        assert!(matches!(DigOptions::parse(&["x.", "+t"]), Err(DigArgsError::InvalidOption(_))));
        assert!(DigOptions::parse(&["x.", "+trace"]).unwrap().trace);
        assert!(matches!(
            DigOptions::parse(&["x.", "+nssearch"]),
            Err(DigArgsError::Unsupported { .. })
        ));
        assert!(matches!(DigOptions::parse(&["a..b"]), Err(DigArgsError::BadName(_))));
    }
}
