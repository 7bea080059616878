//! One shard of the keyspace: a positional entry table plus an ordered expiry
//! index.
//!
//! Positions (see `table`) give O(1) random sampling (eviction, RANDOMKEY) and an
//! order SCAN can walk with a cursor. Removal moves the last entry into the hole;
//! walking positions from high to low therefore never misses an entry that stays
//! in the shard (see `scan`).

use super::entry::{Entry, Value};
use super::evict::{eviction_score, AccessMode, Policy};
use super::memory::MemoryCounters;
use super::table::Table;
use super::waiter::Waiter;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A client's WATCH: set when any key it watches changes (see [`Shard::watch`]).
pub type WatchFlag = Arc<AtomicBool>;

/// What a write does to the key's time to live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ttl {
    /// Remove any TTL (plain SET).
    Clear,
    /// Keep the TTL the key had (SET KEEPTTL, APPEND, INCR…).
    Keep,
    /// Expire at this Unix time in milliseconds.
    At(u64),
}

/// A key considered for eviction.
#[derive(Clone, Debug)]
pub struct Candidate {
    pub score: u64,
    pub shard: usize,
    pub key: Vec<u8>,
}

/// Old table slots the active-expire cycle moves per shard per tick.
const CRON_MIGRATE_SLOTS: usize = 256;

pub struct Shard {
    map: Table,
    /// `(deadline, key hash)` of every key with a TTL, soonest first.
    expires: BTreeSet<(u64, u64)>,
    /// Estimated bytes held by this shard's entries.
    used: usize,
    mem: Arc<MemoryCounters>,
    access: AccessMode,
    /// Keys removed because their deadline passed.
    expired: u64,
    /// Record changed keys for replication ([`Shard::take_changes`]).
    track: bool,
    /// Keys changed since the last `take_changes` (only while tracking).
    /// With whether the key was replaced (set, removed, moved in): then its
    /// whole state goes to replicas, else possibly only its changed members.
    dirty: Vec<(Box<[u8]>, bool)>,
    /// The shard was emptied since the last `take_changes` (only while tracking).
    flushed: bool,
    /// Keys clients WATCH, with the flag each of them is told through when the
    /// key changes (written, deleted, expired or evicted, here or by a primary).
    watched: HashMap<Box<[u8]>, Vec<WatchFlag>, foldhash::fast::RandomState>,
    /// Clients blocked on keys (BLPOP and friends), first come first served.
    blocked: HashMap<Box<[u8]>, VecDeque<Arc<Waiter>>, foldhash::fast::RandomState>,
    /// Keys with blocked clients changed since `take_ready`: they may be served.
    ready: Vec<Box<[u8]>>,
    /// Record what happens to keys for keyspace notifications (`events`).
    notify: bool,
    /// What happened to which key since `take_events` (only while `notify`),
    /// with a process-wide sequence number that orders events across shards.
    events: Vec<(Box<[u8]>, Touch, u64)>,
}

/// Orders key events across shards (a command touching keys of several shards
/// notifies in the order it touched them).
static EVENT_SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// What happened to a key, for keyspace notifications.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Touch {
    /// Written; `created` when the key did not exist before.
    Written { created: bool },
    /// Deleted by a command.
    Removed,
    /// Removed because its deadline passed.
    Expired,
    /// Removed to free memory.
    Evicted,
}

impl Shard {
    pub fn new(mem: Arc<MemoryCounters>) -> Shard {
        Shard {
            map: Table::default(),
            expires: BTreeSet::new(),
            used: 0,
            mem,
            access: AccessMode::default(),
            expired: 0,
            track: false,
            dirty: Vec::new(),
            flushed: false,
            watched: HashMap::default(),
            blocked: HashMap::default(),
            ready: Vec::new(),
            notify: false,
            events: Vec::new(),
        }
    }

    /// Starts or stops recording key events (notify-keyspace-events).
    pub fn set_notify(&mut self, on: bool) {
        self.notify = on;
        if !on {
            self.events.clear();
        }
    }

    /// Key events since the last call.
    pub fn take_events(&mut self, into: &mut Vec<(Box<[u8]>, Touch, u64)>) {
        into.append(&mut self.events);
    }

    fn note(&mut self, key: &[u8], t: Touch) {
        if self.notify {
            if let Some((k, last, _)) = self.events.last_mut() {
                if **k == *key {
                    // One write per key per command, created if either said so.
                    if let (Touch::Written { created: a }, Touch::Written { created: b }) =
                        (*last, t)
                    {
                        *last = Touch::Written { created: a || b };
                        return;
                    }
                    if *last == t {
                        return;
                    }
                }
            }
            let seq = EVENT_SEQ.fetch_add(1, Ordering::Relaxed);
            self.events.push((Box::from(key), t, seq));
        }
    }

    /// Relabels the last recorded removal (an expiry or an eviction).
    fn relabel_last(&mut self, t: Touch) {
        if self.notify {
            if let Some((_, last, _)) = self.events.last_mut() {
                if *last == Touch::Removed {
                    *last = t;
                }
            }
        }
    }

    /// Removes a key to free memory (eviction).
    pub fn evict(&mut self, key: &[u8]) -> Option<Entry> {
        let e = self.remove_any(key);
        if e.is_some() {
            self.relabel_last(Touch::Evicted);
        }
        e
    }

    /// Queues a blocked client on `key`, behind those already waiting.
    pub fn block(&mut self, key: &[u8], waiter: &Arc<Waiter>) {
        self.blocked
            .entry(Box::from(key))
            .or_default()
            .push_back(waiter.clone());
    }

    /// Takes `waiter` off `key`'s queue.
    pub fn unblock(&mut self, key: &[u8], waiter: &Arc<Waiter>) {
        if let Some(q) = self.blocked.get_mut(key) {
            q.retain(|w| !Arc::ptr_eq(w, waiter));
            if q.is_empty() {
                self.blocked.remove(key);
            }
        }
    }

    /// The longest-waiting client on `key` still waiting to be served, dropping
    /// finished ones from the front of the queue.
    pub fn first_waiter(&mut self, key: &[u8]) -> Option<Arc<Waiter>> {
        let q = self.blocked.get_mut(key)?;
        while q.front().is_some_and(|w| w.finished()) {
            q.pop_front();
        }
        let found = q.iter().find(|w| w.waiting()).cloned();
        if q.is_empty() {
            self.blocked.remove(key);
        }
        found
    }

    /// Keys with blocked clients that changed since the last call.
    pub fn take_ready(&mut self, into: &mut Vec<Box<[u8]>>) {
        into.append(&mut self.ready);
    }

    fn signal_ready(&mut self, key: &[u8]) {
        if self.blocked.contains_key(key) && !self.ready.iter().any(|k| **k == *key) {
            self.ready.push(Box::from(key));
        }
    }

    /// Registers `flag` to be set when `key` changes.
    pub fn watch(&mut self, key: &[u8], flag: &WatchFlag) {
        let list = self.watched.entry(Box::from(key)).or_default();
        if !list.iter().any(|f| Arc::ptr_eq(f, flag)) {
            list.push(flag.clone());
        }
    }

    /// Removes `flag` from `key`'s watchers.
    pub fn unwatch(&mut self, key: &[u8], flag: &WatchFlag) {
        if let Some(list) = self.watched.get_mut(key) {
            list.retain(|f| !Arc::ptr_eq(f, flag));
            if list.is_empty() {
                self.watched.remove(key);
            }
        }
    }

    fn touch_watched(&self, key: &[u8]) {
        if let Some(list) = self.watched.get(key) {
            for f in list {
                f.store(true, Ordering::Release);
            }
        }
    }

    /// Starts or stops recording changed keys for replication.
    pub fn set_tracking(&mut self, on: bool) {
        self.track = on;
        if !on {
            self.dirty.clear();
            self.flushed = false;
        }
    }

    fn changed(&mut self, key: &[u8]) {
        if self.track {
            self.dirty.push((Box::from(key), true));
        }
        if !self.watched.is_empty() {
            self.touch_watched(key);
        }
        if !self.blocked.is_empty() {
            self.signal_ready(key);
        }
    }

    /// Whether changes wait to be taken.
    pub fn has_changes(&self) -> bool {
        self.flushed || !self.dirty.is_empty()
    }

    /// Encodes the changes since the last call as replication effects (see
    /// `effect`): the present state of every changed key, after a flush of this
    /// shard's slots if it was emptied. `idx`/`of`: this shard's place in the
    /// keyspace.
    /// Returns how many effects were appended.
    pub fn take_changes(&mut self, idx: usize, of: usize, out: &mut Vec<u8>) -> usize {
        let mut effects = 0;
        if std::mem::take(&mut self.flushed) {
            super::effect::encode_flush(idx, of, out);
            effects += 1;
        }
        let mut dirty = std::mem::take(&mut self.dirty);
        if dirty.len() > 1 {
            // Replaced (true) sorts after changed (false): the last of a key's
            // records says whether it was replaced at all.
            dirty.sort_unstable();
        }
        let mut i = 0;
        while i < dirty.len() {
            let mut j = i;
            while j + 1 < dirty.len() && dirty[j + 1].0 == dirty[i].0 {
                j += 1;
            }
            let (key, replaced) = (&dirty[j].0, dirty[j].1);
            let hash = self.hash_of(key);
            match self.index_of(hash, key) {
                None => super::effect::encode_state(key, None, out),
                Some(idx) => {
                    let e = self.map.get_mut(idx).expect("index in range");
                    super::effect::encode_change(key, e, replaced, out);
                }
            }
            effects += 1;
            i = j + 1;
        }
        dirty.clear();
        // Keep the allocation for the next command.
        self.dirty = dirty;
        effects
    }

    /// Switches how access is stamped. Between LRU and LFU every key is
    /// restamped as if created `now`: the old stamps mean nothing to the new
    /// policy (Redis leaves them, so keys read as cold or hot at random).
    pub fn set_access_mode(&mut self, mode: AccessMode, now: u64) {
        if !self.access.same_stamps(&mode) {
            let stamp = mode.initial(now);
            for e in self.map.iter_mut() {
                e.access = stamp;
            }
        }
        self.access = mode;
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Keys with a TTL.
    pub fn volatile_len(&self) -> usize {
        self.expires.len()
    }

    pub fn used_bytes(&self) -> usize {
        self.used
    }

    pub fn expired_count(&self) -> u64 {
        self.expired
    }

    fn hash_of(&self, key: &[u8]) -> u64 {
        self.map.hash(key)
    }

    fn index_of(&self, hash: u64, key: &[u8]) -> Option<usize> {
        self.map.find(hash, key)
    }

    fn entry_at(&self, idx: usize) -> &Entry {
        self.map.get(idx).expect("index in range")
    }

    fn entry_at_mut(&mut self, idx: usize) -> &mut Entry {
        self.map.get_mut(idx).expect("index in range")
    }

    /// Finds a live key: an expired one is removed on the way (lazy expiry).
    fn find_live(&mut self, key: &[u8], now: u64) -> Option<(usize, u64)> {
        let hash = self.hash_of(key);
        let idx = self.index_of(hash, key)?;
        if self.entry_at(idx).is_expired(now) {
            self.remove_at(idx, hash);
            self.relabel_last(Touch::Expired);
            self.expired += 1;
            return None;
        }
        Some((idx, hash))
    }

    fn touch(&mut self, idx: usize, now: u64) {
        let mode = self.access;
        let r = if mode.lfu { fastrand::f64() } else { 0.0 };
        let e = self.entry_at_mut(idx);
        e.access = mode.touch(e.access, now, r);
    }

    /// Looks a key up for a read, refreshing its access stamp.
    pub fn get(&mut self, key: &[u8], now: u64) -> Option<&Entry> {
        let (idx, _) = self.find_live(key, now)?;
        self.touch(idx, now);
        Some(self.entry_at(idx))
    }

    /// Looks a key up without counting it as an access (TTL, TYPE, EXISTS).
    pub fn peek(&mut self, key: &[u8], now: u64) -> Option<&Entry> {
        let (idx, _) = self.find_live(key, now)?;
        Some(self.entry_at(idx))
    }

    /// Looks a key up for modification; memory accounting follows the changes.
    pub fn get_mut(&mut self, key: &[u8], now: u64) -> Option<EntryMut<'_>> {
        let (idx, hash) = self.find_live(key, now)?;
        self.touch(idx, now);
        let size_before = self.entry_at(idx).mem_size();
        Some(EntryMut {
            shard: self,
            idx,
            hash,
            size_before,
            deleted: false,
            marked: false,
        })
    }

    /// Creates or overwrites a key.
    pub fn set(&mut self, key: &[u8], value: Value<'_>, ttl: Ttl, now: u64) {
        self.changed(key);
        let hash = self.hash_of(key);
        let mode = self.access;
        if self.notify {
            let created = self.index_of(hash, key).is_none();
            self.note(key, Touch::Written { created });
        }
        match self.index_of(hash, key) {
            Some(idx) => {
                let old_size = self.entry_at(idx).mem_size();
                let (old_expire, old_access) = {
                    let e = self.entry_at(idx);
                    (e.expire_at, e.access)
                };
                let expire = match ttl {
                    Ttl::Clear => 0,
                    // A key that has already expired keeps nothing, not even its TTL.
                    Ttl::Keep if old_expire != 0 && old_expire <= now => 0,
                    Ttl::Keep => old_expire,
                    Ttl::At(t) => t,
                };
                // LFU keeps the counter across overwrites, as Redis does; LRU restarts.
                let access = if mode.lfu {
                    old_access
                } else {
                    mode.initial(now)
                };
                let e = self.entry_at_mut(idx);
                e.set_value(value);
                e.access = access;
                e.set_expire_at(expire);
                let new_size = self.entry_at(idx).mem_size();
                self.reindex_expire(hash, old_expire, expire);
                self.account(old_size, new_size);
            }
            None => {
                let mut e = Entry::new(key, value, mode.initial(now));
                let expire = match ttl {
                    Ttl::At(t) => t,
                    _ => 0,
                };
                e.set_expire_at(expire);
                let size = e.mem_size();
                self.insert_new(hash, e);
                self.reindex_expire(hash, 0, expire);
                self.account(0, size);
            }
        }
    }

    /// Inserts an entry known to be absent, reusing the hash already computed.
    fn insert_new(&mut self, hash: u64, e: Entry) {
        self.map.push(hash, e);
    }

    /// Removes a live key and returns it.
    pub fn remove(&mut self, key: &[u8], now: u64) -> Option<Entry> {
        let (idx, hash) = self.find_live(key, now)?;
        Some(self.remove_at(idx, hash))
    }

    /// Removes a key whatever its deadline (eviction, migration).
    pub fn remove_any(&mut self, key: &[u8]) -> Option<Entry> {
        let hash = self.hash_of(key);
        let idx = self.index_of(hash, key)?;
        Some(self.remove_at(idx, hash))
    }

    fn remove_at(&mut self, idx: usize, hash: u64) -> Entry {
        let entry = self.map.remove(idx);
        self.changed(entry.key());
        if self.notify {
            let key = Box::<[u8]>::from(entry.key());
            self.note(&key, Touch::Removed);
        }
        self.reindex_expire(hash, entry.expire_at, 0);
        self.account(entry.mem_size(), 0);
        entry
    }

    /// Sets a key's access stamp as RESTORE's IDLETIME (LRU policies) or FREQ
    /// (LFU policies) say; the other one is ignored, as in Redis.
    pub fn set_access(&mut self, key: &[u8], idle_secs: Option<u64>, freq: Option<u8>, now: u64) {
        let mode = self.access;
        let stamp = match (mode.is_lfu(), idle_secs, freq) {
            (true, _, Some(f)) => mode.stamp_with_counter(u32::from(f), now),
            (false, Some(idle), _) => mode.initial(now.saturating_sub(idle.saturating_mul(1000))),
            _ => return,
        };
        let hash = self.hash_of(key);
        if let Some(idx) = self.index_of(hash, key) {
            self.map.get_mut(idx).expect("index in range").access = stamp;
        }
    }

    /// Inserts an entry moved from another shard or key (RENAME), keeping its
    /// deadline and access stamp.
    pub fn insert_entry(&mut self, entry: Entry, now: u64) {
        let key = entry.key().to_vec();
        let existed = self.remove(&key, now).is_some();
        if existed && self.notify {
            // Overwritten, not deleted: drop the removal just recorded.
            self.events.pop();
        }
        self.changed(&key);
        self.note(&key, Touch::Written { created: !existed });
        let hash = self.hash_of(&key);
        let expire = entry.expire_at;
        let size = entry.mem_size();
        self.insert_new(hash, entry);
        self.reindex_expire(hash, 0, expire);
        self.account(0, size);
    }

    fn reindex_expire(&mut self, hash: u64, old: u64, new: u64) {
        if old == new {
            return;
        }
        if old != 0 {
            self.expires.remove(&(old, hash));
        }
        if new != 0 {
            self.expires.insert((new, hash));
        }
    }

    fn account(&mut self, before: usize, after: usize) {
        self.used = self.used + after - before;
        self.mem.add_dataset(after as i64 - before as i64);
    }

    /// Removes up to `budget` keys whose deadline has passed. Returns how many were
    /// removed and whether more are due.
    pub fn expire_due(&mut self, now: u64, budget: usize) -> (usize, bool) {
        // The cycle also moves an idle shard's resize along, as Redis' cron
        // rehashes, so the old array's memory does not wait for the next write;
        // a little per shard, since every shard of a growing keyspace resizes at
        // about the same time and the cycle visits them all in one tick.
        self.map.migrate(CRON_MIGRATE_SLOTS);
        let mut removed = 0;
        while removed < budget {
            let Some(&(at, hash)) = self.expires.first() else {
                return (removed, false);
            };
            if at > now {
                return (removed, false);
            }
            self.expires.pop_first();
            // Every key with this hash and deadline is due (normally exactly one).
            while let Some(idx) = self.map.find_by(hash, |e| e.expire_at == at) {
                self.remove_at(idx, hash);
                self.relabel_last(Touch::Expired);
                self.expired += 1;
                removed += 1;
            }
        }
        (removed, true)
    }

    /// Empties the shard, returning the old contents so the caller can free them
    /// off the request path (FLUSHALL ASYNC).
    pub fn take_all(&mut self) -> impl Send + 'static {
        // Watchers of keys that existed learn of the flush; others do not, as
        // in Redis (a WATCH of a missing key survives FLUSHALL).
        if !self.watched.is_empty() {
            let present: Vec<&[u8]> = self
                .watched
                .keys()
                .map(|k| &**k)
                .filter(|k| {
                    let h = self.map.hash(k);
                    self.map.find(h, k).is_some()
                })
                .collect();
            for k in present {
                self.touch_watched(k);
            }
        }
        let map = std::mem::take(&mut self.map);
        let expires = std::mem::take(&mut self.expires);
        let used = self.used;
        self.account(used, 0);
        if self.track {
            self.flushed = true;
            self.dirty.clear();
        }
        (map, expires)
    }

    /// The entry at a position, for sampling and cursors.
    pub fn get_index(&self, idx: usize) -> Option<&Entry> {
        self.map.get(idx)
    }

    /// A random live key.
    pub fn random_key(&mut self, now: u64) -> Option<Vec<u8>> {
        for _ in 0..100 {
            if self.map.is_empty() {
                return None;
            }
            let idx = self.map.random_pos()?;
            let e = self.entry_at(idx);
            let key = e.key().to_vec();
            if e.is_expired(now) {
                let hash = self.hash_of(&key);
                self.remove_at(idx, hash);
                self.relabel_last(Touch::Expired);
                self.expired += 1;
                continue;
            }
            return Some(key);
        }
        None
    }

    /// One SCAN step over this shard: visits live entries whose hash is below
    /// `bound` (`table::SCAN_START` to begin) and returns the next bound, 0 when
    /// the shard is done. See `Table::scan` for why nothing present is missed.
    pub fn scan(&self, bound: u64, count: usize, now: u64, mut visit: impl FnMut(&Entry)) -> u64 {
        self.map.scan(bound, count, |e| {
            if !e.is_expired(now) {
                visit(e);
            }
        })
    }

    /// Calls `visit` for every live entry.
    pub fn for_each(&self, now: u64, mut visit: impl FnMut(&Entry)) {
        for e in self.map.iter() {
            if !e.is_expired(now) {
                visit(e);
            }
        }
    }

    /// Adds up to `samples` eviction candidates from this shard to `out`.
    pub fn sample(
        &mut self,
        policy: Policy,
        samples: usize,
        shard: usize,
        now: u64,
        out: &mut Vec<Candidate>,
    ) {
        let mode = self.access;
        let push = |e: &Entry, out: &mut Vec<Candidate>| {
            out.push(Candidate {
                score: eviction_score(policy, &mode, e.access, e.expire_at, now),
                shard,
                key: e.key().to_vec(),
            });
        };
        if policy.volatile_only() {
            if self.expires.is_empty() {
                return;
            }
            // When few keys have a TTL, random probing would rarely find one; take
            // the soonest deadlines instead (exactly right for volatile-ttl).
            if policy == Policy::VolatileTtl || self.expires.len() * 16 < self.map.len() {
                let picks: Vec<(u64, u64)> = self.expires.iter().take(samples).copied().collect();
                for (at, hash) in picks {
                    if let Some(idx) = self.map.find_by(hash, |e| e.expire_at == at) {
                        push(self.entry_at(idx), out);
                    }
                }
                return;
            }
            let mut found = 0;
            for _ in 0..samples * 16 {
                let Some(pos) = self.map.random_pos() else {
                    return;
                };
                let e = self.entry_at(pos);
                if e.expire_at != 0 {
                    push(e, out);
                    found += 1;
                    if found == samples {
                        break;
                    }
                }
            }
            return;
        }
        if self.map.is_empty() {
            return;
        }
        for _ in 0..samples {
            let Some(pos) = self.map.random_pos() else {
                return;
            };
            push(self.entry_at(pos), out);
        }
    }
}

/// A key held for modification. On drop the shard's memory estimate is updated.
pub struct EntryMut<'a> {
    shard: &'a mut Shard,
    idx: usize,
    hash: u64,
    size_before: usize,
    deleted: bool,
    /// Recorded as changed for replicas: only once it is, not when merely
    /// looked at (a GETEX without options, a failed INCR).
    marked: bool,
}

impl EntryMut<'_> {
    fn mark(&mut self) {
        if !self.marked {
            if self.shard.track {
                let key = Box::from(self.entry().key());
                self.shard.dirty.push((key, false));
                // Remember which members change, to send only those.
                if let Some(obj) = self.shard.entry_at_mut(self.idx).obj_mut() {
                    obj.start_log();
                }
            }
            if !self.shard.watched.is_empty() {
                self.shard
                    .touch_watched(self.shard.entry_at(self.idx).key());
            }
            if !self.shard.blocked.is_empty() {
                let key = Box::<[u8]>::from(self.shard.entry_at(self.idx).key());
                self.shard.signal_ready(&key);
            }
            if self.shard.notify {
                let key = Box::<[u8]>::from(self.shard.entry_at(self.idx).key());
                self.shard.note(&key, Touch::Written { created: false });
            }
        }
        self.marked = true;
    }

    pub fn entry(&self) -> &Entry {
        self.shard.entry_at(self.idx)
    }

    /// The entry, to change its value. Deadlines change through `set_expire`.
    pub fn entry_mut(&mut self) -> &mut Entry {
        self.mark();
        self.shard.entry_at_mut(self.idx)
    }

    /// Sets (`Some`) or clears (`None`) the key's deadline.
    pub fn set_expire(&mut self, at: Option<u64>) {
        let at = at.unwrap_or(0);
        let old = self.entry().expire_at;
        if old == at {
            // Nothing changes (PERSIST of a key without a deadline).
            return;
        }
        self.mark();
        self.shard.entry_at_mut(self.idx).set_expire_at(at);
        self.shard.reindex_expire(self.hash, old, at);
    }

    /// Deletes the key (e.g. a hash whose last field was removed).
    pub fn delete(mut self) -> Entry {
        self.deleted = true;
        let size_now = self.entry().mem_size();
        // Settle the estimate for changes made before deleting.
        self.shard.account(self.size_before, size_now);
        self.shard.remove_at(self.idx, self.hash)
    }
}

impl Drop for EntryMut<'_> {
    fn drop(&mut self) {
        if !self.deleted {
            let after = self.entry().mem_size();
            self.shard.account(self.size_before, after);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{HashObj, Obj};

    fn shard() -> Shard {
        Shard::new(Arc::new(MemoryCounters::default()))
    }

    #[test]
    fn set_get_overwrite_remove() {
        let mut s = shard();
        s.set(b"a", Value::Str(b"1"), Ttl::Clear, 0);
        assert_eq!(s.get(b"a", 0).unwrap().as_str(), Some(&b"1"[..]));
        s.set(b"a", Value::Str(b"22"), Ttl::Clear, 0);
        assert_eq!(s.get(b"a", 0).unwrap().as_str(), Some(&b"22"[..]));
        assert_eq!(s.len(), 1);
        assert!(s.remove(b"a", 0).is_some());
        assert!(s.get(b"a", 0).is_none());
        assert_eq!(s.used_bytes(), 0);
        assert_eq!(s.mem.dataset(), 0);
    }

    #[test]
    fn lazy_and_active_expiry() {
        let mut s = shard();
        s.set(b"a", Value::Str(b"1"), Ttl::At(100), 0);
        s.set(b"b", Value::Str(b"1"), Ttl::At(200), 0);
        s.set(b"c", Value::Str(b"1"), Ttl::Clear, 0);
        assert_eq!(s.volatile_len(), 2);
        assert!(s.get(b"a", 99).is_some());
        assert!(s.get(b"a", 100).is_none(), "deadline is exclusive");
        assert_eq!(s.expired_count(), 1);
        assert_eq!(s.expire_due(150, 10), (0, false));
        assert_eq!(s.expire_due(250, 10), (1, false));
        assert_eq!(s.len(), 1);
        assert_eq!(s.volatile_len(), 0);
    }

    #[test]
    fn active_expiry_respects_budget() {
        let mut s = shard();
        for i in 0..10u32 {
            s.set(
                &i.to_be_bytes(),
                Value::Str(b"v"),
                Ttl::At(10 + u64::from(i)),
                0,
            );
        }
        assert_eq!(s.expire_due(100, 4), (4, true));
        assert_eq!(s.expire_due(100, 100), (6, false));
        assert!(s.is_empty());
    }

    #[test]
    fn ttl_keep_and_clear() {
        let mut s = shard();
        s.set(b"a", Value::Str(b"1"), Ttl::At(1000), 0);
        s.set(b"a", Value::Str(b"2"), Ttl::Keep, 0);
        assert_eq!(s.peek(b"a", 0).unwrap().expire_at(), Some(1000));
        s.set(b"a", Value::Str(b"3"), Ttl::Clear, 0);
        assert_eq!(s.peek(b"a", 0).unwrap().expire_at(), None);
        assert_eq!(s.volatile_len(), 0);
    }

    #[test]
    fn entry_mut_tracks_memory_and_deletes() {
        let mut s = shard();
        s.set(b"h", Value::Obj(Obj::Hash(HashObj::new())), Ttl::Clear, 0);
        let before = s.used_bytes();
        {
            let mut m = s.get_mut(b"h", 0).unwrap();
            m.entry_mut()
                .hash_mut()
                .unwrap()
                .set(b"field", &[b'x'; 1000]);
            m.set_expire(Some(50));
        }
        assert!(s.used_bytes() > before + 1000);
        assert_eq!(s.volatile_len(), 1);
        let m = s.get_mut(b"h", 0).unwrap();
        m.delete();
        assert_eq!(s.used_bytes(), 0);
        assert_eq!(s.volatile_len(), 0);
        assert_eq!(s.mem.dataset(), 0);
    }

    #[test]
    fn scan_visits_every_stable_key_despite_changes() {
        let mut s = shard();
        for i in 0..1000u32 {
            s.set(format!("k{i}").as_bytes(), Value::Str(b"v"), Ttl::Clear, 0);
        }
        let mut seen = std::collections::HashSet::new();
        let mut bound = crate::store::table::SCAN_START;
        let mut round = 0;
        loop {
            bound = s.scan(bound, 10, 0, |e| {
                seen.insert(e.key().to_vec());
            });
            // Between calls, delete keys that are not multiples of 3 and add new ones.
            for j in 0..5 {
                let victim = format!("k{}", round * 5 + j);
                if (round * 5 + j) % 3 != 0 {
                    s.remove(victim.as_bytes(), 0);
                }
                s.set(
                    format!("new{round}-{j}").as_bytes(),
                    Value::Str(b"v"),
                    Ttl::Clear,
                    0,
                );
            }
            round += 1;
            if bound == 0 {
                break;
            }
        }
        for i in (0..1000u32).filter(|i| i % 3 == 0) {
            assert!(seen.contains(format!("k{i}").as_bytes()), "k{i} missed");
        }
    }
}
