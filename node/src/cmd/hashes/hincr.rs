//! HINCRBY and HINCRBYFLOAT.

use super::{hash, open, read};
use crate::cmd::strings::incr::add_float;
use crate::cmd::{float_arg, int_arg, CmdError, Ctx};
use crate::resp::Args;
use crate::util::num::parse_i64;

pub fn hincrby(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let (key, field) = (args.get(1), args.get(2));
    let incr = int_arg(args.get(3))?;
    let shard = ctx.keys.shard(key);
    // Compute before opening for write, so an error leaves no empty hash behind.
    let current = match read(shard, key, ctx.now)?.and_then(|h| h.get(field)) {
        Some(v) => parse_i64(v).ok_or_else(|| CmdError::err("hash value is not an integer"))?,
        None => 0,
    };
    let next = current.checked_add(incr).ok_or(CmdError::Overflow)?;
    let mut e = open(shard, key, ctx.now)?;
    hash(&mut e).set(field, itoa::Buffer::new().format(next).as_bytes());
    ctx.out.int(next);
    Ok(())
}

pub fn hincrbyfloat(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let (key, field) = (args.get(1), args.get(2));
    let incr = float_arg(args.get(3))?;
    if incr.is_infinite() {
        return Err(CmdError::err("value is NaN or Infinity"));
    }
    let shard = ctx.keys.shard(key);
    let current = read(shard, key, ctx.now)?
        .and_then(|h| h.get(field))
        .map(<[u8]>::to_vec);
    let (_, text) = add_float(
        current.as_deref(),
        incr,
        CmdError::err("hash value is not a float"),
    )?;
    let mut e = open(shard, key, ctx.now)?;
    hash(&mut e).set(field, text.as_bytes());
    ctx.out.bulk(text.as_bytes());
    Ok(())
}
