//! EVAL, EVALSHA, EVAL_RO and EVALSHA_RO: run a script on the keys `dispatch`
//! locked for it (see the module docs of `scripting`).

use super::convert::{error_table, error_text, frame_to_lua, write_reply};
use super::vm::{Vm, KILLED};
use super::{parse_shebang, script_flags as sf, sha1_hex};
use crate::cmd::{execute, flags, int_arg, resolve, table, CmdError, Ctx};
use crate::resp::{Args, Frame, Reply};
use mlua::{Function, Lua, Value, Variadic};
use std::cell::RefCell;
use std::collections::HashSet;
use std::ops::Range;
use std::sync::atomic::Ordering;

pub const NOSCRIPT_ERROR: &str = "NOSCRIPT No matching script. Please use EVAL.";

/// What `redis.call` answers when a script reaches a key it did not declare.
pub const UNDECLARED_ERROR: &str = "ERR Script attempted to access a key not declared in KEYS: Shoal locks a script's declared keys for its whole run (declare every key, or use the shebang flag allow-undeclared-keys)";

pub fn eval(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    run(ctx, args, false, false)
}

pub fn evalsha(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    run(ctx, args, true, false)
}

pub fn eval_ro(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    run(ctx, args, false, true)
}

pub fn evalsha_ro(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    run(ctx, args, true, true)
}

thread_local! {
    /// The buffer `redis.call` captures replies in, reused across scripts.
    static SCRATCH: RefCell<Option<Reply>> = const { RefCell::new(None) };
}

/// Gets the node's VM (creating it on first use) and the compiled function
/// for `sha`, compiling `body` when given and not compiled yet.
pub fn with_function<R>(
    scripts: &super::Scripting,
    sha: &str,
    body: Option<&[u8]>,
    shebang_len: usize,
    f: impl FnOnce(&mut Vm, Function) -> R,
) -> Result<R, CmdError> {
    let mut guard = scripts.vm.lock();
    if guard.is_none() {
        let vm = Vm::new(scripts.busy.clone())
            .map_err(|e| CmdError::err(format!("could not start the Lua VM: {e}")))?;
        *guard = Some(vm);
    }
    let vm = guard.as_mut().expect("the VM was just created");
    vm.sync_generation(scripts.generation.load(Ordering::Acquire));
    let func = match vm.function(sha) {
        Some(func) => func,
        None => {
            let Some(body) = body else {
                return Err(CmdError::Other(NOSCRIPT_ERROR.into()));
            };
            let func = vm.compile(sha, &body[shebang_len..]).map_err(|e| {
                CmdError::err(format!("Error compiling script (new function): {e}"))
            })?;
            // Compiled, so cached: EVALSHA finds what EVAL ran, as in Redis.
            if !scripts.exists(sha) {
                let flags = parse_shebang(body).map(|(f, _)| f).unwrap_or(sf::COMPAT);
                scripts.store(sha.to_string(), std::sync::Arc::from(body), flags);
            }
            func
        }
    };
    Ok(f(vm, func))
}

/// What a run may do, decided before it starts.
struct Run<'k> {
    declared: &'k [&'k [u8]],
    declared_set: Option<HashSet<&'k [u8]>>,
    all_keys: bool,
    read_only: bool,
    allow_oom: bool,
    oom_at_start: bool,
    dirty: bool,
    resp3_of: std::sync::Arc<super::vm::RunState>,
}

impl Run<'_> {
    fn declares(&self, key: &[u8]) -> bool {
        match &self.declared_set {
            Some(s) => s.contains(key),
            None => self.declared.contains(&key),
        }
    }
}

fn run(ctx: &mut Ctx<'_>, args: Args<'_>, by_sha: bool, ro: bool) -> Result<(), CmdError> {
    let numkeys = int_arg(args.get(2))?;
    if numkeys > (args.len() - 3) as i64 {
        return Err(CmdError::err(
            "Number of keys can't be greater than number of args",
        ));
    }
    if numkeys < 0 {
        return Err(CmdError::err("Number of keys can't be negative"));
    }
    let nk = numkeys as usize;
    let shared = ctx.shared;
    let scripts = &shared.scripts;
    // The script: its SHA1, its body when it must be compiled, its flags.
    let (sha, body, flags, shebang_len) = if by_sha {
        let given = args.get(1);
        if given.len() != 40 {
            return Err(CmdError::Other(NOSCRIPT_ERROR.into()));
        }
        let sha = String::from_utf8_lossy(given).to_ascii_lowercase();
        let Some((body, flags)) = scripts.cached(&sha) else {
            return Err(CmdError::Other(NOSCRIPT_ERROR.into()));
        };
        let len = parse_shebang(&body).map(|(_, l)| l).unwrap_or(0);
        (sha, body, flags, len)
    } else {
        let body = args.get(1);
        let sha = sha1_hex(body);
        let (flags, len) = match scripts.cached(&sha) {
            Some((_, flags)) => (flags, parse_shebang(body).map(|(_, l)| l).unwrap_or(0)),
            None => parse_shebang(body).map_err(CmdError::err)?,
        };
        (sha, std::sync::Arc::from(body), flags, len)
    };
    let compat = flags & sf::COMPAT != 0;
    let settings = ctx.settings.clone();
    let oom_at_start = settings.maxmemory > 0 && ctx.db().memory().used() > settings.maxmemory;
    let declared: Vec<&[u8]> = args.iter().skip(3).take(nk).collect();
    let argv: Vec<&[u8]> = args.iter().skip(3 + nk).collect();
    let all_keys = ctx.keys.holds_all();
    let undeclared_ok = flags & sf::ALLOW_UNDECLARED != 0;
    if undeclared_ok && ctx.shared.cluster.is_some() {
        // Its keys would have to be routed one by one, mid-script.
        return Err(CmdError::err(
            "allow-undeclared-keys is not served in a cluster: declare the script's keys in KEYS",
        ));
    }
    if undeclared_ok && !all_keys {
        return Err(CmdError::err(
            "a script flagged allow-undeclared-keys must hold the whole keyspace: it cannot run here",
        ));
    }
    let cluster = ctx.shared.cluster.is_some();
    let primary = ctx.shared.repl.is_primary();
    let busy = scripts.busy.clone();
    let shards: Vec<usize> = declared.iter().map(|k| ctx.db().shard_of(k)).collect();
    let start = std::time::Instant::now();
    scripts.calls.fetch_add(1, Ordering::Relaxed);
    let outcome = with_function(scripts, &sha, Some(&body), shebang_len, |vm, func| {
        // Redis' checks before a run (scriptPrepareForRun), for scripts
        // with a shebang; scripts without one keep the old behaviour.
        if !compat {
            if flags & sf::NO_CLUSTER != 0 && cluster {
                return Err(CmdError::err(
                    "Can not run script on cluster, 'no-cluster' flag is set.",
                ));
            }
            if flags & sf::NO_WRITES == 0 {
                if !primary {
                    return Err(CmdError::Other(
                        "READONLY Can not run script with write flag on readonly replica".into(),
                    ));
                }
                if ro {
                    return Err(CmdError::err(
                        "Can not execute a script with write flag using *_ro command.",
                    ));
                }
            }
            if oom_at_start && flags & (sf::ALLOW_OOM | sf::NO_WRITES) == 0 {
                return Err(CmdError::Other("OOM allow-oom flag is not set on the script, can not run it when used memory > 'maxmemory'".into()));
            }
        }
        let run = Run {
            declared_set: (declared.len() > 8).then(|| declared.iter().copied().collect()),
            declared: &declared,
            all_keys: all_keys && undeclared_ok,
            read_only: ro || (!compat && flags & sf::NO_WRITES != 0),
            allow_oom: !compat && flags & sf::ALLOW_OOM != 0,
            oom_at_start,
            dirty: false,
            resp3_of: vm.state.clone(),
        };
        execute_script(
            ctx, vm, func, run, &declared, &argv, &busy, shards, all_keys,
        )
    });
    scripts
        .time_us
        .fetch_add(start.elapsed().as_micros() as u64, Ordering::Relaxed);
    let result = outcome.and_then(|r| r);
    match result {
        Ok(Ok(())) => Ok(()),
        Ok(Err(Failure::Killed)) => {
            scripts.errors.fetch_add(1, Ordering::Relaxed);
            scripts.kills.fetch_add(1, Ordering::Relaxed);
            Err(CmdError::Other(format!(
                "ERR {KILLED} script: {sha}, on @user_script:1."
            )))
        }
        Ok(Err(Failure::Error { msg, source_line })) => {
            scripts.errors.fetch_add(1, Ordering::Relaxed);
            Err(CmdError::Other(match source_line {
                Some((source, line)) => format!("{msg} script: {sha}, on {source}:{line}."),
                None => msg,
            }))
        }
        Ok(Err(Failure::Other(msg))) => {
            scripts.errors.fetch_add(1, Ordering::Relaxed);
            let msg: String = msg.chars().take(100).collect();
            Err(CmdError::err(format!("Error running script {sha}, {msg} ")))
        }
        Err(e) => {
            scripts.errors.fetch_add(1, Ordering::Relaxed);
            Err(e)
        }
    }
}

enum Failure {
    Killed,
    /// The error handler's table: `err`, and where in the script.
    Error {
        msg: String,
        source_line: Option<(String, i64)>,
    },
    /// An error value that is not a table.
    Other(String),
}

#[allow(clippy::too_many_arguments)]
fn execute_script(
    ctx: &mut Ctx<'_>,
    vm: &mut Vm,
    func: Function,
    run: Run<'_>,
    declared: &[&[u8]],
    argv: &[&[u8]],
    busy: &super::Busy,
    shards: Vec<usize>,
    all_keys: bool,
) -> Result<Result<(), Failure>, CmdError> {
    vm.state.resp3.store(false, Ordering::Relaxed);
    vm.set_arrays(declared, argv)
        .map_err(|e| CmdError::err(format!("Error running script: {e}")))?;
    let scratch = SCRATCH.with(|s| s.borrow_mut().take()).unwrap_or_default();
    // The script thread marks its job busy itself, before taking its locks.
    let owned = !super::worker::owns_busy();
    if owned {
        busy.start(shards, all_keys);
    }
    let lua = vm.lua.clone();
    let runner = vm.runner.clone();
    let hooks = vm.hooks.clone();
    let redis = vm.redis.clone();
    let _ = hooks.raw_set("pending", Value::Nil);
    let run = RefCell::new((run, scratch));
    let ctx_cell = RefCell::new(&mut *ctx);
    let call_once = |lua: &Lua, a: Variadic<Value>| -> mlua::Result<(Value, bool)> {
        let mut ctx = ctx_cell
            .try_borrow_mut()
            .map_err(|_| mlua::Error::RecursiveMutCallback)?;
        let mut run = run
            .try_borrow_mut()
            .map_err(|_| mlua::Error::RecursiveMutCallback)?;
        let (run, scratch) = &mut *run;
        redis_call(&mut ctx, run, scratch, lua, &a)
    };
    let outcome: mlua::Result<(bool, Value)> = lua.scope(|scope| {
        let call = scope.create_function(|lua, a: Variadic<Value>| {
            let (v, failed) = call_once(lua, a)?;
            if failed {
                hooks.raw_set("pending", v)?;
                return Err(mlua::Error::runtime("redis.call failed"));
            }
            Ok(v)
        })?;
        let pcall = scope.create_function(|lua, a: Variadic<Value>| Ok(call_once(lua, a)?.0))?;
        let acl_check = scope.create_function(|lua, a: Variadic<Value>| {
            let ctx = ctx_cell
                .try_borrow()
                .map_err(|_| mlua::Error::RecursiveMutCallback)?;
            match acl_check_cmd(&ctx, &a) {
                Ok(allowed) => Ok(allowed),
                Err(msg) => {
                    hooks.raw_set("pending", error_table(lua, &format!("ERR {msg}"))?)?;
                    Err(mlua::Error::runtime(msg))
                }
            }
        })?;
        redis.raw_set("call", call)?;
        redis.raw_set("pcall", pcall)?;
        redis.raw_set("acl_check_cmd", acl_check)?;
        runner.call::<(bool, Value)>(func)
    });
    let (run, mut scratch) = run.into_inner();
    if let Ok((true, value)) = &outcome {
        write_reply(ctx.out, value, run.resp3_of.resp3.load(Ordering::Relaxed));
    }
    let killed = busy.kill.load(Ordering::Acquire);
    if owned {
        busy.end();
    }
    vm.after_run();
    ctx.shared
        .scripts
        .lua_memory
        .store(vm.lua.used_memory() as u64, Ordering::Relaxed);
    scratch.clear();
    SCRATCH.with(|s| *s.borrow_mut() = Some(scratch));
    let (ok, value) = match outcome {
        Ok(v) => v,
        Err(e) if killed => {
            let _ = e;
            return Ok(Err(Failure::Killed));
        }
        Err(e) => return Ok(Err(Failure::Other(first_line(&e.to_string())))),
    };
    if ok {
        return Ok(Ok(()));
    }
    if killed {
        return Ok(Err(Failure::Killed));
    }
    Ok(Err(match value {
        Value::Table(t) => {
            let msg = match t.raw_get::<Value>("err") {
                Ok(Value::String(s)) => String::from_utf8_lossy(&s.as_bytes()).into_owned(),
                _ => "ERR unknown error".into(),
            };
            let source: Option<String> = t.raw_get("source").ok();
            let line: Option<i64> = t.raw_get("line").ok();
            Failure::Error {
                msg,
                source_line: source.zip(line),
            }
        }
        Value::String(s) => Failure::Other(String::from_utf8_lossy(&s.as_bytes()).into_owned()),
        _ => Failure::Other("execution failure".into()),
    }))
}

/// `redis.acl_check_cmd(...)`: whether the caller's user may run the command.
fn acl_check_cmd(ctx: &Ctx<'_>, a: &[Value]) -> Result<bool, &'static str> {
    if a.is_empty() {
        return Err("Please specify at least one argument for this redis lib call");
    }
    let mut base = Vec::new();
    let mut spans = Vec::with_capacity(a.len());
    for v in a {
        let start = base.len();
        match v {
            Value::String(s) => base.extend_from_slice(&s.as_bytes()),
            Value::Integer(i) => base.extend_from_slice(itoa::Buffer::new().format(*i).as_bytes()),
            Value::Number(n) => base.extend_from_slice(crate::util::num::format_g17(*n).as_bytes()),
            _ => return Err("Lua redis lib command arguments must be strings or integers"),
        }
        spans.push(start..base.len());
    }
    let args = Args::new(&base, &spans);
    let Ok(id) = resolve(args) else {
        return Err("Invalid command passed to redis.acl_check_cmd()");
    };
    Ok(match &ctx.session.user {
        None => true,
        Some(user) => crate::acl::denied(user, id, args).is_none(),
    })
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").to_string()
}

/// A `redis.call`/`redis.pcall` failure: the error table, flagged so
/// `redis.call` raises it.
fn fail(lua: &Lua, msg: &str) -> mlua::Result<(Value, bool)> {
    let t = error_table(lua, &format!("ERR {msg}"))?;
    t.raw_set("ignore_error_stats_update", true)?;
    Ok((Value::Table(t), true))
}

fn fail_coded(lua: &Lua, reply: &str) -> mlua::Result<(Value, bool)> {
    let t = error_table(lua, &error_text(reply))?;
    t.raw_set("ignore_error_stats_update", true)?;
    Ok((Value::Table(t), true))
}

/// One `redis.call`: checks the command as Redis' scriptCall does, then runs it
/// on the locked keys with its reply captured and converted.
fn redis_call(
    ctx: &mut Ctx<'_>,
    run: &mut Run<'_>,
    scratch: &mut Reply,
    lua: &Lua,
    a: &[Value],
) -> mlua::Result<(Value, bool)> {
    if a.is_empty() {
        return fail(
            lua,
            "Please specify at least one argument for this redis lib call",
        );
    }
    let mut base: Vec<u8> = Vec::new();
    let mut spans: Vec<Range<usize>> = Vec::with_capacity(a.len());
    for v in a {
        let start = base.len();
        match v {
            Value::String(s) => base.extend_from_slice(&s.as_bytes()),
            Value::Integer(i) => base.extend_from_slice(itoa::Buffer::new().format(*i).as_bytes()),
            Value::Number(n) => base.extend_from_slice(crate::util::num::format_g17(*n).as_bytes()),
            _ => {
                return fail(
                    lua,
                    "Lua redis lib command arguments must be strings or integers",
                )
            }
        }
        spans.push(start..base.len());
    }
    let args = Args::new(&base, &spans);
    let id = match resolve(args) {
        Ok(id) => id,
        Err(CmdError::Arity(_)) => {
            return fail(
                lua,
                "Wrong number of args calling Redis command from script",
            )
        }
        Err(_) => return fail(lua, "Unknown Redis command called from script"),
    };
    let spec = table::spec(id);
    if spec.flags & flags::NOSCRIPT != 0 {
        return fail(lua, "This Redis command is not allowed from script");
    }
    if let Some(user) = &ctx.session.user {
        match crate::acl::denied(user, id, args) {
            None => {}
            Some(crate::acl::Denial::Command(_)) => {
                return fail(lua, "The user executing the script can't run this command or subcommand")
            }
            Some(crate::acl::Denial::Key(_)) => {
                return fail(lua, "The user executing the script can't access at least one of the keys mentioned in the command arguments")
            }
        }
    }
    if run.read_only && spec.flags & (flags::WRITE | flags::MAY_REPLICATE) != 0 {
        return fail(
            lua,
            "Write commands are not allowed from read-only scripts.",
        );
    }
    if spec.flags & flags::WRITE != 0 && !run.dirty {
        if !ctx.shared.repl.is_primary() {
            return fail_coded(lua, "READONLY You can't write against a read only replica.");
        }
        if !run.allow_oom && run.oom_at_start && spec.flags & flags::DENYOOM != 0 {
            return fail_coded(lua, &CmdError::Oom.to_string());
        }
    }
    // Only what the script locked: its declared keys, or everything.
    if !run.all_keys {
        if spec.flags & flags::ALL_KEYS != 0 {
            return fail_coded(lua, UNDECLARED_ERROR);
        }
        if spec.key_positions(args).any(|p| !run.declares(args.get(p))) {
            return fail_coded(lua, UNDECLARED_ERROR);
        }
    }
    if spec.flags & flags::WRITE != 0 {
        run.dirty = true;
        ctx.shared.scripts.busy.dirty.store(true, Ordering::Release);
    }
    let resp3 = run.resp3_of.resp3.load(Ordering::Relaxed);
    scratch.clear();
    scratch.set_resp3(resp3);
    std::mem::swap(ctx.out, scratch);
    // Nothing blocks inside a script: BLMPOP and BZMPOP answer at once.
    let was = std::mem::replace(&mut ctx.session.nonblocking, true);
    execute(ctx, id, args);
    ctx.session.nonblocking = was;
    std::mem::swap(ctx.out, scratch);
    let frame = match Frame::parse(scratch.buffer()) {
        Ok(Some((f, _))) => f,
        _ => return fail(lua, "could not read the command's reply"),
    };
    let failed = matches!(frame, Frame::Error(_));
    Ok((frame_to_lua(lua, frame, resp3, 0)?, failed))
}
