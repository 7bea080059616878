//! HRANDFIELD key [count [WITHVALUES]]

use super::read;
use crate::cmd::{int_arg, is, CmdError, Ctx};
use crate::resp::Args;

pub fn hrandfield(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let key = args.get(1);
    let count = if args.len() >= 3 {
        let c = int_arg(args.get(2))?;
        if c == i64::MIN {
            // Redis reads the count within -LONG_MAX..LONG_MAX.
            return Err(CmdError::err(
                "value is out of range, value must between -9223372036854775807 and 9223372036854775807",
            ));
        }
        Some(c)
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
    let shard = ctx.keys.shard(key);
    let h = read(shard, key, ctx.now)?;
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
    let resp3 = ctx.out.resp3();
    let put = |out: &mut crate::resp::Reply, i: usize| {
        let (f, v) = h.get_index(i).expect("index in range");
        if withvalues {
            if resp3 {
                out.array(2);
            }
            out.bulk(f);
            out.bulk(v);
        } else {
            out.bulk(f);
        }
    };
    let header = |out: &mut crate::resp::Reply, n: usize| {
        out.array(if withvalues && !resp3 { n * 2 } else { n });
    };
    if count >= 0 {
        // Distinct fields, at most the hash's size.
        let n = (count as usize).min(h.len());
        let mut idx: Vec<usize> = (0..h.len()).collect();
        fastrand::shuffle(&mut idx);
        header(ctx.out, n);
        for &i in &idx[..n] {
            put(ctx.out, i);
        }
        return Ok(());
    }
    // Negative: repeats allowed, so the reply size is the client's alone to
    // choose. It is written pick by pick and abandoned (closing the connection,
    // as Redis does past the output limit) once it outgrows the limit.
    let n = count.unsigned_abs();
    let start = ctx.out.len();
    header(ctx.out, usize::try_from(n).unwrap_or(usize::MAX));
    let hard = ctx.settings.obuf_normal.hard;
    ctx.out
        .write_bounded(start, hard, n, |out| put(out, fastrand::usize(..h.len())));
    Ok(())
}
