//! SET key value [NX|XX] [GET] [EX s|PX ms|EXAT ts|PXAT ts|KEEPTTL], and the older
//! forms SETNX, SETEX, PSETEX, GETSET, which are SET with fixed options.

use super::{deadline, parse_options, ExpireOpt, Flavor, SetFlags};
use crate::cmd::{as_str, CmdError, Ctx};
use crate::resp::Args;
use crate::store::{Ttl, Value};

/// What to reply when the write happens, or is skipped because of NX/XX.
#[derive(Clone, Copy)]
enum Replies {
    OkNull,
    OneZero,
}

fn set_generic(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    value: &[u8],
    flags: SetFlags,
    expire: ExpireOpt,
    replies: Replies,
) -> Result<(), CmdError> {
    let now = ctx.now;
    let shard = ctx.keys.shard(key);
    let existing = shard.peek(key, now);
    let found = existing.is_some();
    if flags.get {
        // GET fails with WRONGTYPE before anything is written.
        let old = existing.map(as_str).transpose()?;
        match old {
            Some(v) => ctx.out.bulk(v),
            None => ctx.out.null(),
        }
    }
    if (flags.nx && found) || (flags.xx && !found) {
        if !flags.get {
            match replies {
                Replies::OkNull => ctx.out.null(),
                Replies::OneZero => ctx.out.int(0),
            }
        }
        return Ok(());
    }
    let ttl = match expire {
        ExpireOpt::At(t) => Ttl::At(t),
        ExpireOpt::KeepTtl => Ttl::Keep,
        ExpireOpt::None | ExpireOpt::Persist => Ttl::Clear,
    };
    shard.set(key, Value::Str(value), ttl, now);
    if !flags.get {
        match replies {
            Replies::OkNull => ctx.out.ok(),
            Replies::OneZero => ctx.out.int(1),
        }
    }
    Ok(())
}

pub fn set(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let (flags, expire) = parse_options(args, 3, Flavor::Set, ctx.now, "set")?;
    set_generic(
        ctx,
        args.get(1),
        args.get(2),
        flags,
        expire,
        Replies::OkNull,
    )
}

pub fn setnx(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let flags = SetFlags {
        nx: true,
        ..SetFlags::default()
    };
    set_generic(
        ctx,
        args.get(1),
        args.get(2),
        flags,
        ExpireOpt::None,
        Replies::OneZero,
    )
}

pub fn setex(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let at = deadline(args.get(2), true, true, ctx.now, "setex")?;
    set_generic(
        ctx,
        args.get(1),
        args.get(3),
        SetFlags::default(),
        ExpireOpt::At(at),
        Replies::OkNull,
    )
}

pub fn psetex(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let at = deadline(args.get(2), false, true, ctx.now, "psetex")?;
    set_generic(
        ctx,
        args.get(1),
        args.get(3),
        SetFlags::default(),
        ExpireOpt::At(at),
        Replies::OkNull,
    )
}

pub fn getset(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let flags = SetFlags {
        get: true,
        ..SetFlags::default()
    };
    set_generic(
        ctx,
        args.get(1),
        args.get(2),
        flags,
        ExpireOpt::None,
        Replies::OkNull,
    )
}
