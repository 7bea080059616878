//! ZRANDMEMBER key [count [WITHSCORES]]

use super::read;
use crate::cmd::{is, CmdError, Ctx};
use crate::resp::{Args, Reply};
use crate::store::ZSetObj;
use crate::util::num::parse_i64;

pub fn zrandmember(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let key = args.get(1);
    let mut withscores = false;
    let count = if args.len() >= 3 {
        let c = parse_i64(args.get(2)).ok_or(CmdError::NotInteger)?;
        if c == i64::MIN {
            return Err(CmdError::err(
                "value is out of range, value must between -9223372036854775807 and 9223372036854775807",
            ));
        }
        if args.len() > 4 || (args.len() == 4 && !is(args.get(3), "withscores")) {
            return Err(CmdError::Syntax);
        }
        if args.len() == 4 {
            withscores = true;
            if !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&c) {
                return Err(CmdError::err("value is out of range"));
            }
        }
        Some(c)
    } else {
        None
    };
    let shard = ctx.keys.shard(key);
    let z = read(shard, key, ctx.now)?;
    let Some(count) = count else {
        match z.and_then(|z| z.get(fastrand::usize(..z.len().max(1)))) {
            Some((m, _)) => ctx.out.bulk(m),
            None => ctx.out.null(),
        }
        return Ok(());
    };
    let Some(z) = z.filter(|z| !z.is_empty() && count != 0) else {
        ctx.out.array(0);
        return Ok(());
    };
    let resp3 = ctx.out.resp3();
    let put = |out: &mut Reply, z: &ZSetObj, i: usize| {
        let (m, s) = z.get(i).expect("index in range");
        if withscores && resp3 {
            out.array(2);
        }
        out.bulk(m);
        if withscores {
            out.score(s);
        }
    };
    let header = |out: &mut Reply, n: usize| {
        out.array(if withscores && !resp3 { n * 2 } else { n });
    };
    if count > 0 {
        // Distinct members, at most the set's size.
        let n = usize::try_from(count).unwrap_or(usize::MAX).min(z.len());
        header(ctx.out, n);
        if n.saturating_mul(3) < z.len() {
            // Few picks from a large set: random ranks until n distinct ones,
            // O(n) rather than a shuffle of the whole set.
            let mut seen = std::collections::HashSet::with_capacity(n);
            while seen.len() < n {
                let i = fastrand::usize(..z.len());
                if seen.insert(i) {
                    put(ctx.out, z, i);
                }
            }
        } else {
            let mut idx: Vec<usize> = (0..z.len()).collect();
            fastrand::shuffle(&mut idx);
            for &i in &idx[..n] {
                put(ctx.out, z, i);
            }
        }
        return Ok(());
    }
    // Negative: repeats allowed, so the reply size is the client's alone to
    // choose. It is written pick by pick and abandoned (closing the
    // connection, as Redis does past the output limit) once it outgrows it.
    let n = count.unsigned_abs();
    let start = ctx.out.len();
    header(ctx.out, usize::try_from(n).unwrap_or(usize::MAX));
    let hard = ctx.settings.obuf_normal.hard;
    ctx.out.write_bounded(start, hard, n, |out| {
        put(out, z, fastrand::usize(..z.len()))
    });
    Ok(())
}
