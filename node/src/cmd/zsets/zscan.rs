//! ZSCAN key cursor [MATCH pattern] [COUNT count]

use super::read;
use crate::cmd::keys::scan::{parse_cursor, ScanOptions};
use crate::cmd::{CmdError, Ctx};
use crate::resp::Args;
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
    let opts = ScanOptions::parse(args, 3, true)?;
    let mut items: Vec<(&[u8], f64)> = Vec::new();
    let next = z.scan(cursor, opts.count, |m, s| {
        if opts.matches(m) {
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
