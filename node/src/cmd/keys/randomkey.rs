//! RANDOMKEY

use crate::cmd::{CmdError, Ctx};
use crate::resp::Args;

pub fn randomkey(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Result<(), CmdError> {
    match ctx.keys.random_key(ctx.now) {
        Some(k) => ctx.out.bulk(&k),
        None => ctx.out.null(),
    }
    Ok(())
}
