//! Clustering: hash slots, the topology document and its sources (a watched
//! file, or the Kubernetes API), routing decisions, and forwarding to peers.
//!
//! The decisions ([`slot`], [`topology`]) are pure; [`file`] and [`kubernetes`] only
//! feed documents into [`Cluster::offer`], and [`link`] carries forwarded
//! commands.

pub mod file;
pub mod kubernetes;
pub mod link;
pub mod local;
pub mod migrate;
pub mod rolling;
pub mod supervisor;
pub use shoal_core::cluster::{failover, probe, reshard, rollout, slot, topology};

use crate::metrics::Metrics;
use arc_swap::ArcSwapOption;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
pub use topology::{decide, Decision, NodeAddr, Route, Topology, TopologyError, View};
use tracing::{error, info, warn};

/// Starts feeding the node its topology from the configured source.
pub fn start_sources(shared: &Arc<crate::server::Shared>, stop: &CancellationToken) {
    use crate::config::TopologySource;
    let Some(cfg) = shared.config.cluster.clone() else {
        return;
    };
    let (shared, stop) = (shared.clone(), stop.clone());
    match cfg.source {
        TopologySource::File(path) => {
            tokio::spawn(file::watch(shared, path, stop));
        }
        TopologySource::Kubernetes {
            config_map,
            peer_service,
            namespace,
        } => {
            tokio::spawn(async move {
                let client = match ::kube::Client::try_default().await {
                    Ok(c) => c,
                    Err(e) => {
                        error!(error = %e, "no Kubernetes API access; this node gets no topology");
                        return;
                    }
                };
                let namespace = namespace.unwrap_or_else(|| kubernetes::default_namespace(&client));
                let w = kubernetes::Watch {
                    namespace,
                    config_map,
                    peer_service,
                };
                kubernetes::watch(shared, client, w, stop).await
            });
        }
    }
}

/// A node's cluster membership: who it is, and the topology it holds.
pub struct Cluster {
    pub me: String,
    view: ArcSwapOption<View>,
    /// Serializes offers so two sources cannot interleave a decision.
    offering: Mutex<()>,
    /// Ready peers seen by discovery; -1 until discovery reports.
    peers: AtomicI64,
    /// The epoch of the last topology applied, for those that follow changes
    /// (replication roles).
    applied: tokio::sync::watch::Sender<u64>,
    /// Slot ranges being copied in by a resize.
    pub imports: migrate::Imports,
}

impl Cluster {
    pub fn new(me: impl Into<String>) -> Cluster {
        Cluster {
            me: me.into(),
            view: ArcSwapOption::empty(),
            offering: Mutex::new(()),
            peers: AtomicI64::new(-1),
            applied: tokio::sync::watch::channel(0).0,
            imports: migrate::Imports::default(),
        }
    }

    /// The topology as this node sees it; None until one is accepted.
    pub fn view(&self) -> Option<Arc<View>> {
        self.view.load_full()
    }

    /// Cheap access for the request path (no reference count traffic).
    pub fn load(&self) -> arc_swap::Guard<Option<Arc<View>>> {
        self.view.load()
    }

    /// Takes `next` if it is valid and newer than what is held ([`decide`]).
    pub fn offer(&self, next: Topology, metrics: &Metrics) -> Result<Decision, TopologyError> {
        next.check()?;
        let _one = self.offering.lock();
        let current = self.view.load_full();
        let decision = decide(current.as_deref().map(|v| &v.topology), &next);
        match &decision {
            Decision::Apply => {
                let view = View::new(next, &self.me)?;
                if view.me.is_none() {
                    warn!(node = %self.me, epoch = view.epoch(), "the topology does not name this node; it serves no slots");
                }
                info!(
                    epoch = view.epoch(),
                    shards = view.topology.shards.len(),
                    "topology applied"
                );
                metrics.cluster.record_view(&view);
                let epoch = view.epoch();
                self.view.store(Some(Arc::new(view)));
                self.applied.send_replace(epoch);
            }
            Decision::Same => {}
            Decision::Refuse(why) => {
                metrics.cluster.refused_topologies.inc();
                warn!(reason = %why, "topology refused");
            }
        }
        Ok(decision)
    }

    /// Follows the epochs of applied topologies.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.applied.subscribe()
    }

    /// Whether the node can serve its slots (readiness).
    pub fn serving(&self) -> bool {
        self.view.load().as_ref().is_some_and(|v| v.serving())
    }

    pub fn set_peers(&self, n: usize, metrics: &Metrics) {
        self.peers.store(n as i64, Ordering::Relaxed);
        metrics.cluster.peers.set(n as i64);
    }

    pub fn peers(&self) -> Option<usize> {
        usize::try_from(self.peers.load(Ordering::Relaxed)).ok()
    }
}
