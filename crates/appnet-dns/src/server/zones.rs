//! The zones being served, loaded from their files and swapped whole on reload.

use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::{ArcSwap, Guard};
use ipnet::IpNet;

use super::config::ZoneSource;
use crate::authority::Authority;
use crate::zone::{self, LoadError, Zone};

/// How the [`Authority`] built from the zones behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorityOptions {
    /// Largest UDP response for EDNS clients.
    pub udp_size: u16,
    /// Networks allowed to transfer zones.
    pub transfer_acl: Vec<IpNet>,
}

impl Default for AuthorityOptions {
    fn default() -> Self {
        Self { udp_size: crate::authority::DEFAULT_UDP_SIZE, transfer_acl: Vec::new() }
    }
}

/// Zone files and the [`Authority`] built from them.
#[derive(Debug)]
pub struct Zones {
    sources: Vec<ZoneSource>,
    options: AuthorityOptions,
    current: ArcSwap<Authority>,
    /// The zone now served for each source, in source order; reloads run one at a time.
    loaded: Mutex<Vec<Arc<Zone>>>,
}

/// What a reload did.
#[derive(Debug, Default)]
pub struct ReloadReport {
    /// Zones loaded from their files anew.
    pub reloaded: usize,
    /// Zones whose new file was bad: the old data keeps serving.
    pub kept: Vec<LoadError>,
    /// Zones whose serial changed: their secondaries should be notified.
    pub changed: Vec<Arc<Zone>>,
}

impl Zones {
    /// Loads every source; any error fails the start (a server must not come up half-empty).
    pub fn load(sources: Vec<ZoneSource>, options: AuthorityOptions) -> Result<Self, LoadError> {
        let mut loaded = Vec::with_capacity(sources.len());
        for source in &sources {
            loaded.push(Arc::new(load_one(source)?));
        }
        let current = ArcSwap::from_pointee(build(&loaded, &options));
        Ok(Self { sources, options, current, loaded: Mutex::new(loaded) })
    }

    /// Every zone now served.
    pub fn loaded(&self) -> Vec<Arc<Zone>> {
        self.loaded.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The authority to answer with. Holding the guard pins that version of every zone.
    pub fn authority(&self) -> Guard<Arc<Authority>> {
        self.current.load()
    }

    /// Reloads every zone file. A zone whose file fails keeps its old data; the new set is
    /// swapped in at once, so no query sees a mix of old and new for one zone.
    pub fn reload(&self) -> ReloadReport {
        let mut loaded = self.loaded.lock().unwrap_or_else(PoisonError::into_inner);
        let mut report = ReloadReport::default();
        for (source, slot) in self.sources.iter().zip(loaded.iter_mut()) {
            match load_one(source) {
                Ok(zone) => {
                    report.reloaded += 1;
                    let changed = zone.serial() != slot.serial();
                    *slot = Arc::new(zone);
                    if changed {
                        report.changed.push(slot.clone());
                    }
                }
                Err(error) => {
                    tracing::error!("{error}; the zone keeps serving its previous data");
                    report.kept.push(error);
                }
            }
        }
        self.current.store(Arc::new(build(&loaded, &self.options)));
        report
    }
}

fn load_one(source: &ZoneSource) -> Result<Zone, LoadError> {
    let started = std::time::Instant::now();
    let zone = zone::load_file(&source.path, source.origin.as_deref())?;
    tracing::info!(
        zone = %zone::name::display(zone.apex()),
        serial = zone.serial(),
        records = zone.record_count(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "zone loaded from {}",
        source.path.display()
    );
    Ok(zone)
}

fn build(zones: &[Arc<Zone>], options: &AuthorityOptions) -> Authority {
    let mut authority = Authority::new(zones.iter().cloned());
    authority.set_udp_size(options.udp_size).set_transfer_acl(options.transfer_acl.clone());
    authority
}
