//! SETRANGE key offset value

use super::append::check_len;
use crate::cmd::{int_arg, CmdError, Ctx};
use crate::resp::Args;
use crate::store::{Ttl, Value};

pub fn setrange(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let key = args.get(1);
    let offset = int_arg(args.get(2))?;
    let value = args.get(3);
    if offset < 0 {
        return Err(CmdError::err("offset is out of range"));
    }
    let offset = offset as u64;
    let end = offset + value.len() as u64;
    let shard = ctx.keys.shard(key);
    if let Some(mut e) = shard.get_mut(key, ctx.now) {
        let len = e.entry().as_str().ok_or(CmdError::WrongType)?.len();
        if value.is_empty() {
            ctx.out.int(len as i64);
            return Ok(());
        }
        check_len(&ctx.settings, end)?;
        let s = e.entry_mut().str_mut().ok_or(CmdError::WrongType)?;
        if (s.len() as u64) < end {
            s.resize(end as usize, 0);
        }
        s[offset as usize..end as usize].copy_from_slice(value);
        ctx.out.int(s.len() as i64);
        return Ok(());
    }
    // Nothing to write and no key: Redis creates nothing.
    if value.is_empty() {
        ctx.out.int(0);
        return Ok(());
    }
    check_len(&ctx.settings, end)?;
    let mut buf = vec![0u8; end as usize];
    buf[offset as usize..].copy_from_slice(value);
    shard.set(key, Value::Str(&buf), Ttl::Clear, ctx.now);
    ctx.out.int(end as i64);
    Ok(())
}
