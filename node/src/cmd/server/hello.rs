//! HELLO [protover [AUTH username password] [SETNAME clientname]] and
//! AUTH [username] password.

use super::client::set_name;
use crate::cmd::{is, CmdError, Ctx};
use crate::resp::Args;
use crate::util::num::parse_i64;
use subtle::ConstantTimeEq;

/// The Redis version Shoal's command set and replies correspond to; clients read
/// it to decide which commands they may use.
pub const REDIS_COMPAT_VERSION: &str = "7.0.15";

fn wrongpass() -> CmdError {
    CmdError::Other("WRONGPASS invalid username-password pair or user is disabled.".into())
}

/// Checks credentials against the default user. Without `requirepass` the default
/// user has no password, so any password is accepted, as in Redis.
fn authenticate(ctx: &mut Ctx<'_>, user: &[u8], password: &[u8]) -> Result<(), CmdError> {
    if let Some(acl) = ctx.shared.acl.load_full() {
        let found = acl.user(user).filter(|u| u.password_ok(password));
        let Some(found) = found else {
            return Err(wrongpass());
        };
        *ctx.session.client.user.lock() = found.name.clone();
        ctx.session.user = Some(found);
        ctx.session.authenticated = true;
        return Ok(());
    }
    if user != b"default" {
        return Err(wrongpass());
    }
    let ok = match &ctx.settings.requirepass {
        None => true,
        // Constant time, so the comparison leaks nothing about the password.
        Some(pw) => bool::from(pw.as_bytes().ct_eq(password)),
    };
    if !ok {
        return Err(wrongpass());
    }
    ctx.session.authenticated = true;
    Ok(())
}

pub fn auth(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    if args.len() > 3 {
        return Err(CmdError::Syntax);
    }
    if args.len() == 2 {
        let default_open = match ctx.shared.acl.load().as_ref() {
            Some(acl) => acl.user(b"default").is_some_and(|u| u.nopass),
            None => ctx.settings.requirepass.is_none(),
        };
        if default_open {
            return Err(CmdError::err("AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"));
        }
        authenticate(ctx, b"default", args.get(1))?;
    } else {
        authenticate(ctx, args.get(1), args.get(2))?;
    }
    ctx.out.ok();
    Ok(())
}

pub fn hello(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let mut version = None;
    let mut next = 1;
    if args.len() >= 2 {
        let v = parse_i64(args.get(1))
            .ok_or_else(|| CmdError::err("Protocol version is not an integer or out of range"))?;
        if !(2..=3).contains(&v) {
            return Err(CmdError::Other(
                "NOPROTO unsupported protocol version".into(),
            ));
        }
        version = Some(v);
        next = 2;
    }
    let mut creds = None;
    let mut name = None;
    let mut j = next;
    while j < args.len() {
        let more = args.len() - 1 - j;
        let opt = args.get(j);
        if is(opt, "auth") && more >= 2 {
            creds = Some((args.get(j + 1), args.get(j + 2)));
            j += 3;
        } else if is(opt, "setname") && more >= 1 {
            name = Some(args.get(j + 1));
            j += 2;
        } else {
            return Err(CmdError::err(format!(
                "Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(opt)
            )));
        }
    }
    if let Some((user, pass)) = creds {
        authenticate(ctx, user, pass)?;
    }
    if !ctx.session.authenticated {
        return Err(CmdError::Other("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time".into()));
    }
    if let Some(n) = name {
        set_name(ctx, n)?;
    }
    if let Some(v) = version {
        ctx.out.set_resp3(v == 3);
        ctx.session
            .client
            .resp
            .store(v as u8, std::sync::atomic::Ordering::Relaxed);
    }
    let proto = if ctx.out.resp3() { 3 } else { 2 };
    ctx.out.map(7);
    ctx.out.bulk(b"server");
    ctx.out.bulk(b"redis");
    ctx.out.bulk(b"version");
    ctx.out.bulk(REDIS_COMPAT_VERSION.as_bytes());
    ctx.out.bulk(b"proto");
    ctx.out.int(proto);
    ctx.out.bulk(b"id");
    ctx.out.int(ctx.session.client.id as i64);
    ctx.out.bulk(b"mode");
    ctx.out.bulk(ctx.shared.mode().as_bytes());
    ctx.out.bulk(b"role");
    ctx.out.bulk(b"master");
    ctx.out.bulk(b"modules");
    ctx.out.array(0);
    Ok(())
}
