//! PING [message] and ECHO message

use crate::cmd::{CmdError, Ctx};
use crate::resp::Args;

pub fn ping(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    // Subscribed in RESP2, PING answers in the shape of a message.
    if !ctx.out.resp3() && crate::cmd::pubsub::subscribed(ctx.session) && args.len() <= 2 {
        ctx.out.array(2);
        ctx.out.bulk(b"pong");
        ctx.out
            .bulk(if args.len() == 2 { args.get(1) } else { b"" });
        return Ok(());
    }
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
