//! CLUSTER KEYSLOT, COUNTKEYSINSLOT and GETKEYSINSLOT.
//!
//! The keyspace has no per-slot index, but it shards by slot, so the last two
//! scan only the shard holding the slot: O(keys / shards).

use crate::cluster::slot::{key_slot, SLOTS};
use crate::cmd::{CmdError, Ctx};
use crate::resp::Args;
use crate::util::num::parse_i64;

pub fn keyslot(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    super::cluster(ctx)?;
    ctx.out.int(i64::from(key_slot(args.get(2))));
    Ok(())
}

/// A slot argument; None when it is a number but not a slot.
fn slot_arg(arg: &[u8]) -> Result<Option<u16>, CmdError> {
    let n = parse_i64(arg).ok_or(CmdError::NotInteger)?;
    Ok((0..i64::from(SLOTS)).contains(&n).then_some(n as u16))
}

pub fn countkeysinslot(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    super::cluster(ctx)?;
    let slot = slot_arg(args.get(2))?.ok_or_else(|| CmdError::err("Invalid slot"))?;
    let mut n = 0i64;
    ctx.keys.for_each_in_slot(slot, ctx.now, |_| n += 1);
    ctx.out.int(n);
    Ok(())
}

pub fn getkeysinslot(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    super::cluster(ctx)?;
    let slot = slot_arg(args.get(2))?;
    let count = parse_i64(args.get(3)).ok_or(CmdError::NotInteger)?;
    let (Some(slot), Ok(count)) = (slot, usize::try_from(count)) else {
        return Err(CmdError::err("Invalid slot or number of keys"));
    };
    let mut keys = Vec::new();
    ctx.keys.for_each_in_slot(slot, ctx.now, |e| {
        if keys.len() < count {
            keys.push(e.key().to_vec());
        }
    });
    ctx.out.array(keys.len());
    for k in &keys {
        ctx.out.bulk(k);
    }
    Ok(())
}
