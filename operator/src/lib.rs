//! Shoal's operator: reconciles `CacheCluster` resources into the Kubernetes
//! objects that run cache nodes.
//!
//! The decisions are pure functions ([`render`], [`status`], [`topology`]) tested
//! without a cluster; [`reconcile`] is the thin layer that applies them through
//! the Kubernetes API.

pub mod admin;
pub mod crd;
pub mod error;
pub mod leader;
pub mod metrics;
pub mod reconcile;
pub mod render;
pub mod status;
pub mod topology;
