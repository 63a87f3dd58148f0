//! `appnet lab`: a small Internet on this machine, and the experiments run on it.
//!
//! The lab places appnet's servers on distinct hosts — loopback addresses (127.53.0.1, …) or
//! network namespaces of their own (198.18.0.1, …) — runs one scenario per system and writes a
//! report. One module per concern:
//!
//! - [`environment`]: what this machine allows — loopback hosts, IPv6, network namespaces with
//!   netem — probed before anything starts, and stated in the report.
//! - [`catalog`]: the scenarios, one per system, with what each measures and whether it is built.
//! - [`pageload`]: the HTTP experiment — Page Load Time per fetching mode, RTT and bandwidth.
//! - [`cache`]: the caching experiment — clients behind the shared cache playing a Zipf
//!   workload: hit ratio over time, load taken off the origin, hit against miss latency.
//! - [`dns`]: the DNS scenario — roots, a TLD, a site zone with a replica, a resolver — and its
//!   measurements.
//! - [`topology`]: how hosts are joined — network namespaces, the in-process emulator, or plain
//!   loopback — chosen from `--links` and the machine.
//! - [`netns`]: hosts as network namespaces on a bridge, links shaped by netem (or tbf).
//! - [`link`]: the in-process link emulator (delay and bandwidth on a relay in front of a
//!   server), for `--rtt` and `--bandwidth` where namespaces cannot be had.
//! - [`host`]: a host as experiments see it — an address, and where its work runs.
//! - [`net`]: one experiment's hosts by number and its links, on either topology.
//! - [`report`]: the figures with their units, written as `report.json` and `report.html`
//!   (inline SVG charts, no server or network needed to view it).
#![warn(missing_docs)]

pub mod cache;
pub mod catalog;
pub mod dns;
pub mod environment;
pub mod host;
pub mod link;
pub mod net;
pub mod netns;
pub mod origin;
pub mod pageload;
pub mod report;
pub mod topology;
pub mod zipf;

/// Why the lab could not finish an experiment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct LabError {
    message: String,
}

impl LabError {
    /// An error saying `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Self { message: message.into() }
    }
}

impl From<std::io::Error> for LabError {
    fn from(error: std::io::Error) -> Self {
        Self::new(error.to_string())
    }
}

impl From<appnet_dns::zone::LoadError> for LabError {
    fn from(error: appnet_dns::zone::LoadError) -> Self {
        Self::new(error.to_string())
    }
}
