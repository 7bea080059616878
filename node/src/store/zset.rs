//! The sorted set type.

use super::memory::alloc_size;

type Member = Box<[u8]>;

/// Members ordered by (score, member), as Redis orders them.
#[derive(Clone, Debug, Default)]
pub struct ZSetObj {
    items: Vec<(f64, Member)>,
    /// Estimated heap bytes of the members (not the container).
    bytes: usize,
}

impl ZSetObj {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn score(&self, m: &[u8]) -> Option<f64> {
        self.items.iter().find(|(_, x)| &**x == m).map(|(s, _)| *s)
    }

    /// Sets a member's score; true when the member is new.
    pub fn insert(&mut self, m: &[u8], score: f64) -> bool {
        let new = match self.items.iter().position(|(_, x)| &**x == m) {
            Some(i) => {
                self.items.remove(i);
                false
            }
            None => {
                self.bytes += alloc_size(m.len());
                true
            }
        };
        let at = self.items.partition_point(|(s, x)| (*s, &**x) < (score, m));
        self.items.insert(at, (score, m.into()));
        new
    }

    /// (member, score) from the lowest score to the highest.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&[u8], f64)> + '_ {
        self.items.iter().map(|(s, m)| (&**m, *s))
    }

    /// Redis' name for the representation (OBJECT ENCODING).
    pub fn encoding(&self) -> &'static str {
        "skiplist"
    }

    /// Estimated heap bytes, for memory accounting.
    pub fn heap_size(&self) -> usize {
        self.bytes + alloc_size(self.items.capacity() * std::mem::size_of::<(f64, Member)>())
    }
}
