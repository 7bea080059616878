//! LPOP and RPOP key [count], and LMPOP numkeys key [key ...] LEFT|RIGHT
//! [COUNT count].

use super::{existing, list, parse_end, peek_list};
use crate::cmd::{is, CmdError, Ctx};
use crate::resp::{Args, Reply};
use crate::store::{EntryMut, ListObj};
use crate::util::num::parse_i64;

fn pop_one(l: &mut ListObj, head: bool) -> Option<Vec<u8>> {
    if head {
        l.pop_front()
    } else {
        l.pop_back()
    }
}

/// Pops up to `count` elements into the reply as an array, deleting the key
/// once the list is empty.
fn pop_into(out: &mut Reply, mut e: EntryMut<'_>, head: bool, count: usize) {
    let l = list(&mut e);
    let n = count.min(l.len());
    out.array(n);
    for _ in 0..n {
        let v = pop_one(l, head).expect("n is within the length");
        out.bulk(&v);
    }
    if l.is_empty() {
        e.delete();
    }
}

fn pop(ctx: &mut Ctx<'_>, args: Args<'_>, head: bool) -> Result<(), CmdError> {
    if args.len() > 3 {
        return Err(CmdError::Arity(if head { "lpop" } else { "rpop" }.into()));
    }
    let count = match args.len() {
        3 => Some(
            parse_i64(args.get(2))
                .filter(|&n| n >= 0)
                .ok_or_else(|| CmdError::err("value is out of range, must be positive"))?,
        ),
        _ => None,
    };
    let key = args.get(1);
    let shard = ctx.keys.shard(key);
    let Some(mut e) = existing(shard, key, ctx.now)? else {
        if count.is_some() {
            ctx.out.null_array();
        } else {
            ctx.out.null();
        }
        return Ok(());
    };
    match count {
        None => {
            let l = list(&mut e);
            let v = pop_one(l, head).expect("stored lists are never empty");
            let empty = l.is_empty();
            ctx.out.bulk(&v);
            if empty {
                e.delete();
            }
        }
        Some(0) => ctx.out.array(0),
        Some(n) => pop_into(ctx.out, e, head, usize::try_from(n).unwrap_or(usize::MAX)),
    }
    Ok(())
}

pub fn lpop(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    pop(ctx, args, true)
}

pub fn rpop(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    pop(ctx, args, false)
}

pub fn lmpop(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    // Everything is validated before any key is touched: the locked key set
    // is empty when numkeys is not a valid count.
    let numkeys = parse_i64(args.get(1))
        .filter(|&n| n >= 1)
        .ok_or_else(|| CmdError::err("numkeys should be greater than 0"))?;
    let where_at = usize::try_from(numkeys)
        .ok()
        .and_then(|n| n.checked_add(2))
        .filter(|&w| w < args.len())
        .ok_or(CmdError::Syntax)?;
    let head = parse_end(args.get(where_at))?;
    let mut count: Option<i64> = None;
    let mut j = where_at + 1;
    while j < args.len() {
        if count.is_none() && is(args.get(j), "count") && j + 1 < args.len() {
            j += 1;
            count = Some(
                parse_i64(args.get(j))
                    .filter(|&n| n >= 1)
                    .ok_or_else(|| CmdError::err("count should be greater than 0"))?,
            );
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let count = usize::try_from(count.unwrap_or(1)).unwrap_or(usize::MAX);
    for key in args.tail(2).iter().take(where_at - 2) {
        let shard = ctx.keys.shard(key);
        let Some(e) = existing(shard, key, ctx.now)? else {
            continue;
        };
        if peek_list(&e).is_empty() {
            continue;
        }
        ctx.out.array(2);
        ctx.out.bulk(key);
        pop_into(ctx.out, e, head, count);
        return Ok(());
    }
    ctx.out.null_array();
    Ok(())
}
