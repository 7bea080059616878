//! HGET, HMGET, HEXISTS, HSTRLEN, HLEN: reads of single fields or counts.

use super::read;
use crate::cmd::{CmdError, Ctx};
use crate::resp::Args;

pub fn hget(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let key = args.get(1);
    let shard = ctx.keys.shard(key);
    let h = read(shard, key, ctx.now)?;
    ctx.stats.hit(h.is_some());
    match h.and_then(|h| h.get(args.get(2))) {
        Some(v) => ctx.out.bulk(v),
        None => ctx.out.null(),
    }
    Ok(())
}

pub fn hmget(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let key = args.get(1);
    let shard = ctx.keys.shard(key);
    let h = read(shard, key, ctx.now)?;
    ctx.stats.hit(h.is_some());
    let fields = args.tail(2);
    ctx.out.array(fields.len());
    for f in fields.iter() {
        match h.and_then(|h| h.get(f)) {
            Some(v) => ctx.out.bulk(v),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

pub fn hexists(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let key = args.get(1);
    let shard = ctx.keys.shard(key);
    let h = read(shard, key, ctx.now)?;
    let found = h.and_then(|h| h.get(args.get(2))).is_some();
    ctx.out.int(i64::from(found));
    Ok(())
}

pub fn hstrlen(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let key = args.get(1);
    let shard = ctx.keys.shard(key);
    let h = read(shard, key, ctx.now)?;
    let len = h.and_then(|h| h.get(args.get(2))).map_or(0, <[u8]>::len);
    ctx.out.int(len as i64);
    Ok(())
}

pub fn hlen(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let key = args.get(1);
    let shard = ctx.keys.shard(key);
    let h = read(shard, key, ctx.now)?;
    ctx.out.int(h.map_or(0, |h| h.len()) as i64);
    Ok(())
}
