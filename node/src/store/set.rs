//! The set type, laid out as Redis 7.0 lays it out.
//!
//! * Small: while every member is an integer that fits an i64 (canonical
//!   decimal text, as Redis' `string2ll` reads it) and there are at most
//!   [`MAX_INTSET_ENTRIES`] members, the set is Redis' `intset`: members sorted
//!   by numeric value, packed back to back in one buffer, found by binary
//!   search. The packed form keeps each member's decimal text (plus a 2-byte
//!   end offset) rather than a binary integer, so that members can be lent out
//!   as byte slices like every other value; a small set stays one allocation.
//! * Large: any other set is a `hashtable`: the members stored inline in an
//!   arena of chunks (no allocation per member, no copy as the set grows), a
//!   dense paged vector of where each starts,
//!   and a hash table of 4-byte positions into that vector: about half Redis'
//!   per-member overhead. Dense positions give O(1) uniform random picks
//!   (SPOP, SRANDMEMBER) and a SCAN cursor that is a position.
//!
//! Like Redis, a set never goes back from `hashtable` to `intset`.

use super::memory::alloc_size;
use crate::util::num::parse_i64;
use hashbrown::HashTable;
use std::hash::BuildHasher;

/// Redis' `set-max-intset-entries` default.
pub const MAX_INTSET_ENTRIES: usize = 512;

/// Sorted integers as decimal text in one buffer; `ends[i]` is where member
/// `i` ends (at most 512 members of at most 20 bytes: fits u16).
#[derive(Clone, Debug, Default)]
struct IntSet {
    text: Vec<u8>,
    ends: Vec<u16>,
}

impl IntSet {
    fn len(&self) -> usize {
        self.ends.len()
    }

    fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 {
            0
        } else {
            usize::from(self.ends[i - 1])
        };
        &self.text[start..usize::from(self.ends[i])]
    }

    fn value(&self, i: usize) -> i64 {
        // Only canonical integer text is ever stored.
        parse_i64(self.get(i)).unwrap_or_default()
    }

    /// Binary search by numeric value.
    fn search(&self, v: i64) -> Result<usize, usize> {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.value(mid).cmp(&v) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }

    /// Inserts canonical text `m` of value `v` at its sorted place.
    fn insert(&mut self, m: &[u8], v: i64) -> bool {
        let Err(pos) = self.search(v) else {
            return false;
        };
        let start = if pos == 0 {
            0
        } else {
            usize::from(self.ends[pos - 1])
        };
        self.text.splice(start..start, m.iter().copied());
        let n = m.len() as u16;
        for e in &mut self.ends[pos..] {
            *e += n;
        }
        self.ends.insert(pos, start as u16 + n);
        true
    }

    fn remove_at(&mut self, pos: usize) {
        let start = if pos == 0 {
            0
        } else {
            usize::from(self.ends[pos - 1])
        };
        let end = usize::from(self.ends[pos]);
        self.text.drain(start..end);
        let n = (end - start) as u16;
        self.ends.remove(pos);
        for e in &mut self.ends[pos..] {
            *e -= n;
        }
    }

    fn heap_size(&self) -> usize {
        alloc_size(self.text.capacity()) + alloc_size(self.ends.capacity() * 2)
    }
}

/// Appends `n` as a LEB128 varint.
fn put_varint(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Stored size of a member in the arena: varint length, then the bytes.
fn stored_len(m: &[u8]) -> usize {
    let mut n = m.len();
    let mut v = 1;
    while n >= 0x80 {
        n >>= 7;
        v += 1;
    }
    v + m.len()
}

/// Largest arena chunk for ordinary members (a longer member gets a chunk of
/// its own).
const CHUNK_MAX: usize = 1 << 20;

/// Members back to back in chunks that never reallocate, so growing a large
/// set copies nothing and leaves no freed copies behind. A member's address
/// is its chunk number (high 32 bits) and offset in it (low 32 bits).
#[derive(Debug, Default)]
struct Arena {
    chunks: Vec<Vec<u8>>,
    /// Stored bytes, live or garbage.
    used: usize,
    /// Sum of the chunks' allocation sizes.
    bytes: usize,
}

/// Copies a vector keeping its capacity (a plain clone trims it), so a copy
/// (COPY) grows and is accounted like its original.
fn clone_with_capacity<T: Clone>(v: &Vec<T>) -> Vec<T> {
    let mut out = Vec::with_capacity(v.capacity());
    out.extend_from_slice(v);
    out
}

/// The same for a vector of vectors, inner capacities included.
fn clone_nested<T: Clone>(v: &Vec<Vec<T>>) -> Vec<Vec<T>> {
    let mut out = Vec::with_capacity(v.capacity());
    out.extend(v.iter().map(clone_with_capacity));
    out
}

impl Clone for Arena {
    fn clone(&self) -> Arena {
        Arena {
            chunks: clone_nested(&self.chunks),
            used: self.used,
            bytes: self.bytes,
        }
    }
}

impl Clone for Pages {
    fn clone(&self) -> Pages {
        Pages {
            pages: clone_nested(&self.pages),
            len: self.len,
        }
    }
}

impl Arena {
    fn get(&self, addr: u64) -> &[u8] {
        let chunk = &self.chunks[(addr >> 32) as usize];
        let off = (addr & 0xFFFF_FFFF) as usize;
        let (mut len, mut i) = (0usize, off);
        while let Some(&b) = chunk.get(i) {
            len |= ((b & 0x7F) as usize) << (7 * (i - off));
            i += 1;
            if b & 0x80 == 0 {
                break;
            }
        }
        &chunk[i..(i + len).min(chunk.len())]
    }

    /// Stores a member; `hint`: bytes expected in all (sizes the first chunk).
    fn push(&mut self, m: &[u8], hint: usize) -> u64 {
        let need = stored_len(m);
        let fits = self
            .chunks
            .last()
            .is_some_and(|c| c.capacity() - c.len() >= need);
        if !fits {
            // Chunks grow with the set (half of what it holds so far), so a
            // small set stays small and a big one has few chunks.
            let size = need
                .max(hint.min(CHUNK_MAX))
                .max((self.used / 2).clamp(64, CHUNK_MAX));
            let chunk = Vec::with_capacity(size);
            self.bytes += alloc_size(chunk.capacity());
            self.chunks.push(chunk);
        }
        let n = self.chunks.len() - 1;
        let chunk = &mut self.chunks[n];
        let addr = ((n as u64) << 32) | chunk.len() as u64;
        put_varint(chunk, m.len());
        chunk.extend_from_slice(m);
        self.used += need;
        addr
    }

    fn heap_size(&self) -> usize {
        self.bytes + alloc_size(self.chunks.capacity() * std::mem::size_of::<Vec<u8>>())
    }
}

/// Entries per page of [`Pages`].
const PAGE: usize = 4096;

/// A vector of addresses in fixed pages, so that growing it never copies
/// (only the first page grows, up to [`PAGE`]).
#[derive(Debug, Default)]
struct Pages {
    pages: Vec<Vec<u64>>,
    len: usize,
}

impl Pages {
    fn get(&self, i: usize) -> u64 {
        self.pages[i / PAGE][i % PAGE]
    }

    fn set(&mut self, i: usize, v: u64) {
        self.pages[i / PAGE][i % PAGE] = v;
    }

    fn push(&mut self, v: u64) {
        match self.pages.last_mut() {
            Some(p) if p.len() < PAGE => {
                if p.len() == p.capacity() {
                    let grow = (p.capacity() * 2).clamp(16, PAGE) - p.len();
                    p.reserve_exact(grow);
                }
                p.push(v);
            }
            _ => {
                let cap = if self.pages.is_empty() { 16 } else { PAGE };
                let mut p = Vec::with_capacity(cap);
                p.push(v);
                self.pages.push(p);
            }
        }
        self.len += 1;
    }

    fn pop(&mut self) -> Option<u64> {
        let last = self.pages.last_mut()?;
        let v = last.pop();
        if last.is_empty() {
            self.pages.pop();
        }
        self.len -= 1;
        v
    }

    /// Gives back most of a lone page that is three quarters unused.
    fn shrink(&mut self) {
        if let [p] = &mut self.pages[..] {
            if p.capacity() > 64 && p.len() * 4 < p.capacity() {
                p.shrink_to(p.len() * 2);
            }
        }
    }

    fn heap_size(&self) -> usize {
        let first = self
            .pages
            .first()
            .map_or(0, |p| alloc_size(p.capacity() * 8));
        let rest = self.pages.len().saturating_sub(1) * alloc_size(PAGE * 8);
        first + rest + alloc_size(self.pages.capacity() * std::mem::size_of::<Vec<u64>>())
    }
}

/// The large form: members stored inline in an [`Arena`] (no allocation per
/// member), a dense vector of their addresses (a member's position is its
/// index there), and a hash table of positions. A removal moves the last
/// position into the hole and leaves the member's bytes as garbage, compacted
/// once garbage outweighs the live bytes (amortised O(1) a removal).
#[derive(Clone, Debug, Default)]
struct Table {
    arena: Arena,
    offs: Pages,
    index: HashTable<u32>,
    hasher: foldhash::fast::RandomState,
    /// Arena bytes no member uses any more.
    garbage: usize,
}

impl Table {
    fn with_capacity(n: usize) -> Table {
        Table {
            index: HashTable::with_capacity(n),
            ..Default::default()
        }
    }

    fn len(&self) -> usize {
        self.offs.len
    }

    fn get(&self, pos: usize) -> &[u8] {
        self.arena.get(self.offs.get(pos))
    }

    fn position(&self, m: &[u8]) -> Option<usize> {
        let hash = self.hasher.hash_one(m);
        self.index
            .find(hash, |&i| self.arena.get(self.offs.get(i as usize)) == m)
            .map(|&i| i as usize)
    }

    fn insert(&mut self, m: &[u8], hint: usize) -> bool {
        let Table {
            arena,
            offs,
            index,
            hasher,
            ..
        } = self;
        let hash = hasher.hash_one(m);
        match index.entry(
            hash,
            |&i| arena.get(offs.get(i as usize)) == m,
            |&i| hasher.hash_one(arena.get(offs.get(i as usize))),
        ) {
            hashbrown::hash_table::Entry::Occupied(_) => false,
            hashbrown::hash_table::Entry::Vacant(v) => {
                v.insert(offs.len as u32);
                offs.push(arena.push(m, hint));
                true
            }
        }
    }

    /// Removes the member at `pos`, moving the last member into its place.
    fn remove_at(&mut self, pos: usize) -> Vec<u8> {
        let removed = self.get(pos).to_vec();
        let hash = self.hasher.hash_one(removed.as_slice());
        if let Ok(e) = self.index.find_entry(hash, |&i| i as usize == pos) {
            e.remove();
        }
        let last = self.offs.len - 1;
        let moved = self.offs.pop().unwrap_or_default();
        if pos != last {
            self.offs.set(pos, moved);
            let h = self.hasher.hash_one(self.arena.get(moved));
            if let Some(i) = self.index.find_mut(h, |&i| i as usize == last) {
                *i = pos as u32;
            }
        }
        self.garbage += stored_len(&removed);
        self.maybe_compact();
        removed
    }

    /// Rewrites the arena without garbage once garbage is the larger part,
    /// and gives back index space once three quarters of it are unused.
    fn maybe_compact(&mut self) {
        let live = self.arena.used - self.garbage;
        if self.garbage > live && self.garbage >= 64 {
            let mut arena = Arena::default();
            for i in 0..self.offs.len {
                let addr = arena.push(self.arena.get(self.offs.get(i)), live);
                self.offs.set(i, addr);
            }
            self.arena = arena;
            self.garbage = 0;
        }
        self.offs.shrink();
        let n = self.offs.len;
        if self.index.capacity() > 64 && n * 4 < self.index.capacity() {
            let Table {
                arena,
                offs,
                index,
                hasher,
                ..
            } = self;
            index.shrink_to(n * 2, |&i| hasher.hash_one(arena.get(offs.get(i as usize))));
        }
    }

    fn heap_size(&self) -> usize {
        // Four bytes and one control byte a bucket, plus one group of control bytes.
        let index = match self.index.num_buckets() {
            0 => 0,
            b => alloc_size(b * 5 + 16),
        };
        self.arena.heap_size() + self.offs.heap_size() + index
    }
}

#[derive(Clone, Debug)]
enum Repr {
    Int(IntSet),
    Table(Table),
}

#[derive(Clone, Debug)]
pub struct SetObj {
    repr: Repr,
    /// Members changed since replication last took them (`changelog`).
    log: super::changelog::MemberLog,
}

impl Default for SetObj {
    fn default() -> Self {
        SetObj {
            repr: Repr::Int(IntSet::default()),
            log: Default::default(),
        }
    }
}

/// An iterator over a set's members, in the set's own order (ascending numeric
/// order for the small form).
pub struct Iter<'a>(IterRepr<'a>);

enum IterRepr<'a> {
    Int(&'a IntSet, std::ops::Range<usize>),
    Table(&'a Table, std::ops::Range<usize>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        match &mut self.0 {
            IterRepr::Int(s, r) => r.next().map(|i| s.get(i)),
            IterRepr::Table(t, r) => r.next().map(|i| t.get(i)),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = match &self.0 {
            IterRepr::Int(_, r) => r.len(),
            IterRepr::Table(_, r) => r.len(),
        };
        (n, Some(n))
    }
}

impl SetObj {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Int(s) => s.len(),
            Repr::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds a member; true when it is new. Converts to the large form when the
    /// member is not an integer or the small form would outgrow its limit.
    pub fn insert(&mut self, m: &[u8]) -> bool {
        self.log.note(m);
        if let Repr::Int(s) = &mut self.repr {
            match parse_i64(m) {
                Some(v) => {
                    if s.search(v).is_ok() {
                        return false;
                    }
                    if s.len() < MAX_INTSET_ENTRIES {
                        return s.insert(m, v);
                    }
                    self.convert();
                }
                None => self.convert(),
            }
        }
        let Repr::Table(t) = &mut self.repr else {
            unreachable!("converted above")
        };
        t.insert(m, 0)
    }

    /// Removes a member; true when it was there.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self.position(m) {
            Some(pos) => {
                self.remove_at(pos);
                true
            }
            None => false,
        }
    }

    pub fn contains(&self, m: &[u8]) -> bool {
        self.position(m).is_some()
    }

    fn position(&self, m: &[u8]) -> Option<usize> {
        match &self.repr {
            Repr::Int(s) => parse_i64(m).and_then(|v| s.search(v).ok()),
            Repr::Table(t) => t.position(m),
        }
    }

    /// The member at a position in iteration order (for random picks).
    pub fn get_index(&self, i: usize) -> Option<&[u8]> {
        match &self.repr {
            Repr::Int(s) => (i < s.len()).then(|| s.get(i)),
            Repr::Table(t) => (i < t.len()).then(|| t.get(i)),
        }
    }

    /// Removes and returns the member at a position (SPOP).
    pub fn remove_at(&mut self, pos: usize) -> Vec<u8> {
        let m = match &mut self.repr {
            Repr::Int(s) => {
                let m = s.get(pos).to_vec();
                s.remove_at(pos);
                m
            }
            Repr::Table(t) => t.remove_at(pos),
        };
        self.log.note(&m);
        m
    }

    /// The log of changed members (see `changelog`).
    pub fn log(&mut self) -> &mut super::changelog::MemberLog {
        &mut self.log
    }

    pub fn iter(&self) -> Iter<'_> {
        match &self.repr {
            Repr::Int(s) => Iter(IterRepr::Int(s, 0..s.len())),
            Repr::Table(t) => Iter(IterRepr::Table(t, 0..t.len())),
        }
    }

    /// Redis' name for the representation (OBJECT ENCODING).
    pub fn encoding(&self) -> &'static str {
        match &self.repr {
            Repr::Int(_) => "intset",
            Repr::Table(_) => "hashtable",
        }
    }

    /// One SSCAN step. The small form is returned whole (cursor 0), as Redis
    /// does for intsets. The large form goes over positions high to low, like
    /// HSCAN: a removal moves the last member (already visited) into the hole,
    /// so a member present for the whole scan is never missed. Returns the
    /// next cursor.
    pub fn scan<'a>(&'a self, cursor: u64, count: usize, mut visit: impl FnMut(&'a [u8])) -> u64 {
        match &self.repr {
            Repr::Int(_) => {
                self.iter().for_each(visit);
                0
            }
            Repr::Table(t) => {
                let n = t.len();
                let mut pos = if cursor == 0 {
                    n
                } else {
                    usize::try_from(cursor - 1).unwrap_or(usize::MAX).min(n)
                };
                let stop = pos.saturating_sub(count.max(1));
                while pos > stop {
                    pos -= 1;
                    visit(t.get(pos));
                }
                if pos == 0 {
                    0
                } else {
                    pos as u64 + 1
                }
            }
        }
    }

    /// Estimated heap bytes, for memory accounting. O(1).
    pub fn heap_size(&self) -> usize {
        match &self.repr {
            Repr::Int(s) => s.heap_size(),
            Repr::Table(t) => t.heap_size(),
        }
    }

    fn convert(&mut self) {
        if let Repr::Int(s) = &self.repr {
            let mut t = Table::with_capacity(s.len() + 1);
            let hint = s.text.len() + s.len() + 24;
            for i in 0..s.len() {
                t.insert(s.get(i), hint);
            }
            self.repr = Repr::Table(t);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What heap_size must be, computed from scratch.
    fn fresh_size(s: &SetObj) -> usize {
        match &s.repr {
            Repr::Int(i) => i.heap_size(),
            Repr::Table(t) => t.heap_size(),
        }
    }

    #[test]
    fn small_form_is_sorted_numerically() {
        let mut s = SetObj::new();
        for m in [
            "10",
            "-5",
            "3",
            "9223372036854775807",
            "-9223372036854775808",
            "0",
        ] {
            assert!(s.insert(m.as_bytes()));
        }
        assert!(!s.insert(b"3"));
        assert_eq!(s.encoding(), "intset");
        let got: Vec<&[u8]> = s.iter().collect();
        assert_eq!(
            got,
            vec![
                &b"-9223372036854775808"[..],
                b"-5",
                b"0",
                b"3",
                b"10",
                b"9223372036854775807"
            ]
        );
        assert!(s.contains(b"10"));
        assert!(!s.contains(b"010"));
        assert!(!s.contains(b"11"));
        assert!(s.remove(b"0"));
        assert!(!s.remove(b"0"));
        assert_eq!(s.len(), 5);
        assert_eq!(s.get_index(2), Some(&b"3"[..]));
        assert_eq!(s.heap_size(), fresh_size(&s));
    }

    #[test]
    fn non_canonical_integers_are_strings() {
        for m in ["01", "-0", "+1", " 1", "1.0", "9223372036854775808", ""] {
            let mut s = SetObj::new();
            s.insert(b"1");
            s.insert(m.as_bytes());
            assert_eq!(s.encoding(), "hashtable", "{m:?}");
            assert!(s.contains(m.as_bytes()) && s.contains(b"1"));
        }
    }

    #[test]
    fn converts_past_512_integers_and_never_back() {
        let mut s = SetObj::new();
        for i in 0..512 {
            s.insert(i.to_string().as_bytes());
        }
        assert_eq!(s.encoding(), "intset");
        assert_eq!(s.heap_size(), fresh_size(&s));
        s.insert(b"512");
        assert_eq!(s.encoding(), "hashtable");
        assert_eq!(s.len(), 513);
        for i in 0..513 {
            assert!(s.contains(i.to_string().as_bytes()), "{i}");
        }
        assert_eq!(s.heap_size(), fresh_size(&s));
        for i in 0..500 {
            assert!(s.remove(i.to_string().as_bytes()));
        }
        assert_eq!(s.encoding(), "hashtable");
        assert_eq!(s.len(), 13);
        assert_eq!(s.heap_size(), fresh_size(&s));
    }

    #[test]
    fn large_form_removal_keeps_index_consistent() {
        let mut s = SetObj::new();
        for i in 0..2000 {
            s.insert(format!("m{i}").as_bytes());
        }
        // Remove from the middle, the start and by position.
        for i in (0..2000).step_by(3) {
            assert!(s.remove(format!("m{i}").as_bytes()));
        }
        while s.len() > 1000 {
            let m = s.remove_at(0);
            assert!(!s.contains(&m));
        }
        for i in 0..s.len() {
            let m = s.get_index(i).unwrap().to_vec();
            assert!(s.contains(&m));
        }
        assert_eq!(s.heap_size(), fresh_size(&s));
    }

    #[test]
    fn removals_give_memory_back() {
        let mut s = SetObj::new();
        let empty_table = {
            let mut t = SetObj::new();
            t.insert(b"x");
            t.remove(b"x");
            t.heap_size()
        };
        for i in 0..5000 {
            s.insert(format!("member-{i}").as_bytes());
        }
        let full = s.heap_size();
        for i in 0..4990 {
            assert!(s.remove(format!("member-{i}").as_bytes()));
            assert_eq!(s.heap_size(), fresh_size(&s));
        }
        let Repr::Table(t) = &s.repr else { panic!() };
        // Garbage never outweighs live bytes (past a small floor).
        assert!(t.garbage <= (t.arena.used - t.garbage).max(64));
        assert!(s.heap_size() * 20 < full, "{} of {full}", s.heap_size());
        for i in 4990..5000 {
            assert!(s.contains(format!("member-{i}").as_bytes()));
            assert!(s.remove(format!("member-{i}").as_bytes()));
        }
        assert!(s.is_empty());
        assert!(s.heap_size() <= empty_table.max(2048), "{}", s.heap_size());
    }

    #[test]
    fn clones_grow_and_account_like_originals() {
        let mut s = SetObj::new();
        for i in 0..5000 {
            s.insert(format!("c{i}").as_bytes());
        }
        let mut c = s.clone();
        assert_eq!(c.heap_size(), s.heap_size());
        for i in 5000..6000 {
            c.insert(format!("c{i}").as_bytes());
            s.insert(format!("c{i}").as_bytes());
        }
        assert_eq!(c.heap_size(), s.heap_size());
        assert_eq!(c.len(), 6000);
        assert!(c.contains(b"c5999") && c.contains(b"c0"));
    }

    #[test]
    fn long_members_round_trip() {
        let mut s = SetObj::new();
        let long = vec![b'y'; 100_000];
        for len in [0usize, 1, 127, 128, 300, 16_384] {
            assert!(s.insert(&long[..len]));
        }
        assert!(s.insert(&long));
        assert!(!s.insert(&long[..128]));
        for len in [0usize, 1, 127, 128, 300, 16_384, 100_000] {
            assert!(s.contains(&long[..len]), "{len}");
        }
        let mut lens: Vec<usize> = s.iter().map(<[u8]>::len).collect();
        lens.sort_unstable();
        assert_eq!(lens, vec![0, 1, 127, 128, 300, 16_384, 100_000]);
    }

    #[test]
    fn scan_visits_every_member_once_without_changes() {
        let mut s = SetObj::new();
        for i in 0..1000 {
            s.insert(format!("x{i}").as_bytes());
        }
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        loop {
            cursor = s.scan(cursor, 7, |m| assert!(seen.insert(m.to_vec())));
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(seen.len(), 1000);
    }
}
