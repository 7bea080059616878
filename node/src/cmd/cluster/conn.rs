//! READONLY, READWRITE and ASKING: per-connection routing state.
//!
//! Only cluster-aware clients send these, so each also moves a connection on
//! the forwarding port to the redirect path.

use crate::cmd::{CmdError, Ctx};
use crate::resp::Args;

pub fn readonly(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Result<(), CmdError> {
    super::cluster(ctx)?;
    super::routes_itself(ctx);
    ctx.session.readonly = true;
    ctx.out.ok();
    Ok(())
}

pub fn readwrite(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Result<(), CmdError> {
    super::cluster(ctx)?;
    super::routes_itself(ctx);
    ctx.session.readonly = false;
    ctx.out.ok();
    Ok(())
}

/// The next command may touch a slot this node is importing.
pub fn asking(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Result<(), CmdError> {
    super::cluster(ctx)?;
    super::routes_itself(ctx);
    ctx.session.asking = true;
    ctx.out.ok();
    Ok(())
}
