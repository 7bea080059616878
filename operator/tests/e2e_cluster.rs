//! End-to-end on a real Kubernetes cluster (kind or k3d). Runs only when
//! KUBECONFIG names a kubeconfig file, and says so when it skips; see the
//! README ("Operator end-to-end tests") for setting up a cluster and images.
//!
//! It installs the CRD, runs the controller in-process against a fresh
//! namespace, and checks: a 2-shard cluster becomes Running, a node answers
//! PING through a port-forward, its client port redirects to the owning shard and
//! its forwarding port answers for it, scaling replicas converges, pausing is reported,
//! and deleting the CacheCluster garbage-collects its StatefulSets.

use futures::StreamExt;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Namespace, Pod, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::{watcher, Controller};
use kube::{Api, Client, CustomResourceExt};
use serde_json::json;
use shoal_operator::crd::{CacheCluster, Phase};
use shoal_operator::metrics::Metrics;
use shoal_operator::reconcile::{error_policy, reconcile, Context};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn cluster_client() -> Option<Client> {
    let path = std::env::var("KUBECONFIG").unwrap_or_default();
    if path.is_empty() || !std::path::Path::new(&path).exists() {
        eprintln!("SKIPPED e2e_cluster: set KUBECONFIG to a kind/k3d cluster's kubeconfig to run it (see README)");
        return None;
    }
    Some(
        Client::try_default()
            .await
            .expect("a client for KUBECONFIG"),
    )
}

async fn wait_for<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn cache_cluster_lifecycle() {
    let Some(client) = cluster_client().await else {
        return;
    };
    let ssa = PatchParams::apply("shoal-e2e").force();
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.patch(
        "cacheclusters.shoal.dev",
        &ssa,
        &Patch::Apply(CacheCluster::crd()),
    )
    .await
    .expect("install the CRD");
    wait_for(
        "the CRD to be established",
        Duration::from_secs(60),
        || async {
            crds.get("cacheclusters.shoal.dev")
                .await
                .ok()
                .and_then(|c| c.status)
                .is_some_and(|s| {
                    s.conditions
                        .unwrap_or_default()
                        .iter()
                        .any(|c| c.type_ == "Established" && c.status == "True")
                })
        },
    )
    .await;

    let ns = format!("shoal-e2e-{}", std::process::id());
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": ns}})).unwrap(),
        )
        .await
        .expect("create the test namespace");

    let ctx = Arc::new(Context::new(client.clone(), Arc::new(Metrics::default())));
    let controller = tokio::spawn(
        Controller::new(
            Api::<CacheCluster>::namespaced(client.clone(), &ns),
            watcher::Config::default(),
        )
        .owns(
            Api::<StatefulSet>::namespaced(client.clone(), &ns),
            watcher::Config::default(),
        )
        .run(reconcile, error_policy, ctx)
        .for_each(|_| async {}),
    );

    let image = std::env::var("SHOAL_NODE_IMAGE")
        .unwrap_or_else(|_| shoal_operator::crd::DEFAULT_IMAGE.into());
    let clusters: Api<CacheCluster> = Api::namespaced(client.clone(), &ns);
    let cc: CacheCluster = serde_json::from_value(json!({
        "apiVersion": "shoal.dev/v1alpha1", "kind": "CacheCluster",
        "metadata": {"name": "e2e", "namespace": ns},
        "spec": {"shards": 2, "replicasPerShard": 1, "image": image, "imagePullPolicy": "IfNotPresent",
                 "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}}}
    }))
    .unwrap();
    clusters
        .patch("e2e", &ssa, &Patch::Apply(&cc))
        .await
        .expect("create the CacheCluster");

    let running = |ready: i32| {
        let clusters = clusters.clone();
        move || {
            let clusters = clusters.clone();
            async move {
                clusters
                    .get("e2e")
                    .await
                    .ok()
                    .and_then(|c| c.status)
                    .is_some_and(|s| s.phase == Some(Phase::Running) && s.ready_replicas == ready)
            }
        }
    };
    wait_for(
        "4 ready pods and phase Running",
        Duration::from_secs(300),
        running(4),
    )
    .await;

    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), &ns);
    assert_eq!(sets.list(&Default::default()).await.unwrap().items.len(), 2);
    let pdbs: Api<PodDisruptionBudget> = Api::namespaced(client.clone(), &ns);
    assert_eq!(pdbs.list(&Default::default()).await.unwrap().items.len(), 2);
    let services: Api<Service> = Api::namespaced(client.clone(), &ns);
    assert!(services.get("e2e").await.is_ok() && services.get("e2e-nodes").await.is_ok());

    // A node answers the Redis protocol.
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let mut pf = pods
        .portforward("e2e-shard-0-0", &[6379])
        .await
        .expect("port-forward");
    let mut stream = pf.take_stream(6379).expect("a stream");
    stream.write_all(b"PING\r\n").await.unwrap();
    let mut buf = [0u8; 7];
    tokio::time::timeout(Duration::from_secs(10), stream.read_exact(&mut buf))
        .await
        .expect("a reply in time")
        .unwrap();
    assert_eq!(&buf, b"+PONG\r\n");
    // Shard 1 owns "foo" (slot 12182): the client port redirects to its
    // primary's stable DNS name...
    let moved = format!("-MOVED 12182 e2e-shard-1-0.e2e-nodes.{ns}.svc:6379\r\n");
    stream.write_all(b"GET foo\r\n").await.unwrap();
    let mut buf = vec![0u8; moved.len()];
    tokio::time::timeout(Duration::from_secs(10), stream.read_exact(&mut buf))
        .await
        .expect("a reply in time")
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&buf), moved);
    drop(stream);
    // ...and the forwarding port (the client Service's target) answers it, over
    // the node-to-node link.
    let mut pf = pods
        .portforward("e2e-shard-0-0", &[6380])
        .await
        .expect("port-forward");
    let mut stream = pf.take_stream(6380).expect("a stream");
    stream
        .write_all(b"SET foo bar\r\nGET foo\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 14];
    tokio::time::timeout(Duration::from_secs(10), stream.read_exact(&mut buf))
        .await
        .expect("a reply in time")
        .unwrap();
    assert_eq!(&buf, b"+OK\r\n$3\r\nbar\r\n");
    drop(stream);
    let status = clusters.get("e2e").await.unwrap().status.unwrap();
    assert_eq!(status.epoch, 1, "one topology published");

    // Scaling converges.
    clusters
        .patch(
            "e2e",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicasPerShard": 2}})),
        )
        .await
        .unwrap();
    wait_for(
        "6 ready pods after scaling",
        Duration::from_secs(300),
        running(6),
    )
    .await;

    // Pausing is reported.
    clusters
        .patch(
            "e2e",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"paused": true}})),
        )
        .await
        .unwrap();
    wait_for("phase Paused", Duration::from_secs(60), || async {
        clusters
            .get("e2e")
            .await
            .ok()
            .and_then(|c| c.status)
            .is_some_and(|s| s.phase == Some(Phase::Paused))
    })
    .await;

    // Deleting the cluster garbage-collects what the operator created.
    clusters
        .delete("e2e", &DeleteParams::foreground())
        .await
        .unwrap();
    wait_for(
        "the StatefulSets to be garbage-collected",
        Duration::from_secs(180),
        || async {
            sets.list(&Default::default())
                .await
                .map(|l| l.items.is_empty())
                .unwrap_or(false)
        },
    )
    .await;
    controller.abort();
    let _ = namespaces.delete(&ns, &DeleteParams::default()).await;
    eprintln!("e2e_cluster passed in namespace {ns}");
}
