//! The loader in persistent mode: one HTTP/1.1 connection per host, each request written when
//! the response before it has been read — a browser of HTTP/1.1's early days, or one allowed a
//! single connection per server.
//!
//! It speaks through the pipelining connection (`pipeline.rs`) with one request outstanding,
//! not through hyper's client: on the bench page (`bench/workloads/page-loader`) hyper's
//! request and response handling cost ~20 µs more per request than h2load's
//! (`h2load --h1 -m1`: 1.29-1.40x before), which is most of the loader's own time here.

use std::collections::HashMap;

use super::super::LoadError;
use super::super::connection::Origin;
use super::super::pipeline::Pipeline;
use super::{Loader, SCAN_BATCH};

impl Loader<'_> {
    /// Persistent connections: the next resource is asked for on its host's connection (opened
    /// when there is none, or the server closed it) once the last response is in; what the
    /// responses reveal joins the queue behind what the documents' scans found.
    pub(super) async fn run_persistent(&mut self) -> Result<(), LoadError> {
        let mut pipes: HashMap<Origin, (Pipeline, usize)> = HashMap::new();
        loop {
            let scanning = self.scan(SCAN_BATCH);
            let Some(wanted) = self.queue.pop_front() else {
                if scanning {
                    continue;
                }
                return Ok(());
            };
            let Some(wanted) = self.through_cache(wanted)? else { continue };
            let origin = match Origin::of(&wanted.found.url) {
                Ok(origin) => origin,
                Err(error) => {
                    self.fail_all(vec![wanted], &error)?;
                    continue;
                }
            };
            self.exchange_batch(&mut pipes, &origin, vec![wanted]).await?;
        }
    }
}
