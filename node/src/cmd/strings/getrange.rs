//! GETRANGE key start end (and its old name SUBSTR)

use crate::cmd::{as_str, int_arg, CmdError, Ctx};
use crate::resp::Args;

/// The byte range Redis' `getrangeCommand` returns for a string of `len` bytes,
/// or None for the empty string.
pub fn range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    if start < 0 && end < 0 && start > end {
        return None;
    }
    let mut start = if start < 0 { len + start } else { start };
    let mut end = if end < 0 { len + end } else { end };
    start = start.max(0);
    end = end.max(0);
    if end >= len {
        end = len - 1;
    }
    if start > end || len == 0 {
        return None;
    }
    Some((start as usize, end as usize + 1))
}

pub fn getrange(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let start = int_arg(args.get(2))?;
    let end = int_arg(args.get(3))?;
    let key = args.get(1);
    let mut shard = ctx.db().lock(key);
    let Some(e) = shard.get(key, ctx.now) else {
        ctx.out.bulk(b"");
        return Ok(());
    };
    let s = as_str(e)?;
    match range(start, end, s.len()) {
        Some((a, b)) => ctx.out.bulk(&s[a..b]),
        None => ctx.out.bulk(b""),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::range;

    #[test]
    fn matches_redis_examples() {
        // "This is a string": GETRANGE 0 3, -3 -1, 0 -1, 10 100.
        assert_eq!(range(0, 3, 16), Some((0, 4)));
        assert_eq!(range(-3, -1, 16), Some((13, 16)));
        assert_eq!(range(0, -1, 16), Some((0, 16)));
        assert_eq!(range(10, 100, 16), Some((10, 16)));
        assert_eq!(range(5, 2, 16), None);
        assert_eq!(range(-1, -5, 16), None);
        assert_eq!(range(0, 0, 0), None);
        assert_eq!(range(-100, 2, 16), Some((0, 3)));
    }
}
