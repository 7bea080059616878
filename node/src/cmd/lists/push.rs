//! LPUSH, RPUSH, and LPUSHX, RPUSHX (only onto an existing list).

use super::{existing, list, open};
use crate::cmd::{CmdError, Ctx};
use crate::resp::Args;

fn push(
    ctx: &mut Ctx<'_>,
    args: Args<'_>,
    head: bool,
    only_existing: bool,
) -> Result<(), CmdError> {
    let key = args.get(1);
    let shard = ctx.keys.shard(key);
    let mut e = if only_existing {
        match existing(shard, key, ctx.now)? {
            Some(e) => e,
            None => {
                ctx.out.int(0);
                return Ok(());
            }
        }
    } else {
        open(shard, key, ctx.now)?
    };
    let l = list(&mut e);
    for v in args.tail(2).iter() {
        if head {
            l.push_front(v);
        } else {
            l.push_back(v);
        }
    }
    ctx.out.int(l.len() as i64);
    Ok(())
}

pub fn lpush(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    push(ctx, args, true, false)
}

pub fn rpush(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    push(ctx, args, false, false)
}

pub fn lpushx(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    push(ctx, args, true, true)
}

pub fn rpushx(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    push(ctx, args, false, true)
}
