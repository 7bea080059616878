//! Rollouts in Kubernetes. Shard StatefulSets use `OnDelete`: a change of
//! the pod template (image, resources, config) gives them a new update
//! revision, and the operator replaces the pods itself, in the order the pure
//! decision [`shoal_core::cluster::rollout::plan`] gives: per shard, replicas
//! first, one at a time, each waited for until its pod is Ready and its node
//! synced; the primary last. Deleting the primary's pod sends it SIGTERM: it
//! asks to be replaced (`shoal_leaving`), the failover round promotes an
//! updated replica within reach of it, and the old primary hands its last
//! writes over before it exits, so writes pause for the handover only.
//!
//! [`members`] turns what was read (pods, StatefulSets, probes) into the
//! decision's input; [`crate::failover::Failover`] runs it each round and
//! deletes what it says.

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use shoal_core::cluster::failover::Health;
use shoal_core::cluster::rollout::Member;
use shoal_core::cluster::Topology;
use std::collections::{HashMap, HashSet};

/// The label the StatefulSet controller puts on each pod: its revision.
pub const REVISION_LABEL: &str = "controller-revision-hash";

/// What the decision needs of one pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodSeen {
    pub revision: Option<String>,
    /// Its Ready condition is True.
    pub ready: bool,
    /// Being deleted (or deleted by this operator already).
    pub terminating: bool,
}

impl PodSeen {
    pub fn of(pod: &Pod, deleted: &HashSet<String>) -> PodSeen {
        let ready = pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        PodSeen {
            revision: pod
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(REVISION_LABEL))
                .cloned(),
            ready,
            terminating: pod.metadata.deletion_timestamp.is_some() || deleted.contains(&uid),
        }
    }
}

/// The update revision of each StatefulSet by name; None when one has not
/// yet observed its latest spec (its revision would be stale).
pub fn update_revisions(sets: &[StatefulSet]) -> Option<HashMap<String, String>> {
    let mut out = HashMap::new();
    for s in sets {
        let st = s.status.as_ref()?;
        if st.observed_generation? < s.metadata.generation? {
            return None;
        }
        out.insert(s.metadata.name.clone()?, st.update_revision.clone()?);
    }
    Some(out)
}

/// The StatefulSet a pod belongs to: its name without the ordinal.
fn set_of(pod: &str) -> &str {
    pod.rsplit_once('-').map_or(pod, |(set, _)| set)
}

/// Each shard's members as the rollout decision sees them. A pod that is
/// missing or terminating will come back at the update revision: updated,
/// not ready. With `probes` (clusters with replicas), a member is ready only
/// if its node also answers in the role the topology gives it, synced.
pub fn members(
    topology: &Topology,
    pods: &HashMap<String, PodSeen>,
    revisions: &HashMap<String, String>,
    probes: Option<&HashMap<String, Option<Health>>>,
) -> Vec<Vec<Member>> {
    shoal_core::cluster::rollout::observe(topology, |n, primary| {
        let Some(pod) = pods.get(&n.name).filter(|p| !p.terminating) else {
            return Member {
                name: n.name.clone(),
                primary,
                updated: true,
                ready: false,
            };
        };
        let wanted = revisions.get(set_of(&n.name));
        let serving = match probes {
            None => true,
            Some(p) => p.get(&n.name).and_then(Option::as_ref).is_some_and(|h| {
                if primary {
                    h.primary
                } else {
                    !h.primary && h.synced
                }
            }),
        };
        Member {
            name: n.name.clone(),
            primary,
            // Unknown revisions count as up to date: nothing is replaced on
            // a guess.
            updated: wanted.is_none() || pod.revision.as_ref() == wanted,
            ready: pod.ready && serving,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoal_core::cluster::rollout::{plan, Step};
    use shoal_core::cluster::NodeAddr;

    fn topology() -> Topology {
        Topology::even(3, 2, 1, |s, r| NodeAddr {
            name: format!("c-shard-{s}-{r}"),
            host: "127.0.0.1".into(),
            port: 7000 + (s * 2 + r) as u16,
        })
    }

    fn pod(rev: &str) -> PodSeen {
        PodSeen {
            revision: Some(rev.into()),
            ready: true,
            terminating: false,
        }
    }

    fn healthy(t: &Topology) -> HashMap<String, Option<Health>> {
        t.nodes()
            .map(|(_, n, primary)| {
                let h = Health {
                    reachable: true,
                    primary,
                    synced: true,
                    ..Health::default()
                };
                (n.name.clone(), Some(h))
            })
            .collect()
    }

    fn revisions(r0: &str, r1: &str) -> HashMap<String, String> {
        HashMap::from([
            ("c-shard-0".into(), r0.into()),
            ("c-shard-1".into(), r1.into()),
        ])
    }

    fn all_pods(rev: &str) -> HashMap<String, PodSeen> {
        topology()
            .nodes()
            .map(|(_, n, _)| (n.name.clone(), pod(rev)))
            .collect()
    }

    #[test]
    fn a_new_revision_replaces_the_first_shards_replica_pod() {
        let t = topology();
        let ms = members(&t, &all_pods("a"), &revisions("b", "b"), Some(&healthy(&t)));
        let p = plan(&ms, 1);
        assert!(
            matches!(&p.steps[0], Step::Replace { name, primary: false, .. } if name == "c-shard-0-1")
        );
        assert_eq!(p.steps[1], Step::Queued { shard: 1 });
        // Nothing changed: nothing to do.
        let ms = members(&t, &all_pods("a"), &revisions("a", "a"), Some(&healthy(&t)));
        assert!(plan(&ms, 1).done());
    }

    #[test]
    fn a_deleted_or_missing_pod_is_waited_for_and_so_is_an_unsynced_replica() {
        let t = topology();
        let mut pods = all_pods("a");
        pods.get_mut("c-shard-0-1").unwrap().terminating = true;
        pods.remove("c-shard-1-1");
        let ms = members(&t, &pods, &revisions("b", "b"), Some(&healthy(&t)));
        assert_eq!(
            (
                ms[0][1].updated,
                ms[0][1].ready,
                ms[1][1].updated,
                ms[1][1].ready
            ),
            (true, false, true, false)
        );
        // Back at the new revision, Ready, but its node still syncing.
        pods.insert("c-shard-0-1".into(), pod("b"));
        let mut probes = healthy(&t);
        probes
            .get_mut("c-shard-0-1")
            .unwrap()
            .as_mut()
            .unwrap()
            .synced = false;
        let ms = members(&t, &pods, &revisions("b", "b"), Some(&probes));
        assert!(ms[0][1].updated && !ms[0][1].ready);
        let p = plan(&ms, 1);
        assert!(p.replacements().next().is_none(), "{p:?}");
    }

    #[test]
    fn a_node_answering_in_another_role_than_published_is_not_ready() {
        let t = topology();
        let mut probes = healthy(&t);
        // The primary already handed over but the topology is not read yet.
        probes
            .get_mut("c-shard-0-0")
            .unwrap()
            .as_mut()
            .unwrap()
            .primary = false;
        let ms = members(&t, &all_pods("a"), &revisions("a", "a"), Some(&probes));
        assert!(!ms[0][0].ready);
        // Without replicas nothing is probed: the pod's readiness decides.
        let ms = members(&t, &all_pods("a"), &revisions("a", "a"), None);
        assert!(ms.iter().flatten().all(|m| m.ready));
    }

    #[test]
    fn revisions_are_unknown_until_every_set_observed_its_spec() {
        let mut s = StatefulSet::default();
        s.metadata.name = Some("c-shard-0".into());
        s.metadata.generation = Some(2);
        s.status = Some(k8s_openapi::api::apps::v1::StatefulSetStatus {
            observed_generation: Some(1),
            update_revision: Some("b".into()),
            ..Default::default()
        });
        assert_eq!(update_revisions(std::slice::from_ref(&s)), None);
        s.status.as_mut().unwrap().observed_generation = Some(2);
        assert_eq!(
            update_revisions(&[s]),
            Some(HashMap::from([("c-shard-0".into(), "b".into())]))
        );
    }
}
