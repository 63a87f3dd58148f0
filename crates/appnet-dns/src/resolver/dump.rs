//! The cache as text: every live entry in master-file form, negative entries as comments —
//! what `unbound-control dump_cache` gives an operator, written on SIGUSR1.

use std::fmt::Write as _;
use std::time::Instant;

use domain::base::ParsedName;
use domain::base::iana::Rtype;
use domain::base::rdata::ParseRecordData;
use domain::base::zonefile_fmt::{DisplayKind, ZonefileFmt};
use domain::dep::octseq::Parser;
use domain::rdata::AllRecordData;

use super::cache::Cache;
use crate::zone::name;

/// The live entries of `cache` at `now`, sorted by name and type.
pub fn render(cache: &Cache, now: Instant) -> String {
    let mut lines = cache.dump(now);
    lines.sort_by(|a, b| (&a.name, a.rtype).cmp(&(&b.name, b.rtype)));
    let mut out =
        format!("; appnet resolver cache: {} entries, {} bytes\n", lines.len(), cache.bytes());
    for line in lines {
        let owner = name::display(&line.name);
        match &line.records {
            Some(rdatas) => {
                for rdata in rdatas {
                    let rtype = Rtype::from_int(line.rtype);
                    let _ = writeln!(
                        out,
                        "{owner}\t{}\tIN\t{rtype}\t{}",
                        line.ttl,
                        presentation(rtype, rdata)
                    );
                }
            }
            None if line.rtype == 0 => {
                let _ = writeln!(out, "; {owner}\t{}\tNXDOMAIN", line.ttl);
            }
            None => {
                let _ = writeln!(
                    out,
                    "; {owner}\t{}\tIN\t{}\tNODATA",
                    line.ttl,
                    Rtype::from_int(line.rtype)
                );
            }
        }
    }
    out
}

/// Record data in presentation form (RFC 3597 generic form for what cannot be parsed).
fn presentation(rtype: Rtype, rdata: &[u8]) -> String {
    let mut parser = Parser::from_ref(rdata);
    match AllRecordData::<&[u8], ParsedName<&[u8]>>::parse_rdata(rtype, &mut parser) {
        Ok(Some(data)) => data.display_zonefile(DisplayKind::Simple).to_string(),
        _ => {
            let hex: String = rdata.iter().map(|b| format!("{b:02X}")).collect();
            format!("\\# {} {hex}", rdata.len())
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::resolver::cache::{CacheConfig, Trust};

    #[test]
    fn dumps_records_and_negative_entries() {
        #[allow(clippy::disallowed_methods)]
        let t0 = Instant::now();
        let mut cache = Cache::new(CacheConfig::default());
        let www = b"\x03www\x03lab\x00";
        cache.insert_records(www, 1, 300, vec![vec![192, 0, 2, 1].into()], Trust::Answer, t0);
        cache.insert_records(
            b"\x03lab\x00",
            2,
            3600,
            vec![b"\x02ns\x03lab\x00"[..].into()],
            Trust::Authority,
            t0,
        );
        cache.insert_negative(b"\x02nx\x03lab\x00", 1, true, None, 60, t0);
        cache.insert_negative(www, 28, false, None, 60, t0);
        let text = render(&cache, t0 + Duration::from_secs(10));
        assert!(text.contains("www.lab.\t290\tIN\tA\t192.0.2.1\n"), "{text}");
        assert!(text.contains("lab.\t3590\tIN\tNS\tns.lab.\n"), "{text}");
        assert!(text.contains("; nx.lab.\t50\tNXDOMAIN\n"), "{text}");
        assert!(text.contains("; www.lab.\t50\tIN\tAAAA\tNODATA\n"), "{text}");
    }
}
