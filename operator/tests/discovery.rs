//! The node's Kubernetes glue through the real kube client against the
//! in-memory API server (tests/fake): the topology ConfigMap the operator
//! publishes reaches the node, newer epochs replace older ones, an epoch that
//! goes backwards is refused, a watch that fails and restarts recovers, and
//! ready peers are counted from the headless Service's EndpointSlices.

// Shared with the reconcile scenarios, which use more of it.
#[allow(dead_code)]
mod fake;

use fake::{FakeApi, CC};
use http::Method;
use serde_json::json;
use shoal_node::cluster::kubernetes::{watch, Watch};
use shoal_node::cluster::Topology;
use shoal_node::config::{ClusterConfig, Config, TopologySource};
use shoal_node::server::Shared;
use shoal_operator::metrics::Metrics;
use shoal_operator::reconcile::{reconcile, Context};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const TOPOLOGY: &str = "/api/v1/namespaces/apps/configmaps/cache-topology";
const SLICES: &str = "/apis/discovery.k8s.io/v1/namespaces/apps/endpointslices";

fn node(name: &str) -> Arc<Shared> {
    let config = Config {
        cluster: Some(ClusterConfig {
            node_name: name.into(),
            source: TopologySource::Kubernetes {
                config_map: "cache-topology".into(),
                peer_service: Some("cache-nodes".into()),
                namespace: Some("apps".into()),
            },
        }),
        ..Config::default()
    };
    Shared::new(config, shoal_node::clock::Clock::Wall)
}

fn start_watch(api: &FakeApi, shared: &Arc<Shared>) -> CancellationToken {
    let stop = CancellationToken::new();
    let w = Watch {
        namespace: "apps".into(),
        config_map: "cache-topology".into(),
        peer_service: Some("cache-nodes".into()),
    };
    tokio::spawn(watch(shared.clone(), api.client(), w, stop.clone()));
    stop
}

/// Waits (bounded) until `ok` holds.
async fn eventually(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !ok() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn epoch(shared: &Shared) -> u64 {
    shared
        .cluster
        .as_ref()
        .unwrap()
        .view()
        .map_or(0, |v| v.epoch())
}

fn topology_cm(t: &Topology) -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "cache-topology", "namespace": "apps"},
        "data": {"topology.yaml": t.to_yaml()}})
}

#[tokio::test]
async fn the_operator_publishes_and_the_node_follows() {
    let api = FakeApi::with_cluster(json!({"shards": 2, "replicasPerShard": 1}));
    let shared = node("cache-shard-1-0");
    let stop = start_watch(&api, &shared);
    let ctx = Arc::new(Context::new(api.client(), Arc::new(Metrics::default())));
    let cc = serde_json::from_value(api.get(CC).unwrap()).unwrap();
    reconcile(Arc::new(cc), ctx.clone()).await.unwrap();
    eventually("the first topology", || epoch(&shared) == 1).await;
    let view = shared.cluster.as_ref().unwrap().view().unwrap();
    assert!(
        view.serving(),
        "shard 1's primary serves once it holds the topology"
    );
    assert_eq!(view.me.unwrap().shard, 1);

    // One more replica per shard: a new epoch arrives through the watch.
    // (More shards come through a resize: see resize.rs.)
    let mut cc = api.get(CC).unwrap();
    cc["spec"]["replicasPerShard"] = json!(2);
    cc["metadata"]["generation"] = json!(2);
    api.insert(CC, cc);
    let cc = serde_json::from_value(api.get(CC).unwrap()).unwrap();
    reconcile(Arc::new(cc), ctx).await.unwrap();
    eventually("the grown topology", || epoch(&shared) == 2).await;
    let view = shared.cluster.as_ref().unwrap().view().unwrap();
    assert_eq!(view.topology.shards[1].replicas.len(), 2);
    stop.cancel();
}

#[tokio::test]
async fn older_epochs_are_refused_and_a_restarted_watch_recovers() {
    let api = FakeApi::default();
    let t = |epoch| {
        Topology::even(epoch, 2, 0, |s, _| shoal_node::cluster::NodeAddr {
            name: format!("n{s}"),
            host: format!("n{s}.cache-nodes.apps.svc"),
            port: 6379,
        })
    };
    api.insert(TOPOLOGY, topology_cm(&t(1)));
    let shared = node("n0");
    let stop = start_watch(&api, &shared);
    eventually("epoch 1", || epoch(&shared) == 1).await;
    api.insert(TOPOLOGY, topology_cm(&t(3)));
    eventually("epoch 3", || epoch(&shared) == 3).await;

    // Someone writes an older document: the node keeps epoch 3.
    api.insert(TOPOLOGY, topology_cm(&t(2)));
    eventually("the older epoch refused", || {
        shared.metrics.cluster.refused_topologies.get() >= 1
    })
    .await;
    assert_eq!(epoch(&shared), 3);

    // The watch fails (410 Gone, as when its resourceVersion expired): the
    // watcher lists again, sees the current (older) document, still refuses it,
    // and then follows a newer one.
    api.fail(Method::GET, "watch", 410, 2);
    eventually("the injected watch failures", || {
        api.0.lock().unwrap().failures.iter().all(|f| f.3 == 0)
    })
    .await;
    api.insert(TOPOLOGY, topology_cm(&t(4)));
    eventually("epoch 4 after the restart", || epoch(&shared) == 4).await;
    let watches = api
        .0
        .lock()
        .unwrap()
        .requests
        .iter()
        .filter(|r| r.starts_with("GET") && r.ends_with("/configmaps"))
        .count();
    assert!(
        watches >= 2,
        "the watcher listed again after the failure ({watches} lists)"
    );
    // A document that is not a topology changes nothing: once the watcher has
    // seen and refused it, the topology is the one before.
    let refused = || shared.metrics.cluster.refused_topologies.get();
    let refused_before = refused();
    api.insert(
        TOPOLOGY,
        json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "cache-topology", "namespace": "apps"},
            "data": {"topology.yaml": "epoch: [not a number"}}),
    );
    eventually("the bad document is refused", || refused() > refused_before).await;
    assert_eq!(epoch(&shared), 4);
    stop.cancel();
}

#[tokio::test]
async fn ready_peers_come_from_the_endpoint_slices() {
    let api = FakeApi::default();
    let endpoint = |host: &str, ready: bool| json!({"addresses": ["10.0.0.1"], "hostname": host, "conditions": {"ready": ready}});
    let slice = |name: &str, service: &str, endpoints: Vec<serde_json::Value>| {
        json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": name, "namespace": "apps",
                "labels": {"kubernetes.io/service-name": service}},
            "addressType": "IPv4", "endpoints": endpoints})
    };
    api.insert(
        &format!("{SLICES}/cache-nodes-a"),
        slice(
            "cache-nodes-a",
            "cache-nodes",
            vec![
                endpoint("n0", true),
                endpoint("n1", true),
                endpoint("n2", false),
            ],
        ),
    );
    // Another Service's slice is not watched.
    api.insert(
        &format!("{SLICES}/other-a"),
        slice("other-a", "other", vec![endpoint("x", true)]),
    );
    let shared = node("n0");
    let stop = start_watch(&api, &shared);
    let peers = || shared.cluster.as_ref().unwrap().peers();
    eventually("one ready peer besides itself", || peers() == Some(1)).await;
    api.insert(
        &format!("{SLICES}/cache-nodes-b"),
        slice("cache-nodes-b", "cache-nodes", vec![endpoint("n3", true)]),
    );
    eventually("a second slice", || peers() == Some(2)).await;
    assert_eq!(shared.metrics.cluster.peers.get(), 2);
    stop.cancel();
}
