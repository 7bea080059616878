//! SSCAN key cursor [MATCH pattern] [COUNT count]

use super::read;
use crate::cmd::keys::scan::{parse_cursor, ScanOptions};
use crate::cmd::{CmdError, Ctx};
use crate::resp::Args;

pub fn sscan(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let key = args.get(1);
    let cursor = parse_cursor(args.get(2))?;
    let shard = ctx.keys.shard(key);
    // As Redis: the key is looked up before the options are read.
    let s = read(shard, key, ctx.now)?;
    ctx.stats.hit(s.is_some());
    let Some(s) = s else {
        ctx.out.array(2);
        ctx.out.bulk(b"0");
        ctx.out.array(0);
        return Ok(());
    };
    let opts = ScanOptions::parse(args, 3, true)?;
    let mut items: Vec<&[u8]> = Vec::new();
    let next = s.scan(cursor, opts.count, |m| {
        if opts.matches(m) {
            items.push(m);
        }
    });
    ctx.out.array(2);
    ctx.out.bulk(itoa::Buffer::new().format(next).as_bytes());
    ctx.out.array(items.len());
    for m in items {
        ctx.out.bulk(m);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_cursor;

    #[test]
    fn cursor_follows_strtoul() {
        assert_eq!(parse_cursor(b""), Ok(0));
        assert_eq!(parse_cursor(b"+5"), Ok(5));
        assert_eq!(parse_cursor(b"-1"), Ok(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551615"), Ok(u64::MAX));
        for bad in [&b"+"[..], b"-", b" 5", b"5 ", b"18446744073709551616", b"x"] {
            assert!(parse_cursor(bad).is_err(), "{bad:?}");
        }
    }
}
