//! ZREM, ZREMRANGEBYRANK, ZREMRANGEBYSCORE, ZREMRANGEBYLEX.

use super::{open_existing, rank_range, read, settle, zset, LexRange, ScoreRange};
use crate::cmd::{int_arg, CmdError, Ctx};
use crate::resp::Args;
use crate::store::ZSetObj;

pub fn zrem(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let key = args.get(1);
    let shard = ctx.keys.shard(key);
    // Nothing to remove: the key is not marked as modified.
    if !read(shard, key, ctx.now)?
        .is_some_and(|z| args.iter().skip(2).any(|m| z.score(m).is_some()))
    {
        ctx.out.int(0);
        return Ok(());
    }
    let Some(mut e) = open_existing(ctx.keys.shard(key), key, ctx.now)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let z = zset(&mut e);
    let mut n = 0;
    for m in args.iter().skip(2) {
        if z.remove(m).is_some() {
            n += 1;
            if z.is_empty() {
                break;
            }
        }
    }
    settle(e);
    ctx.out.int(n);
    Ok(())
}

enum Which {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

fn generic(ctx: &mut Ctx<'_>, args: Args<'_>, which: Which) -> Result<(), CmdError> {
    let key = args.get(1);
    let shard = ctx.keys.shard(key);
    let Some(z) = read(shard, key, ctx.now)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let (a, b) = match &which {
        Which::Rank(start, stop) => rank_range(*start, *stop, z.len()),
        Which::Score(r) => r.ranks(z),
        Which::Lex(r) => r.ranks(z, false),
    };
    if a >= b {
        // Nothing in range: the key is not marked as modified.
        ctx.out.int(0);
        return Ok(());
    }
    let mut e = open_existing(shard, key, ctx.now)?.expect("read above");
    remove_ranks(zset(&mut e), a, b);
    settle(e);
    ctx.out.int((b - a) as i64);
    Ok(())
}

/// Removes the members of ranks `a..b`.
pub fn remove_ranks(z: &mut ZSetObj, a: usize, b: usize) {
    if a >= b {
        return;
    }
    let members: Vec<Box<[u8]>> = z.range(a, b).map(|(m, _)| m.into()).collect();
    for m in &members {
        z.remove(m);
    }
}

pub fn zremrangebyrank(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let start = int_arg(args.get(2))?;
    let stop = int_arg(args.get(3))?;
    generic(ctx, args, Which::Rank(start, stop))
}

pub fn zremrangebyscore(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let r = ScoreRange::parse(args.get(2), args.get(3))?;
    generic(ctx, args, Which::Score(r))
}

pub fn zremrangebylex(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let r = LexRange::parse(args.get(2), args.get(3))?;
    generic(ctx, args, Which::Lex(r))
}
