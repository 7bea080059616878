//! Commands on keys regardless of type: deletion, existence, TTLs, renames and
//! keyspace iteration.

pub mod copy;
pub mod del;
pub mod dump;
pub mod exists;
pub mod expire;
pub mod keys_;
pub mod object;
pub mod randomkey;
pub mod rename;
pub mod scan;
pub mod sort;
pub mod ttl;
pub mod type_;
