//! DBSIZE, FLUSHDB and FLUSHALL [ASYNC|SYNC]

use crate::cmd::{is, CmdError, Ctx};
use crate::resp::Args;

pub fn dbsize(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Result<(), CmdError> {
    ctx.out.int(ctx.keys.len() as i64);
    Ok(())
}

fn flush(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let lazy = match args.len() {
        1 => false,
        2 if is(args.get(1), "async") => true,
        2 if is(args.get(1), "sync") => false,
        _ => return Err(CmdError::Syntax),
    };
    ctx.keys.flush(lazy);
    ctx.out.ok();
    Ok(())
}

pub fn flushdb(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    flush(ctx, args)
}

pub fn flushall(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    flush(ctx, args)
}
