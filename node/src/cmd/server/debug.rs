//! DEBUG DIGEST | DIGEST-VALUE | OBJECT | SLEEP | SET-ACTIVE-EXPIRE | RELOAD | HELP:
//! the subcommands tests and tools use. DIGEST is the dataset digest that lets a
//! test compare a replica with its primary (`store::digest`).

use crate::cmd::{is, CmdError, Ctx};
use crate::config::SettingsExt;
use crate::resp::Args;
use crate::store::digest;
use crate::util::num::parse_f64;
use std::sync::atomic::Ordering;

/// The longest DEBUG SLEEP: it stalls the whole keyspace, as in Redis.
const MAX_SLEEP_SECONDS: f64 = 60.0;

pub fn debug(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let sub = args.get(1);
    let n = args.len();
    if is(sub, "digest") && n == 2 {
        let mut acc = [0u8; 20];
        ctx.keys
            .for_each(ctx.now, |e| digest::mix(&mut acc, &digest::entry_digest(e)));
        ctx.out.simple(&digest::hex(&acc));
    } else if is(sub, "digest-value") {
        ctx.out.array(n - 2);
        for key in args.iter().skip(2) {
            let d = match ctx.keys.shard(key).peek(key, ctx.now) {
                Some(e) => digest::value_digest(e.value()),
                None => [0; 20],
            };
            ctx.out.simple(&digest::hex(&d));
        }
    } else if is(sub, "object") && n == 3 {
        let key = args.get(2);
        let mode = ctx.settings.access_mode();
        let Some(e) = ctx.keys.shard(key).peek(key, ctx.now) else {
            return Err(CmdError::err("no such key"));
        };
        let idle = if mode.lfu {
            0
        } else {
            mode.idle_ms(e.access(), ctx.now) / 1000
        };
        ctx.out.simple(&format!(
            "Value at:0x0 refcount:1 encoding:{} serializedlength:{} lru:0 lru_seconds_idle:{idle}",
            crate::cmd::keys::object::encoding_of(e),
            e.mem_size()
        ));
    } else if is(sub, "sleep") && n == 3 {
        let secs = parse_f64(args.get(2))
            .filter(|s| s.is_finite())
            .ok_or(CmdError::NotFloat)?;
        let secs = secs.clamp(0.0, MAX_SLEEP_SECONDS);
        std::thread::sleep(std::time::Duration::from_secs_f64(secs));
        ctx.out.ok();
    } else if is(sub, "set-active-expire") && n == 3 {
        let on = crate::cmd::int_arg(args.get(2))? != 0;
        ctx.shared.active_expire.store(on, Ordering::Relaxed);
        ctx.out.ok();
    } else if is(sub, "reload") {
        // No persistence: the dataset a reload would give is the one held.
        ctx.out.ok();
    } else if is(sub, "help") && n == 2 {
        super::help_reply(
            ctx,
            "DEBUG",
            &[
                "DIGEST",
                "    Output a hex signature representing the current DB content.",
                "DIGEST-VALUE <key> [<key> ...]",
                "    Output a hex signature of the values of all the specified keys.",
                "OBJECT <key>",
                "    Show low level info about the key and associated value.",
                "RELOAD",
                "    Accepted for compatibility: Shoal keeps no files, the data stays as it is.",
                "SET-ACTIVE-EXPIRE <0|1>",
                "    Setting it to 0 disables expiring keys in background when they are not",
                "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
                "    default.",
                "SLEEP <seconds>",
                "    Stop the server for <seconds>. Decimals allowed.",
            ],
        );
    } else {
        return Err(CmdError::UnknownSubcommand {
            cmd: "DEBUG".into(),
            sub: String::from_utf8_lossy(sub).into_owned(),
        });
    }
    Ok(())
}
