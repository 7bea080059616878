//! COMMAND, COMMAND COUNT|INFO|DOCS|LIST|GETKEYS|HELP: the command table as
//! clients (redis-cli hints, cluster clients' key extraction) read it.

use crate::cmd::{is, table, CmdError, CommandSpec, Ctx};
use crate::resp::Args;
use crate::util::glob;

fn write_info(ctx: &mut Ctx<'_>, spec: &CommandSpec) {
    ctx.out.array(10);
    ctx.out.bulk(spec.name.as_bytes());
    ctx.out.int(i64::from(spec.arity));
    let flags: Vec<&str> = spec.flag_names().collect();
    ctx.out.set(flags.len());
    for f in flags {
        ctx.out.simple(f);
    }
    ctx.out.int(i64::from(spec.keys.0));
    ctx.out.int(i64::from(spec.keys.1));
    ctx.out.int(i64::from(spec.keys.2));
    let cats: Vec<&str> = spec.acl.split_whitespace().collect();
    ctx.out.set(cats.len());
    for c in cats {
        ctx.out.simple(&format!("@{c}"));
    }
    ctx.out.array(0); // tips
    ctx.out.array(0); // key specs
    ctx.out.array(spec.subcommands.len());
    for s in spec.subcommands {
        write_info(ctx, s);
    }
}

fn write_docs(ctx: &mut Ctx<'_>, spec: &CommandSpec) {
    let has_subs = !spec.subcommands.is_empty();
    ctx.out.map(3 + usize::from(has_subs));
    ctx.out.bulk(b"summary");
    ctx.out.bulk(spec.summary.as_bytes());
    ctx.out.bulk(b"since");
    ctx.out.bulk(spec.since.as_bytes());
    ctx.out.bulk(b"group");
    ctx.out.bulk(spec.group.as_bytes());
    if has_subs {
        ctx.out.bulk(b"subcommands");
        ctx.out.map(spec.subcommands.len());
        for s in spec.subcommands {
            ctx.out.bulk(s.name.as_bytes());
            write_docs(ctx, s);
        }
    }
}

/// A command named by a client, for INFO/DOCS: `name` or `parent|sub`.
fn find(name: &[u8]) -> Option<&'static CommandSpec> {
    let lower = name.to_ascii_lowercase();
    let mut parts = lower.splitn(2, |&c| c == b'|');
    let top = table::lookup(parts.next()?)?;
    match parts.next() {
        None => Some(table::spec(top)),
        Some(sub) => table::lookup_sub(top, sub).map(table::spec),
    }
}

pub fn command(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Result<(), CmdError> {
    ctx.out.array(table::top_level().count());
    for spec in table::top_level() {
        write_info(ctx, spec);
    }
    Ok(())
}

pub fn count(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Result<(), CmdError> {
    ctx.out.int(table::top_level().count() as i64);
    Ok(())
}

pub fn info(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    if args.len() == 2 {
        return command(ctx, args);
    }
    let names = args.tail(2);
    ctx.out.array(names.len());
    for n in names.iter() {
        match find(n) {
            Some(spec) => write_info(ctx, spec),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

pub fn docs(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let specs: Vec<&CommandSpec> = if args.len() == 2 {
        table::top_level().collect()
    } else {
        args.tail(2).iter().filter_map(find).collect()
    };
    ctx.out.map(specs.len());
    for spec in specs {
        ctx.out.bulk(spec.name.as_bytes());
        write_docs(ctx, spec);
    }
    Ok(())
}

pub fn list(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let mut filter: Option<(bool, &[u8])> = None; // (is_aclcat, value)
    match args.len() {
        2 => {}
        5 if is(args.get(2), "filterby") => {
            let (kind, v) = (args.get(3), args.get(4));
            if is(kind, "pattern") {
                filter = Some((false, v));
            } else if is(kind, "aclcat") {
                filter = Some((true, v));
            } else if is(kind, "module") {
                ctx.out.array(0);
                return Ok(());
            } else {
                return Err(CmdError::Syntax);
            }
        }
        _ => return Err(CmdError::Syntax),
    }
    let names: Vec<&str> = table::all()
        .iter()
        .filter(|s| match filter {
            None => true,
            Some((false, p)) => glob::matches(p, s.name.as_bytes(), true),
            Some((true, cat)) => s.in_category(cat),
        })
        .map(|s| s.name)
        .collect();
    ctx.out.array(names.len());
    for n in names {
        ctx.out.bulk(n.as_bytes());
    }
    Ok(())
}

pub fn getkeys(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let inner = args.tail(2);
    let id = crate::cmd::resolve(inner).map_err(|e| match e {
        CmdError::Arity(_) => CmdError::err("Invalid number of arguments specified for command"),
        _ => CmdError::err("Invalid command specified"),
    })?;
    let spec = table::spec(id);
    if let Some(nk) = spec.numkeys {
        // A count of keys that is not a positive number within the arguments.
        let n = (nk.at < inner.len())
            .then(|| crate::util::num::parse_i64(inner.get(nk.at)))
            .flatten();
        // EVAL and friends may declare no keys at all, and Redis answers
        // their bad counts with no keys rather than an error.
        let valid = n.is_some_and(|n| n > 0 && (n as usize) < inner.len() - nk.at);
        if !valid && spec.flags & crate::cmd::flags::NO_MANDATORY_KEYS != 0 {
            ctx.out.array(0);
            return Ok(());
        }
        if !n.is_some_and(|n| n > 0 && (n as usize) < inner.len() - nk.at) {
            return Err(CmdError::err("Invalid arguments specified for command"));
        }
    }
    let positions: Vec<usize> = spec.key_positions(inner).collect();
    if positions.is_empty() {
        return Err(CmdError::err("The command has no key arguments"));
    }
    ctx.out.array(positions.len());
    for p in positions {
        ctx.out.bulk(inner.get(p));
    }
    Ok(())
}

pub fn help(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Result<(), CmdError> {
    super::help_reply(
        ctx,
        "COMMAND",
        &[
            "(no subcommand)",
            "    Return details about all commands.",
            "COUNT",
            "    Return the total number of commands in this server.",
            "LIST",
            "    Return a list of all commands in this server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "GETKEYS <full-command>",
            "    Return the keys from a full command.",
        ],
    );
    Ok(())
}
