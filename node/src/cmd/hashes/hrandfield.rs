//! HRANDFIELD key [count [WITHVALUES]]

use super::read;
use crate::cmd::{int_arg, is, CmdError, Ctx};
use crate::resp::Args;

pub fn hrandfield(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let key = args.get(1);
    let count = if args.len() >= 3 {
        Some(int_arg(args.get(2))?)
    } else {
        None
    };
    let withvalues = match args.len() {
        2 | 3 => false,
        4 if is(args.get(3), "withvalues") => true,
        _ => return Err(CmdError::Syntax),
    };
    if let Some(c) = count {
        if withvalues && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&c) {
            return Err(CmdError::err("value is out of range"));
        }
    }
    let mut shard = ctx.db().lock(key);
    let h = read(&mut shard, key, ctx.now)?;
    let Some(count) = count else {
        match h.and_then(|h| h.get_index(fastrand::usize(..h.len().max(1)))) {
            Some((f, _)) => ctx.out.bulk(f),
            None => ctx.out.null(),
        }
        return Ok(());
    };
    let Some(h) = h.filter(|h| !h.is_empty()) else {
        ctx.out.array(0);
        return Ok(());
    };
    // Positive: distinct fields, at most the hash's size. Negative: repeats allowed.
    let picks: Vec<usize> = if count >= 0 {
        let n = (count as usize).min(h.len());
        let mut idx: Vec<usize> = (0..h.len()).collect();
        fastrand::shuffle(&mut idx);
        idx.truncate(n);
        idx
    } else {
        (0..count.unsigned_abs() as usize)
            .map(|_| fastrand::usize(..h.len()))
            .collect()
    };
    let resp3 = ctx.out.resp3();
    ctx.out.array(if withvalues && !resp3 {
        picks.len() * 2
    } else {
        picks.len()
    });
    for i in picks {
        let (f, v) = h.get_index(i).expect("index in range");
        if withvalues {
            if resp3 {
                ctx.out.array(2);
            }
            ctx.out.bulk(f);
            ctx.out.bulk(v);
        } else {
            ctx.out.bulk(f);
        }
    }
    Ok(())
}
