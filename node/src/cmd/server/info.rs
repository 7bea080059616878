//! INFO [section ...]

use crate::cmd::{CmdError, Ctx};
use crate::resp::Args;

pub fn info(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let sections: Vec<String> = args
        .tail(1)
        .iter()
        .map(|s| String::from_utf8_lossy(s).to_ascii_lowercase())
        .collect();
    let text = crate::info::render(
        ctx.shared,
        &ctx.settings,
        &sections,
        ctx.now,
        ctx.keys.stats(),
    );
    ctx.out.verbatim(&text);
    Ok(())
}
