//! Hash commands.

pub mod hdel;
pub mod hget;
pub mod hgetall;
pub mod hincr;
pub mod hrandfield;
pub mod hscan;
pub mod hset;

use crate::cmd::CmdError;
use crate::store::{EntryMut, HashObj, Kind, Obj, Shard, Ttl, Value, ValueRef};

/// The hash at `key` for reading: None when missing, WRONGTYPE when not a hash.
pub fn read<'s>(
    shard: &'s mut Shard,
    key: &[u8],
    now: u64,
) -> Result<Option<&'s HashObj>, CmdError> {
    match shard.get(key, now) {
        None => Ok(None),
        Some(e) => match e.value() {
            ValueRef::Hash(h) => Ok(Some(h)),
            _ => Err(CmdError::WrongType),
        },
    }
}

/// The hash at `key` for writing, created empty when missing. Callers must not
/// fail after this without deleting an empty hash, so they validate first.
pub fn open<'s>(shard: &'s mut Shard, key: &[u8], now: u64) -> Result<EntryMut<'s>, CmdError> {
    match shard.peek(key, now) {
        Some(e) if e.kind() != Kind::Hash => return Err(CmdError::WrongType),
        Some(_) => {}
        None => shard.set(key, Value::Obj(Obj::Hash(HashObj::new())), Ttl::Clear, now),
    }
    shard.get_mut(key, now).ok_or(CmdError::NoSuchKey)
}

/// The hash inside an entry opened with [`open`].
pub fn hash<'e>(e: &'e mut EntryMut<'_>) -> &'e mut HashObj {
    e.entry_mut()
        .hash_mut()
        .expect("open() only returns hashes")
}
