//! The disk under the memory store: writes and removals go to one writer thread in the order
//! they were made (so a removal is never overtaken by the write it undoes), and a key with an
//! operation still queued is never read from disk — the memory tier and the queue know
//! better than the file. Reads happen on the caller's (blocking) thread.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::disk::DiskStore;
use crate::store::Object;

/// Writes waiting at most; beyond, new writes are dropped (the copy stays in memory only),
/// so a disk slower than the traffic costs disk hits, never memory or latency. Removals are
/// never dropped (nor do they wait: a few bytes each).
const QUEUE: usize = 1024;

enum Op {
    Put(String, Arc<Object>),
    Remove(String),
    /// Answered once everything queued before it is done.
    Flush(mpsc::SyncSender<()>),
}

impl Op {
    fn key(&self) -> &str {
        match self {
            Self::Put(key, _) | Self::Remove(key) => key,
            Self::Flush(_) => "",
        }
    }
}

/// The disk tier: the store and its writer.
#[derive(Debug)]
pub(crate) struct DiskTier {
    disk: Arc<DiskStore>,
    queue: Sender<Op>,
    /// Operations queued per key.
    pending: Arc<Mutex<HashMap<String, u32>>>,
    /// Puts queued now.
    queued_puts: Arc<AtomicUsize>,
}

impl DiskTier {
    /// Starts the writer for `disk`.
    pub(crate) fn new(disk: DiskStore) -> std::io::Result<Self> {
        let disk = Arc::new(disk);
        let (queue, ops) = mpsc::channel::<Op>();
        let pending: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
        let queued_puts: Arc<AtomicUsize> = Arc::default();
        let (writer_disk, writer_pending, writer_puts) =
            (disk.clone(), pending.clone(), queued_puts.clone());
        std::thread::Builder::new().name("cache-disk-writer".into()).spawn(move || {
            for op in ops {
                let result = match &op {
                    Op::Put(key, object) => {
                        writer_puts.fetch_sub(1, Ordering::Relaxed);
                        writer_disk.put(key, object)
                    }
                    Op::Remove(key) => writer_disk.remove(key),
                    Op::Flush(done) => {
                        let _ = done.send(());
                        continue;
                    }
                };
                if let Err(error) = result {
                    tracing::warn!(key = op.key(), %error, "disk cache write failed");
                }
                done(&writer_pending, op.key());
            }
        })?;
        Ok(Self { disk, queue, pending, queued_puts })
    }

    /// The keys the disk held when it was opened.
    pub(crate) fn keys_at_open(&self) -> Vec<String> {
        self.disk.take_keys_at_open()
    }

    /// Queues `object` to be written under `key`. With the queue full, the write is dropped
    /// and the key's older entry, if any, removed instead: the disk never keeps a copy older
    /// than the one in memory.
    pub(crate) fn put(&self, key: &str, object: Arc<Object>) {
        if self.queued_puts.fetch_add(1, Ordering::Relaxed) >= QUEUE {
            self.queued_puts.fetch_sub(1, Ordering::Relaxed);
            tracing::debug!(key, "disk writes behind; this copy stays in memory only");
            self.remove(key);
            return;
        }
        self.mark(key);
        if self.queue.send(Op::Put(key.to_owned(), object)).is_err() {
            self.queued_puts.fetch_sub(1, Ordering::Relaxed);
            done(&self.pending, key);
        }
    }

    /// Queues the removal of `key` (never dropped: a lost removal could bring an invalidated
    /// response back after a restart).
    pub(crate) fn remove(&self, key: &str) {
        self.mark(key);
        if self.queue.send(Op::Remove(key.to_owned())).is_err() {
            // The writer is gone (it never is while the tier lives).
            done(&self.pending, key);
        }
    }

    /// Whether an operation on `key` is queued.
    pub(crate) fn is_pending(&self, key: &str) -> bool {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner).contains_key(key)
    }

    /// Waits (up to `limit`) until everything queued so far is on disk; whether it was.
    pub(crate) fn flush(&self, limit: Duration) -> bool {
        let (done, wait) = mpsc::sync_channel(1);
        self.queue.send(Op::Flush(done)).is_ok() && wait.recv_timeout(limit).is_ok()
    }

    /// The object under `key` on disk, unless an operation on it is still queued. Blocking.
    pub(crate) fn get(&self, key: &str) -> Option<Object> {
        if self.is_pending(key) {
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
