//! The libraries Redis loads besides Lua's own: `bit` (LuaBitOp's API) and
//! `cjson` (lua-cjson's encode/decode with its defaults: 14 significant digits,
//! `/` escaped, empty tables as objects, `cjson.null` for JSON null).
//! `struct` and `cmsgpack` are not provided yet.

use mlua::{LightUserData, Lua, Table, Value, Variadic};

pub fn load(lua: &Lua, globals: &Table) -> mlua::Result<()> {
    globals.raw_set("bit", bit(lua)?)?;
    globals.raw_set("cjson", cjson(lua)?)?;
    Ok(())
}

/// Lua number → the 32-bit integer LuaBitOp works on (modulo 2^32).
fn tobit(n: f64) -> i32 {
    if !n.is_finite() {
        return 0;
    }
    let r = n.round_ties_even();
    (r.rem_euclid(4294967296.0) as u64 as u32) as i32
}

fn bit(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("tobit", lua.create_function(|_, x: f64| Ok(tobit(x)))?)?;
    t.raw_set("bnot", lua.create_function(|_, x: f64| Ok(!tobit(x)))?)?;
    t.raw_set(
        "band",
        lua.create_function(|_, v: Variadic<f64>| Ok(v.iter().fold(-1i32, |a, &b| a & tobit(b))))?,
    )?;
    t.raw_set(
        "bor",
        lua.create_function(|_, v: Variadic<f64>| Ok(v.iter().fold(0i32, |a, &b| a | tobit(b))))?,
    )?;
    t.raw_set(
        "bxor",
        lua.create_function(|_, v: Variadic<f64>| Ok(v.iter().fold(0i32, |a, &b| a ^ tobit(b))))?,
    )?;
    t.raw_set(
        "lshift",
        lua.create_function(|_, (x, n): (f64, f64)| {
            Ok(((tobit(x) as u32) << (tobit(n) & 31)) as i32)
        })?,
    )?;
    t.raw_set(
        "rshift",
        lua.create_function(|_, (x, n): (f64, f64)| {
            Ok(((tobit(x) as u32) >> (tobit(n) & 31)) as i32)
        })?,
    )?;
    t.raw_set(
        "arshift",
        lua.create_function(|_, (x, n): (f64, f64)| Ok(tobit(x) >> (tobit(n) & 31)))?,
    )?;
    t.raw_set(
        "rol",
        lua.create_function(|_, (x, n): (f64, f64)| {
            Ok((tobit(x) as u32).rotate_left((tobit(n) & 31) as u32) as i32)
        })?,
    )?;
    t.raw_set(
        "ror",
        lua.create_function(|_, (x, n): (f64, f64)| {
            Ok((tobit(x) as u32).rotate_right((tobit(n) & 31) as u32) as i32)
        })?,
    )?;
    t.raw_set(
        "bswap",
        lua.create_function(|_, x: f64| Ok((tobit(x) as u32).swap_bytes() as i32))?,
    )?;
    t.raw_set(
        "tohex",
        lua.create_function(|_, (x, n): (f64, Option<f64>)| {
            let mut n = n.map(tobit).unwrap_or(8);
            let upper = n < 0;
            if upper {
                n = -n;
            }
            let n = n.clamp(1, 8) as usize;
            let v = tobit(x) as u32;
            let s = if upper {
                format!("{v:08X}")
            } else {
                format!("{v:08x}")
            };
            Ok(s[8 - n..].to_string())
        })?,
    )?;
    Ok(t)
}

fn null() -> Value {
    Value::LightUserData(LightUserData(std::ptr::null_mut()))
}

fn cjson(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("null", null())?;
    t.raw_set(
        "encode",
        lua.create_function(|lua, v: Value| {
            let mut out = Vec::new();
            encode(&v, &mut out, 0).map_err(|e| script_error(lua, &e))?;
            lua.create_string(&out)
        })?,
    )?;
    t.raw_set(
        "decode",
        lua.create_function(|lua, s: mlua::String| {
            let bytes = s.as_bytes();
            let v: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
                script_error(lua, &format!("Expected value but found invalid token: {e}"))
            })?;
            decode(lua, &v, 0)
        })?,
    )?;
    Ok(t)
}

const MAX_DEPTH: usize = 1000;

/// An error raised by a library function, positioned at the calling script
/// line as Lua's own library errors are (`user_script:1: ...`).
pub fn script_error(lua: &Lua, msg: &str) -> mlua::Error {
    for level in 0..64 {
        let found = lua.inspect_stack(level, |d| {
            (d.source().source.as_deref() == Some("@user_script"))
                .then(|| d.current_line())
                .flatten()
        });
        match found {
            None => break,
            Some(Some(line)) => return mlua::Error::runtime(format!("user_script:{line}: {msg}")),
            Some(None) => {}
        }
    }
    mlua::Error::runtime(msg)
}

fn encode_number(n: f64, out: &mut Vec<u8>) -> Result<(), String> {
    if !n.is_finite() {
        return Err("Cannot serialise number: must not be NaN or Inf".into());
    }
    out.extend_from_slice(crate::cmd::scripting::libs::format_g14(n).as_bytes());
    Ok(())
}

/// `%.14g`, lua-cjson's default number format.
pub fn format_g14(n: f64) -> String {
    if n == n.trunc() && n.abs() < 1e15 {
        return format!("{}", n as i64);
    }
    let exp = n.abs().log10().floor() as i32;
    if !(-5..14).contains(&exp) {
        let s = format!("{:.13e}", n);
        let (mant, e) = s.split_once('e').unwrap_or((&s, "0"));
        let mant = mant.trim_end_matches('0').trim_end_matches('.');
        let e: i32 = e.parse().unwrap_or(0);
        return format!("{mant}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs());
    }
    let decimals = (13 - exp).max(0) as usize;
    let s = format!("{:.*}", decimals, n);
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

fn encode_string(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &c in s {
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            c if c < 0x20 || c == 0x7f => out.extend_from_slice(format!("\\u{c:04x}").as_bytes()),
            c => out.push(c),
        }
    }
    out.push(b'"');
}

fn encode(v: &Value, out: &mut Vec<u8>, depth: usize) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err("Cannot serialise, excessive nesting (1001)".into());
    }
    match v {
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Integer(i) => out.extend_from_slice(i.to_string().as_bytes()),
        Value::Number(n) => encode_number(*n, out)?,
        Value::String(s) => encode_string(&s.as_bytes(), out),
        Value::Table(t) => {
            let pairs: Vec<(Value, Value)> = t
                .pairs::<Value, Value>()
                .collect::<mlua::Result<_>>()
                .map_err(|e| e.to_string())?;
            // An array: only positive integer keys, not excessively sparse.
            let mut max = 0usize;
            let mut array = !pairs.is_empty();
            for (k, _) in &pairs {
                let n = match k {
                    Value::Integer(i) => *i as f64,
                    Value::Number(n) => *n,
                    _ => {
                        array = false;
                        break;
                    }
                };
                if n < 1.0 || n != n.floor() {
                    array = false;
                    break;
                }
                max = max.max(n as usize);
            }
            if array && max > 10 && max > pairs.len() * 2 {
                return Err("Cannot serialise table: excessively sparse array".into());
            }
            if array {
                out.push(b'[');
                for i in 1..=max {
                    if i > 1 {
                        out.push(b',');
                    }
                    let item: Value = t.raw_get(i).map_err(|e| e.to_string())?;
                    encode(&item, out, depth + 1)?;
                }
                out.push(b']');
            } else {
                out.push(b'{');
                for (i, (k, val)) in pairs.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    match k {
                        Value::String(s) => encode_string(&s.as_bytes(), out),
                        Value::Integer(n) => encode_string(n.to_string().as_bytes(), out),
                        Value::Number(n) => {
                            let mut tmp = Vec::new();
                            encode_number(*n, &mut tmp)?;
                            encode_string(&tmp, out);
                        }
                        _ => {
                            return Err(
                                "Cannot serialise table: table key must be a number or string"
                                    .into(),
                            )
                        }
                    }
                    out.push(b':');
                    encode(val, out, depth + 1)?;
                }
                out.push(b'}');
            }
        }
        other => {
            return Err(format!(
                "Cannot serialise {}: type not supported",
                other.type_name()
            ))
        }
    }
    Ok(())
}

fn decode(lua: &Lua, v: &serde_json::Value, depth: usize) -> mlua::Result<Value> {
    if depth > MAX_DEPTH {
        return Err(mlua::Error::runtime(
            "Found too many nested data structures (1001)",
        ));
    }
    Ok(match v {
        serde_json::Value::Null => null(),
        serde_json::Value::Bool(b) => Value::Boolean(*b),
        serde_json::Value::Number(n) => Value::Number(n.as_f64().unwrap_or(0.0)),
        serde_json::Value::String(s) => Value::String(lua.create_string(s)?),
        serde_json::Value::Array(items) => {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, item) in items.iter().enumerate() {
                t.raw_set(i + 1, decode(lua, item, depth + 1)?)?;
            }
            Value::Table(t)
        }
        serde_json::Value::Object(map) => {
            let t = lua.create_table_with_capacity(0, map.len())?;
            for (k, item) in map {
                t.raw_set(lua.create_string(k)?, decode(lua, item, depth + 1)?)?;
            }
            Value::Table(t)
        }
    })
}
