//! SADD key member [member ...], SREM key member [member ...].

use super::{existing, open, read, set};
use crate::cmd::{CmdError, Ctx};
use crate::resp::Args;

pub fn sadd(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let key = args.get(1);
    let shard = ctx.keys.shard(key);
    let members = args.tail(2);
    // Adding only members already there changes nothing: WATCH is not
    // triggered and nothing is replicated, as in Redis.
    if read(shard, key, ctx.now)?.is_some_and(|s| members.iter().all(|m| s.contains(m))) {
        ctx.out.int(0);
        return Ok(());
    }
    let mut e = open(shard, key, ctx.now)?;
    let s = set(&mut e);
    let added = members.iter().filter(|m| s.insert(m)).count();
    ctx.out.int(added as i64);
    Ok(())
}

/// Removing the last member removes the key.
pub fn srem(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let key = args.get(1);
    let shard = ctx.keys.shard(key);
    let members = args.tail(2);
    // A call that removes nothing changes nothing (and replicates nothing).
    let any = read(shard, key, ctx.now)?.is_some_and(|s| members.iter().any(|m| s.contains(m)));
    if !any {
        ctx.out.int(0);
        return Ok(());
    }
    let Some(mut e) = existing(shard, key, ctx.now)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let s = set(&mut e);
    let mut removed = 0;
    for m in members.iter() {
        if s.remove(m) {
            removed += 1;
            if s.is_empty() {
                break;
            }
        }
    }
    if s.is_empty() {
        e.delete();
    }
    ctx.out.int(removed);
    Ok(())
}
