//! TYPE key

use crate::cmd::{CmdError, Ctx};
use crate::resp::Args;

pub fn type_(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let key = args.get(1);
    let shard = ctx.keys.shard(key);
    let name = shard.peek(key, ctx.now).map_or("none", |e| e.kind().name());
    ctx.out.simple(name);
    Ok(())
}
