//! MGET key [key ...]

use crate::cmd::{CmdError, Ctx};
use crate::resp::Args;

pub fn mget(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let keys = args.tail(1);
    ctx.out.array(keys.len());
    for key in keys.iter() {
        // A key of another type reads as nil, not as an error.
        match ctx
            .keys
            .shard(key)
            .get(key, ctx.now)
            .and_then(|e| e.as_str())
        {
            Some(v) => {
                ctx.stats.hit(true);
                ctx.out.bulk(v);
            }
            None => {
                ctx.stats.hit(false);
                ctx.out.null();
            }
        }
    }
    Ok(())
}
