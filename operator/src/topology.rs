//! The topology the operator publishes for a cluster's nodes: shard `i` owns
//! the `i`-th even share of the 16384 slots (the layout `redis-cli --cluster
//! create` uses); pod 0 of its StatefulSet is the primary, the others replicas;
//! every node is addressed by its stable DNS name behind the headless Service.
//!
//! The epoch grows exactly when the document's content changes, and never
//! below what status last reported, so nodes (which refuse older epochs) never
//! roll back.

use crate::crd::CacheCluster;
use crate::render::{Names, CLIENT_PORT};
use shoal_node::cluster::{NodeAddr, Topology};

pub use shoal_node::cluster::kubernetes::TOPOLOGY_KEY;
pub use shoal_node::cluster::slot::{SlotRange, SLOTS};

/// The DNS name of a pod behind the cluster's headless Service: stable across
/// restarts and reschedules, unlike its IP.
pub fn pod_host(pod: &str, headless: &str, namespace: &str) -> String {
    format!("{pod}.{headless}.{namespace}.svc")
}

/// The document for `cc` at `epoch`.
pub fn document(cc: &CacheCluster, namespace: &str, epoch: u64) -> Topology {
    let name = cc.metadata.name.clone().unwrap_or_default();
    let names = Names(&name);
    let headless = names.headless_service();
    let shards = cc.spec.shards.max(1) as usize;
    let replicas = cc.spec.replicas_per_shard.max(0) as usize;
    let mut t = Topology::even(epoch, shards, replicas, |s, r| {
        let pod = format!("{}-{r}", names.shard(s as i32));
        NodeAddr {
            host: pod_host(&pod, &headless, namespace),
            name: pod,
            port: CLIENT_PORT as u16,
        }
    });
    t.cluster = name;
    t
}

/// The epoch to publish, given the document published now (if any) and the
/// epoch status reported last.
pub fn next_epoch(
    cc: &CacheCluster,
    namespace: &str,
    published: Option<&Topology>,
    reported: u64,
) -> u64 {
    match published {
        Some(p) if p.epoch >= reported && *p == document(cc, namespace, p.epoch) => p.epoch,
        _ => published
            .map_or(0, |p| p.epoch)
            .max(reported)
            .saturating_add(1),
    }
}

/// A shard's slots as status shows them: `0-5461`.
pub fn shard_slots(index: i32, shards: i32) -> String {
    SlotRange::even_split(index.max(0) as u32, shards.max(1) as u32).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::CacheClusterSpec;

    fn cluster(shards: i32, replicas: i32) -> CacheCluster {
        CacheCluster::new(
            "cache",
            serde_json::from_value::<CacheClusterSpec>(
                serde_json::json!({"shards": shards, "replicasPerShard": replicas}),
            )
            .unwrap(),
        )
    }

    #[test]
    fn nodes_are_pods_by_stable_dns_name() {
        let t = document(&cluster(3, 1), "apps", 4);
        t.check().unwrap();
        assert_eq!(t.epoch, 4);
        assert_eq!(t.cluster, "cache");
        assert_eq!(t.shards[1].slots[0].to_string(), "5462-10922");
        assert_eq!(t.shards[1].primary.name, "cache-shard-1-0");
        assert_eq!(
            t.shards[1].primary.host,
            "cache-shard-1-0.cache-nodes.apps.svc"
        );
        assert_eq!(t.shards[2].replicas[0].name, "cache-shard-2-1");
        assert_eq!(t.shards[0].primary.port, 6379);
        assert_eq!(shard_slots(2, 3), "10923-16383");
    }

    #[test]
    fn the_epoch_moves_only_when_the_document_changes() {
        let cc = cluster(2, 0);
        assert_eq!(next_epoch(&cc, "apps", None, 0), 1);
        let published = document(&cc, "apps", 1);
        assert_eq!(next_epoch(&cc, "apps", Some(&published), 1), 1);
        let grown = cluster(3, 0);
        assert_eq!(next_epoch(&grown, "apps", Some(&published), 1), 2);
        let more_replicas = cluster(2, 1);
        assert_eq!(next_epoch(&more_replicas, "apps", Some(&published), 1), 2);
        // A ConfigMap recreated behind the operator's back, or lost: never below
        // what nodes may already hold.
        assert_eq!(next_epoch(&cc, "apps", None, 7), 8);
        assert_eq!(next_epoch(&cc, "apps", Some(&published), 7), 8);
    }
}
