//! BITFIELD key [GET type offset] [SET type offset value] [INCRBY type offset
//! increment] [OVERFLOW WRAP|SAT|FAIL] ..., and BITFIELD_RO (GET only).
//! Fields are big-endian bit ranges of the string, bit 0 its first byte's
//! most significant bit; types are i1..i64 and u1..u63, as in Redis.

use crate::cmd::{is, CmdError, Ctx};
use crate::resp::Args;
use crate::store::{Ttl, Value};
use crate::util::num::parse_i64;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum OpKind {
    Get,
    Set,
    Incrby,
}

struct Op {
    kind: OpKind,
    signed: bool,
    bits: u32,
    offset: u64,
    value: i64,
    overflow: Overflow,
}

fn field_type(arg: &[u8]) -> Result<(bool, u32), CmdError> {
    let err = || {
        CmdError::err("Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.")
    };
    let signed = match arg.first() {
        Some(b'i' | b'I') => true,
        Some(b'u' | b'U') => false,
        _ => return Err(err()),
    };
    let bits = parse_i64(&arg[1..]).ok_or_else(err)?;
    if bits < 1 || (signed && bits > 64) || (!signed && bits > 63) {
        return Err(err());
    }
    Ok((signed, bits as u32))
}

fn field_offset(ctx: &Ctx<'_>, arg: &[u8], bits: u32) -> Result<u64, CmdError> {
    let err = || CmdError::err("bit offset is not an integer or out of range");
    let (hash, digits) = match arg.first() {
        Some(b'#') => (true, &arg[1..]),
        _ => (false, arg),
    };
    let mut v = parse_i64(digits).ok_or_else(err)?;
    if hash {
        v = v.checked_mul(i64::from(bits)).ok_or_else(err)?;
    }
    if v < 0 || (v as u64 >> 3) >= ctx.settings.proto_max_bulk_len {
        return Err(err());
    }
    Ok(v as u64)
}

fn get_unsigned(s: &[u8], offset: u64, bits: u32) -> u64 {
    let mut v = 0u64;
    for i in 0..u64::from(bits) {
        let bit = offset + i;
        let byte = s.get((bit >> 3) as usize).copied().unwrap_or(0);
        v = (v << 1) | u64::from((byte >> (7 - (bit & 7))) & 1);
    }
    v
}

fn get_signed(s: &[u8], offset: u64, bits: u32) -> i64 {
    let v = get_unsigned(s, offset, bits);
    if bits < 64 && v & (1 << (bits - 1)) != 0 {
        (v | (u64::MAX << bits)) as i64
    } else {
        v as i64
    }
}

fn set_bits(s: &mut [u8], offset: u64, bits: u32, value: u64) {
    for i in 0..u64::from(bits) {
        let bit = offset + i;
        let on = (value >> (u64::from(bits) - 1 - i)) & 1 == 1;
        let byte = &mut s[(bit >> 3) as usize];
        let mask = 1u8 << (7 - (bit & 7));
        if on {
            *byte |= mask;
        } else {
            *byte &= !mask;
        }
    }
}

/// Redis' checkSignedBitfieldOverflow: Some(the wrapped or saturated value)
/// when `value + incr` leaves the type's range.
fn signed_overflow(value: i64, incr: i64, bits: u32, ow: Overflow) -> Option<i64> {
    let max: i64 = if bits == 64 {
        i64::MAX
    } else {
        (1i64 << (bits - 1)) - 1
    };
    let min = -max - 1;
    let maxincr = max.wrapping_sub(value);
    let minincr = min.wrapping_sub(value);
    let wrap = || {
        let c = (value as u64).wrapping_add(incr as u64);
        if bits < 64 {
            let mask = u64::MAX << bits;
            if c & (1 << (bits - 1)) != 0 {
                (c | mask) as i64
            } else {
                (c & !mask) as i64
            }
        } else {
            c as i64
        }
    };
    if value > max || (bits != 64 && incr > maxincr) || (value >= 0 && incr > 0 && incr > maxincr) {
        Some(if ow == Overflow::Sat { max } else { wrap() })
    } else if value < min
        || (bits != 64 && incr < minincr)
        || (value < 0 && incr < 0 && incr < minincr)
    {
        Some(if ow == Overflow::Sat { min } else { wrap() })
    } else {
        None
    }
}

/// Redis' checkUnsignedBitfieldOverflow.
fn unsigned_overflow(value: u64, incr: i64, bits: u32, ow: Overflow) -> Option<u64> {
    let max: u64 = (1u64 << bits) - 1;
    let maxincr = max.wrapping_sub(value) as i64;
    let minincr = value.wrapping_neg() as i64;
    let wrap = || value.wrapping_add(incr as u64) & !(u64::MAX << bits);
    if value > max || (incr > 0 && incr > maxincr) {
        Some(if ow == Overflow::Sat { max } else { wrap() })
    } else if incr < 0 && incr < minincr {
        Some(if ow == Overflow::Sat { 0 } else { wrap() })
    } else {
        None
    }
}

pub fn bitfield(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    run(ctx, args, false)
}

pub fn bitfield_ro(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    run(ctx, args, true)
}

fn run(ctx: &mut Ctx<'_>, args: Args<'_>, readonly_cmd: bool) -> Result<(), CmdError> {
    let mut ops: Vec<Op> = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut highest: Option<u64> = None;
    let mut j = 2;
    while j < args.len() {
        let left = args.len() - j - 1;
        let a = args.get(j);
        let kind = if is(a, "get") && left >= 2 {
            OpKind::Get
        } else if is(a, "set") && left >= 3 {
            OpKind::Set
        } else if is(a, "incrby") && left >= 3 {
            OpKind::Incrby
        } else if is(a, "overflow") && left >= 1 {
            let w = args.get(j + 1);
            overflow = if is(w, "wrap") {
                Overflow::Wrap
            } else if is(w, "sat") {
                Overflow::Sat
            } else if is(w, "fail") {
                Overflow::Fail
            } else {
                return Err(CmdError::err("Invalid OVERFLOW type specified"));
            };
            j += 2;
            continue;
        } else {
            return Err(CmdError::Syntax);
        };
        let (signed, bits) = field_type(args.get(j + 1))?;
        let offset = field_offset(ctx, args.get(j + 2), bits)?;
        let mut value = 0;
        if kind != OpKind::Get {
            let end = offset + u64::from(bits) - 1;
            highest = Some(highest.map_or(end, |h| h.max(end)));
            value = parse_i64(args.get(j + 3)).ok_or(CmdError::NotInteger)?;
        }
        ops.push(Op {
            kind,
            signed,
            bits,
            offset,
            value,
            overflow,
        });
        j += if kind == OpKind::Get { 3 } else { 4 };
    }
    let key = args.get(1);
    let now = ctx.now;
    let shard = ctx.keys.shard(key);
    let Some(highest) = highest else {
        // Reads only: a missing key reads as zeros.
        let s: Vec<u8> = match shard.get(key, now) {
            None => Vec::new(),
            Some(e) => crate::cmd::as_str(e)?.to_vec(),
        };
        ctx.out.array(ops.len());
        for op in &ops {
            if op.signed {
                ctx.out.int(get_signed(&s, op.offset, op.bits));
            } else {
                ctx.out.int(get_unsigned(&s, op.offset, op.bits) as i64);
            }
        }
        return Ok(());
    };
    if readonly_cmd {
        return Err(CmdError::err(
            "BITFIELD_RO only supports the GET subcommand",
        ));
    }
    let need = (highest >> 3) as usize + 1;
    if let Some(e) = shard.peek(key, now) {
        e.as_str().ok_or(CmdError::WrongType)?;
    } else {
        shard.set(key, Value::Str(b""), Ttl::Clear, now);
    }
    let mut e = shard.get_mut(key, now).ok_or(CmdError::NoSuchKey)?;
    let s = e.entry_mut().str_mut().ok_or(CmdError::WrongType)?;
    if s.len() < need {
        s.resize(need, 0);
    }
    ctx.out.array(ops.len());
    for op in &ops {
        if op.kind == OpKind::Get {
            if op.signed {
                ctx.out.int(get_signed(s, op.offset, op.bits));
            } else {
                ctx.out.int(get_unsigned(s, op.offset, op.bits) as i64);
            }
            continue;
        }
        let (reply, new, failed) = if op.signed {
            let old = get_signed(s, op.offset, op.bits);
            if op.kind == OpKind::Incrby {
                let over = signed_overflow(old, op.value, op.bits, op.overflow);
                let new = over.unwrap_or(old.wrapping_add(op.value));
                (new, new as u64, over.is_some())
            } else {
                let over = signed_overflow(op.value, 0, op.bits, op.overflow);
                (old, over.unwrap_or(op.value) as u64, over.is_some())
            }
        } else {
            let old = get_unsigned(s, op.offset, op.bits);
            if op.kind == OpKind::Incrby {
                let over = unsigned_overflow(old, op.value, op.bits, op.overflow);
                let new = over.unwrap_or(old.wrapping_add(op.value as u64));
                (new as i64, new, over.is_some())
            } else {
                let over = unsigned_overflow(op.value as u64, 0, op.bits, op.overflow);
                (old as i64, over.unwrap_or(op.value as u64), over.is_some())
            }
        };
        if failed && op.overflow == Overflow::Fail {
            ctx.out.null();
        } else {
            ctx.out.int(reply);
            set_bits(s, op.offset, op.bits, new);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_read_and_write_big_endian() {
        let mut s = vec![0u8; 4];
        set_bits(&mut s, 4, 8, 0xAB);
        assert_eq!(s[..2], [0x0A, 0xB0]);
        assert_eq!(get_unsigned(&s, 4, 8), 0xAB);
        assert_eq!(get_signed(&s, 4, 8), 0xABu8 as i8 as i64);
        assert_eq!(get_signed(&[0xFF; 8], 0, 64), -1);
    }

    #[test]
    fn overflow_wraps_saturates_or_fails_as_redis() {
        assert_eq!(signed_overflow(127, 1, 8, Overflow::Wrap), Some(-128));
        assert_eq!(signed_overflow(127, 1, 8, Overflow::Sat), Some(127));
        assert_eq!(signed_overflow(-128, -1, 8, Overflow::Sat), Some(-128));
        assert_eq!(signed_overflow(100, 10, 8, Overflow::Fail), None);
        assert_eq!(
            signed_overflow(i64::MAX, 1, 64, Overflow::Wrap),
            Some(i64::MIN)
        );
        assert_eq!(unsigned_overflow(255, 1, 8, Overflow::Wrap), Some(0));
        assert_eq!(unsigned_overflow(0, -1, 8, Overflow::Sat), Some(0));
        assert_eq!(unsigned_overflow(300, 0, 8, Overflow::Wrap), Some(44));
        assert_eq!(unsigned_overflow(5, -3, 8, Overflow::Fail), None);
    }
}
