//! The list type, after Redis' quicklist: elements are packed into chunks (one
//! buffer each, every element a LEB128 length, its bytes, then the length again
//! with its bytes reversed so the chunk reads backwards too, as a listpack's
//! backlen does). Three tiers: a tiny list (up to 37 packed bytes) keeps them
//! inside the ListObj itself, with no allocation; a small one is a single
//! chunk; past [`CHUNK_MAX`] bytes the list becomes a deque of chunks. Changes
//! to a tiny list are made on a chunk and moved back in place afterwards.
//! Pushes and pops at either end touch only the end chunk (a memmove of at most
//! a chunk, as in Redis); an index is found by chunk counts from the nearer end,
//! then inside the chunk from its nearer end.

use super::changelog::{End, ListLog};
use super::memory::alloc_size;
use std::collections::vec_deque;
use std::collections::VecDeque;

/// Bytes of packed elements per chunk: Redis' `list-max-listpack-size -2` (8 KB).
/// A single element larger than this gets a chunk of its own.
pub const CHUNK_MAX: usize = 8192;

fn varint_len(mut n: usize) -> usize {
    let mut len = 1;
    while n >= 0x80 {
        n >>= 7;
        len += 1;
    }
    len
}

/// Bytes an element of `n` bytes takes in a chunk.
fn encoded_len(n: usize) -> usize {
    2 * varint_len(n) + n
}

fn varint_bytes(mut n: usize) -> ([u8; 10], usize) {
    let mut b = [0u8; 10];
    let mut i = 0;
    while n >= 0x80 {
        b[i] = (n as u8) | 0x80;
        n >>= 7;
        i += 1;
    }
    b[i] = n as u8;
    (b, i + 1)
}

fn encode(out: &mut Vec<u8>, v: &[u8]) {
    let (b, n) = varint_bytes(v.len());
    out.extend_from_slice(&b[..n]);
    out.extend_from_slice(v);
    out.extend(b[..n].iter().rev());
}

fn encoded(v: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(encoded_len(v.len()));
    encode(&mut out, v);
    out
}

/// Reads the length prefix at `pos`: (element length, prefix bytes).
fn read_fwd(buf: &[u8], pos: usize) -> (usize, usize) {
    let mut n = 0usize;
    let mut i = 0;
    loop {
        let b = buf[pos + i];
        n |= ((b & 0x7F) as usize) << (7 * i);
        i += 1;
        if b & 0x80 == 0 {
            return (n, i);
        }
    }
}

/// Reads the reversed length that ends at `end`: (element length, its bytes).
fn read_back(buf: &[u8], end: usize) -> (usize, usize) {
    let mut n = 0usize;
    let mut i = 0;
    loop {
        let b = buf[end - 1 - i];
        n |= ((b & 0x7F) as usize) << (7 * i);
        i += 1;
        if b & 0x80 == 0 {
            return (n, i);
        }
    }
}

/// One packed run of elements.
#[derive(Clone, Debug, Default)]
struct Chunk {
    buf: Vec<u8>,
    count: usize,
}

/// A packed run read in place: a chunk's buffer or a tiny list's inline bytes.
#[derive(Clone, Copy, Debug)]
struct View<'a> {
    buf: &'a [u8],
    count: usize,
}

impl<'a> View<'a> {
    /// The element starting at byte `pos` and where the next one starts.
    fn at(self, pos: usize) -> (&'a [u8], usize) {
        let (n, p) = read_fwd(self.buf, pos);
        let start = pos + p;
        (&self.buf[start..start + n], start + n + p)
    }

    /// Byte offset of element `i` (`i == count`: the end), scanning from the
    /// nearer end.
    fn offset(self, i: usize) -> usize {
        debug_assert!(i <= self.count);
        if i <= self.count / 2 {
            let mut pos = 0;
            for _ in 0..i {
                let (n, p) = read_fwd(self.buf, pos);
                pos += 2 * p + n;
            }
            pos
        } else {
            let mut end = self.buf.len();
            for _ in i..self.count {
                let (n, p) = read_back(self.buf, end);
                end -= 2 * p + n;
            }
            end
        }
    }

    fn get(self, i: usize) -> &'a [u8] {
        self.at(self.offset(i)).0
    }

    fn iter_from(self, i: usize) -> ChunkIter<'a> {
        ChunkIter {
            buf: self.buf,
            pos: self.offset(i),
            end: self.buf.len(),
        }
    }

    fn iter(self) -> ChunkIter<'a> {
        ChunkIter {
            buf: self.buf,
            pos: 0,
            end: self.buf.len(),
        }
    }

    fn count_matches(self, v: &[u8]) -> usize {
        self.iter().filter(|e| *e == v).count()
    }
}

impl Chunk {
    fn view(&self) -> View<'_> {
        View {
            buf: &self.buf,
            count: self.count,
        }
    }

    fn at(&self, pos: usize) -> (&[u8], usize) {
        self.view().at(pos)
    }

    fn offset(&self, i: usize) -> usize {
        self.view().offset(i)
    }

    fn iter(&self) -> ChunkIter<'_> {
        self.view().iter()
    }

    /// Room for `extra` more bytes: doubling up to a chunk's size, exact past it.
    fn reserve(&mut self, extra: usize) {
        let need = self.buf.len() + extra;
        if need > self.buf.capacity() {
            let want = need.max((self.buf.capacity() * 2).min(CHUNK_MAX)).max(8);
            self.buf.reserve_exact(want - self.buf.len());
        }
    }

    fn insert(&mut self, i: usize, v: &[u8]) {
        let off = self.offset(i);
        let enc = encoded_len(v.len());
        self.reserve(enc);
        if off == self.buf.len() {
            encode(&mut self.buf, v);
        } else {
            let bytes = encoded(v);
            self.buf.splice(off..off, bytes);
        }
        self.count += 1;
    }

    fn remove(&mut self, i: usize) -> Vec<u8> {
        let off = self.offset(i);
        let (v, next) = self.at(off);
        let v = v.to_vec();
        self.buf.drain(off..next);
        self.count -= 1;
        v
    }

    fn replace(&mut self, i: usize, v: &[u8]) {
        let off = self.offset(i);
        let next = self.at(off).1;
        let bytes = encoded(v);
        if bytes.len() > next - off {
            self.reserve(bytes.len() - (next - off));
        }
        self.buf.splice(off..next, bytes);
    }

    /// Elements from `i` on move to a new chunk.
    fn split_off(&mut self, i: usize) -> Chunk {
        let off = self.offset(i);
        let tail = Chunk {
            buf: self.buf[off..].to_vec(),
            count: self.count - i,
        };
        self.buf.truncate(off);
        self.count = i;
        tail
    }

    fn append(&mut self, other: Chunk) {
        self.reserve(other.buf.len());
        self.buf.extend_from_slice(&other.buf);
        self.count += other.count;
    }

    /// Removes the first `k` elements.
    fn drain_front(&mut self, k: usize) {
        let off = self.offset(k);
        self.buf.drain(..off);
        self.count -= k;
    }

    /// Keeps the first `k` elements.
    fn truncate(&mut self, k: usize) {
        let off = self.offset(k);
        self.buf.truncate(off);
        self.count = k;
    }

    /// Removes the elements equal to `v` whose rank among such elements (from
    /// the chunk's head) is in `skip..skip + max`; returns how many it removed.
    fn remove_matches(&mut self, v: &[u8], skip: usize, max: usize) -> usize {
        // Most chunks of a long list hold no match: leave them untouched.
        if max == 0 || self.iter().filter(|e| *e == v).nth(skip).is_none() {
            return 0;
        }
        let mut out = Vec::with_capacity(self.buf.len());
        let (mut seen, mut removed) = (0usize, 0usize);
        for e in self.iter() {
            if e == v {
                seen += 1;
                if seen > skip && removed < max {
                    removed += 1;
                    continue;
                }
            }
            encode(&mut out, e);
        }
        if removed > 0 {
            self.buf = out;
            self.count -= removed;
        }
        removed
    }

    /// Gives back spare capacity left by removals.
    fn tidy(&mut self) {
        if self.buf.is_empty() {
            self.buf = Vec::new();
        } else if self.buf.capacity() > 2 * self.buf.len() + 64 {
            self.buf.shrink_to_fit();
        }
    }

    fn heap(&self) -> usize {
        alloc_size(self.buf.capacity())
    }
}

/// Elements of one chunk, both ways.
#[derive(Clone, Debug)]
struct ChunkIter<'a> {
    buf: &'a [u8],
    pos: usize,
    end: usize,
}

impl<'a> Iterator for ChunkIter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.pos >= self.end {
            return None;
        }
        let (n, p) = read_fwd(self.buf, self.pos);
        let start = self.pos + p;
        self.pos = start + n + p;
        Some(&self.buf[start..start + n])
    }
}

impl<'a> DoubleEndedIterator for ChunkIter<'a> {
    fn next_back(&mut self) -> Option<&'a [u8]> {
        if self.pos >= self.end {
            return None;
        }
        let (n, p) = read_back(self.buf, self.end);
        let stop = self.end - p;
        self.end = stop - n - p;
        Some(&self.buf[stop - n..stop])
    }
}

const EMPTY_CHUNK: ChunkIter<'static> = ChunkIter {
    buf: &[],
    pos: 0,
    end: 0,
};
static NO_CHUNKS: VecDeque<Chunk> = VecDeque::new();

/// Elements of a list (or of a suffix of it), both ways.
#[derive(Clone, Debug)]
pub struct Iter<'a> {
    front: ChunkIter<'a>,
    rest: vec_deque::Iter<'a, Chunk>,
    back: ChunkIter<'a>,
    remaining: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.remaining == 0 {
            return None;
        }
        loop {
            if let Some(v) = self.front.next() {
                self.remaining -= 1;
                return Some(v);
            }
            match self.rest.next() {
                Some(c) => self.front = c.iter(),
                None => {
                    let v = self.back.next();
                    if v.is_some() {
                        self.remaining -= 1;
                    }
                    return v;
                }
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<'a> DoubleEndedIterator for Iter<'a> {
    fn next_back(&mut self) -> Option<&'a [u8]> {
        if self.remaining == 0 {
            return None;
        }
        loop {
            if let Some(v) = self.back.next_back() {
                self.remaining -= 1;
                return Some(v);
            }
            match self.rest.next_back() {
                Some(c) => self.back = c.iter(),
                None => {
                    let v = self.front.next_back();
                    if v.is_some() {
                        self.remaining -= 1;
                    }
                    return v;
                }
            }
        }
    }
}

impl ExactSizeIterator for Iter<'_> {}

/// Bytes of packed elements a tiny list holds inline, with no allocation of
/// its own (sized so a ListObj stays within 64 bytes).
const INLINE: usize = 37;

#[derive(Clone, Debug)]
enum Repr {
    /// A tiny list: its packed elements in place.
    Inline {
        used: u8,
        count: u8,
        data: [u8; INLINE],
    },
    /// One chunk, possibly empty.
    Small(Chunk),
    /// Two or more chunks, none empty (between operations).
    Large(VecDeque<Chunk>),
}

#[derive(Clone, Debug)]
pub struct ListObj {
    repr: Repr,
    len: usize,
    /// Heap bytes of the chunks' buffers (not the deque).
    bytes: usize,
    /// Changes at the ends since replication last took them (`changelog`).
    log: ListLog,
}

impl Default for ListObj {
    fn default() -> Self {
        ListObj {
            repr: Repr::Inline {
                used: 0,
                count: 0,
                data: [0; INLINE],
            },
            len: 0,
            bytes: 0,
            log: ListLog::default(),
        }
    }
}

impl ListObj {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn nchunks(&self) -> usize {
        match &self.repr {
            Repr::Inline { .. } | Repr::Small(_) => 1,
            Repr::Large(d) => d.len(),
        }
    }

    fn chunk(&self, ci: usize) -> View<'_> {
        match &self.repr {
            Repr::Inline { used, count, data } => View {
                buf: &data[..*used as usize],
                count: *count as usize,
            },
            Repr::Small(c) => c.view(),
            Repr::Large(d) => d[ci].view(),
        }
    }

    /// A tiny list moves its elements to a chunk, to be changed there.
    fn promote(&mut self) {
        if let Repr::Inline { used, count, data } = &self.repr {
            let c = Chunk {
                buf: data[..*used as usize].to_vec(),
                count: *count as usize,
            };
            self.bytes += c.heap();
            self.repr = Repr::Small(c);
        }
    }

    /// A one-chunk list that fits inline goes back in place.
    fn settle(&mut self) {
        if let Repr::Small(c) = &self.repr {
            if c.buf.len() <= INLINE && c.count <= usize::from(u8::MAX) {
                let mut data = [0u8; INLINE];
                data[..c.buf.len()].copy_from_slice(&c.buf);
                self.bytes -= c.heap();
                self.repr = Repr::Inline {
                    used: c.buf.len() as u8,
                    count: c.count as u8,
                    data,
                };
            }
        }
    }

    /// Changes chunk `ci`, keeping the length and byte counts in step.
    fn edit<R>(&mut self, ci: usize, f: impl FnOnce(&mut Chunk) -> R) -> R {
        self.promote();
        let c = match &mut self.repr {
            Repr::Small(c) => c,
            Repr::Large(d) => &mut d[ci],
            Repr::Inline { .. } => unreachable!("promoted above"),
        };
        let (heap, count) = (c.heap(), c.count);
        let r = f(c);
        c.tidy();
        self.bytes = self.bytes - heap + c.heap();
        self.len = self.len - count + c.count;
        self.settle();
        r
    }

    /// Inserts a chunk at position `ci`, turning a small list large.
    fn insert_chunk(&mut self, ci: usize, mut chunk: Chunk) {
        self.promote();
        chunk.tidy();
        self.bytes += chunk.heap();
        self.len += chunk.count;
        if let Repr::Small(c) = &mut self.repr {
            let first = std::mem::take(c);
            let mut d = VecDeque::with_capacity(4);
            if first.count > 0 {
                d.push_back(first);
            } else {
                self.bytes -= first.heap();
            }
            self.repr = Repr::Large(d);
        }
        if let Repr::Large(d) = &mut self.repr {
            d.insert(ci.min(d.len()), chunk);
        }
    }

    /// Takes chunk `ci` out (a small list is left with an empty chunk).
    fn take_chunk(&mut self, ci: usize) -> Chunk {
        self.promote();
        let c = match &mut self.repr {
            Repr::Small(c) => std::mem::take(c),
            Repr::Large(d) => d.remove(ci).expect("chunk index in range"),
            Repr::Inline { .. } => unreachable!("promoted above"),
        };
        self.bytes -= c.heap();
        self.len -= c.count;
        c
    }

    /// Restores the representation's invariants after removals: no empty
    /// chunks in a large list, and a large list down to one chunk is small.
    fn normalize(&mut self) {
        if let Repr::Large(d) = &mut self.repr {
            d.retain(|c| c.count > 0);
            if d.len() <= 1 {
                let c = d.pop_front().unwrap_or_default();
                self.repr = Repr::Small(c);
            } else if d.capacity() > 4 * d.len() + 8 {
                d.shrink_to_fit();
            }
        }
        self.settle();
    }

    /// Merges neighbouring chunks that fit in one, after removals in the middle.
    fn compact(&mut self) {
        self.normalize();
        let mut ci = 0;
        while ci + 1 < self.nchunks() {
            if self.chunk(ci).buf.len() + self.chunk(ci + 1).buf.len() <= CHUNK_MAX {
                let next = self.take_chunk(ci + 1);
                self.edit(ci, |c| c.append(next));
            } else {
                ci += 1;
            }
        }
        self.normalize();
    }

    /// The chunk holding element `i` (< len) and its index there, counted from
    /// the nearer end.
    fn locate(&self, i: usize) -> (usize, usize) {
        let Repr::Large(d) = &self.repr else {
            return (0, i);
        };
        if i < self.len / 2 {
            let mut i = i;
            for (ci, c) in d.iter().enumerate() {
                if i < c.count {
                    return (ci, i);
                }
                i -= c.count;
            }
        } else {
            let mut from_end = self.len - i;
            for (ci, c) in d.iter().enumerate().rev() {
                if from_end <= c.count {
                    return (ci, c.count - from_end);
                }
                from_end -= c.count;
            }
        }
        unreachable!("index {i} past a list of {}", self.len)
    }

    /// The log of changes at the ends (see `changelog`).
    pub fn log(&mut self) -> &mut ListLog {
        &mut self.log
    }

    pub fn push_back(&mut self, v: &[u8]) {
        self.log.push(End::Tail, v);
        let last = self.nchunks() - 1;
        let c = self.chunk(last);
        if c.count == 0 || c.buf.len() + encoded_len(v.len()) <= CHUNK_MAX {
            self.edit(last, |c| c.insert(c.count, v));
        } else {
            let mut c = Chunk::default();
            c.insert(0, v);
            self.insert_chunk(last + 1, c);
        }
    }

    pub fn push_front(&mut self, v: &[u8]) {
        self.log.push(End::Head, v);
        let c = self.chunk(0);
        if c.count == 0 || c.buf.len() + encoded_len(v.len()) <= CHUNK_MAX {
            self.edit(0, |c| c.insert(0, v));
        } else {
            let mut c = Chunk::default();
            c.insert(0, v);
            self.insert_chunk(0, c);
        }
    }

    pub fn pop_front(&mut self) -> Option<Vec<u8>> {
        if self.len == 0 {
            return None;
        }
        self.log.pop(End::Head);
        let v = self.edit(0, |c| c.remove(0));
        if self.chunk(0).count == 0 {
            self.normalize();
        }
        Some(v)
    }

    pub fn pop_back(&mut self) -> Option<Vec<u8>> {
        if self.len == 0 {
            return None;
        }
        self.log.pop(End::Tail);
        let last = self.nchunks() - 1;
        let v = self.edit(last, |c| c.remove(c.count - 1));
        if self.chunk(last).count == 0 {
            self.normalize();
        }
        Some(v)
    }

    /// Element `i` from the head.
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        if i >= self.len {
            return None;
        }
        let (ci, at) = self.locate(i);
        Some(self.chunk(ci).get(at))
    }

    /// Splits a chunk grown past the limit by a change in the middle.
    fn split_if_big(&mut self, ci: usize) {
        let c = self.chunk(ci);
        if c.buf.len() > CHUNK_MAX && c.count > 1 {
            let tail = self.edit(ci, |c| c.split_off(c.count / 2));
            self.insert_chunk(ci + 1, tail);
        }
    }

    /// Replaces element `i`; false when out of range.
    pub fn set(&mut self, i: usize, v: &[u8]) -> bool {
        if i >= self.len {
            return false;
        }
        self.log.other();
        let (ci, at) = self.locate(i);
        self.edit(ci, |c| c.replace(at, v));
        self.split_if_big(ci);
        true
    }

    /// Inserts `v` so that it becomes element `i` (`i <= len`).
    pub fn insert(&mut self, i: usize, v: &[u8]) {
        assert!(i <= self.len, "insert past the end");
        if i == 0 {
            return self.push_front(v);
        }
        if i == self.len {
            return self.push_back(v);
        }
        self.log.other();
        let (ci, at) = self.locate(i);
        self.edit(ci, |c| c.insert(at, v));
        self.split_if_big(ci);
    }

    /// Removes elements equal to `v`: the first `count` from the head (all when
    /// 0), or the last `-count` from the tail (LREM). Returns how many.
    pub fn remove_matching(&mut self, v: &[u8], count: i64) -> usize {
        self.log.other();
        let mut left = if count == 0 {
            usize::MAX
        } else {
            usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX)
        };
        let mut removed = 0;
        if count >= 0 {
            for ci in 0..self.nchunks() {
                if left == 0 {
                    break;
                }
                let r = self.edit(ci, |c| c.remove_matches(v, 0, left));
                left -= r;
                removed += r;
            }
        } else {
            for ci in (0..self.nchunks()).rev() {
                if left == 0 {
                    break;
                }
                let m = self.chunk(ci).count_matches(v);
                let k = m.min(left);
                if k > 0 {
                    let r = self.edit(ci, |c| c.remove_matches(v, m - k, k));
                    left -= r;
                    removed += r;
                }
            }
        }
        if removed > 0 {
            self.compact();
        }
        removed
    }

    /// Keeps `keep` elements starting at `start` and drops the rest (LTRIM).
    pub fn retain_range(&mut self, start: usize, keep: usize) {
        self.log.other();
        let start = start.min(self.len);
        let keep = keep.min(self.len - start);
        // The head.
        let mut drop = start;
        while drop > 0 {
            let n = self.chunk(0).count;
            if n <= drop && self.nchunks() > 1 {
                self.take_chunk(0);
                drop -= n;
            } else {
                self.edit(0, |c| c.drain_front(drop));
                drop = 0;
            }
        }
        // The tail.
        let mut drop = self.len - keep;
        while drop > 0 {
            let last = self.nchunks() - 1;
            let n = self.chunk(last).count;
            if n <= drop && last > 0 {
                self.take_chunk(last);
                drop -= n;
            } else {
                self.edit(last, |c| c.truncate(n - drop));
                drop = 0;
            }
        }
        self.compact();
    }

    /// Elements from head to tail.
    pub fn iter(&self) -> Iter<'_> {
        self.iter_from(0)
    }

    /// Elements from index `start` (clamped to the length) to the tail; the
    /// start is found from the nearer end, so a range near the tail is cheap.
    pub fn iter_from(&self, start: usize) -> Iter<'_> {
        if start >= self.len {
            return Iter {
                front: EMPTY_CHUNK,
                rest: NO_CHUNKS.iter(),
                back: EMPTY_CHUNK,
                remaining: 0,
            };
        }
        let (ci, at) = self.locate(start);
        let rest = match &self.repr {
            Repr::Inline { .. } | Repr::Small(_) => NO_CHUNKS.iter(),
            Repr::Large(d) => d.range(ci + 1..),
        };
        Iter {
            front: self.chunk(ci).iter_from(at),
            rest,
            back: EMPTY_CHUNK,
            remaining: self.len - start,
        }
    }

    /// Redis' name for the representation (OBJECT ENCODING): 7.0 reports
    /// `quicklist` for every list, however small.
    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }

    /// Estimated heap bytes, for memory accounting.
    pub fn heap_size(&self) -> usize {
        let container = match &self.repr {
            Repr::Inline { .. } | Repr::Small(_) => 0,
            Repr::Large(d) => alloc_size(d.capacity() * std::mem::size_of::<Chunk>()),
        };
        self.bytes + container
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Recomputes every running count from the contents.
    fn check(l: &ListObj) {
        let chunks: Vec<View<'_>> = (0..l.nchunks()).map(|i| l.chunk(i)).collect();
        let bytes: usize = match &l.repr {
            Repr::Inline { .. } => 0,
            Repr::Small(c) => c.heap(),
            Repr::Large(d) => d.iter().map(Chunk::heap).sum(),
        };
        assert_eq!(l.bytes, bytes, "byte count");
        if let Repr::Small(c) = &l.repr {
            assert!(
                c.buf.len() > INLINE || c.count > 255,
                "a tiny list is inline"
            );
        }
        let len: usize = chunks.iter().map(|c| c.count).sum();
        assert_eq!(l.len, len, "length");
        for c in &chunks {
            assert_eq!(c.iter().count(), c.count, "chunk count");
            assert_eq!(c.iter().rev().count(), c.count, "chunk count backwards");
        }
        if let Repr::Large(d) = &l.repr {
            assert!(d.len() >= 2, "a large list has several chunks");
            assert!(d.iter().all(|c| c.count > 0), "no empty chunks");
        }
        assert_eq!(l.iter().len(), l.len);
    }

    fn contents(l: &ListObj) -> Vec<Vec<u8>> {
        l.iter().map(<[u8]>::to_vec).collect()
    }

    #[test]
    fn varints_round_trip() {
        for n in [0usize, 1, 127, 128, 300, 16_383, 16_384, 1 << 30] {
            let (b, k) = varint_bytes(n);
            assert_eq!(k, varint_len(n));
            assert_eq!(read_fwd(&b[..k], 0), (n, k));
            let rev: Vec<u8> = b[..k].iter().rev().copied().collect();
            assert_eq!(read_back(&rev, k), (n, k));
        }
    }

    #[test]
    fn small_to_large_and_back() {
        let mut l = ListObj::new();
        let mut model = VecDeque::new();
        for i in 0..3000u32 {
            let v = format!("element-{i}").into_bytes();
            if i % 3 == 0 {
                l.push_front(&v);
                model.push_front(v);
            } else {
                l.push_back(&v);
                model.push_back(v);
            }
        }
        check(&l);
        assert!(matches!(l.repr, Repr::Large(_)));
        assert_eq!(contents(&l), Vec::from(model.clone()));
        let rev: Vec<Vec<u8>> = l.iter().rev().map(<[u8]>::to_vec).collect();
        assert_eq!(rev, model.iter().rev().cloned().collect::<Vec<_>>());
        for i in [0, 1, 500, 1499, 1500, 2998, 2999] {
            assert_eq!(l.get(i), Some(&model[i][..]));
            let from: Vec<Vec<u8>> = l.iter_from(i).map(<[u8]>::to_vec).collect();
            assert_eq!(from, model.iter().skip(i).cloned().collect::<Vec<_>>());
            let back: Vec<Vec<u8>> = l.iter_from(i).rev().map(<[u8]>::to_vec).collect();
            assert_eq!(
                back,
                model.iter().skip(i).rev().cloned().collect::<Vec<_>>()
            );
        }
        assert_eq!(l.get(3000), None);
        while l.len() > 10 {
            if l.len().is_multiple_of(2) {
                assert_eq!(l.pop_front(), model.pop_front());
            } else {
                assert_eq!(l.pop_back(), model.pop_back());
            }
        }
        check(&l);
        assert!(matches!(l.repr, Repr::Small(_)));
        assert_eq!(contents(&l), Vec::from(model.clone()));
        while let Some(v) = l.pop_back() {
            assert_eq!(Some(v), model.pop_back());
        }
        check(&l);
        assert_eq!(l.heap_size(), 0);
        assert_eq!(l.bytes, 0);
    }

    #[test]
    fn every_index_across_chunk_boundaries() {
        let mut l = ListObj::new();
        let mut model = Vec::new();
        for i in 0..400usize {
            let v = vec![b'a' + (i % 26) as u8; 1 + (i * 37) % 700];
            l.push_back(&v);
            model.push(v);
        }
        check(&l);
        assert!(l.nchunks() > 10);
        for i in 0..model.len() {
            assert_eq!(l.get(i), Some(&model[i][..]), "get {i}");
            let mut it = l.iter_from(i);
            assert_eq!(it.len(), model.len() - i);
            assert_eq!(it.next(), Some(&model[i][..]), "iter_from {i}");
            let last = (i + 1 < model.len()).then(|| &model[model.len() - 1][..]);
            assert_eq!(it.next_back(), last, "back of iter_from {i}");
        }
        assert!(l.iter_from(model.len()).next().is_none());
    }

    #[test]
    fn middle_changes_split_and_merge() {
        let mut l = ListObj::new();
        let mut model: Vec<Vec<u8>> = Vec::new();
        for i in 0..200u32 {
            let v = vec![b'a' + (i % 26) as u8; 100];
            l.push_back(&v);
            model.push(v);
        }
        // Inserting in the middle grows a chunk past the limit, which splits.
        for i in 0..100usize {
            let at = (i * 7) % model.len();
            let v = format!("ins{i}").into_bytes();
            l.insert(at, &v);
            model.insert(at, v);
            check(&l);
        }
        assert_eq!(contents(&l), model);
        for i in (0..model.len()).step_by(5) {
            let v = vec![b'Z'; 500];
            assert!(l.set(i, &v));
            model[i] = v;
        }
        check(&l);
        assert_eq!(contents(&l), model);
        assert!(!l.set(model.len(), b"x"));
        let removed = l.remove_matching(&[b'Z'; 500], 3);
        assert_eq!(removed, 3);
        let mut n = 0;
        model.retain(|v| {
            if n < 3 && v[..] == [b'Z'; 500][..] {
                n += 1;
                false
            } else {
                true
            }
        });
        check(&l);
        assert_eq!(contents(&l), model);
        // From the tail.
        let removed = l.remove_matching(&[b'a'; 100], -2);
        assert_eq!(removed, 2);
        let mut n = 0;
        let mut kept: Vec<Vec<u8>> = model
            .iter()
            .rev()
            .filter(|v| {
                if n < 2 && v[..] == [b'a'; 100][..] {
                    n += 1;
                    false
                } else {
                    true
                }
            })
            .cloned()
            .collect();
        kept.reverse();
        model = kept;
        check(&l);
        assert_eq!(contents(&l), model);
        let all = l.remove_matching(&[b'Z'; 500], 0);
        model.retain(|v| v[..] != [b'Z'; 500][..]);
        assert!(all > 0);
        check(&l);
        assert_eq!(contents(&l), model);
    }

    #[test]
    fn retain_range_trims_both_ends() {
        for (start, keep) in [(0, 0), (0, 5), (10, 100), (990, 50), (500, 1), (0, 1000)] {
            let mut l = ListObj::new();
            let model: Vec<Vec<u8>> = (0..1000u32)
                .map(|i| vec![b'x'; (i % 40) as usize])
                .collect();
            for v in &model {
                l.push_back(v);
            }
            l.retain_range(start, keep);
            check(&l);
            let want: Vec<Vec<u8>> = model.iter().skip(start).take(keep).cloned().collect();
            assert_eq!(contents(&l), want, "start {start} keep {keep}");
        }
    }

    #[test]
    fn huge_elements_get_their_own_chunk() {
        let mut l = ListObj::new();
        l.push_back(b"a");
        l.push_back(&vec![b'b'; 20_000]);
        l.push_front(&vec![b'c'; 20_000]);
        l.push_back(b"d");
        check(&l);
        assert_eq!(l.nchunks(), 4);
        assert_eq!(l.get(1), Some(&b"a"[..]));
        assert_eq!(l.get(2).map(<[u8]>::len), Some(20_000));
        assert_eq!(l.get(3), Some(&b"d"[..]));
        assert_eq!(l.remove_matching(b"a", 0), 1);
        check(&l);
        l.retain_range(1, 10);
        check(&l);
        assert_eq!(l.len(), 2);
        assert_eq!(l.pop_back(), Some(b"d".to_vec()));
        assert_eq!(l.pop_back().map(|v| v.len()), Some(20_000));
        check(&l);
        assert_eq!(l.heap_size(), 0);
    }

    #[test]
    fn small_list_is_compact() {
        let mut l = ListObj::new();
        l.push_back(b"hello");
        assert_eq!(l.heap_size(), 0, "a tiny list allocates nothing");
        assert!(matches!(l.repr, Repr::Inline { .. }));
        assert_eq!(l.encoding(), "quicklist");
        assert!(std::mem::size_of::<ListObj>() <= 64);
        for i in 0..20u8 {
            let v = vec![b'a' + i; usize::from(i % 4)];
            if i % 2 == 0 {
                l.push_front(&v);
            } else {
                l.push_back(&v);
            }
            check(&l);
        }
        // Inline, then a chunk once past INLINE bytes, then inline again.
        assert!(matches!(l.repr, Repr::Small(_)));
        l.retain_range(0, 3);
        check(&l);
        assert!(matches!(l.repr, Repr::Inline { .. }));
        let want: Vec<Vec<u8>> = vec![vec![b'a' + 18; 2], vec![b'a' + 16; 0], vec![b'a' + 14; 2]];
        assert_eq!(contents(&l), want);
        assert_eq!(l.pop_front(), Some(want[0].clone()));
        assert_eq!(l.pop_back(), Some(want[2].clone()));
        assert_eq!(l.pop_back(), Some(Vec::new()));
        assert_eq!(l.pop_back(), None);
        check(&l);
        assert_eq!(l.heap_size(), 0);
    }
}
