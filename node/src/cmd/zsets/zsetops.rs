//! ZUNION, ZINTER, ZDIFF numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE
//! SUM|MIN|MAX] [WITHSCORES], their *STORE forms (destination first), and
//! ZINTERCARD numkeys key [key ...] [LIMIT limit], as Redis'
//! `zunionInterDiffGenericCommand`. Sources may be sets (every score 1).

use super::{parse_score, reply_items, store};
use crate::cmd::{is, CmdError, Ctx};
use crate::resp::Args;
use crate::store::{ValueRef, ZSetObj};
use crate::util::num::parse_i64;
use std::collections::HashMap;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

fn aggregate(target: &mut f64, val: f64, how: Aggregate) {
    match how {
        Aggregate::Sum => {
            *target += val;
            // inf + -inf: Redis keeps 0 rather than NaN.
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggregate::Min => {
            if val < *target {
                *target = val;
            }
        }
        Aggregate::Max => {
            if val > *target {
                *target = val;
            }
        }
    }
}

type Items = Vec<(Box<[u8]>, f64)>;

struct Source {
    items: Items,
    weight: f64,
    /// Index of the key among the inputs (the same key may come twice).
    key: usize,
}

fn generic(
    ctx: &mut Ctx<'_>,
    args: Args<'_>,
    dst: Option<&[u8]>,
    at: usize,
    op: Op,
    card: bool,
) -> Result<(), CmdError> {
    let name = args.get(0).to_ascii_lowercase();
    let setnum = parse_i64(args.get(at)).ok_or(CmdError::NotInteger)?;
    if setnum < 1 {
        return Err(CmdError::Other(format!(
            "ERR at least 1 input key is needed for '{}' command",
            String::from_utf8_lossy(&name)
        )));
    }
    if setnum > (args.len() - (at + 1)) as i64 {
        return Err(CmdError::Syntax);
    }
    let setnum = setnum as usize;
    let keys: Vec<&[u8]> = (at + 1..at + 1 + setnum).map(|i| args.get(i)).collect();
    // Types are checked before the options, as Redis does.
    for &k in &keys {
        match ctx.keys.shard(k).peek(k, ctx.now) {
            Some(e) if !matches!(e.value(), ValueRef::ZSet(_) | ValueRef::Set(_)) => {
                return Err(CmdError::WrongType);
            }
            _ => {}
        }
    }
    let mut weights = vec![1.0f64; setnum];
    let mut how = Aggregate::Sum;
    let mut withscores = false;
    let mut limit: u64 = 0;
    let mut j = at + 1 + setnum;
    while j < args.len() {
        let remaining = args.len() - j;
        let a = args.get(j);
        if op != Op::Diff && !card && remaining > setnum && is(a, "weights") {
            j += 1;
            for w in weights.iter_mut() {
                *w = parse_score(args.get(j))
                    .ok_or_else(|| CmdError::err("weight value is not a float"))?;
                j += 1;
            }
        } else if op != Op::Diff && !card && remaining >= 2 && is(a, "aggregate") {
            let v = args.get(j + 1);
            how = if is(v, "sum") {
                Aggregate::Sum
            } else if is(v, "min") {
                Aggregate::Min
            } else if is(v, "max") {
                Aggregate::Max
            } else {
                return Err(CmdError::Syntax);
            };
            j += 2;
        } else if dst.is_none() && !card && is(a, "withscores") {
            withscores = true;
            j += 1;
        } else if card && remaining >= 2 && is(a, "limit") {
            limit = parse_i64(args.get(j + 1))
                .and_then(|l| u64::try_from(l).ok())
                .ok_or_else(|| CmdError::err("LIMIT can't be negative"))?;
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    // Copy each source out (they may live in different shards).
    let mut srcs: Vec<Source> = Vec::with_capacity(setnum);
    for (i, &k) in keys.iter().enumerate() {
        let first = keys.iter().position(|&x| x == k).unwrap_or(i);
        let items: Items = if first < i {
            srcs[first].items.clone()
        } else {
            match ctx.keys.shard(k).get(k, ctx.now).map(|e| e.value()) {
                Some(ValueRef::ZSet(z)) => z.iter().map(|(m, s)| (m.into(), s)).collect(),
                Some(ValueRef::Set(s)) => s.iter().map(|m| (m.into(), 1.0)).collect(),
                _ => Vec::new(),
            }
        };
        srcs.push(Source {
            items,
            weight: weights[i],
            key: first,
        });
    }
    // Members and scores of the result, in any order; sorted before building
    // the set, which then fills its chunks completely.
    let mut out: Vec<(&[u8], f64)> = Vec::new();
    match op {
        Op::Inter => {
            // Smallest first, as Redis sorts them (a stable sort keeps ties in order).
            srcs.sort_by_key(|s| s.items.len());
            if srcs[0].items.is_empty() {
                // Nothing in common.
            } else {
                let lookups: Vec<HashMap<&[u8], f64>> = srcs[1..]
                    .iter()
                    .map(|s| s.items.iter().map(|(m, sc)| (&**m, *sc)).collect())
                    .collect();
                let mut found: u64 = 0;
                'outer: for (m, sc) in &srcs[0].items {
                    let mut score = srcs[0].weight * sc;
                    if score.is_nan() {
                        score = 0.0;
                    }
                    for (jj, src) in srcs[1..].iter().enumerate() {
                        let v = if src.key == srcs[0].key {
                            *sc
                        } else {
                            match lookups[jj].get(&**m) {
                                Some(v) => *v,
                                None => continue 'outer,
                            }
                        };
                        aggregate(&mut score, v * src.weight, how);
                    }
                    if card {
                        found += 1;
                        if limit != 0 && found >= limit {
                            break;
                        }
                    } else {
                        out.push((m, score));
                    }
                }
                if card {
                    ctx.out.int(found as i64);
                    return Ok(());
                }
            }
            if card {
                ctx.out.int(0);
                return Ok(());
            }
        }
        Op::Union => {
            srcs.sort_by_key(|s| s.items.len());
            let mut acc: HashMap<&[u8], f64> = HashMap::new();
            let mut order: Vec<&[u8]> = Vec::new();
            for src in &srcs {
                for (m, sc) in &src.items {
                    let mut score = src.weight * sc;
                    if score.is_nan() {
                        score = 0.0;
                    }
                    match acc.get_mut(&**m) {
                        Some(t) => aggregate(t, score, how),
                        None => {
                            acc.insert(m, score);
                            order.push(m);
                        }
                    }
                }
            }
            out.extend(order.into_iter().map(|m| (m, acc[m])));
        }
        Op::Diff => {
            let others: Vec<HashMap<&[u8], ()>> = srcs[1..]
                .iter()
                .map(|s| s.items.iter().map(|(m, _)| (&**m, ())).collect())
                .collect();
            for (m, sc) in &srcs[0].items {
                if srcs[1..].iter().any(|s| s.key == srcs[0].key)
                    || others.iter().any(|o| o.contains_key(&**m))
                {
                    continue;
                }
                out.push((m, *sc));
            }
        }
    }
    match dst {
        Some(d) => {
            out.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(b.0)));
            // Redis builds a skiplist and converts it to a listpack only when
            // small enough, so a large result keeps -0 scores.
            let longest = out.iter().map(|(m, _)| m.len()).max().unwrap_or(0);
            let mut result = ZSetObj::with_hint(out.len(), longest);
            for (m, s) in out {
                result.insert(m, s);
            }
            store(ctx.keys.shard(d), ctx.out, d, result, ctx.now);
        }
        None => {
            // Redis replies from a skiplist it built: scores as computed (a
            // -0 stays -0, unlike in a stored listpack).
            out.sort_by(|a, b| {
                a.1.partial_cmp(&b.1)
                    .unwrap_or(std::cmp::Ordering::Equal)
                    .then_with(|| a.0.cmp(b.0))
            });
            reply_items(ctx.out, out.len(), withscores, out.into_iter());
        }
    }
    Ok(())
}

pub fn zunion(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    generic(ctx, args, None, 1, Op::Union, false)
}

pub fn zinter(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    generic(ctx, args, None, 1, Op::Inter, false)
}

pub fn zdiff(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    generic(ctx, args, None, 1, Op::Diff, false)
}

pub fn zintercard(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    generic(ctx, args, None, 1, Op::Inter, true)
}

pub fn zunionstore(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    generic(ctx, args, Some(args.get(1)), 2, Op::Union, false)
}

pub fn zinterstore(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    generic(ctx, args, Some(args.get(1)), 2, Op::Inter, false)
}

pub fn zdiffstore(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    generic(ctx, args, Some(args.get(1)), 2, Op::Diff, false)
}
