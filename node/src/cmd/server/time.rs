//! TIME

use crate::cmd::{CmdError, Ctx};
use crate::resp::Args;

pub fn time(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Result<(), CmdError> {
    let us = ctx.shared.clock.now_us();
    ctx.out.array(2);
    ctx.out.bulk_int((us / 1_000_000) as i64);
    ctx.out.bulk_int((us % 1_000_000) as i64);
    Ok(())
}
