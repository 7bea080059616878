//! One key and its value, laid out for memory: the key and a plain string value
//! share one allocation, and the entry itself is 40 bytes.

use super::hash::HashObj;
use super::memory::alloc_size;
use std::hash::{Hash, Hasher};

/// The Redis type of a value, as TYPE reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    String,
    Hash,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::String => "string",
            Kind::Hash => "hash",
        }
    }

    pub fn from_name(name: &[u8]) -> Option<Kind> {
        if name.eq_ignore_ascii_case(b"string") {
            Some(Kind::String)
        } else if name.eq_ignore_ascii_case(b"hash") {
            Some(Kind::Hash)
        } else {
            None
        }
    }
}

/// Values that do not fit the inline string layout.
#[derive(Clone, Debug)]
pub enum Obj {
    /// A string that is being appended to or edited in place: keeps spare capacity
    /// so repeated APPENDs are amortised O(1), as Redis' sds does.
    Str(Vec<u8>),
    Hash(HashObj),
}

/// A value to store.
pub enum Value<'a> {
    Str(&'a [u8]),
    Obj(Obj),
}

/// A borrowed view of a stored value.
#[derive(Clone, Copy)]
pub enum ValueRef<'a> {
    Str(&'a [u8]),
    Hash(&'a HashObj),
}

impl ValueRef<'_> {
    pub fn kind(&self) -> Kind {
        match self {
            ValueRef::Str(_) => Kind::String,
            ValueRef::Hash(_) => Kind::Hash,
        }
    }
}

/// Fixed per-entry cost of the index: the entry and its cached hash in the entries
/// vector, plus about two 8-byte index slots and their control bytes.
pub const TABLE_OVERHEAD: usize = std::mem::size_of::<Entry>() + 8 + 18;
/// Per-entry cost of the expiry index (a B-tree of `(deadline, hash)` pairs).
pub const EXPIRE_OVERHEAD: usize = 24;

#[derive(Clone, Debug)]
pub struct Entry {
    /// Key bytes, followed by the value when it is a plain string (`obj` is None).
    data: Box<[u8]>,
    obj: Option<Box<Obj>>,
    /// Deadline in Unix milliseconds; 0 means the key does not expire.
    pub(super) expire_at: u64,
    klen: u32,
    /// LRU clock or LFU counter, see `evict`.
    pub(super) access: u32,
}

impl Entry {
    pub fn new(key: &[u8], value: Value<'_>, access: u32) -> Entry {
        let (data, obj) = match value {
            Value::Str(v) => {
                let mut data = Vec::with_capacity(key.len() + v.len());
                data.extend_from_slice(key);
                data.extend_from_slice(v);
                (data.into_boxed_slice(), None)
            }
            Value::Obj(o) => (Box::from(key), Some(Box::new(o))),
        };
        Entry {
            data,
            obj,
            expire_at: 0,
            klen: key.len() as u32,
            access,
        }
    }

    pub fn key(&self) -> &[u8] {
        &self.data[..self.klen as usize]
    }

    pub fn kind(&self) -> Kind {
        self.value().kind()
    }

    pub fn value(&self) -> ValueRef<'_> {
        match self.obj.as_deref() {
            None => ValueRef::Str(&self.data[self.klen as usize..]),
            Some(Obj::Str(s)) => ValueRef::Str(s),
            Some(Obj::Hash(h)) => ValueRef::Hash(h),
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

    /// Replaces the value, keeping key, deadline and access stamp.
    pub fn set_value(&mut self, value: Value<'_>) {
        let fresh = Entry::new(self.key(), value, self.access);
        self.data = fresh.data;
        self.obj = fresh.obj;
    }

    /// The same value under another key (RENAME, COPY), keeping deadline and stamp.
    pub fn renamed(self, key: &[u8]) -> Entry {
        let mut e = match self.obj {
            None => Entry::new(
                key,
                Value::Str(&self.data[self.klen as usize..]),
                self.access,
            ),
            Some(obj) => Entry {
                data: Box::from(key),
                obj: Some(obj),
                expire_at: 0,
                klen: key.len() as u32,
                access: self.access,
            },
        };
        e.expire_at = self.expire_at;
        e
    }

    /// Whether the string is in its growable (edited) form: Redis' `raw` encoding.
    pub fn is_growable_str(&self) -> bool {
        matches!(self.obj.as_deref(), Some(Obj::Str(_)))
    }

    /// Mutable access to a string value in its growable form (APPEND, SETRANGE).
    pub fn str_mut(&mut self) -> Option<&mut Vec<u8>> {
        if self.obj.is_none() {
            let k = self.klen as usize;
            let value = self.data[k..].to_vec();
            self.data = Box::from(&self.data[..k]);
            self.obj = Some(Box::new(Obj::Str(value)));
        }
        match self.obj.as_deref_mut() {
            Some(Obj::Str(s)) => Some(s),
            _ => None,
        }
    }

    pub fn hash_mut(&mut self) -> Option<&mut HashObj> {
        match self.obj.as_deref_mut() {
            Some(Obj::Hash(h)) => Some(h),
            _ => None,
        }
    }

    /// Estimated bytes this entry holds, including its share of the index.
    pub fn mem_size(&self) -> usize {
        let obj = match self.obj.as_deref() {
            None => 0,
            Some(o) => {
                alloc_size(std::mem::size_of::<Obj>())
                    + match o {
                        Obj::Str(s) => alloc_size(s.capacity()),
                        Obj::Hash(h) => h.heap_size(),
                    }
            }
        };
        let expire = if self.expire_at != 0 {
            EXPIRE_OVERHEAD
        } else {
            0
        };
        TABLE_OVERHEAD + alloc_size(self.data.len()) + obj + expire
    }
}

impl Hash for Entry {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write(self.key());
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Entry {}

/// A key to look an [`Entry`] up by, hashing exactly as the entry does.
pub struct KeyRef<'a>(pub &'a [u8]);

impl Hash for KeyRef<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write(self.0);
    }
}

impl indexmap::Equivalent<Entry> for KeyRef<'_> {
    fn equivalent(&self, key: &Entry) -> bool {
        self.0 == key.key()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_is_compact() {
        assert_eq!(std::mem::size_of::<Entry>(), 40);
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
