//! APPEND key value

use crate::cmd::{CmdError, Ctx};
use crate::resp::Args;
use crate::store::{Ttl, Value};

/// Redis' `checkStringLength`: a string may not grow past proto-max-bulk-len.
pub fn check_len(settings: &crate::config::Settings, len: u64) -> Result<(), CmdError> {
    if len > settings.proto_max_bulk_len {
        Err(CmdError::StringTooLong)
    } else {
        Ok(())
    }
}

pub fn append(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let (key, tail) = (args.get(1), args.get(2));
    let shard = ctx.keys.shard(key);
    if let Some(mut e) = shard.get_mut(key, ctx.now) {
        let len = e.entry().as_str().ok_or(CmdError::WrongType)?.len();
        check_len(&ctx.settings, (len + tail.len()) as u64)?;
        let s = e.entry_mut().str_mut().ok_or(CmdError::WrongType)?;
        s.extend_from_slice(tail);
        ctx.out.int(s.len() as i64);
        return Ok(());
    }
    shard.set(key, Value::Str(tail), Ttl::Clear, ctx.now);
    ctx.out.int(tail.len() as i64);
    Ok(())
}
