//! KEYS pattern

use crate::cmd::{CmdError, Ctx};
use crate::resp::Args;
use crate::util::glob;

pub fn keys(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let pattern = args.get(1);
    let all = glob::matches_all(pattern);
    let mut found: Vec<Vec<u8>> = Vec::new();
    ctx.keys.for_each(ctx.now, |e| {
        if all || glob::matches(pattern, e.key(), false) {
            found.push(e.key().to_vec());
        }
    });
    ctx.out.array(found.len());
    for k in &found {
        ctx.out.bulk(k);
    }
    Ok(())
}
