//! One key and its value, laid out for memory and for few cache misses: the key
//! and a plain string value share one allocation, and the entry itself is 32
//! bytes, stored inline in its table bucket together with 32 bits of the key's
//! hash (so a lookup reads the bucket, then the key, and nothing else).

use super::hash::HashObj;
use super::list::ListObj;
use super::memory::alloc_size;
use super::set::SetObj;
use super::zset::ZSetObj;
use std::hash::{Hash, Hasher};
use std::num::NonZeroU32;

/// The Redis type of a value, as TYPE reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    String,
    Hash,
    List,
    Set,
    ZSet,
}

impl Kind {
    pub const ALL: [Kind; 5] = [Kind::String, Kind::Hash, Kind::List, Kind::Set, Kind::ZSet];

    pub fn name(self) -> &'static str {
        match self {
            Kind::String => "string",
            Kind::Hash => "hash",
            Kind::List => "list",
            Kind::Set => "set",
            Kind::ZSet => "zset",
        }
    }

    pub fn from_name(name: &[u8]) -> Option<Kind> {
        Kind::ALL
            .into_iter()
            .find(|k| name.eq_ignore_ascii_case(k.name().as_bytes()))
    }
}

/// Values that do not fit the inline string layout.
#[derive(Clone, Debug)]
pub enum Obj {
    /// A string that is being appended to or edited in place: keeps spare capacity
    /// so repeated APPENDs are amortised O(1), as Redis' sds does.
    Str(Vec<u8>),
    Hash(HashObj),
    List(ListObj),
    Set(SetObj),
    ZSet(ZSetObj),
}

impl Obj {
    /// Starts logging what changes in the value, for the types that can tell
    /// (see `changelog`).
    pub fn start_log(&mut self) {
        match self {
            Obj::Hash(h) => h.log().start(),
            Obj::List(l) => l.log().start(),
            Obj::Set(st) => st.log().start(),
            Obj::ZSet(z) => z.log().start(),
            Obj::Str(_) => {}
        }
    }

    /// Estimated heap bytes of the value.
    fn heap_size(&self) -> usize {
        match self {
            Obj::Str(s) => alloc_size(s.capacity()),
            Obj::Hash(h) => h.heap_size(),
            Obj::List(l) => l.heap_size(),
            Obj::Set(s) => s.heap_size(),
            Obj::ZSet(z) => z.heap_size(),
        }
    }
}

/// A value to store.
pub enum Value<'a> {
    Str(&'a [u8]),
    Obj(Obj),
}

/// A borrowed view of a stored value.
#[derive(Clone, Copy, Debug)]
pub enum ValueRef<'a> {
    Str(&'a [u8]),
    Hash(&'a HashObj),
    List(&'a ListObj),
    Set(&'a SetObj),
    ZSet(&'a ZSetObj),
}

impl ValueRef<'_> {
    pub fn kind(&self) -> Kind {
        match self {
            ValueRef::Str(_) => Kind::String,
            ValueRef::Hash(_) => Kind::Hash,
            ValueRef::List(_) => Kind::List,
            ValueRef::Set(_) => Kind::Set,
            ValueRef::ZSet(_) => Kind::ZSet,
        }
    }
}

/// Fixed per-entry cost of the index: the entry's bucket, at the table's typical
/// load (it grows 1.5x at 90% full, so it averages about 72%).
pub const TABLE_OVERHEAD: usize = std::mem::size_of::<Entry>() * 11 / 8;
/// Per-entry cost of the expiry index (a B-tree of `(deadline, hash)` pairs).
pub const EXPIRE_OVERHEAD: usize = 24;

/// Where the key and value live. Two variants of one pointer each, so the enum
/// stays 16 bytes (the null-pointer niche tells them apart).
#[derive(Clone, Debug)]
enum Repr {
    /// The key's length as a LEB128 varint, the key, then a plain string value,
    /// in one allocation.
    Inline(Box<[u8]>),
    /// Every other value, and strings being edited in place.
    Obj(Box<ObjEntry>),
}

#[derive(Clone, Debug)]
struct ObjEntry {
    key: Box<[u8]>,
    obj: Obj,
}

/// Appends `n` as a LEB128 varint.
fn put_varint(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Reads a LEB128 varint; returns the value and the bytes it took.
fn get_varint(data: &[u8]) -> (usize, usize) {
    let mut n = 0usize;
    for (i, &b) in data.iter().enumerate().take(10) {
        n |= ((b & 0x7F) as usize) << (7 * i);
        if b & 0x80 == 0 {
            return (n, i + 1);
        }
    }
    (n, data.len())
}

fn inline(key: &[u8], value: &[u8]) -> Box<[u8]> {
    let mut data = Vec::with_capacity(key.len() + value.len() + 5);
    put_varint(&mut data, key.len());
    data.extend_from_slice(key);
    data.extend_from_slice(value);
    data.into_boxed_slice()
}

/// The key and value parts of an inline allocation.
fn split(data: &[u8]) -> (&[u8], &[u8]) {
    let (klen, n) = get_varint(data);
    data[n..].split_at(klen.min(data.len() - n))
}

#[derive(Clone, Debug)]
pub struct Entry {
    repr: Repr,
    /// Deadline in Unix milliseconds; 0 means the key does not expire.
    pub(super) expire_at: u64,
    /// The high 32 bits of the key's hash with the low bit set, set by the table.
    /// Never zero, which gives `Option<Entry>` a niche: table slots are 32 bytes.
    pub(super) hash: NonZeroU32,
    /// LRU clock or LFU counter, see `evict`.
    pub(super) access: u32,
}

impl Entry {
    pub fn new(key: &[u8], value: Value<'_>, access: u32) -> Entry {
        let repr = match value {
            Value::Str(v) => Repr::Inline(inline(key, v)),
            Value::Obj(obj) => Repr::Obj(Box::new(ObjEntry {
                key: Box::from(key),
                obj,
            })),
        };
        Entry {
            repr,
            expire_at: 0,
            hash: NonZeroU32::MIN,
            access,
        }
    }

    pub fn key(&self) -> &[u8] {
        match &self.repr {
            Repr::Inline(data) => split(data).0,
            Repr::Obj(o) => &o.key,
        }
    }

    pub fn kind(&self) -> Kind {
        self.value().kind()
    }

    pub fn value(&self) -> ValueRef<'_> {
        match &self.repr {
            Repr::Inline(data) => ValueRef::Str(split(data).1),
            Repr::Obj(o) => match &o.obj {
                Obj::Str(s) => ValueRef::Str(s),
                Obj::Hash(h) => ValueRef::Hash(h),
                Obj::List(l) => ValueRef::List(l),
                Obj::Set(s) => ValueRef::Set(s),
                Obj::ZSet(z) => ValueRef::ZSet(z),
            },
        }
    }

    /// The string value, if this is a string.
    pub fn as_str(&self) -> Option<&[u8]> {
        match self.value() {
            ValueRef::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn expire_at(&self) -> Option<u64> {
        (self.expire_at != 0).then_some(self.expire_at)
    }

    /// Only the shard changes deadlines, because it keeps the expiry index in step.
    pub(super) fn set_expire_at(&mut self, at: u64) {
        self.expire_at = at;
    }

    pub fn access(&self) -> u32 {
        self.access
    }

    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expire_at != 0 && self.expire_at <= now_ms
    }

    /// Replaces the value, keeping key, hash, deadline and access stamp.
    pub fn set_value(&mut self, value: Value<'_>) {
        self.repr = Entry::new(self.key(), value, self.access).repr;
    }

    /// The same value under another key (RENAME, COPY), keeping deadline and stamp.
    pub fn renamed(self, key: &[u8]) -> Entry {
        let repr = match self.repr {
            Repr::Inline(data) => Repr::Inline(inline(key, split(&data).1)),
            Repr::Obj(mut o) => {
                o.key = Box::from(key);
                Repr::Obj(o)
            }
        };
        Entry {
            repr,
            expire_at: self.expire_at,
            hash: NonZeroU32::MIN,
            access: self.access,
        }
    }

    /// Whether the string is in its growable (edited) form: Redis' `raw` encoding.
    pub fn is_growable_str(&self) -> bool {
        matches!(&self.repr, Repr::Obj(o) if matches!(o.obj, Obj::Str(_)))
    }

    /// Mutable access to a string value in its growable form (APPEND, SETRANGE).
    pub fn str_mut(&mut self) -> Option<&mut Vec<u8>> {
        if let Repr::Inline(data) = &self.repr {
            let (key, value) = split(data);
            let obj = ObjEntry {
                key: Box::from(key),
                obj: Obj::Str(value.to_vec()),
            };
            self.repr = Repr::Obj(Box::new(obj));
        }
        match &mut self.repr {
            Repr::Obj(o) => match &mut o.obj {
                Obj::Str(s) => Some(s),
                _ => None,
            },
            Repr::Inline(_) => None,
        }
    }

    /// The value, when it is not an inline string (to change a collection).
    pub fn obj_mut(&mut self) -> Option<&mut Obj> {
        match &mut self.repr {
            Repr::Obj(o) => Some(&mut o.obj),
            Repr::Inline(_) => None,
        }
    }

    pub fn hash_mut(&mut self) -> Option<&mut HashObj> {
        match self.obj_mut()? {
            Obj::Hash(h) => Some(h),
            _ => None,
        }
    }

    pub fn list_mut(&mut self) -> Option<&mut ListObj> {
        match self.obj_mut()? {
            Obj::List(l) => Some(l),
            _ => None,
        }
    }

    pub fn set_mut(&mut self) -> Option<&mut SetObj> {
        match self.obj_mut()? {
            Obj::Set(s) => Some(s),
            _ => None,
        }
    }

    pub fn zset_mut(&mut self) -> Option<&mut ZSetObj> {
        match self.obj_mut()? {
            Obj::ZSet(z) => Some(z),
            _ => None,
        }
    }

    /// Estimated bytes this entry holds, including its share of the index.
    pub fn mem_size(&self) -> usize {
        let heap = match &self.repr {
            Repr::Inline(data) => alloc_size(data.len()),
            Repr::Obj(o) => {
                alloc_size(std::mem::size_of::<ObjEntry>())
                    + alloc_size(o.key.len())
                    + o.obj.heap_size()
            }
        };
        let expire = if self.expire_at != 0 {
            EXPIRE_OVERHEAD
        } else {
            0
        };
        TABLE_OVERHEAD + heap + expire
    }
}

/// A key to look an [`Entry`] up by, hashing exactly as the entry does.
pub struct KeyRef<'a>(pub &'a [u8]);

impl Hash for KeyRef<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write(self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_key_lengths() {
        for len in [0usize, 1, 127, 128, 300, 70_000] {
            let key = vec![b'k'; len];
            let e = Entry::new(&key, Value::Str(b"value"), 0);
            assert_eq!(e.key(), &key[..]);
            assert_eq!(e.as_str(), Some(&b"value"[..]));
            let r = e.renamed(b"short");
            assert_eq!((r.key(), r.as_str()), (&b"short"[..], Some(&b"value"[..])));
        }
    }

    #[test]
    fn entry_and_table_slot_are_compact() {
        assert_eq!(std::mem::size_of::<Entry>(), 32);
        assert_eq!(std::mem::size_of::<Option<Entry>>(), 32);
    }

    #[test]
    fn string_layout_and_growth() {
        let mut e = Entry::new(b"key", Value::Str(b"value"), 0);
        assert_eq!(e.key(), b"key");
        assert_eq!(e.as_str(), Some(&b"value"[..]));
        e.str_mut().unwrap().extend_from_slice(b"++");
        assert_eq!(e.key(), b"key");
        assert_eq!(e.as_str(), Some(&b"value++"[..]));
        e.set_value(Value::Str(b"v"));
        assert_eq!(e.as_str(), Some(&b"v"[..]));
        assert_eq!(e.kind(), Kind::String);
    }

    #[test]
    fn hash_value() {
        let mut e = Entry::new(b"h", Value::Obj(Obj::Hash(HashObj::new())), 0);
        assert_eq!(e.kind(), Kind::Hash);
        assert!(e.str_mut().is_none());
        e.hash_mut().unwrap().set(b"f", b"v");
        assert!(matches!(e.value(), ValueRef::Hash(h) if h.len() == 1));
    }
}
