//! PING [message] and ECHO message

use crate::cmd::{CmdError, Ctx};
use crate::resp::Args;

pub fn ping(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    match args.len() {
        1 => ctx.out.simple("PONG"),
        2 => ctx.out.bulk(args.get(1)),
        _ => return Err(CmdError::Arity("ping".into())),
    }
    Ok(())
}

pub fn echo(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    ctx.out.bulk(args.get(1));
    Ok(())
}
