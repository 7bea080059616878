//! ZSCAN key cursor [MATCH pattern] [COUNT count]

use super::read;
use crate::cmd::keys::scan::parse_cursor;
use crate::cmd::{int_arg, is, CmdError, Ctx};
use crate::resp::Args;
use crate::util::glob;
use crate::util::num::format_g17;

pub fn zscan(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let key = args.get(1);
    let cursor = parse_cursor(args.get(2))?;
    let shard = ctx.keys.shard(key);
    // As in Redis, a missing key answers before the options are read.
    let Some(z) = read(shard, key, ctx.now)? else {
        ctx.out.array(2);
        ctx.out.bulk(b"0");
        ctx.out.array(0);
        return Ok(());
    };
    let mut pattern = None;
    let mut count = 10usize;
    let mut i = 3;
    while i < args.len() {
        let more = i + 1 < args.len();
        let opt = args.get(i);
        if is(opt, "count") && more {
            let c = int_arg(args.get(i + 1))?;
            if c < 1 {
                return Err(CmdError::Syntax);
            }
            count = usize::try_from(c).unwrap_or(usize::MAX);
        } else if is(opt, "match") && more {
            let p = args.get(i + 1);
            pattern = (p != b"*").then_some(p);
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    let mut items: Vec<(&[u8], f64)> = Vec::new();
    let next = z.scan(cursor, count, |m, s| {
        if pattern.is_none_or(|p| glob::matches(p, m, false)) {
            items.push((m, s));
        }
    });
    ctx.out.array(2);
    ctx.out.bulk(itoa::Buffer::new().format(next).as_bytes());
    ctx.out.array(items.len() * 2);
    for (m, s) in items {
        ctx.out.bulk(m);
        ctx.out.bulk(format_g17(s).as_bytes());
    }
    Ok(())
}
