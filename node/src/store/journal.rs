//! The replication backlog: the most recent effects (see `effect`), addressed by
//! replication offset, in a ring of fixed capacity.
//!
//! Offsets count bytes since the replication id began, so a replica that knows
//! its offset can resume exactly where it stopped, from this node or from a
//! replica promoted in its place (which holds the same bytes at the same
//! offsets). A replica too far behind finds its offset gone and resyncs from a
//! snapshot: a slow replica costs a resync, never unbounded memory.

use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};

/// The default backlog (`repl-backlog-size`): a few seconds of heavy writes.
pub const DEFAULT_CAPACITY: usize = shoal_core::config::DEFAULT_REPL_BACKLOG as usize;

/// The requested offset is no longer (or not yet) in the backlog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gone;

struct Ring {
    buf: VecDeque<u8>,
    /// Offset of `buf[0]`.
    start: u64,
    cap: usize,
}

pub struct Journal {
    ring: Mutex<Ring>,
    /// A reader waits for bytes: the next append wakes it.
    waiting: AtomicBool,
    notify: tokio::sync::Notify,
}

impl Journal {
    pub fn new(cap: usize) -> Journal {
        Journal {
            ring: Mutex::new(Ring {
                buf: VecDeque::new(),
                start: 0,
                cap: cap.max(1),
            }),
            waiting: AtomicBool::new(false),
            notify: tokio::sync::Notify::new(),
        }
    }

    /// Appends bytes, dropping the oldest beyond the capacity.
    pub fn append(&self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        {
            let mut r = self.ring.lock();
            r.buf.extend(bytes);
            let over = r.buf.len().saturating_sub(r.cap);
            if over > 0 {
                r.buf.drain(..over);
                r.start += over as u64;
            }
        }
        // A reader sets `waiting` before it looks (under the ring's lock), so
        // either it saw these bytes or it is woken here.
        if self.waiting.swap(false, Ordering::SeqCst) {
            self.notify.notify_waiters();
        }
    }

    /// `(first offset held, next offset)`.
    pub fn bounds(&self) -> (u64, u64) {
        let r = self.ring.lock();
        (r.start, r.start + r.buf.len() as u64)
    }

    /// The offset the next byte will have (`master_repl_offset`).
    pub fn end(&self) -> u64 {
        self.bounds().1
    }

    pub fn capacity(&self) -> usize {
        self.ring.lock().cap
    }

    /// Resizes the backlog (`repl-backlog-size`, CONFIG SET): shrinking drops
    /// the oldest bytes, as appending past the capacity would, and gives their
    /// memory back.
    pub fn set_capacity(&self, cap: usize) {
        let mut r = self.ring.lock();
        r.cap = cap.max(1);
        let over = r.buf.len().saturating_sub(r.cap);
        if over > 0 {
            r.buf.drain(..over);
            r.start += over as u64;
            r.buf.shrink_to_fit();
        }
    }

    /// Copies up to `max` bytes from offset `from` into `out`; returns how many.
    pub fn read(&self, from: u64, max: usize, out: &mut Vec<u8>) -> Result<usize, Gone> {
        let r = self.ring.lock();
        let end = r.start + r.buf.len() as u64;
        if from < r.start || from > end {
            return Err(Gone);
        }
        let skip = (from - r.start) as usize;
        let n = (r.buf.len() - skip).min(max);
        let (a, b) = r.buf.as_slices();
        if skip < a.len() {
            let from_a = n.min(a.len() - skip);
            out.extend_from_slice(&a[skip..skip + from_a]);
            out.extend_from_slice(&b[..n - from_a]);
        } else {
            let s = skip - a.len();
            out.extend_from_slice(&b[s..s + n]);
        }
        Ok(n)
    }

    /// Empties the backlog so that it continues at `offset` (a replica that has
    /// just loaded a snapshot taken at `offset`).
    pub fn reset(&self, offset: u64) {
        let mut r = self.ring.lock();
        r.buf.clear();
        r.start = offset;
    }

    /// Returns once the backlog extends past `offset`.
    pub async fn wait_past(&self, offset: u64) {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            self.waiting.store(true, Ordering::SeqCst);
            if self.end() > offset {
                return;
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_by_offset_and_forgets_the_oldest() {
        let j = Journal::new(8);
        j.append(b"abcdef");
        let mut out = Vec::new();
        assert_eq!(j.read(2, 100, &mut out), Ok(4));
        assert_eq!(out, b"cdef");
        j.append(b"ghij");
        assert_eq!(j.bounds(), (2, 10));
        assert_eq!(j.read(1, 10, &mut out), Err(Gone));
        assert_eq!(j.read(11, 10, &mut out), Err(Gone));
        out.clear();
        assert_eq!(j.read(8, 1, &mut out), Ok(1));
        assert_eq!(out, b"i");
        j.reset(100);
        assert_eq!(j.bounds(), (100, 100));
        assert_eq!(j.read(100, 10, &mut out), Ok(0));
    }

    #[test]
    fn resizing_keeps_the_newest_bytes() {
        let j = Journal::new(8);
        j.append(b"abcdefgh");
        j.set_capacity(3);
        assert_eq!((j.capacity(), j.bounds()), (3, (5, 8)));
        let mut out = Vec::new();
        assert_eq!(j.read(5, 10, &mut out), Ok(3));
        assert_eq!(out, b"fgh");
        j.set_capacity(100);
        j.append(b"ijklmnop");
        assert_eq!(j.bounds(), (5, 16), "a larger backlog keeps more");
    }

    #[tokio::test]
    async fn a_waiting_reader_is_woken_by_an_append() {
        let j = std::sync::Arc::new(Journal::new(64));
        let waiter = {
            let j = j.clone();
            tokio::spawn(async move { j.wait_past(0).await })
        };
        tokio::task::yield_now().await;
        j.append(b"x");
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .expect("woken")
            .unwrap();
    }
}
