//! WAIT, ROLE, REPLICAOF and the internal PSYNC and REPLCONF.

use crate::cmd::{int_arg, is, CmdError, Ctx};
use crate::repl::{Role, SyncRequest, Target};
use crate::resp::Args;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// `WAIT numreplicas timeout`: the connection waits (see `connection`) until
/// that many replicas acknowledged every write made before it, or the timeout
/// (ms, 0: none) passes, and gets how many did.
pub fn wait(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    if !ctx.shared.repl.is_primary() {
        return Err(CmdError::err(
            "WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.",
        ));
    }
    let n = int_arg(args.get(1))?;
    let timeout = int_arg(args.get(2))?;
    if timeout < 0 {
        return Err(CmdError::err("timeout is negative"));
    }
    ctx.session.wait = Some(crate::cmd::Wait {
        offset: ctx.db().journal().end(),
        replicas: n.max(0) as usize,
        timeout: (timeout > 0).then(|| Duration::from_millis(timeout as u64)),
    });
    Ok(())
}

/// `ROLE`, as Redis shapes it.
pub fn role(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Result<(), CmdError> {
    let repl = &ctx.shared.repl;
    let offset = ctx.db().journal().end() as i64;
    let (role, link) = {
        let s = repl.state();
        (s.role.clone(), s.link.clone())
    };
    match role {
        Role::Primary => {
            let attached = repl.attached();
            ctx.out.array(3);
            ctx.out.bulk(b"master");
            ctx.out.int(offset);
            ctx.out.array(attached.len());
            for a in attached {
                ctx.out.array(3);
                ctx.out.bulk(a.addr.as_bytes());
                ctx.out.bulk(a.port.to_string().as_bytes());
                ctx.out
                    .bulk(a.ack.load(Ordering::Relaxed).to_string().as_bytes());
            }
        }
        Role::Replica(t) => {
            let state = match link {
                crate::repl::Link::Up => "connected",
                crate::repl::Link::Sync => "sync",
                crate::repl::Link::Connecting => "connecting",
                crate::repl::Link::Down => "connect",
            };
            ctx.out.array(5);
            ctx.out.bulk(b"slave");
            ctx.out.bulk(t.host.as_bytes());
            ctx.out.int(i64::from(t.port));
            ctx.out.bulk(state.as_bytes());
            ctx.out.int(offset);
        }
    }
    Ok(())
}

/// `REPLICAOF host port` / `REPLICAOF NO ONE`, for a standalone node; in a
/// cluster the topology assigns roles.
pub fn replicaof(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    if ctx.shared.cluster.is_some() {
        return Err(CmdError::err("REPLICAOF not allowed in cluster mode."));
    }
    let (a, b) = (args.get(1), args.get(2));
    if is(a, "no") && is(b, "one") {
        ctx.shared.repl.set_role(Role::Primary, &mut ctx.keys);
        ctx.out.ok();
        return Ok(());
    }
    let port = int_arg(b)?;
    let port = u16::try_from(port).map_err(|_| CmdError::err("Invalid master port"))?;
    let host = String::from_utf8_lossy(a).into_owned();
    let target = Target {
        name: format!("{host}:{port}"),
        host,
        port,
    };
    ctx.shared
        .repl
        .set_role(Role::Replica(target), &mut ctx.keys);
    ctx.out.ok();
    Ok(())
}

/// `PSYNC replid offset [NODE name port] [RESUME cursor offset]`: this
/// connection becomes a replication link (see `repl::primary`).
pub fn psync(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let replid = String::from_utf8_lossy(args.get(1)).into_owned();
    let offset = if args.get(2) == b"?" || args.get(2) == b"-1" {
        -1
    } else {
        int_arg(args.get(2))?
    };
    let mut req = SyncRequest {
        replid,
        offset,
        name: ctx.session.client.addr.to_string(),
        port: 0,
        resume: None,
    };
    let mut i = 3;
    while i < args.len() {
        if is(args.get(i), "node") && i + 2 < args.len() {
            req.name = String::from_utf8_lossy(args.get(i + 1)).into_owned();
            req.port = u16::try_from(int_arg(args.get(i + 2))?).map_err(|_| CmdError::Syntax)?;
            i += 3;
        } else if is(args.get(i), "resume") && i + 2 < args.len() {
            let cursor = int_arg(args.get(i + 1))?;
            let off = int_arg(args.get(i + 2))?;
            if cursor < 0 || off < 0 {
                return Err(CmdError::Syntax);
            }
            req.resume = Some((cursor as u64, off as u64));
            i += 3;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    ctx.session.sync = Some(crate::repl::Takeover::Replica(req));
    Ok(())
}

/// `SYNCSLOTS range…` (internal): the connection becomes the source's side of
/// a slot migration (see `cluster::migrate`), sent by the target of a resize.
pub fn syncslots(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    if ctx.shared.cluster.is_none() {
        return Err(CmdError::err("This instance has cluster support disabled"));
    }
    if !ctx.shared.repl.is_primary() {
        return Err(CmdError::err("SYNCSLOTS is served by primaries only"));
    }
    let ranges: Vec<&[u8]> = args.iter().skip(1).collect();
    let ranges = crate::cluster::migrate::parse_ranges(&ranges).map_err(CmdError::err)?;
    ctx.session.sync = Some(crate::repl::Takeover::Slots(ranges));
    Ok(())
}

/// `REPLCONF …`: accepted for compatibility; acknowledgements arrive on the
/// replication link itself.
pub fn replconf(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    if args.len().is_multiple_of(2) {
        return Err(CmdError::Syntax);
    }
    ctx.out.ok();
    Ok(())
}
