//! ZCARD, ZSCORE, ZMSCORE, ZRANK, ZREVRANK, ZCOUNT, ZLEXCOUNT.

use super::{read, LexRange, ScoreRange};
use crate::cmd::{CmdError, Ctx};
use crate::resp::Args;

pub fn zcard(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let key = args.get(1);
    let n = read(ctx.keys.shard(key), key, ctx.now)?.map_or(0, |z| z.len());
    ctx.out.int(n as i64);
    Ok(())
}

pub fn zscore(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let key = args.get(1);
    match read(ctx.keys.shard(key), key, ctx.now)?.and_then(|z| z.score(args.get(2))) {
        Some(s) => ctx.out.score(s),
        None => ctx.out.null(),
    }
    Ok(())
}

pub fn zmscore(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let key = args.get(1);
    let z = read(ctx.keys.shard(key), key, ctx.now)?;
    ctx.out.array(args.len() - 2);
    for m in args.iter().skip(2) {
        match z.and_then(|z| z.score(m)) {
            Some(s) => ctx.out.score(s),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

fn rank(ctx: &mut Ctx<'_>, args: Args<'_>, rev: bool) -> Result<(), CmdError> {
    let key = args.get(1);
    let z = read(ctx.keys.shard(key), key, ctx.now)?;
    match z.and_then(|z| z.rank(args.get(2)).map(|(r, _)| (r, z.len()))) {
        Some((r, len)) => ctx.out.int(if rev { len - 1 - r } else { r } as i64),
        None => ctx.out.null(),
    }
    Ok(())
}

pub fn zrank(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    rank(ctx, args, false)
}

pub fn zrevrank(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    rank(ctx, args, true)
}

pub fn zcount(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let key = args.get(1);
    let range = ScoreRange::parse(args.get(2), args.get(3))?;
    let n = match read(ctx.keys.shard(key), key, ctx.now)? {
        Some(z) => {
            let (a, b) = range.ranks(z);
            b - a
        }
        None => 0,
    };
    ctx.out.int(n as i64);
    Ok(())
}

pub fn zlexcount(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let key = args.get(1);
    let range = LexRange::parse(args.get(2), args.get(3))?;
    let n = match read(ctx.keys.shard(key), key, ctx.now)? {
        Some(z) => {
            let (a, b) = range.ranks(z, false);
            b - a
        }
        None => 0,
    };
    ctx.out.int(n as i64);
    Ok(())
}
