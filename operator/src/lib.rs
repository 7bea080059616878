//! Shoal's operator: reconciles `CacheCluster` resources into the Kubernetes
//! objects that run cache nodes.
//!
//! The decisions are pure functions ([`render`], [`status`], [`topology`],
//! [`resize`], [`rollout`], and shoal-core's failover, resize and rollout
//! plans) tested without a
//! cluster; [`reconcile`] and [`failover`] are the thin layers that apply them
//! through the Kubernetes API.
#![forbid(unsafe_code)]

pub mod admin;
pub mod crd;
pub mod error;
pub mod failover;
pub mod leader;
pub mod metrics;
pub mod reconcile;
pub mod render;
pub mod resize;
pub mod rollout;
pub mod secrets;
pub mod status;
pub mod topology;
