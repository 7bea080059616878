//! LLEN, LRANGE, LINDEX, LTRIM.

use super::{clamp_range, existing, list, read, resolve_index};
use crate::cmd::{int_arg, CmdError, Ctx};
use crate::resp::Args;

pub fn llen(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let key = args.get(1);
    let shard = ctx.keys.shard(key);
    let l = read(shard, key, ctx.now)?;
    ctx.stats.hit(l.is_some());
    ctx.out.int(l.map_or(0, |l| l.len()) as i64);
    Ok(())
}

pub fn lrange(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let key = args.get(1);
    let start = int_arg(args.get(2))?;
    let end = int_arg(args.get(3))?;
    let shard = ctx.keys.shard(key);
    let l = read(shard, key, ctx.now)?;
    ctx.stats.hit(l.is_some());
    let Some(l) = l else {
        ctx.out.array(0);
        return Ok(());
    };
    let (first, n) = clamp_range(start, end, l.len());
    ctx.out.array(n);
    if n > 0 {
        for v in l.iter_from(first).take(n) {
            ctx.out.bulk(v);
        }
    }
    Ok(())
}

pub fn lindex(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let key = args.get(1);
    let shard = ctx.keys.shard(key);
    // As in Redis, the key is looked up before the index is parsed.
    let l = read(shard, key, ctx.now)?;
    ctx.stats.hit(l.is_some());
    let Some(l) = l else {
        ctx.out.null();
        return Ok(());
    };
    let index = int_arg(args.get(2))?;
    match resolve_index(index, l.len()).and_then(|i| l.get(i)) {
        Some(v) => ctx.out.bulk(v),
        None => ctx.out.null(),
    }
    Ok(())
}

pub fn ltrim(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let key = args.get(1);
    let start = int_arg(args.get(2))?;
    let end = int_arg(args.get(3))?;
    let shard = ctx.keys.shard(key);
    let Some(mut e) = existing(shard, key, ctx.now)? else {
        ctx.out.ok();
        return Ok(());
    };
    let l = list(&mut e);
    let (first, n) = clamp_range(start, end, l.len());
    if n == 0 {
        e.delete();
    } else {
        l.retain_range(first, n);
    }
    ctx.out.ok();
    Ok(())
}
