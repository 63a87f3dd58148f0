//! The zones being served, loaded from their files and swapped whole on reload.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::{ArcSwap, Guard};
use ipnet::IpNet;
use tokio::sync::Notify;

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
    /// Secondary zones (wire apex) and the primaries whose NOTIFY is accepted for each.
    pub notify_sources: Vec<(Vec<u8>, Vec<IpAddr>)>,
}

impl AuthorityOptions {
    /// Accepts NOTIFY for each secondary zone from its primaries.
    pub fn accept_notify_for(&mut self, secondaries: &[super::SecondarySpec]) {
        for spec in secondaries {
            if let Some(apex) = spec.apex() {
                self.notify_sources
                    .push((apex, spec.primaries.iter().map(SocketAddr::ip).collect()));
            }
        }
    }
}

impl Default for AuthorityOptions {
    fn default() -> Self {
        Self {
            udp_size: crate::authority::DEFAULT_UDP_SIZE,
            transfer_acl: Vec::new(),
            notify_sources: Vec::new(),
        }
    }
}

/// Zone files and the [`Authority`] built from them.
#[derive(Debug)]
pub struct Zones {
    sources: Vec<ZoneSource>,
    options: AuthorityOptions,
    current: ArcSwap<Authority>,
    /// What is served; changes (reloads, transfers) take this lock, so they run one at a time.
    loaded: Mutex<Loaded>,
    /// Wakes the secondary driver of a zone (by lowercase wire apex) when NOTIFY arrives.
    refresh_signals: Mutex<HashMap<Box<[u8]>, Arc<Notify>>>,
}

/// The zones being served: one per zone file source, in order, and the secondary copies.
#[derive(Debug, Default)]
struct Loaded {
    files: Vec<Arc<Zone>>,
    secondaries: BTreeMap<Box<[u8]>, Arc<Zone>>,
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
        let mut files = Vec::with_capacity(sources.len());
        for source in &sources {
            files.push(Arc::new(load_one(source)?));
        }
        let loaded = Loaded { files, secondaries: BTreeMap::new() };
        let current = ArcSwap::from_pointee(build(&loaded, &options));
        Ok(Self {
            sources,
            options,
            current,
            loaded: Mutex::new(loaded),
            refresh_signals: Mutex::new(HashMap::new()),
        })
    }

    /// Every zone loaded from a file.
    pub fn loaded(&self) -> Vec<Arc<Zone>> {
        self.lock().files.clone()
    }

    /// Serves `zone` (a secondary copy), replacing any earlier copy with its apex.
    pub fn install_secondary(&self, zone: Arc<Zone>) {
        let mut loaded = self.lock();
        loaded.secondaries.insert(zone.apex().into(), zone);
        self.current.store(Arc::new(build(&loaded, &self.options)));
    }

    /// Stops serving the secondary zone with lowercase wire apex `apex` (it expired).
    pub fn remove_secondary(&self, apex: &[u8]) {
        let mut loaded = self.lock();
        if loaded.secondaries.remove(apex).is_some() {
            self.current.store(Arc::new(build(&loaded, &self.options)));
        }
    }

    /// The signal that wakes the secondary driver of `apex` (lowercase wire form).
    pub fn refresh_signal(&self, apex: &[u8]) -> Arc<Notify> {
        let mut signals = self.refresh_signals.lock().unwrap_or_else(PoisonError::into_inner);
        signals.entry(apex.into()).or_default().clone()
    }

    /// Wakes the secondary driver of `apex`: a NOTIFY for it arrived.
    pub fn signal_refresh(&self, apex: &[u8]) {
        self.refresh_signal(apex).notify_one();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Loaded> {
        self.loaded.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The authority to answer with. Holding the guard pins that version of every zone.
    pub fn authority(&self) -> Guard<Arc<Authority>> {
        self.current.load()
    }

    /// Reloads every zone file. A zone whose file fails keeps its old data; the new set is
    /// swapped in at once, so no query sees a mix of old and new for one zone.
    pub fn reload(&self) -> ReloadReport {
        let mut loaded = self.lock();
        let mut report = ReloadReport::default();
        for (source, slot) in self.sources.iter().zip(loaded.files.iter_mut()) {
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

fn build(loaded: &Loaded, options: &AuthorityOptions) -> Authority {
    let zones = loaded.files.iter().chain(loaded.secondaries.values()).cloned();
    let mut authority = Authority::new(zones);
    authority.set_udp_size(options.udp_size).set_transfer_acl(options.transfer_acl.clone());
    for (apex, primaries) in &options.notify_sources {
        authority.accept_notify(apex, primaries.clone());
    }
    authority
}
