//! Commands: one file per command (or per tight family such as INCR/DECR), each
//! parsing its arguments and applying itself, dispatched through one table.
//!
//! A handler validates all of its arguments before it writes anything, then writes
//! its reply into [`Ctx::out`]; an `Err` becomes the error reply instead.

pub mod blocking;
pub mod cluster;
pub mod hashes;
pub mod keys;
pub mod lists;
pub mod pubsub;
pub mod scripting;
pub mod server;
pub mod sets;
pub mod strings;
pub mod table;
pub mod tx;
pub mod zsets;

use crate::config::Settings;
use crate::metrics::LocalStats;
use crate::resp::{Args, Reply};
use crate::server::Shared;
use crate::store::{Db, Entry, Kind, Locked};
use crate::util::num::{parse_f64, parse_i64};
use std::sync::Arc;

pub use table::CommandSpec;

/// Command flags, as COMMAND reports them.
pub mod flags {
    pub const WRITE: u32 = 1;
    pub const READONLY: u32 = 1 << 1;
    pub const DENYOOM: u32 = 1 << 2;
    pub const FAST: u32 = 1 << 3;
    pub const ADMIN: u32 = 1 << 4;
    pub const NOSCRIPT: u32 = 1 << 5;
    pub const LOADING: u32 = 1 << 6;
    pub const STALE: u32 = 1 << 7;
    pub const NO_AUTH: u32 = 1 << 8;
    pub const ALLOW_BUSY: u32 = 1 << 9;
    pub const NO_ASYNC_LOADING: u32 = 1 << 10;
    pub const NO_MULTI: u32 = 1 << 11;
    pub const MOVABLEKEYS: u32 = 1 << 12;
    pub const BLOCKING: u32 = 1 << 13;
    pub const SKIP_SLOWLOG: u32 = 1 << 14;
    pub const SKIP_MONITOR: u32 = 1 << 15;
    pub const NO_MANDATORY_KEYS: u32 = 1 << 16;
    pub const PUBSUB: u32 = 1 << 17;
    pub const MAY_REPLICATE: u32 = 1 << 18;
    /// Shoal's own, not reported by COMMAND: the command reads or changes the
    /// whole keyspace (KEYS, SCAN, FLUSHALL, INFO…), so it runs holding every
    /// shard, inside a transaction too.
    pub const ALL_KEYS: u32 = 1 << 30;

    pub const NAMES: &[(u32, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (NOSCRIPT, "noscript"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (NO_AUTH, "no_auth"),
        (ALLOW_BUSY, "allow_busy"),
        (FAST, "fast"),
        (NO_ASYNC_LOADING, "no_async_loading"),
        (NO_MULTI, "no_multi"),
        (MOVABLEKEYS, "movablekeys"),
        (BLOCKING, "blocking"),
        (SKIP_SLOWLOG, "skip_slowlog"),
        (SKIP_MONITOR, "skip_monitor"),
        (NO_MANDATORY_KEYS, "no_mandatory_keys"),
        (PUBSUB, "pubsub"),
        (MAY_REPLICATE, "may_replicate"),
    ];
}

pub type Handler = fn(&mut Ctx<'_>, Args<'_>) -> Result<(), CmdError>;

/// A command's error reply. `Display` is the exact text Redis sends.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CmdError {
    #[error("WRONGTYPE Operation against a key holding the wrong kind of value")]
    WrongType,
    #[error("ERR value is not an integer or out of range")]
    NotInteger,
    #[error("ERR value is not a valid float")]
    NotFloat,
    #[error("ERR syntax error")]
    Syntax,
    #[error("ERR increment or decrement would overflow")]
    Overflow,
    #[error("ERR no such key")]
    NoSuchKey,
    #[error("ERR invalid expire time in '{0}' command")]
    InvalidExpire(&'static str),
    #[error("ERR string exceeds maximum allowed size (proto-max-bulk-len)")]
    StringTooLong,
    #[error("OOM command not allowed when used memory > 'maxmemory'.")]
    Oom,
    #[error("NOAUTH Authentication required.")]
    NoAuth,
    #[error("ERR wrong number of arguments for '{0}' command")]
    Arity(String),
    #[error("ERR unknown subcommand '{sub}'. Try {cmd} HELP.")]
    UnknownSubcommand { cmd: String, sub: String },
    #[error("ERR unknown command '{name}', with args beginning with: {args}")]
    UnknownCommand { name: String, args: String },
    /// Any other error; the text includes its code (`ERR …`, `WRONGPASS …`).
    #[error("{0}")]
    Other(String),
}

impl CmdError {
    /// An `ERR`-coded error with this message.
    pub fn err(msg: impl std::fmt::Display) -> CmdError {
        CmdError::Other(format!("ERR {msg}"))
    }

    /// A short, bounded label for metrics and logs.
    pub fn metric_label(&self) -> &'static str {
        match self {
            CmdError::WrongType => "wrongtype",
            CmdError::NotInteger | CmdError::NotFloat | CmdError::Syntax => "syntax",
            CmdError::Overflow => "overflow",
            CmdError::NoSuchKey => "nokey",
            CmdError::InvalidExpire(_) => "expire",
            CmdError::StringTooLong => "toolong",
            CmdError::Oom => "oom",
            CmdError::NoAuth => "noauth",
            CmdError::Arity(_) => "arity",
            CmdError::UnknownSubcommand { .. } | CmdError::UnknownCommand { .. } => "unknown",
            CmdError::Other(_) => "other",
        }
    }
}

/// Connection state that commands read and change.
pub struct Session {
    pub client: Arc<crate::client::ClientInfo>,
    pub authenticated: bool,
    /// Close the connection once the replies so far are written (QUIT).
    pub close: bool,
    /// In a cluster: forward commands for other nodes' slots (plain clients)
    /// rather than answer MOVED/ASK (cluster-aware clients).
    pub forwarding: bool,
    /// The connection came in on the forwarding port (what RESET restores).
    pub forwarding_port: bool,
    /// The previous command was ASKING.
    pub asking: bool,
    /// READONLY was sent: the client accepts reads from replicas.
    pub readonly: bool,
    /// The connection will run the command again if it answers
    /// [`Dispatched::Retry`] (set around one dispatch; never inside MULTI or on
    /// the script thread, which answer TRYAGAIN or MOVED at once instead).
    pub may_wait: bool,
    /// The ACL user, when an ACL file is in use (None: the default user of a
    /// node without one, which may run everything).
    pub user: Option<Arc<crate::acl::User>>,
    /// Set by WAIT, taken by `dispatch` ([`Dispatched::Wait`]).
    pub wait: Option<Wait>,
    /// Set by PSYNC, taken by `dispatch` ([`Dispatched::Replicate`]).
    pub sync: Option<crate::repl::Takeover>,
    /// MULTI was sent: commands are queued until EXEC or DISCARD.
    pub multi: Option<tx::Multi>,
    /// Keys this client WATCHes, and the flag their changes set.
    pub watch: Option<tx::Watching>,
    /// CONFIG SET lowered maxmemory: evict once the command's locks are released.
    pub evict_pending: bool,
    /// Set by EXEC on the forwarding port when another node owns the block's
    /// keys, taken by `dispatch` ([`Dispatched::Forward`] with the block).
    pub forward: Option<Dispatched>,
    /// Set by a blocking command that parked, taken by `dispatch`
    /// ([`Dispatched::Block`]).
    pub block: Option<blocking::Blocked>,
    /// The session runs a parked client's command on its behalf: a blocking
    /// command with still nothing to take sets `would_block` instead of parking.
    pub serving: bool,
    pub would_block: bool,
    /// Blocking commands answer at once (inside EXEC, or a script).
    pub nonblocking: bool,
    /// Pub/sub subscriptions and the queue of messages for this connection.
    pub pubsub: Option<pubsub::Subscriptions>,
    /// CLIENT REPLY OFF: replies are dropped (pub/sub messages still go out).
    pub reply_off: bool,
    /// CLIENT REPLY SKIP: replies still to drop, its own included.
    pub reply_skip: u8,
}

/// A pending WAIT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wait {
    pub offset: u64,
    pub replicas: usize,
    pub timeout: Option<std::time::Duration>,
}

impl Session {
    pub fn new(
        client: Arc<crate::client::ClientInfo>,
        authenticated: bool,
        forwarding: bool,
    ) -> Session {
        Session {
            client,
            authenticated,
            close: false,
            forwarding,
            forwarding_port: forwarding,
            asking: false,
            readonly: false,
            may_wait: false,
            user: None,
            wait: None,
            sync: None,
            multi: None,
            watch: None,
            evict_pending: false,
            forward: None,
            block: None,
            serving: false,
            would_block: false,
            nonblocking: false,
            pubsub: None,
            reply_off: false,
            reply_skip: 0,
        }
    }

    /// Ends the session's transaction state (connection closed, RESET): its
    /// WATCH registrations must not outlive it.
    pub fn end_transaction(&mut self, db: &Db) {
        self.multi = None;
        tx::unwatch_all(self, db);
    }

    /// Ends everything the session registered elsewhere (connection closed):
    /// its transaction state and its subscriptions.
    pub fn end(&mut self, shared: &Shared) {
        self.end_transaction(&shared.db);
        pubsub::end(self, &shared.pubsub);
    }
}

/// What became of a request.
#[derive(Debug, PartialEq, Eq)]
pub enum Dispatched {
    /// Its reply (or error) is in the output buffer.
    Done,
    /// Another node owns its keys: the connection forwards it there.
    Forward {
        host: String,
        port: u16,
        asking: bool,
        /// What to send instead of the request itself, and how many of its
        /// replies precede the one relayed (EXEC forwards its whole block).
        block: Option<(bytes::Bytes, usize)>,
    },
    /// WAIT: the connection waits for acknowledgements, then replies.
    Wait(Wait),
    /// PSYNC: the connection becomes a replication link.
    Replicate(crate::repl::Takeover),
    /// A blocking command parked: the connection waits for its reply.
    Block(blocking::Blocked),
    /// Its slot is changing hands and will be served here in a moment: the
    /// connection runs it again shortly (see [`Session::may_wait`]).
    Retry,
}

/// Everything a command needs while it runs.
pub struct Ctx<'a> {
    pub shared: &'a Shared,
    /// The keyspace shards holding the command's keys, locked for it by
    /// `dispatch` (every shard for an `ALL_KEYS` command; for EXEC, those of
    /// every queued command). Handlers reach keys only through this.
    pub keys: Locked<'a>,
    pub settings: Arc<Settings>,
    pub session: &'a mut Session,
    pub out: &'a mut Reply,
    pub stats: &'a mut LocalStats,
    /// Unix ms, read once per batch (as Redis caches time per event loop turn).
    pub now: u64,
}

impl<'a> Ctx<'a> {
    /// The keyspace; borrowed from the server, not from `self`, so a shard can stay
    /// locked while the reply is written.
    pub fn db(&self) -> &'a Db {
        &self.shared.db
    }
}

/// Case-insensitive comparison of an argument with an ASCII keyword.
pub fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

pub fn int_arg(arg: &[u8]) -> Result<i64, CmdError> {
    parse_i64(arg).ok_or(CmdError::NotInteger)
}

pub fn float_arg(arg: &[u8]) -> Result<f64, CmdError> {
    parse_f64(arg).ok_or(CmdError::NotFloat)
}

/// The string value of an entry, or WRONGTYPE.
pub fn as_str(e: &Entry) -> Result<&[u8], CmdError> {
    e.as_str().ok_or(CmdError::WrongType)
}

/// Checks an entry's type.
pub fn expect_kind(e: &Entry, kind: Kind) -> Result<(), CmdError> {
    if e.kind() == kind {
        Ok(())
    } else {
        Err(CmdError::WrongType)
    }
}

/// Lowercases a command name into `buf` for table lookup; None if too long to be
/// any command.
fn lower<'b>(name: &[u8], buf: &'b mut [u8; 32]) -> Option<&'b [u8]> {
    if name.len() > buf.len() {
        return None;
    }
    for (d, s) in buf.iter_mut().zip(name) {
        *d = s.to_ascii_lowercase();
    }
    Some(&buf[..name.len()])
}

/// Finds the command table id for a request, descending into subcommands.
pub fn resolve(args: Args<'_>) -> Result<usize, CmdError> {
    let mut buf = [0u8; 32];
    let name = args.get(0);
    let Some(id) = lower(name, &mut buf).and_then(table::lookup) else {
        return Err(unknown_command(args));
    };
    let spec = table::spec(id);
    if !spec.arity_ok(args.len()) {
        return Err(CmdError::Arity(spec.name.to_string()));
    }
    // A container with a handler of its own (COMMAND) runs it when called bare.
    if spec.subcommands.is_empty() || (args.len() == 1 && spec.handler.is_some()) {
        return Ok(id);
    }
    let sub = args.get(1);
    match lower(sub, &mut buf).and_then(|s| table::lookup_sub(id, s)) {
        Some(sid) if table::spec(sid).arity_ok(args.len()) => Ok(sid),
        Some(sid) => Err(CmdError::Arity(table::spec(sid).name.to_string())),
        None => Err(CmdError::UnknownSubcommand {
            cmd: spec.name.to_ascii_uppercase(),
            sub: String::from_utf8_lossy(sub).into_owned(),
        }),
    }
}

fn unknown_command(args: Args<'_>) -> CmdError {
    // Redis quotes the name and the first arguments, each cut to 128 bytes.
    let clip = |a: &[u8]| String::from_utf8_lossy(&a[..a.len().min(128)]).into_owned();
    let mut rest = String::new();
    for a in args.iter().skip(1).take(16) {
        rest.push('\'');
        rest.push_str(&clip(a));
        rest.push_str("' ");
    }
    CmdError::UnknownCommand {
        name: clip(args.get(0)),
        args: rest,
    }
}

/// Runs one request: resolves it, checks authentication and permissions,
/// locks its keys, routes it in a cluster (under those locks, so a key is never
/// written on a node that no longer owns it), checks memory, then executes it
/// or, inside MULTI, queues it. Replies (including errors) go to `ctx.out`,
/// unless the request is to be forwarded.
pub fn dispatch(ctx: &mut Ctx<'_>, args: Args<'_>) -> Dispatched {
    // ASKING holds for the one command that follows it; slots move whole at
    // cutover (no ASK is ever sent), so nothing depends on it.
    ctx.session.asking = false;
    let queueing = ctx.session.multi.is_some();
    // As in Redis, unknown commands and arity errors are reported before NOAUTH.
    let id = match resolve(args) {
        Ok(id) => id,
        Err(e) => return refuse(ctx, args, &e.to_string()),
    };
    let spec = table::spec(id);
    if !ctx.session.authenticated && spec.flags & flags::NO_AUTH == 0 {
        return refuse(ctx, args, &CmdError::NoAuth.to_string());
    }
    if let Some(user) = &ctx.session.user {
        if spec.flags & flags::NO_AUTH == 0 {
            match crate::acl::denied(user, id, args) {
                None => {}
                Some(crate::acl::Denial::Command(name)) => {
                    let msg =
                        format!("NOPERM this user has no permissions to run the '{name}' command");
                    return refuse(ctx, args, &msg);
                }
                Some(crate::acl::Denial::Key(_)) => {
                    return refuse(ctx, args, "NOPERM this user has no permissions to access one of the keys used as arguments");
                }
            }
        }
    }
    // A script running past busy-reply-threshold makes commands fail with
    // BUSY; before that, one that would wait for the script waits there.
    if spec.flags & flags::ALLOW_BUSY == 0 && ctx.shared.scripts.busy.running() {
        if let Err(msg) = scripting::check_busy(ctx.shared, spec, args) {
            return refuse(ctx, args, msg);
        }
    }
    // A RESP2 connection with subscriptions only listens (RESP3 may do both).
    if !ctx.out.resp3()
        && pubsub::subscribed(ctx.session)
        && !pubsub::allowed_while_subscribed(spec.name.split('|').next().unwrap_or(""))
    {
        let msg = format!("ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context", spec.name);
        return refuse(ctx, args, &msg);
    }
    let is_exec = spec.name == "exec";
    let runs_now = !queueing || tx::runs_inside_multi(spec);
    // Memory is judged before locking (eviction locks shards itself), and the
    // verdict applied only to a command that runs or is queued here. As in
    // Redis, while queueing every command but DISCARD, QUIT and RESET is refused
    // out of memory (a queue grows without bound), which dooms the transaction.
    let oom = if !is_exec {
        let queued_growth = queueing && !matches!(spec.name, "discard" | "quit" | "reset");
        check_memory(ctx, spec.flags & flags::DENYOOM != 0 || queued_growth)
    } else {
        Ok(())
    };
    let has_keys = spec.keys.0 > 0 || spec.numkeys.is_some();
    let all_keys = spec.flags & flags::ALL_KEYS != 0
        || (spec.numkeys.is_some() && ctx.shared.scripts.needs_all_keys(spec, args));
    if all_keys && runs_now && !is_exec {
        ctx.keys.acquire_all();
    } else if has_keys {
        ctx.keys
            .acquire(spec.key_positions(args).map(|i| args.get(i)));
    }
    // Queued on the forwarding port, a command is routed with its whole block
    // at EXEC (which forwards the block to the owner), not on its own.
    let routed_later = queueing && !runs_now && ctx.session.forwarding;
    if ctx.shared.cluster.is_some() && has_keys && !routed_later {
        if let Some(mut elsewhere) = route(ctx, spec, args) {
            if matches!(elsewhere, Dispatched::Forward { .. }) && spec.name == "watch" {
                // A watch must live where its keys do, and a forwarding link
                // is shared by many clients.
                ctx.out.error("ERR WATCH of keys another node owns is not served on the forwarding port: use a cluster-aware client");
                elsewhere = Dispatched::Done;
            }
            ctx.keys.release();
            if queueing {
                tx::flag(ctx);
            }
            return elsewhere;
        }
    }
    // After routing: only keys this node would serve itself are held back.
    if ctx.shared.repl.held(ctx.now)
        && (has_keys || spec.flags & flags::WRITE != 0)
        && spec.flags & flags::LOADING == 0
    {
        ctx.keys.release();
        return refuse(ctx, args, "LOADING this primary restarted without its data and waits to learn whether a replica holds it");
    }
    if spec.flags & flags::WRITE != 0 && !ctx.shared.repl.is_primary() {
        ctx.keys.release();
        return refuse(
            ctx,
            args,
            "READONLY You can't write against a read only replica.",
        );
    }
    if !runs_now {
        ctx.keys.release();
        if let Err(e) = oom {
            return refuse(ctx, args, &e.to_string());
        }
        return tx::queue(ctx, id, args);
    }
    if let Err(e) = oom {
        ctx.keys.release();
        ctx.out.error(&e.to_string());
        return Dispatched::Done;
    }
    execute(ctx, id, args);
    ctx.keys.release();
    // Clients blocked on keys this command changed are served before its reply.
    if ctx.keys.has_ready() {
        blocking::serve_ready(ctx);
    }
    if let Some(b) = ctx.session.block.take() {
        return Dispatched::Block(b);
    }
    if std::mem::take(&mut ctx.session.evict_pending) {
        ctx.shared.evict_to_limit(ctx.now);
    }
    // Commands that need the connection itself say so through the session.
    if let Some(f) = ctx.session.forward.take() {
        return f;
    }
    if let Some(w) = ctx.session.wait.take() {
        return Dispatched::Wait(w);
    }
    if let Some(r) = ctx.session.sync.take() {
        return Dispatched::Replicate(r);
    }
    Dispatched::Done
}

/// Replies with an error to a request that does not run; inside MULTI the
/// error also dooms the transaction (EXEC then answers EXECABORT), and a
/// refused EXEC discards it, as in Redis.
fn refuse(ctx: &mut Ctx<'_>, args: Args<'_>, msg: &str) -> Dispatched {
    if args.get(0).eq_ignore_ascii_case(b"exec") {
        let reason = msg.strip_prefix("ERR ").unwrap_or(msg);
        ctx.out.error(&format!(
            "EXECABORT Transaction discarded because of: {reason}"
        ));
        ctx.session.multi = None;
        tx::unwatch_all(ctx.session, ctx.db());
        return Dispatched::Done;
    }
    ctx.out.error(msg);
    if ctx.session.multi.is_some() {
        tx::flag(ctx);
    }
    Dispatched::Done
}

/// Runs a resolved command on the keys already locked in `ctx.keys`, writes
/// its reply or error and records its latency (EXEC runs its queue this way).
pub fn execute(ctx: &mut Ctx<'_>, id: usize, args: Args<'_>) {
    let spec = table::spec(id);
    // Stored first: CLIENT LIST and CLIENT INFO name the command running.
    ctx.session
        .client
        .last_command
        .store(id, std::sync::atomic::Ordering::Relaxed);
    // quanta reads the TSC: a few ns, where clock_gettime took 4% of a GET.
    let start = quanta::Instant::now();
    let result = match spec.handler {
        Some(h) => h(ctx, args),
        None => Err(CmdError::UnknownSubcommand {
            cmd: spec.name.to_ascii_uppercase(),
            sub: String::new(),
        }),
    };
    if let Err(e) = result {
        ctx.out.error(&e.to_string());
        ctx.shared
            .metrics
            .command_errors
            .with_label_values(&[spec.name])
            .inc();
    }
    ctx.stats
        .observe(&ctx.shared.metrics, id, start.elapsed().as_secs_f64());
    let flags = ctx.settings.notify_keyspace_events;
    if crate::notify::enabled(flags) {
        let mut events = Vec::new();
        ctx.keys.take_events(&mut events);
        if !events.is_empty() {
            let limit = ctx.settings.obuf_pubsub.hard;
            crate::notify::emit(&ctx.shared.pubsub, flags, limit, spec.name, args, &events);
        }
    }
}

/// Decides where a keyed command runs in a cluster: None to run it here, or
/// what became of it (an error or redirection written, or a forward).
fn route(ctx: &mut Ctx<'_>, spec: &CommandSpec, args: Args<'_>) -> Option<Dispatched> {
    let keys: Vec<&[u8]> = spec.key_positions(args).map(|i| args.get(i)).collect();
    // Inside MULTI on the forwarding port, the block goes to the owner whole at
    // EXEC: each queued command is only checked here, never forwarded alone.
    let forward = ctx.session.forwarding && ctx.session.multi.is_none();
    let wait = ctx.session.may_wait && ctx.session.multi.is_none();
    route_keys(ctx, &keys, spec.flags & flags::READONLY != 0, forward, wait)
}

/// Where a command (or a transaction) on `keys` runs: None here, else what
/// became of it (an error or redirection written, or a forward when `forward`).
/// Runs under the locks of `keys`, so a node that gives a slot away at a
/// resize's cutover (which it does holding every shard) has journaled every
/// write it took to the slot before it stops taking them.
/// `wait`: a slot about to be served here may answer [`Dispatched::Retry`].
pub fn route_keys(
    ctx: &mut Ctx<'_>,
    keys: &[&[u8]],
    readonly: bool,
    forward: bool,
    wait: bool,
) -> Option<Dispatched> {
    use crate::cluster::slot::common_slot;
    use crate::cluster::Route;
    let cluster = ctx.shared.cluster.as_ref()?;
    let slot = match common_slot(keys.iter().copied()) {
        Ok(Some(slot)) => slot,
        Ok(None) => return None,
        Err(e) => {
            ctx.out.error(&e.to_string());
            return Some(Dispatched::Done);
        }
    };
    let view = cluster.load();
    let Some(view) = view.as_ref() else {
        ctx.out.error("CLUSTERDOWN Hash slot not served");
        return Some(Dispatched::Done);
    };
    // The shard's primary is handing over to a replica: its commands wait
    // for the replica to have its last writes (see `repl::HANDOVER`), so a
    // client never reads less than it wrote. Also while a topology naming
    // this node the primary is applied but its role not yet taken.
    let mine = view.me.filter(|m| view.owner(slot) == Some(m.shard));
    if mine.is_some_and(|m| {
        ctx.shared.repl.taking_over(ctx.now) || (m.primary && !ctx.shared.repl.is_primary())
    }) {
        if wait {
            return Some(Dispatched::Retry);
        }
        ctx.out.error(&format!(
            "TRYAGAIN Slot {slot} is changing primary; retry shortly"
        ));
        return Some(Dispatched::Done);
    }
    // READONLY clients read from a replica that holds a complete copy.
    let replica_read = ctx.session.readonly && readonly && ctx.shared.repl.serves_reads();
    let (slot, node) = match view.route(slot, replica_read) {
        Route::Local => return None,
        Route::Importing(slot) if ctx.shared.db.imported(slot) => return None,
        Route::Importing(_) | Route::Incoming(..) if wait => {
            ctx.shared.metrics.cluster.import_waits.inc();
            return Some(Dispatched::Retry);
        }
        Route::Importing(slot) => {
            ctx.out.error(&format!(
                "TRYAGAIN Slot {slot} is being handed over to this node; retry shortly"
            ));
            return Some(Dispatched::Done);
        }
        Route::Incoming(slot, node) => (slot, node),
        Route::Down => {
            ctx.out.error("CLUSTERDOWN Hash slot not served");
            return Some(Dispatched::Done);
        }
        Route::Moved(slot, node) => (slot, node),
    };
    if forward {
        return Some(Dispatched::Forward {
            host: node.host.clone(),
            port: node.port,
            asking: false,
            block: None,
        });
    }
    ctx.shared
        .metrics
        .cluster
        .redirects
        .with_label_values(&["moved"])
        .inc();
    ctx.out.error(&format!("MOVED {slot} {}", node.endpoint()));
    Some(Dispatched::Done)
}

/// Evicts before a command that may grow memory, or refuses it with -OOM, as Redis
/// does in `performEvictions`. `denyoom`: the command (or a queued one, for
/// EXEC) may grow memory. Runs with no shard locked.
pub fn check_memory(ctx: &mut Ctx<'_>, denyoom: bool) -> Result<(), CmdError> {
    let limit = ctx.settings.maxmemory;
    if limit == 0 || ctx.db().memory().used() <= limit {
        return Ok(());
    }
    let outcome = ctx.db().evict_to(
        limit,
        ctx.settings.maxmemory_policy,
        ctx.settings.maxmemory_samples as usize,
        ctx.now,
    );
    if outcome.is_err() && denyoom {
        ctx.shared.metrics.oom_rejections.inc();
        return Err(CmdError::Oom);
    }
    Ok(())
}
