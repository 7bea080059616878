//! Shoal's cache node: a Redis-protocol server over a sharded in-memory store.

pub mod resp;
pub mod store;
pub mod util;
