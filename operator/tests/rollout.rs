//! Rollouts in Kubernetes, end to end without a cluster: the in-memory API
//! server (tests/fake) holds the shard StatefulSets (with a new update
//! revision) and their pods; a stand-in kubelet recreates each pod the
//! operator deletes at its StatefulSet's update revision — stopping the pod's
//! real in-process `shoal-node` as SIGTERM does (handover first) and starting
//! a new one on the same port. The operator's rounds do the rest.
//!
//! - 2 shards × 1 replica under writes: pods are replaced replicas first, one
//!   shard at a time, each primary last by a handover (a `Leaving`
//!   promotion, never `PrimaryDown`), and every acknowledged write is read
//!   back at the end; the operator is replaced by a new one (a new leader)
//!   after every replacement.
//! - A pod stuck on a bad revision is reported once (`RolloutStuck`), the
//!   rollout goes no further, and a newer spec replaces it and finishes.

#[allow(dead_code)]
mod fake;
#[allow(dead_code)]
mod nodes;

use fake::{FakeApi, CC};
use nodes::{cluster, encode, events, listeners, mirror, publish, published, start, temp_dir};
use serde_json::{json, Value};
use shoal_node::cluster::failover::Policy;
use shoal_node::cluster::slot::key_slot;
use shoal_node::cluster::{NodeAddr, Topology};
use shoal_operator::failover::{Failover, Settings};
use shoal_operator::metrics::Metrics;
use shoal_operator::reconcile::Context;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const PODS: &str = "/api/v1/namespaces/apps/pods";
const SETS: &str = "/apis/apps/v1/namespaces/apps/statefulsets";

fn labels(shard: usize) -> Value {
    let mut l = shoal_operator::render::shard_selector_labels("cache", shard as i32);
    l.insert(
        "app.kubernetes.io/managed-by".into(),
        "shoal-operator".into(),
    );
    json!(l)
}

fn pod(name: &str, shard: usize, revision: &str, ready: bool, uid: u64) -> Value {
    let mut l = labels(shard);
    l["controller-revision-hash"] = json!(revision);
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "apps", "uid": format!("uid-{uid}"), "labels": l},
        "status": {"conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]}})
}

/// The shard's StatefulSet, having observed a spec whose pods are `revision`.
fn set_revision(api: &FakeApi, shard: usize, revision: &str) {
    let name = format!("cache-shard-{shard}");
    api.insert(
        &format!("{SETS}/{name}"),
        json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": name, "namespace": "apps", "generation": 2, "labels": labels(shard)},
            "status": {"observedGeneration": 2, "replicas": 2, "updateRevision": revision,
                "currentRevision": "rev1"}}),
    );
}

fn update_revision(api: &FakeApi, shard: usize) -> String {
    api.get(&format!("{SETS}/cache-shard-{shard}")).unwrap()["status"]["updateRevision"]
        .as_str()
        .unwrap()
        .to_string()
}

fn operator(api: &FakeApi) -> Failover {
    Failover::new(
        Arc::new(Context::new(api.client(), Arc::new(Metrics::default()))),
        Settings {
            interval: Duration::from_millis(100),
            policy: Policy {
                down_after_ms: 3000,
            },
        },
    )
}

fn topology(shards: usize, replicas: usize, port: impl Fn(usize, usize) -> u16) -> Topology {
    let mut t = Topology::even(1, shards, replicas, |s, r| NodeAddr {
        name: format!("cache-shard-{s}-{r}"),
        host: "127.0.0.1".into(),
        port: port(s, r),
    });
    t.cluster = "cache".into();
    t
}

fn pod_revision(api: &FakeApi, name: &str) -> Option<String> {
    api.get(&format!("{PODS}/{name}")).and_then(|p| {
        p["metadata"]["labels"]["controller-revision-hash"]
            .as_str()
            .map(str::to_string)
    })
}

#[tokio::test]
async fn a_pod_stuck_on_a_bad_revision_is_reported_and_a_newer_spec_supersedes_it() {
    // No replicas: nothing is probed, pod readiness decides.
    let api = FakeApi::with_cluster(json!({"shards": 2, "rollout": {"readyTimeoutSeconds": 1}}));
    let mut cc = api.get(CC).unwrap();
    cc["status"] = json!({"conditions": [{"type": "Progressing", "status": "True",
        "reason": "RollingOut", "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"}]});
    api.insert(CC, cc);
    publish(&api, &topology(2, 0, |s, _| 7000 + s as u16));
    let mut uid = 0;
    for s in 0..2 {
        set_revision(&api, s, "bad");
        uid += 1;
        api.insert(
            &format!("{PODS}/cache-shard-{s}-0"),
            pod(&format!("cache-shard-{s}-0"), s, "rev1", true, uid),
        );
    }
    let mut op = operator(&api);
    let mut replaced = Vec::new();
    // The kubelet: a deleted pod comes back at its set's update revision,
    // Ready unless that revision is bad.
    let mut kubelet = |api: &FakeApi, replaced: &mut Vec<String>| {
        for s in 0..2 {
            let name = format!("cache-shard-{s}-0");
            if api.get(&format!("{PODS}/{name}")).is_none() {
                let rev = update_revision(api, s);
                uid += 1;
                api.insert(
                    &format!("{PODS}/{name}"),
                    pod(&name, s, &rev, rev != "bad", uid),
                );
                replaced.push(format!("{name}@{rev}"));
            }
        }
    };
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(1800) {
        op.round(&cluster(&api)).await.unwrap();
        kubelet(&api, &mut replaced);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Shard 0's pod went to the bad revision and stays; shard 1 was not touched.
    assert_eq!(replaced, ["cache-shard-0-0@bad"]);
    assert_eq!(
        pod_revision(&api, "cache-shard-1-0").as_deref(),
        Some("rev1")
    );
    let stuck = events(&api, "RolloutStuck");
    assert_eq!(stuck.len(), 1, "reported once: {stuck:?}");
    assert!(
        stuck[0].contains("cache-shard-0-0 is not ready"),
        "{stuck:?}"
    );
    let rolling = events(&api, "RollingOut");
    assert!(
        rolling
            .iter()
            .any(|n| n.contains("its keys are lost unless it restarts from a snapshot")),
        "a shard without replicas is said to lose its keys: {rolling:?}"
    );

    // A newer spec: the stuck pod is replaced at once, then the other shard.
    for s in 0..2 {
        set_revision(&api, s, "rev3");
    }
    for _ in 0..40 {
        op.round(&cluster(&api)).await.unwrap();
        kubelet(&api, &mut replaced);
        if replaced.len() == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        replaced,
        [
            "cache-shard-0-0@bad",
            "cache-shard-0-0@rev3",
            "cache-shard-1-0@rev3"
        ]
    );
    // Done: more rounds replace nothing.
    for _ in 0..5 {
        op.round(&cluster(&api)).await.unwrap();
        kubelet(&api, &mut replaced);
    }
    assert_eq!(replaced.len(), 3, "{replaced:?}");
}

/// One request and its (small) reply; None when the connection failed.
async fn call(s: &mut TcpStream, args: &[&str]) -> Option<String> {
    s.write_all(&encode(args)).await.ok()?;
    let mut buf = vec![0u8; 64 * 1024];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .ok()?
        .ok()?;
    (n > 0).then(|| String::from_utf8_lossy(&buf[..n]).into_owned())
}

/// Writes `{tag}:i` to the shard's primary (per the published topology,
/// following MOVED) until `stop`; returns how many were answered OK and the
/// longest time between two of them.
async fn write(api: FakeApi, shard: usize, tag: String, stop: Arc<AtomicBool>) -> (u64, Duration) {
    let (mut i, mut longest, mut last) = (0u64, Duration::ZERO, Instant::now());
    let mut conn: Option<TcpStream> = None;
    let mut port = published(&api).shards[shard].primary.port;
    while !stop.load(Ordering::Acquire) {
        if conn.is_none() {
            conn = TcpStream::connect(("127.0.0.1", port)).await.ok();
            if conn.is_none() {
                port = published(&api).shards[shard].primary.port;
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            }
        }
        let key = format!("{tag}:{i}");
        match call(conn.as_mut().unwrap(), &["SET", &key, &i.to_string()]).await {
            Some(r) if r == "+OK\r\n" => {
                longest = longest.max(last.elapsed());
                last = Instant::now();
                i += 1;
            }
            Some(r) if r.starts_with("-MOVED ") => {
                port = r.trim().rsplit(':').next().unwrap().parse().unwrap();
                conn = None;
            }
            // TRYAGAIN, CLUSTERDOWN, LOADING: the same key again.
            Some(_) => tokio::time::sleep(Duration::from_millis(2)).await,
            None => {
                conn = None;
                port = published(&api).shards[shard].primary.port;
            }
        }
    }
    (i, longest)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_replaces_replicas_first_and_hands_each_primary_over_without_losing_a_write() {
    let dir = temp_dir("rollout");
    let file = dir.join("topology.yaml");
    let (listeners, ports) = listeners(4).await;
    // Shard s: pod -0 (primary) on ports[2s], pod -1 on ports[2s+1].
    let t = topology(2, 1, |s, r| ports[2 * s + r]);
    let api = FakeApi::with_cluster(json!({"shards": 2, "replicasPerShard": 1}));
    publish(&api, &t);
    shoal_node::cluster::local::write_atomically(&file, &t.to_yaml()).unwrap();
    let mirror = mirror(&api, &file);
    let uid = Arc::new(AtomicU64::new(0));
    let mut nodes = HashMap::new();
    for (i, l) in listeners.into_iter().enumerate() {
        let (s, r) = (i / 2, i % 2);
        let name = format!("cache-shard-{s}-{r}");
        nodes.insert(name.clone(), (start(l, &name, &file, None), ports[i], s));
        let u = uid.fetch_add(1, Ordering::Relaxed);
        api.insert(&format!("{PODS}/{name}"), pod(&name, s, "rev1", true, u));
    }
    for s in 0..2 {
        set_revision(&api, s, "rev1");
    }
    // Every replica synced before anything changes.
    let mut op = operator(&api);
    for _ in 0..100 {
        op.round(&cluster(&api)).await.unwrap();
        let mut all = true;
        for (name, (_, port, _)) in &nodes {
            let mut s = TcpStream::connect(("127.0.0.1", *port)).await.unwrap();
            let info = call(&mut s, &["INFO", "replication"])
                .await
                .unwrap_or_default();
            let replica = name.ends_with("-1");
            all &= if replica {
                info.contains("role:slave") && info.contains("shoal_synced:1")
            } else {
                info.contains("role:master")
            };
        }
        if all {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Writers, one per shard, on a hash tag of the shard.
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..2)
        .map(|s| {
            let tag = (0..)
                .map(|i| format!("{{w{i}}}"))
                .find(|tag| {
                    t.shards[s]
                        .slots
                        .iter()
                        .any(|r| r.contains(key_slot(tag.as_bytes())))
                })
                .unwrap();
            let h = tokio::spawn(write(api.clone(), s, tag.clone(), stop.clone()));
            (tag, h)
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;

    // The new spec, and the kubelet: a deleted pod's node is stopped as
    // SIGTERM stops it, and comes back (empty) at the update revision.
    for s in 0..2 {
        set_revision(&api, s, "rev2");
    }
    let log = Arc::new(Mutex::new(Vec::<String>::new()));
    let kubelet = {
        let (api, log, uid, file) = (api.clone(), log.clone(), uid.clone(), file.clone());
        tokio::spawn(async move {
            loop {
                let gone: Vec<String> = nodes
                    .keys()
                    .filter(|n| api.get(&format!("{PODS}/{n}")).is_none())
                    .cloned()
                    .collect();
                for name in gone {
                    log.lock().unwrap().push(name.clone());
                    let (node, port, s) = nodes.remove(&name).unwrap();
                    node.hand_over().await;
                    node.shutdown().await;
                    let l = loop {
                        if let Ok(l) = TcpListener::bind(("127.0.0.1", port)).await {
                            break l;
                        }
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    };
                    nodes.insert(name.clone(), (start(l, &name, &file, None), port, s));
                    let u = uid.fetch_add(1, Ordering::Relaxed);
                    api.insert(&format!("{PODS}/{name}"), pod(&name, s, "rev2", true, u));
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut seen = 0;
    loop {
        // The operator restarts (a new leader, nothing remembered) after
        // each replacement: the rollout continues from what the API holds.
        let replaced = log.lock().unwrap().len();
        if replaced != seen {
            seen = replaced;
            op = operator(&api);
        }
        op.round(&cluster(&api)).await.unwrap();
        let done = (0..2).all(|s| {
            (0..2).all(|r| {
                pod_revision(&api, &format!("cache-shard-{s}-{r}")).as_deref() == Some("rev2")
            })
        }) && log.lock().unwrap().len() == 4;
        if done {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "rollout did not finish: {:?}",
            log.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The last pod back in sync, then the writers stop.
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Release);
    let order = log.lock().unwrap().clone();
    assert_eq!(
        order,
        [
            "cache-shard-0-1",
            "cache-shard-0-0",
            "cache-shard-1-1",
            "cache-shard-1-0"
        ],
        "replicas first, one shard at a time"
    );
    let failovers = events(&api, "Failover");
    assert_eq!(
        failovers.iter().filter(|n| n.contains("(Leaving)")).count(),
        2,
        "each primary handed over: {failovers:?}"
    );
    assert!(
        !failovers.iter().any(|n| n.contains("PrimaryDown")),
        "{failovers:?}"
    );
    assert_eq!(events(&api, "RollingOut").len(), 4);
    let end = published(&api);
    for (s, (tag, h)) in writers.into_iter().enumerate() {
        let (acked, longest) = h.await.unwrap();
        assert!(acked > 0);
        let port = end.shards[s].primary.port;
        let mut c = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let mut lost = 0;
        for i in 0..acked {
            let got = call(&mut c, &["GET", &format!("{tag}:{i}")]).await.unwrap();
            if got != format!("${}\r\n{i}\r\n", i.to_string().len()) {
                lost += 1;
            }
        }
        println!("shard {s}: {acked} writes acknowledged, {lost} lost, longest pause {longest:?}");
        assert_eq!(
            lost, 0,
            "shard {s}: {lost} of {acked} acknowledged writes lost"
        );
    }
    kubelet.abort();
    mirror.abort();
    let _ = std::fs::remove_dir_all(&dir);
}
