//! Topology and peers from the Kubernetes API (inside a cluster).
//!
//! - The topology: the operator publishes it in a ConfigMap (key
//!   [`TOPOLOGY_KEY`]); the node watches that one object (a field selector on its
//!   name, which is what the node's Role allows) and offers each version to
//!   [`Cluster::offer`](super::Cluster::offer), which keeps epochs monotonic even
//!   when a watch restarts and replays an older copy.
//! - Peers: the EndpointSlices of the headless Service. They are what the
//!   Service already derives from pod readiness, they are small (no pod specs,
//!   env or volumes to read, so the Role grants nothing sensitive) and scale by
//!   slicing; watching pods by label would need read access to whole pod
//!   objects for the same answer.

use crate::server::Shared;
use futures_util::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::runtime::{reflector, watcher, WatchStreamExt};
use kube::{Api, Client};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// The ConfigMap key holding the topology document.
pub use shoal_core::cluster::TOPOLOGY_KEY;

/// Where the namespace of an in-cluster pod is mounted.
const NAMESPACE_FILE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

/// What to watch.
#[derive(Clone, Debug)]
pub struct Watch {
    pub namespace: String,
    pub config_map: String,
    pub peer_service: Option<String>,
}

/// The pod's namespace when none is configured.
pub fn default_namespace(client: &Client) -> String {
    std::fs::read_to_string(NAMESPACE_FILE)
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| client.default_namespace().to_string())
}

/// Watches the topology ConfigMap and, when named, the peers' EndpointSlices,
/// until stopped. Errors are logged and retried with backoff; the node keeps
/// the last topology it accepted meanwhile.
pub async fn watch(shared: Arc<Shared>, client: Client, w: Watch, stop: CancellationToken) {
    let topology = watch_topology(shared.clone(), client.clone(), w.clone());
    let peers = async {
        match &w.peer_service {
            Some(svc) => watch_peers(shared.clone(), client.clone(), &w.namespace, svc).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = stop.cancelled() => {}
        _ = topology => {}
        _ = peers => {}
    }
}

async fn watch_topology(shared: Arc<Shared>, client: Client, w: Watch) {
    let Some(cluster) = shared.cluster.as_ref() else {
        return;
    };
    let api: Api<ConfigMap> = Api::namespaced(client, &w.namespace);
    let config = watcher::Config::default().fields(&format!("metadata.name={}", w.config_map));
    let mut events = watcher(api, config)
        .default_backoff()
        .applied_objects()
        .boxed();
    info!(namespace = %w.namespace, config_map = %w.config_map, "watching the topology");
    while let Some(event) = events.next().await {
        let cm = match event {
            Ok(cm) => cm,
            Err(e) => {
                warn!(error = %e, "topology watch failed; retrying");
                continue;
            }
        };
        let Some(text) = cm.data.as_ref().and_then(|d| d.get(TOPOLOGY_KEY)) else {
            warn!(config_map = %w.config_map, "the topology ConfigMap has no {TOPOLOGY_KEY}");
            continue;
        };
        if let Err(e) =
            crate::cluster::Topology::parse(text).and_then(|t| cluster.offer(t, &shared.metrics))
        {
            shared.metrics.cluster.refused_topologies.inc();
            warn!(error = %e, "topology from the API not usable; keeping the current one");
        }
    }
}

async fn watch_peers(shared: Arc<Shared>, client: Client, namespace: &str, service: &str) {
    let Some(cluster) = shared.cluster.as_ref() else {
        return;
    };
    let api: Api<EndpointSlice> = Api::namespaced(client, namespace);
    let config =
        watcher::Config::default().labels(&format!("kubernetes.io/service-name={service}"));
    let (store, writer) = reflector::store();
    // Every event, InitDone included: the store takes a relisted set only then.
    let mut events = reflector(writer, watcher(api, config))
        .default_backoff()
        .boxed();
    while let Some(event) = events.next().await {
        if let Err(e) = event {
            warn!(error = %e, "peer watch failed; retrying");
            continue;
        }
        let slices: Vec<Arc<EndpointSlice>> = store.state();
        let peers = ready_peers(slices.iter().map(|s| s.as_ref()), &cluster.me);
        cluster.set_peers(peers, &shared.metrics);
    }
}

/// Ready endpoints other than this node, counted once per hostname.
pub fn ready_peers<'a>(slices: impl Iterator<Item = &'a EndpointSlice>, me: &str) -> usize {
    let mut seen = std::collections::BTreeSet::new();
    for s in slices {
        for e in &s.endpoints {
            let ready = e.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true);
            let name = e
                .hostname
                .clone()
                .or_else(|| e.target_ref.as_ref().and_then(|t| t.name.clone()))
                .unwrap_or_else(|| e.addresses.join(","));
            if ready && name != me {
                seen.insert(name);
            }
        }
    }
    seen.len()
}
