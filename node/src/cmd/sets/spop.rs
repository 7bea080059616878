//! SPOP key [count], SRANDMEMBER key [count].

use super::{existing, read, set};
use crate::cmd::{int_arg, CmdError, Ctx};
use crate::resp::{Args, Reply};
use crate::store::SetObj;
use crate::util::num::parse_i64;

pub fn spop(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let key = args.get(1);
    let count = match args.len() {
        2 => None,
        3 => match parse_i64(args.get(2)) {
            Some(c) if c >= 0 => Some(c as u64),
            _ => return Err(CmdError::err("value is out of range, must be positive")),
        },
        _ => return Err(CmdError::Syntax),
    };
    let shard = ctx.keys.shard(key);
    let Some(mut e) = existing(shard, key, ctx.now)? else {
        match count {
            None => ctx.out.null(),
            Some(_) => ctx.out.set(0),
        }
        return Ok(());
    };
    let size = match e.entry().value() {
        crate::store::ValueRef::Set(s) => s.len(),
        _ => 0,
    };
    if size == 0 {
        // Never stored by a command; answered as missing rather than panic.
        drop(e);
        match count {
            None => ctx.out.null(),
            Some(_) => ctx.out.set(0),
        }
        return Ok(());
    }
    let Some(count) = count else {
        let s = set(&mut e);
        let m = s.remove_at(fastrand::usize(..s.len()));
        if s.is_empty() {
            e.delete();
        }
        ctx.out.bulk(&m);
        return Ok(());
    };
    if count == 0 {
        ctx.out.set(0);
        return Ok(());
    }
    if count >= size as u64 {
        // The whole set, in the order of a set built afresh from it (as Redis
        // answers, through SUNION): ascending when that is an intset, which
        // a hashtable of few integers becomes again.
        let entry = e.delete();
        if let crate::store::ValueRef::Set(s) = entry.value() {
            let small_ints = s.encoding() == "hashtable"
                && s.len() <= crate::store::set::MAX_INTSET_ENTRIES
                && s.iter().all(|m| parse_i64(m).is_some());
            let fresh;
            let all = if small_ints {
                let mut f = SetObj::new();
                for m in s.iter() {
                    f.insert(m);
                }
                fresh = f;
                &fresh
            } else {
                s
            };
            ctx.out.set(all.len());
            for m in all.iter() {
                ctx.out.bulk(m);
            }
        }
        return Ok(());
    }
    let s = set(&mut e);
    ctx.out.set(count as usize);
    for _ in 0..count {
        let m = s.remove_at(fastrand::usize(..s.len()));
        ctx.out.bulk(&m);
    }
    Ok(())
}

pub fn srandmember(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let key = args.get(1);
    let count = match args.len() {
        2 => None,
        3 => {
            let c = int_arg(args.get(2))?;
            if c == i64::MIN {
                return Err(CmdError::err(
                    "value is out of range, value must between -9223372036854775807 and 9223372036854775807",
                ));
            }
            Some(c)
        }
        _ => return Err(CmdError::Syntax),
    };
    let shard = ctx.keys.shard(key);
    let s = read(shard, key, ctx.now)?.filter(|s| !s.is_empty());
    ctx.stats.hit(s.is_some());
    let Some(count) = count else {
        match s {
            Some(s) => ctx
                .out
                .bulk(s.get_index(fastrand::usize(..s.len())).unwrap_or_default()),
            None => ctx.out.null(),
        }
        return Ok(());
    };
    let Some(s) = s.filter(|_| count != 0) else {
        ctx.out.array(0);
        return Ok(());
    };
    let size = s.len();
    if count < 0 || count == 1 {
        // Repeats allowed, so the reply size is the client's alone to choose:
        // written pick by pick and abandoned (the connection closes, as Redis
        // does past the output limit) once it outgrows the limit.
        let n = count.unsigned_abs();
        let start = ctx.out.len();
        ctx.out.array(usize::try_from(n).unwrap_or(usize::MAX));
        let hard = ctx.settings.obuf_normal.hard;
        ctx.out
            .write_bounded(start, hard, n, |out| put(out, s, fastrand::usize(..size)));
        return Ok(());
    }
    let count = count as u64;
    if count >= size as u64 {
        ctx.out.array(size);
        for m in s.iter() {
            ctx.out.bulk(m);
        }
        return Ok(());
    }
    // Distinct picks, fewer than the set holds (so fewer than the data
    // already in memory): a partial shuffle of positions when many are
    // wanted, else random positions until enough distinct ones (O(count)).
    let count = count as usize;
    ctx.out.array(count);
    if count * 3 > size {
        let mut idx: Vec<usize> = (0..size).collect();
        for i in 0..count {
            let j = fastrand::usize(i..size);
            idx.swap(i, j);
            put(ctx.out, s, idx[i]);
        }
    } else {
        let mut seen = std::collections::HashSet::with_capacity(count);
        while seen.len() < count {
            let i = fastrand::usize(..size);
            if seen.insert(i) {
                put(ctx.out, s, i);
            }
        }
    }
    Ok(())
}

fn put(out: &mut Reply, s: &SetObj, i: usize) {
    out.bulk(s.get_index(i).unwrap_or_default());
}
