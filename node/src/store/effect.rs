//! Replication effects: what a primary sends its replicas after a change.
//!
//! An effect is the *state* a key ended up in (its value and absolute deadline,
//! or its absence), never the command that changed it. States are idempotent, so
//! a replica may see an effect twice or on top of a snapshot taken while writes
//! went on, and still ends with the primary's data; and nothing a replica does on
//! its own clock (expiring a key) can make a later effect diverge, as replaying
//! `INCR` on a key the replica had already expired would.
//!
//! Each effect is a RESP array of bulk strings, so the stream can be read with
//! the request parser and inspected with any RESP tool:
//! - `SET key value at` — a string; `at` is the Unix-ms deadline, 0 for none;
//! - `HASH key at field value …` — a whole hash;
//! - `DEL key` — the key is gone;
//! - `FLUSHSHARD idx of` — every key whose slot is `idx` modulo `of` is gone.

use super::entry::{Entry, Obj, Value, ValueRef};
use super::hash::HashObj;
use super::shard::Ttl;
use super::Db;
use crate::resp::frame::{put_array_header as header, put_bulk as bulk, put_bulk_u64 as number};
use crate::resp::request::Parsed;
use crate::resp::{RequestLimits, RequestParser};

/// An effect the replica cannot apply: a primary speaking another protocol, or
/// a corrupted stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad replication effect: {0}")]
pub struct EffectError(pub String);

/// Appends the effect that gives `key` the state `entry` (None: absent).
pub fn encode_state(key: &[u8], entry: Option<&Entry>, out: &mut Vec<u8>) {
    let Some(e) = entry else {
        header(2, out);
        bulk(b"DEL", out);
        bulk(key, out);
        return;
    };
    let at = e.expire_at().unwrap_or(0);
    match e.value() {
        ValueRef::Str(v) => {
            header(4, out);
            bulk(b"SET", out);
            bulk(key, out);
            bulk(v, out);
            number(at, out);
        }
        ValueRef::Hash(h) => {
            header(3 + 2 * h.len(), out);
            bulk(b"HASH", out);
            bulk(key, out);
            number(at, out);
            for (f, v) in h.iter() {
                bulk(f, out);
                bulk(v, out);
            }
        }
    }
}

/// Appends the effect of emptying keyspace shard `idx` of `of`.
pub fn encode_flush(idx: usize, of: usize, out: &mut Vec<u8>) {
    header(3, out);
    bulk(b"FLUSHSHARD", out);
    number(idx as u64, out);
    number(of as u64, out);
}

fn num(arg: &[u8]) -> Result<u64, EffectError> {
    crate::util::num::parse_u64(arg)
        .ok_or_else(|| EffectError(format!("not a number: {:?}", String::from_utf8_lossy(arg))))
}

fn ttl(at: u64) -> Ttl {
    if at == 0 {
        Ttl::Clear
    } else {
        Ttl::At(at)
    }
}

/// Applies one effect to `db`. Deadlines are applied as they are, even when
/// already past: the key then reads as missing, as on the primary.
pub fn apply(db: &Db, args: &[&[u8]]) -> Result<(), EffectError> {
    let bad = || {
        EffectError(format!(
            "{} arguments for {:?}",
            args.len(),
            args.first().map(|a| String::from_utf8_lossy(a))
        ))
    };
    let name = *args.first().ok_or_else(bad)?;
    match name {
        b"SET" if args.len() == 4 => {
            let at = num(args[3])?;
            db.lock(args[1])
                .set(args[1], Value::Str(args[2]), ttl(at), 0);
        }
        b"HASH" if args.len() >= 3 && !args.len().is_multiple_of(2) => {
            let at = num(args[2])?;
            let mut h = HashObj::new();
            for pair in args[3..].chunks_exact(2) {
                h.set(pair[0], pair[1]);
            }
            db.lock(args[1])
                .set(args[1], Value::Obj(Obj::Hash(h)), ttl(at), 0);
        }
        b"DEL" if args.len() == 2 => {
            db.lock(args[1]).remove_any(args[1]);
        }
        b"FLUSHSHARD" if args.len() == 3 => {
            let (idx, of) = (num(args[1])?, num(args[2])?);
            if of == 0 || idx >= of || !of.is_power_of_two() {
                return Err(EffectError(format!("FLUSHSHARD {idx} of {of}")));
            }
            db.remove_slot_class(idx as usize, of as usize);
        }
        _ => return Err(bad()),
    }
    Ok(())
}

/// What one effect may hold: a value up to 1 GiB, a hash of up to 8M fields.
pub const LIMITS: RequestLimits = RequestLimits {
    max_bulk: 1 << 30,
    max_args: 1 << 24,
    max_inline: 0,
};

/// Applies every effect of a complete stream (a snapshot chunk).
pub fn apply_stream(db: &Db, stream: &[u8]) -> Result<(), EffectError> {
    let mut parser = RequestParser::new();
    let mut at = 0;
    while at < stream.len() {
        let consumed = match parser.parse(&stream[at..], &LIMITS) {
            Ok(Parsed::Request { consumed }) => consumed,
            Ok(Parsed::Incomplete) => return Err(EffectError("truncated effect".into())),
            Err(e) => return Err(EffectError(e.to_string())),
        };
        let args: Vec<&[u8]> = parser.args(&stream[at..]).iter().collect();
        apply(db, &args)?;
        at += consumed;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply_all(db: &Db, stream: &[u8]) {
        apply_stream(db, stream).unwrap()
    }

    fn dump(db: &Db) -> Vec<(Vec<u8>, String, Option<u64>)> {
        let mut v = Vec::new();
        db.for_each(0, |e| {
            let val = match e.value() {
                ValueRef::Str(s) => String::from_utf8_lossy(s).into_owned(),
                ValueRef::Hash(h) => {
                    let mut f: Vec<_> = h.iter().map(|(f, v)| format!("{f:?}={v:?}")).collect();
                    f.sort();
                    f.join(",")
                }
            };
            v.push((e.key().to_vec(), val, e.expire_at()));
        });
        v.sort();
        v
    }

    #[test]
    fn tracked_changes_rebuild_the_same_keyspace() {
        let primary = Db::new(4);
        primary.set_tracking(true);
        let replica = Db::new(8);
        {
            let mut s = primary.lock(b"a");
            s.set(b"a", Value::Str(b"1"), Ttl::At(99_000), 0);
        }
        primary
            .lock(b"b")
            .set(b"b", Value::Str(b"2"), Ttl::Clear, 0);
        {
            let mut h = HashObj::new();
            h.set(b"f", b"v");
            primary
                .lock(b"h")
                .set(b"h", Value::Obj(Obj::Hash(h)), Ttl::Clear, 0);
        }
        primary.lock(b"b").remove(b"b", 0);
        let mut stream = Vec::new();
        primary.journal().read(0, usize::MAX, &mut stream).unwrap();
        // Replayed on top of a copy that already holds some of it: same result.
        apply_all(&replica, &stream);
        apply_all(&replica, &stream);
        assert_eq!(dump(&replica), dump(&primary));
        primary.flush(false);
        primary
            .lock(b"z")
            .set(b"z", Value::Str(b"after"), Ttl::Clear, 0);
        let mut more = Vec::new();
        primary
            .journal()
            .read(stream.len() as u64, usize::MAX, &mut more)
            .unwrap();
        apply_all(&replica, &more);
        assert_eq!(dump(&replica), dump(&primary));
        assert_eq!(dump(&replica).len(), 1);
        // A replica with fewer keyspace shards than the primary flushes by slot.
        let small = Db::new(2);
        apply_all(&small, &stream);
        apply_all(&small, &more);
        assert_eq!(dump(&small), dump(&primary));
    }

    #[test]
    fn nothing_is_recorded_without_tracking() {
        let db = Db::new(2);
        db.lock(b"a").set(b"a", Value::Str(b"1"), Ttl::Clear, 0);
        assert_eq!(db.journal().end(), 0);
    }

    #[test]
    fn malformed_effects_are_refused() {
        let db = Db::new(2);
        assert!(apply(&db, &[b"SET", b"k"]).is_err());
        assert!(apply(&db, &[b"SET", b"k", b"v", b"soon"]).is_err());
        assert!(apply(&db, &[b"HASH", b"k", b"0", b"f"]).is_err());
        assert!(apply(&db, &[b"FLUSHSHARD", b"3", b"3"]).is_err());
        assert!(apply(&db, &[b"EVAL", b"x"]).is_err());
        assert!(apply(&db, &[]).is_err());
        assert!(apply_stream(&db, b"*2\r\n$3\r\nDEL\r\n$1\r\n").is_err());
        assert!(apply_stream(&db, b"*2\r\n$3\r\nDEL\r\n$1\r\n").is_err());
        assert!(db.is_empty());
    }
}
