//! CLIENT ID|INFO|SETNAME|GETNAME|SETINFO|LIST|KILL|REPLY|UNBLOCK|NO-EVICT|HELP

use crate::client::ClientInfo;
use crate::cmd::{int_arg, is, table, CmdError, Ctx};
use crate::resp::Args;
use std::fmt::Write;
use std::sync::atomic::Ordering;

pub fn id(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Result<(), CmdError> {
    ctx.out.int(ctx.session.client.id as i64);
    Ok(())
}

/// Names and library info may not contain spaces or control characters, as in
/// Redis (they appear in CLIENT LIST lines).
fn printable(s: &[u8]) -> bool {
    s.iter().all(|&c| (b'!'..=b'~').contains(&c))
}

pub fn set_name(ctx: &mut Ctx<'_>, name: &[u8]) -> Result<(), CmdError> {
    if !printable(name) {
        return Err(CmdError::err(
            "Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    *ctx.session.client.name.lock() =
        (!name.is_empty()).then(|| String::from_utf8_lossy(name).into_owned());
    Ok(())
}

pub fn setname(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    set_name(ctx, args.get(2))?;
    ctx.out.ok();
    Ok(())
}

pub fn getname(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Result<(), CmdError> {
    let name = ctx.session.client.name.lock().clone();
    match name {
        Some(n) => ctx.out.bulk(n.as_bytes()),
        None => ctx.out.null(),
    }
    Ok(())
}

pub fn setinfo(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let (attr, value) = (args.get(2), args.get(3));
    let slot = if is(attr, "lib-name") {
        &ctx.session.client.lib_name
    } else if is(attr, "lib-ver") {
        &ctx.session.client.lib_ver
    } else {
        return Err(CmdError::err(format!(
            "Unrecognized option '{}'",
            String::from_utf8_lossy(attr)
        )));
    };
    if !printable(value) {
        return Err(CmdError::err(format!(
            "{} cannot contain spaces, newlines or special characters.",
            String::from_utf8_lossy(attr).to_ascii_lowercase()
        )));
    }
    *slot.lock() = (!value.is_empty()).then(|| String::from_utf8_lossy(value).into_owned());
    ctx.out.ok();
    Ok(())
}

/// One CLIENT LIST line, with Redis' fields in Redis' order.
pub fn describe(c: &ClientInfo, now_ms: u64) -> String {
    let last = c.last_command.load(Ordering::Relaxed);
    let cmd = if last == usize::MAX {
        "NULL"
    } else {
        table::spec(last).name
    };
    let name = c.name.lock().clone().unwrap_or_default();
    let qbuf = c.qbuf.load(Ordering::Relaxed);
    let obuf = c.obuf.load(Ordering::Relaxed);
    let [sub, psub, ssub] = *c.subscriptions.lock();
    // Redis' letters: b blocked in a command, P subscribed, N neither.
    let mut flags = String::new();
    if c.blocked
        .lock()
        .as_ref()
        .is_some_and(|w| w.strong_count() > 0)
    {
        flags.push('b');
    }
    if sub + psub + ssub > 0 {
        flags.push('P');
    }
    if flags.is_empty() {
        flags.push('N');
    }
    let mut s = String::with_capacity(256);
    let _ = write!(
        s,
        "id={} addr={} laddr={} fd=-1 name={} age={} idle={} flags={} db=0 sub={} psub={} ssub={} multi=-1 \
         qbuf={} qbuf-free=0 argv-mem=0 multi-mem=0 rbs={} rbp=0 obl=0 oll=0 omem={} tot-mem={} \
         events=r cmd={} user={} redir=-1 resp={} lib-name={} lib-ver={}",
        c.id,
        c.addr,
        c.laddr,
        name,
        now_ms.saturating_sub(c.created_ms) / 1000,
        now_ms.saturating_sub(c.last_interaction_ms.load(Ordering::Relaxed)) / 1000,
        flags,
        sub,
        psub,
        ssub,
        qbuf,
        qbuf,
        obuf,
        qbuf + obuf,
        cmd,
        c.user.lock(),
        c.resp.load(Ordering::Relaxed),
        c.lib_name.lock().clone().unwrap_or_default(),
        c.lib_ver.lock().clone().unwrap_or_default(),
    );
    s
}

pub fn info(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Result<(), CmdError> {
    let line = describe(&ctx.session.client, ctx.now) + "\n";
    ctx.out.verbatim(&line);
    Ok(())
}

pub fn list(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let mut ids: Option<Vec<u64>> = None;
    match args.len() {
        2 => {}
        4 if is(args.get(2), "type") => {
            let t = args.get(3);
            if is(t, "normal") {
            } else if is(t, "master") || is(t, "replica") || is(t, "slave") || is(t, "pubsub") {
                ids = Some(Vec::new());
            } else {
                return Err(CmdError::err(format!(
                    "Unknown client type '{}'",
                    String::from_utf8_lossy(t)
                )));
            }
        }
        n if n > 3 && is(args.get(2), "id") => {
            let mut v = Vec::new();
            for a in args.tail(3).iter() {
                match int_arg(a) {
                    Ok(id) => v.push(id as u64),
                    Err(_) => return Err(CmdError::err("Invalid client ID")),
                }
            }
            ids = Some(v);
        }
        _ => return Err(CmdError::Syntax),
    }
    let mut text = String::new();
    for c in ctx.shared.clients.all() {
        if ids.as_ref().is_none_or(|ids| ids.contains(&c.id)) {
            text.push_str(&describe(&c, ctx.now));
            text.push('\n');
        }
    }
    ctx.out.verbatim(&text);
    Ok(())
}

/// The filters of `CLIENT KILL <filter> <value> ...`.
#[derive(Default)]
struct KillFilter {
    id: Option<u64>,
    addr: Option<String>,
    laddr: Option<String>,
    user: Option<String>,
    /// None: any type; Some(false): a type no client has (master, replica, pubsub).
    normal: Option<bool>,
    skipme: bool,
}

impl KillFilter {
    fn matches(&self, c: &ClientInfo) -> bool {
        self.id.is_none_or(|id| id == c.id)
            && self.addr.as_ref().is_none_or(|a| *a == c.addr.to_string())
            && self
                .laddr
                .as_ref()
                .is_none_or(|a| *a == c.laddr.to_string())
            && self.user.as_ref().is_none_or(|u| *u == *c.user.lock())
            && self.normal != Some(false)
    }
}

pub fn kill(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let text = |a: &[u8]| String::from_utf8_lossy(a).into_owned();
    if args.len() == 3 {
        // Old form: CLIENT KILL addr:port, replying OK or an error.
        let addr = text(args.get(2));
        let victim = ctx
            .shared
            .clients
            .all()
            .into_iter()
            .find(|c| c.addr.to_string() == addr)
            .ok_or_else(|| CmdError::err("No such client"))?;
        kill_one(ctx, &victim);
        ctx.out.ok();
        return Ok(());
    }
    let mut f = KillFilter {
        skipme: true,
        ..KillFilter::default()
    };
    // Pairs are read in order, so an error names the first bad filter, as Redis.
    let mut i = 2;
    while i < args.len() {
        if i + 1 >= args.len() {
            return Err(CmdError::Syntax);
        }
        let (k, v) = (args.get(i), args.get(i + 1));
        i += 2;
        if is(k, "id") {
            match int_arg(v) {
                Ok(id) if id > 0 => f.id = Some(id as u64),
                _ => return Err(CmdError::err("client-id should be greater than 0")),
            }
        } else if is(k, "addr") {
            f.addr = Some(text(v));
        } else if is(k, "laddr") {
            f.laddr = Some(text(v));
        } else if is(k, "user") {
            // Redis refuses a user it does not know (the default user always exists).
            let known = v == b"default"
                || ctx
                    .shared
                    .acl
                    .load()
                    .as_ref()
                    .is_some_and(|acl| acl.user(v).is_some());
            if !known {
                return Err(CmdError::err(format!("No such user '{}'", text(v))));
            }
            f.user = Some(text(v));
        } else if is(k, "type") {
            if is(v, "normal") {
                f.normal = Some(true);
            } else if is(v, "master") || is(v, "replica") || is(v, "slave") || is(v, "pubsub") {
                f.normal = Some(false);
            } else {
                return Err(CmdError::err(format!("Unknown client type '{}'", text(v))));
            }
        } else if is(k, "skipme") {
            f.skipme = if is(v, "yes") {
                true
            } else if is(v, "no") {
                false
            } else {
                return Err(CmdError::Syntax);
            };
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let me = ctx.session.client.id;
    let victims: Vec<_> = ctx
        .shared
        .clients
        .all()
        .into_iter()
        .filter(|c| f.matches(c) && !(f.skipme && c.id == me))
        .collect();
    for c in &victims {
        kill_one(ctx, c);
    }
    ctx.out.int(victims.len() as i64);
    Ok(())
}

fn kill_one(ctx: &mut Ctx<'_>, c: &ClientInfo) {
    if c.id == ctx.session.client.id {
        // Killing ourselves: answer first, then close.
        ctx.session.close = true;
    } else {
        c.kill();
    }
}

pub fn no_evict(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let v = args.get(2);
    if !(is(v, "on") || is(v, "off")) {
        return Err(CmdError::Syntax);
    }
    ctx.out.ok();
    Ok(())
}

/// CLIENT REPLY ON|OFF|SKIP
pub fn reply(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let a = args.get(2);
    // Inside EXEC the block's reply must stay whole: OFF and SKIP answer OK
    // there and take effect for the commands after the block.
    if ctx.session.nonblocking && (is(a, "off") || is(a, "skip")) {
        ctx.session.reply_off = is(a, "off");
        ctx.session.reply_skip = u8::from(is(a, "skip"));
        ctx.out.ok();
        return Ok(());
    }
    if is(a, "on") {
        ctx.session.reply_off = false;
        ctx.session.reply_skip = 0;
        ctx.out.ok();
    } else if is(a, "off") {
        ctx.session.reply_off = true;
    } else if is(a, "skip") {
        // This reply and the next one.
        if !ctx.session.reply_off {
            ctx.session.reply_skip = 2;
        }
    } else {
        return Err(CmdError::Syntax);
    }
    Ok(())
}

/// CLIENT UNBLOCK client-id [TIMEOUT|ERROR]
pub fn unblock(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let id = int_arg(args.get(2))?;
    let error = match args.len() {
        3 => false,
        4 if is(args.get(3), "timeout") => false,
        4 if is(args.get(3), "error") => true,
        _ => {
            return Err(CmdError::err(
                "CLIENT UNBLOCK reason should be TIMEOUT or ERROR",
            ))
        }
    };
    let target = u64::try_from(id)
        .ok()
        .and_then(|id| ctx.shared.clients.get(id));
    let done = match target {
        Some(c) => crate::cmd::blocking::unblock_client(ctx, &c, error),
        None => false,
    };
    ctx.out.int(i64::from(done));
    Ok(())
}

pub fn help(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Result<(), CmdError> {
    super::help_reply(
        ctx,
        "CLIENT",
        &[
            "GETNAME",
            "    Return the name of the current connection.",
            "ID",
            "    Return the ID of the current connection.",
            "INFO",
            "    Return information about the current client connection.",
            "KILL <ip:port>",
            "    Kill connection made from <ip:port>.",
            "KILL <option> <value> [<option> <value> [...]]",
            "    Kill connections. Options are: ID, TYPE, USER, ADDR, LADDR, SKIPME.",
            "LIST [options ...]",
            "    Return information about client connections. Options: TYPE, ID.",
            "SETNAME <name>",
            "    Assign the name <name> to the current connection.",
            "SETINFO <option> <value>",
            "    Set client meta attr. Options are: LIB-NAME, LIB-VER.",
            "REPLY (ON|OFF|SKIP)",
            "    Control the replies sent to the current connection.",
            "UNBLOCK <clientid> [TIMEOUT|ERROR]",
            "    Unblock the specified blocked client.",
            "NO-EVICT (ON|OFF)",
            "    Protect the current client connection from eviction.",
        ],
    );
    Ok(())
}
