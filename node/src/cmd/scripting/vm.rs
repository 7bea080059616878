//! The Lua VM: Lua 5.1 with the libraries Redis 7.0 loads (base without
//! `dofile`/`loadfile`/`print`, `table`, `string`, `math`, `cjson`, `bit`), the
//! `redis` table, and globals locked (reading an undeclared global and writing
//! any global are errors, as in Redis 7). Bytecode is refused (`loadstring` of a
//! binary chunk), `os`, `io`, `package` and `debug` are absent, and the VM has a
//! memory limit. Compiled scripts are kept by SHA1.

use super::Busy;
use mlua::{Function, HookTriggers, Lua, LuaOptions, StdLib, Table, Value, VmState};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// Most memory the VM may allocate: a script that allocates without bound gets
/// "not enough memory" instead of exhausting the node.
pub const MEMORY_LIMIT: usize = 512 << 20;

/// How often (in VM instructions) the kill hook looks at SCRIPT KILL.
const HOOK_EVERY: u32 = 1000;

pub const REDIS_VERSION: &str = "7.0.15";
pub const REDIS_VERSION_NUM: u32 = 0x0007_000f;

const PRELUDE: &str = include_str!("prelude.lua");

/// State the Lua-side helpers share with the run in progress.
#[derive(Default)]
pub struct RunState {
    /// `redis.setresp(3)` was called.
    pub resp3: AtomicBool,
    /// The 48-bit generator behind `math.random` (the rand48 recurrence,
    /// as Redis' own, so a seeded script draws the same numbers).
    rng: AtomicU64,
}

const RAND48_INIT: u64 = 0x1234_ABCD_330E;

impl RunState {
    fn next_rand(&self) -> f64 {
        let x = self.rng.load(Ordering::Relaxed);
        let x = x.wrapping_mul(0x5_DEEC_E66D).wrapping_add(0xB) & ((1 << 48) - 1);
        self.rng.store(x, Ordering::Relaxed);
        let r = (x >> 17) as i64;
        let max = i32::MAX as i64;
        (r % max) as f64 / max as f64
    }

    fn seed(&self, seed: i32) {
        self.rng
            .store(((seed as u32 as u64) << 16) | 0x330E, Ordering::Relaxed);
    }
}

pub struct Vm {
    pub lua: Lua,
    /// `xpcall(f, handler)` with Shoal's error handler.
    pub runner: Function,
    /// The table behind the locked globals (KEYS and ARGV are set in it).
    pub base: Table,
    /// Helpers shared with the prelude (`hooks.pending`: a failed call's error).
    pub hooks: Table,
    /// The real `redis` table, where each run sets `call` and `pcall`.
    pub redis: Table,
    pub state: Arc<RunState>,
    functions: HashMap<String, Function>,
    generation: u64,
    runs: u64,
}

impl Vm {
    pub fn new(busy: Arc<Busy>) -> mlua::Result<Vm> {
        let lua = Lua::new_with(
            StdLib::TABLE | StdLib::STRING | StdLib::MATH,
            LuaOptions::default(),
        )?;
        let globals = lua.globals();
        super::libs::load(&lua, &globals)?;
        let state = Arc::new(RunState {
            resp3: AtomicBool::new(false),
            rng: AtomicU64::new(RAND48_INIT),
        });
        let hooks = lua.create_table()?;
        let st = state.clone();
        hooks.raw_set(
            "rand48",
            lua.create_function(move |_, ()| Ok(st.next_rand()))?,
        )?;
        let st = state.clone();
        hooks.raw_set(
            "seed",
            lua.create_function(move |_, s: f64| {
                st.seed(s as i64 as i32);
                Ok(())
            })?,
        )?;
        let st = state.clone();
        hooks.raw_set(
            "setresp",
            lua.create_function(move |_, v: u8| {
                st.resp3.store(v == 3, Ordering::Relaxed);
                Ok(())
            })?,
        )?;
        hooks.raw_set(
            "sha1hex",
            lua.create_function(|lua, s: mlua::String| {
                lua.create_string(super::sha1_hex(&s.as_bytes()))
            })?,
        )?;
        hooks.raw_set(
            "log",
            lua.create_function(|_, (level, msg): (u8, mlua::String)| {
                let msg = String::from_utf8_lossy(&msg.as_bytes()).into_owned();
                match level {
                    0 | 1 => tracing::debug!(target: "script", "{msg}"),
                    2 => tracing::info!(target: "script", "{msg}"),
                    _ => tracing::warn!(target: "script", "{msg}"),
                }
                Ok(())
            })?,
        )?;
        hooks.raw_set(
            "where",
            lua.create_function(|lua, ()| {
                // The innermost frame of the user's script, for error messages.
                for level in 0..64 {
                    let found = lua.inspect_stack(level, |d| {
                        (d.source().source.as_deref() == Some("@user_script"))
                            .then(|| d.current_line())
                            .flatten()
                    });
                    match found {
                        None => break,
                        Some(Some(line)) => return Ok(Some(line)),
                        Some(None) => {}
                    }
                }
                Ok(None)
            })?,
        )?;
        hooks.raw_set("version", REDIS_VERSION)?;
        hooks.raw_set("version_num", REDIS_VERSION_NUM)?;
        let api = lua
            .load(include_str!("api.lua"))
            .set_name("=shoal_api")
            .call::<(Function, Function, Table)>(hooks.clone())?;
        let trampoline = |f: Function| {
            lua.create_function(move |_, a: mlua::MultiValue| f.call::<mlua::MultiValue>(a))
        };
        hooks.raw_set("random", trampoline(api.0)?)?;
        hooks.raw_set("randomseed", trampoline(api.1)?)?;
        let helpers: Vec<(Value, Value)> = api.2.pairs().collect::<mlua::Result<_>>()?;
        for (k, v) in helpers {
            if let Value::Function(f) = v {
                api.2.raw_set(k, trampoline(f)?)?;
            }
        }
        let (runner, base, redis) = lua
            .load(PRELUDE)
            .set_name("=shoal")
            .call::<(Function, Table, Table)>((hooks.clone(), api.2))?;
        lua.set_memory_limit(MEMORY_LIMIT)?;
        lua.set_global_hook(
            HookTriggers::new().every_nth_instruction(HOOK_EVERY),
            move |_, _| {
                if busy.kill.load(Ordering::Relaxed) {
                    return Err(mlua::Error::runtime(KILLED));
                }
                Ok(VmState::Continue)
            },
        )?;
        Ok(Vm {
            lua,
            runner,
            base,
            hooks,
            redis,
            state,
            functions: HashMap::new(),
            generation: 0,
            runs: 0,
        })
    }

    /// Forgets compiled scripts when SCRIPT FLUSH ran since the last call.
    pub fn sync_generation(&mut self, generation: u64) {
        if generation != self.generation {
            self.functions.clear();
            self.generation = generation;
            let _ = self.lua.gc_collect();
        }
    }

    pub fn function(&self, sha: &str) -> Option<Function> {
        self.functions.get(sha).cloned()
    }

    /// Compiles a script body (its shebang line already blanked) as the chunk
    /// `@user_script`, as Redis names it in error messages.
    pub fn compile(&mut self, sha: &str, source: &[u8]) -> Result<Function, String> {
        let f = self
            .lua
            .load(source)
            .set_name("@user_script")
            .set_mode(mlua::ChunkMode::Text)
            .into_function()
            .map_err(|e| compile_error_text(&e))?;
        self.functions.insert(sha.to_string(), f.clone());
        Ok(f)
    }

    /// Sets KEYS and ARGV for the next run.
    pub fn set_arrays(&self, keys: &[&[u8]], argv: &[&[u8]]) -> mlua::Result<()> {
        let make = |items: &[&[u8]]| -> mlua::Result<Table> {
            let t = self.lua.create_table_with_capacity(items.len(), 0)?;
            for (i, a) in items.iter().enumerate() {
                t.raw_set(i + 1, self.lua.create_string(a)?)?;
            }
            Ok(t)
        };
        self.base.raw_set("KEYS", make(keys)?)?;
        self.base.raw_set("ARGV", make(argv)?)?;
        Ok(())
    }

    /// After a run: a small collection step now and then, as Redis does every
    /// 50 scripts, so garbage never piles up to a long full collection.
    pub fn after_run(&mut self) {
        self.runs += 1;
        if self.runs.is_multiple_of(50) {
            let _ = self.lua.gc_step_kbytes(50);
        }
        let _ = self.hooks.raw_set("pending", Value::Nil);
        let _ = self.redis.raw_set("call", Value::Nil);
        let _ = self.redis.raw_set("pcall", Value::Nil);
        let _ = self.redis.raw_set("acl_check_cmd", Value::Nil);
    }
}

/// What a killed script's error says (Redis' text).
pub const KILLED: &str = "Script killed by user with SCRIPT KILL...";

fn compile_error_text(e: &mlua::Error) -> String {
    match e {
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        mlua::Error::MemoryError(m) => m.clone(),
        other => other.to_string(),
    }
}
