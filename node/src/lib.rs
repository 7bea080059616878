//! Shoal's cache node: a Redis-protocol server over a sharded in-memory store.
//!
//! Layers, bottom up: [`store`] (keyspace, expiry, eviction), [`resp`] (protocol),
//! [`cluster`] (slots, topology, routing, forwarding), [`repl`] (replication),
//! [`cmd`] (one module per command), [`connection`] and [`server`] (I/O), [`admin`]
//! (HTTP metrics and health).
#![forbid(unsafe_code)]

pub mod acl;
pub mod admin;
pub mod client;
pub mod clock;
pub mod cluster;
pub mod cmd;
pub mod config;
pub mod connection;
pub mod harness;
pub mod info;
pub use shoal_core::logging;
pub mod metrics;
pub mod notify;
pub mod persist;
pub mod pubsub;
pub mod repl;
pub mod resp;
pub mod server;
pub mod store;
pub use shoal_core::tls;
pub mod util;

pub use config::Config;
pub use harness::Harness;
pub use server::{Node, Shared};
