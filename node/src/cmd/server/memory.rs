//! MEMORY USAGE key [SAMPLES count] and MEMORY HELP

use crate::cmd::{int_arg, is, CmdError, Ctx};
use crate::resp::Args;

pub fn usage(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    match args.len() {
        3 => {}
        5 if is(args.get(3), "samples") => {
            int_arg(args.get(4))?;
        }
        _ => return Err(CmdError::Syntax),
    }
    let key = args.get(2);
    let shard = ctx.keys.shard(key);
    match shard.peek(key, ctx.now) {
        Some(e) => ctx.out.int(e.mem_size() as i64),
        None => ctx.out.null(),
    }
    Ok(())
}

pub fn help(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Result<(), CmdError> {
    super::help_reply(
        ctx,
        "MEMORY",
        &[
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value, including the share of",
            "    the keyspace index it occupies.",
        ],
    );
    Ok(())
}
