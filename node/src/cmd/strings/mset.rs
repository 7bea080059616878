//! MSET key value [key value ...] and MSETNX. All keys are written under their
//! shards' locks together, so no client sees half of an MSET.

use crate::cmd::{CmdError, Ctx};
use crate::resp::Args;
use crate::store::{Ttl, Value};

fn pairs<'a>(args: Args<'a>, name: &str) -> Result<Args<'a>, CmdError> {
    if args.len().is_multiple_of(2) {
        return Err(CmdError::Arity(name.into()));
    }
    Ok(args.tail(1))
}

pub fn mset(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let kv = pairs(args, "mset")?;
    for i in (0..kv.len()).step_by(2) {
        let key = kv.get(i);
        ctx.keys
            .shard(key)
            .set(key, Value::Str(kv.get(i + 1)), Ttl::Clear, ctx.now);
    }
    ctx.out.ok();
    Ok(())
}

pub fn msetnx(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let kv = pairs(args, "msetnx")?;
    for key in kv.iter().step_by(2) {
        if ctx.keys.shard(key).peek(key, ctx.now).is_some() {
            ctx.out.int(0);
            return Ok(());
        }
    }
    for i in (0..kv.len()).step_by(2) {
        let key = kv.get(i);
        ctx.keys
            .shard(key)
            .set(key, Value::Str(kv.get(i + 1)), Ttl::Clear, ctx.now);
    }
    ctx.out.int(1);
    Ok(())
}
