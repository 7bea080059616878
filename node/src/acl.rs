//! ACL users and rules live in `shoal_core::acl` (the operator checks ACL files
//! with them); here is the check the node runs per command, which needs the
//! command table's flags and key positions.

use crate::cmd::table;
pub use shoal_core::acl::*;

/// Why a user may not run a request: None when it may.
pub fn denied(user: &User, id: usize, args: crate::resp::Args<'_>) -> Option<Denial> {
    let spec = table::spec(id);
    if !user.can_run(id) {
        return Some(Denial::Command(spec.name));
    }
    let write = spec.flags & crate::cmd::flags::WRITE != 0;
    spec.key_positions(args)
        .map(|i| args.get(i))
        .find(|k| !user.key_allowed(k, write))
        .map(|k| Denial::Key(String::from_utf8_lossy(k).into_owned()))
}

#[derive(Debug, PartialEq, Eq)]
pub enum Denial {
    Command(&'static str),
    Key(String),
}

#[cfg(test)]
mod tests {
    use crate::cmd::table;

    /// The ACL catalog in shoal-core must list the table's commands, in id
    /// order, with their categories. `SHOAL_BLESS=1` rewrites it.
    #[test]
    fn the_acl_catalog_matches_the_command_table() {
        let text: String = table::all()
            .iter()
            .map(|s| {
                let mut line = s.name.to_string();
                for c in s.acl.split_whitespace() {
                    line.push(' ');
                    line.push_str(c);
                }
                line + "\n"
            })
            .collect();
        if std::env::var_os("SHOAL_BLESS").is_some() {
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/core/src/commands.txt");
            std::fs::write(path, &text).unwrap();
            return;
        }
        assert!(
            text == shoal_core::catalog::TEXT,
            "node/core/src/commands.txt is stale: run SHOAL_BLESS=1 cargo test -p shoal-node --lib the_acl_catalog"
        );
    }
}
