//! The topology the operator publishes for a cluster's nodes: a new cluster's
//! shard `i` owns the `i`-th even share of the 16384 slots (the layout
//! `redis-cli --cluster create` uses); after that, slots change owner only by
//! a resize ([`crate::resize`]), so the published ownership, migration marks
//! and shard count are kept here. Every node is addressed by its stable DNS
//! name behind the headless Service. Pod 0 of a shard's StatefulSet starts as its primary;
//! after a failover (see [`crate::failover`]) the published roles are kept:
//! the primary stays primary while its pod is part of the shard, and replicas
//! keep their order, with new pods appended.
//!
//! The epoch grows exactly when the document's content changes, and never
//! below what status last reported, so nodes (which refuse older epochs) never
//! roll back.

use crate::crd::CacheCluster;
use crate::render::{Names, CLIENT_PORT};
use shoal_core::cluster::{NodeAddr, Topology};

pub use shoal_core::cluster::slot::{SlotRange, SLOTS};
pub use shoal_core::cluster::TOPOLOGY_KEY;

/// The DNS name of a pod behind the cluster's headless Service: stable across
/// restarts and reschedules, unlike its IP.
pub fn pod_host(pod: &str, headless: &str, namespace: &str) -> String {
    format!("{pod}.{headless}.{namespace}.svc")
}

/// Pod `r` of shard `s`, as the topology names and addresses it.
pub fn pod_node(cc: &CacheCluster, namespace: &str, s: usize, r: usize) -> NodeAddr {
    let name = cc.metadata.name.clone().unwrap_or_default();
    let names = Names(&name);
    let pod = format!("{}-{r}", names.shard(s as i32));
    NodeAddr {
        host: pod_host(&pod, &names.headless_service(), namespace),
        name: pod,
        port: CLIENT_PORT as u16,
    }
}

/// The nodes of a new shard `s` (pod 0 its primary), for a resize.
pub fn shard_nodes(cc: &CacheCluster, namespace: &str, s: usize) -> Vec<NodeAddr> {
    let replicas = cc.spec.replicas_per_shard.max(0) as usize;
    (0..=replicas)
        .map(|r| pod_node(cc, namespace, s, r))
        .collect()
}

/// How many shards the published document has (the spec's count for a new
/// cluster): during a resize it differs from the spec's until the resize ends.
pub fn shard_count(cc: &CacheCluster, published: Option<&Topology>) -> usize {
    published.map_or(cc.spec.shards.max(1) as usize, |p| p.shards.len())
}

/// The document for `cc` at `epoch`, keeping the slots, marks and shard count
/// of `published`, and the roles it gave to pods that are still part of their
/// shard.
pub fn document(
    cc: &CacheCluster,
    namespace: &str,
    epoch: u64,
    published: Option<&Topology>,
) -> Topology {
    let name = cc.metadata.name.clone().unwrap_or_default();
    let shards = shard_count(cc, published);
    let replicas = cc.spec.replicas_per_shard.max(0) as usize;
    let mut t = Topology::even(epoch, shards, replicas, |s, r| {
        pod_node(cc, namespace, s, r)
    });
    t.cluster = name;
    let Some(published) = published else {
        return t;
    };
    for (shard, before) in t.shards.iter_mut().zip(&published.shards) {
        shard.slots = before.slots.clone();
        shard.migrating = before.migrating.clone();
        shard.importing = before.importing.clone();
    }
    for (shard, before) in t.shards.iter_mut().zip(&published.shards) {
        let mut pods: Vec<NodeAddr> = std::iter::once(shard.primary.clone())
            .chain(shard.replicas.drain(..))
            .collect();
        let mut take = |name: &str| {
            let at = pods.iter().position(|p| p.name == name)?;
            Some(pods.remove(at))
        };
        let primary = take(&before.primary.name);
        let mut kept: Vec<NodeAddr> = before
            .replicas
            .iter()
            .filter_map(|r| take(&r.name))
            .collect();
        let mut ordered = Vec::new();
        if let Some(p) = primary {
            ordered.push(p);
        }
        ordered.append(&mut kept);
        ordered.append(&mut pods);
        let mut ordered = ordered.into_iter();
        shard.primary = ordered.next().expect("a shard has at least one pod");
        shard.replicas = ordered.collect();
    }
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
        Some(p) if p.epoch >= reported && *p == document(cc, namespace, p.epoch, Some(p)) => {
            p.epoch
        }
        _ => published
            .map_or(0, |p| p.epoch)
            .max(reported)
            .saturating_add(1),
    }
}

/// A shard's slots as status shows them: `0-5461`, or `0-4095,5462-6826`.
pub fn shard_slots(t: &Topology, index: usize) -> String {
    t.shards
        .get(index)
        .map(|s| {
            s.slots
                .iter()
                .map(SlotRange::to_string)
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
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
        let t = document(&cluster(3, 1), "apps", 4, None);
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
        assert_eq!(shard_slots(&t, 2), "10923-16383");
        assert_eq!(shard_slots(&t, 3), "");
    }

    #[test]
    fn the_epoch_moves_only_when_the_document_changes() {
        let cc = cluster(2, 0);
        assert_eq!(next_epoch(&cc, "apps", None, 0), 1);
        let published = document(&cc, "apps", 1, None);
        assert_eq!(next_epoch(&cc, "apps", Some(&published), 1), 1);
        let grown = cluster(3, 0);
        // A new shard count alone changes nothing here: resize publishes it.
        assert_eq!(next_epoch(&grown, "apps", Some(&published), 1), 1);
        let more_replicas = cluster(2, 1);
        assert_eq!(next_epoch(&more_replicas, "apps", Some(&published), 1), 2);
        // A ConfigMap recreated behind the operator's back, or lost: never below
        // what nodes may already hold.
        assert_eq!(next_epoch(&cc, "apps", None, 7), 8);
        assert_eq!(next_epoch(&cc, "apps", Some(&published), 7), 8);
    }

    #[test]
    fn published_roles_are_kept_while_their_pods_remain() {
        let ns = "apps";
        let first = document(&cluster(2, 2), ns, 1, None);
        assert_eq!(first.shards[0].primary.name, "cache-shard-0-0");
        // A failover promoted shard 1's pod 2: the old primary went last.
        let promoted =
            shoal_core::cluster::failover::promote(&first, 1, "cache-shard-1-2").unwrap();
        let names = |t: &Topology, s: usize| -> Vec<String> {
            std::iter::once(&t.shards[s].primary)
                .chain(&t.shards[s].replicas)
                .map(|n| n.name.clone())
                .collect()
        };
        assert_eq!(
            names(&promoted, 1),
            ["cache-shard-1-2", "cache-shard-1-1", "cache-shard-1-0"]
        );
        // Reconciling the same spec republishes it unchanged, epoch included.
        let again = document(&cluster(2, 2), ns, promoted.epoch, Some(&promoted));
        assert_eq!(again, promoted);
        assert_eq!(next_epoch(&cluster(2, 2), ns, Some(&promoted), 1), 2);
        // One more replica: appended, the primary kept.
        let grown = document(&cluster(2, 3), ns, 3, Some(&promoted));
        assert_eq!(
            names(&grown, 1),
            [
                "cache-shard-1-2",
                "cache-shard-1-1",
                "cache-shard-1-0",
                "cache-shard-1-3"
            ]
        );
        assert_eq!(names(&grown, 0)[0], "cache-shard-0-0");
        // Scaled down past the primary's pod: the first remaining replica leads.
        let shrunk = document(&cluster(2, 1), ns, 3, Some(&promoted));
        assert_eq!(names(&shrunk, 1), ["cache-shard-1-1", "cache-shard-1-0"]);
        // More shards in the spec: the published shards and slots stay until
        // a resize adds them (see `resize`), whose new shards start with pod 0
        // as primary.
        let more = document(&cluster(3, 2), ns, 3, Some(&promoted));
        assert_eq!(more.shards.len(), 2);
        assert_eq!(names(&more, 1)[0], "cache-shard-1-2");
        assert_eq!(
            shard_nodes(&cluster(3, 2), ns, 2)[0].name,
            "cache-shard-2-0"
        );
        assert_eq!(shard_nodes(&cluster(3, 2), ns, 2).len(), 3);
    }

    #[test]
    fn a_resize_in_progress_is_kept_whatever_the_spec_says() {
        use shoal_core::cluster::reshard;
        let ns = "apps";
        let first = document(&cluster(2, 1), ns, 1, None);
        let grown = reshard::add_shards(&first, vec![shard_nodes(&cluster(3, 1), ns, 2)]);
        let owned: Vec<_> = grown.shards.iter().map(|s| s.slots.clone()).collect();
        let begun = reshard::begin(&grown, &reshard::plan(&owned, 3).unwrap());
        // Reconcile with the spec at 3, or already back at 2: the same document.
        for shards in [3, 2] {
            let again = document(&cluster(shards, 1), ns, begun.epoch, Some(&begun));
            assert_eq!(again, begun);
            assert_eq!(
                next_epoch(&cluster(shards, 1), ns, Some(&begun), 1),
                begun.epoch
            );
        }
        // Replicas change while it runs: the marks stay.
        let more = document(&cluster(3, 2), ns, begun.epoch + 1, Some(&begun));
        assert_eq!(more.shards[0].migrating, begun.shards[0].migrating);
        assert_eq!(more.shards[2].replicas.len(), 2);
        more.check().unwrap();
    }
}
