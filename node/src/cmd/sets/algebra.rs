//! SINTER, SINTERCARD, SINTERSTORE, SUNION, SUNIONSTORE, SDIFF, SDIFFSTORE.
//!
//! The source keys may live in different shards and only one shard is
//! borrowed at a time, so each computation copies what it keeps (the
//! candidates of an intersection, the result of a union or difference) and
//! reads every other source in turn.

use super::{read, store};
use crate::cmd::{CmdError, Ctx};
use crate::resp::Args;
use crate::store::{SetObj, ValueRef};
use crate::util::num::parse_i64;

/// Every source's cardinality (None: missing), after checking every type
/// first, as Redis does before computing anything.
fn sizes(ctx: &mut Ctx<'_>, keys: &[&[u8]]) -> Result<Vec<Option<usize>>, CmdError> {
    let now = ctx.now;
    let mut out = Vec::with_capacity(keys.len());
    for &k in keys {
        let size = read(ctx.keys.shard(k), k, now)?.map(SetObj::len);
        // Each source is a keyspace hit or miss, as Redis' lookupKeyRead counts.
        ctx.stats.hit(size.is_some());
        out.push(size);
    }
    Ok(out)
}

/// The members of `key`'s set, copied, in its order.
fn members(ctx: &mut Ctx<'_>, key: &[u8]) -> Vec<Vec<u8>> {
    let now = ctx.now;
    match read(ctx.keys.shard(key), key, now) {
        Ok(Some(s)) => s.iter().map(<[u8]>::to_vec).collect(),
        _ => Vec::new(),
    }
}

/// Keeps the candidates that `key`'s set holds.
fn retain_in(ctx: &mut Ctx<'_>, key: &[u8], candidates: &mut Vec<Vec<u8>>) {
    let now = ctx.now;
    match ctx.keys.shard(key).peek(key, now).map(|e| e.value()) {
        Some(ValueRef::Set(s)) => candidates.retain(|m| s.contains(m)),
        _ => candidates.clear(),
    }
}

/// The intersection, in the order of the smallest source (the first of the
/// smallest, as Redis' stable sort by cardinality picks), or None when a
/// source is missing. With `limit`, keeps at most that many.
fn intersection(
    ctx: &mut Ctx<'_>,
    keys: &[&[u8]],
    limit: usize,
) -> Result<Option<Vec<Vec<u8>>>, CmdError> {
    let sizes = sizes(ctx, keys)?;
    let Some(sizes) = sizes.into_iter().collect::<Option<Vec<usize>>>() else {
        return Ok(None);
    };
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_by_key(|&i| sizes[i]);
    let first = keys[order[0]];
    let mut candidates = members(ctx, first);
    for &i in &order[1..] {
        let k = keys[i];
        if k == first || candidates.is_empty() {
            continue;
        }
        retain_in(ctx, k, &mut candidates);
    }
    if limit > 0 {
        candidates.truncate(limit);
    }
    Ok(Some(candidates))
}

fn keys_from(args: Args<'_>, start: usize) -> Vec<&[u8]> {
    args.iter().skip(start).collect()
}

fn build(members: impl IntoIterator<Item = Vec<u8>>) -> SetObj {
    let mut s = SetObj::new();
    for m in members {
        s.insert(&m);
    }
    s
}

pub fn sinter(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let found = intersection(ctx, &keys_from(args, 1), 0)?.unwrap_or_default();
    ctx.out.set(found.len());
    for m in &found {
        ctx.out.bulk(m);
    }
    Ok(())
}

pub fn sinterstore(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let dst = args.get(1);
    let found = intersection(ctx, &keys_from(args, 2), 0)?.unwrap_or_default();
    let n = store(ctx.keys.shard(dst), dst, build(found), ctx.now);
    ctx.out.int(n as i64);
    Ok(())
}

/// SINTERCARD numkeys key [key ...] [LIMIT limit]
pub fn sintercard(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    // Validated before any key is touched: the locked keys depend on it.
    let numkeys = match parse_i64(args.get(1)) {
        Some(n) if n >= 1 => n as usize,
        _ => return Err(CmdError::err("numkeys should be greater than 0")),
    };
    if numkeys > args.len() - 2 {
        return Err(CmdError::err(
            "Number of keys can't be greater than number of args",
        ));
    }
    let mut limit = 0usize;
    let mut i = 2 + numkeys;
    while i < args.len() {
        if crate::cmd::is(args.get(i), "limit") && i + 1 < args.len() {
            limit = match parse_i64(args.get(i + 1)) {
                Some(l) if l >= 0 => usize::try_from(l).unwrap_or(usize::MAX),
                _ => return Err(CmdError::err("LIMIT can't be negative")),
            };
            i += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let keys: Vec<&[u8]> = args.iter().skip(2).take(numkeys).collect();
    let n = intersection(ctx, &keys, limit)?.map_or(0, |f| f.len());
    ctx.out.int(n as i64);
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Union,
    Diff,
}

/// The union or difference of `keys`, as a set built afresh (so its
/// encoding and order follow its members, as Redis' result set does).
fn combine(ctx: &mut Ctx<'_>, keys: &[&[u8]], op: Op) -> Result<SetObj, CmdError> {
    let sizes = sizes(ctx, keys)?;
    let now = ctx.now;
    match op {
        Op::Union => {
            let mut out = SetObj::new();
            for (i, &k) in keys.iter().enumerate() {
                if sizes[i].is_none() {
                    continue;
                }
                if let Ok(Some(s)) = read(ctx.keys.shard(k), k, now) {
                    for m in s.iter() {
                        out.insert(m);
                    }
                }
            }
            Ok(out)
        }
        Op::Diff => {
            let first = keys[0];
            let Some(first_size) = sizes[0] else {
                return Ok(SetObj::new());
            };
            // The first key again among the others: nothing is left.
            if keys.iter().skip(1).any(|&k| k == first) {
                return Ok(SetObj::new());
            }
            // Redis' choice of algorithm, which decides the result's encoding:
            // 1 adds only the survivors, 2 adds all of the first set and then
            // removes (a set once converted stays a hashtable). Missing sources
            // count for neither.
            let existing = sizes.iter().filter(|s| s.is_some()).count();
            let algo_one = first_size.saturating_mul(existing) / 2;
            let algo_two: usize = sizes.iter().map(|s| s.unwrap_or(0)).sum();
            let all = members(ctx, first);
            let mut survivors = all.clone();
            for (i, &k) in keys.iter().enumerate().skip(1) {
                if sizes[i].is_none() || survivors.is_empty() {
                    continue;
                }
                if let Some(ValueRef::Set(s)) = ctx.keys.shard(k).peek(k, now).map(|e| e.value()) {
                    survivors.retain(|m| !s.contains(m));
                }
            }
            if algo_one <= algo_two {
                Ok(build(survivors))
            } else {
                let mut out = build(all);
                let keep = build(survivors);
                let gone: Vec<Vec<u8>> = out
                    .iter()
                    .filter(|m| !keep.contains(m))
                    .map(<[u8]>::to_vec)
                    .collect();
                for m in gone {
                    out.remove(&m);
                }
                Ok(out)
            }
        }
    }
}

fn reply_set(ctx: &mut Ctx<'_>, s: &SetObj) {
    ctx.out.set(s.len());
    for m in s.iter() {
        ctx.out.bulk(m);
    }
}

pub fn sunion(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let s = combine(ctx, &keys_from(args, 1), Op::Union)?;
    reply_set(ctx, &s);
    Ok(())
}

pub fn sdiff(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let s = combine(ctx, &keys_from(args, 1), Op::Diff)?;
    reply_set(ctx, &s);
    Ok(())
}

fn combine_store(ctx: &mut Ctx<'_>, args: Args<'_>, op: Op) -> Result<(), CmdError> {
    let dst = args.get(1);
    let s = combine(ctx, &keys_from(args, 2), op)?;
    let n = store(ctx.keys.shard(dst), dst, s, ctx.now);
    ctx.out.int(n as i64);
    Ok(())
}

pub fn sunionstore(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    combine_store(ctx, args, Op::Union)
}

pub fn sdiffstore(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    combine_store(ctx, args, Op::Diff)
}
