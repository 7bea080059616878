//! GET key

use crate::cmd::{as_str, CmdError, Ctx};
use crate::resp::Args;

pub fn get(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let key = args.get(1);
    let shard = ctx.keys.shard(key);
    match shard.get(key, ctx.now) {
        None => {
            ctx.stats.hit(false);
            ctx.out.null();
        }
        Some(e) => {
            ctx.stats.hit(true);
            ctx.out.bulk(as_str(e)?);
        }
    }
    Ok(())
}
