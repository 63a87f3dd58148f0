//! Shared by the DNS interop tests: an in-process authority on a free port, raw UDP/TCP
//! exchanges, and responses normalised for comparison between servers.

#![allow(dead_code, unreachable_pub)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use appnet_dns::server::{self, AuthorityOptions, Running, Settings, ZoneSource, Zones};
use appnet_service::Metrics;
use domain::base::iana::Rtype;
use domain::base::name::Name;
use domain::base::{Message, MessageBuilder, ParsedName};
use domain::rdata::AllRecordData;

pub const TEST_ZONE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/example.lab.zone");

/// appnet's authority serving the test zone on a free loopback port, in this process.
pub struct Appnet {
    pub addr: SocketAddr,
    running: Option<Running>,
    pub runtime: tokio::runtime::Runtime,
    pub zones: Arc<Zones>,
}

impl Appnet {
    pub fn start(zone_file: &Path) -> Self {
        Self::start_with(zone_file, AuthorityOptions::default())
    }

    pub fn start_with(zone_file: &Path, options: AuthorityOptions) -> Self {
        Self::start_full(zone_file, options, Settings::default())
    }

    pub fn start_full(zone_file: &Path, options: AuthorityOptions, settings: Settings) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let source = ZoneSource { origin: None, path: zone_file.to_owned() };
        let zones = Arc::new(Zones::load(vec![source], options).expect("test zone loads"));
        let settings = Settings {
            listen: vec![SocketAddr::from(([127, 0, 0, 1], 0))],
            workers: 2,
            ..settings
        };
        let running = runtime
            .block_on(server::spawn(&settings, zones.clone(), &Metrics::new()))
            .expect("server starts");
        let addr = running.local_addrs()[0];
        Self { addr, running: Some(running), runtime, zones }
    }
}

impl Drop for Appnet {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            self.runtime.block_on(running.shutdown());
        }
    }
}

/// A query for `name`/`qtype`, with EDNS (4096 bytes) unless `edns` is false.
pub fn query(name: &str, qtype: Rtype, edns: bool) -> Vec<u8> {
    let mut builder = MessageBuilder::new_vec();
    builder.header_mut().set_id(0x5a5a);
    let mut question = builder.question();
    let name = Name::<Vec<u8>>::from_str(name).expect("valid name");
    question.push((&name, qtype)).expect("fits");
    let mut additional = question.additional();
    if edns {
        additional
            .opt(|opt| {
                opt.set_udp_payload_size(4096);
                Ok(())
            })
            .expect("fits");
    }
    additional.finish()
}

pub fn udp(addr: SocketAddr, query: &[u8]) -> Vec<u8> {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    socket.set_read_timeout(Some(Duration::from_secs(2))).expect("timeout");
    for _ in 0..3 {
        socket.send_to(query, addr).expect("send");
        let mut buffer = vec![0; 65_535];
        if let Ok((length, _)) = socket.recv_from(&mut buffer) {
            buffer.truncate(length);
            return buffer;
        }
    }
    panic!("no UDP answer from {addr}");
}

pub fn tcp(addr: SocketAddr, queries: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    // All queries first, then the answers: pipelining.
    let mut framed = Vec::new();
    for query in queries {
        framed.extend_from_slice(&(query.len() as u16).to_be_bytes());
        framed.extend_from_slice(query);
    }
    stream.write_all(&framed).expect("send");
    queries
        .iter()
        .map(|_| {
            let mut length = [0; 2];
            stream.read_exact(&mut length).expect("length");
            let mut message = vec![0; usize::from(u16::from_be_bytes(length))];
            stream.read_exact(&mut message).expect("message");
            message
        })
        .collect()
}

/// A response as comparable text: rcode and flags, then each section sorted, lowercased,
/// OPT left out (servers differ in EDNS options they add).
pub fn normalize(response: &[u8]) -> String {
    let message = Message::from_octets(response).expect("a DNS message");
    let header = message.header();
    let mut text = format!(
        "rcode={} aa={} tc={} qr={}\n",
        message.opt_rcode(),
        header.aa(),
        header.tc(),
        header.qr()
    );
    let answer = message.answer().expect("answer section");
    let authority = answer.next_section().expect("authority").expect("present");
    let additional = authority.next_section().expect("additional").expect("present");
    for (label, section) in
        [("answer", answer), ("authority", authority), ("additional", additional)]
    {
        let mut lines: Vec<String> = section
            .limit_to::<AllRecordData<&[u8], ParsedName<&[u8]>>>()
            .map(|record| record.expect("record parses"))
            .filter(|record| record.rtype() != Rtype::OPT)
            .map(|record| record.to_string().replace('\t', " ").to_ascii_lowercase())
            .collect();
        lines.sort();
        for line in lines {
            text.push_str(&format!("{label}: {line}\n"));
        }
    }
    text
}
