//! Set commands.

pub mod algebra;
pub mod sadd;
pub mod smembers;
pub mod smove;
pub mod spop;
pub mod sscan;

use crate::cmd::flags::*;
use crate::cmd::table::{c, CommandSpec};
use crate::cmd::CmdError;
use crate::store::{EntryMut, Kind, Obj, SetObj, Shard, Ttl, Value, ValueRef};

pub use algebra::{sdiff, sdiffstore, sinter, sintercard, sinterstore, sunion, sunionstore};
pub use sadd::{sadd, srem};
pub use smembers::{scard, sismember, smembers, smismember};
pub use smove::smove;
pub use spop::{spop, srandmember};
pub use sscan::sscan;

pub static COMMANDS: &[CommandSpec] = &[
    c!(
        "sadd",
        -3,
        WRITE | DENYOOM | FAST,
        (1, 1, 1),
        "write set fast",
        "set",
        "1.0.0",
        "Add one or more members to a set",
        sadd
    ),
    c!(
        "srem",
        -3,
        WRITE | FAST,
        (1, 1, 1),
        "write set fast",
        "set",
        "1.0.0",
        "Remove one or more members from a set",
        srem
    ),
    c!(
        "smembers",
        2,
        READONLY,
        (1, 1, 1),
        "read set slow",
        "set",
        "1.0.0",
        "Get all the members in a set",
        smembers
    ),
    c!(
        "sismember",
        3,
        READONLY | FAST,
        (1, 1, 1),
        "read set fast",
        "set",
        "1.0.0",
        "Determine if a given value is a member of a set",
        sismember
    ),
    c!(
        "smismember",
        -3,
        READONLY | FAST,
        (1, 1, 1),
        "read set fast",
        "set",
        "6.2.0",
        "Returns the membership associated with the given elements for a set",
        smismember
    ),
    c!(
        "scard",
        2,
        READONLY | FAST,
        (1, 1, 1),
        "read set fast",
        "set",
        "1.0.0",
        "Get the number of members in a set",
        scard
    ),
    c!(
        "spop",
        -2,
        WRITE | FAST,
        (1, 1, 1),
        "write set fast",
        "set",
        "1.0.0",
        "Remove and return one or multiple random members from a set",
        spop
    ),
    c!(
        "srandmember",
        -2,
        READONLY,
        (1, 1, 1),
        "read set slow",
        "set",
        "1.0.0",
        "Get one or multiple random members from a set",
        srandmember
    ),
    c!(
        "smove",
        4,
        WRITE | FAST,
        (1, 2, 1),
        "write set fast",
        "set",
        "1.0.0",
        "Move a member from one set to another",
        smove
    ),
    c!(
        "sinter",
        -2,
        READONLY,
        (1, -1, 1),
        "read set slow",
        "set",
        "1.0.0",
        "Intersect multiple sets",
        sinter
    ),
    c!("sintercard", -3, READONLY | MOVABLEKEYS, (0, 0, 0), numkeys 1, "read set slow", "set", "7.0.0", "Intersect multiple sets and return the cardinality of the result", sintercard),
    c!(
        "sinterstore",
        -3,
        WRITE | DENYOOM,
        (1, -1, 1),
        "write set slow",
        "set",
        "1.0.0",
        "Intersect multiple sets and store the resulting set in a key",
        sinterstore
    ),
    c!(
        "sunion",
        -2,
        READONLY,
        (1, -1, 1),
        "read set slow",
        "set",
        "1.0.0",
        "Add multiple sets",
        sunion
    ),
    c!(
        "sunionstore",
        -3,
        WRITE | DENYOOM,
        (1, -1, 1),
        "write set slow",
        "set",
        "1.0.0",
        "Add multiple sets and store the resulting set in a key",
        sunionstore
    ),
    c!(
        "sdiff",
        -2,
        READONLY,
        (1, -1, 1),
        "read set slow",
        "set",
        "1.0.0",
        "Subtract multiple sets",
        sdiff
    ),
    c!(
        "sdiffstore",
        -3,
        WRITE | DENYOOM,
        (1, -1, 1),
        "write set slow",
        "set",
        "1.0.0",
        "Subtract multiple sets and store the resulting set in a key",
        sdiffstore
    ),
    c!(
        "sscan",
        -3,
        READONLY,
        (1, 1, 1),
        "read set slow",
        "set",
        "2.8.0",
        "Incrementally iterate Set elements",
        sscan
    ),
];

/// The set at `key` for reading: None when missing, WRONGTYPE when not a set.
pub fn read<'s>(
    shard: &'s mut Shard,
    key: &[u8],
    now: u64,
) -> Result<Option<&'s SetObj>, CmdError> {
    match shard.get(key, now) {
        None => Ok(None),
        Some(e) => match e.value() {
            ValueRef::Set(s) => Ok(Some(s)),
            _ => Err(CmdError::WrongType),
        },
    }
}

/// The set at `key` for writing, created empty when missing. Callers add at
/// least one member right after, so no empty set is left behind.
pub fn open<'s>(shard: &'s mut Shard, key: &[u8], now: u64) -> Result<EntryMut<'s>, CmdError> {
    match shard.peek(key, now) {
        Some(e) if e.kind() != Kind::Set => return Err(CmdError::WrongType),
        Some(_) => {}
        None => shard.set(key, Value::Obj(Obj::Set(SetObj::new())), Ttl::Clear, now),
    }
    shard.get_mut(key, now).ok_or(CmdError::NoSuchKey)
}

/// The existing set at `key` for writing: None when missing.
pub fn existing<'s>(
    shard: &'s mut Shard,
    key: &[u8],
    now: u64,
) -> Result<Option<EntryMut<'s>>, CmdError> {
    match shard.peek(key, now) {
        None => Ok(None),
        Some(e) if e.kind() != Kind::Set => Err(CmdError::WrongType),
        Some(_) => Ok(shard.get_mut(key, now)),
    }
}

/// The set inside an entry opened with [`open`] or [`existing`].
pub fn set<'e>(e: &'e mut EntryMut<'_>) -> &'e mut SetObj {
    e.entry_mut().set_mut().expect("only sets are opened")
}

/// Replaces `key` with `result` whatever it held (its TTL goes too), or
/// deletes it when `result` is empty, as the *STORE commands do. Returns the
/// stored cardinality.
pub fn store(shard: &mut Shard, key: &[u8], result: SetObj, now: u64) -> usize {
    let n = result.len();
    if n == 0 {
        shard.remove(key, now);
    } else {
        shard.set(key, Value::Obj(Obj::Set(result)), Ttl::Clear, now);
    }
    n
}
