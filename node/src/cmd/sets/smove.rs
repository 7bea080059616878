//! SMOVE source destination member.

use super::{existing, open, set};
use crate::cmd::{CmdError, Ctx};
use crate::resp::Args;
use crate::store::Kind;

pub fn smove(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let (src, dst, member) = (args.get(1), args.get(2), args.get(3));
    let now = ctx.now;
    // As Redis: a missing source answers 0 before any type check; then both
    // keys' types are checked before anything changes.
    match ctx.keys.shard(src).peek(src, now) {
        None => {
            ctx.out.int(0);
            return Ok(());
        }
        Some(e) if e.kind() != Kind::Set => return Err(CmdError::WrongType),
        Some(_) => {}
    }
    if let Some(e) = ctx.keys.shard(dst).peek(dst, now) {
        if e.kind() != Kind::Set {
            return Err(CmdError::WrongType);
        }
    }
    if src == dst {
        let found = super::read(ctx.keys.shard(src), src, now)?.is_some_and(|s| s.contains(member));
        ctx.out.int(i64::from(found));
        return Ok(());
    }
    // Looked up first so that a miss changes nothing (nothing to replicate).
    if !super::read(ctx.keys.shard(src), src, now)?.is_some_and(|s| s.contains(member)) {
        ctx.out.int(0);
        return Ok(());
    }
    if let Some(mut e) = existing(ctx.keys.shard(src), src, now)? {
        let s = set(&mut e);
        s.remove(member);
        if s.is_empty() {
            e.delete();
        }
    }
    // The destination changes (and WATCH sees it) only if the member is new
    // there, as in Redis 7.0.
    if !super::read(ctx.keys.shard(dst), dst, now)?.is_some_and(|s| s.contains(member)) {
        let mut e = open(ctx.keys.shard(dst), dst, now)?;
        set(&mut e).insert(member);
    }
    ctx.out.int(1);
    Ok(())
}
