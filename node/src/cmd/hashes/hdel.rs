//! HDEL key field [field ...]. Removing the last field removes the key.

use crate::cmd::{CmdError, Ctx};
use crate::resp::Args;
use crate::store::Kind;

pub fn hdel(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let key = args.get(1);
    let shard = ctx.keys.shard(key);
    let Some(mut e) = shard.get_mut(key, ctx.now) else {
        ctx.out.int(0);
        return Ok(());
    };
    if e.entry().kind() != Kind::Hash {
        return Err(CmdError::WrongType);
    }
    let h = super::hash(&mut e);
    let removed = args.tail(2).iter().filter(|f| h.remove(f)).count();
    if h.is_empty() {
        e.delete();
    }
    ctx.out.int(removed as i64);
    Ok(())
}
