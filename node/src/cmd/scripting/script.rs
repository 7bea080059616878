//! SCRIPT LOAD, EXISTS, FLUSH, KILL and HELP.

use super::eval::with_function;
use super::{parse_shebang, sha1_hex};
use crate::cmd::{is, CmdError, Ctx};
use crate::resp::Args;
use std::sync::atomic::Ordering;

pub fn load(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let body = args.get(2);
    let sha = sha1_hex(body);
    let scripts = &ctx.shared.scripts;
    if !scripts.exists(&sha) {
        let (_, len) = parse_shebang(body).map_err(CmdError::err)?;
        with_function(scripts, &sha, Some(body), len, |_, _| ())?;
    }
    ctx.out.bulk(sha.as_bytes());
    Ok(())
}

pub fn exists(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    ctx.out.array(args.len() - 2);
    for sha in args.iter().skip(2) {
        let sha = String::from_utf8_lossy(sha).to_ascii_lowercase();
        ctx.out.int(i64::from(ctx.shared.scripts.exists(&sha)));
    }
    Ok(())
}

pub fn flush(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let ok = match args.len() {
        2 => true,
        3 => is(args.get(2), "sync") || is(args.get(2), "async"),
        _ => false,
    };
    if !ok {
        return Err(CmdError::err("SCRIPT FLUSH only support SYNC|ASYNC option"));
    }
    ctx.shared.scripts.flush();
    ctx.out.ok();
    Ok(())
}

pub fn kill(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Result<(), CmdError> {
    let busy = &ctx.shared.scripts.busy;
    if !busy.running() {
        return Err(CmdError::Other(
            "NOTBUSY No scripts in execution right now.".into(),
        ));
    }
    if busy.dirty.load(Ordering::Acquire) {
        return Err(CmdError::Other("UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.".into()));
    }
    busy.kill.store(true, Ordering::Release);
    ctx.out.ok();
    Ok(())
}

pub fn help(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Result<(), CmdError> {
    // SCRIPT HELP says "Prints", where the shared help footer says "Print".
    const LINES: &[&str] = &[
        "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DEBUG (YES|SYNC|NO)",
        "    Set the debug mode for subsequent scripts executed.",
        "EXISTS <sha1> [<sha1> ...]",
        "    Return information about the existence of the scripts in the script cache.",
        "FLUSH [ASYNC|SYNC]",
        "    Flush the Lua scripts cache. Very dangerous on replicas.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the scripts cache.",
        "    * SYNC: Synchronously flush the scripts cache.",
        "KILL",
        "    Kill the currently executing Lua script.",
        "LOAD <script>",
        "    Load a script into the scripts cache without executing it.",
        "HELP",
        "    Prints this help.",
    ];
    ctx.out.array(LINES.len());
    for l in LINES {
        ctx.out.simple(l);
    }
    Ok(())
}
