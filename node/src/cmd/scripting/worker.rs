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

/// One request, owned: its arguments back to back and their spans.
pub struct Request {
    base: Vec<u8>,
    spans: Vec<Range<usize>>,
}

impl Request {
    pub fn new(args: Args<'_>) -> Request {
        let mut base = Vec::with_capacity(args.byte_len());
        let mut spans = Vec::with_capacity(args.len());
        for a in args.iter() {
            let start = base.len();
            base.extend_from_slice(a);
            spans.push(start..base.len());
        }
        Request { base, spans }
    }

    fn args(&self) -> Args<'_> {
        Args::new(&self.base, &self.spans)
    }
}

/// What the script thread answers: the replies' bytes, back to back, and
/// what became of each request (a forward on the forwarding port).
pub type Answer = (Vec<u8>, Vec<Dispatched>);

/// Script requests of one connection, pipelined together (one hop for all).
pub struct Job {
    requests: Vec<Request>,
    client: Arc<crate::client::ClientInfo>,
    authenticated: bool,
    forwarding: bool,
    forwarding_port: bool,
    asking: bool,
    readonly: bool,
    user: Option<Arc<crate::acl::User>>,
    resp3: bool,
    now: u64,
    done: tokio::sync::oneshot::Sender<Answer>,
}

/// Most pipelined scripts sent as one job.
pub const MAX_BATCH: usize = 64;

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
            let mut out = Reply::new();
            let mut stats = crate::metrics::LocalStats::new(table::all().len());
            while let Ok(job) = rx.recv() {
                let Some(shared) = weak.upgrade() else {
                    break;
                };
                run(&shared, job, &mut out, &mut stats);
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

/// Sends requests to the script thread; None when there is none (in-process
/// harnesses) or a script is already past the threshold, and the caller
/// dispatches them itself.
pub fn submit(
    ctx: &mut Ctx<'_>,
    requests: Vec<Request>,
) -> Result<tokio::sync::oneshot::Receiver<Answer>, Vec<Request>> {
    let Some(worker) = ctx.shared.scripts.worker.get() else {
        return Err(requests);
    };
    // Past the threshold a script is refused with BUSY at once, as Redis
    // does, rather than queued behind the busy one: dispatching it here does.
    let threshold = ctx.settings.busy_reply_threshold;
    if ctx
        .shared
        .scripts
        .busy
        .elapsed_ms()
        .is_some_and(|e| e >= threshold)
    {
        return Err(requests);
    }
    let (done, rx) = tokio::sync::oneshot::channel();
    let s = &mut *ctx.session;
    let job = Job {
        requests,
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
    match worker.lock().send(job) {
        Ok(()) => Ok(rx),
        Err(mpsc::SendError(job)) => Err(job.requests),
    }
}

/// Runs requests here, in order (when the script thread cannot).
pub fn run_here(ctx: &mut Ctx<'_>, requests: &[Request]) -> Vec<Dispatched> {
    requests.iter().map(|r| dispatch(ctx, r.args())).collect()
}

fn run(shared: &Shared, job: Job, out: &mut Reply, stats: &mut crate::metrics::LocalStats) {
    let mut session = Session::new(job.client.clone(), job.authenticated, job.forwarding);
    session.forwarding_port = job.forwarding_port;
    session.asking = job.asking;
    session.readonly = job.readonly;
    session.user = job.user.clone();
    out.clear();
    out.set_resp3(job.resp3);
    let mut outcomes = Vec::with_capacity(job.requests.len());
    for request in &job.requests {
        let args = request.args();
        // Mark the script busy from before its locks are taken: a command
        // that would wait for them waits in check_busy (bounded), not in a lock.
        let (shards, all) = script_shards(shared, args);
        shared.scripts.busy.start(shards, all);
        OWNS_BUSY.with(|o| o.set(true));
        let outcome = {
            let mut ctx = Ctx {
                shared,
                keys: shared.db.lock_none(),
                settings: shared.settings(),
                session: &mut session,
                out: &mut *out,
                stats: &mut *stats,
                now: job.now,
            };
            dispatch(&mut ctx, args)
        };
        OWNS_BUSY.with(|o| o.set(false));
        shared.scripts.busy.end();
        outcomes.push(outcome);
    }
    stats.flush(&shared.metrics);
    let _ = job.done.send((out.buffer().to_vec(), outcomes));
    if out.buffer().len() > 1 << 20 {
        *out = Reply::new();
    }
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
