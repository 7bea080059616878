//! SAVE, BGSAVE [SCHEDULE] and LASTSAVE: snapshots to `dir` (see
//! [`crate::persist`]).

use crate::cmd::{is, CmdError, Ctx};
use crate::persist::SnapshotError;
use crate::resp::Args;
use std::sync::atomic::Ordering;

fn refused(e: SnapshotError) -> CmdError {
    CmdError::Other(format!("ERR {e}"))
}

/// Writes the snapshot before replying, as Redis' SAVE does: this client and
/// the others of its I/O thread wait; the rest go on (the keyspace is read a
/// step at a time, under one shard lock at a time).
pub fn save(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Result<(), CmdError> {
    crate::persist::save(ctx.shared).map_err(refused)?;
    ctx.out.ok();
    Ok(())
}

pub fn bgsave(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let schedule = match args.len() {
        1 => false,
        2 if is(args.get(1), "schedule") => true,
        _ => return Err(CmdError::Syntax),
    };
    if ctx.shared.config.dir.is_none() {
        return Err(refused(SnapshotError::Off));
    }
    let st = &ctx.shared.snapshots;
    if st.in_progress.load(Ordering::Acquire) {
        if !schedule {
            return Err(refused(SnapshotError::InProgress));
        }
        st.requested.notify_one();
        ctx.out.simple("Background saving scheduled");
        return Ok(());
    }
    st.requested.notify_one();
    ctx.out.simple("Background saving started");
    Ok(())
}

pub fn lastsave(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Result<(), CmdError> {
    ctx.out
        .int(ctx.shared.snapshots.last_save.load(Ordering::Acquire) as i64);
    Ok(())
}
