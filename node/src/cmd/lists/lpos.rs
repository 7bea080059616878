//! LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]

use super::read;
use crate::cmd::{is, CmdError, Ctx};
use crate::resp::Args;
use crate::util::num::parse_i64;

pub fn lpos(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let (key, element) = (args.get(1), args.get(2));
    let mut rank: i64 = 1;
    let mut count: Option<i64> = None;
    let mut maxlen: i64 = 0;
    let mut j = 3;
    while j < args.len() {
        let opt = args.get(j);
        let more = j + 1 < args.len();
        if is(opt, "rank") && more {
            j += 1;
            rank = parse_i64(args.get(j)).ok_or(CmdError::NotInteger)?;
            if rank == 0 {
                return Err(CmdError::err(
                    "RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
                ));
            }
        } else if is(opt, "count") && more {
            j += 1;
            count = Some(
                parse_i64(args.get(j))
                    .filter(|&n| n >= 0)
                    .ok_or_else(|| CmdError::err("COUNT can't be negative"))?,
            );
        } else if is(opt, "maxlen") && more {
            j += 1;
            maxlen = parse_i64(args.get(j))
                .filter(|&n| n >= 0)
                .ok_or_else(|| CmdError::err("MAXLEN can't be negative"))?;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    // A negative rank searches from the tail. Redis 7.0 negates it as a C
    // long, so RANK -9223372036854775808 stays negative: every match counts.
    let from_tail = rank < 0;
    if from_tail {
        rank = rank.wrapping_neg();
    }
    let shard = ctx.keys.shard(key);
    let l = read(shard, key, ctx.now)?;
    ctx.stats.hit(l.is_some());
    let Some(l) = l else {
        match count {
            Some(_) => ctx.out.array(0),
            None => ctx.out.null(),
        }
        return Ok(());
    };
    let len = l.len();
    let it: Box<dyn Iterator<Item = &[u8]>> = if from_tail {
        Box::new(l.iter().rev())
    } else {
        Box::new(l.iter())
    };
    // The matches found are bounded by the list's length, not by COUNT.
    let mut found: Vec<usize> = Vec::new();
    let mut matches: i64 = 0;
    for (index, v) in it.enumerate() {
        if maxlen != 0 && index as u64 >= maxlen as u64 {
            break;
        }
        if v != element {
            continue;
        }
        matches += 1;
        if matches < rank {
            continue;
        }
        found.push(if from_tail { len - index - 1 } else { index });
        match count {
            None => break,
            Some(c) if c != 0 && matches.wrapping_sub(rank).wrapping_add(1) >= c => break,
            Some(_) => {}
        }
    }
    match count {
        Some(_) => {
            ctx.out.array(found.len());
            for i in found {
                ctx.out.int(i as i64);
            }
        }
        None => match found.first() {
            Some(&i) => ctx.out.int(i as i64),
            None => ctx.out.null(),
        },
    }
    Ok(())
}
