//! CLUSTER FAILOVER [FORCE|TAKEOVER]: asks for this replica's promotion.
//!
//! Nodes never rewrite the topology themselves (one writer decides, so two
//! nodes can never both be promoted): the request is raised in INFO, where the
//! failover supervisor (the operator, or `local-cluster`'s) reads it and
//! promotes this replica once it has caught up with its primary.

use crate::cmd::{is, CmdError, Ctx};
use crate::repl::Role;
use crate::resp::Args;

pub fn failover(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    super::cluster(ctx)?;
    match args.len() {
        2 => {}
        3 if is(args.get(2), "force") || is(args.get(2), "takeover") => {}
        _ => return Err(CmdError::Syntax),
    }
    let mut s = ctx.shared.repl.state();
    if s.role == Role::Primary {
        return Err(CmdError::err(
            "You should send CLUSTER FAILOVER to a replica",
        ));
    }
    if !s.synced {
        return Err(CmdError::err(
            "This replica has not completed its sync with its primary and cannot be promoted yet",
        ));
    }
    s.failover_requested = true;
    drop(s);
    ctx.out.ok();
    Ok(())
}
