//! Lists commands.

use crate::cmd::table::CommandSpec;

pub static COMMANDS: &[CommandSpec] = &[];
