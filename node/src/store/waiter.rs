//! A client blocked on keys (BLPOP and friends), as the keyspace queues it.
//!
//! The shard holding a key keeps its waiters in arrival order and notes when the
//! key changes; whoever changed it then serves the waiters (see
//! `cmd::blocking::serve_ready`) before its own reply goes out, as Redis serves
//! blocked clients before the next command runs. A waiter is served at most once:
//! its state moves from waiting to serving (a server claimed it) to done, or from
//! waiting to cancelled (timeout, disconnect, CLIENT UNBLOCK), by compare and swap.

use parking_lot::Mutex;
use std::ops::Range;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use tokio::sync::Notify;

const WAITING: u8 = 0;
const SERVING: u8 = 1;
const DONE: u8 = 2;
const CANCELLED: u8 = 3;

/// How a blocking command answers when it may not block (inside MULTI) and
/// finds nothing. A timeout is always a null array, as in Redis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nil {
    /// A null array (BLPOP, BZPOPMIN, BLMPOP…).
    Array,
    /// A null bulk string (BLMOVE, BRPOPLPUSH).
    Bulk,
}

pub struct Waiter {
    state: AtomicU8,
    /// The command's table id and its request, to run again when a key is ready.
    pub id: usize,
    base: Vec<u8>,
    spans: Vec<Range<usize>>,
    /// The keys it waits on (deduplicated).
    pub keys: Vec<Box<[u8]>>,
    pub resp3: bool,
    pub client: Arc<crate::client::ClientInfo>,
    pub user: Option<Arc<crate::acl::User>>,
    reply: Mutex<Option<Vec<u8>>>,
    done: Notify,
}

impl Waiter {
    pub fn new(
        id: usize,
        args: crate::resp::Args<'_>,
        keys: Vec<Box<[u8]>>,
        resp3: bool,
        client: Arc<crate::client::ClientInfo>,
        user: Option<Arc<crate::acl::User>>,
    ) -> Waiter {
        let mut base = Vec::new();
        let mut spans = Vec::with_capacity(args.len());
        for a in args.iter() {
            spans.push(base.len()..base.len() + a.len());
            base.extend_from_slice(a);
        }
        Waiter {
            state: AtomicU8::new(WAITING),
            id,
            base,
            spans,
            keys,
            resp3,
            client,
            user,
            reply: Mutex::new(None),
            done: Notify::new(),
        }
    }

    pub fn args(&self) -> crate::resp::Args<'_> {
        crate::resp::Args::new(&self.base, &self.spans)
    }

    pub fn waiting(&self) -> bool {
        self.state.load(Ordering::Acquire) == WAITING
    }

    /// Served or cancelled: nothing more will happen to it.
    pub fn finished(&self) -> bool {
        self.state.load(Ordering::Acquire) >= DONE
    }

    /// Claims the waiter for serving; false if it was claimed or cancelled.
    pub fn claim(&self) -> bool {
        self.state
            .compare_exchange(WAITING, SERVING, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Gives a claimed waiter back: there was nothing for it after all.
    pub fn unclaim(&self) {
        self.state.store(WAITING, Ordering::Release);
    }

    /// Hands a claimed waiter its reply and wakes its connection.
    pub fn finish(&self, reply: Vec<u8>) {
        *self.reply.lock() = Some(reply);
        self.state.store(DONE, Ordering::Release);
        self.done.notify_one();
    }

    /// Cancels a waiter nobody claimed; false if it is being or was served
    /// (its reply then comes through [`Waiter::take_reply`]).
    pub fn cancel(&self) -> bool {
        self.state
            .compare_exchange(WAITING, CANCELLED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// The reply of a served waiter.
    pub fn take_reply(&self) -> Option<Vec<u8>> {
        if self.state.load(Ordering::Acquire) != DONE {
            return None;
        }
        self.reply.lock().take()
    }

    /// Resolves once [`Waiter::finish`] ran (a permit is kept if it ran first).
    pub async fn served(&self) {
        self.done.notified().await
    }
}
