//! Connection and server commands.

pub mod acl;
pub mod client;
pub mod command;
pub mod config;
pub mod dbsize;
pub mod debug;
pub mod hello;
pub mod info;
pub mod memory;
pub mod ping;
pub mod quit;
pub mod replication;
pub mod save;
pub mod select;
pub mod time;

use crate::cmd::Ctx;

/// The reply of `<CMD> HELP`, shaped like Redis' `addReplyHelp`.
pub fn help_reply(ctx: &mut Ctx<'_>, cmd: &str, lines: &[&str]) {
    help_reply_with(ctx, cmd, lines, "    Print this help.");
}

/// As [`help_reply`], with the wording of the HELP line some commands use
/// ("Prints this help." for PUBSUB).
pub fn help_reply_with(ctx: &mut Ctx<'_>, cmd: &str, lines: &[&str], help: &str) {
    ctx.out.array(lines.len() + 3);
    ctx.out.simple(&format!(
        "{cmd} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    ));
    for l in lines {
        ctx.out.simple(l);
    }
    ctx.out.simple("HELP");
    ctx.out.simple(help);
}
