//! The gate an HTTP/2 connection's streams pass before handing body bytes to `h2`: the
//! [`Scheduler`] behind a lock, with the waiting and waking around it.
//!
//! A stream passes its first [`FREE`] bytes without asking, so that small responses — most of
//! a page, and every request of a 1 KiB benchmark — cost nothing here: at most one frame of a
//! less urgent response goes out beside a more urgent one, as one frame already being written
//! would. A larger response joins the scheduler when it reaches the gate, and leaves it when
//! its stream is dropped.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use tokio::sync::Notify;

use crate::coalesce::LastWrite;
use crate::priority::{Priority, Scheduler, Turn};

/// Bytes a stream sends before it asks for its turn: one frame at the default frame size.
pub(crate) const FREE: usize = 16 * 1024;

/// One connection's gate.
#[derive(Debug)]
pub(crate) struct Turns {
    scheduler: Mutex<Scheduler>,
    /// Woken when a stream leaves, so those behind it ask again.
    left: Notify,
    /// When the connection last wrote to its socket.
    last_write: Arc<LastWrite>,
}

impl Turns {
    /// The gate of a connection whose writes `last_write` notes.
    pub(crate) fn new(last_write: Arc<LastWrite>) -> Self {
        Self { scheduler: Mutex::default(), left: Notify::new(), last_write }
    }

    /// A stream's place at this gate.
    pub(crate) fn stream(self: &Arc<Self>, id: u32, priority: Priority) -> Place {
        Place { turns: self.clone(), id, priority, sent: 0, joined: false }
    }

    fn scheduler(&self) -> std::sync::MutexGuard<'_, Scheduler> {
        self.scheduler.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One stream at the gate.
#[derive(Debug)]
pub(crate) struct Place {
    turns: Arc<Turns>,
    id: u32,
    priority: Priority,
    sent: usize,
    joined: bool,
}

impl Place {
    /// Waits until this stream may hand bytes to the connection.
    pub(crate) async fn wait(&mut self) {
        if self.sent < FREE {
            return;
        }
        if !self.joined {
            self.joined = true;
            self.turns.scheduler().open(self.id, self.priority, Instant::now());
        }
        loop {
            let left = self.turns.left.notified();
            tokio::pin!(left);
            // Registered before asking, so a stream leaving in between still wakes this one.
            left.as_mut().enable();
            let last_write = self.turns.last_write.last();
            let until = match self.turns.scheduler().turn(self.id, Instant::now(), last_write) {
                Turn::Go => return,
                Turn::Wait(until) => until,
            };
            tokio::select! {
                () = left => {}
                () = tokio::time::sleep_until(until.into()) => {}
            }
        }
    }

    /// How much of `wanted` bytes to ask `h2` for at once: all, once past the free bytes; until
    /// then no more than what is left of them.
    pub(crate) fn piece(&self, wanted: usize) -> usize {
        if self.sent < FREE { wanted.min(FREE - self.sent) } else { wanted }
    }

    /// This stream handed `bytes` to the connection.
    pub(crate) fn sent(&mut self, bytes: usize) {
        self.sent += bytes;
        if self.joined {
            self.turns.scheduler().sent(self.id, Instant::now());
        }
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        if self.joined {
            self.turns.scheduler().close(self.id);
            self.turns.left.notify_waiters();
        }
    }
}
