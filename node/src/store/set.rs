//! The set type.

use super::memory::alloc_size;
use std::collections::HashSet;

type Member = Box<[u8]>;

#[derive(Clone, Debug, Default)]
pub struct SetObj {
    members: HashSet<Member, foldhash::fast::RandomState>,
    /// Estimated heap bytes of the members (not the container).
    bytes: usize,
}

impl SetObj {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Adds a member; true when it is new.
    pub fn insert(&mut self, m: &[u8]) -> bool {
        if self.members.contains(m) {
            return false;
        }
        self.bytes += alloc_size(m.len());
        self.members.insert(m.into())
    }

    pub fn contains(&self, m: &[u8]) -> bool {
        self.members.contains(m)
    }

    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.members.iter().map(|m| &**m)
    }

    /// Redis' name for the representation (OBJECT ENCODING).
    pub fn encoding(&self) -> &'static str {
        "hashtable"
    }

    /// Estimated heap bytes, for memory accounting.
    pub fn heap_size(&self) -> usize {
        self.bytes + self.members.capacity() * (std::mem::size_of::<Member>() + 8)
    }
}
