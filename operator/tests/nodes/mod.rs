//! What the operator tests that run real in-process `shoal-node` servers
//! share: the topology ConfigMap in the in-memory API server (tests/fake), a
//! file each node watches that a mirror task keeps equal to it (standing in
//! for the node's ConfigMap watch, tested through the fake in discovery.rs),
//! starting nodes, and raw requests.

use crate::fake::FakeApi;
use serde_json::json;
use shoal_node::clock::Clock;
use shoal_node::cluster::Topology;
use shoal_node::config::{ClusterConfig, Config, TopologySource};
use shoal_node::{Node, Shared};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::net::TcpListener;

pub const TOPOLOGY: &str = "/api/v1/namespaces/apps/configmaps/cache-topology";

/// A fresh directory for one test's topology file.
pub fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("shoal-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `n` listeners on free loopback ports, and the ports.
pub async fn listeners(n: usize) -> (Vec<TcpListener>, Vec<u16>) {
    let mut ls = Vec::new();
    for _ in 0..n {
        ls.push(TcpListener::bind("127.0.0.1:0").await.unwrap());
    }
    let ports = ls.iter().map(|l| l.local_addr().unwrap().port()).collect();
    (ls, ports)
}

pub fn published(api: &FakeApi) -> Topology {
    let cm = api.get(TOPOLOGY).unwrap();
    Topology::parse(cm["data"]["topology.yaml"].as_str().unwrap()).unwrap()
}

pub fn publish(api: &FakeApi, t: &Topology) {
    api.insert(
        TOPOLOGY,
        json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "cache-topology", "namespace": "apps"},
            "data": {"topology.yaml": t.to_yaml()}}),
    );
}

/// Keeps `file` equal to the topology ConfigMap, as each node's watch would.
pub fn mirror(api: &FakeApi, file: &Path) -> tokio::task::JoinHandle<()> {
    let (api, file) = (api.clone(), file.to_path_buf());
    tokio::spawn(async move {
        loop {
            let text = published(&api).to_yaml();
            if std::fs::read_to_string(&file).ok().as_deref() != Some(text.as_str()) {
                shoal_node::cluster::local::write_atomically(&file, &text).unwrap();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
}

/// A node named `name` reading its topology from `file`; `password`: its
/// requirepass.
pub fn start(listener: TcpListener, name: &str, file: &Path, password: Option<&str>) -> Node {
    let mut config = Config {
        cluster: Some(ClusterConfig {
            node_name: name.into(),
            source: TopologySource::File(file.to_path_buf()),
        }),
        ..Config::default()
    };
    config.settings.requirepass = password.map(str::to_string);
    Node::start_with(Shared::new(config, Clock::Wall), listener, None)
}

/// The CacheCluster `apps/cache` as the API server holds it now.
pub fn cluster(api: &FakeApi) -> shoal_operator::crd::CacheCluster {
    serde_json::from_value(api.get(crate::fake::CC).unwrap()).unwrap()
}

/// The notes of the cluster's events with `reason`.
pub fn events(api: &FakeApi, reason: &str) -> Vec<String> {
    api.paths_under("/apis/events.k8s.io/v1/namespaces/apps/events/")
        .iter()
        .filter_map(|p| api.get(p))
        .filter(|e| e["reason"] == reason)
        .map(|e| e["note"].as_str().unwrap_or("").to_string())
        .collect()
}

/// A command as RESP.
pub fn encode(args: &[&str]) -> Vec<u8> {
    let mut req = format!("*{}\r\n", args.len());
    for a in args {
        req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    req.into_bytes()
}
