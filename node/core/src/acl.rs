//! ACL users, as Redis defines them: who may log in (on/off, passwords kept as
//! SHA-256), which commands they may run (`+@category`, `-command`, …, applied
//! in order) and which keys they may read or write (`~pattern`, `%R~`, `%W~`).
//!
//! Users come from an ACL file (`--aclfile`, Redis syntax: one `user <name>
//! <rules>…` per line). Without one, the default user alone exists, guarded by
//! `requirepass` (see `cmd::server::hello`), and no check runs per command.

use crate::catalog;
use crate::util::glob;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// Redis 7's ACL categories, in ACL CAT order.
pub const CATEGORIES: &[&str] = &[
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AclError {
    #[error("Error in ACL SETUSER modifier '{0}': Syntax error")]
    Rule(String),
    #[error("Error in ACL SETUSER modifier '{0}': Unknown command or category name in ACL")]
    Unknown(String),
    #[error("line {line}: {reason}")]
    Line { line: usize, reason: String },
    #[error("{0}")]
    File(String),
}

/// A key pattern and what it grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRule {
    pub pattern: Vec<u8>,
    pub read: bool,
    pub write: bool,
}

impl KeyRule {
    fn describe(&self) -> String {
        let p = String::from_utf8_lossy(&self.pattern);
        match (self.read, self.write) {
            (true, true) => format!("~{p}"),
            (true, false) => format!("%R~{p}"),
            _ => format!("%W~{p}"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct User {
    pub name: String,
    pub enabled: bool,
    pub nopass: bool,
    /// SHA-256 of each password, lowercase hex.
    pub passwords: Vec<String>,
    pub keys: Vec<KeyRule>,
    /// Channel rules are kept for display only: Shoal has no pub/sub.
    pub channels: Vec<String>,
    /// The command rules in the order given, for ACL LIST and GETUSER.
    pub command_rules: Vec<String>,
    /// Per command table id: may this user run it?
    allowed: Vec<bool>,
}

fn sha256_hex(pw: &[u8]) -> String {
    let digest = Sha256::digest(pw);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

impl User {
    /// A new user: off, no password, no commands, no keys (as ACL SETUSER makes).
    pub fn new(name: &str) -> User {
        User {
            name: name.to_string(),
            enabled: false,
            nopass: false,
            passwords: Vec::new(),
            keys: Vec::new(),
            channels: Vec::new(),
            command_rules: Vec::new(),
            allowed: vec![false; catalog::all().len()],
        }
    }

    /// The default user of a node without an ACL file.
    pub fn unrestricted(name: &str) -> User {
        let mut u = User::new(name);
        for r in ["on", "nopass", "~*", "&*", "+@all"] {
            u.apply(r).expect("valid rule");
        }
        u
    }

    /// Applies one rule, left to right as Redis does.
    pub fn apply(&mut self, rule: &str) -> Result<(), AclError> {
        let lower = rule.to_ascii_lowercase();
        match lower.as_str() {
            "on" => self.enabled = true,
            "off" => self.enabled = false,
            "nopass" => {
                self.nopass = true;
                self.passwords.clear();
            }
            "resetpass" => {
                self.nopass = false;
                self.passwords.clear();
            }
            "allkeys" => self.apply("~*")?,
            "resetkeys" => self.keys.clear(),
            "allchannels" => self.channels = vec!["&*".into()],
            "resetchannels" => self.channels.clear(),
            "allcommands" => self.apply("+@all")?,
            "nocommands" => self.apply("-@all")?,
            "reset" => *self = User::new(&self.name),
            _ => return self.apply_prefixed(rule),
        }
        Ok(())
    }

    fn apply_prefixed(&mut self, rule: &str) -> Result<(), AclError> {
        let bad = || AclError::Rule(rule.to_string());
        if let Some(pw) = rule.strip_prefix('>') {
            let h = sha256_hex(pw.as_bytes());
            if !self.passwords.contains(&h) {
                self.passwords.push(h);
            }
            self.nopass = false;
        } else if let Some(pw) = rule.strip_prefix('<') {
            let h = sha256_hex(pw.as_bytes());
            self.passwords.retain(|p| *p != h);
        } else if let Some(h) = rule.strip_prefix('#') {
            if h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad());
            }
            let h = h.to_ascii_lowercase();
            if !self.passwords.contains(&h) {
                self.passwords.push(h);
            }
            self.nopass = false;
        } else if let Some(h) = rule.strip_prefix('!') {
            let h = h.to_ascii_lowercase();
            self.passwords.retain(|p| *p != h);
        } else if let Some(p) = rule.strip_prefix('~') {
            self.add_key(p, true, true);
        } else if let Some(rest) = rule.strip_prefix('%') {
            let (perm, p) = rest.split_once('~').ok_or_else(bad)?;
            let perm = perm.to_ascii_uppercase();
            let (read, write) = (perm.contains('R'), perm.contains('W'));
            if perm.is_empty() || perm.chars().any(|c| c != 'R' && c != 'W') {
                return Err(bad());
            }
            self.add_key(p, read, write);
        } else if rule.starts_with('&') {
            self.channels.push(rule.to_string());
        } else if let Some(what) = rule.strip_prefix('+') {
            self.set_commands(what, true, rule)?;
        } else if let Some(what) = rule.strip_prefix('-') {
            self.set_commands(what, false, rule)?;
        } else {
            return Err(bad());
        }
        Ok(())
    }

    fn add_key(&mut self, pattern: &str, read: bool, write: bool) {
        let rule = KeyRule {
            pattern: pattern.as_bytes().to_vec(),
            read,
            write,
        };
        if !self.keys.contains(&rule) {
            self.keys.push(rule);
        }
    }

    fn set_commands(&mut self, what: &str, allow: bool, rule: &str) -> Result<(), AclError> {
        let what = what.to_ascii_lowercase();
        let all = catalog::all();
        if let Some(cat) = what.strip_prefix('@') {
            if cat != "all" && !CATEGORIES.contains(&cat) {
                return Err(AclError::Unknown(rule.to_string()));
            }
            for (id, spec) in all.iter().enumerate() {
                if cat == "all" || spec.in_category(cat) {
                    self.allowed[id] = allow;
                }
            }
        } else {
            let mut found = false;
            for (id, spec) in all.iter().enumerate() {
                // A container rule covers its subcommands.
                let parent = spec.name.split('|').next().unwrap_or(spec.name);
                if spec.name == what || (!what.contains('|') && parent == what) {
                    self.allowed[id] = allow;
                    found = true;
                }
            }
            if !found {
                return Err(AclError::Unknown(rule.to_string()));
            }
        }
        self.command_rules
            .push(format!("{}{}", if allow { '+' } else { '-' }, what));
        Ok(())
    }

    pub fn can_run(&self, id: usize) -> bool {
        self.allowed.get(id).copied().unwrap_or(false)
    }

    /// Whether `key` may be read (or written, when `write`).
    pub fn key_allowed(&self, key: &[u8], write: bool) -> bool {
        self.keys.iter().any(|r| {
            (if write { r.write } else { r.read }) && glob::matches(&r.pattern, key, false)
        })
    }

    /// Whether `password` opens this user: constant time per stored hash.
    pub fn password_ok(&self, password: &[u8]) -> bool {
        if !self.enabled {
            return false;
        }
        if self.nopass {
            return true;
        }
        let h = sha256_hex(password);
        self.passwords.iter().fold(false, |ok, p| {
            ok | bool::from(p.as_bytes().ct_eq(h.as_bytes()))
        })
    }

    /// The user as ACL LIST shows it (Redis' config-file syntax).
    pub fn describe(&self) -> String {
        let mut parts = vec![
            "user".to_string(),
            self.name.clone(),
            if self.enabled { "on" } else { "off" }.to_string(),
        ];
        if self.nopass {
            parts.push("nopass".into());
        }
        parts.extend(self.passwords.iter().map(|p| format!("#{p}")));
        if self.keys.is_empty() {
            parts.push("resetkeys".into());
        } else {
            parts.extend(self.keys.iter().map(KeyRule::describe));
        }
        if self.channels.is_empty() {
            parts.push("resetchannels".into());
        } else {
            parts.extend(self.channels.iter().cloned());
        }
        if self.command_rules.is_empty() {
            parts.push("-@all".into());
        } else {
            parts.extend(self.command_rules.iter().cloned());
        }
        parts.join(" ")
    }

    pub fn keys_text(&self) -> String {
        self.keys
            .iter()
            .map(KeyRule::describe)
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub fn commands_text(&self) -> String {
        if self.command_rules.is_empty() {
            "-@all".into()
        } else {
            self.command_rules.join(" ")
        }
    }
}

/// The users of a node.
#[derive(Debug, Clone)]
pub struct Acl {
    pub users: BTreeMap<String, Arc<User>>,
}

impl Acl {
    /// Parses an ACL file: `user <name> <rule>…` per line; blank lines and
    /// lines starting with `#` are skipped. A file without a default user gets
    /// Redis' default (on, nopass, every key and command).
    pub fn parse(text: &str) -> Result<Acl, AclError> {
        let mut users = BTreeMap::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let err = |reason: String| AclError::Line {
                line: i + 1,
                reason,
            };
            let mut words = line.split_whitespace();
            if words.next() != Some("user") {
                return Err(err("lines must start with 'user'".into()));
            }
            let name = words
                .next()
                .ok_or_else(|| err("a user needs a name".into()))?;
            let mut u = User::new(name);
            for rule in words {
                u.apply(rule).map_err(|e| err(e.to_string()))?;
            }
            if users.insert(name.to_string(), Arc::new(u)).is_some() {
                return Err(err(format!("duplicate user '{name}'")));
            }
        }
        users
            .entry("default".to_string())
            .or_insert_with(|| Arc::new(User::unrestricted("default")));
        Ok(Acl { users })
    }

    /// Adds the user links log in as (`masteruser`, `masterauth`), with every
    /// permission, unless the file defines it: peers of a cluster whose ACL
    /// file disables the default user still reach each other.
    pub fn ensure_link_user(&mut self, login: Option<&(String, String)>) {
        let Some((name, password)) = login else {
            return;
        };
        self.users.entry(name.clone()).or_insert_with(|| {
            let mut u = User::unrestricted(name);
            u.nopass = false;
            u.passwords = vec![sha256_hex(password.as_bytes())];
            Arc::new(u)
        });
    }

    pub fn load(path: &std::path::Path) -> Result<Acl, AclError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| AclError::File(format!("{}: {e}", path.display())))?;
        Acl::parse(&text)
    }

    pub fn user(&self, name: &[u8]) -> Option<Arc<User>> {
        std::str::from_utf8(name)
            .ok()
            .and_then(|n| self.users.get(n).cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(name: &str) -> usize {
        catalog::id(name).unwrap()
    }

    #[test]
    fn rules_apply_in_order() {
        let acl = Acl::parse(
            "user reader on >readpw ~* -@all +@read +ping\n\
             user sess on >sesspw ~session:* +@all\n\
             user rw on >rwpw %R~r:* %W~w:* +@all\n\
             user off off >offpw +@all ~*\n",
        )
        .unwrap();
        let reader = acl.user(b"reader").unwrap();
        assert!(reader.can_run(id("get")) && reader.can_run(id("ping")));
        assert!(!reader.can_run(id("set")) && !reader.can_run(id("acl|whoami")));
        assert!(reader.password_ok(b"readpw") && !reader.password_ok(b"nope"));
        assert!(!acl.user(b"off").unwrap().password_ok(b"offpw"));
        let rw = acl.user(b"rw").unwrap();
        assert!(rw.key_allowed(b"r:1", false) && !rw.key_allowed(b"r:1", true));
        assert!(rw.key_allowed(b"w:1", true) && !rw.key_allowed(b"w:1", false));
        assert_eq!(
            reader.describe(),
            "user reader on #58d5ea977110f496f363782c2d79b74692a7ee2bbf77276d394dc9e5ac50ebca ~* resetchannels -@all +@read +ping"
        );
        assert_eq!(
            acl.user(b"default").unwrap().describe(),
            "user default on nopass ~* &* +@all"
        );
    }

    #[test]
    fn bad_rules_and_files_are_refused() {
        assert!(Acl::parse("user x on +@nosuch").is_err());
        assert!(Acl::parse("user x on +nosuchcommand").is_err());
        assert!(Acl::parse("user x on #abc").is_err());
        assert!(Acl::parse("user x on %X~a").is_err());
        assert!(Acl::parse("nonsense").is_err());
        assert!(Acl::parse("user x on\nuser x off").is_err());
        let containers = Acl::parse("user c on +client -client|kill").unwrap();
        let c = containers.user(b"c").unwrap();
        assert!(c.can_run(id("client|list")) && !c.can_run(id("client|kill")));
    }
}
