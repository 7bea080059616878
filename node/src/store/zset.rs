//! The sorted set type.
//!
//! Small sets (at most 128 members of at most 64 bytes, Redis' listpack
//! thresholds) are one vector sorted by (score, member): compact, and scanned
//! or binary-searched directly. Larger sets are a two-level ordered structure,
//! a B-tree of height two: sorted chunks of at most [`CHUNK`] items, found by
//! binary search on their last items, with a Fenwick tree over the chunk
//! lengths for ranks. Member lookups go through a hash table that stores only
//! each member's hash and score (16 bytes), and confirms a candidate by finding
//! (score, member) in the chunks, so member bytes are stored once.
//!
//! Costs for n members: lookup, rank, insert and remove O(log n) searches plus
//! a move of at most [`CHUNK`] items inside one chunk; a chunk split or merge
//! (once every CHUNK/4 changes at most) rebuilds the Fenwick tree, O(n/CHUNK).

use super::memory::alloc_size;
use hashbrown::HashTable;
use std::cmp::Ordering;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};

type Member = Box<[u8]>;
type Item = (f64, Member);

/// Redis' `zset-max-listpack-entries` and `zset-max-listpack-value` defaults.
pub const SMALL_MAX_ENTRIES: usize = 128;
pub const SMALL_MAX_VALUE: usize = 64;

static MAX_ENTRIES: AtomicUsize = AtomicUsize::new(SMALL_MAX_ENTRIES);
static MAX_VALUE: AtomicUsize = AtomicUsize::new(SMALL_MAX_VALUE);

/// Sets the listpack thresholds (CONFIG SET zset-max-listpack-entries and
/// zset-max-listpack-value, alias zset-max-ziplist-*). As in Redis they apply
/// to later insertions and rebuilt sets; existing sets are not converted.
pub fn set_listpack_limits(entries: usize, value: usize) {
    MAX_ENTRIES.store(entries, AtomicOrdering::Relaxed);
    MAX_VALUE.store(value, AtomicOrdering::Relaxed);
}

/// The current (entries, value) listpack thresholds.
pub fn listpack_limits() -> (usize, usize) {
    (
        MAX_ENTRIES.load(AtomicOrdering::Relaxed),
        MAX_VALUE.load(AtomicOrdering::Relaxed),
    )
}

/// Most items in one chunk of a large set.
/// 170 items of 24 bytes fill a 4 KiB allocation (a jemalloc size class).
const CHUNK: usize = 170;
const ITEM: usize = std::mem::size_of::<Item>();

/// Redis' order: by score, then by member bytes. Scores are never NaN.
fn cmp(a: (f64, &[u8]), b: (f64, &[u8])) -> Ordering {
    a.0.partial_cmp(&b.0)
        .unwrap_or(Ordering::Equal)
        .then_with(|| a.1.cmp(b.1))
}

fn key(i: &Item) -> (f64, &[u8]) {
    (i.0, &i.1)
}

/// An index slot; the score is split into two u32 so the slot is 12 bytes
/// (a (u64, f64) pair would take 16).
#[derive(Clone, Copy, Debug)]
struct Slot {
    hash: u32,
    score: [u32; 2],
}

impl Slot {
    fn new(hash: u32, score: f64) -> Slot {
        let b = score.to_bits();
        Slot {
            hash,
            score: [b as u32, (b >> 32) as u32],
        }
    }

    fn score(&self) -> f64 {
        f64::from_bits(u64::from(self.score[0]) | (u64::from(self.score[1]) << 32))
    }

    fn table_hash(&self) -> u64 {
        spread(self.hash)
    }
}

/// The table's 64-bit hash from the stored 32 bits (high bits choose the
/// control byte, low bits the bucket, so both must vary).
fn spread(h: u32) -> u64 {
    u64::from(h).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

#[derive(Clone, Debug)]
struct Large {
    chunks: Vec<Vec<Item>>,
    /// 1-based Fenwick tree of the chunk lengths (`fen[0]` unused).
    fen: Vec<usize>,
    /// (32 bits of the member's hash, score) per member: 12 bytes a slot.
    index: HashTable<Slot>,
    hasher: foldhash::fast::RandomState,
    len: usize,
}

#[derive(Clone, Debug)]
enum Repr {
    Small(Vec<Item>),
    Large(Large),
}

/// Members ordered by (score, member), as Redis orders them.
#[derive(Clone, Debug)]
pub struct ZSetObj {
    repr: Repr,
    /// Estimated heap bytes of the members (not the containers).
    bytes: usize,
    /// Members changed since replication last took them (`changelog`).
    log: super::changelog::MemberLog,
}

impl Default for ZSetObj {
    fn default() -> Self {
        ZSetObj {
            repr: Repr::Small(Vec::new()),
            bytes: 0,
            log: Default::default(),
        }
    }
}

fn new_chunk() -> Vec<Item> {
    Vec::with_capacity(CHUNK)
}

impl Large {
    fn new() -> Large {
        Large {
            chunks: Vec::new(),
            fen: vec![0],
            index: HashTable::new(),
            hasher: Default::default(),
            len: 0,
        }
    }

    fn hash(&self, m: &[u8]) -> u32 {
        (self.hasher.hash_one(m) >> 32) as u32
    }

    fn rebuild_fen(&mut self) {
        let n = self.chunks.len();
        self.fen.clear();
        self.fen.resize(n + 1, 0);
        for i in 1..=n {
            self.fen[i] += self.chunks[i - 1].len();
            let j = i + (i & i.wrapping_neg());
            if j <= n {
                self.fen[j] += self.fen[i];
            }
        }
    }

    fn fen_add(&mut self, ci: usize, up: bool) {
        let mut i = ci + 1;
        while i < self.fen.len() {
            if up {
                self.fen[i] += 1;
            } else {
                self.fen[i] -= 1;
            }
            i += i & i.wrapping_neg();
        }
    }

    /// Items in the chunks before `ci`.
    fn prefix(&self, ci: usize) -> usize {
        let (mut i, mut s) = (ci, 0);
        while i > 0 {
            s += self.fen[i];
            i -= i & i.wrapping_neg();
        }
        s
    }

    /// (chunk, offset) of rank `r` (< len).
    fn find_rank(&self, mut r: usize) -> (usize, usize) {
        let n = self.chunks.len();
        let mut pos = 0;
        let mut step = if n == 0 {
            0
        } else {
            1 << (usize::BITS - 1 - n.leading_zeros())
        };
        while step > 0 {
            if pos + step <= n && self.fen[pos + step] <= r {
                pos += step;
                r -= self.fen[pos];
            }
            step >>= 1;
        }
        (pos, r)
    }

    /// The chunk where `k` is or would go.
    fn chunk_for(&self, k: (f64, &[u8])) -> usize {
        let i = self.chunks.partition_point(|c| {
            c.last()
                .is_some_and(|last| cmp(key(last), k) == Ordering::Less)
        });
        i.min(self.chunks.len().saturating_sub(1))
    }

    /// Where (score, member) is: Ok((chunk, offset)) when present.
    fn locate(&self, k: (f64, &[u8])) -> Result<(usize, usize), (usize, usize)> {
        if self.chunks.is_empty() {
            return Err((0, 0));
        }
        let ci = self.chunk_for(k);
        match self.chunks[ci].binary_search_by(|i| cmp(key(i), k)) {
            Ok(o) => Ok((ci, o)),
            Err(o) => Err((ci, o)),
        }
    }

    fn score(&self, m: &[u8]) -> Option<f64> {
        let h = self.hash(m);
        self.index
            .find(spread(h), |e| {
                e.hash == h && self.locate((e.score(), m)).is_ok()
            })
            .map(Slot::score)
    }

    fn put(&mut self, item: Item) {
        if self.chunks.is_empty() {
            self.chunks.push(new_chunk());
            self.rebuild_fen();
        }
        let (mut ci, mut o) = match self.locate(key(&item)) {
            Ok(p) | Err(p) => p,
        };
        if self.chunks[ci].len() >= CHUNK
            && ci + 1 < self.chunks.len()
            && self.chunks[ci + 1].len() < CHUNK
        {
            // A full chunk passes its last item to a next one with room
            // (B*-tree style), which keeps chunks fuller than splitting.
            if o == CHUNK {
                ci += 1;
                o = 0;
            } else {
                let last = self.chunks[ci].pop().expect("full chunk");
                self.chunks[ci + 1].insert(0, last);
                self.fen_add(ci, false);
                self.fen_add(ci + 1, true);
            }
        } else if self.chunks[ci].len() >= CHUNK && ci > 0 && self.chunks[ci - 1].len() < CHUNK {
            // Or its first item to a previous one with room.
            if o == 0 {
                ci -= 1;
                o = self.chunks[ci].len();
            } else {
                let first = self.chunks[ci].remove(0);
                self.chunks[ci - 1].push(first);
                self.fen_add(ci, false);
                self.fen_add(ci - 1, true);
                o -= 1;
            }
        } else if self.chunks[ci].len() >= CHUNK {
            // Split a full chunk before inserting. Appending past the last
            // chunk (or before the first) starts a new one and leaves the full
            // one full, so sets built in order pack their chunks completely.
            let last = ci + 1 == self.chunks.len();
            if last && o == CHUNK {
                self.chunks.push(new_chunk());
                ci += 1;
                o = 0;
            } else if ci == 0 && o == 0 {
                self.chunks.insert(0, new_chunk());
            } else {
                let mut tail = new_chunk();
                tail.extend(self.chunks[ci].drain(CHUNK / 2..));
                self.chunks.insert(ci + 1, tail);
                if o > CHUNK / 2 {
                    ci += 1;
                    o -= CHUNK / 2;
                }
            }
            self.rebuild_fen();
        }
        self.chunks[ci].insert(o, item);
        self.fen_add(ci, true);
        self.len += 1;
    }

    /// Takes (score, member) out of the chunks (it must be there).
    fn take(&mut self, k: (f64, &[u8])) -> Item {
        let (ci, o) = self.locate(k).expect("indexed member is in the chunks");
        let item = self.chunks[ci].remove(o);
        self.fen_add(ci, false);
        self.len -= 1;
        let n = self.chunks[ci].len();
        if n == 0 {
            self.chunks.remove(ci);
            self.rebuild_fen();
        } else if n < CHUNK / 4 {
            // Merge with a neighbour when both fit in one chunk.
            let other = if ci + 1 < self.chunks.len() {
                Some(ci + 1)
            } else {
                ci.checked_sub(1)
            };
            if let Some(j) = other {
                if self.chunks[j].len() + n <= CHUNK {
                    let (lo, hi) = (ci.min(j), ci.max(j));
                    let moved = self.chunks.remove(hi);
                    self.chunks[lo].extend(moved);
                    self.rebuild_fen();
                }
            }
        }
        item
    }

    /// Sets a member's score; true when new. `m` is boxed only when new.
    fn insert(&mut self, m: &[u8], score: f64) -> bool {
        let h = self.hash(m);
        let chunks = &self.chunks;
        let locate = |s: f64| {
            let ci = chunks.partition_point(|c| {
                c.last()
                    .is_some_and(|last| cmp(key(last), (s, m)) == Ordering::Less)
            });
            let ci = ci.min(chunks.len().saturating_sub(1));
            chunks
                .get(ci)
                .is_some_and(|c| c.binary_search_by(|i| cmp(key(i), (s, m))).is_ok())
        };
        let old = match self
            .index
            .find_mut(spread(h), |e| e.hash == h && locate(e.score()))
        {
            Some(e) => {
                let old = e.score();
                // Equal scores (0 and -0 too) change nothing, as in Redis.
                if old != score {
                    *e = Slot::new(h, score);
                }
                Some(old)
            }
            None => None,
        };
        match old {
            Some(old) => {
                if old != score {
                    let (_, member) = self.take((old, m));
                    self.put((score, member));
                }
                false
            }
            None => {
                self.index
                    .insert_unique(spread(h), Slot::new(h, score), Slot::table_hash);
                self.put((score, m.into()));
                true
            }
        }
    }

    fn remove(&mut self, m: &[u8]) -> Option<Item> {
        let h = self.hash(m);
        let chunks = &self.chunks;
        let present = |s: f64| {
            let ci = chunks.partition_point(|c| {
                c.last()
                    .is_some_and(|last| cmp(key(last), (s, m)) == Ordering::Less)
            });
            let ci = ci.min(chunks.len().saturating_sub(1));
            chunks
                .get(ci)
                .is_some_and(|c| c.binary_search_by(|i| cmp(key(i), (s, m))).is_ok())
        };
        let entry = self
            .index
            .find_entry(spread(h), |e| e.hash == h && present(e.score()))
            .ok()?;
        let (slot, _) = entry.remove();
        let score = slot.score();
        Some(self.take((score, m)))
    }
}

/// A slice-of-chunks view of items `lo..hi`.
pub struct Range<'a> {
    front: std::slice::Iter<'a, Item>,
    middle: std::iter::Flatten<std::slice::Iter<'a, Vec<Item>>>,
    back: std::slice::Iter<'a, Item>,
    left: usize,
}

impl<'a> Iterator for Range<'a> {
    type Item = (&'a [u8], f64);

    fn next(&mut self) -> Option<Self::Item> {
        let i = self
            .front
            .next()
            .or_else(|| self.middle.next())
            .or_else(|| self.back.next())?;
        self.left -= 1;
        Some((&i.1, i.0))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl DoubleEndedIterator for Range<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        let i = self
            .back
            .next_back()
            .or_else(|| self.middle.next_back())
            .or_else(|| self.front.next_back())?;
        self.left -= 1;
        Some((&i.1, i.0))
    }
}

impl ExactSizeIterator for Range<'_> {}

impl ZSetObj {
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty set in the form Redis' `zsetTypeCreate` picks for `size`
    /// members of which the longest has `max_len` bytes.
    pub fn with_hint(size: usize, max_len: usize) -> Self {
        let (entries, value) = listpack_limits();
        if size > entries || max_len > value {
            ZSetObj {
                repr: Repr::Large(Large::new()),
                bytes: 0,
                log: Default::default(),
            }
        } else {
            ZSetObj::new()
        }
    }

    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Small(v) => v.len(),
            Repr::Large(l) => l.len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn score(&self, m: &[u8]) -> Option<f64> {
        match &self.repr {
            Repr::Small(v) => v.iter().find(|(_, x)| &**x == m).map(|(s, _)| *s),
            Repr::Large(l) => l.score(m),
        }
    }

    /// The log of changed members (see `changelog`).
    pub fn log(&mut self) -> &mut super::changelog::MemberLog {
        &mut self.log
    }

    /// Sets a member's score (never NaN); true when the member is new.
    pub fn insert(&mut self, m: &[u8], score: f64) -> bool {
        debug_assert!(!score.is_nan());
        self.log.note(m);
        if let Repr::Small(v) = &self.repr {
            let (entries, value) = listpack_limits();
            if m.len() > value || (v.len() >= entries && !v.iter().any(|(_, x)| &**x == m)) {
                self.convert();
            }
        }
        // A listpack stores an integral score as an integer, so -0 reads back
        // as 0 there; the large form keeps the double as it is.
        let small_score = if score == 0.0 { 0.0 } else { score };
        let new = match &mut self.repr {
            Repr::Small(v) => match v.iter().position(|(_, x)| &**x == m) {
                Some(i) => {
                    if v[i].0 != small_score {
                        let (_, member) = v.remove(i);
                        let at =
                            v.partition_point(|i| cmp(key(i), (small_score, m)) == Ordering::Less);
                        v.insert(at, (small_score, member));
                    }
                    false
                }
                None => {
                    let at = v.partition_point(|i| cmp(key(i), (small_score, m)) == Ordering::Less);
                    v.insert(at, (small_score, m.into()));
                    true
                }
            },
            Repr::Large(l) => l.insert(m, score),
        };
        if new {
            self.bytes += alloc_size(m.len());
        }
        new
    }

    /// Removes a member; its score when it was there.
    pub fn remove(&mut self, m: &[u8]) -> Option<f64> {
        self.log.note(m);
        let item = match &mut self.repr {
            Repr::Small(v) => {
                let i = v.iter().position(|(_, x)| &**x == m)?;
                v.remove(i)
            }
            Repr::Large(l) => l.remove(m)?,
        };
        self.bytes -= alloc_size(item.1.len());
        Some(item.0)
    }

    /// 0-based rank from the lowest, and score, of a member.
    pub fn rank(&self, m: &[u8]) -> Option<(usize, f64)> {
        match &self.repr {
            Repr::Small(v) => v.iter().position(|(_, x)| &**x == m).map(|i| (i, v[i].0)),
            Repr::Large(l) => {
                let s = l.score(m)?;
                let (ci, o) = l.locate((s, m)).ok()?;
                Some((l.prefix(ci) + o, s))
            }
        }
    }

    /// The member at a rank.
    pub fn get(&self, i: usize) -> Option<(&[u8], f64)> {
        if i >= self.len() {
            return None;
        }
        let item = match &self.repr {
            Repr::Small(v) => &v[i],
            Repr::Large(l) => {
                let (ci, o) = l.find_rank(i);
                &l.chunks[ci][o]
            }
        };
        Some((&item.1, item.0))
    }

    /// How many leading items (in order) satisfy `pred`, which must hold for a
    /// prefix of the order and not after it (a lower bound search).
    pub fn partition_point(&self, mut pred: impl FnMut(f64, &[u8]) -> bool) -> usize {
        match &self.repr {
            Repr::Small(v) => v.partition_point(|i| pred(i.0, &i.1)),
            Repr::Large(l) => {
                let ci = l
                    .chunks
                    .partition_point(|c| c.last().is_some_and(|i| pred(i.0, &i.1)));
                if ci == l.chunks.len() {
                    return l.len;
                }
                l.prefix(ci) + l.chunks[ci].partition_point(|i| pred(i.0, &i.1))
            }
        }
    }

    fn chunks(&self) -> &[Vec<Item>] {
        match &self.repr {
            Repr::Small(v) => std::slice::from_ref(v),
            Repr::Large(l) => &l.chunks,
        }
    }

    /// (chunk, offset) of rank `i` (<= len; len gives the end of the last chunk).
    fn position(&self, i: usize) -> (usize, usize) {
        match &self.repr {
            Repr::Small(_) => (0, i),
            Repr::Large(l) => {
                if i >= l.len {
                    let last = l.chunks.len().saturating_sub(1);
                    (last, l.chunks.get(last).map_or(0, Vec::len))
                } else {
                    l.find_rank(i)
                }
            }
        }
    }

    /// Items of ranks `lo..hi` (clamped to the set), in order.
    pub fn range(&self, lo: usize, hi: usize) -> Range<'_> {
        let hi = hi.min(self.len());
        let lo = lo.min(hi);
        let chunks = self.chunks();
        if lo == hi || chunks.is_empty() {
            return Range {
                front: [].iter(),
                middle: [].iter().flatten(),
                back: [].iter(),
                left: 0,
            };
        }
        let (ci, oi) = self.position(lo);
        let (cj, oj) = self.position(hi);
        let (cj, oj) = if oj == 0 && cj > ci {
            (cj - 1, chunks[cj - 1].len())
        } else {
            (cj, oj)
        };
        if ci == cj {
            Range {
                front: chunks[ci][oi..oj].iter(),
                middle: [].iter().flatten(),
                back: [].iter(),
                left: hi - lo,
            }
        } else {
            Range {
                front: chunks[ci][oi..].iter(),
                middle: chunks[ci + 1..cj].iter().flatten(),
                back: chunks[cj][..oj].iter(),
                left: hi - lo,
            }
        }
    }

    /// (member, score) from the lowest score to the highest.
    pub fn iter(&self) -> Range<'_> {
        self.range(0, self.len())
    }

    /// Redis' name for the representation (OBJECT ENCODING).
    pub fn encoding(&self) -> &'static str {
        match &self.repr {
            Repr::Small(_) => "listpack",
            Repr::Large(_) => "skiplist",
        }
    }

    /// Estimated heap bytes, for memory accounting.
    pub fn heap_size(&self) -> usize {
        let container = match &self.repr {
            Repr::Small(v) => alloc_size(v.capacity() * ITEM),
            Repr::Large(l) => {
                l.chunks.len() * alloc_size(CHUNK * ITEM)
                    + alloc_size(l.chunks.capacity() * std::mem::size_of::<Vec<Item>>())
                    + alloc_size(l.fen.capacity() * std::mem::size_of::<usize>())
                    // Slots plus a control byte each, 8 buckets per 7 items.
                    + l.index.capacity() * (std::mem::size_of::<Slot>() + 1) * 8 / 7
            }
        };
        self.bytes + container
    }

    /// One ZSCAN step. A small set is returned whole, as Redis does for
    /// listpacks; a large one by rank positions from the highest down.
    /// Returns the next cursor.
    pub fn scan<'a>(
        &'a self,
        cursor: u64,
        count: usize,
        mut visit: impl FnMut(&'a [u8], f64),
    ) -> u64 {
        match &self.repr {
            Repr::Small(v) => {
                for (s, m) in v {
                    visit(m, *s);
                }
                0
            }
            Repr::Large(l) => {
                let top = if cursor == 0 {
                    l.len
                } else {
                    usize::try_from(cursor - 1).unwrap_or(usize::MAX).min(l.len)
                };
                let stop = top.saturating_sub(count.max(1));
                for (m, s) in self.range(stop, top).rev() {
                    visit(m, s);
                }
                if stop == 0 {
                    0
                } else {
                    stop as u64 + 1
                }
            }
        }
    }

    fn convert(&mut self) {
        if let Repr::Small(v) = &mut self.repr {
            let mut l = Large::new();
            for item in v.drain(..) {
                let h = l.hash(&item.1);
                l.index
                    .insert_unique(spread(h), Slot::new(h, item.0), Slot::table_hash);
                if l.chunks.last().is_none_or(|c| c.len() >= CHUNK) {
                    l.chunks.push(new_chunk());
                }
                l.chunks.last_mut().expect("pushed").push(item);
                l.len += 1;
            }
            l.rebuild_fen();
            self.repr = Repr::Large(l);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contents(z: &ZSetObj) -> Vec<(Vec<u8>, f64)> {
        z.iter().map(|(m, s)| (m.to_vec(), s)).collect()
    }

    fn fresh_size(z: &ZSetObj) -> usize {
        let mut f = ZSetObj::with_hint(z.len(), 0);
        for (m, s) in z.iter() {
            f.insert(m, s);
        }
        f.bytes
    }

    #[test]
    fn orders_by_score_then_member() {
        let mut z = ZSetObj::new();
        z.insert(b"b", 1.0);
        z.insert(b"a", 1.0);
        z.insert(b"c", 0.5);
        z.insert(b"d", f64::NEG_INFINITY);
        let got: Vec<_> = z.iter().map(|(m, _)| m.to_vec()).collect();
        assert_eq!(
            got,
            vec![b"d".to_vec(), b"c".to_vec(), b"a".to_vec(), b"b".to_vec()]
        );
        assert_eq!(z.rank(b"a"), Some((2, 1.0)));
        assert!(!z.insert(b"d", 5.0));
        assert_eq!(z.rank(b"d"), Some((3, 5.0)));
    }

    #[test]
    fn small_large_agree_and_convert() {
        let mut small = ZSetObj::new();
        let mut model = std::collections::BTreeMap::new();
        for i in 0..5000u32 {
            let m = format!("m{}", (i * 7919) % 3001);
            let s = f64::from((i * 31) % 97);
            small.insert(m.as_bytes(), s);
            model.insert(m, s);
            if i % 3 == 0 {
                let r = format!("m{}", (i * 13) % 3001);
                assert_eq!(small.remove(r.as_bytes()), model.remove(&r));
            }
        }
        assert_eq!(small.encoding(), "skiplist");
        let mut want: Vec<(Vec<u8>, f64)> = model
            .iter()
            .map(|(m, s)| (m.as_bytes().to_vec(), *s))
            .collect();
        want.sort_by(|a, b| cmp((a.1, &a.0), (b.1, &b.0)));
        assert_eq!(contents(&small), want);
        for (i, (m, s)) in want.iter().enumerate() {
            assert_eq!(small.rank(m), Some((i, *s)));
            assert_eq!(small.get(i), Some((&m[..], *s)));
            assert_eq!(small.score(m), Some(*s));
        }
        // Ranges in both directions across chunk boundaries.
        let r: Vec<_> = small
            .range(100, 900)
            .rev()
            .map(|(m, _)| m.to_vec())
            .collect();
        let w: Vec<_> = want[100..900]
            .iter()
            .rev()
            .map(|(m, _)| m.clone())
            .collect();
        assert_eq!(r, w);
        let lb = small.partition_point(|s, _| s < 50.0);
        assert_eq!(lb, want.iter().filter(|(_, s)| *s < 50.0).count());
    }

    #[test]
    fn thresholds() {
        let mut z = ZSetObj::new();
        for i in 0..128 {
            z.insert(format!("{i}").as_bytes(), 1.0);
        }
        assert_eq!(z.encoding(), "listpack");
        z.insert(b"0", 2.0);
        assert_eq!(z.encoding(), "listpack");
        z.insert(b"new", 2.0);
        assert_eq!(z.encoding(), "skiplist");
        let mut z = ZSetObj::new();
        z.insert(&[b'x'; 64], 1.0);
        assert_eq!(z.encoding(), "listpack");
        z.insert(&[b'x'; 65], 1.0);
        assert_eq!(z.encoding(), "skiplist");
        assert_eq!(ZSetObj::with_hint(129, 1).encoding(), "skiplist");
    }

    #[test]
    fn byte_estimate_returns_to_zero() {
        for n in [10u32, 1000] {
            let mut z = ZSetObj::new();
            for i in 0..n {
                z.insert(format!("member{i}").as_bytes(), f64::from(i));
            }
            assert_eq!(z.bytes, fresh_size(&z));
            for i in 0..n {
                z.insert(format!("member{i}").as_bytes(), -f64::from(i));
            }
            for i in 0..n {
                assert_eq!(
                    z.remove(format!("member{i}").as_bytes()),
                    Some(-f64::from(i))
                );
            }
            assert_eq!(z.bytes, 0);
            assert!(z.is_empty());
            assert_eq!(z.iter().count(), 0);
        }
    }

    #[test]
    fn scan_visits_everything() {
        let mut z = ZSetObj::new();
        for i in 0..1000 {
            z.insert(format!("{i}").as_bytes(), 0.0);
        }
        let mut seen = std::collections::HashSet::new();
        let mut c = 0;
        loop {
            c = z.scan(c, 37, |m, _| {
                seen.insert(m.to_vec());
            });
            if c == 0 {
                break;
            }
        }
        assert_eq!(seen.len(), 1000);
    }
}
