//! TTL, PTTL, EXPIRETIME, PEXPIRETIME: -2 for a missing key, -1 without TTL.

use crate::cmd::{CmdError, Ctx};
use crate::resp::Args;

fn ttl_generic(
    ctx: &mut Ctx<'_>,
    args: Args<'_>,
    ms: bool,
    absolute: bool,
) -> Result<(), CmdError> {
    let key = args.get(1);
    let shard = ctx.keys.shard(key);
    let reply = match shard.peek(key, ctx.now) {
        None => -2,
        Some(e) => match e.expire_at() {
            None => -1,
            Some(at) => {
                let v = if absolute {
                    at as i64
                } else {
                    (at as i64 - ctx.now as i64).max(0)
                };
                // Redis rounds to the nearest second.
                if ms {
                    v
                } else {
                    (v + 500) / 1000
                }
            }
        },
    };
    ctx.out.int(reply);
    Ok(())
}

pub fn ttl(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    ttl_generic(ctx, args, false, false)
}

pub fn pttl(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    ttl_generic(ctx, args, true, false)
}

pub fn expiretime(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    ttl_generic(ctx, args, false, true)
}

pub fn pexpiretime(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    ttl_generic(ctx, args, true, true)
}
