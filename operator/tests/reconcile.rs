//! Reconcile scenarios against an in-memory API server (tests/fake): create,
//! become ready, update and scale, generated and missing Secrets, field-owner
//! conflicts, API errors, optional objects, pausing.

#[path = "../../node/tests/certs/mod.rs"]
mod certs;
mod fake;

use fake::{FakeApi, CC};
use http::Method;
use kube::runtime::controller::Action;
use serde_json::{json, Value};
use shoal_operator::crd::CacheCluster;
use shoal_operator::error::Error;
use shoal_operator::metrics::Metrics;
use shoal_operator::reconcile::{error_policy, reconcile, Context};
use std::sync::Arc;
use std::time::Duration;

const NS: &str = "/api/v1/namespaces/apps";
const APPS: &str = "/apis/apps/v1/namespaces/apps";

fn setup(spec: Value) -> (FakeApi, Arc<Context>) {
    let api = FakeApi::with_cluster(spec);
    let ctx = Arc::new(Context::new(api.client(), Arc::new(Metrics::default())));
    (api, ctx)
}

fn current(api: &FakeApi) -> Arc<CacheCluster> {
    Arc::new(serde_json::from_value(api.get(CC).unwrap()).unwrap())
}

async fn run(api: &FakeApi, ctx: &Arc<Context>) -> Result<Action, Error> {
    reconcile(current(api), ctx.clone()).await
}

fn set_spec(api: &FakeApi, spec: Value) {
    let mut cc = api.get(CC).unwrap();
    cc["spec"] = spec;
    cc["metadata"]["generation"] = json!(cc["metadata"]["generation"].as_i64().unwrap() + 1);
    api.insert(CC, cc);
}

fn status(api: &FakeApi) -> Value {
    api.get(CC).unwrap()["status"].clone()
}

fn condition(api: &FakeApi, t: &str) -> Value {
    status(api)["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == t)
        .cloned()
        .unwrap()
}

fn events(api: &FakeApi) -> Vec<Value> {
    api.paths_under("/apis/events.k8s.io/v1/namespaces/apps/events/")
        .into_iter()
        .map(|p| api.get(&p).unwrap())
        .collect()
}

/// Plays the StatefulSet controller: every pod of every shard becomes ready.
fn make_ready(api: &FakeApi, shards: usize, pods: i64) {
    for i in 0..shards {
        let path = format!("{APPS}/statefulsets/cache-shard-{i}");
        let mut s = api.get(&path).unwrap();
        let generation = s["metadata"]["generation"].clone();
        s["status"] = json!({"replicas": pods, "readyReplicas": pods, "updatedReplicas": pods,
            "observedGeneration": generation, "currentRevision": "r1", "updateRevision": "r1"});
        api.insert(&path, s);
    }
}

#[tokio::test]
async fn create_then_ready() {
    let (api, ctx) = setup(json!({"shards": 2, "replicasPerShard": 1}));
    let action = run(&api, &ctx).await.unwrap();
    assert_eq!(action, Action::requeue(Duration::from_secs(300)));
    for path in [
        format!("{NS}/serviceaccounts/cache-node"),
        "/apis/rbac.authorization.k8s.io/v1/namespaces/apps/roles/cache-node".into(),
        "/apis/rbac.authorization.k8s.io/v1/namespaces/apps/rolebindings/cache-node".into(),
        format!("{NS}/configmaps/cache-config"),
        format!("{NS}/services/cache"),
        format!("{NS}/services/cache-nodes"),
        format!("{APPS}/statefulsets/cache-shard-0"),
        format!("{APPS}/statefulsets/cache-shard-1"),
        "/apis/policy/v1/namespaces/apps/poddisruptionbudgets/cache-shard-1".into(),
    ] {
        let obj = api
            .get(&path)
            .unwrap_or_else(|| panic!("{path} not applied"));
        // Owned by the cluster, so deleting it garbage-collects everything.
        assert_eq!(
            obj["metadata"]["ownerReferences"][0]["uid"], "cc-uid",
            "{path}"
        );
    }
    assert!(api.get(&format!("{NS}/secrets/cache-auth")).is_none());
    assert_eq!(status(&api)["phase"], "Pending");
    assert_eq!(status(&api)["replicas"], 4);
    assert_eq!(condition(&api, "Available")["status"], "False");

    make_ready(&api, 2, 2);
    run(&api, &ctx).await.unwrap();
    assert_eq!(status(&api)["phase"], "Running");
    assert_eq!(status(&api)["readyReplicas"], 4);
    assert_eq!(status(&api)["observedGeneration"], 1);
    assert_eq!(condition(&api, "Available")["status"], "True");
    assert_eq!(condition(&api, "Progressing")["reason"], "Stable");
    assert!(events(&api).iter().any(|e| e["reason"] == "PhaseChanged"));
}

#[tokio::test]
async fn a_cluster_whose_restarts_empty_shards_is_warned_once() {
    let (api, ctx) = setup(json!({"shards": 2}));
    run(&api, &ctx).await.unwrap();
    run(&api, &ctx).await.unwrap();
    assert_eq!(condition(&api, "Durable")["reason"], "Ephemeral");
    // A repeat would show as a second event or as a series on the first.
    let warned = |api: &FakeApi| {
        events(api)
            .iter()
            .filter(|e| e["reason"] == "NotDurable")
            .map(|e| e["series"]["count"].as_u64().unwrap_or(1))
            .sum::<u64>()
    };
    assert_eq!(warned(&api), 1, "once, not every reconcile");
    set_spec(&api, json!({"shards": 2, "replicasPerShard": 1}));
    run(&api, &ctx).await.unwrap();
    assert_eq!(condition(&api, "Durable")["status"], "True");
    assert_eq!(warned(&api), 1);
}

#[tokio::test]
async fn update_and_scale_converge() {
    let (api, ctx) = setup(json!({"shards": 2}));
    run(&api, &ctx).await.unwrap();
    make_ready(&api, 2, 1);
    run(&api, &ctx).await.unwrap();
    assert_eq!(status(&api)["epoch"], 1);
    set_spec(
        &api,
        json!({"shards": 3, "replicasPerShard": 2, "config": {"timeout": "60"}}),
    );
    run(&api, &ctx).await.unwrap();
    let sts = api
        .get(&format!("{APPS}/statefulsets/cache-shard-0"))
        .unwrap();
    assert_eq!(sts["spec"]["replicas"], 3);
    assert!(api
        .get(&format!("{APPS}/statefulsets/cache-shard-2"))
        .is_some());
    let cm = api.get(&format!("{NS}/configmaps/cache-config")).unwrap();
    assert!(cm["data"]["shoal.yaml"]
        .as_str()
        .unwrap()
        .contains("timeout: 60"));
    // More replicas: a new topology epoch. More shards: the new StatefulSet
    // runs, and its shard joins through a resize (the control loop, see
    // tests/resize.rs), owning nothing until its slots are copied.
    assert_eq!(status(&api)["epoch"], 2);
    assert_eq!(published_topology(&api).shards.len(), 2);
    assert_eq!(status(&api)["shards"][2]["slots"], "");
    assert_eq!(condition(&api, "Resharding")["reason"], "AddingShards");
    assert_eq!(condition(&api, "Progressing")["status"], "True");
}

#[tokio::test]
async fn generated_password_is_created_once_and_kept() {
    let (api, ctx) = setup(json!({"shards": 1, "auth": {"enabled": true}}));
    run(&api, &ctx).await.unwrap();
    let secret = format!("{NS}/secrets/cache-auth");
    let first = api.get(&secret).unwrap()["data"]["password"].clone();
    assert_eq!(
        first.as_str().unwrap().len(),
        88,
        "base64 of 64 hex characters"
    );
    run(&api, &ctx).await.unwrap();
    run(&api, &ctx).await.unwrap();
    assert_eq!(api.get(&secret).unwrap()["data"]["password"], first);
    assert_eq!(status(&api)["authSecret"], "cache-auth");
    let generated = events(&api)
        .into_iter()
        .filter(|e| e["reason"] == "SecretGenerated")
        .count();
    assert_eq!(generated, 1);
    // Turning auth off removes the generated Secret.
    set_spec(&api, json!({"shards": 1}));
    run(&api, &ctx).await.unwrap();
    assert!(api.get(&secret).is_none());
}

#[tokio::test]
async fn tls_secrets_are_checked_before_anything_is_applied() {
    let (api, ctx) = setup(json!({"shards": 1, "tls": {"secretRef": {"name": "cache-tls"}}}));
    let err = run(&api, &ctx).await.unwrap_err();
    assert!(err.to_string().contains("cache-tls"), "{err}");
    let d = condition(&api, "Degraded");
    assert_eq!(d["reason"], "SecretMissing");
    assert!(api
        .get(&format!("{APPS}/statefulsets/cache-shard-0"))
        .is_none());
    // Present but without a CA: named.
    let ca = certs::Ca::new("CA");
    let leaf = ca.leaf(&["cache.apps.svc"]);
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    api.insert(
        &format!("{NS}/secrets/cache-tls"),
        json!({"metadata": {"name": "cache-tls"},
            "data": {"tls.crt": b64(&leaf.cert), "tls.key": b64(&leaf.key)}}),
    );
    let err = run(&api, &ctx).await.unwrap_err();
    assert!(
        matches!(err, Error::SecretKeyMissing { ref key, .. } if key == "ca.crt"),
        "{err}"
    );
    // Not PEM: refused with the reason, no pod would start with it.
    api.insert(
        &format!("{NS}/secrets/cache-tls"),
        json!({"metadata": {"name": "cache-tls"},
            "data": {"tls.crt": b64("garbage"), "tls.key": b64(&leaf.key), "ca.crt": b64(&ca.pem)}}),
    );
    let err = run(&api, &ctx).await.unwrap_err();
    assert!(err.to_string().contains("no PEM certificate"), "{err}");
    // Complete: applied, with the Secret mounted and nothing of it copied.
    api.insert(
        &format!("{NS}/secrets/cache-tls"),
        json!({"metadata": {"name": "cache-tls"},
            "data": {"tls.crt": b64(&leaf.cert), "tls.key": b64(&leaf.key), "ca.crt": b64(&ca.pem)}}),
    );
    run(&api, &ctx).await.unwrap();
    assert_eq!(condition(&api, "Degraded")["status"], "False");
    let sts = api
        .get(&format!("{APPS}/statefulsets/cache-shard-0"))
        .unwrap();
    let text = sts.to_string();
    assert!(text.contains("\"secretName\":\"cache-tls\""), "{text}");
    assert!(!text.contains("BEGIN"));
}

#[tokio::test]
async fn an_acl_secret_is_checked_as_the_node_would() {
    let (api, ctx) = setup(json!({"shards": 1,
        "auth": {"enabled": true, "aclSecretRef": {"name": "users"}}}));
    let err = run(&api, &ctx).await.unwrap_err();
    assert!(matches!(err, Error::SecretMissing { ref name } if name == "users"));
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    api.insert(
        &format!("{NS}/secrets/users"),
        json!({"metadata": {"name": "users"},
            "data": {"users.acl": b64("user reader on >pw ~* +@read\nuser bad on +@nosuchcategory\n")}}),
    );
    let err = run(&api, &ctx).await.unwrap_err().to_string();
    assert!(
        err.contains("line 2") && err.contains("nosuchcategory"),
        "{err}"
    );
    assert!(!err.contains(">pw"), "{err}");
    api.insert(
        &format!("{NS}/secrets/users"),
        json!({"metadata": {"name": "users"},
            "data": {"users.acl": b64("user default off\nuser reader on >pw ~* +@read\n")}}),
    );
    run(&api, &ctx).await.unwrap();
    assert_eq!(condition(&api, "Degraded")["status"], "False");
}

#[tokio::test]
async fn missing_secret_degrades_and_backs_off() {
    let (api, ctx) =
        setup(json!({"shards": 1, "auth": {"enabled": true, "secretRef": {"name": "vault-pw"}}}));
    let err = run(&api, &ctx).await.unwrap_err();
    assert!(matches!(err, Error::SecretMissing { ref name } if name == "vault-pw"));
    assert_eq!(status(&api)["phase"], "Degraded");
    let d = condition(&api, "Degraded");
    assert_eq!(d["status"], "True");
    assert_eq!(d["reason"], "SecretMissing");
    assert!(d["message"].as_str().unwrap().contains("vault-pw"));
    assert!(events(&api)
        .iter()
        .any(|e| e["type"] == "Warning" && e["reason"] == "SecretMissing"));
    // Nothing was applied while the spec cannot work.
    assert!(api
        .get(&format!("{APPS}/statefulsets/cache-shard-0"))
        .is_none());
    let cc = current(&api);
    assert_eq!(
        error_policy(cc.clone(), &err, ctx.clone()),
        Action::requeue(Duration::from_secs(5))
    );
    assert_eq!(
        error_policy(cc.clone(), &err, ctx.clone()),
        Action::requeue(Duration::from_secs(10))
    );
    // The Secret appears without its key, then with it: the error changes, then clears.
    api.insert(
        &format!("{NS}/secrets/vault-pw"),
        json!({"metadata": {"name": "vault-pw"}, "data": {"other": "eA=="}}),
    );
    assert!(matches!(
        run(&api, &ctx).await.unwrap_err(),
        Error::SecretKeyMissing { .. }
    ));
    api.insert(
        &format!("{NS}/secrets/vault-pw"),
        json!({"metadata": {"name": "vault-pw"}, "data": {"password": "eA=="}}),
    );
    run(&api, &ctx).await.unwrap();
    assert_eq!(condition(&api, "Degraded")["status"], "False");
    assert_eq!(
        error_policy(cc, &err, ctx.clone()),
        Action::requeue(Duration::from_secs(5)),
        "success resets the backoff"
    );
}

#[tokio::test]
async fn conflicting_field_owner_is_overridden() {
    let (api, ctx) = setup(json!({"shards": 1}));
    let sts = format!("{APPS}/statefulsets/cache-shard-0");
    api.insert(
        &sts,
        json!({"metadata": {"name": "cache-shard-0"}, "spec": {"replicas": 7}}),
    );
    api.0.lock().unwrap().foreign_owned.insert(sts.clone());
    run(&api, &ctx).await.unwrap();
    assert!(
        api.0.lock().unwrap().forced.contains(&sts),
        "apply must force ownership"
    );
    assert_eq!(api.get(&sts).unwrap()["spec"]["replicas"], 1);
}

#[tokio::test]
async fn api_errors_show_in_conditions_and_recover() {
    let (api, ctx) = setup(json!({"shards": 1}));
    api.fail(Method::PATCH, "/statefulsets/", 500, 1);
    let err = run(&api, &ctx).await.unwrap_err();
    assert!(err.is_transient());
    assert_eq!(condition(&api, "Degraded")["reason"], "KubernetesAPIError");
    run(&api, &ctx).await.unwrap();
    assert_eq!(condition(&api, "Degraded")["status"], "False");
    assert!(api
        .get(&format!("{APPS}/statefulsets/cache-shard-0"))
        .is_some());
}

#[tokio::test]
async fn optional_objects_come_and_go() {
    let (api, ctx) = setup(json!({"shards": 1, "networkPolicy": {"enabled": true},
        "metrics": {"serviceMonitor": {"enabled": true}}}));
    run(&api, &ctx).await.unwrap();
    let np = "/apis/networking.k8s.io/v1/namespaces/apps/networkpolicies/cache";
    let sm = "/apis/monitoring.coreos.com/v1/namespaces/apps/servicemonitors/cache";
    assert!(api.get(np).is_some());
    assert!(
        api.get(sm).is_none(),
        "no ServiceMonitor while the API is not served"
    );
    api.0
        .lock()
        .unwrap()
        .served
        .insert("monitoring.coreos.com/v1".into());
    run(&api, &ctx).await.unwrap();
    assert_eq!(
        api.get(sm).unwrap()["spec"]["endpoints"][0]["port"],
        "admin"
    );
    set_spec(
        &api,
        json!({"shards": 1, "podDisruptionBudget": {"enabled": false}}),
    );
    run(&api, &ctx).await.unwrap();
    assert!(api.get(np).is_none());
    assert!(
        api.get(sm).is_none(),
        "ServiceMonitor removed when turned off"
    );
    assert!(api
        .get("/apis/policy/v1/namespaces/apps/poddisruptionbudgets/cache-shard-0")
        .is_none());
}

#[tokio::test]
async fn a_secret_the_cluster_does_not_own_is_never_deleted() {
    let (api, ctx) = setup(json!({"shards": 1}));
    let secret = format!("{NS}/secrets/cache-auth");
    api.insert(
        &secret,
        json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "cache-auth", "namespace": "apps"},
            "data": {"password": "dXNlcg=="}}),
    );
    run(&api, &ctx).await.unwrap();
    assert_eq!(
        api.get(&secret).unwrap()["data"]["password"],
        "dXNlcg==",
        "the user's Secret survives"
    );
}

#[tokio::test]
async fn pausing_keeps_reporting_readiness() {
    let (api, ctx) = setup(json!({"shards": 2}));
    run(&api, &ctx).await.unwrap();
    make_ready(&api, 2, 1);
    run(&api, &ctx).await.unwrap();
    assert_eq!(status(&api)["readyReplicas"], 2);
    set_spec(&api, json!({"shards": 2, "paused": true}));
    run(&api, &ctx).await.unwrap();
    assert_eq!(status(&api)["phase"], "Paused");
    assert_eq!(status(&api)["readyReplicas"], 2);
    assert_eq!(condition(&api, "Available")["status"], "True");
}

#[tokio::test]
async fn a_cluster_being_deleted_is_not_reapplied() {
    let (api, ctx) = setup(json!({"shards": 1}));
    let mut cc = api.get(CC).unwrap();
    cc["metadata"]["deletionTimestamp"] = json!("2026-11-21T00:00:00Z");
    api.insert(CC, cc);
    let action = run(&api, &ctx).await.unwrap();
    assert_eq!(action, Action::await_change());
    assert!(api
        .get(&format!("{APPS}/statefulsets/cache-shard-0"))
        .is_none());
    let requests = api.0.lock().unwrap().requests.clone();
    assert!(requests.is_empty(), "{requests:?}");
}

#[tokio::test]
async fn paused_clusters_are_left_alone() {
    let (api, ctx) = setup(json!({"shards": 1, "paused": true}));
    run(&api, &ctx).await.unwrap();
    assert!(api
        .get(&format!("{APPS}/statefulsets/cache-shard-0"))
        .is_none());
    assert_eq!(status(&api)["phase"], "Paused");
    let writes: Vec<String> = api
        .0
        .lock()
        .unwrap()
        .requests
        .iter()
        .filter(|r| !r.starts_with("GET"))
        .cloned()
        .collect();
    assert_eq!(writes, vec![format!("PATCH {CC}/status")]);
}

#[tokio::test]
async fn invalid_specs_are_reported_not_applied() {
    let (api, ctx) = setup(json!({"shards": 1, "config": {"nosuchsetting": "1"}}));
    let err = run(&api, &ctx).await.unwrap_err();
    assert_eq!(err.metric_label(), "InvalidSpec");
    assert!(!err.is_transient());
    assert!(condition(&api, "Degraded")["message"]
        .as_str()
        .unwrap()
        .contains("nosuchsetting"));
    assert!(api.get(&format!("{NS}/configmaps/cache-config")).is_none());
}

fn published_topology(api: &FakeApi) -> shoal_node::cluster::Topology {
    let cm = api
        .get(&format!("{NS}/configmaps/cache-topology"))
        .expect("topology ConfigMap applied");
    shoal_node::cluster::Topology::parse(cm["data"]["topology.yaml"].as_str().unwrap()).unwrap()
}

#[tokio::test]
async fn the_topology_is_published_and_its_epoch_moves_only_on_change() {
    let (api, ctx) = setup(json!({"shards": 2, "replicasPerShard": 1}));
    run(&api, &ctx).await.unwrap();
    let t = published_topology(&api);
    assert_eq!(t.epoch, 1);
    assert_eq!(status(&api)["epoch"], 1);
    assert_eq!(t.shards[1].primary.name, "cache-shard-1-0");
    assert_eq!(
        t.shards[1].primary.host,
        "cache-shard-1-0.cache-nodes.apps.svc"
    );
    assert_eq!(t.shards[1].replicas[0].name, "cache-shard-1-1");
    // Applied before the StatefulSets: nodes are ready only once they hold it.
    let reqs = api.0.lock().unwrap().requests.clone();
    let pos = |frag: &str| reqs.iter().position(|r| r.contains(frag)).unwrap();
    assert!(pos("configmaps/cache-topology") < pos("statefulsets/cache-shard-0"));

    // Nothing changed: same document, same epoch.
    make_ready(&api, 2, 2);
    run(&api, &ctx).await.unwrap();
    assert_eq!(published_topology(&api), t);

    // More shards: reconcile leaves slots and shards as published (a resize
    // moves them), so the document and its epoch stay.
    set_spec(&api, json!({"shards": 3, "replicasPerShard": 1}));
    run(&api, &ctx).await.unwrap();
    assert_eq!(published_topology(&api), t);
    assert_eq!(status(&api)["epoch"], 1);
    assert_eq!(condition(&api, "Resharding")["status"], "True");
    // One more replica per shard changes it: epoch 2.
    set_spec(&api, json!({"shards": 3, "replicasPerShard": 2}));
    run(&api, &ctx).await.unwrap();
    let more = published_topology(&api);
    assert_eq!((more.epoch, more.shards.len()), (2, 2));
    assert_eq!(more.shards[1].replicas.len(), 2);
    assert_eq!(status(&api)["epoch"], 2);

    // A ConfigMap lost or replaced behind the operator's back never makes the
    // epoch go backwards: status remembers the last one published.
    api.0
        .lock()
        .unwrap()
        .objects
        .remove(&format!("{NS}/configmaps/cache-topology"));
    run(&api, &ctx).await.unwrap();
    assert_eq!(published_topology(&api).epoch, 3);
}

#[tokio::test]
async fn reconciling_keeps_the_roles_a_failover_published() {
    let (api, ctx) = setup(json!({"shards": 2, "replicasPerShard": 1}));
    run(&api, &ctx).await.unwrap();
    let first = published_topology(&api);
    // The failover loop promotes shard 1's replica, as it writes it.
    let promoted = shoal_node::cluster::failover::promote(&first, 1, "cache-shard-1-1").unwrap();
    let path = format!("{NS}/configmaps/cache-topology");
    let mut cm = api.get(&path).unwrap();
    cm["data"]["topology.yaml"] = json!(promoted.to_yaml());
    api.insert(&path, cm);

    run(&api, &ctx).await.unwrap();
    assert_eq!(published_topology(&api), promoted, "roles and epoch kept");
    assert_eq!(
        status(&api)["epoch"],
        2,
        "status catches up with the promotion"
    );

    // Scaling keeps the promoted primary and appends the new pod.
    set_spec(&api, json!({"shards": 2, "replicasPerShard": 2}));
    run(&api, &ctx).await.unwrap();
    let grown = published_topology(&api);
    assert_eq!(grown.epoch, 3);
    assert_eq!(grown.shards[1].primary.name, "cache-shard-1-1");
    let replicas: Vec<&str> = grown.shards[1]
        .replicas
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(replicas, ["cache-shard-1-0", "cache-shard-1-2"]);
    assert_eq!(grown.shards[0].primary.name, "cache-shard-0-0");
}

#[tokio::test]
async fn nodes_are_configured_to_find_the_topology_and_plain_clients_are_forwarded() {
    let (api, ctx) = setup(json!({"shards": 1}));
    run(&api, &ctx).await.unwrap();
    let cm = api.get(&format!("{NS}/configmaps/cache-config")).unwrap();
    let conf: serde_yaml::Value =
        serde_yaml::from_str(cm["data"]["shoal.yaml"].as_str().unwrap()).unwrap();
    assert_eq!(conf["cluster-topology-configmap"], "cache-topology");
    assert_eq!(conf["cluster-peer-service"], "cache-nodes");
    assert_eq!(conf["forward-port"], 6380);
    let sts = api
        .get(&format!("{APPS}/statefulsets/cache-shard-0"))
        .unwrap();
    let env = &sts["spec"]["template"]["spec"]["containers"][0]["env"];
    let node_name = env
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "SHOAL_CLUSTER_NODE_NAME")
        .unwrap();
    assert_eq!(
        node_name["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.name"
    );
    let svc = api.get(&format!("{NS}/services/cache")).unwrap();
    assert_eq!(svc["spec"]["ports"][0]["targetPort"], "forward");
    let headless = api.get(&format!("{NS}/services/cache-nodes")).unwrap();
    assert_eq!(headless["spec"]["ports"][0]["targetPort"], "redis");
}
