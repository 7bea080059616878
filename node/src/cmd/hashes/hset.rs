//! HSET key field value [field value ...], HMSET (replies OK), HSETNX.

use super::{hash, open};
use crate::cmd::{CmdError, Ctx};
use crate::resp::Args;

fn set_fields(ctx: &mut Ctx<'_>, args: Args<'_>, name: &str) -> Result<i64, CmdError> {
    if !args.len().is_multiple_of(2) {
        return Err(CmdError::Arity(name.into()));
    }
    let key = args.get(1);
    let shard = ctx.keys.shard(key);
    let mut e = open(shard, key, ctx.now)?;
    let h = hash(&mut e);
    let mut added = 0;
    for i in (2..args.len()).step_by(2) {
        if h.set(args.get(i), args.get(i + 1)) {
            added += 1;
        }
    }
    Ok(added)
}

pub fn hset(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let n = set_fields(ctx, args, "hset")?;
    ctx.out.int(n);
    Ok(())
}

pub fn hmset(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    set_fields(ctx, args, "hmset")?;
    ctx.out.ok();
    Ok(())
}

pub fn hsetnx(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let (key, field) = (args.get(1), args.get(2));
    let shard = ctx.keys.shard(key);
    // An existing field changes nothing: the key is not even touched (WATCH,
    // replication and notifications see no write), as in Redis.
    if super::read(shard, key, ctx.now)?.is_some_and(|h| h.get(field).is_some()) {
        ctx.out.int(0);
        return Ok(());
    }
    let mut e = open(shard, key, ctx.now)?;
    let h = hash(&mut e);
    if h.get(field).is_some() {
        ctx.out.int(0);
    } else {
        h.set(field, args.get(3));
        ctx.out.int(1);
    }
    Ok(())
}
