//! SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP. Bit 0 is the most significant bit of the
//! first byte, as in Redis.

use crate::cmd::{as_str, int_arg, is, CmdError, Ctx};
use crate::resp::Args;
use crate::store::{Ttl, Value};
use crate::util::num::parse_i64;
use crate::util::range::clamp;

fn bit_offset(ctx: &Ctx<'_>, arg: &[u8]) -> Result<u64, CmdError> {
    let err = || CmdError::err("bit offset is not an integer or out of range");
    let v = parse_i64(arg).ok_or_else(err)?;
    if v < 0 || (v as u64 >> 3) >= ctx.settings.proto_max_bulk_len {
        return Err(err());
    }
    Ok(v as u64)
}

fn get_bit(s: &[u8], offset: u64) -> u8 {
    let byte = (offset >> 3) as usize;
    match s.get(byte) {
        Some(b) => (b >> (7 - (offset & 7))) & 1,
        None => 0,
    }
}

pub fn setbit(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let key = args.get(1);
    let offset = bit_offset(ctx, args.get(2))?;
    let on = match parse_i64(args.get(3)) {
        Some(v @ (0 | 1)) => v as u8,
        _ => return Err(CmdError::err("bit is not an integer or out of range")),
    };
    let byte = (offset >> 3) as usize;
    let mask = 1u8 << (7 - (offset & 7));
    let shard = ctx.keys.shard(key);
    if let Some(mut e) = shard.get_mut(key, ctx.now) {
        e.entry().as_str().ok_or(CmdError::WrongType)?;
        let s = e.entry_mut().str_mut().ok_or(CmdError::WrongType)?;
        if s.len() <= byte {
            s.resize(byte + 1, 0);
        }
        let old = (s[byte] & mask != 0) as i64;
        if on == 1 {
            s[byte] |= mask;
        } else {
            s[byte] &= !mask;
        }
        ctx.out.int(old);
        return Ok(());
    }
    let mut buf = vec![0u8; byte + 1];
    if on == 1 {
        buf[byte] |= mask;
    }
    shard.set(key, Value::Str(&buf), Ttl::Clear, ctx.now);
    ctx.out.int(0);
    Ok(())
}

pub fn getbit(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let key = args.get(1);
    let offset = bit_offset(ctx, args.get(2))?;
    let shard = ctx.keys.shard(key);
    let bit = match shard.get(key, ctx.now) {
        Some(e) => get_bit(as_str(e)?, offset),
        None => 0,
    };
    ctx.out.int(i64::from(bit));
    Ok(())
}

/// Whether BYTE (false) or BIT (true) units were asked for.
fn unit(arg: &[u8]) -> Result<bool, CmdError> {
    if is(arg, "bit") {
        Ok(true)
    } else if is(arg, "byte") {
        Ok(false)
    } else {
        Err(CmdError::Syntax)
    }
}

/// Set bits in the bit range `[from, to]` of `s` (inclusive).
fn count_bits(s: &[u8], from: u64, to: u64) -> u64 {
    let (fb, tb) = ((from >> 3) as usize, (to >> 3) as usize);
    let mut n: u64 = s[fb..=tb].iter().map(|b| u64::from(b.count_ones())).sum();
    let head = s[fb] & !(0xFFu8 >> (from & 7));
    // Bits after `to` in its byte; none when `to` is the byte's last bit.
    let tail = s[tb] & 0xFFu8.checked_shr((to & 7) as u32 + 1).unwrap_or(0);
    n -= u64::from(head.count_ones()) + u64::from(tail.count_ones());
    n
}

pub fn bitcount(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let key = args.get(1);
    let range = match args.len() {
        2 => None,
        4 | 5 => {
            let start = int_arg(args.get(2))?;
            let end = int_arg(args.get(3))?;
            let bits = if args.len() == 5 {
                unit(args.get(4))?
            } else {
                false
            };
            Some((start, end, bits))
        }
        _ => return Err(CmdError::Syntax),
    };
    let shard = ctx.keys.shard(key);
    let Some(e) = shard.get(key, ctx.now) else {
        ctx.out.int(0);
        return Ok(());
    };
    let s = as_str(e)?;
    let total_bits = s.len() as u64 * 8;
    let bit_range = match range {
        None => (!s.is_empty()).then(|| (0, total_bits - 1)),
        Some((start, end, true)) => {
            clamp(start, end, total_bits as i64).map(|(a, b)| (a as u64, b as u64))
        }
        Some((start, end, false)) => {
            clamp(start, end, s.len() as i64).map(|(a, b)| (a as u64 * 8, b as u64 * 8 + 7))
        }
    };
    let n = bit_range.map_or(0, |(a, b)| count_bits(s, a, b));
    ctx.out.int(n as i64);
    Ok(())
}

/// First bit equal to `bit` in `[from, to]`, if any.
fn find_bit(s: &[u8], bit: u8, from: u64, to: u64) -> Option<u64> {
    let skip = if bit == 1 { 0x00 } else { 0xFF };
    let mut pos = from;
    while pos <= to {
        let byte = s[(pos >> 3) as usize];
        if pos & 7 == 0 && byte == skip && pos + 7 <= to {
            pos += 8;
            continue;
        }
        if get_bit(s, pos) == bit {
            return Some(pos);
        }
        pos += 1;
    }
    None
}

pub fn bitpos(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let key = args.get(1);
    let bit = int_arg(args.get(2))?;
    if bit != 0 && bit != 1 {
        return Err(CmdError::err("The bit argument must be 1 or 0."));
    }
    let bit = bit as u8;
    let shard = ctx.keys.shard(key);
    let Some(e) = shard.get(key, ctx.now) else {
        // A missing key is an endless run of zero bits.
        ctx.out.int(if bit == 1 { -1 } else { 0 });
        return Ok(());
    };
    let s = as_str(e)?;
    if args.len() > 6 {
        return Err(CmdError::Syntax);
    }
    let start = if args.len() >= 4 {
        int_arg(args.get(3))?
    } else {
        0
    };
    let bits = if args.len() == 6 {
        unit(args.get(5))?
    } else {
        false
    };
    let end_given = args.len() >= 5;
    let end = if end_given { int_arg(args.get(4))? } else { -1 };
    let len = s.len() as i64;
    let range = if bits {
        clamp(start, end, len * 8).map(|(a, b)| (a as u64, b as u64))
    } else {
        clamp(start, end, len).map(|(a, b)| (a as u64 * 8, b as u64 * 8 + 7))
    };
    let Some((from, to)) = range else {
        ctx.out.int(-1);
        return Ok(());
    };
    let pos = match find_bit(s, bit, from, to) {
        Some(p) => p as i64,
        // Looking for a 0 with no explicit end: the string is zero-padded.
        None if bit == 0 && !end_given => to as i64 + 1,
        None => -1,
    };
    ctx.out.int(pos);
    Ok(())
}

/// BITOP AND|OR|XOR|NOT destkey key [key ...]: missing keys read as zero
/// bytes, the result is as long as the longest source, an empty result
/// deletes the destination; replies with the result's length.
pub fn bitop(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    #[derive(PartialEq)]
    enum Op {
        And,
        Or,
        Xor,
        Not,
    }
    let op = match args.get(1) {
        a if is(a, "and") => Op::And,
        a if is(a, "or") => Op::Or,
        a if is(a, "xor") => Op::Xor,
        a if is(a, "not") => Op::Not,
        _ => return Err(CmdError::Syntax),
    };
    let dst = args.get(2);
    let sources = args.tail(3);
    if op == Op::Not && sources.len() != 1 {
        return Err(CmdError::err(
            "BITOP NOT must be called with a single source key.",
        ));
    }
    let now = ctx.now;
    let mut values: Vec<Vec<u8>> = Vec::with_capacity(sources.len());
    for key in sources.iter() {
        match ctx.keys.shard(key).get(key, now) {
            None => values.push(Vec::new()),
            Some(e) => values.push(as_str(e)?.to_vec()),
        }
    }
    let len = values.iter().map(Vec::len).max().unwrap_or(0);
    let mut out = vec![0u8; len];
    for (i, byte) in out.iter_mut().enumerate() {
        let at = |v: &Vec<u8>| v.get(i).copied().unwrap_or(0);
        *byte = match op {
            Op::Not => !at(&values[0]),
            Op::And => values.iter().fold(0xFF, |acc, v| acc & at(v)),
            Op::Or => values.iter().fold(0, |acc, v| acc | at(v)),
            Op::Xor => values.iter().fold(0, |acc, v| acc ^ at(v)),
        };
    }
    let shard = ctx.keys.shard(dst);
    if len == 0 {
        shard.remove(dst, now);
    } else {
        shard.set(dst, Value::Str(&out), Ttl::Clear, now);
    }
    ctx.out.int(len as i64);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_partial_bytes() {
        let s = [0xFFu8, 0x0F, 0xF0];
        assert_eq!(count_bits(&s, 0, 23), 16);
        assert_eq!(count_bits(&s, 4, 11), 4);
        assert_eq!(count_bits(&s, 12, 19), 8);
        assert_eq!(count_bits(&s, 5, 5), 1);
    }

    #[test]
    fn finds_bits() {
        let s = [0x00u8, 0x00, 0x01];
        assert_eq!(find_bit(&s, 1, 0, 23), Some(23));
        assert_eq!(find_bit(&s, 0, 0, 23), Some(0));
        let ones = [0xFFu8, 0xF0];
        assert_eq!(find_bit(&ones, 0, 0, 15), Some(12));
        assert_eq!(find_bit(&ones, 0, 0, 11), None);
    }
}
