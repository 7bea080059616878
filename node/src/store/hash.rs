//! The hash type. Small hashes are a vector scanned linearly (compact, keeps
//! insertion order like Redis' listpack); past the thresholds they become an
//! index map.

use super::changelog::MemberLog;
use super::memory::alloc_size;
use indexmap::IndexMap;
use std::sync::atomic::{AtomicUsize, Ordering};

type Field = Box<[u8]>;

/// Redis' `hash-max-listpack-entries` and `hash-max-listpack-value` defaults.
pub const SMALL_MAX_ENTRIES: usize = 128;
pub const SMALL_MAX_VALUE: usize = 64;

static MAX_ENTRIES: AtomicUsize = AtomicUsize::new(SMALL_MAX_ENTRIES);
static MAX_VALUE: AtomicUsize = AtomicUsize::new(SMALL_MAX_VALUE);

/// Sets the small-form thresholds (CONFIG SET hash-max-listpack-entries and
/// hash-max-listpack-value, alias hash-max-ziplist-*). As in Redis they apply
/// to later writes; a hash never converts back.
pub fn set_listpack_limits(entries: usize, value: usize) {
    MAX_ENTRIES.store(entries, Ordering::Relaxed);
    MAX_VALUE.store(value, Ordering::Relaxed);
}

#[derive(Clone, Debug)]
enum Repr {
    Small(Vec<(Field, Field)>),
    Large(IndexMap<Field, Field, foldhash::fast::RandomState>),
}

#[derive(Clone, Debug)]
pub struct HashObj {
    repr: Repr,
    /// Estimated heap bytes of fields and values (not the container).
    bytes: usize,
    /// Fields changed since replication last took them.
    log: MemberLog,
}

impl Default for HashObj {
    fn default() -> Self {
        HashObj {
            repr: Repr::Small(Vec::new()),
            bytes: 0,
            log: MemberLog::default(),
        }
    }
}

fn pair_size(f: &[u8], v: &[u8]) -> usize {
    alloc_size(f.len()) + alloc_size(v.len())
}

impl HashObj {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Small(v) => v.len(),
            Repr::Large(m) => m.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match &self.repr {
            Repr::Small(v) => v.iter().find(|(f, _)| &**f == field).map(|(_, v)| &**v),
            Repr::Large(m) => m.get(field).map(|v| &**v),
        }
    }

    /// The log of changed fields (see `changelog`).
    pub fn log(&mut self) -> &mut MemberLog {
        &mut self.log
    }

    /// Sets a field; returns true when the field is new.
    pub fn set(&mut self, field: &[u8], value: &[u8]) -> bool {
        self.log.note(field);
        if let Repr::Small(v) = &self.repr {
            let max_value = MAX_VALUE.load(Ordering::Relaxed);
            let max_entries = MAX_ENTRIES.load(Ordering::Relaxed);
            let new_field = || !v.iter().any(|(f, _)| &**f == field);
            if field.len() > max_value
                || value.len() > max_value
                || (v.len() >= max_entries && new_field())
            {
                self.convert();
            }
        }
        self.bytes += pair_size(field, value);
        match &mut self.repr {
            Repr::Small(v) => {
                if let Some(slot) = v.iter_mut().find(|(f, _)| &**f == field) {
                    self.bytes -= pair_size(field, &slot.1);
                    slot.1 = value.into();
                    false
                } else {
                    v.push((field.into(), value.into()));
                    true
                }
            }
            Repr::Large(m) => match m.get_mut(field) {
                Some(old) => {
                    self.bytes -= pair_size(field, old);
                    *old = value.into();
                    false
                }
                None => {
                    m.insert(field.into(), value.into());
                    true
                }
            },
        }
    }

    /// Removes a field; returns whether it existed.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        self.log.note(field);
        let removed = match &mut self.repr {
            Repr::Small(v) => v
                .iter()
                .position(|(f, _)| &**f == field)
                .map(|i| v.remove(i)),
            Repr::Large(m) => m.swap_remove_entry(field),
        };
        match removed {
            Some((f, v)) => {
                self.bytes -= pair_size(&f, &v);
                true
            }
            None => false,
        }
    }

    pub fn iter(&self) -> Box<dyn Iterator<Item = (&[u8], &[u8])> + '_> {
        match &self.repr {
            Repr::Small(v) => Box::new(v.iter().map(|(f, v)| (&**f, &**v))),
            Repr::Large(m) => Box::new(m.iter().map(|(f, v)| (&**f, &**v))),
        }
    }

    /// Redis' name for the representation (OBJECT ENCODING).
    pub fn encoding(&self) -> &'static str {
        match &self.repr {
            Repr::Small(_) => "listpack",
            Repr::Large(_) => "hashtable",
        }
    }

    /// The field at a position (for random picks).
    pub fn get_index(&self, i: usize) -> Option<(&[u8], &[u8])> {
        match &self.repr {
            Repr::Small(v) => v.get(i).map(|(f, v)| (&**f, &**v)),
            Repr::Large(m) => m.get_index(i).map(|(f, v)| (&**f, &**v)),
        }
    }

    /// One HSCAN step over positions, high to low, like the keyspace SCAN (see
    /// `Shard::scan` for why removals never hide a field). A small hash is
    /// returned whole, as Redis does for listpacks. Returns the next cursor.
    pub fn scan<'a>(
        &'a self,
        cursor: u64,
        count: usize,
        mut visit: impl FnMut(&'a [u8], &'a [u8]),
    ) -> u64 {
        match &self.repr {
            Repr::Small(v) => {
                for (f, val) in v {
                    visit(f, val);
                }
                0
            }
            Repr::Large(m) => {
                let mut pos = if cursor == 0 {
                    m.len()
                } else {
                    (cursor as usize - 1).min(m.len())
                };
                let stop = pos.saturating_sub(count.max(1));
                while pos > stop {
                    pos -= 1;
                    let (f, val) = m.get_index(pos).expect("position in range");
                    visit(f, val);
                }
                if pos == 0 {
                    0
                } else {
                    pos as u64 + 1
                }
            }
        }
    }

    /// Estimated heap bytes, for memory accounting.
    pub fn heap_size(&self) -> usize {
        let container = match &self.repr {
            Repr::Small(v) => alloc_size(v.capacity() * 32),
            // Bucket (hash + two boxed slices) plus about two index slots per entry.
            Repr::Large(m) => m.capacity() * (40 + 16),
        };
        self.bytes + container
    }

    fn convert(&mut self) {
        if let Repr::Small(v) = &mut self.repr {
            let mut m = IndexMap::with_capacity_and_hasher(v.len() + 1, Default::default());
            m.extend(v.drain(..));
            self.repr = Repr::Large(m);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_then_large_keeps_contents() {
        let mut h = HashObj::new();
        for i in 0..200u32 {
            assert!(h.set(format!("f{i}").as_bytes(), format!("v{i}").as_bytes()));
        }
        assert!(matches!(h.repr, Repr::Large(_)));
        assert_eq!(h.len(), 200);
        assert_eq!(h.get(b"f7"), Some(&b"v7"[..]));
        assert!(!h.set(b"f7", b"again"));
        assert_eq!(h.get(b"f7"), Some(&b"again"[..]));
        assert!(h.remove(b"f7"));
        assert!(!h.remove(b"f7"));
        assert_eq!(h.len(), 199);
    }

    #[test]
    fn long_value_converts() {
        let mut h = HashObj::new();
        h.set(b"a", b"1");
        h.set(b"b", &[b'x'; 100]);
        assert!(matches!(h.repr, Repr::Large(_)));
        assert_eq!(h.get(b"a"), Some(&b"1"[..]));
    }

    #[test]
    fn small_keeps_insertion_order() {
        let mut h = HashObj::new();
        for f in ["c", "a", "b"] {
            h.set(f.as_bytes(), b"v");
        }
        h.remove(b"a");
        let fields: Vec<&[u8]> = h.iter().map(|(f, _)| f).collect();
        assert_eq!(fields, vec![&b"c"[..], b"b"]);
    }

    #[test]
    fn byte_estimate_returns_to_zero() {
        let mut h = HashObj::new();
        h.set(b"a", b"1");
        h.set(b"a", b"22");
        h.set(b"b", b"333");
        h.remove(b"a");
        h.remove(b"b");
        assert_eq!(h.bytes, 0);
    }
}
