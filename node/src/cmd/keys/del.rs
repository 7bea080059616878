//! DEL key [key ...] and UNLINK, which frees large values off the request path.

use crate::cmd::{CmdError, Ctx};
use crate::resp::Args;
use crate::store::Entry;

/// Values bigger than this are dropped on a blocking-pool thread by UNLINK.
const LAZY_FREE_BYTES: usize = 64 * 1024;

fn delete(ctx: &mut Ctx<'_>, args: Args<'_>) -> Vec<Entry> {
    let keys = args.tail(1);
    keys.iter()
        .filter_map(|k| ctx.keys.shard(k).remove(k, ctx.now))
        .collect()
}

pub fn del(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let n = delete(ctx, args).len();
    ctx.out.int(n as i64);
    Ok(())
}

pub fn unlink(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let removed = delete(ctx, args);
    ctx.out.int(removed.len() as i64);
    let bytes: usize = removed.iter().map(Entry::mem_size).sum();
    if bytes > LAZY_FREE_BYTES {
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn_blocking(move || drop(removed));
        }
    }
    Ok(())
}
