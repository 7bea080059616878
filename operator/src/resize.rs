//! Resizing in Kubernetes: when `spec.shards` differs from the shards the
//! published topology names, the operator walks the steps of
//! [`shoal_core::cluster::reshard`] (new shards join with no slots; their
//! slots are copied with every key and the writes that follow; one cutover;
//! the old owners delete their copies; emptied shards leave), publishing each
//! document in the topology ConfigMap at the next epoch.
//!
//! Each step is decided from the published document and what the nodes
//! report now ([`decide`], pure), never from memory, so a restarted operator
//! or a new leader continues the resize where it stood. Reconcile keeps the
//! document's slots and shard count ([`crate::topology::document`]), renders a
//! StatefulSet for every shard it names, and deletes a shard's StatefulSet
//! only once a published document no longer names it.

use crate::crd::CacheCluster;
use crate::topology::shard_nodes;
use shoal_core::cluster::probe::Imports;
use shoal_core::cluster::reshard::{self, Move, PlanError, Step};
use shoal_core::cluster::Topology;
use std::collections::HashMap;

/// What the nodes report, for [`decide`].
#[derive(Debug, Default)]
pub struct Seen {
    /// Every node the document names answered its probe.
    pub all_reachable: bool,
    /// Import counts by shard, from its primary (absent: no answer).
    pub imports: HashMap<usize, Imports>,
}

/// A document to publish, and what it does (for events and metrics).
#[derive(Debug, PartialEq)]
pub struct Publish {
    pub next: Topology,
    /// `AddShards`, `Begin`, `Cutover`, `Finish` or `RemoveShards`.
    pub step: &'static str,
    pub note: String,
}

/// The shards `moves` bring slots to, with how many ranges each.
pub fn targets(moves: &[Move]) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    for m in moves {
        match out.iter_mut().find(|(s, _)| *s == m.to) {
            Some((_, n)) => *n += 1,
            None => out.push((m.to, 1)),
        }
    }
    out
}

/// The shards whose primaries' reports the next step of a resize from `t`
/// (towards `shards`) waits on.
pub fn awaited(t: &Topology, shards: usize) -> Vec<usize> {
    match reshard::next_step(t, shards) {
        Ok(Step::Copying(moves) | Step::Importing(moves)) => {
            targets(&moves).into_iter().map(|(s, _)| s).collect()
        }
        _ => Vec::new(),
    }
}

fn slots(moves: &[Move]) -> usize {
    moves.iter().map(|m| m.slots.len()).sum()
}

/// The next document of a resize of `cc` from `t`, if one is due now.
pub fn decide(
    cc: &CacheCluster,
    ns: &str,
    t: &Topology,
    seen: &Seen,
) -> Result<Option<Publish>, PlanError> {
    let shards = cc.spec.shards.max(1) as usize;
    let all = |moves: &[Move], ok: fn(&Imports, usize) -> bool| {
        targets(moves)
            .iter()
            .all(|&(shard, n)| seen.imports.get(&shard).is_some_and(|i| ok(i, n)))
    };
    Ok(match reshard::next_step(t, shards)? {
        Step::Done => None,
        Step::AddShards(n) => {
            let first = t.shards.len();
            let nodes = (first..first + n).map(|s| shard_nodes(cc, ns, s)).collect();
            Some(Publish {
                next: reshard::add_shards(t, nodes),
                step: "AddShards",
                note: format!("{n} new shard(s) join with no slots"),
            })
        }
        // New shards' pods answer once they run; their slots come after.
        Step::Begin(moves) if seen.all_reachable => Some(Publish {
            next: reshard::begin(t, &moves),
            step: "Begin",
            note: format!(
                "copying {} slots in {} range(s) to their new shards",
                slots(&moves),
                moves.len()
            ),
        }),
        Step::Copying(moves) if all(&moves, Imports::copied) => Some(Publish {
            next: reshard::cutover(t),
            step: "Cutover",
            note: format!("{} slots change owner", slots(&moves)),
        }),
        Step::Importing(moves) if all(&moves, Imports::imported) => Some(Publish {
            next: reshard::finish(t),
            step: "Finish",
            note: format!(
                "{} slots handed over; the old owners delete their copies",
                slots(&moves)
            ),
        }),
        Step::RemoveShards => reshard::remove_empty(t, shards).map(|next| Publish {
            note: format!(
                "{} emptied shard(s) leave",
                t.shards.len() - next.shards.len()
            ),
            next,
            step: "RemoveShards",
        }),
        Step::Begin(_) | Step::Copying(_) | Step::Importing(_) => None,
    })
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

    fn counts(streaming: usize, done: usize) -> Imports {
        Imports {
            streaming,
            done,
            ..Imports::default()
        }
    }

    #[test]
    fn a_resize_goes_step_by_step_on_what_the_nodes_report() {
        let (ns, cc) = ("apps", cluster(3, 1));
        let t = crate::topology::document(&cluster(2, 1), ns, 4, None);
        let mut seen = Seen::default();
        assert_eq!(decide(&cluster(2, 1), ns, &t, &seen).unwrap(), None);
        // 2 -> 3: the new shard joins, named by its StatefulSet's pods.
        let p = decide(&cc, ns, &t, &seen).unwrap().unwrap();
        assert_eq!((p.step, p.next.epoch), ("AddShards", 5));
        assert_eq!(p.next.shards[2].primary.name, "cache-shard-2-0");
        assert_eq!(
            p.next.shards[2].replicas[0].host,
            "cache-shard-2-1.cache-nodes.apps.svc"
        );
        assert!(p.next.shards[2].slots.is_empty());
        let added = p.next;
        // Copying waits for every node to answer.
        assert_eq!(decide(&cc, ns, &added, &seen).unwrap(), None);
        seen.all_reachable = true;
        let p = decide(&cc, ns, &added, &seen).unwrap().unwrap();
        assert_eq!(p.step, "Begin");
        let begun = p.next;
        // Shard 2 takes two ranges (one from each old shard): both must stream.
        assert_eq!(targets(&reshard::marked(&begun)), vec![(2, 2)]);
        assert_eq!(
            decide(&cc, ns, &begun, &seen).unwrap(),
            None,
            "no report yet"
        );
        seen.imports.insert(2, counts(1, 0));
        assert_eq!(decide(&cc, ns, &begun, &seen).unwrap(), None, "one of two");
        seen.imports.insert(2, counts(2, 0));
        let p = decide(&cc, ns, &begun, &seen).unwrap().unwrap();
        assert_eq!(p.step, "Cutover");
        let cut = p.next;
        assert_eq!(decide(&cc, ns, &cut, &seen).unwrap(), None, "not done yet");
        seen.imports.insert(2, counts(0, 2));
        let p = decide(&cc, ns, &cut, &seen).unwrap().unwrap();
        assert_eq!(p.step, "Finish");
        let done = p.next;
        assert_eq!(decide(&cc, ns, &done, &seen).unwrap(), None);
        // A leader that starts now reads `done` and has nothing to do; asked
        // for 2 shards again, it moves the slots back and then removes shard 2.
        let back = cluster(2, 1);
        let p = decide(&back, ns, &done, &seen).unwrap().unwrap();
        assert_eq!(p.step, "Begin");
        assert!(reshard::marked(&p.next).iter().all(|m| m.from == 2));
        let finished = reshard::finish(&reshard::cutover(&p.next));
        let p = decide(&back, ns, &finished, &seen).unwrap().unwrap();
        assert_eq!((p.step, p.next.shards.len()), ("RemoveShards", 2));
        assert_eq!(decide(&back, ns, &p.next, &seen).unwrap(), None);
    }
}
