//! List commands (the blocking ones, BLPOP and friends, live elsewhere).

pub mod lmove;
pub mod lpos;
pub mod pop;
pub mod push;
pub mod range;
pub mod update;

use crate::cmd::flags::*;
use crate::cmd::is;
use crate::cmd::table::{c, CommandSpec};
use crate::cmd::CmdError;
use crate::store::{EntryMut, Kind, ListObj, Obj, Shard, Ttl, Value, ValueRef};

#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    c!("lpush", -3, WRITE | DENYOOM | FAST, (1, 1, 1), "write list fast", "list", "1.0.0", "Prepend one or multiple elements to a list", push::lpush),
    c!("rpush", -3, WRITE | DENYOOM | FAST, (1, 1, 1), "write list fast", "list", "1.0.0", "Append one or multiple elements to a list", push::rpush),
    c!("lpushx", -3, WRITE | DENYOOM | FAST, (1, 1, 1), "write list fast", "list", "2.2.0", "Prepend an element to a list, only if the list exists", push::lpushx),
    c!("rpushx", -3, WRITE | DENYOOM | FAST, (1, 1, 1), "write list fast", "list", "2.2.0", "Append an element to a list, only if the list exists", push::rpushx),
    c!("lpop", -2, WRITE | FAST, (1, 1, 1), "write list fast", "list", "1.0.0", "Remove and get the first elements in a list", pop::lpop),
    c!("rpop", -2, WRITE | FAST, (1, 1, 1), "write list fast", "list", "1.0.0", "Remove and get the last elements in a list", pop::rpop),
    c!("llen", 2, READONLY | FAST, (1, 1, 1), "read list fast", "list", "1.0.0", "Get the length of a list", range::llen),
    c!("lrange", 4, READONLY, (1, 1, 1), "read list slow", "list", "1.0.0", "Get a range of elements from a list", range::lrange),
    c!("lindex", 3, READONLY, (1, 1, 1), "read list slow", "list", "1.0.0", "Get an element from a list by its index", range::lindex),
    c!("lset", 4, WRITE | DENYOOM, (1, 1, 1), "write list slow", "list", "1.0.0", "Set the value of an element in a list by its index", update::lset),
    c!("linsert", 5, WRITE | DENYOOM, (1, 1, 1), "write list slow", "list", "2.2.0", "Insert an element before or after another element in a list", update::linsert),
    c!("lrem", 4, WRITE, (1, 1, 1), "write list slow", "list", "1.0.0", "Remove elements from a list", update::lrem),
    c!("ltrim", 4, WRITE, (1, 1, 1), "write list slow", "list", "1.0.0", "Trim a list to the specified range", range::ltrim),
    c!("lpos", -3, READONLY, (1, 1, 1), "read list slow", "list", "6.0.6", "Return the index of matching elements on a list", lpos::lpos),
    c!("lmove", 5, WRITE | DENYOOM, (1, 2, 1), "write list slow", "list", "6.2.0", "Pop an element from a list, push it to another list and return it", lmove::lmove),
    c!("rpoplpush", 3, WRITE | DENYOOM, (1, 2, 1), "write list slow", "list", "1.2.0", "Remove the last element in a list, prepend it to another list and return it", lmove::rpoplpush),
    c!("lmpop", -4, WRITE | MOVABLEKEYS, (0, 0, 0), numkeys 1, "write list slow", "list", "7.0.0", "Pop elements from a list", pop::lmpop),
];

/// The list at `key` for reading: None when missing, WRONGTYPE when not a list.
pub fn read<'s>(
    shard: &'s mut Shard,
    key: &[u8],
    now: u64,
) -> Result<Option<&'s ListObj>, CmdError> {
    match shard.get(key, now) {
        None => Ok(None),
        Some(e) => match e.value() {
            ValueRef::List(l) => Ok(Some(l)),
            _ => Err(CmdError::WrongType),
        },
    }
}

/// The list at `key` for writing, if there is one (WRONGTYPE when not a list).
/// Nothing is recorded as changed until [`list`] is called on it.
pub fn existing<'s>(
    shard: &'s mut Shard,
    key: &[u8],
    now: u64,
) -> Result<Option<EntryMut<'s>>, CmdError> {
    match shard.get_mut(key, now) {
        None => Ok(None),
        Some(e) if e.entry().kind() != Kind::List => Err(CmdError::WrongType),
        Some(e) => Ok(Some(e)),
    }
}

/// The list at `key` for writing, created empty when missing. Callers must not
/// fail after this without deleting an empty list, so they validate first.
pub fn open<'s>(shard: &'s mut Shard, key: &[u8], now: u64) -> Result<EntryMut<'s>, CmdError> {
    match shard.peek(key, now) {
        Some(e) if e.kind() != Kind::List => return Err(CmdError::WrongType),
        Some(_) => {}
        None => shard.set(key, Value::Obj(Obj::List(ListObj::new())), Ttl::Clear, now),
    }
    shard.get_mut(key, now).ok_or(CmdError::NoSuchKey)
}

/// The list inside an entry from [`open`] or [`existing`] (marks it changed).
pub fn list<'e>(e: &'e mut EntryMut<'_>) -> &'e mut ListObj {
    e.entry_mut()
        .list_mut()
        .expect("open() and existing() only return lists")
}

/// The list inside an entry, without marking it changed.
pub fn peek_list<'e>(e: &'e EntryMut<'_>) -> &'e ListObj {
    match e.entry().value() {
        ValueRef::List(l) => l,
        _ => unreachable!("open() and existing() only return lists"),
    }
}

/// LEFT or RIGHT: true for LEFT (the head).
pub fn parse_end(arg: &[u8]) -> Result<bool, CmdError> {
    if is(arg, "left") {
        Ok(true)
    } else if is(arg, "right") {
        Ok(false)
    } else {
        Err(CmdError::Syntax)
    }
}

/// Redis' resolution of a possibly negative index against a length.
pub fn resolve_index(index: i64, len: usize) -> Option<usize> {
    let i = if index < 0 {
        (len as i64).checked_add(index)?
    } else {
        index
    };
    usize::try_from(i).ok().filter(|&i| i < len)
}

/// Redis' clamping of a start/stop range against a length: the first index
/// and the number of elements (0 when empty).
pub fn clamp_range(start: i64, end: i64, len: usize) -> (usize, usize) {
    let llen = len as i64;
    let mut start = if start < 0 { llen + start } else { start };
    let mut end = if end < 0 { llen + end } else { end };
    if start < 0 {
        start = 0;
    }
    if start > end || start >= llen {
        return (0, 0);
    }
    if end >= llen {
        end = llen - 1;
    }
    (start as usize, (end - start + 1) as usize)
}
