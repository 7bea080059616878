//! The shard's entry table: a Robin Hood hash table with linear probing whose
//! entries live inline in the buckets, kept sorted by home bucket.
//!
//! Written here rather than taken from `hashbrown`, because its buckets are not
//! addressable and every lookup through an index of positions cost a chain of four
//! dependent cache misses (control bytes, position, entry, key). Here a lookup
//! reads the home bucket's cache line, compares the 32 hash bits stored in the
//! entry, and touches the key only on a match: two misses. Measured with
//! node/bench/compare.py at 1M keys. The layout also gives:
//! - O(1) random sampling (eviction, RANDOMKEY): pick a bucket, take the next entry;
//! - a SCAN cursor in hash space (see [`Table::scan`]) that survives resizes, as
//!   Redis' reverse-binary cursor does, because entries are ordered by hash prefix.
//!
//! Invariants: an entry's home bucket is `hash32 * buckets >> 32` (monotonic in
//! the hash, so any bucket count works and tables grow by 1.5x rather than 2x);
//! entries are sorted by home along the array; every entry sits at or after its
//! home; there is no wrap-around (an overflow area follows the last bucket).
//!
//! Resizing is incremental, as Redis' dict rehash is: a new array takes every
//! insertion while the old one is drained front to back, a few slots per insertion
//! or removal (and more from the active-expire cycle), so no request pays for
//! moving a whole shard. Lookups probe both arrays meanwhile. The old array's
//! drained prefix ends at its `floor`: every entry still there sits at or after it.

use super::entry::{Entry, KeyRef};
use std::hash::BuildHasher;
use std::num::NonZeroU32;

/// Slots after the last bucket, for runs that start near the end (lengthened when
/// a run outgrows them).
const OVERFLOW: usize = 32;
/// Smallest table.
const MIN_BUCKETS: usize = 8;
/// Growth threshold: Robin Hood probing keeps runs short up to 90% load.
const MAX_LOAD_PERCENT: usize = 90;
/// Old slots visited per insertion or removal while resizing. Growing by 1.5x at
/// 90% load leaves 0.45 inserts per old slot before the next growth, and a shrink
/// (at 1/8 load, to half) 1/16 removals per old slot: 32 finishes well ahead of both.
const MIGRATE_STEP: usize = 32;
/// The exclusive upper bound of the hash space: a SCAN that has not started.
pub const SCAN_START: u64 = 1 << 32;
/// Marks a position in the old array (positions are opaque to callers).
const OLD: usize = 1 << (usize::BITS - 1);

/// The 32 hash bits kept in an entry: the high half, low bit set so it is never
/// zero (monotonic in the hash, so ordering and SCAN bounds are unaffected).
fn stored_hash(hash: u64) -> NonZeroU32 {
    NonZeroU32::new((hash >> 32) as u32 | 1).unwrap_or(NonZeroU32::MIN)
}

/// One array of slots with its bucket count.
#[derive(Default)]
struct Slots {
    slots: Vec<Option<Entry>>,
    len: usize,
    /// Home buckets; 0 while nothing was ever inserted.
    buckets: usize,
    /// Slots before this one are drained (an old array being resized away); 0 for
    /// the current array.
    floor: usize,
}

impl Slots {
    fn with_buckets(buckets: usize) -> Slots {
        Slots {
            slots: (0..buckets + OVERFLOW).map(|_| None).collect(),
            len: 0,
            buckets,
            floor: 0,
        }
    }

    fn home(&self, h32: NonZeroU32) -> usize {
        ((u64::from(h32.get()) * self.buckets as u64) >> 32) as usize
    }

    /// The smallest 32-bit hash whose home is `home` or later.
    fn first_hash_of(&self, home: usize) -> u64 {
        ((home as u64) << 32).div_ceil(self.buckets as u64)
    }

    /// The first position holding an entry with this hash for which `pred` holds.
    fn probe(&self, h: NonZeroU32, pred: &mut impl FnMut(&Entry) -> bool) -> Option<usize> {
        if self.len == 0 {
            return None;
        }
        let home = self.home(h);
        for (i, slot) in self.slots.iter().enumerate().skip(home.max(self.floor)) {
            let e = slot.as_ref()?;
            if self.home(e.hash) > home {
                return None;
            }
            if e.hash == h && pred(e) {
                return Some(i);
            }
        }
        None
    }

    /// Puts an entry after every entry of its home or earlier homes, shifting the
    /// rest of the run right by one. A run that reaches the array's end lengthens
    /// the overflow area (rare: runs are short at 90% load with a seeded hash), so
    /// placing never fails and never drops an entry. Only the current array
    /// (floor 0) takes insertions.
    fn place(&mut self, entry: Entry) -> usize {
        debug_assert_eq!(self.floor, 0);
        let home = self.home(entry.hash);
        let mut at = home;
        while let Some(Some(e)) = self.slots.get(at) {
            if self.home(e.hash) > home {
                break;
            }
            at += 1;
        }
        let mut gap = at;
        while let Some(Some(_)) = self.slots.get(gap) {
            gap += 1;
        }
        if gap >= self.slots.len() {
            // Exact: doubling the capacity would double the table's memory.
            self.slots.reserve_exact(OVERFLOW);
            self.slots.extend((0..OVERFLOW).map(|_| None));
        }
        self.slots[at..=gap].rotate_right(1);
        self.slots[at] = Some(entry);
        self.len += 1;
        at
    }

    /// Removes the entry at `pos`, pulling the displaced entries after it back.
    fn remove(&mut self, pos: usize) -> Entry {
        let entry = self.slots[pos].take().expect("an entry at this position");
        let mut i = pos;
        while i + 1 < self.slots.len() {
            match &self.slots[i + 1] {
                Some(next) if self.home(next.hash) <= i => {
                    self.slots[i] = self.slots[i + 1].take();
                    i += 1;
                }
                _ => break,
            }
        }
        self.len -= 1;
        entry
    }

    /// A position holding an entry, chosen at random (None when empty); never
    /// looks at the drained prefix, so sampling an old array stays O(run).
    fn random_pos(&self) -> Option<usize> {
        if self.len == 0 {
            return None;
        }
        let n = self.slots.len() - self.floor;
        let start = fastrand::usize(..n);
        (0..n)
            .map(|k| self.floor + (start + k) % n)
            .find(|&i| self.slots[i].is_some())
    }

    /// One past the last position that may hold an entry whose home is at most
    /// that of hash `bound - 1` (`bound` > 0).
    fn run_end(&self, bound: u64) -> (usize, usize) {
        let top_home = self.home(NonZeroU32::new((bound - 1) as u32).unwrap_or(NonZeroU32::MIN));
        let mut end = (top_home + 1).max(self.floor);
        while let Some(Some(e)) = self.slots.get(end) {
            if self.home(e.hash) > top_home {
                break;
            }
            end += 1;
        }
        (top_home, end.min(self.slots.len()))
    }

    /// See [`Table::scan`]; one array's step.
    fn scan(&self, bound: u64, count: usize, visit: &mut impl FnMut(&Entry)) -> u64 {
        if self.len == 0 || bound == 0 {
            return 0;
        }
        // Walk down from the end of the run of the home bucket holding `bound - 1`.
        let (_, end) = self.run_end(bound);
        let mut emitted = 0;
        let mut last_home = usize::MAX;
        for slot in self.slots[..end].iter().rev() {
            let Some(e) = slot else { continue };
            let home = self.home(e.hash);
            if emitted >= count && home != last_home {
                return self.first_hash_of(last_home);
            }
            last_home = home;
            if u64::from(e.hash.get()) < bound {
                visit(e);
                emitted += 1;
            }
        }
        0
    }

    /// Visits exactly the entries whose 32-bit hash is in `[low, bound)`.
    fn visit_range(&self, low: u64, bound: u64, visit: &mut impl FnMut(&Entry)) {
        if self.len == 0 || bound <= low {
            return;
        }
        let (_, end) = self.run_end(bound);
        let low_home = self.home(NonZeroU32::new(low as u32).unwrap_or(NonZeroU32::MIN));
        for slot in self.slots[..end].iter().rev() {
            let Some(e) = slot else { continue };
            // Homes only fall from here on, and an earlier home's hashes are lower.
            if self.home(e.hash) < low_home {
                break;
            }
            let h = u64::from(e.hash.get());
            if h >= low && h < bound {
                visit(e);
            }
        }
    }

    /// Checks the invariants (tests).
    #[cfg(test)]
    fn check(&self, hash: impl Fn(&[u8]) -> u64) {
        let mut last_home = 0;
        let mut n = 0;
        for (i, slot) in self.slots.iter().enumerate() {
            if let Some(e) = slot {
                let home = self.home(e.hash);
                assert!(i >= self.floor, "entry in the drained prefix");
                assert!(home <= i, "entry before its home");
                assert!(home >= last_home, "entries out of home order");
                assert_eq!(e.hash, stored_hash(hash(e.key())));
                last_home = home;
                n += 1;
            }
        }
        assert_eq!(n, self.len);
    }
}

#[derive(Default)]
pub struct Table {
    /// Takes every insertion.
    cur: Slots,
    /// The array being drained into `cur` while a resize is under way.
    old: Option<Slots>,
    hasher: foldhash::fast::RandomState,
}

impl Table {
    pub fn len(&self) -> usize {
        self.cur.len + self.old.as_ref().map_or(0, |o| o.len)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(KeyRef(key))
    }

    /// Whether a resize is still moving entries (tests, and the expire cycle's
    /// choice to help it along).
    pub fn resizing(&self) -> bool {
        self.old.is_some()
    }

    /// The first position holding an entry with this hash for which `pred` holds.
    fn probe(&self, hash: u64, mut pred: impl FnMut(&Entry) -> bool) -> Option<usize> {
        let h = stored_hash(hash);
        if let Some(old) = &self.old {
            if let Some(i) = old.probe(h, &mut pred) {
                return Some(i | OLD);
            }
        }
        self.cur.probe(h, &mut pred)
    }

    /// Position of `key`, whose hash is `hash`.
    pub fn find(&self, hash: u64, key: &[u8]) -> Option<usize> {
        self.probe(hash, |e| e.key() == key)
    }

    /// Position of the first entry with this hash that satisfies `pred`.
    pub fn find_by(&self, hash: u64, pred: impl FnMut(&Entry) -> bool) -> Option<usize> {
        self.probe(hash, pred)
    }

    pub fn get(&self, pos: usize) -> Option<&Entry> {
        if pos & OLD != 0 {
            let old = self.old.as_ref()?;
            return old.slots.get(pos & !OLD).and_then(Option::as_ref);
        }
        self.cur.slots.get(pos).and_then(Option::as_ref)
    }

    pub fn get_mut(&mut self, pos: usize) -> Option<&mut Entry> {
        if pos & OLD != 0 {
            let old = self.old.as_mut()?;
            return old.slots.get_mut(pos & !OLD).and_then(Option::as_mut);
        }
        self.cur.slots.get_mut(pos).and_then(Option::as_mut)
    }

    /// Inserts an entry whose key is not in the table; returns its position,
    /// valid until the next insertion or removal.
    pub fn push(&mut self, hash: u64, mut entry: Entry) -> usize {
        entry.hash = stored_hash(hash);
        if (self.len() + 1) * 100 > self.cur.buckets * MAX_LOAD_PERCENT {
            // A resize still under way is finished first (it runs ahead of need,
            // so this is rare and short).
            self.migrate(usize::MAX);
            let grown = (self.cur.buckets * 3 / 2).max(MIN_BUCKETS);
            self.start_resize(grown);
        }
        // Before placing: moving entries shifts positions in `cur`.
        self.migrate(MIGRATE_STEP);
        self.cur.place(entry)
    }

    /// Removes the entry at `pos`.
    pub fn remove(&mut self, pos: usize) -> Entry {
        let entry = if pos & OLD != 0 {
            self.old
                .as_mut()
                .expect("a resize under way")
                .remove(pos & !OLD)
        } else {
            self.cur.remove(pos)
        };
        if self.old.is_some() {
            self.migrate(MIGRATE_STEP);
        } else if self.cur.buckets > MIN_BUCKETS && self.cur.len * 8 < self.cur.buckets {
            // Give memory back after mass deletion, like Redis shrinking a sparse dict.
            self.start_resize((self.cur.buckets / 2).max(MIN_BUCKETS));
        }
        entry
    }

    /// Starts draining the current array into a new one of `buckets` buckets.
    fn start_resize(&mut self, buckets: usize) {
        debug_assert!(self.old.is_none());
        let old = std::mem::replace(&mut self.cur, Slots::with_buckets(buckets));
        if old.len > 0 {
            self.old = Some(old);
        }
    }

    /// Moves the old array's entries into the current one, visiting at most
    /// `budget` old slots; drops the old array once it is empty.
    pub fn migrate(&mut self, budget: usize) {
        let Some(old) = self.old.as_mut() else { return };
        let mut visited = 0;
        while old.len > 0 && old.floor < old.slots.len() && visited < budget {
            if let Some(e) = old.slots[old.floor].take() {
                old.len -= 1;
                self.cur.place(e);
            }
            old.floor += 1;
            visited += 1;
        }
        if old.len == 0 {
            self.old = None;
        }
    }

    /// A position holding an entry, chosen at random (None when empty).
    pub fn random_pos(&self) -> Option<usize> {
        let len = self.len();
        if len == 0 {
            return None;
        }
        match &self.old {
            Some(old) if fastrand::usize(..len) < old.len => old.random_pos().map(|i| i | OLD),
            _ => self.cur.random_pos(),
        }
    }

    /// One SCAN step: visits entries whose 32-bit hash is below `bound`
    /// ([`SCAN_START`] to begin), highest first, at least `count` of them unless the
    /// table runs out, and always whole home buckets. Returns the next bound, or 0
    /// when done.
    ///
    /// Every entry present for the whole scan is visited: the bound only falls,
    /// each step visits every entry with hash in `[next, bound)`, and hashes do not
    /// change when the table grows, shrinks or moves entries. While a resize is
    /// under way the fuller array takes the step and the other visits exactly the
    /// same hash range (about as few entries, hashes being uniform), so a scan
    /// without changes still returns each key once.
    pub fn scan(&self, bound: u64, count: usize, mut visit: impl FnMut(&Entry)) -> u64 {
        let Some(old) = &self.old else {
            return self.cur.scan(bound, count, &mut visit);
        };
        let (lead, follow) = if old.len > self.cur.len {
            (old, &self.cur)
        } else {
            (&self.cur, old)
        };
        let next = lead.scan(bound, count, &mut visit);
        follow.visit_range(next, bound, &mut visit);
        next
    }

    pub fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.old
            .iter()
            .flat_map(|o| o.slots.iter())
            .chain(self.cur.slots.iter())
            .flatten()
    }

    /// Every entry, mutably; callers must not change what the table orders by
    /// (the hash) — access stamps and values are fine.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Entry> {
        self.old
            .iter_mut()
            .flat_map(|o| o.slots.iter_mut())
            .chain(self.cur.slots.iter_mut())
            .flatten()
    }

    /// Checks the invariants (tests).
    #[cfg(test)]
    fn check(&self) {
        let hash = |k: &[u8]| self.hash(k);
        self.cur.check(hash);
        assert_eq!(self.cur.floor, 0);
        if let Some(old) = &self.old {
            old.check(hash);
            assert!(old.len > 0, "an empty old array is dropped");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::entry::Value;
    use std::collections::HashSet;

    fn entry(k: &str) -> Entry {
        Entry::new(k.as_bytes(), Value::Str(b"v"), 0)
    }

    fn insert(t: &mut Table, k: &str) -> usize {
        let h = t.hash(k.as_bytes());
        t.push(h, entry(k))
    }

    fn find(t: &Table, k: &str) -> Option<usize> {
        t.find(t.hash(k.as_bytes()), k.as_bytes())
    }

    #[test]
    fn insert_find_remove() {
        let mut t = Table::default();
        for i in 0..5000 {
            let k = format!("k{i}");
            let pos = insert(&mut t, &k);
            assert_eq!(t.get(pos).unwrap().key(), k.as_bytes());
        }
        t.check();
        for i in (0..5000).step_by(3) {
            let pos = find(&t, &format!("k{i}")).unwrap();
            t.remove(pos);
        }
        t.check();
        for i in 0..5000 {
            let k = format!("k{i}");
            assert_eq!(find(&t, &k).is_some(), i % 3 != 0, "{k}");
        }
        assert_eq!(t.len(), 5000 - 1667);
    }

    #[test]
    fn shrinks_after_mass_deletion() {
        let mut t = Table::default();
        for i in 0..10_000 {
            insert(&mut t, &format!("k{i}"));
        }
        t.migrate(usize::MAX);
        let big = t.cur.slots.len();
        for i in 0..9_990 {
            let pos = find(&t, &format!("k{i}")).unwrap();
            t.remove(pos);
        }
        t.check();
        t.migrate(usize::MAX);
        assert!(!t.resizing());
        assert!(t.cur.slots.len() < big / 8);
        for i in 9_990..10_000 {
            assert!(find(&t, &format!("k{i}")).is_some());
        }
    }

    #[test]
    fn runs_past_the_last_bucket_keep_every_entry() {
        // Hashes at the very top of the space all home in the last bucket, at
        // every table size: far more than the overflow area holds, through
        // growth, shrinking and deletion.
        let mut t = Table::default();
        let hash = |i: u64| u64::MAX - (i << 8);
        for i in 0..500u64 {
            t.push(hash(i), entry(&format!("c{i}")));
        }
        for i in 0..2000 {
            insert(&mut t, &format!("k{i}"));
        }
        assert_eq!(t.len(), 2500);
        for i in 0..500u64 {
            let k = format!("c{i}");
            assert!(t.find(hash(i), k.as_bytes()).is_some(), "{k}");
        }
        for i in 0..2000 {
            let pos = find(&t, &format!("k{i}")).unwrap();
            t.remove(pos);
        }
        for i in (0..500u64).step_by(2) {
            let k = format!("c{i}");
            let pos = t.find(hash(i), k.as_bytes()).unwrap();
            assert_eq!(t.remove(pos).key(), k.as_bytes());
        }
        assert_eq!(t.len(), 250);
        for i in 0..500u64 {
            let k = format!("c{i}");
            assert_eq!(t.find(hash(i), k.as_bytes()).is_some(), i % 2 == 1, "{k}");
        }
    }

    #[test]
    fn scan_survives_resizes_in_both_directions() {
        let mut t = Table::default();
        for i in 0..3000 {
            insert(&mut t, &format!("stable{i}"));
        }
        let mut seen = HashSet::new();
        let mut bound = SCAN_START;
        let mut step = 0;
        loop {
            bound = t.scan(bound, 50, |e| {
                seen.insert(e.key().to_vec());
            });
            // Grow the table a lot, then shrink it back, between steps.
            if step == 5 {
                for i in 0..20_000 {
                    insert(&mut t, &format!("tmp{i}"));
                }
            }
            if step == 15 {
                for i in 0..20_000 {
                    let pos = find(&t, &format!("tmp{i}")).unwrap();
                    t.remove(pos);
                }
            }
            step += 1;
            if bound == 0 {
                break;
            }
        }
        t.check();
        for i in 0..3000 {
            assert!(
                seen.contains(format!("stable{i}").as_bytes()),
                "stable{i} missed"
            );
        }
    }

    #[test]
    fn resizing_is_incremental_and_loses_nothing() {
        let mut t = Table::default();
        let mut n = 0;
        let mut resizes = 0;
        // Through several growths, every key stays findable after every insertion,
        // and each growth is spread over many insertions.
        while resizes < 6 {
            let was = t.resizing();
            insert(&mut t, &format!("k{n}"));
            n += 1;
            if !was && t.resizing() {
                resizes += 1;
                let old = t.old.as_ref().unwrap();
                // One insertion moved at most one step of the old array.
                assert!(old.floor <= MIGRATE_STEP, "{}", old.floor);
                assert!(old.len + MIGRATE_STEP >= old.buckets * 8 / 10);
            }
            if t.resizing() && n % 7 == 0 {
                t.check();
                for i in (0..n).step_by(37) {
                    assert!(find(&t, &format!("k{i}")).is_some(), "k{i} lost at {n}");
                }
            }
        }
        // Removing while a resize is under way finds entries in either array.
        assert!(t.resizing() || n > 0);
        for i in (0..n).step_by(2) {
            let pos = find(&t, &format!("k{i}")).unwrap();
            assert_eq!(t.remove(pos).key(), format!("k{i}").as_bytes());
        }
        t.check();
        for i in 0..n {
            assert_eq!(find(&t, &format!("k{i}")).is_some(), i % 2 == 1, "k{i}");
        }
    }

    #[test]
    fn scan_during_a_resize_returns_each_key_once() {
        for stop_early in [true, false] {
            let mut t = Table::default();
            let mut n = 0;
            while !(t.resizing() && t.len() > 1000) {
                insert(&mut t, &format!("k{n}"));
                n += 1;
            }
            if !stop_early {
                // Most of the way through: the new array leads.
                while t.old.as_ref().is_some_and(|o| o.len > t.len() / 5) {
                    t.migrate(1);
                }
            }
            assert!(t.resizing());
            let mut seen = Vec::new();
            let mut bound = SCAN_START;
            loop {
                bound = t.scan(bound, 10, |e| seen.push(e.key().to_vec()));
                if bound == 0 {
                    break;
                }
            }
            let before = seen.len();
            seen.sort();
            seen.dedup();
            assert_eq!(before, n, "duplicates");
            assert_eq!(seen.len(), n);
        }
    }

    #[test]
    fn sampling_during_a_resize_reaches_both_arrays() {
        let mut t = Table::default();
        let mut n = 0;
        while !(t.resizing() && t.len() > 1000) {
            insert(&mut t, &format!("k{n}"));
            n += 1;
        }
        let (mut old, mut cur) = (0, 0);
        for _ in 0..2000 {
            let pos = t.random_pos().unwrap();
            assert!(t.get(pos).is_some());
            if pos & OLD != 0 {
                old += 1;
            } else {
                cur += 1;
            }
        }
        assert!(old > 0 && cur > 0, "old {old} cur {cur}");
    }

    #[test]
    fn random_positions_hold_entries() {
        let mut t = Table::default();
        assert_eq!(t.random_pos(), None);
        for i in 0..100 {
            insert(&mut t, &format!("k{i}"));
        }
        let mut hit = HashSet::new();
        for _ in 0..2000 {
            let pos = t.random_pos().unwrap();
            hit.insert(t.get(pos).unwrap().key().to_vec());
        }
        assert!(hit.len() > 90, "sampling reached only {} keys", hit.len());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Random inserts and removals keep the invariants and agree with a set;
        /// a scan interleaved with them returns every key present throughout.
        #[test]
        fn behaves_like_a_set(ops in proptest::collection::vec((0u16..600, proptest::bool::ANY), 1..3000)) {
            let mut t = Table::default();
            let mut model = HashSet::new();
            let mut seen = HashSet::new();
            let mut bound = SCAN_START;
            let mut always: Option<HashSet<String>> = None;
            for (step, (k, add)) in ops.iter().enumerate() {
                let key = format!("key:{k}");
                match (add, find(&t, &key)) {
                    (true, None) => { insert(&mut t, &key); model.insert(key.clone()); }
                    (false, Some(pos)) => { t.remove(pos); model.remove(&key); }
                    _ => {}
                }
                if step == ops.len() / 3 {
                    always = Some(model.clone());
                }
                if let Some(a) = always.as_mut() {
                    a.retain(|k| model.contains(k));
                    if bound != 0 && step % 7 == 0 {
                        bound = t.scan(bound, 5, |e| { seen.insert(String::from_utf8(e.key().to_vec()).unwrap()); });
                    }
                }
            }
            t.check();
            proptest::prop_assert_eq!(t.len(), model.len());
            for k in &model {
                proptest::prop_assert!(find(&t, k).is_some());
            }
            // Finish the scan and check that keys present throughout were seen.
            while bound != 0 {
                bound = t.scan(bound, 5, |e| { seen.insert(String::from_utf8(e.key().to_vec()).unwrap()); });
            }
            if let Some(a) = always {
                for k in a {
                    proptest::prop_assert!(seen.contains(&k), "{} missed", k);
                }
            }
        }
    }
}
