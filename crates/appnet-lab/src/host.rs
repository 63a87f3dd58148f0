//! A lab host as the experiments see it: an address, and where work done "on" that host runs.
//!
//! On loopback every host shares this process's network, so work runs wherever it is awaited.
//! In network namespaces a socket belongs to the namespace of the thread that made it, so each
//! host has its own runtime whose threads live in its namespace; work for the host is spawned
//! there, and everything it starts (server threads, a resolver's queries) stays there.

use std::future::Future;
use std::net::IpAddr;

use crate::LabError;

/// An address and the runtime (if any) of its namespace.
#[derive(Debug, Clone)]
pub struct LabHost {
    /// The host's address.
    pub ip: IpAddr,
    runtime: Option<tokio::runtime::Handle>,
}

impl LabHost {
    /// A host on this process's loopback.
    pub fn loopback(ip: IpAddr) -> Self {
        Self { ip, runtime: None }
    }

    /// A host whose work runs on `runtime` (whose threads are in the host's namespace).
    pub fn in_namespace(ip: IpAddr, runtime: tokio::runtime::Handle) -> Self {
        Self { ip, runtime: Some(runtime) }
    }

    /// Runs `work` on this host and waits for it.
    pub async fn run<F>(&self, work: F) -> Result<F::Output, LabError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match &self.runtime {
            None => Ok(work.await),
            Some(runtime) => runtime
                .spawn(work)
                .await
                .map_err(|error| LabError::new(format!("work on lab host {}: {error}", self.ip))),
        }
    }

    /// Runs `start` on this host: for functions that start tasks or threads (which must start
    /// in the host's namespace) without being async themselves.
    pub fn enter<T>(&self, start: impl FnOnce() -> T) -> T {
        match &self.runtime {
            None => start(),
            Some(runtime) => {
                let _inside = runtime.enter();
                start()
            }
        }
    }
}
