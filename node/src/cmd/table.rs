//! The command table: names, arity, flags, key positions, ACL categories and docs,
//! as redis-server 7 reports them in COMMAND INFO and COMMAND DOCS (a test checks
//! them against a real redis-server), plus the handler of each command.

pub(crate) use super::flags::*;
use super::{cluster, hashes, keys, server, strings, Handler};
use std::collections::HashMap;
use std::sync::OnceLock;

pub struct CommandSpec {
    /// Lowercase; subcommands are `parent|sub`, as in Redis 7.
    pub name: &'static str,
    /// Exact argument count including the name, or `-N` for at least N.
    pub arity: i32,
    pub flags: u32,
    /// First key, last key (negative: from the end), step between keys.
    pub keys: (i32, i32, i32),
    /// ACL categories, space separated, without `@`.
    pub acl: &'static str,
    pub group: &'static str,
    pub since: &'static str,
    pub summary: &'static str,
    pub handler: Option<Handler>,
    pub subcommands: &'static [CommandSpec],
    /// Keys counted by an argument (`movablekeys`): see [`NumKeys`].
    pub numkeys: Option<NumKeys>,
    /// One more key found by reading the arguments (SORT's STORE destination).
    pub extra_key: Option<fn(crate::resp::Args<'_>) -> Option<usize>>,
}

/// Keys whose number is an argument: `numkeys` at position `at`, the keys right
/// after it (ZUNIONSTORE dest 2 a b: at 2; ZUNION 2 a b: at 1; EVAL s 1 k: at 2).
/// Keys from the first/last/step triple come first (ZUNIONSTORE's destination).
#[derive(Clone, Copy, Debug)]
pub struct NumKeys {
    pub at: usize,
}

impl CommandSpec {
    pub fn arity_ok(&self, argc: usize) -> bool {
        let a = self.arity;
        if a >= 0 {
            argc == a as usize
        } else {
            argc >= (-a) as usize
        }
    }

    /// Whether the command is in ACL category `cat` (without `@`, any case).
    pub fn in_category(&self, cat: &[u8]) -> bool {
        self.acl
            .split_whitespace()
            .any(|c| c.as_bytes().eq_ignore_ascii_case(cat))
    }

    pub fn flag_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        NAMES
            .iter()
            .filter(|(bit, _)| self.flags & bit != 0)
            .map(|(_, n)| *n)
    }

    /// Positions of the key arguments of a request: the first/last/step range,
    /// then the keys counted by a `numkeys` argument. A `numkeys` that is not a
    /// number, is negative or counts past the end gives no counted keys: the
    /// command then refuses it before touching any key.
    pub fn key_positions(&self, args: crate::resp::Args<'_>) -> impl Iterator<Item = usize> {
        let argc = args.len();
        let counted = match self.numkeys {
            Some(NumKeys { at }) if at < argc => match crate::util::num::parse_i64(args.get(at)) {
                Some(n) if n >= 0 && (n as usize) < argc - at => at + 1..at + 1 + n as usize,
                _ => 0..0,
            },
            _ => 0..0,
        };
        let extra = self.extra_key.and_then(|f| f(args));
        self.range_positions(argc).chain(counted).chain(extra)
    }

    /// Positions from the first/last/step triple alone.
    pub fn range_positions(&self, argc: usize) -> impl Iterator<Item = usize> {
        let (first, last, step) = self.keys;
        let (first, step) = (first.max(0) as usize, step.max(1) as usize);
        let last = if last < 0 {
            (argc as i64 + i64::from(last)).max(0) as usize
        } else {
            last as usize
        };
        let range = if first > 0 && first < argc {
            first..last.min(argc - 1) + 1
        } else {
            0..0
        };
        range.step_by(step)
    }
}

macro_rules! c {
    ($name:literal, $arity:expr, $flags:expr, ($f:expr, $l:expr, $s:expr), $acl:literal, $group:literal, $since:literal, $summary:literal, $handler:expr) => {
        CommandSpec {
            name: $name,
            arity: $arity,
            flags: $flags,
            keys: ($f, $l, $s),
            acl: $acl,
            group: $group,
            since: $since,
            summary: $summary,
            handler: Some($handler),
            subcommands: &[],
            numkeys: None,
            extra_key: None,
        }
    };
    ($name:literal, $arity:expr, $flags:expr, ($f:expr, $l:expr, $s:expr), numkeys $at:expr, $acl:literal, $group:literal, $since:literal, $summary:literal, $handler:expr) => {
        CommandSpec {
            name: $name,
            arity: $arity,
            flags: $flags,
            keys: ($f, $l, $s),
            acl: $acl,
            group: $group,
            since: $since,
            summary: $summary,
            handler: Some($handler),
            subcommands: &[],
            numkeys: Some($crate::cmd::table::NumKeys { at: $at }),
            extra_key: None,
        }
    };
}
pub(crate) use c;

macro_rules! container {
    ($name:literal, $arity:expr, $flags:expr, $acl:literal, $group:literal, $since:literal, $summary:literal, $handler:expr, $subs:expr) => {
        CommandSpec {
            name: $name,
            arity: $arity,
            flags: $flags,
            keys: (0, 0, 0),
            acl: $acl,
            group: $group,
            since: $since,
            summary: $summary,
            handler: $handler,
            subcommands: $subs,
            numkeys: None,
            extra_key: None,
        }
    };
}
pub(crate) use container;

pub(crate) const RF: u32 = READONLY | FAST;
pub(crate) const WF: u32 = WRITE | FAST;
pub(crate) const WD: u32 = WRITE | DENYOOM;
pub(crate) const WDF: u32 = WRITE | DENYOOM | FAST;
const CONN: u32 = FAST | LOADING | STALE;
const CONN_NOAUTH: u32 = ALLOW_BUSY | FAST | LOADING | NO_AUTH | NOSCRIPT | STALE;
const CLIENT_FLAGS: u32 = LOADING | NOSCRIPT | STALE;
const ADMIN_FLAGS: u32 = ADMIN | LOADING | NOSCRIPT | STALE;

use keys as k;
use server as s;
use strings as st;

pub static TABLE: &[CommandSpec] = &[
    // Strings.
    c!("get", 2, RF, (1, 1, 1), "read string fast", "string", "1.0.0", "Get the value of a key", st::get::get),
    c!("set", -3, WD, (1, 1, 1), "write string slow", "string", "1.0.0", "Set the string value of a key", st::set::set),
    c!("setnx", 3, WDF, (1, 1, 1), "write string fast", "string", "1.0.0", "Set the value of a key, only if the key does not exist", st::set::setnx),
    c!("setex", 4, WD, (1, 1, 1), "write string slow", "string", "2.0.0", "Set the value and expiration of a key", st::set::setex),
    c!("psetex", 4, WD, (1, 1, 1), "write string slow", "string", "2.6.0", "Set the value and expiration in milliseconds of a key", st::set::psetex),
    c!("getset", 3, WDF, (1, 1, 1), "write string fast", "string", "1.0.0", "Set the string value of a key and return its old value", st::set::getset),
    c!("getdel", 2, WF, (1, 1, 1), "write string fast", "string", "6.2.0", "Get the value of a key and delete the key", st::getex::getdel),
    c!("getex", -2, WF, (1, 1, 1), "write string fast", "string", "6.2.0", "Get the value of a key and optionally set its expiration", st::getex::getex),
    c!("mget", -2, RF, (1, -1, 1), "read string fast", "string", "1.0.0", "Get the values of all the given keys", st::mget::mget),
    c!("mset", -3, WD, (1, -1, 2), "write string slow", "string", "1.0.1", "Set multiple keys to multiple values", st::mset::mset),
    c!("msetnx", -3, WD, (1, -1, 2), "write string slow", "string", "1.0.1", "Set multiple keys to multiple values, only if none of the keys exist", st::mset::msetnx),
    c!("append", 3, WDF, (1, 1, 1), "write string fast", "string", "2.0.0", "Append a value to a key", st::append::append),
    c!("strlen", 2, RF, (1, 1, 1), "read string fast", "string", "2.2.0", "Get the length of the value stored in a key", st::strlen::strlen),
    c!("getrange", 4, READONLY, (1, 1, 1), "read string slow", "string", "2.4.0", "Get a substring of the string stored at a key", st::getrange::getrange),
    c!("substr", 4, READONLY, (1, 1, 1), "read string slow", "string", "1.0.0", "Get a substring of the string stored at a key", st::getrange::getrange),
    c!("setrange", 4, WD, (1, 1, 1), "write string slow", "string", "2.2.0", "Overwrite part of a string at key starting at the specified offset", st::setrange::setrange),
    c!("incr", 2, WDF, (1, 1, 1), "write string fast", "string", "1.0.0", "Increment the integer value of a key by one", st::incr::incr),
    c!("decr", 2, WDF, (1, 1, 1), "write string fast", "string", "1.0.0", "Decrement the integer value of a key by one", st::incr::decr),
    c!("incrby", 3, WDF, (1, 1, 1), "write string fast", "string", "1.0.0", "Increment the integer value of a key by the given amount", st::incr::incrby),
    c!("decrby", 3, WDF, (1, 1, 1), "write string fast", "string", "1.0.0", "Decrement the integer value of a key by the given number", st::incr::decrby),
    c!("incrbyfloat", 3, WDF, (1, 1, 1), "write string fast", "string", "2.6.0", "Increment the float value of a key by the given amount", st::incr::incrbyfloat),
    c!("setbit", 4, WD, (1, 1, 1), "write bitmap slow", "bitmap", "2.2.0", "Sets or clears the bit at offset in the string value stored at key", st::bits::setbit),
    c!("getbit", 3, RF, (1, 1, 1), "read bitmap fast", "bitmap", "2.2.0", "Returns the bit value at offset in the string value stored at key", st::bits::getbit),
    c!("bitcount", -2, READONLY, (1, 1, 1), "read bitmap slow", "bitmap", "2.6.0", "Count set bits in a string", st::bits::bitcount),
    c!("bitpos", -3, READONLY, (1, 1, 1), "read bitmap slow", "bitmap", "2.8.7", "Find first bit set or clear in a string", st::bits::bitpos),
    c!("bitop", -4, WD, (2, -1, 1), "write bitmap slow", "bitmap", "2.6.0", "Perform bitwise operations between strings", st::bits::bitop),
    c!("bitfield", -2, WD, (1, 1, 1), "write bitmap slow", "bitmap", "3.2.0", "Perform arbitrary bitfield integer operations on strings", st::bitfield::bitfield),
    c!("bitfield_ro", -2, READONLY | FAST, (1, 1, 1), "read bitmap fast", "bitmap", "6.0.0", "Perform arbitrary bitfield integer operations on strings. Read-only variant of BITFIELD", st::bitfield::bitfield_ro),
    c!("lcs", -3, READONLY, (1, 2, 1), "read string slow", "string", "7.0.0", "Find longest common substring", st::lcs::lcs_cmd),
    // Hashes.
    c!("hset", -4, WDF, (1, 1, 1), "write hash fast", "hash", "2.0.0", "Set the string value of a hash field", hashes::hset::hset),
    c!("hmset", -4, WDF, (1, 1, 1), "write hash fast", "hash", "2.0.0", "Set multiple hash fields to multiple values", hashes::hset::hmset),
    c!("hsetnx", 4, WDF, (1, 1, 1), "write hash fast", "hash", "2.0.0", "Set the value of a hash field, only if the field does not exist", hashes::hset::hsetnx),
    c!("hget", 3, RF, (1, 1, 1), "read hash fast", "hash", "2.0.0", "Get the value of a hash field", hashes::hget::hget),
    c!("hmget", -3, RF, (1, 1, 1), "read hash fast", "hash", "2.0.0", "Get the values of all the given hash fields", hashes::hget::hmget),
    c!("hexists", 3, RF, (1, 1, 1), "read hash fast", "hash", "2.0.0", "Determine if a hash field exists", hashes::hget::hexists),
    c!("hstrlen", 3, RF, (1, 1, 1), "read hash fast", "hash", "3.2.0", "Get the length of the value of a hash field", hashes::hget::hstrlen),
    c!("hlen", 2, RF, (1, 1, 1), "read hash fast", "hash", "2.0.0", "Get the number of fields in a hash", hashes::hget::hlen),
    c!("hdel", -3, WF, (1, 1, 1), "write hash fast", "hash", "2.0.0", "Delete one or more hash fields", hashes::hdel::hdel),
    c!("hgetall", 2, READONLY, (1, 1, 1), "read hash slow", "hash", "2.0.0", "Get all the fields and values in a hash", hashes::hgetall::hgetall),
    c!("hkeys", 2, READONLY, (1, 1, 1), "read hash slow", "hash", "2.0.0", "Get all the fields in a hash", hashes::hgetall::hkeys),
    c!("hvals", 2, READONLY, (1, 1, 1), "read hash slow", "hash", "2.0.0", "Get all the values in a hash", hashes::hgetall::hvals),
    c!("hincrby", 4, WDF, (1, 1, 1), "write hash fast", "hash", "2.0.0", "Increment the integer value of a hash field by the given number", hashes::hincr::hincrby),
    c!("hincrbyfloat", 4, WDF, (1, 1, 1), "write hash fast", "hash", "2.6.0", "Increment the float value of a hash field by the given amount", hashes::hincr::hincrbyfloat),
    c!("hrandfield", -2, READONLY, (1, 1, 1), "read hash slow", "hash", "6.2.0", "Get one or multiple random fields from a hash", hashes::hrandfield::hrandfield),
    c!("hscan", -3, READONLY, (1, 1, 1), "read hash slow", "hash", "2.8.0", "Incrementally iterate hash fields and associated values", hashes::hscan::hscan),
    // Keys.
    c!("del", -2, WRITE, (1, -1, 1), "keyspace write slow", "generic", "1.0.0", "Delete a key", k::del::del),
    c!("unlink", -2, WF, (1, -1, 1), "keyspace write fast", "generic", "4.0.0", "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.", k::del::unlink),
    c!("exists", -2, RF, (1, -1, 1), "keyspace read fast", "generic", "1.0.0", "Determine if a key exists", k::exists::exists),
    c!("touch", -2, RF, (1, -1, 1), "keyspace read fast", "generic", "3.2.1", "Alters the last access time of a key(s). Returns the number of existing keys specified.", k::exists::touch),
    c!("type", 2, RF, (1, 1, 1), "keyspace read fast", "generic", "1.0.0", "Determine the type stored at key", k::type_::type_),
    c!("expire", -3, WF, (1, 1, 1), "keyspace write fast", "generic", "1.0.0", "Set a key's time to live in seconds", k::expire::expire),
    c!("pexpire", -3, WF, (1, 1, 1), "keyspace write fast", "generic", "2.6.0", "Set a key's time to live in milliseconds", k::expire::pexpire),
    c!("expireat", -3, WF, (1, 1, 1), "keyspace write fast", "generic", "1.2.0", "Set the expiration for a key as a UNIX timestamp", k::expire::expireat),
    c!("pexpireat", -3, WF, (1, 1, 1), "keyspace write fast", "generic", "2.6.0", "Set the expiration for a key as a UNIX timestamp specified in milliseconds", k::expire::pexpireat),
    c!("persist", 2, WF, (1, 1, 1), "keyspace write fast", "generic", "2.2.0", "Remove the expiration from a key", k::expire::persist),
    c!("ttl", 2, RF, (1, 1, 1), "keyspace read fast", "generic", "1.0.0", "Get the time to live for a key in seconds", k::ttl::ttl),
    c!("pttl", 2, RF, (1, 1, 1), "keyspace read fast", "generic", "2.6.0", "Get the time to live for a key in milliseconds", k::ttl::pttl),
    c!("expiretime", 2, RF, (1, 1, 1), "keyspace read fast", "generic", "7.0.0", "Get the expiration Unix timestamp for a key", k::ttl::expiretime),
    c!("pexpiretime", 2, RF, (1, 1, 1), "keyspace read fast", "generic", "7.0.0", "Get the expiration Unix timestamp for a key in milliseconds", k::ttl::pexpiretime),
    c!("rename", 3, WRITE, (1, 2, 1), "keyspace write slow", "generic", "1.0.0", "Rename a key", k::rename::rename),
    c!("renamenx", 3, WF, (1, 2, 1), "keyspace write fast", "generic", "1.0.0", "Rename a key, only if the new key does not exist", k::rename::renamenx),
    CommandSpec {
        extra_key: Some(k::sort::store_key),
        ..c!("sort", -2, WRITE | DENYOOM | MOVABLEKEYS | ALL_KEYS, (1, 1, 1), "write set sortedset list slow dangerous", "generic", "1.0.0", "Sort the elements in a list, set or sorted set", k::sort::sort)
    },
    c!("sort_ro", -2, READONLY | MOVABLEKEYS | ALL_KEYS, (1, 1, 1), "read set sortedset list slow dangerous", "generic", "7.0.0", "Sort the elements in a list, set or sorted set. Read-only variant of SORT.", k::sort::sort_ro),
    c!("dump", 2, READONLY, (1, 1, 1), "keyspace read slow", "generic", "2.6.0", "Return a serialized version of the value stored at the specified key.", k::dump::dump),
    c!("restore", -4, WD, (1, 1, 1), "keyspace write slow dangerous", "generic", "2.6.0", "Create a key using the provided serialized value, previously obtained using DUMP.", k::dump::restore),
    c!("copy", -3, WD, (1, 2, 1), "keyspace write slow", "generic", "6.2.0", "Copy a key", k::copy::copy),
    c!("keys", 2, READONLY | ALL_KEYS, (0, 0, 0), "keyspace read slow dangerous", "generic", "1.0.0", "Find all keys matching the given pattern", k::keys_::keys),
    c!("scan", -2, READONLY | ALL_KEYS, (0, 0, 0), "keyspace read slow", "generic", "2.8.0", "Incrementally iterate the keys space", k::scan::scan),
    c!("randomkey", 1, READONLY | ALL_KEYS, (0, 0, 0), "keyspace read slow", "generic", "1.0.0", "Return a random key from the keyspace", k::randomkey::randomkey),
    container!("object", -2, 0, "slow", "generic", "2.2.3", "A container for object introspection commands", None, &[
        c!("object|encoding", 3, READONLY, (2, 2, 1), "keyspace read slow", "generic", "2.2.3", "Inspect the internal encoding of a Redis object", k::object::encoding),
        c!("object|freq", 3, READONLY, (2, 2, 1), "keyspace read slow", "generic", "4.0.0", "Get the logarithmic access frequency counter of a Redis object", k::object::freq),
        c!("object|idletime", 3, READONLY, (2, 2, 1), "keyspace read slow", "generic", "2.2.3", "Get the time since a Redis object was last accessed", k::object::idletime),
        c!("object|refcount", 3, READONLY, (2, 2, 1), "keyspace read slow", "generic", "2.2.3", "Get the number of references to the value of the key", k::object::refcount),
        c!("object|help", 2, LOADING | STALE, (0, 0, 0), "keyspace slow", "generic", "6.2.0", "Show helpful text about the different subcommands", k::object::help),
    ]),
    // Server and connection.
    c!("dbsize", 1, RF | ALL_KEYS, (0, 0, 0), "keyspace read fast", "server", "1.0.0", "Return the number of keys in the selected database", s::dbsize::dbsize),
    c!("flushdb", -1, WRITE | ALL_KEYS, (0, 0, 0), "keyspace write slow dangerous", "server", "1.0.0", "Remove all keys from the current database", s::dbsize::flushdb),
    c!("flushall", -1, WRITE | ALL_KEYS, (0, 0, 0), "keyspace write slow dangerous", "server", "1.0.0", "Remove all keys from all databases", s::dbsize::flushall),
    c!("save", 1, ADMIN | NOSCRIPT | NO_ASYNC_LOADING | NO_MULTI, (0, 0, 0), "admin slow dangerous", "server", "1.0.0", "Synchronously save the dataset to disk", s::save::save),
    c!("bgsave", -1, ADMIN | NOSCRIPT | NO_ASYNC_LOADING, (0, 0, 0), "admin slow dangerous", "server", "1.0.0", "Asynchronously save the dataset to disk", s::save::bgsave),
    c!("lastsave", 1, LOADING | STALE | FAST, (0, 0, 0), "admin fast dangerous", "server", "1.0.0", "Get the UNIX time stamp of the last successful save to disk", s::save::lastsave),
    c!("ping", -1, FAST, (0, 0, 0), "fast connection", "connection", "1.0.0", "Ping the server", s::ping::ping),
    c!("echo", 2, CONN, (0, 0, 0), "fast connection", "connection", "1.0.0", "Echo the given string", s::ping::echo),
    c!("hello", -1, CONN_NOAUTH, (0, 0, 0), "fast connection", "connection", "6.0.0", "Handshake with Redis", s::hello::hello),
    c!("auth", -2, CONN_NOAUTH, (0, 0, 0), "fast connection", "connection", "1.0.0", "Authenticate to the server", s::hello::auth),
    c!("select", 2, CONN, (0, 0, 0), "fast connection", "connection", "1.0.0", "Change the selected database for the current connection", s::select::select),
    c!("quit", -1, CONN_NOAUTH, (0, 0, 0), "fast connection", "connection", "1.0.0", "Close the connection", s::quit::quit),
    c!("reset", 1, CONN_NOAUTH, (0, 0, 0), "fast connection", "connection", "6.2.0", "Reset the connection", s::quit::reset),
    c!("wait", 3, NOSCRIPT, (0, 0, 0), "slow connection", "generic", "3.0.0", "Wait for the synchronous replication of all the write commands sent in the context of the current connection", s::replication::wait),
    c!("role", 1, NOSCRIPT | LOADING | STALE | FAST, (0, 0, 0), "admin fast dangerous", "server", "2.8.12", "Return the role of the instance in the context of replication", s::replication::role),
    c!("replicaof", 3, ADMIN | NOSCRIPT | STALE | NO_ASYNC_LOADING | ALL_KEYS, (0, 0, 0), "admin slow dangerous", "server", "5.0.0", "Make the server a replica of another instance, or promote it as master.", s::replication::replicaof),
    c!("psync", -3, ADMIN | NOSCRIPT | NO_ASYNC_LOADING | NO_MULTI, (0, 0, 0), "admin slow dangerous", "server", "2.8.0", "Internal command used for replication", s::replication::psync),
    c!("syncslots", -2, ADMIN | NOSCRIPT | NO_ASYNC_LOADING | NO_MULTI, (0, 0, 0), "admin slow dangerous", "server", "7.0.0", "Internal command used to migrate slots between primaries", s::replication::syncslots),
    c!("replconf", -1, ADMIN | NOSCRIPT | LOADING | STALE | ALLOW_BUSY, (0, 0, 0), "admin slow dangerous", "server", "3.0.0", "An internal command for configuring the replication stream", s::replication::replconf),
    c!("debug", -2, ADMIN | NOSCRIPT | LOADING | STALE | ALL_KEYS, (0, 0, 0), "admin slow dangerous", "server", "1.0.0", "A container for debugging commands", s::debug::debug),
    c!("time", 1, CONN, (0, 0, 0), "fast", "server", "2.6.0", "Return the current server time", s::time::time),
    c!("info", -1, LOADING | STALE | ALL_KEYS, (0, 0, 0), "slow dangerous", "server", "1.0.0", "Get information and statistics about the server", s::info::info),
    container!("client", -2, 0, "slow", "connection", "2.4.0", "A container for client connection commands", None, &[
        c!("client|id", 2, CLIENT_FLAGS, (0, 0, 0), "slow connection", "connection", "5.0.0", "Returns the client ID for the current connection", s::client::id),
        c!("client|info", 2, CLIENT_FLAGS, (0, 0, 0), "slow connection", "connection", "6.2.0", "Returns information about the current client connection.", s::client::info),
        c!("client|setname", 3, CLIENT_FLAGS, (0, 0, 0), "slow connection", "connection", "2.6.9", "Set the current connection name", s::client::setname),
        c!("client|getname", 2, CLIENT_FLAGS, (0, 0, 0), "slow connection", "connection", "2.6.9", "Get the current connection name", s::client::getname),
        c!("client|setinfo", 4, CLIENT_FLAGS, (0, 0, 0), "slow connection", "connection", "7.2.0", "Set client or connection specific info", s::client::setinfo),
        c!("client|list", -2, ADMIN_FLAGS, (0, 0, 0), "admin slow dangerous connection", "connection", "2.4.0", "Get the list of client connections", s::client::list),
        c!("client|kill", -3, ADMIN_FLAGS, (0, 0, 0), "admin slow dangerous connection", "connection", "2.4.0", "Kill the connection of a client", s::client::kill),
        c!("client|reply", 3, CLIENT_FLAGS, (0, 0, 0), "slow connection", "connection", "3.2.0", "Instruct the server whether to reply to commands", s::client::reply),
        c!("client|unblock", -3, ADMIN_FLAGS, (0, 0, 0), "admin slow dangerous connection", "connection", "5.0.0", "Unblock a client blocked in a blocking command from a different connection", s::client::unblock),
        c!("client|no-evict", 3, ADMIN_FLAGS, (0, 0, 0), "admin slow dangerous connection", "connection", "7.0.0", "Set client eviction mode for the current connection", s::client::no_evict),
        c!("client|help", 2, LOADING | STALE, (0, 0, 0), "slow connection", "connection", "5.0.0", "Show helpful text about the different subcommands", s::client::help),
    ]),
    container!("command", -1, LOADING | STALE, "slow connection", "server", "2.8.13", "Get array of Redis command details", Some(s::command::command), &[
        c!("command|count", 2, LOADING | STALE, (0, 0, 0), "slow connection", "server", "2.8.13", "Get total number of Redis commands", s::command::count),
        c!("command|info", -2, LOADING | STALE, (0, 0, 0), "slow connection", "server", "2.8.13", "Get array of specific Redis command details, or all when no argument is given.", s::command::info),
        c!("command|docs", -2, LOADING | STALE, (0, 0, 0), "slow connection", "server", "7.0.0", "Get array of specific Redis command documentation", s::command::docs),
        c!("command|list", -2, LOADING | STALE, (0, 0, 0), "slow connection", "server", "7.0.0", "Get an array of Redis command names", s::command::list),
        c!("command|getkeys", -4, LOADING | STALE, (0, 0, 0), "slow connection", "server", "2.8.13", "Extract keys given a full Redis command", s::command::getkeys),
        c!("command|help", 2, LOADING | STALE, (0, 0, 0), "slow connection", "server", "5.0.0", "Show helpful text about the different subcommands", s::command::help),
    ]),
    container!("config", -2, 0, "slow", "server", "2.0.0", "A container for server configuration commands", None, &[
        c!("config|get", -3, ADMIN_FLAGS, (0, 0, 0), "admin slow dangerous", "server", "2.0.0", "Get the values of configuration parameters", s::config::get),
        c!("config|set", -4, ADMIN_FLAGS | ALL_KEYS, (0, 0, 0), "admin slow dangerous", "server", "2.0.0", "Set configuration parameters to the given values", s::config::set),
        c!("config|help", 2, LOADING | STALE, (0, 0, 0), "slow", "server", "5.0.0", "Show helpful text about the different subcommands", s::config::help),
    ]),
    container!("cluster", -2, 0, "slow", "cluster", "3.0.0", "A container for cluster commands", None, &[
        c!("cluster|shards", 2, STALE, (0, 0, 0), "slow", "cluster", "7.0.0", "Get array of cluster slots to node mappings", cluster::topology::shards),
        c!("cluster|slots", 2, STALE, (0, 0, 0), "slow", "cluster", "3.0.0", "Get array of Cluster slot to node mappings", cluster::topology::slots),
        c!("cluster|nodes", 2, STALE, (0, 0, 0), "slow", "cluster", "3.0.0", "Get Cluster config for the node", cluster::topology::nodes),
        c!("cluster|info", 2, STALE, (0, 0, 0), "slow", "cluster", "3.0.0", "Provides info about Redis Cluster node state", cluster::info::info),
        c!("cluster|myid", 2, STALE, (0, 0, 0), "slow", "cluster", "3.0.0", "Return the node id", cluster::info::myid),
        c!("cluster|keyslot", 3, STALE, (0, 0, 0), "slow", "cluster", "3.0.0", "Returns the hash slot of the specified key", cluster::keys::keyslot),
        c!("cluster|countkeysinslot", 3, STALE | ALL_KEYS, (0, 0, 0), "slow", "cluster", "3.0.0", "Return the number of local keys in the specified hash slot", cluster::keys::countkeysinslot),
        c!("cluster|getkeysinslot", 4, STALE | ALL_KEYS, (0, 0, 0), "slow", "cluster", "3.0.0", "Return local key names in the specified hash slot", cluster::keys::getkeysinslot),
        c!("cluster|failover", -2, ADMIN | STALE | NO_ASYNC_LOADING, (0, 0, 0), "admin slow dangerous", "cluster", "3.0.0", "Forces a replica to perform a manual failover of its master.", cluster::failover::failover),
        c!("cluster|help", 2, LOADING | STALE, (0, 0, 0), "slow", "cluster", "5.0.0", "Show helpful text about the different subcommands", cluster::help),
    ]),
    c!("readonly", 1, CONN, (0, 0, 0), "fast connection", "cluster", "3.0.0", "Enables read queries for a connection to a cluster replica node", cluster::conn::readonly),
    c!("readwrite", 1, CONN, (0, 0, 0), "fast connection", "cluster", "3.0.0", "Disables read queries for a connection to a cluster replica node", cluster::conn::readwrite),
    c!("asking", 1, FAST, (0, 0, 0), "fast connection", "cluster", "3.0.0", "Sent by cluster clients after an -ASK redirect", cluster::conn::asking),
    container!("acl", -2, 0, "slow", "server", "6.0.0", "A container for Access List Control commands", None, &[
        c!("acl|whoami", 2, NOSCRIPT | LOADING | STALE, (0, 0, 0), "slow", "server", "6.0.0", "Return the name of the user associated to the current connection", s::acl::whoami),
        c!("acl|users", 2, ADMIN_FLAGS, (0, 0, 0), "admin slow dangerous", "server", "6.0.0", "List the username of all the configured ACL rules", s::acl::users_cmd),
        c!("acl|list", 2, ADMIN_FLAGS, (0, 0, 0), "admin slow dangerous", "server", "6.0.0", "List the current ACL rules in ACL config file format", s::acl::list),
        c!("acl|cat", -2, NOSCRIPT | LOADING | STALE, (0, 0, 0), "slow", "server", "6.0.0", "List the ACL categories or the commands inside a category", s::acl::cat),
        c!("acl|getuser", 3, ADMIN_FLAGS, (0, 0, 0), "admin slow dangerous", "server", "6.0.0", "Get the rules for a specific ACL user", s::acl::getuser),
        c!("acl|dryrun", -4, ADMIN_FLAGS, (0, 0, 0), "admin slow dangerous", "server", "7.0.0", "Returns whether the user can execute the given command without executing the command.", s::acl::dryrun),
        c!("acl|load", 2, ADMIN_FLAGS, (0, 0, 0), "admin slow dangerous", "server", "6.0.0", "Reload the ACLs from the configured ACL file", s::acl::load),
        c!("acl|help", 2, LOADING | STALE, (0, 0, 0), "slow", "server", "6.0.0", "Show helpful text about the different subcommands", s::acl::help),
    ]),
    container!("memory", -2, 0, "slow", "server", "4.0.0", "A container for memory diagnostics commands", None, &[
        c!("memory|usage", -3, READONLY, (2, 2, 1), "read slow", "server", "4.0.0", "Estimate the memory usage of a key", s::memory::usage),
        c!("memory|help", 2, LOADING | STALE, (0, 0, 0), "slow", "server", "4.0.0", "Show helpful text about the different subcommands", s::memory::help),
    ]),
];

/// Every top-level command: this table's and each command group's own.
pub fn top_level() -> impl Iterator<Item = &'static CommandSpec> {
    let groups: [&'static [CommandSpec]; 8] = [
        TABLE,
        super::pubsub::COMMANDS,
        super::lists::COMMANDS,
        super::blocking::COMMANDS,
        super::sets::COMMANDS,
        super::zsets::COMMANDS,
        super::tx::COMMANDS,
        super::scripting::COMMANDS,
    ];
    groups.into_iter().flatten()
}

struct Index {
    all: Vec<&'static CommandSpec>,
    top: HashMap<&'static [u8], usize, foldhash::fast::RandomState>,
    subs: HashMap<(usize, &'static [u8]), usize, foldhash::fast::RandomState>,
}

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut ix = Index {
            all: Vec::new(),
            top: HashMap::default(),
            subs: HashMap::default(),
        };
        for spec in top_level() {
            let id = ix.all.len();
            ix.all.push(spec);
            ix.top.insert(spec.name.as_bytes(), id);
            for sub in spec.subcommands {
                let sid = ix.all.len();
                ix.all.push(sub);
                let short = &sub.name.as_bytes()[spec.name.len() + 1..];
                ix.subs.insert((id, short), sid);
            }
        }
        ix
    })
}

/// The id of a top-level command by lowercase name.
pub fn lookup(name: &[u8]) -> Option<usize> {
    index().top.get(name).copied()
}

/// The id of a subcommand of command `parent` by lowercase name.
pub fn lookup_sub(parent: usize, name: &[u8]) -> Option<usize> {
    index().subs.get(&(parent, name)).copied()
}

pub fn spec(id: usize) -> &'static CommandSpec {
    index().all[id]
}

/// Every command and subcommand, in id order (for metrics labels).
pub fn all() -> &'static [&'static CommandSpec] {
    &index().all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_lowercase() {
        let mut seen = std::collections::HashSet::new();
        for s in all() {
            assert_eq!(s.name, s.name.to_ascii_lowercase());
            assert!(seen.insert(s.name), "duplicate {}", s.name);
        }
        assert_eq!(spec(lookup(b"get").unwrap()).name, "get");
        let client = lookup(b"client").unwrap();
        assert_eq!(
            spec(lookup_sub(client, b"list").unwrap()).name,
            "client|list"
        );
    }

    #[test]
    fn key_positions_follow_first_last_step() {
        let mset = spec(lookup(b"mset").unwrap());
        assert_eq!(mset.range_positions(7).collect::<Vec<_>>(), vec![1, 3, 5]);
        let del = spec(lookup(b"del").unwrap());
        assert_eq!(del.range_positions(4).collect::<Vec<_>>(), vec![1, 2, 3]);
        let ping = spec(lookup(b"ping").unwrap());
        assert_eq!(ping.range_positions(2).count(), 0);
        let usage = spec(lookup_sub(lookup(b"memory").unwrap(), b"usage").unwrap());
        assert_eq!(usage.range_positions(3).collect::<Vec<_>>(), vec![2]);
    }
}
