//! STRLEN key

use crate::cmd::{as_str, CmdError, Ctx};
use crate::resp::Args;

pub fn strlen(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let key = args.get(1);
    let shard = ctx.keys.shard(key);
    let len = match shard.get(key, ctx.now) {
        Some(e) => as_str(e)?.len(),
        None => 0,
    };
    ctx.out.int(len as i64);
    Ok(())
}
