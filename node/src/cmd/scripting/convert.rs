//! Conversions between RESP and Lua values, as Redis 7.0 documents them.
//!
//! RESP → Lua (a `redis.call` reply): integer → number, bulk → string, status
//! → `{ok=...}`, error → `{err=...}`, array → table; RESP2 nil bulk and nil
//! array → `false`; with `redis.setresp(3)`: null → nil, map → `{map={...}}`,
//! set → `{set={[member]=true}}`, double → `{double=n}`, boolean → boolean,
//! big number → `{big_number=s}`, verbatim → `{verbatim_string={format=,string=}}`.
//!
//! Lua → RESP (a script's return value): number → integer (truncated), string
//! → bulk, table with `err` → error, with `ok` → status, `double`, `big_number`,
//! `verbatim_string`, `map`, `set`, otherwise an array up to its first nil;
//! `true` → 1 and `false` → nil (RESP2 scripts) or booleans (RESP3 scripts);
//! anything else → nil.

use crate::resp::{Frame, Reply};
use mlua::{Lua, Table, Value};

/// Deepest nesting converted either way; deeper values become an error.
const MAX_DEPTH: usize = 512;

/// A Lua error table as `redis.pcall` returns it: `{err="CODE message"}`.
pub fn error_table(lua: &Lua, msg: &str) -> mlua::Result<Table> {
    let t = lua.create_table_with_capacity(0, 2)?;
    t.raw_set("err", lua.create_string(msg)?)?;
    Ok(t)
}

/// The `err` text Redis builds from an error reply `-CODE rest`: a reply
/// without a space gets the code ERR; CR/LF at the ends are trimmed.
pub fn error_text(reply: &str) -> String {
    let (code, msg) = match reply.find(' ') {
        Some(i) => (&reply[..i], &reply[i + 1..]),
        None => ("ERR", reply),
    };
    format!("{code} {}", msg.trim_matches(|c| c == '\r' || c == '\n'))
}

/// Converts a parsed command reply into the value `redis.call` returns.
pub fn frame_to_lua(lua: &Lua, frame: Frame, resp3: bool, depth: usize) -> mlua::Result<Value> {
    if depth > MAX_DEPTH {
        return Ok(Value::Table(error_table(
            lua,
            "ERR reply nested too deeply",
        )?));
    }
    Ok(match frame {
        Frame::Integer(i) => Value::Number(i as f64),
        Frame::Bulk(b) => Value::String(lua.create_string(&b)?),
        Frame::Null => {
            if resp3 {
                Value::Nil
            } else {
                Value::Boolean(false)
            }
        }
        Frame::Simple(s) => {
            let t = lua.create_table_with_capacity(0, 1)?;
            t.raw_set("ok", lua.create_string(&s)?)?;
            Value::Table(t)
        }
        Frame::Error(e) => {
            let t = error_table(lua, &error_text(&e))?;
            t.raw_set("ignore_error_stats_update", true)?;
            Value::Table(t)
        }
        Frame::Array(items) | Frame::Push(items) => {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, item) in items.into_iter().enumerate() {
                let v = frame_to_lua(lua, item, resp3, depth + 1)?;
                t.raw_set(i + 1, v)?;
            }
            Value::Table(t)
        }
        Frame::Map(pairs) => {
            let inner = lua.create_table_with_capacity(0, pairs.len())?;
            for (k, v) in pairs {
                let k = frame_to_lua(lua, k, resp3, depth + 1)?;
                let v = frame_to_lua(lua, v, resp3, depth + 1)?;
                if !k.is_nil() {
                    inner.raw_set(k, v)?;
                }
            }
            wrap(lua, "map", Value::Table(inner))?
        }
        Frame::Set(items) => {
            let inner = lua.create_table_with_capacity(0, items.len())?;
            for item in items {
                let k = frame_to_lua(lua, item, resp3, depth + 1)?;
                if !k.is_nil() {
                    inner.raw_set(k, true)?;
                }
            }
            wrap(lua, "set", Value::Table(inner))?
        }
        Frame::Double(d) => wrap(lua, "double", Value::Number(d))?,
        Frame::Boolean(b) => Value::Boolean(b),
        Frame::BigNumber(s) => wrap(lua, "big_number", Value::String(lua.create_string(&s)?))?,
        Frame::Verbatim(format, s) => {
            let inner = lua.create_table_with_capacity(0, 2)?;
            inner.raw_set("string", lua.create_string(&s)?)?;
            inner.raw_set("format", lua.create_string(&format)?)?;
            wrap(lua, "verbatim_string", Value::Table(inner))?
        }
    })
}

fn wrap(lua: &Lua, field: &str, v: Value) -> mlua::Result<Value> {
    let t = lua.create_table_with_capacity(0, 1)?;
    t.raw_set(field, v)?;
    Ok(Value::Table(t))
}

/// Writes a script's return value as its reply. `resp3`: the script chose
/// RESP3 with `redis.setresp(3)` (booleans then stay booleans).
pub fn write_reply(out: &mut Reply, v: &Value, resp3: bool) {
    write_value(out, v, resp3, 0);
}

fn number_to_int(n: f64) -> i64 {
    // C's (long long) cast truncates; out-of-range values saturate here.
    n as i64
}

fn write_value(out: &mut Reply, v: &Value, resp3: bool, depth: usize) {
    if depth > MAX_DEPTH {
        out.error("ERR reached lua stack limit");
        return;
    }
    match v {
        Value::String(s) => out.bulk(&s.as_bytes()),
        Value::Boolean(b) => {
            if resp3 {
                out.bool(*b);
            } else if *b {
                out.int(1);
            } else {
                out.null();
            }
        }
        Value::Integer(i) => out.int(*i),
        Value::Number(n) => out.int(number_to_int(*n)),
        Value::Table(t) => write_table(out, t, resp3, depth),
        _ => out.null(),
    }
}

fn field(t: &Table, name: &str) -> Value {
    t.raw_get::<Value>(name).unwrap_or(Value::Nil)
}

fn write_table(out: &mut Reply, t: &Table, resp3: bool, depth: usize) {
    if let Value::String(e) = field(t, "err") {
        out.error(&String::from_utf8_lossy(&e.as_bytes()));
        return;
    }
    if let Value::String(s) = field(t, "ok") {
        out.simple(&String::from_utf8_lossy(&s.as_bytes()).replace(['\r', '\n'], " "));
        return;
    }
    match field(t, "double") {
        Value::Number(d) => return out.score(d),
        Value::Integer(i) => return out.score(i as f64),
        _ => {}
    }
    if let Value::String(s) = field(t, "big_number") {
        let text = String::from_utf8_lossy(&s.as_bytes()).replace(['\r', '\n'], " ");
        if out.resp3() {
            out.raw(format!("({text}\r\n").as_bytes());
        } else {
            out.bulk(text.as_bytes());
        }
        return;
    }
    if let Value::Table(vt) = field(t, "verbatim_string") {
        if let (Value::String(format), Value::String(s)) =
            (field(&vt, "format"), field(&vt, "string"))
        {
            let s = s.as_bytes();
            if out.resp3() {
                let mut ext = [b' '; 3];
                for (d, c) in ext.iter_mut().zip(format.as_bytes().iter()) {
                    *d = *c;
                }
                out.raw(format!("={}\r\n", s.len() + 4).as_bytes());
                out.raw(&ext);
                out.raw(b":");
                out.raw(&s);
                out.raw(b"\r\n");
            } else {
                out.bulk(&s);
            }
            return;
        }
    }
    if let Value::Table(m) = field(t, "map") {
        let pairs: Vec<(Value, Value)> = m.pairs::<Value, Value>().filter_map(Result::ok).collect();
        out.map(pairs.len());
        for (k, v) in &pairs {
            write_value(out, k, resp3, depth + 1);
            write_value(out, v, resp3, depth + 1);
        }
        return;
    }
    if let Value::Table(s) = field(t, "set") {
        let keys: Vec<Value> = s
            .pairs::<Value, Value>()
            .filter_map(|p| p.ok().map(|(k, _)| k))
            .collect();
        out.set(keys.len());
        for k in &keys {
            write_value(out, k, resp3, depth + 1);
        }
        return;
    }
    let mut items = Vec::new();
    for i in 1.. {
        match t.raw_get::<Value>(i) {
            Ok(Value::Nil) | Err(_) => break,
            Ok(v) => items.push(v),
        }
    }
    out.array(items.len());
    for v in &items {
        write_value(out, v, resp3, depth + 1);
    }
}
