//! SCAN cursor [MATCH pattern] [COUNT count] [TYPE type], and the option parsing
//! HSCAN shares.

use crate::cmd::{int_arg, is, CmdError, Ctx};
use crate::resp::Args;
use crate::store::Kind;
use crate::util::glob;

/// A cursor, read as Redis 7.0 reads it with `strtoul`: an optional sign,
/// then decimal digits (none: 0, so an empty cursor starts a scan); a minus
/// wraps (`-1` is the largest cursor); spaces and overflow are refused.
pub fn parse_cursor(arg: &[u8]) -> Result<u64, CmdError> {
    let bad = || CmdError::err("invalid cursor");
    let (neg, digits) = match arg.first() {
        Some(b'-') => (true, &arg[1..]),
        Some(b'+') => (false, &arg[1..]),
        _ => (false, arg),
    };
    if digits.is_empty() {
        // strtoul read nothing: only an empty argument ends there.
        return if arg.is_empty() { Ok(0) } else { Err(bad()) };
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return Err(bad());
        }
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(c - b'0')))
            .ok_or_else(bad)?;
    }
    Ok(if neg { v.wrapping_neg() } else { v })
}

pub struct ScanOptions<'a> {
    pub pattern: Option<&'a [u8]>,
    pub count: usize,
    /// TYPE filter; `Some(None)` is a type name no key can have.
    pub kind: Option<Option<Kind>>,
}

impl<'a> ScanOptions<'a> {
    /// Parses options from `args[start..]`; `member` selects those of the
    /// scans of one value (HSCAN, SSCAN, ZSCAN: MATCH and COUNT, no TYPE;
    /// NOVALUES came in 7.4).
    pub fn parse(args: Args<'a>, start: usize, member: bool) -> Result<ScanOptions<'a>, CmdError> {
        let mut o = ScanOptions {
            pattern: None,
            count: 10,
            kind: None,
        };
        let mut i = start;
        while i < args.len() {
            let more = i + 1 < args.len();
            let opt = args.get(i);
            if is(opt, "count") && more {
                let c = int_arg(args.get(i + 1))?;
                if c < 1 {
                    return Err(CmdError::Syntax);
                }
                o.count = c as usize;
                i += 2;
            } else if is(opt, "match") && more {
                let p = args.get(i + 1);
                o.pattern = (p != b"*").then_some(p);
                i += 2;
            } else if is(opt, "type") && !member && more {
                o.kind = Some(Kind::from_name(args.get(i + 1)));
                i += 2;
            } else {
                return Err(CmdError::Syntax);
            }
        }
        Ok(o)
    }

    pub fn matches(&self, key: &[u8]) -> bool {
        self.pattern.is_none_or(|p| glob::matches(p, key, false))
    }
}

pub fn scan(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let cursor = parse_cursor(args.get(1))?;
    let opts = ScanOptions::parse(args, 2, false)?;
    let mut keys: Vec<Vec<u8>> = Vec::new();
    let next = ctx.keys.scan(cursor, opts.count, ctx.now, |e| {
        let type_ok = match opts.kind {
            None => true,
            Some(k) => k == Some(e.kind()),
        };
        if type_ok && opts.matches(e.key()) {
            keys.push(e.key().to_vec());
        }
    });
    ctx.out.array(2);
    ctx.out.bulk(itoa::Buffer::new().format(next).as_bytes());
    ctx.out.array(keys.len());
    for k in &keys {
        ctx.out.bulk(k);
    }
    Ok(())
}
