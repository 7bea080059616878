//! RENAME key newkey and RENAMENX. The value keeps its TTL.

use crate::cmd::{CmdError, Ctx};
use crate::resp::Args;

fn rename_generic(ctx: &mut Ctx<'_>, args: Args<'_>, nx: bool) -> Result<(), CmdError> {
    let (src, dst) = (args.get(1), args.get(2));
    let now = ctx.now;
    if ctx.keys.shard(src).peek(src, now).is_none() {
        return Err(CmdError::NoSuchKey);
    }
    if src == dst {
        if nx {
            ctx.out.int(0);
        } else {
            ctx.out.ok();
        }
        return Ok(());
    }
    if nx && ctx.keys.shard(dst).peek(dst, now).is_some() {
        ctx.out.int(0);
        return Ok(());
    }
    let entry = ctx
        .keys
        .shard(src)
        .remove(src, now)
        .ok_or(CmdError::NoSuchKey)?;
    ctx.keys.shard(dst).insert_entry(entry.renamed(dst), now);
    if nx {
        ctx.out.int(1);
    } else {
        ctx.out.ok();
    }
    Ok(())
}

pub fn rename(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    rename_generic(ctx, args, false)
}

pub fn renamenx(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    rename_generic(ctx, args, true)
}
