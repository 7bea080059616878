//! ACL WHOAMI, USERS, LIST, CAT, GETUSER, DRYRUN, LOAD and HELP. Users come
//! from the ACL file ([`crate::acl`]); without one, the default user alone.

use crate::acl::{self, Acl, Denial, User, CATEGORIES};
use crate::cmd::{resolve, table, CmdError, Ctx};
use crate::resp::Args;
use std::sync::Arc;

/// The users as they stand: from the ACL file, or the default user that
/// requirepass guards.
fn users(ctx: &Ctx<'_>) -> Acl {
    if let Some(acl) = ctx.shared.acl.load_full() {
        return (*acl).clone();
    }
    let mut default = User::unrestricted("default");
    if let Some(pw) = &ctx.settings.requirepass {
        default.apply(&format!(">{pw}")).expect("a password rule");
    }
    Acl {
        users: [("default".to_string(), Arc::new(default))].into(),
    }
}

pub fn whoami(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Result<(), CmdError> {
    let name = ctx
        .session
        .user
        .as_ref()
        .map_or_else(|| "default".to_string(), |u| u.name.clone());
    ctx.out.bulk(name.as_bytes());
    Ok(())
}

pub fn users_cmd(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Result<(), CmdError> {
    let acl = users(ctx);
    ctx.out.array(acl.users.len());
    for name in acl.users.keys() {
        ctx.out.bulk(name.as_bytes());
    }
    Ok(())
}

pub fn list(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Result<(), CmdError> {
    let acl = users(ctx);
    ctx.out.array(acl.users.len());
    for u in acl.users.values() {
        ctx.out.bulk(u.describe().as_bytes());
    }
    Ok(())
}

pub fn cat(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    if args.len() > 3 {
        return Err(CmdError::Arity("acl|cat".into()));
    }
    if args.len() == 2 {
        ctx.out.array(CATEGORIES.len());
        for c in CATEGORIES {
            ctx.out.bulk(c.as_bytes());
        }
        return Ok(());
    }
    let want = String::from_utf8_lossy(args.get(2)).to_ascii_lowercase();
    if !CATEGORIES.contains(&want.as_str()) {
        return Err(CmdError::err(format!(
            "Unknown category '{}'",
            String::from_utf8_lossy(args.get(2))
        )));
    }
    let names: Vec<&str> = table::all()
        .iter()
        .filter(|s| s.in_category(want.as_bytes()))
        .map(|s| s.name)
        .collect();
    ctx.out.array(names.len());
    for n in names {
        ctx.out.bulk(n.as_bytes());
    }
    Ok(())
}

pub fn getuser(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let acl = users(ctx);
    let Some(u) = acl.user(args.get(2)) else {
        ctx.out.null();
        return Ok(());
    };
    let out = &mut *ctx.out;
    out.map(6);
    out.bulk(b"flags");
    let mut flags = vec![if u.enabled { "on" } else { "off" }];
    if u.nopass {
        flags.push("nopass");
    }
    out.array(flags.len());
    for f in flags {
        out.bulk(f.as_bytes());
    }
    out.bulk(b"passwords");
    out.array(u.passwords.len());
    for p in &u.passwords {
        out.bulk(p.as_bytes());
    }
    out.bulk(b"commands");
    out.bulk(u.commands_text().as_bytes());
    out.bulk(b"keys");
    out.bulk(u.keys_text().as_bytes());
    out.bulk(b"channels");
    out.bulk(u.channels.join(" ").as_bytes());
    out.bulk(b"selectors");
    out.array(0);
    Ok(())
}

pub fn dryrun(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(), CmdError> {
    let acl = users(ctx);
    let Some(u) = acl.user(args.get(2)) else {
        return Err(CmdError::err(format!(
            "User '{}' not found",
            String::from_utf8_lossy(args.get(2))
        )));
    };
    let request = args.tail(3);
    let id = match resolve(request) {
        Ok(id) => id,
        Err(CmdError::UnknownCommand { .. }) => {
            return Err(CmdError::err(format!(
                "Command '{}' not found",
                String::from_utf8_lossy(request.get(0))
            )))
        }
        Err(e) => return Err(e),
    };
    match acl::denied(&u, id, request) {
        None => ctx.out.ok(),
        Some(Denial::Command(name)) => ctx
            .out
            .bulk(format!("This user has no permissions to run the '{name}' command").as_bytes()),
        Some(Denial::Key(key)) => ctx
            .out
            .bulk(format!("This user has no permissions to access the '{key}' key").as_bytes()),
    }
    Ok(())
}

pub fn load(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Result<(), CmdError> {
    let Some(path) = ctx.shared.config.aclfile.clone() else {
        return Err(CmdError::err("This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration."));
    };
    // A file that does not parse changes nothing.
    let acl = Acl::load(&path).map_err(|e| CmdError::err(format!("Error loading ACLs: {e}")))?;
    ctx.shared.install_acl(acl);
    ctx.out.ok();
    Ok(())
}

pub fn help(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Result<(), CmdError> {
    super::help_reply(
        ctx,
        "ACL",
        &[
            "CAT [<category>]",
            "    List all commands that belong to <category>, or all command categories",
            "    when no category is specified.",
            "DRYRUN <username> <command> [<arg> ...]",
            "    Returns whether the user can execute the given command without executing the command.",
            "GETUSER <username>",
            "    Get the user's details.",
            "LIST",
            "    Show users details in config file format.",
            "LOAD",
            "    Reload users from the ACL file.",
            "USERS",
            "    List all the registered usernames.",
            "WHOAMI",
            "    Return the current connection username.",
        ],
    );
    Ok(())
}
