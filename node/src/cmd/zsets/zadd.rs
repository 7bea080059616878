//! ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...], and ZINCRBY.

use super::{exists, open_existing, read, score_arg, zset};
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

/// Redis' `zsetAdd` decision for a member whose score is `cur`: the outcome
/// and the member's score afterwards.
fn decide(cur: Option<f64>, mut score: f64, f: Flags) -> Result<(Outcome, f64), CmdError> {
    match cur {
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
                Ok((Outcome::Updated, score))
            } else {
                Ok((Outcome::Same, score))
            }
        }
        None if !f.xx => Ok((Outcome::Added, score)),
        None => Ok((Outcome::Nop, score)),
    }
}

/// Applies every score-member pair: (added, updated, processed, last score).
fn apply(
    z: &mut ZSetObj,
    args: Args<'_>,
    idx: usize,
    scores: &[f64],
    f: Flags,
) -> Result<(i64, i64, i64, f64), CmdError> {
    let (mut added, mut updated, mut processed, mut last) = (0, 0, 0, 0.0);
    for (j, &score) in scores.iter().enumerate() {
        let m = args.get(idx + 2 * j + 1);
        let (outcome, s) = decide(z.score(m), score, f)?;
        match outcome {
            Outcome::Added => added += 1,
            Outcome::Updated => updated += 1,
            Outcome::Same | Outcome::Nop => {}
        }
        if matches!(outcome, Outcome::Added | Outcome::Updated) {
            z.insert(m, s);
        }
        if !matches!(outcome, Outcome::Nop) {
            processed += 1;
        }
        last = s;
    }
    Ok((added, updated, processed, last))
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
    if exists(shard, key, ctx.now)? {
        // A dry run first, stopping at the first change: a command that
        // changes nothing never marks the key as modified (WATCH,
        // replication), as in Redis.
        let z = read(shard, key, ctx.now)?.expect("checked above");
        let mut changes = false;
        for (j, &score) in scores.iter().enumerate() {
            let m = args.get(idx + 2 * j + 1);
            let (outcome, s) = decide(z.score(m), score, f)?;
            match outcome {
                Outcome::Added | Outcome::Updated => {
                    changes = true;
                    break;
                }
                Outcome::Same => processed += 1,
                Outcome::Nop => {}
            }
            last = s;
        }
        if changes {
            let mut e = open_existing(shard, key, ctx.now)?.expect("checked above");
            (added, updated, processed, last) = apply(zset(&mut e), args, idx, &scores, f)?;
        }
    } else if !f.xx {
        let mut z = ZSetObj::new();
        (added, updated, processed, last) = apply(&mut z, args, idx, &scores, f)?;
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
