//! HGETALL (a map in RESP3), HKEYS, HVALS.

use super::read;
use crate::cmd::{CmdError, Ctx};
use crate::resp::Args;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Both,
    Fields,
    Values,
}

fn all(ctx: &mut Ctx<'_>, args: Args<'_>, part: Part) -> Result<(), CmdError> {
    let key = args.get(1);
    let shard = ctx.keys.shard(key);
    let h = read(shard, key, ctx.now)?;
    let n = h.map_or(0, |h| h.len());
    if part == Part::Both {
        ctx.out.map(n);
    } else {
        ctx.out.array(n);
    }
    if let Some(h) = h {
        for (f, v) in h.iter() {
            if part != Part::Values {
                ctx.out.bulk(f);
            }
            if part != Part::Fields {
                ctx.out.bulk(v);
            }
        }
    }
    Ok(())
}

pub fn hgetall(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    all(ctx, args, Part::Both)
}

pub fn hkeys(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    all(ctx, args, Part::Fields)
}

pub fn hvals(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    all(ctx, args, Part::Values)
}
