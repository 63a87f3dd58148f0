//! Zone file loading: any bytes give a zone or a `file:line` error — never a panic, and never
//! a read outside the input (an `$INCLUDE` of a missing file is an error like any other).
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The loader catches a known panic inside domain's scanner and reports it as an error;
    // libFuzzer's hook would abort at the panic itself. This hook stays quiet about that one
    // and prints any other; a panic that escapes still aborts in libfuzzer-sys's own catch.
    static QUIET_HOOK: std::sync::Once = std::sync::Once::new();
    QUIET_HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let known = info.location().is_some_and(|l| l.file().ends_with("zonefile/inplace.rs"));
            if !known {
                default(info);
            }
        }));
    });
    let path = Path::new("/nonexistent-fuzz-dir/fuzz.zone");
    for origin in [None, Some("example.lab.")] {
        match appnet_dns::zone::parse_bytes(data, path, origin) {
            Ok(zone) => assert!(zone.record_count() >= 2, "SOA and NS at least"),
            Err(error) => {
                let text = error.to_string();
                assert!(text.starts_with("/nonexistent-fuzz-dir/"), "{text}");
            }
        }
    }
});
