//! BZPOPMIN BZPOPMAX key [key ...] timeout; BZMPOP timeout numkeys key [key ...]
//! MIN|MAX [COUNT count].

use super::lists::mpop;
use super::{park, parse_timeout};
use crate::cmd::zsets::{open_existing, settle, zmpop, zpop::pop, zset};
use crate::cmd::{CmdError, Ctx};
use crate::resp::Args;
use crate::store::Nil;

fn bzpop(ctx: &mut Ctx<'_>, args: Args<'_>, max: bool) -> Result<(), CmdError> {
    let timeout = parse_timeout(args.get(args.len() - 1))?;
    let keys = || args.iter().skip(1).take(args.len() - 2);
    for key in keys() {
        let Some(mut e) = open_existing(ctx.keys.shard(key), key, ctx.now)? else {
            continue;
        };
        let taken = pop(zset(&mut e), 1, max);
        settle(e);
        let (m, s) = &taken[0];
        ctx.out.array(3);
        ctx.out.bulk(key);
        ctx.out.bulk(m);
        ctx.out.score(*s);
        return Ok(());
    }
    park(ctx, args, keys(), timeout, Nil::Array)
}

pub fn bzpopmin(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    bzpop(ctx, args, false)
}

pub fn bzpopmax(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    bzpop(ctx, args, true)
}

pub fn bzmpop(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let timeout = parse_timeout(args.get(1))?;
    mpop(ctx, args, timeout, zmpop)
}
