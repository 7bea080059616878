//! GETEX key [EX s|PX ms|EXAT ts|PXAT ts|PERSIST] and GETDEL key

use super::{parse_options, ExpireOpt, Flavor};
use crate::cmd::{as_str, CmdError, Ctx};
use crate::resp::Args;

pub fn getex(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let (_, expire) = parse_options(args, 2, Flavor::GetEx, ctx.now, "getex")?;
    let key = args.get(1);
    let now = ctx.now;
    let shard = ctx.keys.shard(key);
    let Some(mut e) = shard.get_mut(key, now) else {
        ctx.stats.hit(false);
        ctx.out.null();
        return Ok(());
    };
    ctx.stats.hit(true);
    ctx.out.bulk(as_str(e.entry())?);
    match expire {
        // A deadline already in the past deletes the key, as in Redis.
        ExpireOpt::At(t) if t <= now => {
            e.delete();
        }
        ExpireOpt::At(t) => e.set_expire(Some(t)),
        ExpireOpt::Persist => e.set_expire(None),
        ExpireOpt::None | ExpireOpt::KeepTtl => {}
    }
    Ok(())
}

pub fn getdel(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let key = args.get(1);
    let shard = ctx.keys.shard(key);
    let Some(e) = shard.get_mut(key, ctx.now) else {
        ctx.stats.hit(false);
        ctx.out.null();
        return Ok(());
    };
    ctx.stats.hit(true);
    ctx.out.bulk(as_str(e.entry())?);
    e.delete();
    Ok(())
}
