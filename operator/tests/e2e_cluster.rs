//! End-to-end on a real Kubernetes API server. `scripts/e2e-kube` (run by
//! `scripts/test`, so by CI) starts one on 127.0.0.1 with the pod runner and
//! runs this; it also runs against any cluster named by KUBECONFIG (kind, k3d:
//! see the README), and skips, saying so, without one.
//!
//! The operator is installed from `charts/manifests/shoal-operator.yaml` and
//! runs as a pod under its own ServiceAccount and RBAC. The tests reach pods
//! directly when `SHOAL_E2E_POD_NETWORK=direct` (the pod runner's loopback
//! addresses) and through port-forwards otherwise.

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::json;
use shoal_core::frame::Frame;
use shoal_operator::crd::{CacheCluster, Phase};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

const OPERATOR_NS: &str = "shoal-system";

async fn cluster_client() -> Option<Client> {
    let path = std::env::var("KUBECONFIG").unwrap_or_default();
    if path.is_empty() || !std::path::Path::new(&path).exists() {
        eprintln!("SKIPPED e2e_cluster: set KUBECONFIG to a cluster's kubeconfig to run it, or run scripts/e2e-kube (see README)");
        return None;
    }
    Some(
        Client::try_default()
            .await
            .expect("a client for KUBECONFIG"),
    )
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn direct() -> bool {
    std::env::var("SHOAL_E2E_POD_NETWORK").as_deref() == Ok("direct")
}

/// Runs kubectl (scripts/e2e-kube's build, or the one on PATH).
fn kubectl(args: &[&str]) -> std::process::Output {
    let bin = std::env::var("SHOAL_E2E_KUBECTL").unwrap_or_else(|_| "kubectl".into());
    Command::new(bin).args(args).output().expect("kubectl runs")
}

fn kubectl_ok(args: &[&str]) -> String {
    let out = kubectl(args);
    assert!(
        out.status.success(),
        "kubectl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
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
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("timed out after {timeout:?} waiting for {what}");
}

/// As [`wait_for`], for a check that yields a value when it passes.
async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < deadline {
        if let Some(v) = check().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("timed out after {timeout:?} waiting for {what}");
}

/// Each test's start: a client (None: skip, said), the operator installed,
/// and a fresh namespace.
async fn start(test: &str) -> Option<(Client, String)> {
    let client = cluster_client().await?;
    install(&client).await;
    let ns = namespace(&client, test).await;
    Some((client, ns))
}

/// The primary of shard `i` as the status reports it ("" when unknown).
fn primary_of(s: &shoal_operator::crd::CacheClusterStatus, i: usize) -> String {
    s.shards
        .get(i)
        .map(|sh| sh.primary.clone())
        .unwrap_or_default()
}

/// SETs `prefix:0..200` on `pod` (its forwarding port), each followed by
/// `WAIT 1 2000`; the keys a replica acknowledged.
async fn acknowledged_writes(client: &Client, ns: &str, pod: &str, prefix: &str) -> Vec<String> {
    let mut acked = Vec::new();
    let mut c = Conn::open(client, ns, pod, 6380).await;
    for i in 0..200 {
        let key = format!("{prefix}:{i}");
        assert_eq!(text(&c.call(&["SET", &key, "1"]).await), "OK");
        if text(&c.call(&["WAIT", "1", "2000"]).await) == "1" {
            acked.push(key);
        }
    }
    assert!(
        acked.len() > 150,
        "most writes reach the replica: {}",
        acked.len()
    );
    acked
}

/// Waits until shard `i` has a primary other than `old`; returns it.
async fn new_primary(clusters: &Api<CacheCluster>, name: &str, i: usize, old: &str) -> String {
    eventually(
        &format!("a new primary for shard {i}"),
        Duration::from_secs(60),
        || async {
            let s = clusters.get(name).await.ok()?.status?;
            let p = primary_of(&s, i);
            (!p.is_empty() && p != old).then_some(p)
        },
    )
    .await
}

/// SIGKILL for the local process running `pod` (direct mode only).
fn kill9(ns: &str, pod: &str) {
    let pid = process_of(ns, pod).unwrap_or_else(|| panic!("the process of {ns}/{pod}"));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap_or_else(|e| panic!("kill -9 {pod}: {e}"));
}

/// Installs the operator from the rendered manifest (idempotent: every test
/// starts with it) and waits for the CRD and a ready operator pod.
async fn install(client: &Client) {
    let manifest = root().join("charts/manifests/shoal-operator.yaml");
    kubectl_ok(&[
        "apply",
        "--server-side",
        "--force-conflicts",
        "-f",
        manifest.to_str().unwrap(),
    ]);
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    wait_for(
        "the CRD to be established",
        Duration::from_secs(60),
        || async {
            crds.get("cacheclusters.shoal.dev")
                .await
                .ok()
                .and_then(|c| c.status)
                .and_then(|s| s.conditions)
                .is_some_and(|c| {
                    c.iter()
                        .any(|c| c.type_ == "Established" && c.status == "True")
                })
        },
    )
    .await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), OPERATOR_NS);
    wait_for("a ready operator pod", Duration::from_secs(120), || async {
        deployments
            .get("shoal-operator")
            .await
            .ok()
            .and_then(|d| d.status)
            .and_then(|s| s.ready_replicas)
            .unwrap_or(0)
            >= 1
    })
    .await;
}

/// A fresh namespace for one test.
async fn namespace(client: &Client, test: &str) -> String {
    let ns = format!("e2e-{test}-{}", std::process::id());
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": ns}})).unwrap(),
        )
        .await
        .expect("create the test namespace");
    ns
}

async fn delete_namespace(client: &Client, ns: &str) {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let _ = namespaces.delete(ns, &DeleteParams::default()).await;
}

fn image() -> String {
    std::env::var("SHOAL_NODE_IMAGE").unwrap_or_else(|_| shoal_operator::crd::DEFAULT_IMAGE.into())
}

/// Creates (or updates) a CacheCluster with small pods.
async fn apply_cluster(client: &Client, ns: &str, name: &str, spec: serde_json::Value) {
    let mut full = json!({"image": image(), "imagePullPolicy": "IfNotPresent",
        "resources": {"requests": {"cpu": "10m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}}});
    for (k, v) in spec.as_object().unwrap() {
        full[k] = v.clone();
    }
    let cc: CacheCluster = serde_json::from_value(json!({
        "apiVersion": "shoal.dev/v1alpha1", "kind": "CacheCluster",
        "metadata": {"name": name, "namespace": ns}, "spec": full,
    }))
    .unwrap();
    Api::<CacheCluster>::namespaced(client.clone(), ns)
        .patch(
            name,
            &PatchParams::apply("shoal-e2e").force(),
            &Patch::Apply(&cc),
        )
        .await
        .expect("apply the CacheCluster");
}

async fn wait_running(client: &Client, ns: &str, name: &str, ready: i32, timeout: Duration) {
    let clusters: Api<CacheCluster> = Api::namespaced(client.clone(), ns);
    wait_for(
        &format!("{name}: phase Running with {ready} ready pods"),
        timeout,
        || async {
            clusters
                .get(name)
                .await
                .ok()
                .and_then(|c| c.status)
                .is_some_and(|s| {
                    s.phase == Some(Phase::Running)
                        && s.ready_replicas == ready
                        && s.replicas == ready
                })
        },
    )
    .await;
}

/// A byte stream to a pod's port.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Connects to a pod's port: its own address in direct mode, else a port-forward.
async fn connect(client: &Client, ns: &str, pod: &str, port: u16) -> Box<dyn Io> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    if direct() {
        let ip = pod_ip(&pods, pod).await;
        Box::new(
            tokio::net::TcpStream::connect((ip.as_str(), port))
                .await
                .unwrap_or_else(|e| panic!("connect to {pod} ({ip}:{port}): {e}")),
        )
    } else {
        let mut pf = pods.portforward(pod, &[port]).await.expect("port-forward");
        Box::new(pf.take_stream(port).expect("a port-forward stream"))
    }
}

async fn pod_ip(pods: &Api<Pod>, pod: &str) -> String {
    pods.get(pod)
        .await
        .ok()
        .and_then(|p| p.status)
        .and_then(|s| s.pod_ip)
        .unwrap_or_else(|| panic!("{pod} has no IP"))
}

/// A minimal RESP client over any stream.
struct Conn {
    io: Box<dyn Io>,
    buf: bytes::BytesMut,
}

impl Conn {
    async fn open(client: &Client, ns: &str, pod: &str, port: u16) -> Conn {
        Conn {
            io: connect(client, ns, pod, port).await,
            buf: bytes::BytesMut::new(),
        }
    }

    async fn send(&mut self, args: &[&str]) {
        let mut out = bytes::BytesMut::new();
        Frame::encode_command(args, &mut out);
        self.io.write_all(&out).await.expect("send");
    }

    async fn read(&mut self) -> Frame {
        tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                if let Some((frame, n)) = Frame::parse(&self.buf).expect("a valid reply") {
                    let _ = self.buf.split_to(n);
                    return frame;
                }
                if self.io.read_buf(&mut self.buf).await.expect("read") == 0 {
                    panic!("connection closed");
                }
            }
        })
        .await
        .expect("a reply in time")
    }

    async fn call(&mut self, args: &[&str]) -> Frame {
        self.send(args).await;
        self.read().await
    }
}

fn text(f: &Frame) -> String {
    match f {
        Frame::Simple(s) | Frame::Error(s) => s.clone(),
        Frame::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
        Frame::Integer(n) => n.to_string(),
        other => format!("{other:?}"),
    }
}

/// Pod name → IP for every pod in the namespace (direct mode).
async fn pod_ips(client: &Client, ns: &str) -> BTreeMap<String, String> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    pods.list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|p| Some((p.metadata.name?, p.status?.pod_ip?)))
        .collect()
}

/// Runs a Python snippet with the test venv's redis-py; its stdout.
fn python(script: &str, env: &[(&str, String)]) -> String {
    let venv =
        std::env::var("SHOAL_VENV").unwrap_or_else(|_| root().join(".venv").display().to_string());
    let out = Command::new(format!("{venv}/bin/python"))
        .arg("-c")
        .arg(script)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "python failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn install_accepts_examples_and_refuses_bad_specs() {
    let Some((client, ns)) = start("install").await else {
        return;
    };
    let clusters: Api<CacheCluster> = Api::namespaced(client.clone(), &ns);
    for example in ["minimal.yaml", "production.yaml"] {
        let path = root().join("operator/examples").join(example);
        let mut cc: CacheCluster =
            serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        cc.metadata.namespace = Some(ns.clone());
        let pp = PostParams {
            dry_run: true,
            ..PostParams::default()
        };
        clusters
            .create(&pp, &cc)
            .await
            .unwrap_or_else(|e| panic!("{example} is accepted: {e}"));
    }
    // What the README documents is refused by the API server itself (CEL and
    // schema), before the operator sees it.
    let refused = [
        (
            json!({"shards": 1, "auth": {"enabled": false, "secretRef": {"name": "x", "key": "k"}}}),
            "auth.secretRef needs auth.enabled: true",
        ),
        (
            json!({"shards": 1, "config": {"port": "7000"}}),
            "config may not set what the operator sets",
        ),
        (
            json!({"shards": 1, "podDisruptionBudget": {"minAvailable": 1, "maxUnavailable": 1}}),
            "set minAvailable or maxUnavailable, not both",
        ),
        (json!({"shards": 0}), "should be greater than or equal to 1"),
    ];
    for (spec, message) in refused {
        let cc: serde_json::Value = json!({"apiVersion": "shoal.dev/v1alpha1", "kind": "CacheCluster",
            "metadata": {"name": "bad", "namespace": ns}, "spec": spec});
        let err = clusters
            .create(&PostParams::default(), &serde_json::from_value(cc).unwrap())
            .await
            .expect_err(&format!("{spec} should be refused"));
        assert!(err.to_string().contains(message), "{spec}: {err}");
    }
    let long = "a".repeat(41);
    let err = clusters
        .create(
            &PostParams::default(),
            &serde_json::from_value(
                json!({"apiVersion": "shoal.dev/v1alpha1", "kind": "CacheCluster",
                "metadata": {"name": long, "namespace": ns}, "spec": {"shards": 1}}),
            )
            .unwrap(),
        )
        .await
        .expect_err("a 41-character name is refused");
    assert!(
        err.to_string()
            .contains("name must be at most 40 characters"),
        "{err}"
    );
    delete_namespace(&client, &ns).await;
}

#[tokio::test]
async fn rbac_allows_what_is_needed_and_nothing_more() {
    let Some((client, ns)) = start("rbac").await else {
        return;
    };
    apply_cluster(&client, &ns, "r", json!({"shards": 1})).await;
    wait_running(&client, &ns, "r", 1, Duration::from_secs(120)).await;
    let can = |who: &str, args: &[&str]| {
        let mut a = vec!["auth", "can-i", "--as", who];
        a.extend_from_slice(args);
        let out = kubectl(&a);
        String::from_utf8_lossy(&out.stdout).trim() == "yes"
    };
    let operator = format!("system:serviceaccount:{OPERATOR_NS}:shoal-operator");
    for args in [
        ["create", "statefulsets.apps", "-n", &ns],
        ["patch", "cacheclusters.shoal.dev/status", "-n", &ns],
        ["delete", "pods", "-n", &ns],
        ["create", "roles.rbac.authorization.k8s.io", "-n", &ns],
        ["create", "events.events.k8s.io", "-n", &ns],
        ["patch", "leases.coordination.k8s.io", "-n", OPERATOR_NS],
    ] {
        assert!(can(&operator, &args), "the operator may {args:?}");
    }
    for args in [
        ["list", "secrets", "-n", &ns],
        ["create", "pods", "-n", &ns],
        ["delete", "cacheclusters.shoal.dev", "-n", &ns],
        [
            "create",
            "clusterroles.rbac.authorization.k8s.io",
            "-n",
            &ns,
        ],
        ["patch", "leases.coordination.k8s.io", "-n", &ns],
    ] {
        assert!(!can(&operator, &args), "the operator may not {args:?}");
    }
    let node = format!("system:serviceaccount:{ns}:r-node");
    for args in [
        ["list", "endpointslices.discovery.k8s.io", "-n", &ns],
        ["watch", "configmaps/r-topology", "-n", &ns],
    ] {
        assert!(can(&node, &args), "a node may {args:?}");
    }
    for args in [
        ["get", "configmaps/r-config", "-n", &ns],
        ["get", "secrets", "-n", &ns],
        ["list", "pods", "-n", &ns],
        ["patch", "configmaps/r-topology", "-n", &ns],
        ["list", "endpointslices.discovery.k8s.io", "-n", "default"],
    ] {
        assert!(!can(&node, &args), "a node may not {args:?}");
    }
    // The node really runs as that identity: its pod names the ServiceAccount.
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let pod = pods.get("r-shard-0-0").await.unwrap();
    assert_eq!(
        pod.spec.unwrap().service_account_name.as_deref(),
        Some("r-node")
    );
    delete_namespace(&client, &ns).await;
}

#[tokio::test]
async fn three_shards_serve_fail_over_scale_and_are_collected() {
    let Some((client, ns)) = start("serve").await else {
        return;
    };
    let name = "c";
    apply_cluster(
        &client,
        &ns,
        name,
        json!({"shards": 3, "replicasPerShard": 1}),
    )
    .await;
    wait_running(&client, &ns, name, 6, Duration::from_secs(300)).await;
    let clusters: Api<CacheCluster> = Api::namespaced(client.clone(), &ns);
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);

    // A cluster client (redis-py, following MOVED to the nodes' stable names)
    // writes and reads 10,000 keys.
    if direct() {
        let ips = pod_ips(&client, &ns).await;
        let remap: BTreeMap<String, String> = ips
            .iter()
            .map(|(pod, ip)| (format!("{pod}.{name}-nodes.{ns}.svc"), ip.clone()))
            .collect();
        let out = python(
            r#"
import json, os
from redis.cluster import RedisCluster
remap = json.loads(os.environ["REMAP"])
rc = RedisCluster(host=os.environ["SEED"], port=6379, address_remap=lambda a: (remap.get(a[0], a[0]), a[1]))
pipe = rc.pipeline()
for i in range(10000):
    pipe.set(f"key:{i}", f"value:{i}")
assert all(pipe.execute())
pipe = rc.pipeline()
for i in range(10000):
    pipe.get(f"key:{i}")
values = pipe.execute()
bad = [i for i, v in enumerate(values) if v != f"value:{i}".encode()]
assert not bad, bad[:10]
print(len(rc.get_primaries()), "primaries")
"#,
            &[
                ("REMAP", serde_json::to_string(&remap).unwrap()),
                ("SEED", ips[&format!("{name}-shard-0-0")].clone()),
            ],
        );
        assert!(out.contains("3 primaries"), "{out}");
    } else {
        let mut c = Conn::open(&client, &ns, &format!("{name}-shard-0-0"), 6380).await;
        for i in 0..10_000 {
            c.send(&["SET", &format!("key:{i}"), &format!("value:{i}")])
                .await;
        }
        for _ in 0..10_000 {
            assert_eq!(text(&c.read().await), "OK");
        }
    }
    // A plain client through the client Service's endpoints (the forwarding
    // port) reads them all, whichever shard owns them.
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), &ns);
    let endpoints: Vec<String> = eventually(
        "the client Service's endpoints",
        Duration::from_secs(60),
        || async {
            let endpoints: Vec<String> = slices
                .list(&ListParams::default().labels(&format!("kubernetes.io/service-name={name}")))
                .await
                .unwrap()
                .items
                .into_iter()
                .flat_map(|s| s.endpoints)
                .filter(|e| e.conditions.as_ref().and_then(|c| c.ready) == Some(true))
                .filter_map(|e| e.target_ref.and_then(|t| t.name))
                .collect();
            (endpoints.len() == 6).then_some(endpoints)
        },
    )
    .await;
    let services: Api<Service> = Api::namespaced(client.clone(), &ns);
    let target = services
        .get(name)
        .await
        .unwrap()
        .spec
        .unwrap()
        .ports
        .unwrap()[0]
        .target_port
        .clone();
    assert_eq!(
        target,
        Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String("forward".into()))
    );
    let mut plain = Conn::open(&client, &ns, &endpoints[0], 6380).await;
    for i in 0..10_000 {
        plain.send(&["GET", &format!("key:{i}")]).await;
    }
    for i in 0..10_000 {
        assert_eq!(text(&plain.read().await), format!("value:{i}"), "key:{i}");
    }
    drop(plain);

    // `kubectl delete pod` of a primary: no WAIT-acknowledged write is lost,
    // a replica takes over, and the pod comes back as a replica.
    let status = clusters.get(name).await.unwrap().status.unwrap();
    let old_primary = primary_of(&status, 1);
    assert!(!old_primary.is_empty(), "shard 1 has a primary: {status:?}");
    let acked = acknowledged_writes(&client, &ns, &old_primary, "acked").await;
    kubectl_ok(&["delete", "pod", "-n", &ns, &old_primary, "--wait=false"]);
    let primary = new_primary(&clusters, name, 1, &old_primary).await;
    wait_running(&client, &ns, name, 6, Duration::from_secs(180)).await;
    let mut c = Conn::open(&client, &ns, &primary, 6380).await;
    for key in &acked {
        assert_eq!(
            text(&c.call(&["GET", key]).await),
            "1",
            "{key} survived the failover"
        );
    }
    wait_for(
        "the old primary back as a replica",
        Duration::from_secs(60),
        || async {
            let mut c = Conn::open(&client, &ns, &old_primary, 6379).await;
            match c.call(&["ROLE"]).await {
                Frame::Array(items) => items.first().map(text).as_deref() == Some("slave"),
                _ => false,
            }
        },
    )
    .await;
    assert!(pods.get(&old_primary).await.is_ok());

    // kill -9 of a primary's process (direct mode): the pod runner restarts
    // the container in place, as a kubelet would, empty; a replica takes over
    // and no WAIT-acknowledged write is lost.
    if direct() {
        let status = clusters.get(name).await.unwrap().status.unwrap();
        let victim = primary_of(&status, 0);
        let acked = acknowledged_writes(&client, &ns, &victim, "killed").await;
        kill9(&ns, &victim);
        let primary = new_primary(&clusters, name, 0, &victim).await;
        wait_running(&client, &ns, name, 6, Duration::from_secs(180)).await;
        let mut c = Conn::open(&client, &ns, &primary, 6380).await;
        for key in &acked {
            assert_eq!(
                text(&c.call(&["GET", key]).await),
                "1",
                "{key} survived kill -9"
            );
        }
        for i in (0..10_000).step_by(101) {
            assert_eq!(
                text(&c.call(&["GET", &format!("key:{i}")]).await),
                format!("value:{i}")
            );
        }
    }

    // Scaling replicas up and down converges and keeps every key.
    for (replicas, ready) in [(2, 9), (1, 6)] {
        clusters
            .patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"replicasPerShard": replicas}})),
            )
            .await
            .unwrap();
        wait_running(&client, &ns, name, ready, Duration::from_secs(300)).await;
    }
    let mut c = Conn::open(&client, &ns, &format!("{name}-shard-2-0"), 6380).await;
    for i in (0..10_000).step_by(97) {
        assert_eq!(
            text(&c.call(&["GET", &format!("key:{i}")]).await),
            format!("value:{i}")
        );
    }
    drop(c);

    // Pausing is reported.
    clusters
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"paused": true}})),
        )
        .await
        .unwrap();
    wait_for("phase Paused", Duration::from_secs(60), || async {
        clusters
            .get(name)
            .await
            .ok()
            .and_then(|c| c.status)
            .is_some_and(|s| s.phase == Some(Phase::Paused))
    })
    .await;

    // Deleting the cluster garbage-collects what the operator created.
    clusters
        .delete(name, &DeleteParams::foreground())
        .await
        .unwrap();
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), &ns);
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    let pdbs: Api<PodDisruptionBudget> = Api::namespaced(client.clone(), &ns);
    wait_for(
        "the cluster's objects to be garbage-collected",
        Duration::from_secs(180),
        || async {
            let lp = ListParams::default();
            sets.list(&lp).await.is_ok_and(|l| l.items.is_empty())
                && pdbs.list(&lp).await.is_ok_and(|l| l.items.is_empty())
                && services.list(&lp).await.is_ok_and(|l| l.items.is_empty())
                && pods.list(&lp).await.is_ok_and(|l| l.items.is_empty())
                && maps.list(&lp).await.is_ok_and(|l| {
                    l.items
                        .iter()
                        .all(|m| m.metadata.name.as_deref() == Some("kube-root-ca.crt"))
                })
        },
    )
    .await;
    delete_namespace(&client, &ns).await;
}

/// A condition's status and reason.
fn condition(cc: &CacheCluster, type_: &str) -> Option<(String, String)> {
    cc.status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| (c.status.clone(), c.reason.clone()))
}

/// Writes `prefix:N` through the forwarding ports of the given pods until
/// stopped, moving to the next pod when one goes away; returns the keys whose
/// SET was acknowledged (+OK).
async fn writer(
    client: Client,
    ns: String,
    pods: Vec<String>,
    prefix: &'static str,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Vec<String> {
    let pods_api: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let mut acked = Vec::new();
    let mut n = 0u64;
    let mut next = 0usize;
    while !*stop.borrow() {
        let pod = &pods[next % pods.len()];
        next += 1;
        let Some(ip) = pods_api
            .get(pod)
            .await
            .ok()
            .and_then(|p| p.status)
            .and_then(|s| s.pod_ip)
        else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let Ok(Ok(stream)) = tokio::time::timeout(
            Duration::from_secs(2),
            tokio::net::TcpStream::connect((ip.as_str(), 6380)),
        )
        .await
        else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let mut c = Conn {
            io: Box::new(stream),
            buf: bytes::BytesMut::new(),
        };
        while !*stop.borrow() {
            let key = format!("{prefix}:{n}");
            n += 1;
            c.send(&["SET", &key, "v"]).await;
            let reply = tokio::time::timeout(Duration::from_secs(5), async {
                loop {
                    match Frame::parse(&c.buf) {
                        Ok(Some((f, used))) => {
                            let _ = c.buf.split_to(used);
                            return Some(f);
                        }
                        Ok(None) => {}
                        Err(_) => return None,
                    }
                    match c.io.read_buf(&mut c.buf).await {
                        Ok(0) | Err(_) => return None,
                        Ok(_) => {}
                    }
                }
            })
            .await;
            match reply {
                Ok(Some(Frame::Simple(ok))) if ok == "OK" => acked.push(key),
                // TRYAGAIN while a shard changes hands: the write was not taken.
                Ok(Some(Frame::Error(_))) => tokio::time::sleep(Duration::from_millis(20)).await,
                _ => break,
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    acked
}

/// Every key reads back through the forwarding port of `pod`.
async fn all_present(client: &Client, ns: &str, pod: &str, keys: &[String], value: &str) {
    let mut c = Conn::open(client, ns, pod, 6380).await;
    for chunk in keys.chunks(1000) {
        for k in chunk {
            c.send(&["GET", k]).await;
        }
        for k in chunk {
            assert_eq!(
                text(&c.read().await),
                value,
                "{k} was acknowledged and must be there"
            );
        }
    }
}

#[tokio::test]
async fn rollout_and_resharding_lose_no_acknowledged_write() {
    if !direct() {
        eprintln!("SKIPPED rollout_and_resharding_lose_no_acknowledged_write: needs SHOAL_E2E_POD_NETWORK=direct");
        return;
    }
    let Some((client, ns)) = start("roll").await else {
        return;
    };
    let name = "r";
    apply_cluster(
        &client,
        &ns,
        name,
        json!({"shards": 2, "replicasPerShard": 1}),
    )
    .await;
    wait_running(&client, &ns, name, 4, Duration::from_secs(180)).await;
    let clusters: Api<CacheCluster> = Api::namespaced(client.clone(), &ns);
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), &ns);
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let all_pods = |shards: usize| {
        (0..shards)
            .flat_map(|s| (0..2).map(move |r| format!("{name}-shard-{s}-{r}")))
            .collect::<Vec<_>>()
    };

    // A change of the pod template (here the node config) rolls out: every
    // pod replaced, replicas first, primaries by handover, no acked write lost.
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let w = tokio::spawn(writer(
        client.clone(),
        ns.clone(),
        all_pods(2),
        "roll",
        stop.clone(),
    ));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before: BTreeMap<String, String> = pods
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|p| Some((p.metadata.name?, p.metadata.uid?)))
        .collect();
    let revisions = |list: &[StatefulSet]| -> BTreeMap<String, String> {
        list.iter()
            .filter_map(|s| {
                Some((
                    s.metadata.name.clone()?,
                    s.status.as_ref()?.update_revision.clone()?,
                ))
            })
            .collect()
    };
    let old_revisions = revisions(&sets.list(&ListParams::default()).await.unwrap().items);
    assert_eq!(old_revisions.len(), 2);
    apply_cluster(
        &client,
        &ns,
        name,
        json!({"shards": 2, "replicasPerShard": 1, "config": {"timeout": "300"}}),
    )
    .await;
    wait_for(
        "new StatefulSet revisions",
        Duration::from_secs(60),
        || async {
            let now = revisions(&sets.list(&ListParams::default()).await.unwrap().items);
            now.len() == 2 && now.iter().all(|(k, v)| old_revisions.get(k) != Some(v))
        },
    )
    .await;
    wait_for(
        "the rollout to finish",
        Duration::from_secs(300),
        || async {
            let Ok(cc) = clusters.get(name).await else {
                return false;
            };
            let stable = condition(&cc, "Progressing").is_some_and(|(s, _)| s == "False");
            let Ok(list) = sets.list(&ListParams::default()).await else {
                return false;
            };
            let Ok(now) = pods.list(&ListParams::default()).await else {
                return false;
            };
            let updated = list.items.iter().all(|sts| {
                let rev = sts.status.as_ref().and_then(|s| s.update_revision.clone());
                let prefix = format!("{}-", sts.metadata.name.as_deref().unwrap_or_default());
                now.items
                    .iter()
                    .filter(|p| {
                        p.metadata
                            .name
                            .as_deref()
                            .unwrap_or_default()
                            .starts_with(&prefix)
                    })
                    .all(|p| {
                        p.metadata
                            .labels
                            .as_ref()
                            .and_then(|l| l.get("controller-revision-hash"))
                            == rev.as_ref()
                    })
            });
            stable && updated && cc.status.as_ref().is_some_and(|s| s.ready_replicas == 4)
        },
    )
    .await;
    let replaced = pods
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .filter(|p| {
            before.get(p.metadata.name.as_deref().unwrap_or_default()) != p.metadata.uid.as_ref()
        })
        .count();
    assert_eq!(replaced, 4, "every pod was replaced by the rollout");
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop_tx.send(true).unwrap();
    let rolled = w.await.unwrap();
    assert!(
        rolled.len() > 100,
        "the writer kept writing: {}",
        rolled.len()
    );
    all_present(&client, &ns, &format!("{name}-shard-0-0"), &rolled, "v").await;
    eprintln!("rollout: {} acknowledged writes, none lost", rolled.len());

    // Resharding 2 → 3 moves slots with their keys while writes go on.
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let w = tokio::spawn(writer(
        client.clone(),
        ns.clone(),
        all_pods(2),
        "grow",
        stop,
    ));
    tokio::time::sleep(Duration::from_secs(2)).await;
    apply_cluster(
        &client,
        &ns,
        name,
        json!({"shards": 3, "replicasPerShard": 1, "config": {"timeout": "300"}}),
    )
    .await;
    wait_for("the resize to finish", Duration::from_secs(300), || async {
        clusters.get(name).await.ok().is_some_and(|cc| {
            condition(&cc, "Resharding").is_some_and(|(s, _)| s == "False")
                && cc.status.as_ref().is_some_and(|s| {
                    s.phase == Some(Phase::Running)
                        && s.ready_replicas == 6
                        && s.shards.len() == 3
                        && s.shards.iter().all(|sh| !sh.slots.is_empty())
                })
        })
    })
    .await;
    stop_tx.send(true).unwrap();
    let grown = w.await.unwrap();
    assert!(
        grown.len() > 100,
        "the writer kept writing: {}",
        grown.len()
    );
    for pod in [format!("{name}-shard-2-0"), format!("{name}-shard-0-1")] {
        all_present(&client, &ns, &pod, &rolled, "v").await;
        all_present(&client, &ns, &pod, &grown, "v").await;
    }
    let status = clusters.get(name).await.unwrap().status.unwrap();
    assert!(
        status.shards.iter().all(|s| !s.slots.is_empty()),
        "every shard owns slots: {:?}",
        status.shards
    );
    eprintln!("resharding: {} acknowledged writes, none lost", grown.len());
    delete_namespace(&client, &ns).await;
}

#[tokio::test]
async fn snapshots_survive_a_pod_restart_and_volumes_follow_the_retention_policy() {
    let Some((client, ns)) = start("persist").await else {
        return;
    };
    let persistence =
        |delete: bool| json!({"enabled": true, "size": "64Mi", "deleteWithCluster": delete});
    apply_cluster(
        &client,
        &ns,
        "keep",
        json!({"shards": 1, "persistence": persistence(false)}),
    )
    .await;
    apply_cluster(
        &client,
        &ns,
        "drop",
        json!({"shards": 1, "persistence": persistence(true)}),
    )
    .await;
    wait_running(&client, &ns, "keep", 1, Duration::from_secs(180)).await;
    wait_running(&client, &ns, "drop", 1, Duration::from_secs(180)).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let claims: Api<k8s_openapi::api::core::v1::PersistentVolumeClaim> =
        Api::namespaced(client.clone(), &ns);
    let bound = claims
        .get("data-keep-shard-0-0")
        .await
        .expect("a claim per pod");
    assert_eq!(bound.status.and_then(|s| s.phase).as_deref(), Some("Bound"));
    let mut c = Conn::open(&client, &ns, "keep-shard-0-0", 6379).await;
    for i in 0..1000 {
        c.send(&["SET", &format!("p:{i}"), &format!("{i}")]).await;
    }
    for _ in 0..1000 {
        assert_eq!(text(&c.read().await), "OK");
    }
    drop(c);
    // A restarted pod (snapshot written on SIGTERM, loaded from its volume
    // before serving) has every key: the volume followed the pod.
    let uid = pods.get("keep-shard-0-0").await.unwrap().metadata.uid;
    kubectl_ok(&["delete", "pod", "-n", &ns, "keep-shard-0-0"]);
    wait_for(
        "keep-shard-0-0 to come back",
        Duration::from_secs(120),
        || async {
            pods.get("keep-shard-0-0").await.is_ok_and(|p| {
                p.metadata.uid != uid
                    && p.status
                        .and_then(|s| s.conditions)
                        .unwrap_or_default()
                        .iter()
                        .any(|c| c.type_ == "Ready" && c.status == "True")
            })
        },
    )
    .await;
    let mut c = Conn::open(&client, &ns, "keep-shard-0-0", 6379).await;
    assert_eq!(text(&c.call(&["DBSIZE"]).await), "1000");
    assert_eq!(text(&c.call(&["GET", "p:999"]).await), "999");
    drop(c);
    // Deleting the clusters keeps the volumes of one and not of the other,
    // as each asked (the StatefulSet's retention policy, carried out by the
    // real StatefulSet controller and garbage collector).
    let clusters: Api<CacheCluster> = Api::namespaced(client.clone(), &ns);
    for name in ["keep", "drop"] {
        clusters
            .delete(name, &DeleteParams::foreground())
            .await
            .unwrap();
    }
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), &ns);
    wait_for(
        "the clusters to be collected and drop's claim deleted",
        Duration::from_secs(180),
        || async {
            let names: Vec<String> = claims
                .list(&ListParams::default())
                .await
                .map(|l| {
                    l.items
                        .into_iter()
                        .filter_map(|c| c.metadata.name)
                        .collect()
                })
                .unwrap_or_default();
            sets.list(&ListParams::default())
                .await
                .is_ok_and(|l| l.items.is_empty())
                && names == ["data-keep-shard-0-0"]
        },
    )
    .await;
    delete_namespace(&client, &ns).await;
}

#[tokio::test]
async fn tls_and_auth_secrets_rotate_without_restarts() {
    if !direct() {
        eprintln!("SKIPPED tls_and_auth_secrets_rotate_without_restarts: needs SHOAL_E2E_POD_NETWORK=direct");
        return;
    }
    let Some((client, ns)) = start("tls").await else {
        return;
    };
    let name = "t";
    // cert-manager-shaped Secrets: kubernetes.io/tls with tls.crt, tls.key, ca.crt.
    let ca = tls_ca();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    secrets
        .create(&PostParams::default(), &tls_secret(&ca, name, &ns, "t-tls"))
        .await
        .unwrap();
    secrets
        .create(
            &PostParams::default(),
            &serde_json::from_value(
                json!({"metadata": {"name": "t-pass"}, "stringData": {"password": "first"}}),
            )
            .unwrap(),
        )
        .await
        .unwrap();
    apply_cluster(
        &client,
        &ns,
        name,
        json!({"shards": 1, "replicasPerShard": 1,
               "tls": {"secretRef": {"name": "t-tls"}},
               "auth": {"enabled": true, "secretRef": {"name": "t-pass", "key": "password"}}}),
    )
    .await;
    wait_running(&client, &ns, name, 2, Duration::from_secs(180)).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let ip = pod_ip(&pods, "t-shard-0-0").await;
    let dir = std::env::temp_dir().join(format!("shoal-e2e-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("ca.crt"), ca.cert.pem()).unwrap();
    // PING over TLS with the password; the served certificate's serial.
    let probe = |password: &str| {
        python(
            r#"
import os, socket, ssl
ctx = ssl.create_default_context(cafile=os.environ["CA"])
s = ctx.wrap_socket(socket.create_connection((os.environ["IP"], 6379), timeout=10), server_hostname=os.environ["HOST"])
s.sendall(b"*3\r\n$4\r\nAUTH\r\n$7\r\ndefault\r\n$" + str(len(os.environ["PW"])).encode() + b"\r\n" + os.environ["PW"].encode() + b"\r\n*1\r\n$4\r\nPING\r\n")
data = b""
while data.count(b"\r\n") < 2:
    chunk = s.recv(4096)
    if not chunk: break
    data += chunk
import hashlib
print(hashlib.sha256(s.getpeercert(binary_form=True)).hexdigest(), data.decode().split("\r\n")[:2])
"#,
            &[
                ("CA", dir.join("ca.crt").display().to_string()),
                ("IP", ip.clone()),
                ("HOST", format!("t-shard-0-0.t-nodes.{ns}.svc")),
                ("PW", password.to_string()),
            ],
        )
    };
    let first = probe("first");
    assert!(first.contains("['+OK', '+PONG']"), "{first}");
    let fingerprint = first.split_whitespace().next().unwrap().to_string();
    // Rotate the password: the new one works and the old one stops working,
    // with no pod restarted.
    secrets
        .patch(
            "t-pass",
            &PatchParams::default(),
            &Patch::Merge(json!({"stringData": {"password": "second"}})),
        )
        .await
        .unwrap();
    wait_for(
        "the rotated password to apply",
        Duration::from_secs(60),
        || async { probe("second").contains("['+OK', '+PONG']") },
    )
    .await;
    assert!(
        probe("first").contains("WRONGPASS"),
        "the old password is refused"
    );
    // Rotate the certificate (same CA, as a renewal): the node serves the new one.
    secrets
        .replace(
            "t-tls",
            &PostParams::default(),
            &tls_secret(&ca, name, &ns, "t-tls"),
        )
        .await
        .unwrap();
    wait_for(
        "the rotated certificate to be served",
        Duration::from_secs(60),
        || async {
            let out = probe("second");
            out.contains("+PONG") && !out.starts_with(&fingerprint)
        },
    )
    .await;
    for p in pods.list(&ListParams::default()).await.unwrap().items {
        let restarts: i32 = p
            .status
            .and_then(|s| s.container_statuses)
            .unwrap_or_default()
            .iter()
            .map(|c| c.restart_count)
            .sum();
        assert_eq!(restarts, 0, "{:?} restarted", p.metadata.name);
    }
    let _ = std::fs::remove_dir_all(&dir);
    delete_namespace(&client, &ns).await;
}

/// The local process running `pod` (its POD_NAME and POD_NAMESPACE).
fn process_of(ns: &str, pod: &str) -> Option<i32> {
    let want = [format!("POD_NAME={pod}"), format!("POD_NAMESPACE={ns}")];
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: i32 = e.file_name().to_str()?.parse().ok()?;
        let env = std::fs::read(e.path().join("environ")).ok()?;
        let vars: Vec<&[u8]> = env.split(|b| *b == 0).collect();
        want.iter()
            .all(|w| vars.contains(&w.as_bytes()))
            .then_some(pid)
    })
}

struct Ca {
    cert: rcgen::Certificate,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

fn tls_ca() -> Ca {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "shoal-e2e-tls-ca");
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    Ca {
        cert,
        issuer: rcgen::Issuer::new(params, key),
    }
}

/// A `kubernetes.io/tls` Secret for the cluster's names, as cert-manager writes.
fn tls_secret(ca: &Ca, name: &str, ns: &str, secret: &str) -> Secret {
    let params = rcgen::CertificateParams::new(vec![
        format!("{name}.{ns}.svc"),
        format!("*.{name}-nodes.{ns}.svc"),
    ])
    .unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca.issuer).unwrap();
    serde_json::from_value(json!({
        "metadata": {"name": secret}, "type": "kubernetes.io/tls",
        "stringData": {"tls.crt": cert.pem(), "tls.key": key.serialize_pem(), "ca.crt": ca.cert.pem()},
    }))
    .unwrap()
}

#[tokio::test]
async fn the_standby_operator_takes_over_when_the_leader_dies() {
    let Some(client) = cluster_client().await else {
        return;
    };
    install(&client).await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), OPERATOR_NS);
    deployments
        .patch(
            "shoal-operator",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 2}})),
        )
        .await
        .unwrap();
    wait_for("two operator pods", Duration::from_secs(120), || async {
        deployments
            .get("shoal-operator")
            .await
            .ok()
            .and_then(|d| d.status)
            .and_then(|s| s.replicas)
            == Some(2)
    })
    .await;
    let leases: Api<Lease> = Api::namespaced(client.clone(), OPERATOR_NS);
    let holder = || async {
        leases
            .get("shoal-operator")
            .await
            .ok()
            .and_then(|l| l.spec)
            .and_then(|s| s.holder_identity)
            .unwrap_or_default()
    };
    let pods: Api<Pod> = Api::namespaced(client.clone(), OPERATOR_NS);
    let leader = eventually(
        "a leader among the operator pods",
        Duration::from_secs(60),
        || async {
            let leader = holder().await;
            (!leader.is_empty() && pods.get(&leader).await.is_ok()).then_some(leader)
        },
    )
    .await;
    // Killed, not stopped: no chance to release the Lease. With the pod
    // runner the process is local: SIGKILL it, then remove its pod so that it
    // is not restarted under the same identity. Elsewhere a forced delete is
    // the nearest (the kubelet still sends SIGTERM first).
    if direct() {
        kill9(OPERATOR_NS, &leader);
    }
    let killed = tokio::time::Instant::now();
    kubectl_ok(&[
        "delete",
        "pod",
        "-n",
        OPERATOR_NS,
        &leader,
        "--grace-period=0",
        "--force",
    ]);
    wait_for(
        "the standby to take the Lease",
        Duration::from_secs(40),
        || async {
            let h = holder().await;
            !h.is_empty() && h != leader
        },
    )
    .await;
    eprintln!(
        "the standby took over {:?} after the leader was killed",
        killed.elapsed()
    );
    // ...and reconciles: a new cluster comes up.
    let ns = namespace(&client, "leader").await;
    apply_cluster(&client, &ns, "l", json!({"shards": 1})).await;
    wait_running(&client, &ns, "l", 1, Duration::from_secs(120)).await;
    deployments
        .patch(
            "shoal-operator",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 1}})),
        )
        .await
        .unwrap();
    delete_namespace(&client, &ns).await;
}

/// The pod runner itself behaves as a kubelet where the suite depends on it:
/// a pod whose Secret is missing waits Pending with no address (so it is in
/// no EndpointSlice), starts once the Secret exists, and a `restartPolicy:
/// Never` pod that exits 0 ends Succeeded instead of restarting.
#[tokio::test]
async fn pods_wait_for_their_volumes_and_follow_their_restart_policy() {
    if !direct() {
        eprintln!("SKIPPED pods_wait_for_their_volumes_and_follow_their_restart_policy: checks the pod runner (SHOAL_E2E_POD_NETWORK=direct)");
        return;
    }
    let Some((client, ns)) = start("runner").await else {
        return;
    };
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let pod = |name: &str, args: &[&str], restart: &str| -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {"restartPolicy": restart, "containers": [{"name": "c", "image": image(), "args": args,
                      "volumeMounts": [{"name": "s", "mountPath": "/etc/e2e-secret"}]}],
                     "volumes": [{"name": "s", "secret": {"secretName": "later"}}]},
        }))
        .unwrap()
    };
    // The namespace's default ServiceAccount (its controller makes it just
    // after the namespace) must exist before a bare pod is admitted.
    let accounts: Api<k8s_openapi::api::core::v1::ServiceAccount> =
        Api::namespaced(client.clone(), &ns);
    wait_for(
        "the default ServiceAccount",
        Duration::from_secs(30),
        || async { accounts.get_opt("default").await.is_ok_and(|a| a.is_some()) },
    )
    .await;
    pods.create(
        &PostParams::default(),
        &pod("waits", &["--port", "0"], "Always"),
    )
    .await
    .unwrap();
    pods.create(
        &PostParams::default(),
        &pod("once", &["--version"], "Never"),
    )
    .await
    .unwrap();
    let phase = |p: &Pod| {
        p.status
            .as_ref()
            .and_then(|s| s.phase.clone())
            .unwrap_or_default()
    };
    wait_for(
        "the runner to report the waiting pod",
        Duration::from_secs(60),
        || async {
            pods.get("waits").await.is_ok_and(|p| {
                p.status
                    .as_ref()
                    .and_then(|s| s.container_statuses.as_ref())
                    .is_some_and(|c| !c.is_empty())
            })
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let waiting = pods.get("waits").await.unwrap();
    assert_eq!(phase(&waiting), "Pending");
    assert_eq!(
        waiting.status.and_then(|s| s.pod_ip),
        None,
        "no address before it runs"
    );
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    secrets
        .create(
            &PostParams::default(),
            &serde_json::from_value(
                json!({"metadata": {"name": "later"}, "stringData": {"k": "v"}}),
            )
            .unwrap(),
        )
        .await
        .unwrap();
    wait_for(
        "the waiting pod to run",
        Duration::from_secs(60),
        || async {
            pods.get("waits")
                .await
                .is_ok_and(|p| phase(&p) == "Running" && p.status.and_then(|s| s.pod_ip).is_some())
        },
    )
    .await;
    wait_for(
        "the run-once pod to succeed",
        Duration::from_secs(60),
        || async {
            pods.get("once")
                .await
                .is_ok_and(|p| phase(&p) == "Succeeded")
        },
    )
    .await;
    let once = pods.get("once").await.unwrap();
    let restarts: i32 = once
        .status
        .and_then(|s| s.container_statuses)
        .unwrap_or_default()
        .iter()
        .map(|c| c.restart_count)
        .sum();
    assert_eq!(restarts, 0, "a Never pod is not restarted");
    delete_namespace(&client, &ns).await;
}
