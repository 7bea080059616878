//! GETRANGE key start end (and its old name SUBSTR)

use crate::cmd::{as_str, int_arg, CmdError, Ctx};
use crate::resp::Args;
use crate::util::range::clamp;

pub fn getrange(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let start = int_arg(args.get(2))?;
    let end = int_arg(args.get(3))?;
    let key = args.get(1);
    let shard = ctx.keys.shard(key);
    let Some(e) = shard.get(key, ctx.now) else {
        ctx.out.bulk(b"");
        return Ok(());
    };
    let s = as_str(e)?;
    match clamp(start, end, s.len() as i64) {
        Some((a, b)) => ctx.out.bulk(&s[a as usize..=b as usize]),
        None => ctx.out.bulk(b""),
    }
    Ok(())
}
