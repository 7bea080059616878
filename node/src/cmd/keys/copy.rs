//! COPY source destination [DB destination-db] [REPLACE]

use crate::cmd::{int_arg, is, CmdError, Ctx};
use crate::resp::Args;

pub fn copy(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let (src, dst) = (args.get(1), args.get(2));
    let mut replace = false;
    let mut db = 0;
    let mut j = 3;
    while j < args.len() {
        if is(args.get(j), "replace") {
            replace = true;
        } else if is(args.get(j), "db") && j + 1 < args.len() {
            db = int_arg(args.get(j + 1))?;
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    if db != 0 {
        return Err(CmdError::err("DB index is out of range"));
    }
    if src == dst {
        return Err(CmdError::err("source and destination objects are the same"));
    }
    let now = ctx.now;
    let Some(entry) = ctx.keys.shard(src).get(src, now).cloned() else {
        ctx.out.int(0);
        return Ok(());
    };
    if ctx.keys.shard(dst).peek(dst, now).is_some() && !replace {
        ctx.out.int(0);
        return Ok(());
    }
    ctx.keys.shard(dst).insert_entry(entry.renamed(dst), now);
    ctx.out.int(1);
    Ok(())
}
