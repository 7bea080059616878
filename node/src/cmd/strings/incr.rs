//! INCR, DECR, INCRBY, DECRBY and INCRBYFLOAT. Each keeps the key's TTL.

use crate::cmd::{float_arg, int_arg, CmdError, Ctx};
use crate::resp::Args;
use crate::store::{Ttl, Value};
use crate::util::num::{format_human_f64, parse_f64, parse_i64};

fn incr_by(ctx: &mut Ctx<'_>, key: &[u8], delta: i64) -> Result<(), CmdError> {
    let shard = ctx.keys.shard(key);
    let mut buf = itoa::Buffer::new();
    if let Some(mut e) = shard.get_mut(key, ctx.now) {
        let s = e.entry().as_str().ok_or(CmdError::WrongType)?;
        let current = parse_i64(s).ok_or(CmdError::NotInteger)?;
        let next = current.checked_add(delta).ok_or(CmdError::Overflow)?;
        e.entry_mut()
            .set_value(Value::Str(buf.format(next).as_bytes()));
        ctx.out.int(next);
        return Ok(());
    }
    shard.set(
        key,
        Value::Str(buf.format(delta).as_bytes()),
        Ttl::Clear,
        ctx.now,
    );
    ctx.out.int(delta);
    Ok(())
}

pub fn incr(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    incr_by(ctx, args.get(1), 1)
}

pub fn decr(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    incr_by(ctx, args.get(1), -1)
}

pub fn incrby(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let delta = int_arg(args.get(2))?;
    incr_by(ctx, args.get(1), delta)
}

pub fn decrby(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let delta = int_arg(args.get(2))?;
    if delta == i64::MIN {
        return Err(CmdError::err("decrement would overflow"));
    }
    incr_by(ctx, args.get(1), -delta)
}

/// The result of adding `incr` to a stored float, with Redis' error texts.
pub fn add_float(
    current: Option<&[u8]>,
    incr: f64,
    not_float: CmdError,
) -> Result<(f64, String), CmdError> {
    let base = match current {
        Some(s) => parse_f64(s).ok_or(not_float)?,
        None => 0.0,
    };
    let v = base + incr;
    if v.is_nan() || v.is_infinite() {
        return Err(CmdError::err("increment would produce NaN or Infinity"));
    }
    Ok((v, format_human_f64(v)))
}

pub fn incrbyfloat(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let key = args.get(1);
    let incr = float_arg(args.get(2))?;
    let shard = ctx.keys.shard(key);
    if let Some(mut e) = shard.get_mut(key, ctx.now) {
        let s = e.entry().as_str().ok_or(CmdError::WrongType)?;
        let (_, text) = add_float(Some(s), incr, CmdError::NotFloat)?;
        e.entry_mut().set_value(Value::Str(text.as_bytes()));
        ctx.out.bulk(text.as_bytes());
        return Ok(());
    }
    let (_, text) = add_float(None, incr, CmdError::NotFloat)?;
    shard.set(key, Value::Str(text.as_bytes()), Ttl::Clear, ctx.now);
    ctx.out.bulk(text.as_bytes());
    Ok(())
}
