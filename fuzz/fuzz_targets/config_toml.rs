//! TOML configuration loading: any bytes give a config or a `file:line:col` error, never a
//! panic (the location arithmetic turns parser byte spans into lines and columns).
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Config {
    listen: Option<Vec<String>>,
    zone: Option<Vec<String>>,
    workers: Option<u16>,
    service: Option<Service>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Service {
    name: String,
    timeout_ms: Option<u64>,
    allow: Option<Vec<String>>,
}

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else { return };
    if let Err(error) = appnet_service::config::parse::<Config>(Path::new("fuzz.toml"), source) {
        let message = error.to_string();
        assert!(message.starts_with("fuzz.toml:"), "{message}");
    }
});
