//! QUIT and RESET

use crate::cmd::{CmdError, Ctx};
use crate::resp::Args;
use std::sync::atomic::Ordering;

pub fn quit(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Result<(), CmdError> {
    ctx.out.ok();
    ctx.session.close = true;
    Ok(())
}

/// Returns the connection to its initial state: RESP2, no name, authenticated only
/// if the default user needs no password.
pub fn reset(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Result<(), CmdError> {
    ctx.out.set_resp3(false);
    let c = &ctx.session.client;
    c.resp.store(2, Ordering::Relaxed);
    *c.name.lock() = None;
    *c.user.lock() = "default".into();
    let (authenticated, user) = ctx.shared.initial_login();
    ctx.session.authenticated = authenticated;
    ctx.session.user = user;
    // Routing goes back to what the connection's port gives.
    ctx.session.forwarding = ctx.session.forwarding_port;
    ctx.session.readonly = false;
    ctx.session.asking = false;
    ctx.session.end(ctx.shared);
    ctx.out.simple("RESET");
    Ok(())
}
