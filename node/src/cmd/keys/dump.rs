//! DUMP key, and RESTORE key ttl serialized-value [REPLACE] [ABSTTL]
//! [IDLETIME seconds] [FREQ frequency], in Redis' RDB object format (see
//! `store::rdb`), so payloads move between Shoal and Redis.

use crate::cmd::{int_arg, is, CmdError, Ctx};
use crate::resp::Args;
use crate::store::rdb::{self, Restored};
use crate::store::{Ttl, Value};

pub fn dump(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let key = args.get(1);
    match ctx.keys.shard(key).get(key, ctx.now) {
        None => ctx.out.null(),
        Some(e) => {
            let payload = rdb::dump(e.value());
            ctx.out.bulk(&payload);
        }
    }
    Ok(())
}

pub fn restore(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let key = args.get(1);
    let (mut replace, mut absttl) = (false, false);
    let (mut idle, mut freq): (Option<i64>, Option<i64>) = (None, None);
    let mut j = 4;
    while j < args.len() {
        let more = args.len() - j - 1;
        let a = args.get(j);
        if is(a, "replace") {
            replace = true;
        } else if is(a, "absttl") {
            absttl = true;
        } else if is(a, "idletime") && more >= 1 && freq.is_none() {
            let v = int_arg(args.get(j + 1))?;
            if v < 0 {
                return Err(CmdError::err("Invalid IDLETIME value, must be >= 0"));
            }
            idle = Some(v);
            j += 1;
        } else if is(a, "freq") && more >= 1 && idle.is_none() {
            let v = int_arg(args.get(j + 1))?;
            if !(0..=255).contains(&v) {
                return Err(CmdError::err("Invalid FREQ value, must be >= 0 and <= 255"));
            }
            freq = Some(v);
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let now = ctx.now;
    let shard = ctx.keys.shard(key);
    if !replace && shard.peek(key, now).is_some() {
        return Err(CmdError::Other(
            "BUSYKEY Target key name already exists.".into(),
        ));
    }
    let ttl = int_arg(args.get(2))?;
    if ttl < 0 {
        return Err(CmdError::err("Invalid TTL value, must be >= 0"));
    }
    let body = rdb::verify(args.get(3)).map_err(CmdError::err)?;
    let value = rdb::restore(body).map_err(CmdError::err)?;
    let deadline = match ttl {
        0 => None,
        t if absttl => Some(t as u64),
        t => Some(now.saturating_add(t as u64)),
    };
    if replace {
        shard.remove(key, now);
    }
    if deadline.is_some_and(|d| d <= now) {
        // Already expired: nothing is created (the old key is gone if replaced).
        ctx.out.ok();
        return Ok(());
    }
    let ttl = deadline.map_or(Ttl::Clear, Ttl::At);
    match value {
        Restored::Str(s) => shard.set(key, Value::Str(&s), ttl, now),
        Restored::Obj(o) => shard.set(key, Value::Obj(o), ttl, now),
    }
    shard.set_access(key, idle.map(|i| i as u64), freq.map(|f| f as u8), now);
    ctx.out.ok();
    Ok(())
}
