//! HSCAN key cursor [MATCH pattern] [COUNT count]: as Redis 7.0, the cursor is
//! read first, then the key (missing: an empty scan; WRONGTYPE), then the
//! options (NOVALUES came in 7.4, so it is a syntax error here).

use super::read;
use crate::cmd::keys::scan::{parse_cursor, ScanOptions};
use crate::cmd::{CmdError, Ctx};
use crate::resp::Args;

pub fn hscan(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let key = args.get(1);
    let cursor = parse_cursor(args.get(2))?;
    let shard = ctx.keys.shard(key);
    let Some(h) = read(shard, key, ctx.now)? else {
        ctx.out.array(2);
        ctx.out.bulk(b"0");
        ctx.out.array(0);
        return Ok(());
    };
    let opts = ScanOptions::parse(args, 3, true)?;
    let mut items: Vec<(&[u8], &[u8])> = Vec::new();
    let next = h.scan(cursor, opts.count, |f, v| {
        if opts.matches(f) {
            items.push((f, v));
        }
    });
    ctx.out.array(2);
    ctx.out.bulk(itoa::Buffer::new().format(next).as_bytes());
    ctx.out.array(items.len() * 2);
    for (f, v) in items {
        ctx.out.bulk(f);
        ctx.out.bulk(v);
    }
    Ok(())
}
