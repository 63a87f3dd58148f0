//! A transferred zone written to disk as a master file, atomically: write a temporary file
//! beside it, fsync, rename over the old one, fsync the directory. A crash leaves the old copy
//! or the new one, never half of either; the copy loads with the ordinary zone loader.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::Arc;

use domain::base::{Message, ParsedName};
use domain::rdata::AllRecordData;

use crate::authority::Transfer;
use crate::zone::Zone;

/// Writes `zone` to `path` in master-file format. The records are produced by replaying an
/// AXFR of the zone, so the file holds exactly what a secondary of ours would receive.
pub fn write_zone(zone: &Arc<Zone>, path: &Path) -> io::Result<()> {
    let directory =
        path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or_else(|| Path::new("."));
    fs::create_dir_all(directory)?;
    let temporary = path.with_extension("tmp");
    {
        let mut out = BufWriter::new(File::create(&temporary)?);
        writeln!(out, "; written by appnet after a zone transfer; serial {}", zone.serial())?;
        // `domain` prints some rdata names (SRV targets) without the final dot; with the root
        // as origin they still read back as the absolute names they are.
        writeln!(out, "$ORIGIN .")?;
        let mut transfer = Transfer::for_zone(zone.clone());
        let mut message = Vec::new();
        // The transfer repeats the SOA at its end; the file needs it once.
        let mut remaining = zone.record_count();
        while transfer.next_message(&mut message) {
            let parsed = Message::from_octets(&message[..]).map_err(io::Error::other)?;
            let answer = parsed.answer().map_err(io::Error::other)?;
            for record in answer.limit_to::<AllRecordData<&[u8], ParsedName<&[u8]>>>() {
                let record = record.map_err(io::Error::other)?;
                if remaining > 0 {
                    writeln!(out, "{record}")?;
                    remaining -= 1;
                }
            }
        }
        let file = out.into_inner().map_err(io::IntoInnerError::into_error)?;
        file.sync_all()?;
    }
    fs::rename(&temporary, path)?;
    File::open(directory)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_zone_loads_back_identical() {
        let source = include_str!("../../testdata/example.lab.zone");
        let zone = Arc::new(crate::zone::parse_str(source, Path::new("z"), None).unwrap());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("copies/example.lab.zone");
        write_zone(&zone, &path).expect("written");
        let text = fs::read_to_string(&path).unwrap();
        let copy = crate::zone::load_file(&path, None).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(copy.serial(), zone.serial());
        assert_eq!(copy.record_count(), zone.record_count());
        for node in zone.nodes() {
            let mut lower = [0; 255];
            let name = crate::zone::name::lowercase_into(&node.name, &mut lower);
            assert_eq!(copy.find(name).map(|n| &n.rrsets), Some(&node.rrsets));
        }
        assert!(!path.with_extension("tmp").exists(), "temporary renamed away");
    }
}
