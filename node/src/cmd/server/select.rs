//! SELECT index: Shoal has one database, as a Redis Cluster node does.

use crate::cmd::{int_arg, CmdError, Ctx};
use crate::resp::Args;

pub fn select(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let db = int_arg(args.get(1))?;
    if db != 0 && ctx.shared.cluster.is_some() {
        return Err(CmdError::err("SELECT is not allowed in cluster mode"));
    }
    if db != 0 {
        return Err(CmdError::err("DB index is out of range"));
    }
    ctx.out.ok();
    Ok(())
}
