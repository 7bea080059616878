//! The libraries Redis loads besides Lua's own: `bit` (LuaBitOp's API),
//! `cjson` (lua-cjson's encode/decode with its defaults: 14 significant digits,
//! `/` escaped, empty tables as objects, `cjson.null` for JSON null) and
//! `cmsgpack` (lua-cmsgpack's pack/unpack: smallest integer and float
//! encodings, tables with keys 1..n as arrays, 16 levels of nesting) and
//! `struct` (pack, unpack and size with its format language: `<` `>` `!n`,
//! `b B h H l L T iN IN f d cN s x`).

use mlua::{LightUserData, Lua, Table, Value, Variadic};

pub fn load(lua: &Lua, globals: &Table) -> mlua::Result<()> {
    globals.raw_set("bit", bit(lua)?)?;
    globals.raw_set("cjson", cjson(lua)?)?;
    globals.raw_set("cmsgpack", cmsgpack(lua)?)?;
    globals.raw_set("struct", structlib(lua)?)?;
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

// --- cmsgpack ---------------------------------------------------------------

const MSGPACK_MAX_NESTING: usize = 16;

fn mp_int(n: i64, out: &mut Vec<u8>) {
    if n >= 0 {
        let u = n as u64;
        if u <= 127 {
            out.push(u as u8);
        } else if u <= 0xff {
            out.extend_from_slice(&[0xcc, u as u8]);
        } else if u <= 0xffff {
            out.push(0xcd);
            out.extend_from_slice(&(u as u16).to_be_bytes());
        } else if u <= 0xffff_ffff {
            out.push(0xce);
            out.extend_from_slice(&(u as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&u.to_be_bytes());
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= i64::from(i32::MIN) {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn mp_number(n: f64, out: &mut Vec<u8>) {
    if n.is_finite() && (n as i64) as f64 == n {
        return mp_int(n as i64, out);
    }
    let f = n as f32;
    if f64::from(f) == n || n.is_nan() {
        out.push(0xca);
        out.extend_from_slice(&f.to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn mp_len(len: usize, small: u8, small_max: usize, codes: [u8; 3], out: &mut Vec<u8>) {
    if len <= small_max {
        out.push(small | len as u8);
    } else if codes[0] != 0 && len <= 0xff {
        out.extend_from_slice(&[codes[0], len as u8]);
    } else if len <= 0xffff {
        out.push(codes[1]);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(codes[2]);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
}

fn mp_encode(v: &Value, out: &mut Vec<u8>, depth: usize) -> mlua::Result<()> {
    match v {
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(i) => mp_int(*i, out),
        Value::Number(n) => mp_number(*n, out),
        Value::String(s) => {
            let b = s.as_bytes();
            mp_len(b.len(), 0xa0, 31, [0xd9, 0xda, 0xdb], out);
            out.extend_from_slice(&b);
        }
        Value::Table(t) if depth < MSGPACK_MAX_NESTING => {
            let pairs: Vec<(Value, Value)> =
                t.pairs::<Value, Value>().collect::<mlua::Result<_>>()?;
            let mut max = 0.0f64;
            let array = pairs.iter().all(|(k, _)| {
                let n = match k {
                    Value::Integer(i) => *i as f64,
                    Value::Number(n) => *n,
                    _ => return false,
                };
                if n >= 1.0 && n == n.floor() {
                    max = max.max(n);
                    true
                } else {
                    false
                }
            }) && max as usize == pairs.len();
            if array {
                mp_len(pairs.len(), 0x90, 15, [0, 0xdc, 0xdd], out);
                for i in 1..=pairs.len() {
                    mp_encode(&t.raw_get::<Value>(i)?, out, depth + 1)?;
                }
            } else {
                mp_len(pairs.len(), 0x80, 15, [0, 0xde, 0xdf], out);
                for (k, val) in &pairs {
                    mp_encode(k, out, depth + 1)?;
                    mp_encode(val, out, depth + 1)?;
                }
            }
        }
        _ => out.push(0xc0),
    }
    Ok(())
}

struct MpReader<'b> {
    buf: &'b [u8],
    pos: usize,
}

impl MpReader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], &'static str> {
        if self.buf.len() - self.pos < n {
            return Err("Missing bytes in input.");
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn uint(&mut self, n: usize) -> Result<u64, &'static str> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |a, &b| (a << 8) | u64::from(b)))
    }
}

fn mp_decode(lua: &Lua, r: &mut MpReader<'_>, depth: usize) -> mlua::Result<Value> {
    let err = |e: &str| script_error(lua, e);
    if depth > 1000 {
        return Err(err("Bad data format in input."));
    }
    let c = r.take(1).map_err(err)?[0];
    let int = |n: i64| Value::Number(n as f64);
    Ok(match c {
        0x00..=0x7f => int(i64::from(c)),
        0xe0..=0xff => int(i64::from(c as i8)),
        0xc0 => Value::Nil,
        0xc2 => Value::Boolean(false),
        0xc3 => Value::Boolean(true),
        0xcc => int(r.uint(1).map_err(err)? as i64),
        0xcd => int(r.uint(2).map_err(err)? as i64),
        0xce => int(r.uint(4).map_err(err)? as i64),
        0xcf => Value::Number(r.uint(8).map_err(err)? as f64),
        0xd0 => int(i64::from(r.uint(1).map_err(err)? as u8 as i8)),
        0xd1 => int(i64::from(r.uint(2).map_err(err)? as u16 as i16)),
        0xd2 => int(i64::from(r.uint(4).map_err(err)? as u32 as i32)),
        0xd3 => int(r.uint(8).map_err(err)? as i64),
        0xca => Value::Number(f64::from(f32::from_bits(r.uint(4).map_err(err)? as u32))),
        0xcb => Value::Number(f64::from_bits(r.uint(8).map_err(err)?)),
        0xa0..=0xbf | 0xd9 | 0xda | 0xdb | 0xc4 | 0xc5 | 0xc6 => {
            let len = match c {
                0xa0..=0xbf => usize::from(c & 0x1f),
                0xd9 | 0xc4 => r.uint(1).map_err(err)? as usize,
                0xda | 0xc5 => r.uint(2).map_err(err)? as usize,
                _ => r.uint(4).map_err(err)? as usize,
            };
            Value::String(lua.create_string(r.take(len).map_err(err)?)?)
        }
        0x90..=0x9f | 0xdc | 0xdd => {
            let len = match c {
                0x90..=0x9f => usize::from(c & 0x0f),
                0xdc => r.uint(2).map_err(err)? as usize,
                _ => r.uint(4).map_err(err)? as usize,
            };
            let t = lua.create_table_with_capacity(len.min(1 << 16), 0)?;
            for i in 1..=len {
                t.raw_set(i, mp_decode(lua, r, depth + 1)?)?;
            }
            Value::Table(t)
        }
        0x80..=0x8f | 0xde | 0xdf => {
            let len = match c {
                0x80..=0x8f => usize::from(c & 0x0f),
                0xde => r.uint(2).map_err(err)? as usize,
                _ => r.uint(4).map_err(err)? as usize,
            };
            let t = lua.create_table_with_capacity(0, len.min(1 << 16))?;
            for _ in 0..len {
                let k = mp_decode(lua, r, depth + 1)?;
                let v = mp_decode(lua, r, depth + 1)?;
                if !k.is_nil() {
                    t.raw_set(k, v)?;
                }
            }
            Value::Table(t)
        }
        _ => return Err(err("Bad data format in input.")),
    })
}

/// Decodes up to `limit` objects (0: all) from `offset`; returns the offset
/// after the last one (-1 at the end of the input) and the objects.
fn mp_unpack(lua: &Lua, s: &[u8], limit: usize, offset: usize) -> mlua::Result<mlua::MultiValue> {
    let mut r = MpReader {
        buf: s,
        pos: offset.min(s.len()),
    };
    let mut values = Vec::new();
    while r.pos < s.len() && (limit == 0 || values.len() < limit) {
        values.push(mp_decode(lua, &mut r, 0)?);
    }
    Ok(values.into_iter().collect())
}

fn cmsgpack(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "pack",
        lua.create_function(|lua, v: Variadic<Value>| {
            if v.is_empty() {
                return Err(script_error(lua, "MessagePack pack needs input."));
            }
            let mut out = Vec::new();
            for item in v.iter() {
                mp_encode(item, &mut out, 0)?;
            }
            lua.create_string(&out)
        })?,
    )?;
    t.raw_set(
        "unpack",
        lua.create_function(|lua, s: mlua::String| mp_unpack(lua, &s.as_bytes(), 0, 0))?,
    )?;
    let limited =
        |lua: &Lua, s: &[u8], limit: usize, offset: usize| -> mlua::Result<mlua::MultiValue> {
            // As lua-cmsgpack: the offset after the objects read first (-1 past the end).
            let mut r = MpReader {
                buf: s,
                pos: offset.min(s.len()),
            };
            let mut values = vec![Value::Nil];
            while r.pos < s.len() && (limit == 0 || values.len() <= limit) {
                values.push(mp_decode(lua, &mut r, 0)?);
            }
            values[0] = Value::Number(if r.pos >= s.len() { -1.0 } else { r.pos as f64 });
            Ok(values.into_iter().collect())
        };
    t.raw_set(
        "unpack_one",
        lua.create_function(move |lua, (s, offset): (mlua::String, Option<f64>)| {
            limited(
                lua,
                &s.as_bytes(),
                1,
                offset.unwrap_or(0.0).max(0.0) as usize,
            )
        })?,
    )?;
    t.raw_set(
        "unpack_limit",
        lua.create_function(
            move |lua, (s, limit, offset): (mlua::String, f64, Option<f64>)| {
                limited(
                    lua,
                    &s.as_bytes(),
                    limit.max(0.0) as usize,
                    offset.unwrap_or(0.0).max(0.0) as usize,
                )
            },
        )?,
    )?;
    Ok(t)
}

// --- struct -------------------------------------------------------------------

const STRUCT_MAXALIGN: usize = 8;
const STRUCT_MAXINTSIZE: usize = 32;

struct Format<'f> {
    fmt: &'f [u8],
    pos: usize,
    big: bool,
    align: usize,
}

impl Format<'_> {
    fn num(&mut self, default: usize) -> usize {
        let start = self.pos;
        let mut n = 0usize;
        while self.pos < self.fmt.len() && self.fmt[self.pos].is_ascii_digit() {
            n = n
                .saturating_mul(10)
                .saturating_add(usize::from(self.fmt[self.pos] - b'0'));
            self.pos += 1;
        }
        if self.pos == start {
            default
        } else {
            n
        }
    }

    /// The size of option `opt` (reading its count), 0 for control options.
    fn size(&mut self, opt: u8) -> Result<usize, String> {
        Ok(match opt {
            b'b' | b'B' | b'x' => 1,
            b'h' | b'H' => 2,
            b'l' | b'L' | b'T' | b'd' => 8,
            b'f' => 4,
            b'c' => self.num(1),
            b'i' | b'I' => {
                let sz = self.num(4);
                if sz > STRUCT_MAXINTSIZE {
                    return Err(format!(
                        "integral size {sz} is larger than limit of {STRUCT_MAXINTSIZE}"
                    ));
                }
                sz
            }
            _ => 0,
        })
    }

    fn to_align(&self, len: usize, opt: u8, size: usize) -> usize {
        if size == 0 || opt == b'c' {
            return 0;
        }
        let align = size.min(self.align);
        if !align.is_power_of_two() {
            return 0;
        }
        (align - (len & (align - 1))) & (align - 1)
    }

    fn control(&mut self, opt: u8, func: &str) -> Result<(), String> {
        match opt {
            b' ' => {}
            b'>' => self.big = true,
            b'<' | b'=' => self.big = false,
            b'!' => {
                let a = self.num(STRUCT_MAXALIGN);
                if !a.is_power_of_two() {
                    return Err(format!("alignment {a} is not a power of 2"));
                }
                self.align = a;
            }
            other => {
                return Err(format!(
                    "bad argument #1 to '{func}' (invalid format option '{}')",
                    other as char
                ))
            }
        }
        Ok(())
    }
}

fn struct_number(v: Option<&Value>, arg: usize) -> Result<f64, String> {
    match v {
        Some(Value::Integer(i)) => Ok(*i as f64),
        Some(Value::Number(n)) => Ok(*n),
        Some(Value::String(s)) => crate::util::num::parse_f64(&s.as_bytes())
            .ok_or_else(|| format!("bad argument #{arg} to 'pack' (number expected, got string)")),
        other => Err(format!(
            "bad argument #{arg} to 'pack' (number expected, got {})",
            other.map_or("no value", |v| v.type_name())
        )),
    }
}

fn struct_pack(fmt: &[u8], args: &[Value]) -> Result<Vec<u8>, String> {
    let mut f = Format {
        fmt,
        pos: 0,
        big: false,
        align: 1,
    };
    let mut out = Vec::new();
    let mut arg = 0usize;
    while f.pos < f.fmt.len() {
        let opt = f.fmt[f.pos];
        f.pos += 1;
        let mut size = f.size(opt)?;
        let pad = f.to_align(out.len(), opt, size);
        out.resize(out.len() + pad, 0);
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let n = struct_number(args.get(arg), arg + 2)?;
                arg += 1;
                let mut value: u64 = if n < 0.0 { n as i64 as u64 } else { n as u64 };
                let mut bytes = vec![0u8; size];
                for b in bytes.iter_mut() {
                    *b = (value & 0xff) as u8;
                    value = value.checked_shr(8).unwrap_or(0);
                }
                if f.big {
                    bytes.reverse();
                }
                out.extend_from_slice(&bytes);
            }
            b'x' => out.push(0),
            b'f' => {
                let n = struct_number(args.get(arg), arg + 2)? as f32;
                arg += 1;
                out.extend_from_slice(&if f.big {
                    n.to_be_bytes()
                } else {
                    n.to_le_bytes()
                });
            }
            b'd' => {
                let n = struct_number(args.get(arg), arg + 2)?;
                arg += 1;
                out.extend_from_slice(&if f.big {
                    n.to_be_bytes()
                } else {
                    n.to_le_bytes()
                });
            }
            b'c' | b's' => {
                let s = match args.get(arg) {
                    Some(Value::String(s)) => s.as_bytes().to_vec(),
                    Some(Value::Integer(i)) => i.to_string().into_bytes(),
                    Some(Value::Number(n)) => format_g14(*n).into_bytes(),
                    other => {
                        return Err(format!(
                            "bad argument #{} to 'pack' (string expected, got {})",
                            arg + 2,
                            other.map_or("no value", |v| v.type_name())
                        ))
                    }
                };
                arg += 1;
                if size == 0 {
                    size = s.len();
                }
                if s.len() < size {
                    return Err(format!(
                        "bad argument #{} to 'pack' (string too short)",
                        arg + 1
                    ));
                }
                out.extend_from_slice(&s[..size]);
                if opt == b's' {
                    out.push(0);
                }
            }
            other => f.control(other, "pack")?,
        }
    }
    Ok(out)
}

fn struct_unpack(
    lua: &Lua,
    fmt: &[u8],
    data: &[u8],
    init: usize,
) -> mlua::Result<mlua::MultiValue> {
    let fail = |m: String| script_error(lua, &m);
    let mut f = Format {
        fmt,
        pos: 0,
        big: false,
        align: 1,
    };
    let mut pos = init.saturating_sub(1);
    if pos > data.len() {
        return Err(fail(
            "bad argument #3 to 'unpack' (offset must be 1 or greater)".into(),
        ));
    }
    let mut out: Vec<Value> = Vec::new();
    while f.pos < f.fmt.len() {
        let opt = f.fmt[f.pos];
        f.pos += 1;
        let mut size = f.size(opt).map_err(fail)?;
        pos += f.to_align(pos, opt, size);
        if pos + size > data.len() {
            return Err(fail(
                "bad argument #2 to 'unpack' (data string too short)".into(),
            ));
        }
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let mut bytes = data[pos..pos + size].to_vec();
                if !f.big {
                    bytes.reverse();
                }
                let mut l: u64 = 0;
                for b in &bytes {
                    l = l.checked_shl(8).unwrap_or(0) | u64::from(*b);
                }
                let v = if opt.is_ascii_lowercase() && size > 0 && size * 8 <= 64 {
                    let mask = u64::MAX << (size * 8 - 1);
                    if l & mask != 0 {
                        l |= mask;
                    }
                    l as i64 as f64
                } else {
                    l as f64
                };
                out.push(Value::Number(v));
            }
            b'x' => {}
            b'f' => {
                let b: [u8; 4] = data[pos..pos + 4].try_into().expect("4 bytes");
                let v = if f.big {
                    f32::from_be_bytes(b)
                } else {
                    f32::from_le_bytes(b)
                };
                out.push(Value::Number(f64::from(v)));
            }
            b'd' => {
                let b: [u8; 8] = data[pos..pos + 8].try_into().expect("8 bytes");
                let v = if f.big {
                    f64::from_be_bytes(b)
                } else {
                    f64::from_le_bytes(b)
                };
                out.push(Value::Number(v));
            }
            b'c' => {
                if size == 0 {
                    let n = match out.pop() {
                        Some(Value::Number(n)) => n,
                        Some(Value::Integer(i)) => i as f64,
                        _ => return Err(fail("format 'c0' needs a previous size".into())),
                    };
                    size = n.max(0.0) as usize;
                    if size > data.len() || pos > data.len() - size {
                        return Err(fail(
                            "bad argument #2 to 'unpack' (data string too short)".into(),
                        ));
                    }
                }
                out.push(Value::String(lua.create_string(&data[pos..pos + size])?));
            }
            b's' => {
                let Some(end) = data[pos..].iter().position(|&b| b == 0) else {
                    return Err(fail("unfinished string in data".into()));
                };
                out.push(Value::String(lua.create_string(&data[pos..pos + end])?));
                size = end + 1;
            }
            other => f.control(other, "unpack").map_err(fail)?,
        }
        pos += size;
    }
    out.push(Value::Number((pos + 1) as f64));
    Ok(out.into_iter().collect())
}

fn struct_size(fmt: &[u8]) -> Result<usize, String> {
    let mut f = Format {
        fmt,
        pos: 0,
        big: false,
        align: 1,
    };
    let mut pos = 0usize;
    while f.pos < f.fmt.len() {
        let opt = f.fmt[f.pos];
        f.pos += 1;
        let size = f.size(opt)?;
        pos += f.to_align(pos, opt, size);
        if opt == b's' {
            return Err("bad argument #1 to 'size' (option 's' has no fixed size)".into());
        }
        if opt == b'c' && size == 0 {
            return Err("bad argument #1 to 'size' (option 'c0' has no fixed size)".into());
        }
        if !opt.is_ascii_alphanumeric() {
            f.control(opt, "size")?;
        }
        pos += size;
    }
    Ok(pos)
}

fn structlib(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "pack",
        lua.create_function(|lua, (fmt, rest): (mlua::String, Variadic<Value>)| {
            let out = struct_pack(&fmt.as_bytes(), &rest).map_err(|e| script_error(lua, &e))?;
            lua.create_string(&out)
        })?,
    )?;
    t.raw_set(
        "unpack",
        lua.create_function(
            |lua, (fmt, data, init): (mlua::String, mlua::String, Option<f64>)| {
                struct_unpack(
                    lua,
                    &fmt.as_bytes(),
                    &data.as_bytes(),
                    init.unwrap_or(1.0).max(0.0) as usize,
                )
            },
        )?,
    )?;
    t.raw_set(
        "size",
        lua.create_function(|lua, fmt: mlua::String| {
            struct_size(&fmt.as_bytes()).map_err(|e| script_error(lua, &e))
        })?,
    )?;
    Ok(t)
}
