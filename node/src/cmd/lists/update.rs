//! LSET, LINSERT, LREM: changes in the middle of a list.

use super::{existing, list, peek_list, resolve_index};
use crate::cmd::{int_arg, is, CmdError, Ctx};
use crate::resp::Args;

pub fn lset(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let key = args.get(1);
    let shard = ctx.keys.shard(key);
    let Some(mut e) = existing(shard, key, ctx.now)? else {
        return Err(CmdError::NoSuchKey);
    };
    let index = int_arg(args.get(2))?;
    let i = resolve_index(index, peek_list(&e).len())
        .ok_or_else(|| CmdError::err("index out of range"))?;
    list(&mut e).set(i, args.get(3));
    ctx.out.ok();
    Ok(())
}

pub fn linsert(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let key = args.get(1);
    let after = if is(args.get(2), "after") {
        true
    } else if is(args.get(2), "before") {
        false
    } else {
        return Err(CmdError::Syntax);
    };
    let (pivot, value) = (args.get(3), args.get(4));
    let shard = ctx.keys.shard(key);
    let Some(mut e) = existing(shard, key, ctx.now)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let Some(at) = peek_list(&e).iter().position(|v| v == pivot) else {
        ctx.out.int(-1);
        return Ok(());
    };
    let l = list(&mut e);
    l.insert(at + usize::from(after), value);
    ctx.out.int(l.len() as i64);
    Ok(())
}

pub fn lrem(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let key = args.get(1);
    let count = int_arg(args.get(2))?;
    let value = args.get(3);
    let shard = ctx.keys.shard(key);
    let Some(mut e) = existing(shard, key, ctx.now)? else {
        ctx.out.int(0);
        return Ok(());
    };
    // Only a list that really changes is recorded as changed (WATCH, replicas).
    if !peek_list(&e).iter().any(|v| v == value) {
        ctx.out.int(0);
        return Ok(());
    }
    let l = list(&mut e);
    let removed = l.remove_matching(value, count);
    if l.is_empty() {
        e.delete();
    }
    ctx.out.int(removed as i64);
    Ok(())
}
