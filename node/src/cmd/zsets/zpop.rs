//! ZPOPMIN, ZPOPMAX key [count], and ZMPOP numkeys key [key ...] MIN|MAX [COUNT count].

use super::{open_existing, settle, zset};
use crate::cmd::{is, CmdError, Ctx};
use crate::resp::Args;
use crate::util::num::parse_i64;

/// Pops up to `count` members from the low (`max` false) or high end.
pub(crate) fn pop(z: &mut crate::store::ZSetObj, count: usize, max: bool) -> Vec<(Box<[u8]>, f64)> {
    let n = count.min(z.len());
    let len = z.len();
    let taken: Vec<(Box<[u8]>, f64)> = if max {
        z.range(len - n, len)
            .rev()
            .map(|(m, s)| (m.into(), s))
            .collect()
    } else {
        z.range(0, n).map(|(m, s)| (m.into(), s)).collect()
    };
    for (m, _) in &taken {
        z.remove(m);
    }
    taken
}

fn zpop(ctx: &mut Ctx<'_>, args: Args<'_>, max: bool) -> Result<(), CmdError> {
    if args.len() > 3 {
        return Err(CmdError::Syntax);
    }
    let key = args.get(1);
    let count = if args.len() == 3 {
        let c = parse_i64(args.get(2))
            .ok_or_else(|| CmdError::err("value is out of range, must be positive"))?;
        if c < 0 {
            return Err(CmdError::err("value is out of range, must be positive"));
        }
        Some(c as u64)
    } else {
        None
    };
    let Some(mut e) = open_existing(ctx.keys.shard(key), key, ctx.now)? else {
        ctx.out.array(0);
        return Ok(());
    };
    if count == Some(0) {
        // Checked after the key's type, as Redis does.
        ctx.out.array(0);
        return Ok(());
    }
    let n = usize::try_from(count.unwrap_or(1)).unwrap_or(usize::MAX);
    let taken = pop(zset(&mut e), n, max);
    settle(e);
    let resp3 = ctx.out.resp3();
    let nested = resp3 && count.is_some();
    ctx.out
        .array(if nested { taken.len() } else { taken.len() * 2 });
    for (m, s) in &taken {
        if nested {
            ctx.out.array(2);
        }
        ctx.out.bulk(m);
        ctx.out.score(*s);
    }
    Ok(())
}

pub fn zpopmin(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    zpop(ctx, args, false)
}

pub fn zpopmax(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    zpop(ctx, args, true)
}

pub fn zmpop(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let numkeys = match parse_i64(args.get(1)) {
        Some(n) if n >= 1 => n as u64,
        _ => return Err(CmdError::err("numkeys should be greater than 0")),
    };
    let where_idx = usize::try_from(numkeys)
        .ok()
        .and_then(|n| n.checked_add(2))
        .filter(|&w| w < args.len())
        .ok_or(CmdError::Syntax)?;
    let max = match args.get(where_idx) {
        w if is(w, "min") => false,
        w if is(w, "max") => true,
        _ => return Err(CmdError::Syntax),
    };
    let mut count: Option<u64> = None;
    let mut j = where_idx + 1;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if count.is_none() && is(args.get(j), "count") && more > 0 {
            j += 1;
            match parse_i64(args.get(j)) {
                Some(c) if c >= 1 => count = Some(c as u64),
                _ => return Err(CmdError::err("count should be greater than 0")),
            }
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let n = usize::try_from(count.unwrap_or(1)).unwrap_or(usize::MAX);
    for i in 2..where_idx {
        let key = args.get(i);
        let shard = ctx.keys.shard(key);
        let Some(mut e) = open_existing(shard, key, ctx.now)? else {
            continue;
        };
        let taken = pop(zset(&mut e), n, max);
        settle(e);
        ctx.out.array(2);
        ctx.out.bulk(key);
        ctx.out.array(taken.len());
        for (m, s) in &taken {
            ctx.out.array(2);
            ctx.out.bulk(m);
            ctx.out.score(*s);
        }
        return Ok(());
    }
    ctx.out.null_array();
    Ok(())
}
