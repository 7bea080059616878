//! EXISTS key [key ...] (a key named twice counts twice) and TOUCH.

use crate::cmd::{CmdError, Ctx};
use crate::resp::Args;

pub fn exists(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let keys = args.tail(1);
    let n = keys
        .iter()
        .filter(|k| ctx.keys.shard(k).peek(k, ctx.now).is_some())
        .count();
    ctx.out.int(n as i64);
    Ok(())
}

pub fn touch(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let keys = args.tail(1);
    let n = keys
        .iter()
        .filter(|k| ctx.keys.shard(k).get(k, ctx.now).is_some())
        .count();
    ctx.out.int(n as i64);
    Ok(())
}
