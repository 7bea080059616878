//! The script thread: EVAL-family requests from network clients run here, off
//! the I/O threads, so that while a script runs (or hangs) the I/O thread keeps
//! serving its other clients: they get `-BUSY` past the threshold, and one of
//! them can send SCRIPT KILL, as in Redis (which serves events from inside a
//! busy script). The connection sends the request and awaits its reply bytes;
//! the thread runs it through `dispatch` like any request (ACL, locks, routing),
//! so only where it runs changes. Inside MULTI, EVAL runs inline in EXEC.

use crate::cmd::{dispatch, table, Ctx, Dispatched, Session};
use crate::resp::{Args, Reply};
use crate::server::Shared;
use std::cell::Cell;
use std::ops::Range;
use std::sync::mpsc;
use std::sync::{Arc, Weak};

pub struct Job {
    base: Vec<u8>,
    spans: Vec<Range<usize>>,
    client: Arc<crate::client::ClientInfo>,
    authenticated: bool,
    forwarding: bool,
    forwarding_port: bool,
    asking: bool,
    readonly: bool,
    user: Option<Arc<crate::acl::User>>,
    resp3: bool,
    now: u64,
    done: tokio::sync::oneshot::Sender<(Vec<u8>, Dispatched)>,
}

thread_local! {
    /// Set on the script thread while it runs a job: its own busy mark must not
    /// make it wait for itself.
    static OWNS_BUSY: Cell<bool> = const { Cell::new(false) };
}

pub fn owns_busy() -> bool {
    OWNS_BUSY.with(|o| o.get())
}

/// Starts the node's script thread.
pub fn start(shared: &Arc<Shared>) {
    let (tx, rx) = mpsc::channel::<Job>();
    if shared
        .scripts
        .worker
        .set(parking_lot::Mutex::new(tx))
        .is_err()
    {
        return;
    }
    let weak: Weak<Shared> = Arc::downgrade(shared);
    let spawned = std::thread::Builder::new()
        .name("shoal-scripts".into())
        .spawn(move || {
            while let Ok(job) = rx.recv() {
                let Some(shared) = weak.upgrade() else {
                    break;
                };
                run(&shared, job);
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "could not start the script thread: scripts run on the I/O threads");
    }
}

/// Whether a request is one the script thread runs.
pub fn offloaded(session: &Session, args: Args<'_>) -> bool {
    if session.multi.is_some() || args.is_empty() {
        return false;
    }
    let name = args.get(0);
    [
        &b"eval"[..],
        &b"evalsha"[..],
        &b"eval_ro"[..],
        &b"evalsha_ro"[..],
    ]
    .iter()
    .any(|n| name.eq_ignore_ascii_case(n))
}

/// Sends a request to the script thread; None when there is none (in-process
/// harnesses), and the caller dispatches it itself.
pub fn submit(
    ctx: &mut Ctx<'_>,
    args: Args<'_>,
) -> Option<tokio::sync::oneshot::Receiver<(Vec<u8>, Dispatched)>> {
    let worker = ctx.shared.scripts.worker.get()?;
    let mut base = Vec::with_capacity(args.byte_len());
    let mut spans = Vec::with_capacity(args.len());
    for a in args.iter() {
        let start = base.len();
        base.extend_from_slice(a);
        spans.push(start..base.len());
    }
    let (done, rx) = tokio::sync::oneshot::channel();
    let s = &mut *ctx.session;
    let job = Job {
        base,
        spans,
        client: s.client.clone(),
        authenticated: s.authenticated,
        forwarding: s.forwarding,
        forwarding_port: s.forwarding_port,
        asking: std::mem::take(&mut s.asking),
        readonly: s.readonly,
        user: s.user.clone(),
        resp3: ctx.out.resp3(),
        now: ctx.now,
        done,
    };
    worker.lock().send(job).ok()?;
    Some(rx)
}

fn run(shared: &Shared, job: Job) {
    let args = Args::new(&job.base, &job.spans);
    let mut session = Session::new(job.client.clone(), job.authenticated, job.forwarding);
    session.forwarding_port = job.forwarding_port;
    session.asking = job.asking;
    session.readonly = job.readonly;
    session.user = job.user.clone();
    let mut out = Reply::new();
    out.set_resp3(job.resp3);
    let mut stats = crate::metrics::LocalStats::new(table::all().len());
    // Mark the script busy from before its locks are taken: a command that
    // would wait for them waits in check_busy (bounded), not in a lock.
    let (shards, all) = script_shards(shared, args);
    shared.scripts.busy.start(shards, all);
    OWNS_BUSY.with(|o| o.set(true));
    let outcome = {
        let mut ctx = Ctx {
            shared,
            keys: shared.db.lock_none(),
            settings: shared.settings(),
            session: &mut session,
            out: &mut out,
            stats: &mut stats,
            now: job.now,
        };
        dispatch(&mut ctx, args)
    };
    OWNS_BUSY.with(|o| o.set(false));
    shared.scripts.busy.end();
    stats.flush(&shared.metrics);
    let _ = job.done.send((out.buffer().to_vec(), outcome));
}

fn script_shards(shared: &Shared, args: Args<'_>) -> (Vec<usize>, bool) {
    let Ok(id) = crate::cmd::resolve(args) else {
        return (Vec::new(), false);
    };
    let spec = table::spec(id);
    if shared.scripts.needs_all_keys(spec, args) {
        return (Vec::new(), true);
    }
    let shards = spec
        .key_positions(args)
        .map(|p| shared.db.shard_of(args.get(p)))
        .collect();
    (shards, false)
}
