//! Resizing in Kubernetes, end to end without a cluster: real `shoal-node`
//! servers in-process on 127.0.0.1, the in-memory API server (tests/fake),
//! and the operator's control rounds. Nodes read their topology from a file a
//! mirror task keeps equal to the ConfigMap (as in failover.rs).
//!
//! 2 -> 3 -> 2 shards while a writer writes: every key written before and
//! every acknowledged write during the resize is read back at the end, the
//! leaving shard ends empty, and a second operator (a new leader) takes over
//! in the middle of each resize and finishes it from the published document.

#[allow(dead_code)]
mod fake;
#[allow(dead_code)]
mod nodes;

use fake::{FakeApi, CC};
use nodes::{cluster, encode, listeners, mirror, publish, published, start, temp_dir};
use serde_json::{json, Value};
use shoal_node::cluster::slot::key_slot;
use shoal_node::cluster::{NodeAddr, Topology};
use shoal_node::Node;
use shoal_operator::failover::{Failover, Settings};
use shoal_operator::metrics::Metrics;
use shoal_operator::reconcile::Context;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn node(s: usize, port: u16) -> NodeAddr {
    NodeAddr {
        name: format!("cache-shard-{s}-0"),
        host: "127.0.0.1".into(),
        port,
    }
}

/// The CacheCluster at `shards`, with the status reconcile would report while
/// a resize is due.
fn set_shards(api: &FakeApi, shards: i32) {
    let mut cc: Value = api.get(CC).unwrap();
    cc["spec"]["shards"] = json!(shards);
    cc["status"] = json!({"conditions": [{"type": "Resharding", "status": "True", "reason": "Copying",
        "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"}]});
    api.insert(CC, cc);
}

fn operator(api: &FakeApi) -> Failover {
    Failover::new(
        Arc::new(Context::new(api.client(), Arc::new(Metrics::default()))),
        Settings {
            interval: Duration::from_millis(50),
            policy: shoal_node::cluster::failover::Policy { down_after_ms: 500 },
        },
    )
}

/// A tiny cluster client: sends to the owner it last learned, follows MOVED,
/// retries TRYAGAIN and CLUSTERDOWN.
struct Client {
    conns: HashMap<u16, TcpStream>,
    owner: HashMap<u16, u16>,
    default: u16,
}

impl Client {
    fn new(default: u16) -> Client {
        Client {
            conns: HashMap::new(),
            owner: HashMap::new(),
            default,
        }
    }

    async fn call(&mut self, args: &[&str]) -> String {
        let slot = key_slot(args[1].as_bytes());
        for _ in 0..50 {
            let port = *self.owner.get(&slot).unwrap_or(&self.default);
            if let std::collections::hash_map::Entry::Vacant(e) = self.conns.entry(port) {
                e.insert(TcpStream::connect(("127.0.0.1", port)).await.unwrap());
            }
            let s = self.conns.get_mut(&port).unwrap();
            s.write_all(&encode(args)).await.unwrap();
            let mut buf = vec![0u8; 4096];
            let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
                .await
                .unwrap()
                .unwrap();
            let reply = String::from_utf8_lossy(&buf[..n]).into_owned();
            if let Some(rest) = reply.strip_prefix("-MOVED ") {
                let to = rest.trim().rsplit(':').next().unwrap().parse().unwrap();
                self.owner.insert(slot, to);
                continue;
            }
            // CLUSTERDOWN: a node that has not read its first topology yet.
            if reply.starts_with("-TRYAGAIN") || reply.starts_with("-CLUSTERDOWN") {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
            return reply;
        }
        panic!("no answer for {args:?}");
    }
}

async fn dbsize(port: u16) -> usize {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    s.write_all(&encode(&["DBSIZE"])).await.unwrap();
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).await.unwrap();
    String::from_utf8_lossy(&buf[1..n]).trim().parse().unwrap()
}

/// Runs control rounds (switching to a new operator after `switch_after`
/// documents) until the topology has `shards` shards and no marks.
async fn resize_to(api: &FakeApi, shards: usize, switch_after: usize) -> Vec<u64> {
    let mut op = operator(api);
    let mut epochs = Vec::new();
    for _ in 0..600 {
        let out = op.round(&cluster(api)).await.unwrap();
        if let Some(t) = out.published {
            epochs.push(t.epoch);
            if epochs.len() == switch_after {
                // The leader is gone; another one continues from the document.
                op = operator(api);
            }
        }
        let t = published(api);
        let settled = t
            .shards
            .iter()
            .all(|s| s.migrating.is_empty() && s.importing.is_empty());
        if t.shards.len() == shards && settled && !epochs.is_empty() {
            return epochs;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!(
        "the resize to {shards} shards did not finish: {:?}",
        published(api)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_to_three_to_two_shards_under_writes_loses_nothing() {
    let dir = temp_dir("resize");
    let file = dir.join("topology.yaml");
    let (listeners, ports) = listeners(3).await;
    let mut t = Topology::even(1, 2, 0, |s, _| node(s, ports[s]));
    t.cluster = "cache".into();
    let api = FakeApi::with_cluster(json!({"shards": 2, "replicasPerShard": 0}));
    publish(&api, &t);
    shoal_node::cluster::local::write_atomically(&file, &t.to_yaml()).unwrap();
    let mirror = mirror(&api, &file);
    let nodes: Vec<Node> = listeners
        .into_iter()
        .enumerate()
        .map(|(s, l)| start(l, &format!("cache-shard-{s}-0"), &file, None))
        .collect();

    let mut c = Client::new(ports[0]);
    for i in 0..2000 {
        assert_eq!(
            c.call(&["SET", &format!("k{i}"), &i.to_string()]).await,
            "+OK\r\n"
        );
    }
    for i in 0..20 {
        let key = format!("l{i}");
        assert!(c
            .call(&["RPUSH", &key, "a", "b", "c"])
            .await
            .starts_with(':'));
        let key = format!("z{i}");
        assert!(c.call(&["ZADD", &key, "1.5", "m"]).await.starts_with(':'));
    }
    // A writer runs through both resizes.
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::new()));
    let writer = {
        let (stop, acked, port) = (stop.clone(), acked.clone(), ports[1]);
        tokio::spawn(async move {
            let mut c = Client::new(port);
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let reply = c.call(&["SET", &format!("w{n}"), &n.to_string()]).await;
                assert_eq!(reply, "+OK\r\n", "w{n}");
                acked.lock().unwrap().push(n);
                n += 1;
            }
        })
    };

    // The new shard's pods run; AddShards is the operator's (resize.rs unit
    // test names them by their pods); here the shard joins at 127.0.0.1.
    let grown = shoal_core::cluster::reshard::add_shards(&t, vec![vec![node(2, ports[2])]]);
    publish(&api, &grown);
    set_shards(&api, 3);
    let epochs = resize_to(&api, 3, 1).await;
    assert_eq!(epochs.len(), 3, "begin, cutover, finish: {epochs:?}");
    let t3 = published(&api);
    assert_eq!(
        t3.shards[2].slots.iter().map(|r| r.len()).sum::<usize>(),
        5461
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(dbsize(ports[2]).await > 500, "the new shard holds its keys");

    set_shards(&api, 2);
    let epochs = resize_to(&api, 2, 2).await;
    assert_eq!(
        epochs.len(),
        4,
        "begin, cutover, finish, remove: {epochs:?}"
    );
    stop.store(true, Ordering::Relaxed);
    writer.await.unwrap();

    let mut c = Client::new(ports[0]);
    for i in 0..2000 {
        let want = format!("${}\r\n{i}\r\n", i.to_string().len());
        assert_eq!(c.call(&["GET", &format!("k{i}")]).await, want, "k{i}");
    }
    for i in 0..20 {
        let key = format!("l{i}");
        assert_eq!(
            c.call(&["LRANGE", &key, "0", "-1"]).await,
            "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n"
        );
        let key = format!("z{i}");
        assert_eq!(c.call(&["ZSCORE", &key, "m"]).await, "$3\r\n1.5\r\n");
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() > 50, "the writer wrote during the resizes");
    for n in &acked {
        let want = format!("${}\r\n{n}\r\n", n.to_string().len());
        assert_eq!(
            c.call(&["GET", &format!("w{n}")]).await,
            want,
            "acknowledged w{n}"
        );
    }
    // One copy of each key: the old owners deleted theirs.
    let total = dbsize(ports[0]).await + dbsize(ports[1]).await;
    assert_eq!(total, 2000 + 40 + acked.len());
    mirror.abort();
    drop(nodes);
}
