//! The names and ACL categories of every command and subcommand, in the node's
//! command-table order, so that ACL rules can be checked without the node's
//! handlers (the operator validates ACL files with it). The list is written from
//! the node's table and a node test fails when the two differ; run it with
//! `SHOAL_BLESS=1` to rewrite this file's data (`commands.txt`).

use std::sync::OnceLock;

/// The list as the node's test writes it: `name category…` per line.
pub const TEXT: &str = include_str!("commands.txt");

/// One command: lowercase name (`parent|sub` for subcommands), its categories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub name: &'static str,
    pub categories: Vec<&'static str>,
}

impl Command {
    /// Whether the command is in ACL category `cat` (without `@`, any case).
    pub fn in_category(&self, cat: &str) -> bool {
        self.categories.iter().any(|c| c.eq_ignore_ascii_case(cat))
    }
}

/// Every command, in the node's id order.
pub fn all() -> &'static [Command] {
    static ALL: OnceLock<Vec<Command>> = OnceLock::new();
    ALL.get_or_init(|| {
        TEXT.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let mut words = l.split_whitespace();
                Command {
                    name: words.next().unwrap_or_default(),
                    categories: words.collect(),
                }
            })
            .collect()
    })
}

/// The id of a command by its exact name.
pub fn id(name: &str) -> Option<usize> {
    all().iter().position(|c| c.name == name)
}
