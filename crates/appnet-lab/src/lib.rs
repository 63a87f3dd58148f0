//! `appnet lab`: a small Internet on this machine, and the experiments run on it.
//!
//! The lab places appnet's servers on distinct loopback hosts (127.0.0.2, 127.0.0.3, …), joins
//! client groups to them over links with delay and bandwidth, runs one scenario per system and
//! writes a report. This crate grows one module per concern:
//!
//! - [`environment`]: what this machine allows — loopback hosts, IPv6, network namespaces with
//!   netem — probed before anything starts, and stated in the report.
//! - [`catalog`]: the scenarios, one per system, with what each measures and whether it is built.
//!
//! Hosts, links, the scenario runner and the report arrive with the lab issue; each system issue
//! then adds its scenario.
#![warn(missing_docs)]

pub mod catalog;
pub mod environment;
