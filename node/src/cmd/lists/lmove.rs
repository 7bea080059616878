//! LMOVE source destination LEFT|RIGHT LEFT|RIGHT, and RPOPLPUSH (RIGHT LEFT).

use super::{list, open, parse_end};
use crate::cmd::{CmdError, Ctx};
use crate::resp::Args;
use crate::store::Kind;

pub fn lmove(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let from_head = parse_end(args.get(3))?;
    let to_head = parse_end(args.get(4))?;
    move_one(ctx, args.get(1), args.get(2), from_head, to_head)
}

pub fn rpoplpush(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    move_one(ctx, args.get(1), args.get(2), false, true)
}

/// Pops from `src` and pushes onto `dst`; the same key rotates. A destination
/// of another type fails before anything is popped.
pub(crate) fn move_one(
    ctx: &mut Ctx<'_>,
    src: &[u8],
    dst: &[u8],
    from_head: bool,
    to_head: bool,
) -> Result<(), CmdError> {
    let now = ctx.now;
    match ctx.keys.shard(src).peek(src, now) {
        None => {
            ctx.out.null();
            return Ok(());
        }
        Some(e) if e.kind() != Kind::List => return Err(CmdError::WrongType),
        Some(_) => {}
    }
    if src != dst {
        if let Some(e) = ctx.keys.shard(dst).peek(dst, now) {
            if e.kind() != Kind::List {
                return Err(CmdError::WrongType);
            }
        }
    }
    let shard = ctx.keys.shard(src);
    let mut e = shard.get_mut(src, now).ok_or(CmdError::NoSuchKey)?;
    let l = list(&mut e);
    let v = if from_head {
        l.pop_front()
    } else {
        l.pop_back()
    }
    .expect("stored lists are never empty");
    if src == dst {
        if to_head {
            l.push_front(&v);
        } else {
            l.push_back(&v);
        }
    } else {
        if l.is_empty() {
            e.delete();
        } else {
            drop(e);
        }
        let mut d = open(ctx.keys.shard(dst), dst, now)?;
        let l = list(&mut d);
        if to_head {
            l.push_front(&v);
        } else {
            l.push_back(&v);
        }
    }
    ctx.out.bulk(&v);
    Ok(())
}
