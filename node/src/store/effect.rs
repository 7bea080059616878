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
//! - `LIST key at elem …`, `SSET key at member …`, `ZSET key at member score …`
//!   — a whole list (head first), set, or sorted set;
//! - `HPATCH key at n field value … field …` — the new values of `n` fields of
//!   a hash, then fields that are gone (an HSET on a big hash sends the field,
//!   not the hash). Like every effect it gives state, not an operation: on a
//!   key that is not a hash it starts a new one, which later effects of the
//!   stream then correct, so it is safe on top of a fuzzy snapshot too;
//! - `LOPS key at op…` — pushes and pops at the ends of a long list: the one
//!   kind of effect that is an operation, so a replica must not apply it twice
//!   (see `Skips`);
//! - `SPATCH key at n member … member …` — `n` members now in a set, then
//!   members no longer in it (state, like HPATCH);
//! - `ZPATCH key at n member score … member …` — new scores of `n` members
//!   of a sorted set, then members no longer in it (state, like HPATCH);
//! - `DEL key` — the key is gone;
//! - `FLUSHSHARD idx of` — every key whose slot is `idx` modulo `of` is gone;
//! - `IMPORTED start end` — slots `start..=end` were handed over to this
//!   shard by a resize, and the keys before this effect are their data;
//! - `BATCH n` — the next `n` effects are one unit (a transaction, a multi-key
//!   command): a replica applies them under the locks of all their keys at once,
//!   so its readers never see part of it.

use super::changelog::{End, ListLogged, ListOp, Logged};
use super::entry::{Entry, Obj, Value, ValueRef};
use super::hash::HashObj;
use super::list::ListObj;
use super::set::SetObj;
use super::shard::Ttl;
use super::zset::ZSetObj;
use super::{Db, Locked};
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
        ValueRef::List(l) => {
            header(3 + l.len(), out);
            bulk(b"LIST", out);
            bulk(key, out);
            number(at, out);
            for v in l.iter() {
                bulk(v, out);
            }
        }
        ValueRef::Set(st) => {
            header(3 + st.len(), out);
            bulk(b"SSET", out);
            bulk(key, out);
            number(at, out);
            for m in st.iter() {
                bulk(m, out);
            }
        }
        ValueRef::ZSet(z) => {
            header(3 + 2 * z.len(), out);
            bulk(b"ZSET", out);
            bulk(key, out);
            number(at, out);
            for (m, score) in z.iter() {
                bulk(m, out);
                bulk(crate::util::num::format_f64_exact(score).as_bytes(), out);
            }
        }
    }
}

/// Appends the effect for a changed key: only its changed members when the
/// value logged them, was not replaced as a whole and that is smaller, else
/// its whole state. Stops the value's change log either way.
pub fn encode_change(key: &[u8], e: &mut Entry, replaced: bool, out: &mut Vec<u8>) {
    let at = e.expire_at().unwrap_or(0);
    let (logged, ops) = match e.obj_mut() {
        Some(Obj::Hash(h)) => (h.log().take(), ListLogged::Off),
        Some(Obj::Set(st)) => (st.log().take(), ListLogged::Off),
        Some(Obj::ZSet(z)) => (z.log().take(), ListLogged::Off),
        Some(Obj::List(l)) => (Logged::Off, l.log().take()),
        _ => (Logged::Off, ListLogged::Off),
    };
    if let (false, Logged::Members(members), ValueRef::ZSet(z)) = (replaced, &logged, e.value()) {
        if members.len() * 2 < z.len() {
            let scored: Vec<(&[u8], f64)> = members
                .iter()
                .filter_map(|m| z.score(m).map(|s| (&**m, s)))
                .collect();
            let gone = members.iter().filter(|m| z.score(m).is_none());
            header(4 + 2 * scored.len() + (members.len() - scored.len()), out);
            bulk(b"ZPATCH", out);
            bulk(key, out);
            number(at, out);
            number(scored.len() as u64, out);
            for (m, score) in &scored {
                bulk(m, out);
                bulk(crate::util::num::format_f64_exact(*score).as_bytes(), out);
            }
            for m in gone {
                bulk(m, out);
            }
            return;
        }
    }
    if let (false, Logged::Members(members), ValueRef::Set(st)) = (replaced, &logged, e.value()) {
        if members.len() * 2 < st.len() {
            let (added, gone): (Vec<&[u8]>, Vec<&[u8]>) =
                members.iter().map(|m| &**m).partition(|m| st.contains(m));
            header(4 + members.len(), out);
            bulk(b"SPATCH", out);
            bulk(key, out);
            number(at, out);
            number(added.len() as u64, out);
            for m in added.iter().chain(&gone) {
                bulk(m, out);
            }
            return;
        }
    }
    if let (false, ListLogged::Ops(ops), ValueRef::List(l)) = (replaced, &ops, e.value()) {
        let pushed: usize = ops
            .iter()
            .map(|op| usize::from(matches!(op, ListOp::Push(..))))
            .sum();
        if pushed * 2 < l.len() {
            encode_list_ops(key, at, ops, out);
            return;
        }
    }
    if let (false, Logged::Members(fields), ValueRef::Hash(h)) = (replaced, &logged, e.value()) {
        if fields.len() * 2 < h.len() {
            let set: Vec<(&[u8], &[u8])> = fields
                .iter()
                .filter_map(|f| h.get(f).map(|v| (&**f, v)))
                .collect();
            let gone = fields.iter().filter(|f| h.get(f).is_none());
            header(4 + 2 * set.len() + (fields.len() - set.len()), out);
            bulk(b"HPATCH", out);
            bulk(key, out);
            number(at, out);
            number(set.len() as u64, out);
            for (f, v) in &set {
                bulk(f, out);
                bulk(v, out);
            }
            for f in gone {
                bulk(f, out);
            }
            return;
        }
    }
    encode_state(key, Some(e), out);
}

/// `LOPS key at op…`: pushes and pops at a list's ends, in order; each op is
/// `<` (head) or `>` (tail) then `+` and an element, or `-` and a count.
fn encode_list_ops(key: &[u8], at: u64, ops: &[ListOp], out: &mut Vec<u8>) {
    header(3 + 3 * ops.len(), out);
    bulk(b"LOPS", out);
    bulk(key, out);
    number(at, out);
    let end = |e: &End| if *e == End::Head { &b"<"[..] } else { b">" };
    for op in ops {
        match op {
            ListOp::Push(e, v) => {
                bulk(end(e), out);
                bulk(b"+", out);
                bulk(v, out);
            }
            ListOp::Pop(e, n) => {
                bulk(end(e), out);
                bulk(b"-", out);
                number(*n as u64, out);
            }
        }
    }
}

/// Applies `LOPS` to the list at its key. A key that holds no list here (the
/// stream is past what a snapshot held, so that can only be a key a later
/// effect replaces) is left alone.
fn apply_list_ops(locked: &mut Locked<'_>, args: &[&[u8]]) -> Result<(), EffectError> {
    let at = num(args[2])?;
    let ops = &args[3..];
    if !ops.len().is_multiple_of(3) {
        return Err(EffectError("LOPS ops come in threes".into()));
    }
    let shard = locked.shard(args[1]);
    let Some(mut e) = shard.get_mut(args[1], 0) else {
        return Ok(());
    };
    let Some(l) = e.entry_mut().list_mut() else {
        return Ok(());
    };
    for op in ops.chunks_exact(3) {
        match (op[0], op[1]) {
            (b"<", b"+") => l.push_front(op[2]),
            (b">", b"+") => l.push_back(op[2]),
            (side @ (b"<" | b">"), b"-") => {
                let n = num(op[2])?;
                for _ in 0..n {
                    let popped = if side == b"<" {
                        l.pop_front()
                    } else {
                        l.pop_back()
                    };
                    if popped.is_none() {
                        break;
                    }
                }
            }
            _ => return Err(EffectError("unknown LOPS op".into())),
        }
    }
    if l.is_empty() {
        e.delete();
    } else {
        e.set_expire((at != 0).then_some(at));
    }
    Ok(())
}

/// Appends a snapshot's marker: the key states after it hold every change
/// journaled before `offset`.
pub fn encode_at(offset: u64, out: &mut Vec<u8>) {
    header(2, out);
    bulk(b"AT", out);
    number(offset, out);
}

/// Effects that are operations rather than states (pushes onto and pops from
/// a long list): applied twice they would change the data twice.
fn is_operation(name: &[u8]) -> bool {
    name == b"LOPS"
}

/// What a replica learned from its snapshot about which stream effects its
/// keys already hold: the stream starts where the snapshot started, but each
/// key was read later, holding the changes journaled before its `AT` offset.
#[derive(Debug, Default)]
pub struct Skips {
    at: u64,
    until: std::collections::HashMap<Box<[u8]>, u64>,
    max: u64,
}

impl Skips {
    /// A new snapshot begins.
    pub fn clear(&mut self) {
        *self = Skips::default();
    }

    /// Whether an effect of the stream at `offset` on `key` is already held.
    fn held(&self, key: &[u8], offset: u64) -> bool {
        self.until.get(key).is_some_and(|&u| offset < u)
    }

    /// Forgets what the stream has gone past.
    fn passed(&mut self, offset: u64) {
        if !self.until.is_empty() && offset >= self.max {
            self.until.clear();
        }
    }

    /// After an effect that gives a key a whole state (or removes it, or
    /// patches it into a new one), the key holds what the stream says as of
    /// that effect, so the operations that follow are no longer held: had
    /// they been skipped, an older state replayed over the snapshot's newer
    /// one would have lost them. FLUSHSHARD does that for its slot class.
    fn applied(&mut self, args: &[&[u8]]) {
        if self.until.is_empty() {
            return;
        }
        match (args.first().copied(), args) {
            (Some(b"FLUSHSHARD"), [_, idx, of]) => {
                if let (Some(idx), Some(of)) = (
                    crate::util::num::parse_u64(idx),
                    crate::util::num::parse_u64(of),
                ) {
                    self.until
                        .retain(|k, _| of == 0 || u64::from(super::slot::key_slot(k)) % of != idx);
                }
            }
            (Some(b"IMPORTED" | b"BATCH" | b"AT"), _) => {}
            (Some(name), [_, key, ..]) if !is_operation(name) => {
                self.until.remove(*key);
            }
            _ => {}
        }
    }

    fn loaded(&mut self, args: &[&[u8]]) {
        // Only keys that operations can reach need remembering.
        if args.first().copied() == Some(b"LIST") && self.at > 0 {
            self.until.insert(args[1].into(), self.at);
            self.max = self.max.max(self.at);
        }
    }
}

/// Applies a snapshot chunk's effects, noting in `skips` what they hold.
pub fn apply_snapshot(db: &Db, stream: &[u8], skips: &mut Skips) -> Result<(), EffectError> {
    for_each_effect(stream, |args| {
        if args.first().copied() == Some(b"AT") {
            skips.at = match args {
                [_, at] => num(at)?,
                _ => return Err(EffectError("malformed AT".into())),
            };
            return Ok(());
        }
        apply(db, args)?;
        skips.loaded(args);
        Ok(())
    })
}

fn for_each_effect(
    stream: &[u8],
    mut f: impl FnMut(&[&[u8]]) -> Result<(), EffectError>,
) -> Result<(), EffectError> {
    let mut parser = RequestParser::new();
    let mut at = 0;
    while at < stream.len() {
        let consumed = match parser.parse(&stream[at..], &LIMITS) {
            Ok(Parsed::Request { consumed }) => consumed,
            Ok(Parsed::Incomplete) => return Err(EffectError("truncated effect".into())),
            Err(e) => return Err(EffectError(e.to_string())),
        };
        let args: Vec<&[u8]> = parser.args(&stream[at..]).iter().collect();
        f(&args)?;
        at += consumed;
    }
    Ok(())
}

/// Appends the header of a unit of `n` effects.
pub fn encode_batch(n: usize, out: &mut Vec<u8>) {
    header(2, out);
    bulk(b"BATCH", out);
    number(n as u64, out);
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

/// Appends the effect saying slots `start..=end` were handed over here.
pub fn encode_imported(start: u16, end: u16, out: &mut Vec<u8>) {
    header(3, out);
    bulk(b"IMPORTED", out);
    number(u64::from(start), out);
    number(u64::from(end), out);
}

/// How many key states a stream of effects holds (markers not counted).
pub fn count_keys(stream: &[u8]) -> u64 {
    let mut n = 0;
    let _ = for_each_effect(stream, |args| {
        if !matches!(args.first().copied(), Some(b"AT" | b"IMPORTED" | b"BATCH")) {
            n += 1;
        }
        Ok(())
    });
    n
}

/// The key an effect changes (None: FLUSHSHARD and IMPORTED, which change
/// shards).
fn effect_key<'a>(args: &[&'a [u8]]) -> Option<&'a [u8]> {
    match args.first().copied() {
        Some(b"FLUSHSHARD" | b"IMPORTED") | None => None,
        Some(_) => args.get(1).copied(),
    }
}

/// Applies one effect to `db`. Deadlines are applied as they are, even when
/// already past: the key then reads as missing, as on the primary.
pub fn apply(db: &Db, args: &[&[u8]]) -> Result<(), EffectError> {
    if args.first().copied() == Some(b"AT") {
        // A snapshot's marker (see `apply_snapshot`); it changes nothing.
        return Ok(());
    }
    let mut locked = match effect_key(args) {
        Some(key) => db.lock_keys([key]),
        None => db.lock_all(),
    };
    apply_locked(&mut locked, args)
}

fn apply_locked(locked: &mut Locked<'_>, args: &[&[u8]]) -> Result<(), EffectError> {
    let bad = || {
        EffectError(format!(
            "{} arguments for {:?}",
            args.len(),
            args.first().map(|a| String::from_utf8_lossy(a))
        ))
    };
    let name = *args.first().ok_or_else(bad)?;
    let store = |locked: &mut Locked<'_>, value: Value<'_>, at: u64| {
        locked.shard(args[1]).set(args[1], value, ttl(at), 0);
    };
    match name {
        b"SET" if args.len() == 4 => {
            let at = num(args[3])?;
            store(locked, Value::Str(args[2]), at);
        }
        b"HASH" if args.len() >= 3 && !args.len().is_multiple_of(2) => {
            let at = num(args[2])?;
            let mut h = HashObj::new();
            for pair in args[3..].chunks_exact(2) {
                h.set(pair[0], pair[1]);
            }
            store(locked, Value::Obj(Obj::Hash(h)), at);
        }
        b"LIST" if args.len() >= 3 => {
            let at = num(args[2])?;
            let mut l = ListObj::new();
            for v in &args[3..] {
                l.push_back(v);
            }
            store(locked, Value::Obj(Obj::List(l)), at);
        }
        b"SSET" if args.len() >= 3 => {
            let at = num(args[2])?;
            let mut st = SetObj::new();
            for m in &args[3..] {
                st.insert(m);
            }
            store(locked, Value::Obj(Obj::Set(st)), at);
        }
        b"ZSET" if args.len() >= 3 && !args.len().is_multiple_of(2) => {
            let at = num(args[2])?;
            let pairs = (args.len() - 3) / 2;
            let longest = args[3..]
                .iter()
                .step_by(2)
                .map(|m| m.len())
                .max()
                .unwrap_or(0);
            // The form the primary's set has, so -0 scores read back the same.
            let mut z = ZSetObj::with_hint(pairs, longest);
            for pair in args[3..].chunks_exact(2) {
                let score = crate::util::num::parse_f64(pair[1])
                    .filter(|s| !s.is_nan())
                    .ok_or_else(|| EffectError("bad score".into()))?;
                z.insert(pair[0], score);
            }
            store(locked, Value::Obj(Obj::ZSet(z)), at);
        }
        b"HPATCH" if args.len() >= 4 => {
            let at = num(args[2])?;
            let n = num(args[3])? as usize;
            let set = args
                .get(4..4 + 2 * n.min(args.len()))
                .ok_or_else(|| EffectError("HPATCH counts more fields than it holds".into()))?;
            let gone = &args[4 + 2 * n..];
            let shard = locked.shard(args[1]);
            if !matches!(
                shard.peek(args[1], 0).map(Entry::value),
                Some(ValueRef::Hash(_))
            ) {
                shard.set(
                    args[1],
                    Value::Obj(Obj::Hash(HashObj::new())),
                    Ttl::Clear,
                    0,
                );
            }
            let mut e = shard.get_mut(args[1], 0).expect("hash just ensured");
            let h = e.entry_mut().hash_mut().expect("a hash");
            for pair in set.chunks_exact(2) {
                h.set(pair[0], pair[1]);
            }
            for f in gone {
                h.remove(f);
            }
            if h.is_empty() {
                e.delete();
            } else {
                e.set_expire((at != 0).then_some(at));
            }
        }
        b"LOPS" if args.len() >= 3 => apply_list_ops(locked, args)?,
        b"ZPATCH" if args.len() >= 4 => {
            let at = num(args[2])?;
            let n = num(args[3])? as usize;
            let scored = args
                .get(4..4 + 2 * n.min(args.len()))
                .ok_or_else(|| EffectError("ZPATCH counts more members than it holds".into()))?;
            let gone = &args[4 + 2 * n..];
            let shard = locked.shard(args[1]);
            if !matches!(
                shard.peek(args[1], 0).map(Entry::value),
                Some(ValueRef::ZSet(_))
            ) {
                shard.set(
                    args[1],
                    Value::Obj(Obj::ZSet(ZSetObj::new())),
                    Ttl::Clear,
                    0,
                );
            }
            let mut e = shard.get_mut(args[1], 0).expect("sorted set just ensured");
            let z = e.entry_mut().zset_mut().expect("a sorted set");
            for pair in scored.chunks_exact(2) {
                let score = crate::util::num::parse_f64(pair[1])
                    .filter(|s| !s.is_nan())
                    .ok_or_else(|| EffectError("bad score".into()))?;
                z.insert(pair[0], score);
            }
            for m in gone {
                z.remove(m);
            }
            if z.is_empty() {
                e.delete();
            } else {
                e.set_expire((at != 0).then_some(at));
            }
        }
        b"SPATCH" if args.len() >= 4 => {
            let at = num(args[2])?;
            let n = num(args[3])? as usize;
            let added = args
                .get(4..4 + n.min(args.len()))
                .ok_or_else(|| EffectError("SPATCH counts more members than it holds".into()))?;
            let gone = &args[4 + n..];
            let shard = locked.shard(args[1]);
            if !matches!(
                shard.peek(args[1], 0).map(Entry::value),
                Some(ValueRef::Set(_))
            ) {
                shard.set(args[1], Value::Obj(Obj::Set(SetObj::new())), Ttl::Clear, 0);
            }
            let mut e = shard.get_mut(args[1], 0).expect("set just ensured");
            let st = e.entry_mut().set_mut().expect("a set");
            for m in added {
                st.insert(m);
            }
            for m in gone {
                st.remove(m);
            }
            if st.is_empty() {
                e.delete();
            } else {
                e.set_expire((at != 0).then_some(at));
            }
        }
        b"DEL" if args.len() == 2 => {
            locked.shard(args[1]).remove_any(args[1]);
        }
        b"FLUSHSHARD" if args.len() == 3 => {
            let (idx, of) = (num(args[1])?, num(args[2])?);
            if of == 0 || idx >= of || !of.is_power_of_two() {
                return Err(EffectError(format!("FLUSHSHARD {idx} of {of}")));
            }
            locked.remove_slot_class(idx as usize, of as usize);
        }
        b"IMPORTED" if args.len() == 3 => {
            let (start, end) = (num(args[1])?, num(args[2])?);
            if start > end || end >= u64::from(crate::cluster::slot::SLOTS) {
                return Err(EffectError(format!("IMPORTED {start} {end}")));
            }
            locked.db().set_imported(start as u16, end as u16, true);
        }
        _ => return Err(bad()),
    }
    Ok(())
}

/// Most effects one `BATCH` may announce.
const MAX_BATCH: u64 = 1 << 24;

/// Applies a stream of effects in order, holding back the effects of a
/// `BATCH` until all have arrived and applying them together.
#[derive(Default)]
pub struct Applier {
    batch: Option<OpenBatch>,
}

/// A batch whose effects are still arriving: how many are still to come,
/// those that came (their arguments), and their bytes.
type OpenBatch = (usize, Vec<Vec<Vec<u8>>>, Vec<u8>);

impl Applier {
    /// Feeds one effect (`raw`: its encoded bytes; `offset`: where the
    /// effect, or its batch, starts in the stream). Returns the bytes of what
    /// was applied by this call (the effect itself, a whole batch once its
    /// last effect came, or nothing while a batch is still open), for a
    /// replica's own journal. Operations `skips` says are held are passed over.
    pub fn feed(
        &mut self,
        db: &Db,
        args: &[&[u8]],
        raw: &[u8],
        offset: u64,
        skips: &mut Skips,
    ) -> Result<Vec<u8>, EffectError> {
        skips.passed(offset);
        let held = |skips: &Skips, args: &[&[u8]]| {
            args.first().is_some_and(|n| is_operation(n))
                && args.get(1).is_some_and(|k| skips.held(k, offset))
        };
        if let Some((left, effects, bytes)) = self.batch.as_mut() {
            if args.first().copied() == Some(b"BATCH") {
                return Err(EffectError("BATCH inside a batch".into()));
            }
            effects.push(args.iter().map(|a| a.to_vec()).collect());
            bytes.extend_from_slice(raw);
            *left -= 1;
            if *left > 0 {
                return Ok(Vec::new());
            }
            let (_, mut effects, bytes) = self.batch.take().expect("open batch");
            // In order: an effect's state may release the operations after it.
            effects.retain(|e| {
                let v: Vec<&[u8]> = e.iter().map(Vec::as_slice).collect();
                let keep = !held(skips, &v);
                if keep {
                    skips.applied(&v);
                }
                keep
            });
            apply_batch(db, &effects)?;
            return Ok(bytes);
        }
        if args.first().copied() == Some(b"BATCH") {
            let n = match args {
                [_, n] => num(n)?,
                _ => return Err(EffectError("malformed BATCH".into())),
            };
            if n == 0 || n > MAX_BATCH {
                return Err(EffectError(format!("BATCH of {n}")));
            }
            self.batch = Some((n as usize, Vec::new(), raw.to_vec()));
            return Ok(Vec::new());
        }
        if !held(skips, args) {
            apply(db, args)?;
            skips.applied(args);
        }
        Ok(raw.to_vec())
    }

    /// Whether a batch is still open (a stream must not end inside one).
    pub fn in_batch(&self) -> bool {
        self.batch.is_some()
    }
}

/// Applies the effects of one batch under the locks of all their keys.
fn apply_batch(db: &Db, effects: &[Vec<Vec<u8>>]) -> Result<(), EffectError> {
    let views: Vec<Vec<&[u8]>> = effects
        .iter()
        .map(|e| e.iter().map(Vec::as_slice).collect())
        .collect();
    let whole = views.iter().any(|a| effect_key(a).is_none());
    let mut locked = if whole {
        db.lock_all()
    } else {
        db.lock_keys(views.iter().filter_map(|a| effect_key(a)))
    };
    for args in &views {
        apply_locked(&mut locked, args)?;
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
    let mut applier = Applier::default();
    let mut skips = Skips::default();
    for_each_effect(stream, |args| {
        applier.feed(db, args, &[], 0, &mut skips).map(drop)
    })?;
    if applier.in_batch() {
        return Err(EffectError("stream ends inside a batch".into()));
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
                other => format!("{:?}", crate::store::digest::value_digest(other)),
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

    fn list_of(db: &Db, key: &[u8]) -> Vec<String> {
        let mut guard = db.lock(key);
        match guard.get(key, 0).map(|e| e.value()) {
            Some(ValueRef::List(l)) => l
                .iter()
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .collect(),
            _ => Vec::new(),
        }
    }

    fn effect(args: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        header(args.len(), &mut out);
        for a in args {
            bulk(a, &mut out);
        }
        out
    }

    /// The stream a full sync replays starts before the snapshot read each
    /// key. A list's older whole state replayed over the snapshot's newer one
    /// must release the pushes after it, which the snapshot had said were
    /// held: skipped, they were lost (replica `[0,1,14,…]` where the primary
    /// had `[0,1,2,…]`). Operations the snapshot holds, with no older state
    /// replayed before them, are still skipped; FLUSHSHARD releases too.
    #[test]
    fn an_older_state_replayed_over_a_snapshot_releases_what_follows() {
        let replica = Db::new(4);
        let mut skips = Skips::default();
        let mut snap = Vec::new();
        encode_at(40, &mut snap);
        snap.extend(effect(&[b"LIST", b"k", b"0", b"0", b"1", b"2", b"3"]));
        snap.extend(effect(&[b"LIST", b"m", b"0", b"a", b"b"]));
        snap.extend(effect(&[b"LIST", b"f", b"0", b"x", b"y"]));
        apply_snapshot(&replica, &snap, &mut skips).unwrap();
        let mut applier = Applier::default();
        let stream: [(&[&[u8]], u64); 11] = [
            (&[b"LIST", b"k", b"0", b"0"], 10),
            (&[b"FLUSHSHARD", b"0", b"1"], 12),
            (&[b"LIST", b"f", b"0", b"x"], 14),
            (&[b"LIST", b"m", b"0", b"a"], 16),
            (&[b"LIST", b"k", b"0", b"0", b"1"], 20),
            (&[b"LOPS", b"m", b"0", b">", b"+", b"b"], 22),
            (&[b"LOPS", b"f", b"0", b">", b"+", b"y"], 24),
            (&[b"LOPS", b"k", b"0", b">", b"+", b"2"], 30),
            (&[b"LOPS", b"k", b"0", b">", b"+", b"3"], 35),
            (&[b"LOPS", b"k", b"0", b">", b"+", b"4"], 45),
            (&[b"LOPS", b"m", b"0", b">", b"+", b"c"], 46),
        ];
        for (args, offset) in stream {
            applier
                .feed(&replica, args, &[], offset, &mut skips)
                .unwrap();
        }
        assert_eq!(list_of(&replica, b"k"), ["0", "1", "2", "3", "4"]);
        assert_eq!(list_of(&replica, b"f"), ["x", "y"]);
        assert_eq!(list_of(&replica, b"m"), ["a", "b", "c"]);
        // Within a batch, in order.
        let replica = Db::new(4);
        let mut skips = Skips::default();
        apply_snapshot(&replica, &snap, &mut skips).unwrap();
        let mut applier = Applier::default();
        let batch: [&[&[u8]]; 4] = [
            &[b"BATCH", b"3"],
            &[b"LIST", b"k", b"0", b"0", b"1"],
            &[b"LOPS", b"k", b"0", b">", b"+", b"2"],
            &[b"LOPS", b"m", b"0", b">", b"+", b"b"],
        ];
        for args in batch {
            applier.feed(&replica, args, &[], 20, &mut skips).unwrap();
        }
        assert_eq!(list_of(&replica, b"k"), ["0", "1", "2"]);
        assert_eq!(
            list_of(&replica, b"m"),
            ["a", "b"],
            "still held: not pushed twice"
        );
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
