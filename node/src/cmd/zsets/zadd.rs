//! ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...], and ZINCRBY.

use super::{exists, open_existing, score_arg, zset};
use crate::cmd::{is, CmdError, Ctx};
use crate::resp::Args;
use crate::store::{Obj, Ttl, Value, ZSetObj};

#[derive(Clone, Copy, Default)]
struct Flags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    incr: bool,
}

enum Outcome {
    Added,
    Updated,
    /// Processed, score unchanged.
    Same,
    Nop,
}

fn nan() -> CmdError {
    CmdError::err("resulting score is not a number (NaN)")
}

/// Redis' `zsetAdd`: the outcome and the member's score afterwards.
fn add(z: &mut ZSetObj, m: &[u8], mut score: f64, f: Flags) -> Result<(Outcome, f64), CmdError> {
    match z.score(m) {
        Some(cur) => {
            if f.nx {
                return Ok((Outcome::Nop, score));
            }
            if f.incr {
                score += cur;
                if score.is_nan() {
                    return Err(nan());
                }
            }
            if (f.lt && score >= cur) || (f.gt && score <= cur) {
                return Ok((Outcome::Nop, score));
            }
            if score != cur {
                z.insert(m, score);
                Ok((Outcome::Updated, score))
            } else {
                Ok((Outcome::Same, score))
            }
        }
        None if !f.xx => {
            z.insert(m, score);
            Ok((Outcome::Added, score))
        }
        None => Ok((Outcome::Nop, score)),
    }
}

fn generic(ctx: &mut Ctx<'_>, args: Args<'_>, mut f: Flags) -> Result<(), CmdError> {
    let key = args.get(1);
    let mut ch = false;
    let mut idx = 2;
    while idx < args.len() {
        let o = args.get(idx);
        if is(o, "nx") {
            f.nx = true;
        } else if is(o, "xx") {
            f.xx = true;
        } else if is(o, "ch") {
            ch = true;
        } else if is(o, "incr") {
            f.incr = true;
        } else if is(o, "gt") {
            f.gt = true;
        } else if is(o, "lt") {
            f.lt = true;
        } else {
            break;
        }
        idx += 1;
    }
    let elements = args.len() - idx;
    if elements == 0 || !elements.is_multiple_of(2) {
        return Err(CmdError::Syntax);
    }
    let elements = elements / 2;
    if f.nx && f.xx {
        return Err(CmdError::err(
            "XX and NX options at the same time are not compatible",
        ));
    }
    if (f.nx && (f.gt || f.lt)) || (f.gt && f.lt) {
        return Err(CmdError::err(
            "GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if f.incr && elements > 1 {
        return Err(CmdError::err(
            "INCR option supports a single increment-element pair",
        ));
    }
    let mut scores = Vec::with_capacity(elements);
    for j in 0..elements {
        scores.push(score_arg(args.get(idx + 2 * j))?);
    }
    let shard = ctx.keys.shard(key);
    let (mut added, mut updated, mut processed) = (0i64, 0i64, 0i64);
    let mut last = 0.0;
    let mut run = |z: &mut ZSetObj| -> Result<(), CmdError> {
        for (j, &score) in scores.iter().enumerate() {
            let (outcome, s) = add(z, args.get(idx + 2 * j + 1), score, f)?;
            match outcome {
                Outcome::Added => added += 1,
                Outcome::Updated => updated += 1,
                Outcome::Same | Outcome::Nop => {}
            }
            if !matches!(outcome, Outcome::Nop) {
                processed += 1;
            }
            last = s;
        }
        Ok(())
    };
    if exists(shard, key, ctx.now)? {
        let mut e = open_existing(shard, key, ctx.now)?.expect("checked above");
        run(zset(&mut e))?;
    } else if !f.xx {
        let mut z = ZSetObj::new();
        run(&mut z)?;
        if !z.is_empty() {
            shard.set(key, Value::Obj(Obj::ZSet(z)), Ttl::Clear, ctx.now);
        }
    }
    if f.incr {
        if processed > 0 {
            ctx.out.score(last);
        } else {
            ctx.out.null();
        }
    } else {
        ctx.out.int(if ch { added + updated } else { added });
    }
    Ok(())
}

pub fn zadd(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    generic(ctx, args, Flags::default())
}

/// ZINCRBY key increment member: ZADD with INCR.
pub fn zincrby(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let incr = Flags {
        incr: true,
        ..Flags::default()
    };
    // Same argument layout as ZADD key score member once INCR is implied.
    generic(ctx, args, incr)
}
