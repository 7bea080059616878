//! EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT (with NX|XX|GT|LT) and PERSIST.

use crate::cmd::{int_arg, is, CmdError, Ctx};
use crate::resp::Args;

#[derive(Default, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conditions {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

impl Conditions {
    fn parse(args: Args<'_>) -> Result<Conditions, CmdError> {
        let mut c = Conditions::default();
        for opt in args.tail(3).iter() {
            if is(opt, "nx") {
                c.nx = true;
            } else if is(opt, "xx") {
                c.xx = true;
            } else if is(opt, "gt") {
                c.gt = true;
            } else if is(opt, "lt") {
                c.lt = true;
            } else {
                return Err(CmdError::err(format!(
                    "Unsupported option {}",
                    String::from_utf8_lossy(opt)
                )));
            }
        }
        if c.nx && (c.xx || c.gt || c.lt) {
            return Err(CmdError::err(
                "NX and XX, GT or LT options at the same time are not compatible",
            ));
        }
        if c.gt && c.lt {
            return Err(CmdError::err(
                "GT and LT options at the same time are not compatible",
            ));
        }
        Ok(c)
    }

    /// Whether a new deadline `when` may replace `current` (None: no TTL, which GT
    /// and LT treat as infinite).
    pub fn allow(&self, current: Option<u64>, when: i64) -> bool {
        match current {
            None => !(self.xx || self.gt),
            Some(cur) => {
                let cur = cur as i64;
                !(self.nx || (self.gt && when <= cur) || (self.lt && when >= cur))
            }
        }
    }
}

fn expire_generic(
    ctx: &mut Ctx<'_>,
    args: Args<'_>,
    seconds: bool,
    relative: bool,
    name: &'static str,
) -> Result<(), CmdError> {
    let cond = Conditions::parse(args)?;
    let mut when = int_arg(args.get(2))?;
    if seconds {
        when = when
            .checked_mul(1000)
            .ok_or(CmdError::InvalidExpire(name))?;
    }
    if relative {
        when = when
            .checked_add(ctx.now as i64)
            .ok_or(CmdError::InvalidExpire(name))?;
    }
    let key = args.get(1);
    let shard = ctx.keys.shard(key);
    let Some(mut e) = shard.get_mut(key, ctx.now) else {
        ctx.out.int(0);
        return Ok(());
    };
    if !cond.allow(e.entry().expire_at(), when) {
        ctx.out.int(0);
        return Ok(());
    }
    if when <= ctx.now as i64 {
        // A deadline in the past deletes the key now.
        e.delete();
    } else {
        e.set_expire(Some(when as u64));
    }
    ctx.out.int(1);
    Ok(())
}

pub fn expire(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    expire_generic(ctx, args, true, true, "expire")
}

pub fn pexpire(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    expire_generic(ctx, args, false, true, "pexpire")
}

pub fn expireat(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    expire_generic(ctx, args, true, false, "expireat")
}

pub fn pexpireat(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    expire_generic(ctx, args, false, false, "pexpireat")
}

pub fn persist(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let key = args.get(1);
    let shard = ctx.keys.shard(key);
    let removed = match shard.get_mut(key, ctx.now) {
        Some(mut e) if e.entry().expire_at().is_some() => {
            e.set_expire(None);
            true
        }
        _ => false,
    };
    ctx.out.int(i64::from(removed));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Conditions;

    #[test]
    fn gt_lt_treat_no_ttl_as_infinite() {
        let gt = Conditions {
            gt: true,
            ..Conditions::default()
        };
        let lt = Conditions {
            lt: true,
            ..Conditions::default()
        };
        assert!(!gt.allow(None, 100));
        assert!(lt.allow(None, 100));
        assert!(gt.allow(Some(50), 100));
        assert!(!gt.allow(Some(100), 100));
        assert!(lt.allow(Some(150), 100));
        assert!(!lt.allow(Some(100), 100));
        let nx = Conditions {
            nx: true,
            ..Conditions::default()
        };
        assert!(nx.allow(None, 1) && !nx.allow(Some(5), 1));
        let xx = Conditions {
            xx: true,
            ..Conditions::default()
        };
        assert!(!xx.allow(None, 1) && xx.allow(Some(5), 1));
    }
}
