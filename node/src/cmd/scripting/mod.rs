//! Lua scripting: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT.
//!
//! Scripts run in Lua 5.1, the version Redis embeds (through mlua with a
//! vendored Lua 5.1 rather than LuaJIT or 5.4: scripts written for Redis rely on
//! 5.1's semantics, `unpack`, `setfenv`, `loadstring`, and 5.1's number
//! formatting, and a vendored build needs nothing from the machine).
//!
//! How a script runs (see `eval.rs`): `dispatch` locks the shards of the
//! declared KEYS (the table's `numkeys 2`), routes them in a cluster like any
//! keyed command, then the handler takes the node's one Lua VM and runs the
//! script; each `redis.call` executes a resolved command on the already-locked
//! shards and its reply, captured in a scratch buffer, is converted to Lua values.
//! The VM lock is only ever taken with the script's shards already held, and
//! nothing locks a shard while holding the VM, so the two never deadlock. When
//! the handler returns, `dispatch` releases the shards and the script's writes
//! are journaled as one batch: replicas receive the script's effects atomically,
//! never the script (so `TIME`- or `math.random`-dependent scripts are safe).
//!
//! Keys: a script may touch only the keys it declared in KEYS (or every key with
//! the Shoal-specific shebang flag `allow-undeclared-keys`, which makes it lock
//! the whole keyspace). Redis lets a standalone node's script reach any key;
//! here taking a shard lock in the middle of a script could deadlock against a
//! command holding it and waiting for the VM, and locking "just the shards that
//! happen to be held" would make a script's success depend on where its keys
//! hash. Dragonfly refuses undeclared keys by default for the same reason. The
//! refusal is an error reply from `redis.call`, which the script may catch with
//! `redis.pcall`.
//!
//! Busy scripts: a script that runs past `busy-reply-threshold` (5 s) makes
//! other clients' commands fail with `-BUSY` (except those flagged
//! `allow_busy`, such as SCRIPT KILL); SCRIPT KILL stops a script that has not
//! written, through a Lua count hook. Before the threshold, commands that need
//! the running script's shards or the VM wait for it (on a condition variable,
//! never on a lock, so a client on the same I/O thread can still send SCRIPT
//! KILL once the threshold passes); other commands run in parallel with it.

pub mod convert;
pub mod eval;
pub mod libs;
pub mod script;
pub mod vm;
pub mod worker;

use super::table::{c, CommandSpec};
use super::table::{ALLOW_BUSY, LOADING, MOVABLEKEYS, NOSCRIPT, NO_MANDATORY_KEYS, READONLY};
use super::table::{SKIP_MONITOR, STALE};
use parking_lot::{Condvar, Mutex};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const EVAL_FLAGS: u32 = NOSCRIPT | STALE | SKIP_MONITOR | NO_MANDATORY_KEYS | MOVABLEKEYS;

#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    c!("eval", -3, EVAL_FLAGS, (0, 0, 0), numkeys 2, "slow scripting", "scripting", "2.6.0", "Execute a Lua script server side", eval::eval),
    c!("evalsha", -3, EVAL_FLAGS, (0, 0, 0), numkeys 2, "slow scripting", "scripting", "2.6.0", "Execute a Lua script server side", eval::evalsha),
    c!("eval_ro", -3, EVAL_FLAGS | READONLY, (0, 0, 0), numkeys 2, "slow scripting", "scripting", "7.0.0", "Execute a read-only Lua script server side", eval::eval_ro),
    c!("evalsha_ro", -3, EVAL_FLAGS | READONLY, (0, 0, 0), numkeys 2, "slow scripting", "scripting", "7.0.0", "Execute a read-only Lua script server side", eval::evalsha_ro),
    CommandSpec {
        name: "script",
        arity: -2,
        flags: 0,
        keys: (0, 0, 0),
        acl: "slow",
        group: "scripting",
        since: "2.6.0",
        summary: "A container for Lua scripts management commands",
        handler: None,
        subcommands: &[
            c!("script|exists", -3, NOSCRIPT, (0, 0, 0), "slow scripting", "scripting", "2.6.0", "Check existence of scripts in the script cache.", script::exists),
            c!("script|flush", -2, NOSCRIPT, (0, 0, 0), "slow scripting", "scripting", "2.6.0", "Remove all the scripts from the script cache.", script::flush),
            c!("script|help", 2, LOADING | STALE, (0, 0, 0), "slow scripting", "scripting", "5.0.0", "Show helpful text about the different subcommands", script::help),
            c!("script|kill", 2, NOSCRIPT | ALLOW_BUSY, (0, 0, 0), "slow scripting", "scripting", "2.6.0", "Kill the script currently in execution.", script::kill),
            c!("script|load", 3, NOSCRIPT | STALE, (0, 0, 0), "slow scripting", "scripting", "2.6.0", "Load the specified Lua script into the script cache.", script::load),
        ],
        numkeys: None,
        extra_key: None,
    },
];

/// Shebang flags (`#!lua flags=...`), as Redis 7.0 parses them.
pub mod script_flags {
    /// No shebang: Redis' backwards-compatible mode.
    pub const COMPAT: u32 = 1;
    pub const NO_WRITES: u32 = 1 << 1;
    pub const ALLOW_OOM: u32 = 1 << 2;
    pub const ALLOW_STALE: u32 = 1 << 3;
    pub const NO_CLUSTER: u32 = 1 << 4;
    pub const ALLOW_CROSS_SLOT: u32 = 1 << 5;
    /// Shoal's own: the script may touch keys it did not declare, and so
    /// runs holding every shard.
    pub const ALLOW_UNDECLARED: u32 = 1 << 6;

    pub const NAMES: &[(&str, u32)] = &[
        ("no-writes", NO_WRITES),
        ("allow-oom", ALLOW_OOM),
        ("allow-stale", ALLOW_STALE),
        ("no-cluster", NO_CLUSTER),
        ("allow-cross-slot-keys", ALLOW_CROSS_SLOT),
        ("allow-undeclared-keys", ALLOW_UNDECLARED),
    ];
}

/// Parses a script's shebang line: its flags and the length of the line
/// (without its newline, which stays so line numbers match the source).
pub fn parse_shebang(body: &[u8]) -> Result<(u32, usize), String> {
    if !body.starts_with(b"#!") {
        return Ok((script_flags::COMPAT, 0));
    }
    let Some(end) = body.iter().position(|&b| b == b'\n') else {
        return Err("Invalid script shebang".into());
    };
    let line = String::from_utf8_lossy(&body[..end]);
    let mut parts = line.split_ascii_whitespace();
    let Some(engine) = parts.next() else {
        return Err("Invalid engine in script shebang".into());
    };
    if engine != "#!lua" {
        return Err(format!("Unexpected engine in script shebang: {engine}"));
    }
    let mut flags = 0;
    for part in parts {
        let Some(list) = part.strip_prefix("flags=") else {
            return Err(format!("Unknown lua shebang option: {part}"));
        };
        if list.is_empty() {
            continue;
        }
        for f in list.split(',') {
            match script_flags::NAMES.iter().find(|(n, _)| *n == f) {
                Some((_, bit)) => flags |= bit,
                None => return Err(format!("Unexpected flag in script shebang: {f}")),
            }
        }
    }
    Ok((flags, end))
}

/// The SHA1 of a script body, as 40 lowercase hex characters.
pub fn sha1_hex(body: &[u8]) -> String {
    sha1_smol::Sha1::from(body).digest().to_string()
}

/// A script in the cache: its body and its shebang flags.
pub struct Cached {
    pub body: Arc<[u8]>,
    pub flags: u32,
}

/// The scripting state of a node, in `Shared`.
pub struct Scripting {
    /// The Lua VM; entered only with the script's shards already locked.
    pub(crate) vm: Mutex<Option<vm::Vm>>,
    /// SHA1 → body: what SCRIPT LOAD and EVAL stored, what EVALSHA runs.
    cache: Mutex<HashMap<String, Cached>>,
    /// Bumped by SCRIPT FLUSH: the VM drops its compiled functions when it
    /// sees a new generation.
    pub(crate) generation: AtomicU64,
    pub busy: Arc<Busy>,
    /// Calls, errors and busy kills, for INFO and metrics.
    pub calls: AtomicU64,
    pub errors: AtomicU64,
    pub kills: AtomicU64,
    pub time_us: AtomicU64,
    pub(crate) lua_memory: AtomicU64,
    /// The script thread's queue (see `worker`); unset in in-process harnesses.
    pub worker: std::sync::OnceLock<Mutex<std::sync::mpsc::Sender<worker::Job>>>,
}

impl Default for Scripting {
    fn default() -> Self {
        Scripting {
            vm: Mutex::new(None),
            cache: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
            busy: Arc::new(Busy::default()),
            calls: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            kills: AtomicU64::new(0),
            time_us: AtomicU64::new(0),
            lua_memory: AtomicU64::new(0),
            worker: std::sync::OnceLock::new(),
        }
    }
}

/// Most scripts the cache holds: bodies come from clients.
pub const MAX_CACHED: usize = 1 << 20;

impl Scripting {
    pub fn cached(&self, sha: &str) -> Option<(Arc<[u8]>, u32)> {
        self.cache
            .lock()
            .get(sha)
            .map(|c| (c.body.clone(), c.flags))
    }

    pub fn exists(&self, sha: &str) -> bool {
        self.cache.lock().contains_key(sha)
    }

    pub fn store(&self, sha: String, body: Arc<[u8]>, flags: u32) {
        let mut cache = self.cache.lock();
        if cache.len() >= MAX_CACHED && !cache.contains_key(&sha) {
            // As SCRIPT FLUSH would: a client loading a million distinct
            // scripts is not allowed to exhaust memory.
            cache.clear();
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
        cache.insert(sha, Cached { body, flags });
    }

    pub fn flush(&self) {
        self.cache.lock().clear();
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    pub fn len(&self) -> usize {
        self.cache.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes the Lua VM holds, as of its last run (read without the VM lock,
    /// which a running script holds).
    pub fn lua_memory(&self) -> u64 {
        self.lua_memory.load(Ordering::Relaxed)
    }

    pub fn refresh_metrics(&self, m: &crate::metrics::Metrics) {
        use crate::metrics::Metrics;
        Metrics::catch_up(&m.script_calls, self.calls.load(Ordering::Relaxed));
        Metrics::catch_up(&m.script_errors, self.errors.load(Ordering::Relaxed));
        Metrics::catch_up(&m.script_kills, self.kills.load(Ordering::Relaxed));
        let seconds = self.time_us.load(Ordering::Relaxed) as f64 / 1e6;
        let counted = m.script_seconds.get();
        if seconds > counted {
            m.script_seconds.inc_by(seconds - counted);
        }
        m.scripts_cached.set(self.len() as i64);
    }

    /// The flags of a script an EVAL/EVALSHA request runs, when known before
    /// it runs (EVAL: from the body; EVALSHA: from the cache).
    pub fn request_flags(&self, args: crate::resp::Args<'_>) -> Option<u32> {
        if args.len() < 2 {
            return None;
        }
        let name = args.get(0);
        if name.len() >= 7 && name[..7].eq_ignore_ascii_case(b"evalsha") {
            let sha = String::from_utf8_lossy(args.get(1)).to_ascii_lowercase();
            self.cache.lock().get(&sha).map(|c| c.flags)
        } else {
            parse_shebang(args.get(1)).ok().map(|(f, _)| f)
        }
    }

    /// Whether a request is a script that must hold every shard
    /// (`allow-undeclared-keys`): `dispatch` and EXEC ask before locking.
    pub fn needs_all_keys(&self, spec: &CommandSpec, args: crate::resp::Args<'_>) -> bool {
        spec.group == "scripting"
            && spec.numkeys.is_some()
            && self
                .request_flags(args)
                .is_some_and(|f| f & script_flags::ALLOW_UNDECLARED != 0)
    }
}

/// Which script is running, since when, and whether it may still be killed.
#[derive(Default)]
pub struct Busy {
    /// Start of the running script in ms since `EPOCH` plus one; 0: none.
    since: AtomicU64,
    /// The running script has written (SCRIPT KILL answers UNKILLABLE).
    pub dirty: AtomicBool,
    /// SCRIPT KILL asked the running script to stop.
    pub kill: AtomicBool,
    /// Shard indexes the running script holds (every one: `all`).
    shards: Mutex<(Vec<usize>, bool)>,
    waiters: AtomicU64,
    done: Mutex<()>,
    cv: Condvar,
}

fn epoch() -> Instant {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now_ms() -> u64 {
    epoch().elapsed().as_millis() as u64
}

impl Busy {
    pub fn running(&self) -> bool {
        self.since.load(Ordering::Acquire) != 0
    }

    /// How long the running script has run, in ms.
    pub fn elapsed_ms(&self) -> Option<u64> {
        match self.since.load(Ordering::Acquire) {
            0 => None,
            s => Some(now_ms().saturating_sub(s - 1)),
        }
    }

    pub fn start(&self, shards: Vec<usize>, all: bool) {
        *self.shards.lock() = (shards, all);
        self.dirty.store(false, Ordering::Release);
        self.kill.store(false, Ordering::Release);
        self.since.store(now_ms() + 1, Ordering::Release);
    }

    pub fn end(&self) {
        self.since.store(0, Ordering::Release);
        if self.waiters.load(Ordering::Acquire) > 0 {
            let _g = self.done.lock();
            self.cv.notify_all();
        }
    }

    /// Whether the running script holds the shard `idx`.
    fn holds(&self, idx: usize) -> bool {
        let s = self.shards.lock();
        s.1 || s.0.contains(&idx)
    }

    /// Waits until no script runs, at most until it has run `threshold` ms.
    /// Returns whether a script still runs.
    fn wait(&self, threshold: u64) -> bool {
        self.waiters.fetch_add(1, Ordering::AcqRel);
        let mut g = self.done.lock();
        let still = loop {
            let Some(elapsed) = self.elapsed_ms() else {
                break false;
            };
            if elapsed >= threshold {
                break true;
            }
            let left = Duration::from_millis((threshold - elapsed).min(50));
            self.cv.wait_for(&mut g, left);
        };
        drop(g);
        self.waiters.fetch_sub(1, Ordering::AcqRel);
        still
    }
}

pub const BUSY_ERROR: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";

/// Called by `dispatch` for a command without `allow_busy` while a script runs:
/// past the threshold every such command gets `-BUSY`; before it, a command
/// that would wait for the script (its keys' shards, the VM, the whole
/// keyspace) waits here, where the wait is bounded, instead of in a lock.
pub fn check_busy(
    shared: &crate::server::Shared,
    spec: &CommandSpec,
    args: crate::resp::Args<'_>,
) -> Result<(), &'static str> {
    if worker::owns_busy() {
        return Ok(());
    }
    let s = &shared.scripts;
    let threshold = shared.settings.load().busy_reply_threshold;
    let Some(elapsed) = s.busy.elapsed_ms() else {
        return Ok(());
    };
    if elapsed >= threshold {
        return Err(BUSY_ERROR);
    }
    let conflicts = spec.group == "scripting"
        || spec.name == "exec"
        || spec.flags & super::flags::ALL_KEYS != 0
        || spec
            .key_positions(args)
            .any(|p| s.busy.holds(shared.db.shard_of(args.get(p))));
    if conflicts && s.busy.wait(threshold) {
        return Err(BUSY_ERROR);
    }
    Ok(())
}
