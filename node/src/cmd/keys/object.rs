//! OBJECT ENCODING|FREQ|IDLETIME|REFCOUNT key, OBJECT HELP. Lookups here do not
//! count as accesses.

use crate::cmd::{CmdError, Ctx};
use crate::config::SettingsExt;
use crate::resp::Args;
use crate::store::{Entry, ValueRef};
use crate::util::num::parse_i64;

/// What the OBJECT subcommands read of a key.
struct Seen<'a> {
    out: &'a mut crate::resp::Reply,
    mode: crate::store::AccessMode,
    now: u64,
}

fn with_entry(
    ctx: &mut Ctx<'_>,
    args: Args<'_>,
    f: impl FnOnce(Seen<'_>, &Entry) -> Result<(), CmdError>,
) -> Result<(), CmdError> {
    let key = args.get(2);
    let (now, mode) = (ctx.now, ctx.settings.access_mode());
    match ctx.keys.shard(key).peek(key, now) {
        None => {
            ctx.out.null();
            Ok(())
        }
        Some(e) => f(
            Seen {
                out: ctx.out,
                mode,
                now,
            },
            e,
        ),
    }
}

/// Redis' encoding names, so tools that inspect them see familiar answers.
pub fn encoding_of(e: &Entry) -> &'static str {
    match e.value() {
        // A string edited in place (APPEND, SETRANGE) is raw even when it reads
        // as a number, as Redis' is.
        ValueRef::Str(s) => {
            if e.is_growable_str() || s.len() > 44 {
                "raw"
            } else if s.len() <= 20 && parse_i64(s).is_some() {
                "int"
            } else {
                "embstr"
            }
        }
        ValueRef::Hash(h) => h.encoding(),
        ValueRef::List(l) => l.encoding(),
        ValueRef::Set(s) => s.encoding(),
        ValueRef::ZSet(z) => z.encoding(),
    }
}

pub fn encoding(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    with_entry(ctx, args, |ctx, e| {
        ctx.out.bulk(encoding_of(e).as_bytes());
        Ok(())
    })
}

pub fn freq(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    with_entry(ctx, args, |ctx, e| {
        let mode = ctx.mode;
        if !mode.lfu {
            return Err(CmdError::err("An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."));
        }
        ctx.out
            .int(i64::from(mode.lfu_counter(e.access(), ctx.now)));
        Ok(())
    })
}

pub fn idletime(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    with_entry(ctx, args, |ctx, e| {
        let mode = ctx.mode;
        if mode.lfu {
            return Err(CmdError::err("An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."));
        }
        ctx.out
            .int((mode.idle_ms(e.access(), ctx.now) / 1000) as i64);
        Ok(())
    })
}

pub fn refcount(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    with_entry(ctx, args, |ctx, _| {
        ctx.out.int(1);
        Ok(())
    })
}

pub fn help(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Result<(), CmdError> {
    crate::cmd::server::help_reply(
        ctx,
        "OBJECT",
        &[
            "ENCODING <key>",
            "    Return the kind of internal representation used in order to store the value",
            "    associated with a <key>.",
            "FREQ <key>",
            "    Return the access frequency index of the <key>. The returned integer is",
            "    proportional to the logarithm of the recent access frequency of the key.",
            "IDLETIME <key>",
            "    Return the idle time of the <key>, that is the approximated number of",
            "    seconds elapsed since the last access to the key.",
            "REFCOUNT <key>",
            "    Return the number of references of the value associated with the specified",
            "    <key>.",
        ],
    );
    Ok(())
}
