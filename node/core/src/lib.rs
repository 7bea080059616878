//! What the Shoal node and the operator share, and nothing of the server: the
//! options and their validation ([`config`]), the topology document and the
//! failover decision ([`cluster`]), ACL rules ([`acl`]), TLS material ([`tls`]),
//! the health probe, RESP values ([`frame`]) and the key → slot function.
//!
//! The operator links this crate, not the node, so it carries neither the
//! node's allocator nor its I/O threads (`cargo tree -p shoal-operator`).
#![forbid(unsafe_code)]

pub mod acl;
pub mod catalog;
pub mod cluster;
pub mod config;
pub mod eviction;
pub mod frame;
pub mod keyslot;
pub mod logging;
pub mod metrics;
pub mod notify;
pub mod tls;
pub mod util;
