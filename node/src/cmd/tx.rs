//! Transactions: MULTI, EXEC, DISCARD, WATCH and UNWATCH.
//!
//! Queued commands are kept as their arguments. EXEC locks, in one ordered set,
//! the shards of every key the queued commands declare and of every watched key
//! (every shard if one of them is a whole-keyspace command), checks the watches
//! under those locks, runs the queue, and releases: no other client sees part of
//! it, and the changes reach replicas as one batch (see `store::Locked`).

use super::table::{c, CommandSpec};
use super::table::{ALLOW_BUSY, FAST, LOADING, NOSCRIPT, SKIP_SLOWLOG, STALE};
use super::{execute, flags, table, CmdError, Ctx, Session};
use crate::resp::Args;
use crate::store::shard::WatchFlag;
use crate::store::Db;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub static COMMANDS: &[CommandSpec] = &[
    c!(
        "multi",
        1,
        NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY,
        (0, 0, 0),
        "fast transaction",
        "transactions",
        "1.2.0",
        "Mark the start of a transaction block",
        multi
    ),
    c!(
        "exec",
        1,
        NOSCRIPT | LOADING | STALE | SKIP_SLOWLOG,
        (0, 0, 0),
        "slow transaction",
        "transactions",
        "1.2.0",
        "Execute all commands issued after MULTI",
        exec
    ),
    c!(
        "discard",
        1,
        NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY,
        (0, 0, 0),
        "fast transaction",
        "transactions",
        "2.0.0",
        "Discard all commands issued after MULTI",
        discard
    ),
    c!(
        "watch",
        -2,
        NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY,
        (1, -1, 1),
        "fast transaction",
        "transactions",
        "2.2.0",
        "Watch the given keys to determine execution of the MULTI/EXEC block",
        watch
    ),
    c!(
        "unwatch",
        1,
        NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY,
        (0, 0, 0),
        "fast transaction",
        "transactions",
        "2.2.0",
        "Forget about all watched keys",
        unwatch
    ),
];

/// Most commands one transaction may queue, and most bytes of arguments:
/// the client controls both, so both are bounded.
pub const MAX_QUEUED: usize = 1 << 20;
pub const MAX_QUEUED_BYTES: usize = 512 << 20;

/// A transaction being queued.
#[derive(Default)]
pub struct Multi {
    /// Every queued argument, back to back.
    base: Vec<u8>,
    spans: Vec<Range<usize>>,
    /// Each queued command: its table id and its arguments' spans.
    cmds: Vec<(usize, Range<usize>)>,
    /// A command was refused while queueing: EXEC answers EXECABORT.
    failed: bool,
}

impl Multi {
    fn args(&self, i: usize) -> Args<'_> {
        Args::new(&self.base, &self.spans[self.cmds[i].1.clone()])
    }
}

/// The keys a client watches.
pub struct Watching {
    pub flag: WatchFlag,
    pub keys: Vec<Box<[u8]>>,
}

/// Commands that run at once inside MULTI instead of being queued.
pub fn runs_inside_multi(spec: &CommandSpec) -> bool {
    matches!(
        spec.name,
        "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
    )
}

/// Dooms the transaction being queued: EXEC will answer EXECABORT.
pub fn flag(ctx: &mut Ctx<'_>) {
    if let Some(m) = ctx.session.multi.as_mut() {
        m.failed = true;
    }
}

/// Queues a command inside MULTI.
pub fn queue(ctx: &mut Ctx<'_>, id: usize, args: Args<'_>) -> super::Dispatched {
    let spec = table::spec(id);
    let Some(m) = ctx.session.multi.as_mut() else {
        return super::Dispatched::Done;
    };
    if spec.flags & flags::NO_MULTI != 0 {
        m.failed = true;
        ctx.out
            .error("ERR Command not allowed inside a transaction");
        return super::Dispatched::Done;
    }
    if m.cmds.len() >= MAX_QUEUED || m.base.len() + args.byte_len() > MAX_QUEUED_BYTES {
        m.failed = true;
        ctx.out.error(&format!(
            "ERR Transaction too large: at most {MAX_QUEUED} commands and {} MB of arguments",
            MAX_QUEUED_BYTES >> 20
        ));
        return super::Dispatched::Done;
    }
    let first = m.spans.len();
    for a in args.iter() {
        let start = m.base.len();
        m.base.extend_from_slice(a);
        m.spans.push(start..m.base.len());
    }
    m.cmds.push((id, first..m.spans.len()));
    ctx.out.simple("QUEUED");
    super::Dispatched::Done
}

pub fn multi(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Result<(), CmdError> {
    if ctx.session.multi.is_some() {
        return Err(CmdError::err("MULTI calls can not be nested"));
    }
    ctx.session.multi = Some(Multi::default());
    ctx.out.ok();
    Ok(())
}

pub fn discard(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Result<(), CmdError> {
    if ctx.session.multi.take().is_none() {
        return Err(CmdError::err("DISCARD without MULTI"));
    }
    unwatch_all(ctx.session, ctx.db());
    ctx.out.ok();
    Ok(())
}

pub fn watch(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    if ctx.session.multi.is_some() {
        return Err(CmdError::err("WATCH inside MULTI is not allowed"));
    }
    let w = ctx.session.watch.get_or_insert_with(|| Watching {
        flag: Arc::new(AtomicBool::new(false)),
        keys: Vec::new(),
    });
    for key in args.iter().skip(1) {
        if w.keys.iter().any(|k| **k == *key) {
            continue;
        }
        let shard = ctx.keys.shard(key);
        // A key already past its deadline goes first: it is missing, and
        // its removal is not a change the watch sees (as in Redis).
        shard.peek(key, ctx.now);
        shard.watch(key, &w.flag);
        w.keys.push(key.into());
    }
    ctx.out.ok();
    Ok(())
}

pub fn unwatch(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Result<(), CmdError> {
    // Inside EXEC the watches were already checked, and EXEC drops them after.
    if ctx.keys.is_empty() {
        unwatch_all(ctx.session, ctx.db());
    }
    ctx.out.ok();
    Ok(())
}

/// Drops every WATCH of the session. Takes shard locks: never call it while
/// holding a `Locked` set.
pub fn unwatch_all(session: &mut Session, db: &Db) {
    if let Some(w) = session.watch.take() {
        for k in &w.keys {
            db.lock(k).unwatch(k, &w.flag);
        }
    }
}

pub fn exec(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Result<(), CmdError> {
    let Some(m) = ctx.session.multi.take() else {
        return Err(CmdError::err("EXEC without MULTI"));
    };
    let outcome = run(ctx, &m);
    ctx.keys.release();
    unwatch_all(ctx.session, ctx.db());
    outcome
}

fn run(ctx: &mut Ctx<'_>, m: &Multi) -> Result<(), CmdError> {
    if m.failed {
        return Err(CmdError::Other(
            "EXECABORT Transaction discarded because of previous errors.".into(),
        ));
    }
    let specs = || m.cmds.iter().map(|(id, _)| table::spec(*id));
    if specs().any(|s| s.flags & flags::WRITE != 0) && !ctx.shared.repl.is_primary() {
        return Err(CmdError::Other(
            "EXECABORT Transaction contains write commands but instance is now a read-only replica. EXEC aborted."
                .into(),
        ));
    }
    // Refused for memory, EXEC discards the block, as Redis' execCommandAbort.
    check_memory_for(ctx, specs().any(|s| s.flags & flags::DENYOOM != 0))
        .map_err(|e| CmdError::Other(format!("EXECABORT Transaction discarded because of: {e}")))?;
    let mut keys: Vec<&[u8]> = Vec::new();
    for i in 0..m.cmds.len() {
        let args = m.args(i);
        keys.extend(
            table::spec(m.cmds[i].0)
                .key_positions(args)
                .map(|p| args.get(p)),
        );
    }
    let watched: Vec<Box<[u8]>> = ctx
        .session
        .watch
        .as_ref()
        .map(|w| w.keys.clone())
        .unwrap_or_default();
    // A script flagged allow-undeclared-keys needs the whole keyspace too.
    let scripts = &ctx.shared.scripts;
    let needs_all = (0..m.cmds.len()).any(|i| {
        let spec = table::spec(m.cmds[i].0);
        spec.flags & flags::ALL_KEYS != 0 || scripts.needs_all_keys(spec, m.args(i))
    });
    if needs_all {
        ctx.keys.acquire_all();
    } else {
        ctx.keys
            .acquire(keys.iter().copied().chain(watched.iter().map(|k| &**k)));
    }
    if ctx.shared.cluster.is_some() && !keys.is_empty() {
        let readonly = specs().all(|s| s.flags & flags::READONLY != 0);
        let forward = ctx.session.forwarding;
        match super::route_keys(ctx, &keys, readonly, forward, false) {
            None => {}
            Some(super::Dispatched::Forward { host, port, .. }) => {
                // The owner runs the whole block; its EXEC reply is relayed.
                let mut payload = Vec::new();
                crate::resp::Frame::encode_command(&[b"MULTI"], &mut payload);
                for i in 0..m.cmds.len() {
                    let args: Vec<&[u8]> = m.args(i).iter().collect();
                    crate::resp::Frame::encode_command(&args, &mut payload);
                }
                crate::resp::Frame::encode_command(&[b"EXEC"], &mut payload);
                ctx.session.forward = Some(super::Dispatched::Forward {
                    host,
                    port,
                    asking: false,
                    block: Some((payload.into(), m.cmds.len() + 1)),
                });
                return Ok(());
            }
            // The error (CROSSSLOT, MOVED…) is written; the block is dropped.
            Some(_) => return Ok(()),
        }
    }
    if let Some(w) = &ctx.session.watch {
        for k in &watched {
            // Reading expires a key whose deadline passed since WATCH.
            ctx.keys.shard(k).peek(k, ctx.now);
        }
        if w.flag.load(Ordering::Acquire) {
            ctx.out.null_array();
            return Ok(());
        }
    }
    ctx.out.array(m.cmds.len());
    // Nothing blocks inside a transaction: BLPOP and friends answer at once.
    let was = std::mem::replace(&mut ctx.session.nonblocking, true);
    for i in 0..m.cmds.len() {
        execute(ctx, m.cmds[i].0, m.args(i));
        // WAIT answers at once too.
        if let Some(w) = ctx.session.wait.take() {
            ctx.out.int(ctx.shared.repl.acked_at_least(w.offset) as i64);
        }
    }
    ctx.session.nonblocking = was;
    Ok(())
}

fn check_memory_for(ctx: &mut Ctx<'_>, denyoom: bool) -> Result<(), CmdError> {
    super::check_memory(ctx, denyoom)
}
