//! Blocking commands: BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP BZPOPMIN BZPOPMAX BZMPOP.
//!
//! A blocking command first runs as its non-blocking form under its keys' locks.
//! When none of its keys has anything to give, it [`park`]s: still under those
//! locks (so no push slips between the check and the queueing) it queues a
//! [`Waiter`] on each key's shard and the connection waits for it. Any change to
//! a key with waiters marks the key ready; once the changing command (or EXEC, or
//! script) released its locks, [`serve_ready`] runs the first waiter's command
//! again on the waiter's behalf, in arrival order, before the changing client gets
//! its reply, as Redis serves blocked clients before it runs the next command.
//! Serving may make other keys ready (BLMOVE pushes): they are served in turn.
//!
//! Inside MULTI/EXEC (and scripts) these commands do not block: with nothing to
//! pop they answer as if they timed out, as in Redis.

pub mod lists;
pub mod zsets;

use crate::cmd::flags::*;
use crate::cmd::table::{c, CommandSpec};
use crate::cmd::{execute, CmdError, Ctx, Session};
use crate::resp::{Args, Reply};
use crate::store::{Nil, Waiter};
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    c!("blpop", -3, WRITE | NOSCRIPT | BLOCKING, (1, -2, 1), "write list slow blocking", "list", "2.0.0", "Remove and get the first element in a list, or block until one is available", lists::blpop),
    c!("brpop", -3, WRITE | NOSCRIPT | BLOCKING, (1, -2, 1), "write list slow blocking", "list", "2.0.0", "Remove and get the last element in a list, or block until one is available", lists::brpop),
    c!("blmove", 6, WRITE | DENYOOM | NOSCRIPT | BLOCKING, (1, 2, 1), "write list slow blocking", "list", "6.2.0", "Pop an element from a list, push it to another list and return it; or block until one is available", lists::blmove),
    c!("brpoplpush", 4, WRITE | DENYOOM | NOSCRIPT | BLOCKING, (1, 2, 1), "write list slow blocking", "list", "2.2.0", "Pop an element from a list, push it to another list and return it; or block until one is available", lists::brpoplpush),
    c!("blmpop", -5, WRITE | BLOCKING | MOVABLEKEYS, (0, 0, 0), numkeys 2, "write list slow blocking", "list", "7.0.0", "Pop elements from a list, or block until one is available", lists::blmpop),
    c!("bzpopmin", -3, WRITE | NOSCRIPT | BLOCKING | FAST, (1, -2, 1), "write sortedset fast blocking", "sorted-set", "5.0.0", "Remove and return the member with the lowest score from one or more sorted sets, or block until one is available", zsets::bzpopmin),
    c!("bzpopmax", -3, WRITE | NOSCRIPT | BLOCKING | FAST, (1, -2, 1), "write sortedset fast blocking", "sorted-set", "5.0.0", "Remove and return the member with the highest score from one or more sorted sets, or block until one is available", zsets::bzpopmax),
    c!("bzmpop", -5, WRITE | BLOCKING | MOVABLEKEYS, (0, 0, 0), numkeys 2, "write sortedset slow blocking", "sorted-set", "7.0.0", "Remove and return members with scores in a sorted set or block until one is available", zsets::bzmpop),
];

/// Most waiters one change serves before its client gets its reply: a bound
/// on the work a single push can trigger (the rest wait for the next change).
const MAX_SERVED_PER_CHANGE: usize = 100_000;

/// A parked client: what the connection waits on, and for how long (None:
/// for ever).
pub struct Blocked {
    pub waiter: Arc<Waiter>,
    pub timeout: Option<Duration>,
}

impl std::fmt::Debug for Blocked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Blocked")
            .field("command", &crate::cmd::table::spec(self.waiter.id).name)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl PartialEq for Blocked {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.waiter, &other.waiter)
    }
}

impl Eq for Blocked {}

/// What a blocking command answers inside MULTI when it finds nothing.
pub fn write_nil(out: &mut Reply, nil: Nil) {
    match nil {
        Nil::Array => out.null_array(),
        Nil::Bulk => out.null(),
    }
}

/// Ends a parked client's wait without a connection to wait on (the test
/// harness): it answers as a timeout would, unless it was served meanwhile.
pub fn give_up(ctx: &mut Ctx<'_>, b: Blocked) {
    done_waiting(&ctx.session.client);
    if cancel(ctx, &b.waiter) {
        ctx.out.null_array();
        return;
    }
    // Claimed by a server on another thread: its reply is moments away.
    loop {
        if let Some(r) = b.waiter.take_reply() {
            ctx.out.raw(&r);
            return;
        }
        std::thread::yield_now();
    }
}

/// Redis' blocking timeout: seconds as a double, 0 for ever.
pub fn parse_timeout(arg: &[u8]) -> Result<Option<Duration>, CmdError> {
    let secs = crate::util::num::parse_f64(arg)
        .filter(|v| !v.is_nan())
        .ok_or_else(|| CmdError::err("timeout is not a float or out of range"))?;
    let ms = (secs * 1000.0).ceil();
    // Redis casts to long long: past its range (inf included) that gives
    // LLONG_MIN on x86, which it then calls negative.
    if !(0.0..9.2e18).contains(&ms) {
        return Err(CmdError::err("timeout is negative"));
    }
    Ok((ms > 0.0).then(|| Duration::from_millis(ms as u64)))
}

/// Blocks the client on `keys` (their shards are locked by dispatch), or, where
/// blocking is not allowed, answers as a timeout would. Called by a blocking
/// command that found nothing to take.
pub fn park<'k>(
    ctx: &mut Ctx<'_>,
    args: Args<'_>,
    keys: impl Iterator<Item = &'k [u8]>,
    timeout: Option<Duration>,
    nil: Nil,
) -> Result<(), CmdError> {
    if ctx.session.serving {
        ctx.session.would_block = true;
        return Ok(());
    }
    if ctx.session.nonblocking {
        write_nil(ctx.out, nil);
        return Ok(());
    }
    let mut unique: Vec<Box<[u8]>> = Vec::new();
    for k in keys {
        if !unique.iter().any(|u| **u == *k) {
            unique.push(Box::from(k));
        }
    }
    let id = crate::cmd::resolve(args)?;
    let waiter = Arc::new(Waiter::new(
        id,
        args,
        unique,
        ctx.out.resp3(),
        ctx.session.client.clone(),
        ctx.session.user.clone(),
    ));
    for k in &waiter.keys {
        ctx.keys.shard(k).block(k, &waiter);
    }
    ctx.db().blocked_clients.fetch_add(1, Ordering::Relaxed);
    *ctx.session.client.blocked.lock() = Some(Arc::downgrade(&waiter));
    ctx.session.block = Some(Blocked { waiter, timeout });
    Ok(())
}

/// CLIENT UNBLOCK: ends another client's wait as a timeout would (`error`
/// false) or with an UNBLOCKED error. False when it is not blocked.
pub fn unblock_client(ctx: &mut Ctx<'_>, client: &crate::client::ClientInfo, error: bool) -> bool {
    let Some(w) = client
        .blocked
        .lock()
        .as_ref()
        .and_then(std::sync::Weak::upgrade)
    else {
        return false;
    };
    // Claimed like a served waiter, then finished with the UNBLOCK reply.
    if !w.claim() {
        return false;
    }
    unregister(ctx, &w);
    let mut out = Reply::new();
    out.set_resp3(w.resp3);
    if error {
        out.error("UNBLOCKED client unblocked via CLIENT UNBLOCK");
    } else {
        out.null_array();
    }
    w.finish(out.buffer().to_vec());
    true
}

/// Takes a waiter off its keys' queues (it was served or cancelled).
fn unregister(ctx: &mut Ctx<'_>, w: &Arc<Waiter>) {
    ctx.keys.acquire(w.keys.iter().map(|k| &**k));
    for k in &w.keys {
        ctx.keys.shard(k).unblock(k, w);
    }
    ctx.keys.release();
    ctx.db().blocked_clients.fetch_sub(1, Ordering::Relaxed);
}

/// Withdraws a parked client (timeout, disconnect, CLIENT UNBLOCK). False when
/// a server already claimed it: its reply is on the way.
pub fn cancel(ctx: &mut Ctx<'_>, w: &Arc<Waiter>) -> bool {
    if !w.cancel() {
        return false;
    }
    unregister(ctx, w);
    true
}

/// Serves the clients blocked on keys that changed under the locks `ctx.keys`
/// just released. Runs holding no lock.
pub fn serve_ready(ctx: &mut Ctx<'_>) {
    let mut queue: VecDeque<Box<[u8]>> = ctx.keys.take_ready().into();
    let mut served = 0;
    while let Some(key) = queue.pop_front() {
        while served < MAX_SERVED_PER_CHANGE {
            ctx.keys.acquire(std::iter::once(&*key));
            let next = ctx.keys.shard(&key).first_waiter(&key);
            ctx.keys.release();
            let Some(w) = next else { break };
            if !w.claim() {
                // Cancelled or claimed by another server meanwhile.
                continue;
            }
            if !run_waiter(ctx, &w, &key, &mut queue) {
                w.unclaim();
                break;
            }
            served += 1;
        }
    }
}

/// Runs a claimed waiter's command for it on the ready key; false when there
/// is still nothing for it there (it stays parked). As in Redis, a waiter is
/// served from the key that became ready, and only when that key now holds its
/// type (a key set to a string meanwhile does not wake a BLPOP).
fn run_waiter(
    ctx: &mut Ctx<'_>,
    w: &Arc<Waiter>,
    key: &[u8],
    queue: &mut VecDeque<Box<[u8]>>,
) -> bool {
    let spec = crate::cmd::table::spec(w.id);
    let kind = if spec.group == "list" {
        crate::store::Kind::List
    } else {
        crate::store::Kind::ZSet
    };
    let (base, spans) = serving_request(w.args(), spec.name, key);
    let args = Args::new(&base, &spans);
    let mut keys = ctx.db().lock_none();
    keys.acquire(spec.key_positions(args).map(|i| args.get(i)));
    if keys.shard(key).peek(key, ctx.now).map(|e| e.kind()) != Some(kind) {
        return false;
    }
    let mut out = Reply::new();
    out.set_resp3(w.resp3);
    let mut session = Session::new(w.client.clone(), true, false);
    session.user = w.user.clone();
    session.serving = true;
    let mut wctx = Ctx {
        shared: ctx.shared,
        keys,
        settings: ctx.settings.clone(),
        session: &mut session,
        out: &mut out,
        stats: &mut *ctx.stats,
        now: ctx.now,
    };
    execute(&mut wctx, w.id, args);
    wctx.keys.release();
    queue.extend(wctx.keys.take_ready());
    drop(wctx);
    if session.would_block {
        return false;
    }
    unregister(ctx, w);
    w.finish(out.buffer().to_vec());
    true
}

/// The connection's wait ended, however: CLIENT UNBLOCK no longer finds it.
pub fn done_waiting(client: &crate::client::ClientInfo) {
    *client.blocked.lock() = None;
}

/// The waiter's request narrowed to the ready key: BLPOP a b c 0 served from b
/// runs as BLPOP b 0, BLMPOP 0 3 a b c LEFT as BLMPOP 0 1 b LEFT.
fn serving_request(
    args: Args<'_>,
    name: &str,
    key: &[u8],
) -> (Vec<u8>, Vec<std::ops::Range<usize>>) {
    let parts: Vec<&[u8]> = match name {
        "blmove" | "brpoplpush" => args.iter().collect(),
        "blmpop" | "bzmpop" => {
            let n = crate::util::num::parse_i64(args.get(2)).unwrap_or(0).max(0) as usize;
            let mut v = vec![args.get(0), args.get(1), b"1".as_slice(), key];
            v.extend(args.iter().skip(3 + n));
            v
        }
        _ => vec![args.get(0), key, args.get(args.len() - 1)],
    };
    let mut base = Vec::new();
    let mut spans = Vec::with_capacity(parts.len());
    for p in parts {
        spans.push(base.len()..base.len() + p.len());
        base.extend_from_slice(p);
    }
    (base, spans)
}
