//! The keyspace: shards selected by hash slot, each behind its own lock.
//!
//! A key's shard is its cluster slot modulo the shard count, so every slot lives in
//! exactly one shard: slot migration and per-slot key listing touch one shard only.
//! Commands on several keys lock their shards in ascending order ([`Db::lock_keys`]),
//! which keeps multi-key commands atomic without deadlocks.

pub mod changelog;
pub mod digest;
pub mod effect;
pub mod entry;
pub mod evict;
pub mod hash;
pub mod journal;
pub mod list;
pub mod memory;
pub mod rdb;
pub mod set;
pub mod shard;
pub use shoal_core::keyslot as slot;
pub mod table;
pub mod waiter;
pub mod zset;

pub use entry::{Entry, Kind, Obj, Value, ValueRef};
pub use evict::{AccessMode, Policy};
pub use hash::HashObj;
pub use journal::Journal;
pub use list::ListObj;
pub use memory::MemoryCounters;
pub use set::SetObj;
pub use shard::{EntryMut, Shard, Touch, Ttl};
pub use waiter::{Nil, Waiter};
pub use zset::ZSetObj;

use parking_lot::{Mutex, MutexGuard};
use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Enough shards that two worker threads rarely meet on one lock, few enough that
/// whole-keyspace walks stay cheap.
pub use shoal_core::config::DEFAULT_SHARDS;

/// Most keys evicted to make room for one command, so a write never stalls long.
const MAX_EVICTIONS_PER_CALL: usize = 4096;

pub struct Db {
    shards: Box<[Mutex<Shard>]>,
    mask: usize,
    shift: u32,
    mem: Arc<MemoryCounters>,
    evicted: AtomicU64,
    /// Effects of tracked changes, for replicas (see `effect`, `journal`).
    journal: Journal,
    /// Clients blocked on keys now (INFO `blocked_clients`).
    pub blocked_clients: std::sync::atomic::AtomicUsize,
    /// Slots whose import into this shard of the cluster is complete (see
    /// `cluster::migrate`): part of the data, so replicated with it (the
    /// `IMPORTED` effect), and a replica promoted after a hand-over knows its
    /// copy is the one to serve.
    imported: Box<[AtomicU64]>,
}

/// A locked shard. When it is released, the changes made under the lock go to
/// the journal, still under the lock, so the journal orders every key's changes
/// as the keyspace did.
pub struct ShardGuard<'a> {
    guard: MutexGuard<'a, Shard>,
    idx: usize,
    db: &'a Db,
}

impl std::ops::Deref for ShardGuard<'_> {
    type Target = Shard;
    fn deref(&self) -> &Shard {
        &self.guard
    }
}

impl std::ops::DerefMut for ShardGuard<'_> {
    fn deref_mut(&mut self) -> &mut Shard {
        &mut self.guard
    }
}

thread_local! {
    /// Effects are encoded here before the journal's lock is taken.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    /// This thread holds a [`Locked`] set: locking another shard now could
    /// deadlock (checked in debug builds, so tests and the fuzzer catch it).
    static HOLDING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

impl Drop for ShardGuard<'_> {
    fn drop(&mut self) {
        if !self.guard.has_changes() {
            return;
        }
        let of = self.db.shards.len();
        SCRATCH.with(|s| {
            let mut buf = s.borrow_mut();
            buf.clear();
            self.guard.take_changes(self.idx, of, &mut buf);
            self.db.journal.append(&buf);
            if buf.capacity() > 1 << 20 {
                *buf = Vec::new();
            }
        });
    }
}

/// Key and TTL counts for INFO keyspace and metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeyspaceStats {
    pub keys: u64,
    pub expires: u64,
    pub expired: u64,
    pub evicted: u64,
}

/// Why eviction could not bring memory under the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutOfMemory;

impl Db {
    /// A keyspace of `shards` shards (rounded up to a power of two).
    pub fn new(shards: usize) -> Db {
        let n = shards.max(1).next_power_of_two();
        let mem = Arc::new(MemoryCounters::default());
        Db {
            shards: (0..n)
                .map(|_| Mutex::new(Shard::new(mem.clone())))
                .collect(),
            mask: n - 1,
            shift: n.trailing_zeros(),
            mem,
            evicted: AtomicU64::new(0),
            journal: Journal::new(journal::DEFAULT_CAPACITY),
            blocked_clients: std::sync::atomic::AtomicUsize::new(0),
            imported: (0..usize::from(slot::SLOTS) / 64)
                .map(|_| AtomicU64::new(0))
                .collect(),
        }
    }

    /// Whether `slot`'s import is complete here.
    pub fn imported(&self, slot: u16) -> bool {
        let s = usize::from(slot & (slot::SLOTS - 1));
        self.imported[s / 64].load(Ordering::Acquire) & (1 << (s % 64)) != 0
    }

    /// Marks slots `start..=end` imported (or not).
    pub fn set_imported(&self, start: u16, end: u16, on: bool) {
        for s in start..=end.min(slot::SLOTS - 1) {
            let s = usize::from(s);
            let bit = 1u64 << (s % 64);
            if on {
                self.imported[s / 64].fetch_or(bit, Ordering::AcqRel);
            } else {
                self.imported[s / 64].fetch_and(!bit, Ordering::AcqRel);
            }
        }
    }

    /// The imported slots, as inclusive runs.
    pub fn imported_runs(&self) -> Vec<(u16, u16)> {
        let mut runs: Vec<(u16, u16)> = Vec::new();
        for s in 0..slot::SLOTS {
            if self.imported(s) {
                match runs.last_mut() {
                    Some(r) if r.1 + 1 == s => r.1 = s,
                    _ => runs.push((s, s)),
                }
            }
        }
        runs
    }

    /// Marks `start..=end` imported and journals it for replicas, ordered
    /// with every key change (all shards are held).
    pub fn record_imported(&self, start: u16, end: u16) {
        let locked = self.lock_all();
        self.set_imported(start, end, true);
        let mut buf = Vec::new();
        effect::encode_imported(start, end, &mut buf);
        self.journal.append(&buf);
        drop(locked);
    }

    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    fn guard(&self, idx: usize) -> ShardGuard<'_> {
        debug_assert!(
            !HOLDING.with(|h| h.get()),
            "a shard was locked by a thread that already holds a Locked set: a handler must use the keys it was handed"
        );
        ShardGuard {
            guard: self.shards[idx].lock(),
            idx,
            db: self,
        }
    }

    /// Starts or stops recording changes in the journal. Every change made after
    /// this returns is recorded.
    pub fn set_tracking(&self, on: bool) {
        for s in self.shards.iter() {
            s.lock().set_tracking(on);
        }
    }

    /// Starts or stops recording key events in every shard.
    pub fn set_notify(&self, on: bool) {
        for s in self.shards.iter() {
            s.lock().set_notify(on);
        }
    }

    /// Key events no command took (background expiry, eviction), from every shard.
    pub fn take_events(&self) -> Vec<(Box<[u8]>, Touch, u64)> {
        let mut out = Vec::new();
        for s in self.shards.iter() {
            s.lock().take_events(&mut out);
        }
        out.sort_by_key(|e| e.2);
        out
    }

    /// Removes every key whose slot is `idx` modulo `of` (a replica applying a
    /// flush of a primary's keyspace shard `idx` of `of`; both counts are
    /// powers of two).
    pub fn remove_slot_class(&self, idx: usize, of: usize) {
        self.lock_all().remove_slot_class(idx, of);
    }

    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    pub fn memory(&self) -> &MemoryCounters {
        &self.mem
    }

    pub fn shard_of(&self, key: &[u8]) -> usize {
        slot::key_slot(key) as usize & self.mask
    }

    /// Locks the shard holding `key`.
    pub fn lock(&self, key: &[u8]) -> ShardGuard<'_> {
        self.guard(self.shard_of(key))
    }

    pub fn lock_index(&self, idx: usize) -> ShardGuard<'_> {
        self.guard(idx)
    }

    /// Locks every shard that holds one of `keys`, in ascending order.
    pub fn lock_keys<'k>(&self, keys: impl IntoIterator<Item = &'k [u8]>) -> Locked<'_> {
        let mut idx: Vec<usize> = keys.into_iter().map(|k| self.shard_of(k)).collect();
        idx.sort_unstable();
        idx.dedup();
        Locked::over(self, idx)
    }

    /// Locks every shard, in order (FLUSHALL, whole-keyspace commands).
    pub fn lock_all(&self) -> Locked<'_> {
        Locked::over(self, (0..self.shards.len()).collect())
    }

    /// A set holding no shard yet (see [`Locked::none`]).
    pub fn lock_none(&self) -> Locked<'_> {
        Locked::none(self)
    }

    /// Switches how access is stamped (see [`Shard::set_access_mode`]).
    pub fn set_access_mode(&self, mode: AccessMode, now_ms: u64) {
        self.lock_all().set_access_mode(mode, now_ms);
    }

    pub fn stats(&self) -> KeyspaceStats {
        self.lock_all().stats()
    }

    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes every key (see [`Locked::flush`]).
    pub fn flush(&self, lazy: bool) {
        self.lock_all().flush(lazy);
    }

    /// Calls `visit` for every live key.
    pub fn for_each(&self, now: u64, visit: impl FnMut(&Entry)) {
        self.lock_all().for_each(now, visit);
    }

    /// One SCAN step (see [`Locked::scan`]), holding one shard at a time.
    pub fn scan(&self, cursor: u64, count: usize, now: u64, mut visit: impl FnMut(&Entry)) -> u64 {
        self.scan_at(cursor, count, now, |e, _| visit(e))
    }

    /// [`Db::scan`], also telling for each key the journal's end offset while
    /// its shard was held: the key's state includes exactly the journaled
    /// changes before that offset (a shard's changes are journaled under its
    /// lock). The replication snapshot reads this way while writes go on.
    pub fn scan_at(
        &self,
        cursor: u64,
        count: usize,
        now: u64,
        mut visit: impl FnMut(&Entry, u64),
    ) -> u64 {
        let mut shard = (cursor as usize) & self.mask;
        let mut bound = match cursor >> self.shift {
            0 => table::SCAN_START,
            b => b.min(table::SCAN_START),
        };
        let mut budget = count.max(1);
        while shard < self.shards.len() {
            let mut visited = 0;
            let guard = self.shards[shard].lock();
            let at = self.journal.end();
            let next = guard.scan(bound, budget, now, |e| {
                visited += 1;
                visit(e, at)
            });
            drop(guard);
            budget = budget.saturating_sub(visited);
            if next != 0 {
                return (next << self.shift) | shard as u64;
            }
            shard += 1;
            bound = table::SCAN_START;
            if budget == 0 {
                break;
            }
        }
        if shard >= self.shards.len() {
            0
        } else {
            shard as u64
        }
    }

    /// Active expiry: removes due keys from every shard, at most `budget` per shard.
    /// Returns the number removed and whether some shard still has due keys.
    pub fn expire_cycle(&self, now: u64, budget: usize) -> (usize, bool) {
        let mut total = 0;
        let mut more = false;
        for idx in 0..self.shards.len() {
            let (n, m) = self.guard(idx).expire_due(now, budget);
            total += n;
            more |= m;
        }
        (total, more)
    }

    pub fn evicted(&self) -> u64 {
        self.evicted.load(Ordering::Relaxed)
    }

    /// Evicts keys under `policy` until the memory estimate is at most `limit`.
    pub fn evict_to(
        &self,
        limit: u64,
        policy: Policy,
        samples: usize,
        now: u64,
    ) -> Result<usize, OutOfMemory> {
        let mut evicted = 0;
        let mut candidates = Vec::new();
        while self.mem.used() > limit {
            if policy == Policy::NoEviction {
                return Err(OutOfMemory);
            }
            if evicted >= MAX_EVICTIONS_PER_CALL {
                // Progress was made; let the command run and continue next time.
                break;
            }
            candidates.clear();
            let start = fastrand::usize(..self.shards.len());
            let mut probed = 0;
            let mut idx = start;
            // Sample a few non-empty shards; walk all of them before giving up.
            loop {
                let mut s = self.shards[idx].lock();
                if !s.is_empty() {
                    s.sample(policy, samples, idx, now, &mut candidates);
                    probed += 1;
                }
                drop(s);
                idx = (idx + 1) & self.mask;
                // volatile-ttl reads every shard's soonest deadline (cheap), so it
                // evicts exactly the nearest deadline; other policies sample.
                let enough = policy != Policy::VolatileTtl && probed >= 4 && !candidates.is_empty();
                if idx == start || enough {
                    break;
                }
            }
            let best = match policy {
                Policy::AllKeysRandom | Policy::VolatileRandom => {
                    if candidates.is_empty() {
                        None
                    } else {
                        Some(&candidates[fastrand::usize(..candidates.len())])
                    }
                }
                _ => candidates.iter().max_by_key(|c| c.score),
            };
            let Some(best) = best else {
                return Err(OutOfMemory);
            };
            if self.guard(best.shard).evict(&best.key).is_some() {
                evicted += 1;
                self.evicted.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(evicted)
    }
}

/// The shards a command (or a transaction, or a replicated batch) holds while it
/// runs: taken together in ascending order, so sets never deadlock, and handed to
/// the command instead of the keyspace, so a command can only touch what it
/// declared. On release every change made under the set is journaled as one
/// unit (a `BATCH` of effects when there are several) while the locks are still
/// held, so replicas apply it atomically and in the keyspace's order.
pub struct Locked<'a> {
    db: &'a Db,
    /// Ascending by shard index.
    guards: Vec<(usize, ShardGuard<'a>)>,
    /// Scratch for [`Locked::acquire`]: shard indexes before sorting.
    idx: Vec<usize>,
    /// Keys with blocked clients that changed under these locks, gathered at
    /// release for `cmd::blocking::serve_ready`.
    ready: Vec<Box<[u8]>>,
}

impl<'a> Locked<'a> {
    /// A set that holds nothing (commands without keys).
    pub fn none(db: &'a Db) -> Locked<'a> {
        Locked {
            db,
            guards: Vec::new(),
            idx: Vec::new(),
            ready: Vec::new(),
        }
    }

    fn over(db: &'a Db, idx: Vec<usize>) -> Locked<'a> {
        let guards: Vec<_> = idx.into_iter().map(|i| (i, db.guard(i))).collect();
        if !guards.is_empty() {
            HOLDING.with(|h| h.set(true));
        }
        Locked {
            db,
            guards,
            idx: Vec::new(),
            ready: Vec::new(),
        }
    }

    /// Releases what is held, then locks the shards of `keys`, reusing this
    /// set's buffers: the request path allocates nothing per command.
    pub fn acquire<'k>(&mut self, keys: impl IntoIterator<Item = &'k [u8]>) {
        self.release();
        let mut idx = std::mem::take(&mut self.idx);
        idx.clear();
        idx.extend(keys.into_iter().map(|k| self.db.shard_of(k)));
        idx.sort_unstable();
        idx.dedup();
        self.lock_indexes(&idx);
        self.idx = idx;
    }

    /// Releases what is held, then locks every shard.
    pub fn acquire_all(&mut self) {
        self.release();
        let all: Vec<usize> = (0..self.db.shards.len()).collect();
        self.lock_indexes(&all);
    }

    fn lock_indexes(&mut self, idx: &[usize]) {
        let db = self.db;
        self.guards.extend(idx.iter().map(|&i| (i, db.guard(i))));
        if !self.guards.is_empty() {
            HOLDING.with(|h| h.set(true));
        }
    }

    pub fn db(&self) -> &'a Db {
        self.db
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.guards.is_empty()
    }

    /// Whether every shard is held (whole-keyspace commands need it).
    pub fn holds_all(&self) -> bool {
        self.guards.len() == self.db.shards.len()
    }

    /// Whether the shard holding `key` is held.
    pub fn holds(&self, key: &[u8]) -> bool {
        let idx = self.db.shard_of(key);
        self.guards.binary_search_by_key(&idx, |(i, _)| *i).is_ok()
    }

    /// The held shard that holds `key`. Panics if it was not locked: the
    /// command table declares every key a command touches, so this is a bug
    /// in the command (the command fuzz target checks every command).
    pub fn shard(&mut self, key: &[u8]) -> &mut Shard {
        let idx = self.db.shard_of(key);
        self.index(idx)
    }

    /// Held shard number `idx`.
    pub fn index(&mut self, idx: usize) -> &mut Shard {
        let pos = self
            .guards
            .binary_search_by_key(&idx, |(i, _)| *i)
            .expect("the command's shards were locked");
        &mut self.guards[pos].1
    }

    /// Journals the changes made under the set, then unlocks it.
    pub fn release(&mut self) {
        if self.guards.is_empty() {
            return;
        }
        for (_, g) in self.guards.iter_mut() {
            g.guard.take_ready(&mut self.ready);
        }
        let of = self.db.shards.len();
        let changed = self.guards.iter().filter(|(_, g)| g.has_changes()).count();
        if changed > 0 {
            SCRATCH.with(|s| {
                let mut buf = s.borrow_mut();
                buf.clear();
                let mut effects = 0;
                for (i, g) in self.guards.iter_mut() {
                    effects += g.guard.take_changes(*i, of, &mut buf);
                }
                if effects > 1 {
                    let mut framed = Vec::with_capacity(buf.len() + 32);
                    effect::encode_batch(effects, &mut framed);
                    framed.extend_from_slice(&buf);
                    self.db.journal.append(&framed);
                } else {
                    self.db.journal.append(&buf);
                }
                if buf.capacity() > 1 << 20 {
                    *buf = Vec::new();
                }
            });
        }
        self.guards.clear();
        HOLDING.with(|h| h.set(false));
    }

    /// Keys with blocked clients changed under locks released so far.
    pub fn take_ready(&mut self) -> Vec<Box<[u8]>> {
        std::mem::take(&mut self.ready)
    }

    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    fn all_guards(&mut self) -> impl Iterator<Item = &mut Shard> + use<'_, 'a> {
        debug_assert!(
            self.holds_all(),
            "a whole-keyspace operation holds every shard"
        );
        self.guards.iter_mut().map(|(_, g)| &mut **g)
    }

    /// Keys in the held shards (all of them for a whole-keyspace command).
    pub fn len(&mut self) -> usize {
        self.guards.iter().map(|(_, g)| g.len()).sum()
    }

    pub fn stats(&mut self) -> KeyspaceStats {
        let mut st = KeyspaceStats {
            evicted: self.db.evicted.load(Ordering::Relaxed),
            ..KeyspaceStats::default()
        };
        for s in self.all_guards() {
            st.keys += s.len() as u64;
            st.expires += s.volatile_len() as u64;
            st.expired += s.expired_count();
        }
        st
    }

    pub fn set_access_mode(&mut self, mode: AccessMode, now_ms: u64) {
        for s in self.all_guards() {
            s.set_access_mode(mode, now_ms);
        }
    }

    /// Starts or stops recording changes in the journal. Every change made after
    /// this returns is recorded.
    pub fn set_notify(&mut self, on: bool) {
        for s in self.all_guards() {
            s.set_notify(on);
        }
    }

    /// Key events recorded in the held shards (keyspace notifications).
    pub fn take_events(&mut self, into: &mut Vec<(Box<[u8]>, Touch, u64)>) {
        for (_, g) in self.guards.iter_mut() {
            g.guard.take_events(into);
        }
        into.sort_by_key(|e| e.2);
    }

    pub fn set_tracking(&mut self, on: bool) {
        for s in self.all_guards() {
            s.set_tracking(on);
        }
    }

    /// Removes every key. With `lazy`, the memory is freed on another thread so the
    /// caller is not held up by a large dataset (FLUSHALL ASYNC).
    pub fn flush(&mut self, lazy: bool) {
        let old: Vec<_> = self.all_guards().map(|s| s.take_all()).collect();
        if lazy {
            std::thread::spawn(move || drop(old));
        } else {
            drop(old);
        }
    }

    /// See [`Db::remove_slot_class`]. Only this keyspace's shards that can hold
    /// such slots are touched, and those that hold nothing else are emptied
    /// whole, so a primary's FLUSHALL (one effect per shard) costs one pass.
    pub fn remove_slot_class(&mut self, idx: usize, of: usize) {
        let n = self.db.shards.len();
        for j in 0..n {
            if of <= n {
                // Shard j holds slots ≡ j (mod n), hence ≡ j (mod of).
                if j % of == idx {
                    drop(self.index(j).take_all());
                }
            } else if idx % n == j {
                let s = self.index(j);
                let mut doomed = Vec::new();
                s.for_each(0, |e| {
                    if usize::from(slot::key_slot(e.key())) % of == idx {
                        doomed.push(e.key().to_vec());
                    }
                });
                for k in doomed {
                    s.remove_any(&k);
                }
            }
        }
    }

    /// A random live key, shards weighted by their size.
    pub fn random_key(&mut self, now: u64) -> Option<Vec<u8>> {
        for _ in 0..16 {
            let sizes: Vec<usize> = self.guards.iter().map(|(_, g)| g.len()).collect();
            let total: usize = sizes.iter().sum();
            if total == 0 {
                return None;
            }
            let mut pick = fastrand::usize(..total);
            let pos = sizes
                .iter()
                .position(|&n| {
                    if pick < n {
                        true
                    } else {
                        pick -= n;
                        false
                    }
                })
                .unwrap_or(0);
            if let Some(k) = self.guards[pos].1.random_key(now) {
                return Some(k);
            }
        }
        None
    }

    /// One SCAN step over the held (all) shards; see [`Db::scan`] for the cursor.
    pub fn scan(
        &mut self,
        cursor: u64,
        count: usize,
        now: u64,
        mut visit: impl FnMut(&Entry),
    ) -> u64 {
        let (mask, shift, n) = (self.db.mask, self.db.shift, self.db.shards.len());
        let mut shard = (cursor as usize) & mask;
        let mut bound = match cursor >> shift {
            0 => table::SCAN_START,
            b => b.min(table::SCAN_START),
        };
        let mut budget = count.max(1);
        while shard < n {
            let mut visited = 0;
            let next = self.index(shard).scan(bound, budget, now, |e| {
                visited += 1;
                visit(e)
            });
            budget = budget.saturating_sub(visited);
            if next != 0 {
                return (next << shift) | shard as u64;
            }
            shard += 1;
            bound = table::SCAN_START;
            if budget == 0 {
                break;
            }
        }
        if shard >= n {
            0
        } else {
            shard as u64
        }
    }

    /// Calls `visit` for every live key in the shard that holds `slot`'s keys
    /// (the keyspace shards by slot, so a slot's keys are all in one shard).
    pub fn for_each_in_slot(&mut self, slot: u16, now: u64, mut visit: impl FnMut(&Entry)) {
        let idx = slot as usize & self.db.mask;
        self.index(idx).for_each(now, |e| {
            if slot::key_slot(e.key()) == slot {
                visit(e)
            }
        });
    }

    /// Calls `visit` for every live key (KEYS).
    pub fn for_each(&mut self, now: u64, mut visit: impl FnMut(&Entry)) {
        for s in self.all_guards() {
            s.for_each(now, &mut visit);
        }
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        self.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db_with(n: usize) -> Db {
        let db = Db::new(8);
        for i in 0..n {
            db.lock(format!("key:{i}").as_bytes()).set(
                format!("key:{i}").as_bytes(),
                Value::Str(b"v"),
                Ttl::Clear,
                0,
            );
        }
        db
    }

    #[test]
    fn scan_returns_every_key_once_without_changes() {
        let db = db_with(1000);
        let mut seen = Vec::new();
        let mut cursor = 0;
        loop {
            cursor = db.scan(cursor, 37, 0, |e| seen.push(e.key().to_vec()));
            if cursor == 0 {
                break;
            }
        }
        seen.sort();
        let before = seen.len();
        seen.dedup();
        assert_eq!(before, 1000);
        assert_eq!(seen.len(), 1000);
    }

    #[test]
    fn lock_keys_dedups_and_orders() {
        let db = db_with(0);
        let mut l = db.lock_keys([&b"a"[..], b"b", b"a", b"{a}x"]);
        l.shard(b"a").set(b"a", Value::Str(b"1"), Ttl::Clear, 0);
        l.shard(b"{a}x")
            .set(b"{a}x", Value::Str(b"2"), Ttl::Clear, 0);
        drop(l);
        assert_eq!(db.len(), 2);
        assert_eq!(db.shard_of(b"a"), db.shard_of(b"{a}x"));
    }

    #[test]
    fn eviction_brings_estimate_under_limit() {
        let db = db_with(2000);
        let used = db.memory().used();
        let limit = used / 2;
        let n = db.evict_to(limit, Policy::AllKeysLru, 5, 0).unwrap();
        assert!(n > 0);
        assert!(db.memory().used() <= limit);
        assert_eq!(db.evicted(), n as u64);
        assert_eq!(db.evict_to(0, Policy::NoEviction, 5, 0), Err(OutOfMemory));
        // No key has a TTL, so volatile policies cannot make room.
        assert_eq!(db.evict_to(0, Policy::VolatileLru, 5, 0), Err(OutOfMemory));
    }

    #[test]
    fn flush_empties_and_resets_memory() {
        let db = db_with(100);
        db.flush(false);
        assert_eq!(db.len(), 0);
        assert_eq!(db.memory().dataset(), 0);
    }

    #[test]
    fn random_key_finds_live_keys() {
        let db = db_with(10);
        let k = db.lock_all().random_key(0).unwrap();
        assert!(k.starts_with(b"key:"));
        assert_eq!(Db::new(4).lock_all().random_key(0), None);
    }
}
