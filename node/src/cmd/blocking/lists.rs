//! BLPOP BRPOP key [key ...] timeout; BLMOVE source destination LEFT|RIGHT
//! LEFT|RIGHT timeout; BRPOPLPUSH source destination timeout; BLMPOP timeout
//! numkeys key [key ...] LEFT|RIGHT [COUNT count].

use super::{park, parse_timeout};
use crate::cmd::lists::{existing, list, lmove::move_one, parse_end, pop::lmpop};
use crate::cmd::{CmdError, Ctx};
use crate::resp::Args;
use crate::store::{Kind, Nil};

fn bpop(ctx: &mut Ctx<'_>, args: Args<'_>, head: bool) -> Result<(), CmdError> {
    let timeout = parse_timeout(args.get(args.len() - 1))?;
    let keys = || args.iter().skip(1).take(args.len() - 2);
    for key in keys() {
        let Some(mut e) = existing(ctx.keys.shard(key), key, ctx.now)? else {
            continue;
        };
        let l = list(&mut e);
        let v =
            if head { l.pop_front() } else { l.pop_back() }.expect("stored lists are never empty");
        if l.is_empty() {
            e.delete();
        }
        ctx.out.array(2);
        ctx.out.bulk(key);
        ctx.out.bulk(&v);
        return Ok(());
    }
    park(ctx, args, keys(), timeout, Nil::Array)
}

pub fn blpop(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    bpop(ctx, args, true)
}

pub fn brpop(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    bpop(ctx, args, false)
}

fn bmove(
    ctx: &mut Ctx<'_>,
    args: Args<'_>,
    from_head: bool,
    to_head: bool,
    timeout_at: usize,
) -> Result<(), CmdError> {
    let timeout = parse_timeout(args.get(timeout_at))?;
    let src = args.get(1);
    match ctx.keys.shard(src).peek(src, ctx.now) {
        Some(e) if e.kind() != Kind::List => Err(CmdError::WrongType),
        Some(_) => move_one(ctx, src, args.get(2), from_head, to_head),
        None => park(ctx, args, std::iter::once(src), timeout, Nil::Bulk),
    }
}

pub fn blmove(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let from_head = parse_end(args.get(3))?;
    let to_head = parse_end(args.get(4))?;
    bmove(ctx, args, from_head, to_head, 5)
}

pub fn brpoplpush(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    bmove(ctx, args, false, true, 3)
}

pub fn blmpop(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let timeout = parse_timeout(args.get(1))?;
    mpop(ctx, args, timeout, lmpop)
}

/// BLMPOP and BZMPOP: their non-blocking forms (LMPOP, ZMPOP) read the same
/// arguments after the timeout, validate them all, and pop from the first key
/// present; with none present their null reply is dropped for parking.
pub(super) fn mpop(
    ctx: &mut Ctx<'_>,
    args: Args<'_>,
    timeout: Option<std::time::Duration>,
    run: fn(&mut Ctx<'_>, Args<'_>) -> Result<(), CmdError>,
) -> Result<(), CmdError> {
    let spec = crate::cmd::table::spec(crate::cmd::resolve(args)?);
    let keys: Vec<&[u8]> = spec.key_positions(args).map(|i| args.get(i)).collect();
    let now = ctx.now;
    let present = keys
        .iter()
        .any(|k| ctx.keys.shard(k).peek(k, now).is_some());
    let mark = ctx.out.len();
    run(ctx, args.tail(1))?;
    if present {
        return Ok(());
    }
    ctx.out.truncate(mark);
    park(ctx, args, keys.into_iter(), timeout, Nil::Array)
}
