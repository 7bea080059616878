//! The list type.

use super::memory::alloc_size;
use std::collections::VecDeque;

type Elem = Box<[u8]>;

#[derive(Clone, Debug, Default)]
pub struct ListObj {
    items: VecDeque<Elem>,
    /// Estimated heap bytes of the elements (not the container).
    bytes: usize,
}

impl ListObj {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn push_back(&mut self, v: &[u8]) {
        self.bytes += alloc_size(v.len());
        self.items.push_back(v.into());
    }

    pub fn push_front(&mut self, v: &[u8]) {
        self.bytes += alloc_size(v.len());
        self.items.push_front(v.into());
    }

    /// Elements from head to tail.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &[u8]> + ExactSizeIterator + '_ {
        self.items.iter().map(|e| &**e)
    }

    /// Redis' name for the representation (OBJECT ENCODING).
    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }

    /// Estimated heap bytes, for memory accounting.
    pub fn heap_size(&self) -> usize {
        self.bytes + alloc_size(self.items.capacity() * std::mem::size_of::<Elem>())
    }
}
