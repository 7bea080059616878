//! Failover in Kubernetes, end to end without a cluster: real `shoal-node`
//! servers in-process on 127.0.0.1, the in-memory API server (tests/fake),
//! and the operator's failover rounds. Nodes read their topology from a file
//! that a mirror task keeps equal to the ConfigMap, standing in for the
//! node's ConfigMap watch (tested through the same fake in discovery.rs).
//!
//! A primary is stopped under data: its replica, synced, is promoted at the
//! next epoch with every write `WAIT 1` confirmed; the old primary comes back
//! empty and follows it; a requested failover (the annotation) swaps them
//! back once caught up. Then what must not happen: a shard whose nodes are
//! all down is reported once and left alone, an annotation naming no replica
//! is refused, a missing Secret is an error.

#[path = "../../node/tests/certs/mod.rs"]
mod certs;
#[allow(dead_code)]
mod fake;
#[allow(dead_code)]
mod nodes;

use fake::{FakeApi, CC};
use nodes::{cluster, events, mirror, published, temp_dir, TOPOLOGY};
use serde_json::{json, Value};
use shoal_node::clock::Clock;
use shoal_node::cluster::failover::Policy;
use shoal_node::cluster::{NodeAddr, Topology};
use shoal_node::config::{ClusterConfig, Config, TopologySource};
use shoal_node::{Node, Shared};
use shoal_operator::failover::{Failover, Settings, FAILOVER_ANNOTATION};
use shoal_operator::metrics::Metrics;
use shoal_operator::reconcile::Context;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

const SECRET: &str = "/api/v1/namespaces/apps/secrets/cache-auth";
const PASSWORD: &str = "s3cret";
const IO: Duration = Duration::from_secs(10);

/// One shard: `cache-shard-0-0` primary, `cache-shard-0-1` its replica.
fn topology(epoch: u64, ports: [u16; 2]) -> Topology {
    let mut t = Topology::even(epoch, 1, 1, |_, r| NodeAddr {
        name: format!("cache-shard-0-{r}"),
        host: "127.0.0.1".into(),
        port: ports[r],
    });
    t.cluster = "cache".into();
    t
}

fn setup(spec: Value, t: &Topology) -> FakeApi {
    let api = FakeApi::with_cluster(spec);
    api.insert(
        TOPOLOGY,
        json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "cache-topology", "namespace": "apps"},
            "data": {"topology.yaml": t.to_yaml()}}),
    );
    api
}

fn failover(api: &FakeApi, metrics: Arc<Metrics>) -> Failover {
    Failover::new(
        Arc::new(Context::new(api.client(), metrics)),
        Settings {
            interval: Duration::from_millis(100),
            policy: Policy { down_after_ms: 500 },
        },
    )
}

/// A connection that has authenticated.
async fn connect(port: u16) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    assert_eq!(ask(&mut s, &["AUTH", PASSWORD]).await, "+OK\r\n");
    s
}

/// Sends one command and reads its (small) reply.
async fn ask(s: &mut TcpStream, args: &[&str]) -> String {
    let mut req = format!("*{}\r\n", args.len());
    for a in args {
        req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    let n = timeout(IO, s.read(&mut buf)).await.unwrap().unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// Asks `port` until the reply satisfies `ok` (bounded).
async fn eventually(what: &str, port: u16, args: &[&str], ok: impl Fn(&str) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)).await {
            let _ = ask(&mut s, &["AUTH", PASSWORD]).await;
            let reply = ask(&mut s, args).await;
            if ok(&reply) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting: {what} (last reply {reply:?})"
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs rounds until one publishes a topology (bounded).
async fn until_published(fo: &mut Failover, api: &FakeApi) -> Topology {
    for _ in 0..100 {
        let out = fo.round(&cluster(api)).await.unwrap();
        if let Some(t) = out.published {
            return t;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no failover within 10 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_primary_is_replaced_by_its_synced_replica_and_rejoins_as_its_replica() {
    let dir = temp_dir("lost");
    let file = dir.join("topology.yaml");
    let (la, lb) = (
        TcpListener::bind("127.0.0.1:0").await.unwrap(),
        TcpListener::bind("127.0.0.1:0").await.unwrap(),
    );
    let ports = [
        la.local_addr().unwrap().port(),
        lb.local_addr().unwrap().port(),
    ];
    let t1 = topology(1, ports);
    let api = setup(
        json!({"shards": 1, "replicasPerShard": 1,
            "auth": {"enabled": true, "secretRef": {"name": "cache-auth"}}}),
        &t1,
    );
    api.insert(
        SECRET,
        json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "cache-auth", "namespace": "apps"},
            "data": {"password": "czNjcmV0"}}),
    );
    shoal_node::cluster::local::write_atomically(&file, &t1.to_yaml()).unwrap();
    let mirror = mirror(&api, &file);
    let a = nodes::start(la, "cache-shard-0-0", &file, Some(PASSWORD));
    let b = nodes::start(lb, "cache-shard-0-1", &file, Some(PASSWORD));

    // Writes the replica confirmed.
    eventually(
        "the replica syncs",
        ports[1],
        &["INFO", "replication"],
        // A node is a primary (synced) until it holds the topology.
        |r| r.contains("role:slave") && r.contains("shoal_synced:1"),
    )
    .await;
    let mut s = connect(ports[0]).await;
    for i in 0..200 {
        assert_eq!(
            ask(&mut s, &["SET", &format!("{{k}}{i}"), &format!("v{i}")]).await,
            "+OK\r\n"
        );
    }
    assert_eq!(ask(&mut s, &["WAIT", "1", "5000"]).await, ":1\r\n");
    drop(s);

    let metrics = Arc::new(Metrics::default());
    let mut fo = failover(&api, metrics.clone());
    // Healthy, with the password from the Secret: both nodes answer, nothing moves.
    for _ in 0..3 {
        let out = fo.round(&cluster(&api)).await.unwrap();
        assert_eq!((out.reachable, out.published), (2, None));
    }

    a.shutdown().await;
    let t2 = until_published(&mut fo, &api).await;
    assert_eq!(t2.epoch, 2);
    assert_eq!(t2.shards[0].primary.name, "cache-shard-0-1");
    assert_eq!(t2.shards[0].replicas[0].name, "cache-shard-0-0");
    assert_eq!(published(&api), t2, "the ConfigMap carries the promotion");
    let notes = events(&api, "Failover");
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        notes[0].contains("promoted cache-shard-0-1 (PrimaryDown)"),
        "{notes:?}"
    );
    assert!(metrics
        .render()
        .contains("shoal_operator_failovers_total{reason=\"PrimaryDown\"} 1"));

    // The promoted replica takes writes and holds every confirmed one.
    eventually(
        "the replica is promoted",
        ports[1],
        &["SET", "after", "1"],
        |r| r == "+OK\r\n",
    )
    .await;
    let mut s = connect(ports[1]).await;
    assert_eq!(ask(&mut s, &["DBSIZE"]).await, ":201\r\n");
    assert_eq!(ask(&mut s, &["GET", "{k}199"]).await, "$4\r\nv199\r\n");
    drop(s);

    // The old primary's pod comes back empty and follows the new primary.
    let la = TcpListener::bind(("127.0.0.1", ports[0])).await.unwrap();
    let a = nodes::start(la, "cache-shard-0-0", &file, Some(PASSWORD));
    eventually("the old primary resyncs", ports[0], &["DBSIZE"], |r| {
        r == ":201\r\n"
    })
    .await;
    eventually(
        "the old primary is a replica",
        ports[0],
        &["INFO", "replication"],
        |r| r.contains("role:slave") && r.contains("shoal_synced:1"),
    )
    .await;

    // A requested failover back: promoted once caught up, annotation removed.
    let mut cc = api.get(CC).unwrap();
    cc["metadata"]["annotations"] = json!({FAILOVER_ANNOTATION: "cache-shard-0-0"});
    api.insert(CC, cc);
    let t3 = until_published(&mut fo, &api).await;
    assert_eq!(t3.epoch, 3);
    assert_eq!(t3.shards[0].primary.name, "cache-shard-0-0");
    assert!(
        api.get(CC).unwrap()["metadata"]["annotations"]
            .get(FAILOVER_ANNOTATION)
            .is_none(),
        "the annotation is removed once done"
    );
    assert!(events(&api, "Failover")
        .iter()
        .any(|n| n.contains("promoted cache-shard-0-0 (Requested)")));
    eventually(
        "the requested primary takes writes",
        ports[0],
        &["SET", "back", "1"],
        |r| r == "+OK\r\n",
    )
    .await;
    let mut s = connect(ports[0]).await;
    assert_eq!(ask(&mut s, &["GET", "after"]).await, "$1\r\n1\r\n");
    drop(s);
    // Settled: further rounds change nothing.
    for _ in 0..3 {
        let out = fo.round(&cluster(&api)).await.unwrap();
        assert_eq!((out.reachable, out.published), (2, None));
    }

    mirror.abort();
    a.shutdown().await;
    b.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_shard_with_no_replica_to_promote_is_reported_once_and_left_alone() {
    // Nothing listens on these ports.
    let ports = {
        let a = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let b = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        [
            a.local_addr().unwrap().port(),
            b.local_addr().unwrap().port(),
        ]
    };
    let t = topology(4, ports);
    let api = setup(json!({"shards": 1, "replicasPerShard": 1}), &t);
    let mut fo = failover(&api, Arc::new(Metrics::default()));
    let deadline = tokio::time::Instant::now() + Duration::from_millis(1500);
    while tokio::time::Instant::now() < deadline {
        let out = fo.round(&cluster(&api)).await.unwrap();
        assert_eq!((out.reachable, out.published), (0, None));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(published(&api), t, "nothing was published");
    let blocked = events(&api, "FailoverBlocked");
    assert_eq!(blocked.len(), 1, "reported once: {blocked:?}");
    assert!(blocked[0].contains("cache-shard-0-0"), "{blocked:?}");

    // An annotation naming no node of the cluster is refused and removed.
    let mut cc = api.get(CC).unwrap();
    cc["metadata"]["annotations"] = json!({FAILOVER_ANNOTATION: "elsewhere-0"});
    api.insert(CC, cc);
    fo.round(&cluster(&api)).await.unwrap();
    assert_eq!(events(&api, "FailoverRefused").len(), 1);
    assert!(api.get(CC).unwrap()["metadata"]["annotations"]
        .get(FAILOVER_ANNOTATION)
        .is_none());

    // Auth on, its Secret missing: the round fails with that reason.
    let mut cc = api.get(CC).unwrap();
    cc["spec"]["auth"] = json!({"enabled": true});
    api.insert(CC, cc);
    let err = fo.round(&cluster(&api)).await.unwrap_err();
    assert_eq!(err.metric_label(), "SecretMissing");

    // Clusters without replicas are not probed at all.
    let mut cc = api.get(CC).unwrap();
    cc["spec"] = json!({"shards": 1, "replicasPerShard": 0});
    api.insert(CC, cc);
    let before = api.0.lock().unwrap().requests.len();
    fo.round(&cluster(&api)).await.unwrap();
    assert_eq!(api.0.lock().unwrap().requests.len(), before);
}

fn b64(data: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(data)
}

fn tls_secret(api: &FakeApi, name: &str, leaf: &certs::Leaf, ca: &certs::Ca) {
    api.insert(
        &format!("/api/v1/namespaces/apps/secrets/{name}"),
        json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {"name": name, "namespace": "apps"},
            "data": {"tls.crt": b64(&leaf.cert), "tls.key": b64(&leaf.key), "ca.crt": b64(&ca.pem)}}),
    );
}

/// Runs rounds until `ok` holds for one (bounded).
async fn until_round(
    fo: &mut Failover,
    api: &FakeApi,
    what: &str,
    ok: impl Fn(&shoal_operator::failover::Outcome) -> bool,
) {
    for _ in 0..100 {
        let out = fo.round(&cluster(api)).await.unwrap();
        if ok(&out) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("never: {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_tls_the_operator_probes_over_mutual_tls_and_fails_over() {
    use shoal_node::server::Listeners;
    use shoal_node::tls::{ClientAuth, TlsConfig};
    let dir = temp_dir("tls");
    let ca = certs::Ca::new("cluster CA");
    let leaf = ca.leaf(&["127.0.0.1"]);
    let (cert_file, key_file) = leaf.write(&dir, "node");
    std::fs::write(dir.join("ca.crt"), &ca.pem).unwrap();
    let file = dir.join("topology.yaml");
    let listeners = [
        TcpListener::bind("127.0.0.1:0").await.unwrap(),
        TcpListener::bind("127.0.0.1:0").await.unwrap(),
    ];
    let ports = [0, 1].map(|i| listeners[i].local_addr().unwrap().port());
    let t = topology(1, ports);
    shoal_node::cluster::local::write_atomically(&file, &t.to_yaml()).unwrap();
    // TLS only, client certificates required: what the operator renders for
    // `tls.authClients: true`.
    let mut nodes = Vec::new();
    for (r, l) in listeners.into_iter().enumerate() {
        let config = Config {
            cluster: Some(ClusterConfig {
                node_name: format!("cache-shard-0-{r}"),
                source: TopologySource::File(file.clone()),
            }),
            tls: Some(TlsConfig {
                cert_file: cert_file.clone(),
                key_file: key_file.clone(),
                ca_cert_file: Some(dir.join("ca.crt")),
                auth_clients: ClientAuth::Yes,
                replication: true,
                cluster: true,
            }),
            ..Config::default()
        };
        nodes.push(Node::start_listeners(
            Shared::new(config, Clock::Wall),
            Listeners {
                client: None,
                tls: Some(l),
                forward: None,
                admin: None,
            },
        ));
    }
    let spec = json!({"shards": 1, "replicasPerShard": 1,
        "tls": {"secretRef": {"name": "cache-tls"}, "authClients": true}});
    let api = setup(spec, &t);
    tls_secret(&api, "cache-tls", &leaf, &ca);
    let mirror = mirror(&api, &file);
    let mut fo = failover(&api, Arc::new(Metrics::default()));
    // Both nodes answer the operator's TLS probes; the replica syncs over TLS.
    until_round(&mut fo, &api, "both nodes reachable over TLS", |o| {
        o.reachable == 2
    })
    .await;
    let replica = &nodes[1].shared;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !replica.repl.state().synced {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the replica never synced over TLS"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The primary is lost: the replica is promoted.
    nodes.remove(0).shutdown().await;
    let next = until_published(&mut fo, &api).await;
    assert_eq!(next.shards[0].primary.name, "cache-shard-0-1");

    // Probes with a CA that did not sign the nodes' certificate reach nothing.
    let stranger = certs::Ca::new("another CA");
    tls_secret(&api, "cache-tls", &stranger.leaf(&["127.0.0.1"]), &stranger);
    let mut fresh = failover(&api, Arc::new(Metrics::default()));
    let out = fresh.round(&cluster(&api)).await.unwrap();
    assert_eq!(out.reachable, 0);

    // A TLS Secret that is not there is an error naming it.
    let mut cc = api.get(CC).unwrap();
    cc["spec"]["tls"]["secretRef"]["name"] = json!("absent-tls");
    api.insert(CC, cc);
    let err = fresh.round(&cluster(&api)).await.unwrap_err();
    assert_eq!(err.metric_label(), "SecretMissing");
    assert!(err.to_string().contains("absent-tls"), "{err}");
    mirror.abort();
    for n in nodes {
        n.shutdown().await;
    }
}
