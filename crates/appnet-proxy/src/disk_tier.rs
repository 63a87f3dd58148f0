//! The disk under the memory store: writes and removals go to one writer thread in the order
//! they were made (so a removal is never overtaken by the write it undoes), and a key with an
//! operation still queued is never read from disk — the memory tier and the queue know
//! better than the file. Reads happen on the caller's (blocking) thread.

use std::collections::HashMap;
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};

use crate::disk::DiskStore;
use crate::store::Object;

/// Writes waiting at most; beyond, new writes are dropped (the copy stays in memory only),
/// so a disk slower than the traffic costs disk hits, never memory or latency.
const QUEUE: usize = 1024;

enum Op {
    Put(String, Arc<Object>),
    Remove(String),
}

impl Op {
    fn key(&self) -> &str {
        match self {
            Self::Put(key, _) | Self::Remove(key) => key,
        }
    }
}

/// The disk tier: the store and its writer.
#[derive(Debug)]
pub(crate) struct DiskTier {
    disk: Arc<DiskStore>,
    queue: SyncSender<Op>,
    /// Operations queued per key.
    pending: Arc<Mutex<HashMap<String, u32>>>,
}

impl DiskTier {
    /// Starts the writer for `disk`.
    pub(crate) fn new(disk: DiskStore) -> std::io::Result<Self> {
        let disk = Arc::new(disk);
        let (queue, ops) = mpsc::sync_channel::<Op>(QUEUE);
        let pending: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
        let (writer_disk, writer_pending) = (disk.clone(), pending.clone());
        std::thread::Builder::new().name("cache-disk-writer".into()).spawn(move || {
            for op in ops {
                let result = match &op {
                    Op::Put(key, object) => writer_disk.put(key, object),
                    Op::Remove(key) => writer_disk.remove(key),
                };
                if let Err(error) = result {
                    tracing::warn!(key = op.key(), %error, "disk cache write failed");
                }
                done(&writer_pending, op.key());
            }
        })?;
        Ok(Self { disk, queue, pending })
    }

    /// The keys the disk held when it was opened.
    pub(crate) fn keys_at_open(&self) -> Vec<String> {
        self.disk.take_keys_at_open()
    }

    /// Queues `object` to be written under `key` (dropped if the queue is full).
    pub(crate) fn put(&self, key: &str, object: Arc<Object>) {
        self.mark(key);
        match self.queue.try_send(Op::Put(key.to_owned(), object)) {
            Ok(()) => {}
            Err(TrySendError::Full(op) | TrySendError::Disconnected(op)) => {
                tracing::debug!(key = op.key(), "disk writes behind; this copy stays in memory");
                done(&self.pending, op.key());
            }
        }
    }

    /// Queues the removal of `key`; waits for room rather than dropping it, since a lost
    /// removal could bring an invalidated response back.
    pub(crate) fn remove(&self, key: &str) {
        self.mark(key);
        if self.queue.send(Op::Remove(key.to_owned())).is_err() {
            // The writer is gone (it never is while the tier lives): remove inline.
            let _ = self.disk.remove(key);
            done(&self.pending, key);
        }
    }

    /// The object under `key` on disk, unless an operation on it is still queued. Blocking.
    pub(crate) fn get(&self, key: &str) -> Option<Object> {
        if self.pending.lock().unwrap_or_else(PoisonError::into_inner).contains_key(key) {
            return None;
        }
        self.disk.get(key)
    }

    /// Bytes and entries on disk, and entries dropped for failed checks.
    pub(crate) fn counters(&self) -> crate::disk::Counters {
        self.disk.counters()
    }

    fn mark(&self, key: &str) {
        *self
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(key.to_owned())
            .or_default() += 1;
    }
}

fn done(pending: &Mutex<HashMap<String, u32>>, key: &str) {
    let mut pending = pending.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(count) = pending.get_mut(key) {
        *count -= 1;
        if *count == 0 {
            pending.remove(key);
        }
    }
}
