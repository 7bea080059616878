//! SSCAN key cursor [MATCH pattern] [COUNT count]

use super::read;
use crate::cmd::keys::scan::parse_cursor;
use crate::cmd::{int_arg, is, CmdError, Ctx};
use crate::resp::Args;
use crate::util::glob;

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
    let mut items: Vec<&[u8]> = Vec::new();
    let next = s.scan(cursor, count, |m| {
        if pattern.is_none_or(|p| glob::matches(p, m, false)) {
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
