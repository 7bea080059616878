//! SMEMBERS (a set in RESP3), SISMEMBER, SMISMEMBER, SCARD.

use super::read;
use crate::cmd::{CmdError, Ctx};
use crate::resp::Args;

pub fn smembers(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let key = args.get(1);
    let shard = ctx.keys.shard(key);
    let s = read(shard, key, ctx.now)?;
    ctx.stats.hit(s.is_some());
    ctx.out.set(s.map_or(0, |s| s.len()));
    for m in s.into_iter().flat_map(|s| s.iter()) {
        ctx.out.bulk(m);
    }
    Ok(())
}

pub fn sismember(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let key = args.get(1);
    let shard = ctx.keys.shard(key);
    let s = read(shard, key, ctx.now)?;
    ctx.stats.hit(s.is_some());
    let found = s.is_some_and(|s| s.contains(args.get(2)));
    ctx.out.int(i64::from(found));
    Ok(())
}

pub fn smismember(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let key = args.get(1);
    let shard = ctx.keys.shard(key);
    let s = read(shard, key, ctx.now)?;
    ctx.stats.hit(s.is_some());
    let members = args.tail(2);
    ctx.out.array(members.len());
    for m in members.iter() {
        ctx.out.int(i64::from(s.is_some_and(|s| s.contains(m))));
    }
    Ok(())
}

pub fn scard(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let key = args.get(1);
    let shard = ctx.keys.shard(key);
    let s = read(shard, key, ctx.now)?;
    ctx.stats.hit(s.is_some());
    ctx.out.int(s.map_or(0, |s| s.len()) as i64);
    Ok(())
}
