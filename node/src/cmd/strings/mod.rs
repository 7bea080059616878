//! String commands.

pub mod append;
pub mod bitfield;
pub mod bits;
pub mod get;
pub mod getex;
pub mod getrange;
pub mod incr;
pub mod lcs;
pub mod mget;
pub mod mset;
pub mod set;
pub mod setrange;
pub mod strlen;

use super::{int_arg, is, CmdError};
use crate::resp::Args;

/// The expiry options shared by SET and GETEX.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpireOpt {
    None,
    /// EX/PX/EXAT/PXAT, resolved to an absolute Unix time in ms.
    At(u64),
    KeepTtl,
    Persist,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Unit {
    Ex,
    Px,
    ExAt,
    PxAt,
}

/// Which options a command accepts.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Set,
    GetEx,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SetFlags {
    pub nx: bool,
    pub xx: bool,
    pub get: bool,
}

/// Converts an expire argument to an absolute deadline, with Redis' checks: it must
/// be a positive integer whose millisecond value and deadline do not overflow.
pub fn deadline(
    arg: &[u8],
    seconds: bool,
    relative: bool,
    now: u64,
    cmd: &'static str,
) -> Result<u64, CmdError> {
    let v = int_arg(arg)?;
    if v <= 0 || (seconds && v > i64::MAX / 1000) {
        return Err(CmdError::InvalidExpire(cmd));
    }
    let ms = if seconds { v * 1000 } else { v };
    if relative {
        ms.checked_add(now as i64)
            .map(|t| t as u64)
            .ok_or(CmdError::InvalidExpire(cmd))
    } else {
        Ok(ms as u64)
    }
}

/// Parses SET/GETEX options from `args[start..]`, following Redis'
/// `parseExtendedStringArgumentsOrReply`: conflicting options are a syntax error.
pub fn parse_options(
    args: Args<'_>,
    start: usize,
    flavor: Flavor,
    now: u64,
    cmd: &'static str,
) -> Result<(SetFlags, ExpireOpt), CmdError> {
    let mut flags = SetFlags::default();
    let mut keepttl = false;
    let mut persist = false;
    let mut expire: Option<(Unit, &[u8])> = None;
    let set = flavor == Flavor::Set;
    let mut j = start;
    while j < args.len() {
        let opt = args.get(j);
        let has_next = j + 1 < args.len();
        let timed = expire.map(|(u, _)| u);
        let other_time = |u: Unit| timed.is_some_and(|t| t != u);
        if set && is(opt, "nx") && !flags.xx {
            flags.nx = true;
        } else if set && is(opt, "xx") && !flags.nx {
            flags.xx = true;
        } else if set && is(opt, "get") {
            flags.get = true;
        } else if set && is(opt, "keepttl") && !persist && timed.is_none() {
            keepttl = true;
        } else if !set && is(opt, "persist") && !keepttl && timed.is_none() {
            persist = true;
        } else if let Some(unit) = [
            ("ex", Unit::Ex),
            ("px", Unit::Px),
            ("exat", Unit::ExAt),
            ("pxat", Unit::PxAt),
        ]
        .into_iter()
        .find(|(w, _)| is(opt, w))
        .map(|(_, u)| u)
        .filter(|&u| !keepttl && !persist && !other_time(u) && has_next)
        {
            expire = Some((unit, args.get(j + 1)));
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let opt = match expire {
        Some((unit, arg)) => {
            let (seconds, relative) = match unit {
                Unit::Ex => (true, true),
                Unit::Px => (false, true),
                Unit::ExAt => (true, false),
                Unit::PxAt => (false, false),
            };
            ExpireOpt::At(deadline(arg, seconds, relative, now, cmd)?)
        }
        None if keepttl => ExpireOpt::KeepTtl,
        None if persist => ExpireOpt::Persist,
        None => ExpireOpt::None,
    };
    Ok((flags, opt))
}
