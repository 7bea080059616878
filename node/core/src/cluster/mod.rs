//! The pure half of clustering: hash slot ranges ([`slot`]), the topology
//! document and routing ([`topology`]), the failover decision ([`failover`]), resize plans ([`reshard`]), the
//! rolling replacement order ([`rollout`]) and
//! the health probe that feeds it ([`probe`]).

pub mod failover;
pub mod probe;
pub mod reshard;
pub mod rollout;
pub mod slot;
pub mod topology;

pub use topology::{decide, Decision, NodeAddr, Route, Topology, TopologyError, View};

/// The key of the topology document in its ConfigMap.
pub const TOPOLOGY_KEY: &str = "topology.yaml";
