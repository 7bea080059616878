//! Keyspace notifications (`notify-keyspace-events`): what happened to keys,
//! published to `__keyspace@0__:<key>` (the event as message) and
//! `__keyevent@0__:<event>` (the key as message), as Redis does.
//!
//! Shards record what each command did to each key ([`Touch`]); after the
//! command, [`emit`] names the events from the command and its arguments the
//! way Redis' handlers name them (LMOVE pops then pushes, RENAME's source is
//! `rename_from`, a collection emptied by a pop also gets `del`...). Expiries
//! and evictions are named whatever caused them.

use crate::pubsub::Hub;
use crate::resp::Args;
use crate::store::Touch;

pub use shoal_core::notify::*;

/// Whether shards need to record events at all.
pub fn enabled(flags: u32) -> bool {
    flags & (KEYSPACE | KEYEVENT) != 0 && flags & !(KEYSPACE | KEYEVENT) != 0
}

fn publish(hub: &Hub, flags: u32, class: u32, event: &str, key: &[u8], limit: u64) {
    if flags & class == 0 {
        return;
    }
    if flags & KEYSPACE != 0 {
        let mut ch = b"__keyspace@0__:".to_vec();
        ch.extend_from_slice(key);
        hub.publish(&ch, event.as_bytes(), limit);
    }
    if flags & KEYEVENT != 0 {
        let ch = format!("__keyevent@0__:{event}");
        hub.publish(ch.as_bytes(), key, limit);
    }
}

fn has_option(args: Args<'_>, from: usize, words: &[&str]) -> bool {
    args.iter()
        .skip(from)
        .any(|a| words.iter().any(|w| a.eq_ignore_ascii_case(w.as_bytes())))
}

fn end(arg: &[u8], left: &'static str, right: &'static str) -> &'static str {
    if arg.eq_ignore_ascii_case(b"left") {
        left
    } else {
        right
    }
}

/// The events a write of `key` by command `name` (a table name) emits, in
/// order, with their classes.
fn written(name: &'static str, args: Args<'_>, key: &[u8]) -> Vec<(u32, &'static str)> {
    let src = args.len() > 1 && args.get(1) == key;
    let one = |class, e| vec![(class, e)];
    match name {
        "set" => {
            let mut v = vec![(STRING, "set")];
            if has_option(args, 3, &["ex", "px", "exat", "pxat"]) {
                v.push((GENERIC, "expire"));
            }
            v
        }
        "setex" | "psetex" => vec![(STRING, "set"), (GENERIC, "expire")],
        "setnx" | "mset" | "msetnx" | "getset" | "bitop" => one(STRING, "set"),
        "getex" => {
            if has_option(args, 2, &["persist"]) {
                one(GENERIC, "persist")
            } else {
                one(GENERIC, "expire")
            }
        }
        "incr" | "decr" | "incrby" | "decrby" => one(STRING, "incrby"),
        "incrbyfloat" => one(STRING, "incrbyfloat"),
        "append" => one(STRING, "append"),
        "setrange" => one(STRING, "setrange"),
        "setbit" | "bitfield" => one(STRING, "setbit"),
        "expire" | "pexpire" | "expireat" | "pexpireat" => one(GENERIC, "expire"),
        "persist" => one(GENERIC, "persist"),
        "rename" | "renamenx" => one(GENERIC, "rename_to"),
        "copy" => one(GENERIC, "copy_to"),
        "restore" => one(GENERIC, "restore"),
        "sort" => one(LIST, "sortstore"),
        "lpush" | "lpushx" => one(LIST, "lpush"),
        "rpush" | "rpushx" => one(LIST, "rpush"),
        "lpop" | "blpop" => one(LIST, "lpop"),
        "rpop" | "brpop" => one(LIST, "rpop"),
        "lmpop" => one(LIST, end(arg(args, 2 + mpop_keys(args, 1)), "lpop", "rpop")),
        "blmpop" => one(LIST, end(arg(args, 3 + mpop_keys(args, 2)), "lpop", "rpop")),
        "lmove" | "blmove" => {
            if src {
                one(LIST, end(arg(args, 3), "lpop", "rpop"))
            } else {
                one(LIST, end(arg(args, 4), "lpush", "rpush"))
            }
        }
        "rpoplpush" | "brpoplpush" => {
            if src {
                one(LIST, "rpop")
            } else {
                one(LIST, "lpush")
            }
        }
        "linsert" | "lset" | "ltrim" | "lrem" => one(LIST, name),
        "hset" | "hmset" | "hsetnx" => one(HASH, "hset"),
        "hdel" | "hincrby" | "hincrbyfloat" => one(HASH, name),
        "sadd" | "srem" | "spop" | "sinterstore" | "sunionstore" | "sdiffstore" => one(SET, name),
        "smove" => {
            if src {
                one(SET, "srem")
            } else {
                one(SET, "sadd")
            }
        }
        "zadd" => {
            if has_option(args, 2, &["incr"]) {
                one(ZSET, "zincr")
            } else {
                one(ZSET, "zadd")
            }
        }
        "zincrby" => one(ZSET, "zincr"),
        "zpopmin" | "bzpopmin" => one(ZSET, "zpopmin"),
        "zpopmax" | "bzpopmax" => one(ZSET, "zpopmax"),
        "zmpop" | "bzmpop" => {
            let at = if name == "zmpop" {
                2 + mpop_keys(args, 1)
            } else {
                3 + mpop_keys(args, 2)
            };
            if arg(args, at).eq_ignore_ascii_case(b"max") {
                one(ZSET, "zpopmax")
            } else {
                one(ZSET, "zpopmin")
            }
        }
        "zrem" | "zremrangebyscore" | "zremrangebyrank" | "zremrangebylex" | "zunionstore"
        | "zinterstore" | "zdiffstore" | "zrangestore" => one(ZSET, name),
        _ => Vec::new(),
    }
}

fn mpop_keys(args: Args<'_>, at: usize) -> usize {
    crate::util::num::parse_i64(arg(args, at))
        .filter(|n| *n > 0)
        .map_or(0, |n| n as usize)
}

/// Argument `i`, or empty past the end.
fn arg(args: Args<'_>, i: usize) -> &[u8] {
    if i < args.len() {
        args.get(i)
    } else {
        b""
    }
}

/// Publishes the events of one command (`name` as the command table spells
/// it, which is also most events' name). `events` is what the shards
/// recorded while it ran, in order.
pub fn emit(
    hub: &Hub,
    flags: u32,
    limit: u64,
    name: &'static str,
    args: Args<'_>,
    events: &[(Box<[u8]>, Touch, u64)],
) {
    // Moves notify the destination's push before the source's pop, as Redis.
    let mut order: Vec<&(Box<[u8]>, Touch, u64)> = events.iter().collect();
    if matches!(name, "lmove" | "blmove" | "rpoplpush" | "brpoplpush") && args.len() > 2 {
        let src = args.get(1);
        order.sort_by_key(|e| *e.0 == *src);
    }
    // RENAME's destination is created before its source goes: `new` first.
    let new_first = matches!(name, "rename" | "renamenx");
    if new_first {
        for (key, t, _) in &order {
            if *t == (Touch::Written { created: true }) {
                publish(hub, flags, NEW, "new", key, limit);
            }
        }
    }
    for (key, t, _) in order {
        match t {
            Touch::Expired => publish(hub, flags, EXPIRED, "expired", key, limit),
            Touch::Evicted => publish(hub, flags, EVICTED, "evicted", key, limit),
            Touch::Removed => {
                let event = match name {
                    "rename" | "renamenx" => "rename_from",
                    _ => "del",
                };
                publish(hub, flags, GENERIC, event, key, limit);
            }
            Touch::Written { created } => {
                if *created && !new_first {
                    publish(hub, flags, NEW, "new", key, limit);
                }
                for (class, event) in written(name, args, key) {
                    publish(hub, flags, class, event, key, limit);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_round_trip_as_redis_prints_them() {
        assert_eq!(format(parse("KEA").unwrap()), "AKE");
        assert_eq!(format(parse("Elg$").unwrap()), "g$lE");
        assert_eq!(format(parse("").unwrap()), "");
        assert_eq!(parse("Kq"), None);
        assert!(enabled(parse("Kx").unwrap()));
        assert!(!enabled(parse("K").unwrap()));
        assert!(!enabled(parse("A").unwrap()));
    }
}
