//! ZRANGE key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES],
//! ZRANGESTORE, and the older ZREVRANGE, Z[REV]RANGEBYSCORE, Z[REV]RANGEBYLEX,
//! all through one parser as in Redis' `zrangeGenericCommand`.

use super::{rank_range, read, reply_items, store, LexRange, ScoreRange};
use crate::cmd::{int_arg, is, CmdError, Ctx};
use crate::resp::Args;
use crate::store::ZSetObj;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Type {
    Auto,
    Rank,
    Score,
    Lex,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Dir {
    Auto,
    Forward,
    Reverse,
}

enum Range {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

struct Request {
    range: Range,
    rev: bool,
    withscores: bool,
    offset: i64,
    limit: i64,
}

fn parse(
    args: Args<'_>,
    first: usize,
    store: bool,
    mut ty: Type,
    mut dir: Dir,
) -> Result<Request, CmdError> {
    let (mut withscores, mut offset, mut limit) = (false, 0i64, -1i64);
    let mut j = first + 3;
    while j < args.len() {
        let left = args.len() - j - 1;
        let a = args.get(j);
        if !store && is(a, "withscores") {
            withscores = true;
        } else if is(a, "limit") && left >= 2 {
            offset = int_arg(args.get(j + 1))?;
            limit = int_arg(args.get(j + 2))?;
            j += 2;
        } else if dir == Dir::Auto && is(a, "rev") {
            dir = Dir::Reverse;
        } else if ty == Type::Auto && is(a, "bylex") {
            ty = Type::Lex;
        } else if ty == Type::Auto && is(a, "byscore") {
            ty = Type::Score;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let rev = dir == Dir::Reverse;
    if ty == Type::Auto {
        ty = Type::Rank;
    }
    if limit != -1 && ty == Type::Rank {
        return Err(CmdError::err(
            "syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if withscores && ty == Type::Lex {
        return Err(CmdError::err(
            "syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    let (mut lo, mut hi) = (args.get(first + 1), args.get(first + 2));
    if rev && ty != Type::Rank {
        std::mem::swap(&mut lo, &mut hi);
    }
    let range = match ty {
        Type::Score => Range::Score(ScoreRange::parse(lo, hi)?),
        Type::Lex => Range::Lex(LexRange::parse(lo, hi)?),
        _ => Range::Rank(int_arg(lo)?, int_arg(hi)?),
    };
    Ok(Request {
        range,
        rev,
        withscores,
        offset,
        limit,
    })
}

/// The ranks `a..b` selected, to be walked backwards when `rev`.
fn select(z: &ZSetObj, r: &Request) -> (usize, usize) {
    let len = z.len();
    let (a, b) = match &r.range {
        Range::Rank(start, stop) => {
            if r.rev {
                // Ranks counted from the highest member.
                let (a, b) = rank_range(*start, *stop, len);
                return (len - b, len - a);
            }
            return rank_range(*start, *stop, len);
        }
        Range::Score(s) => s.ranks(z),
        Range::Lex(l) => l.ranks(z, r.rev),
    };
    // LIMIT: a negative offset selects nothing, a negative count everything.
    if r.offset < 0 {
        return (0, 0);
    }
    let n = b - a;
    let off = usize::try_from(r.offset).unwrap_or(usize::MAX).min(n);
    let take = if r.limit < 0 {
        n - off
    } else {
        usize::try_from(r.limit).unwrap_or(usize::MAX).min(n - off)
    };
    if r.rev {
        (b - off - take, b - off)
    } else {
        (a + off, a + off + take)
    }
}

fn generic(ctx: &mut Ctx<'_>, args: Args<'_>, ty: Type, dir: Dir) -> Result<(), CmdError> {
    let r = parse(args, 1, false, ty, dir)?;
    let key = args.get(1);
    let Some(z) = read(ctx.keys.shard(key), key, ctx.now)? else {
        ctx.out.array(0);
        return Ok(());
    };
    let (a, b) = select(z, &r);
    let items = z.range(a, b);
    if r.rev {
        reply_items(ctx.out, b - a, r.withscores, items.rev());
    } else {
        reply_items(ctx.out, b - a, r.withscores, items);
    }
    Ok(())
}

pub fn zrange(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    generic(ctx, args, Type::Auto, Dir::Auto)
}

pub fn zrevrange(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    generic(ctx, args, Type::Rank, Dir::Reverse)
}

pub fn zrangebyscore(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    generic(ctx, args, Type::Score, Dir::Forward)
}

pub fn zrevrangebyscore(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    generic(ctx, args, Type::Score, Dir::Reverse)
}

pub fn zrangebylex(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    generic(ctx, args, Type::Lex, Dir::Forward)
}

pub fn zrevrangebylex(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    generic(ctx, args, Type::Lex, Dir::Reverse)
}

/// ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]
pub fn zrangestore(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let r = parse(args, 2, true, Type::Auto, Dir::Auto)?;
    let (dst, src) = (args.get(1), args.get(2));
    let mut result = ZSetObj::new();
    if let Some(z) = read(ctx.keys.shard(src), src, ctx.now)? {
        let (a, b) = select(z, &r);
        // Copied out first: the destination may be the source.
        for (m, s) in z.range(a, b) {
            result.insert(m, s);
        }
    }
    store(ctx.keys.shard(dst), ctx.out, dst, result, ctx.now);
    Ok(())
}
