//! The status a cluster reports, computed from what was observed. Pure, so every
//! combination of shard states is tested without a cluster.

use crate::crd::{CacheCluster, CacheClusterStatus, Phase, ShardStatus};
use crate::render::Names;
use crate::topology::shard_slots;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use shoal_core::cluster::reshard::{self, Step};
use shoal_core::cluster::Topology;

/// What reconcile observed, besides the cluster itself.
#[derive(Default)]
pub struct Observed<'a> {
    /// The cluster's StatefulSets as read back (with their status); None when they
    /// could not be read, in which case the last reported readiness is kept.
    pub stateful_sets: Option<&'a [StatefulSet]>,
    /// Why reconciling failed, if it did: (reason, message).
    pub error: Option<(&'a str, String)>,
    /// The Secret holding the password, when auth is on.
    pub auth_secret: Option<String>,
    /// The topology just published, for its epoch and roles; None when none
    /// was, in which case the last reported epoch and primaries stay.
    pub topology: Option<&'a Topology>,
}

fn condition(type_: &str, ok: bool, reason: &str, message: String) -> Condition {
    Condition {
        type_: type_.into(),
        status: if ok { "True" } else { "False" }.into(),
        reason: reason.into(),
        message,
        last_transition_time: Time(jiff::Timestamp::UNIX_EPOCH),
        observed_generation: None,
    }
}

/// Keeps a condition's transition time when its status did not change.
fn stamp(
    mut c: Condition,
    previous: &[Condition],
    now: &Time,
    generation: Option<i64>,
) -> Condition {
    c.observed_generation = generation;
    c.last_transition_time = previous
        .iter()
        .find(|p| p.type_ == c.type_ && p.status == c.status)
        .map_or_else(|| now.clone(), |p| p.last_transition_time.clone());
    c
}

pub fn compute(cc: &CacheCluster, observed: &Observed<'_>, now: Time) -> CacheClusterStatus {
    let previous = cc.status.clone().unwrap_or_default();
    let name = cc.metadata.name.clone().unwrap_or_default();
    let names = Names(&name);
    // During a resize the topology names more (or fewer) shards than the spec.
    let shards = observed
        .topology
        .map_or(previous.shards.len() as i32, |t| t.shards.len() as i32)
        .max(cc.spec.shards.max(0));
    let per_shard = cc.pods_per_shard();
    let mut shard_status = Vec::new();
    let mut rolling = false;
    let mut updated_total = 0;
    let mut in_progress = None;
    for i in 0..shards {
        let sts_name = names.shard(i);
        let ready = match observed.stateful_sets {
            // Unknown: keep what was reported last, and what it said about rollout.
            None => {
                let prev = previous.shards.iter().find(|p| p.index == i);
                rolling |= previous
                    .conditions
                    .iter()
                    .any(|c| c.type_ == "Progressing" && c.status == "True")
                    || prev.is_none();
                prev.map_or(0, |p| p.ready_replicas)
            }
            Some(sets) => {
                let sts = sets
                    .iter()
                    .find(|s| s.metadata.name.as_deref() == Some(&sts_name));
                let st = sts.and_then(|s| s.status.as_ref());
                let ready = st.and_then(|s| s.ready_replicas).unwrap_or(0);
                let updated = st.and_then(|s| s.updated_replicas).unwrap_or(0);
                let stale = match (
                    sts.and_then(|s| s.metadata.generation),
                    st.and_then(|s| s.observed_generation),
                ) {
                    (Some(g), Some(o)) => o < g,
                    (Some(_), None) => true,
                    _ => false,
                };
                // With `OnDelete` the controller never moves
                // currentRevision (kubernetes#73492): updatedReplicas, which it
                // does keep, says how far a rollout got.
                let busy = sts.is_none() || ready < per_shard || updated < per_shard || stale;
                rolling |= busy;
                updated_total += updated;
                if busy && in_progress.is_none() {
                    in_progress = Some(i);
                }
                ready
            }
        };
        shard_status.push(ShardStatus {
            index: i,
            stateful_set: sts_name,
            // A failover may have promoted another pod than the first.
            primary: observed
                .topology
                .and_then(|t| t.shards.get(i as usize))
                .map(|s| s.primary.name.clone())
                .or_else(|| {
                    let prev = previous.shards.iter().find(|p| p.index == i);
                    prev.map(|p| p.primary.clone())
                })
                .unwrap_or_else(|| names.shard_primary(i)),
            slots: match observed.topology {
                Some(t) => shard_slots(t, i as usize),
                // Not published yet: what the first document gives it.
                None => previous
                    .shards
                    .iter()
                    .find(|p| p.index == i)
                    .map(|p| p.slots.clone())
                    .unwrap_or_else(|| {
                        shoal_core::cluster::slot::SlotRange::even_split(i as u32, shards as u32)
                            .to_string()
                    }),
            },
            replicas: per_shard,
            ready_replicas: ready,
        });
    }
    let serving = shard_status.iter().filter(|s| s.ready_replicas > 0).count() as i32;
    let ready_total: i32 = shard_status.iter().map(|s| s.ready_replicas).sum();
    let available = serving == shards && shards > 0;

    let phase = if observed.error.is_some() {
        Phase::Degraded
    } else if available {
        Phase::Running
    } else if serving > 0 {
        Phase::Degraded
    } else {
        Phase::Pending
    };
    let phase = if cc.spec.paused && observed.error.is_none() {
        Phase::Paused
    } else {
        phase
    };

    let available_c = if available {
        condition(
            "Available",
            true,
            "AllShardsServing",
            format!("{shards} of {shards} shards have a ready primary"),
        )
    } else {
        condition(
            "Available",
            false,
            "ShardsUnavailable",
            format!("{serving} of {shards} shards have a ready pod"),
        )
    };
    let progressing_c = if cc.spec.paused {
        condition("Progressing", false, "Paused", "spec.paused is set".into())
    } else if rolling {
        condition(
            "Progressing",
            true,
            "RollingOut",
            match (observed.stateful_sets, in_progress) {
                (Some(_), Some(shard)) => format!(
                    "{updated_total} of {all} pods updated, {ready_total} ready; shard {shard} in progress",
                    all = shards * per_shard
                ),
                _ => format!(
                    "{ready_total} of {} pods ready and up to date",
                    shards * per_shard
                ),
            },
        )
    } else {
        condition(
            "Progressing",
            false,
            "Stable",
            "every pod is ready and up to date".into(),
        )
    };
    let degraded_c = match &observed.error {
        Some((reason, message)) => condition("Degraded", true, reason, message.clone()),
        None if !available && serving > 0 => condition(
            "Degraded",
            true,
            "ShardUnavailable",
            format!("{} shards have no ready pod", shards - serving),
        ),
        None => condition("Degraded", false, "AsExpected", "no problem found".into()),
    };
    let resharding_c = match observed.topology {
        Some(t) => resharding(t, cc.spec.shards.max(0) as usize),
        // Unknown: what was reported last.
        None => previous
            .conditions
            .iter()
            .find(|c| c.type_ == "Resharding")
            .cloned()
            .unwrap_or_else(|| {
                condition(
                    "Resharding",
                    false,
                    "Stable",
                    "no resize in progress".into(),
                )
            }),
    };
    let durable_c = durable(cc);
    let generation = cc.metadata.generation;
    let conditions = [
        available_c,
        progressing_c,
        degraded_c,
        resharding_c,
        durable_c,
    ]
    .into_iter()
    .map(|c| stamp(c, &previous.conditions, &now, generation))
    .collect();

    // The topology module decides epochs; status reports the published one.
    let epoch = observed
        .topology
        .map_or(previous.epoch, |t| t.epoch as i64)
        .max(previous.epoch);

    CacheClusterStatus {
        phase: Some(phase),
        observed_generation: generation,
        replicas: shards * per_shard,
        ready_replicas: ready_total,
        shards: shard_status,
        epoch,
        auth_secret: observed.auth_secret.clone(),
        conditions,
    }
}

/// The `Durable` condition: whether a pod's restart (a rollout, a drain, a
/// crash) keeps its shard's keys, by a replica taking over or a snapshot.
pub fn durable(cc: &CacheCluster) -> Condition {
    let snapshots = cc.spec.persistence.as_ref().is_some_and(|p| p.enabled);
    match (cc.spec.replicas_per_shard > 0, snapshots) {
        (true, _) => condition(
            "Durable",
            true,
            "Replicated",
            format!(
                "each shard has {} replica(s): a restarted primary hands over to one",
                cc.spec.replicas_per_shard
            ),
        ),
        (false, true) => condition(
            "Durable",
            true,
            "Snapshots",
            "shards have no replica; each pod writes a snapshot to its volume on SIGTERM and loads it at start".into(),
        ),
        (false, false) => condition(
            "Durable",
            false,
            "Ephemeral",
            "shards have no replica and no persistence: a restart of a pod (rollout, drain, crash) empties its shard; set replicasPerShard or persistence".into(),
        ),
    }
}

/// The `Resharding` condition: which step of a resize `t` is at, towards the
/// spec's `shards`, with the slots it moves.
pub fn resharding(t: &Topology, shards: usize) -> Condition {
    let slots = |moves: &[reshard::Move]| moves.iter().map(|m| m.slots.len()).sum::<usize>();
    match reshard::next_step(t, shards) {
        Ok(Step::Done) => condition(
            "Resharding",
            false,
            "Stable",
            format!("{} shards, no resize in progress", t.shards.len()),
        ),
        Ok(Step::AddShards(n)) => condition(
            "Resharding",
            true,
            "AddingShards",
            format!("{n} new shard(s) join with no slots"),
        ),
        Ok(Step::Begin(moves)) => condition(
            "Resharding",
            true,
            "WaitingForPods",
            format!(
                "0 of {} slots moved: waiting for every shard's pods before copying {} range(s)",
                slots(&moves),
                moves.len()
            ),
        ),
        Ok(Step::Copying(moves)) => condition(
            "Resharding",
            true,
            "Copying",
            format!(
                "0 of {} slots moved: their new shards copy them and follow their writes",
                slots(&moves)
            ),
        ),
        Ok(Step::Importing(moves)) => condition(
            "Resharding",
            true,
            "HandingOver",
            format!(
                "{0} of {0} slots moved: waiting for their new owners (and replicas) to confirm",
                slots(&moves)
            ),
        ),
        Ok(Step::RemoveShards) => condition(
            "Resharding",
            true,
            "RemovingShards",
            format!(
                "{} emptied shard(s) leave",
                t.shards.len().saturating_sub(shards)
            ),
        ),
        Err(e) => condition("Resharding", false, "Invalid", e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::CacheClusterSpec;
    use k8s_openapi::api::apps::v1::StatefulSetStatus;

    fn cluster(shards: i32, replicas: i32) -> CacheCluster {
        let mut cc = CacheCluster::new(
            "cache",
            serde_json::from_value::<CacheClusterSpec>(
                serde_json::json!({"shards": shards, "replicasPerShard": replicas}),
            )
            .unwrap(),
        );
        cc.metadata.generation = Some(3);
        cc
    }

    fn sts(name: &str, ready: i32, updated: i32) -> StatefulSet {
        let mut s = StatefulSet::default();
        s.metadata.name = Some(name.into());
        s.metadata.generation = Some(1);
        s.status = Some(StatefulSetStatus {
            ready_replicas: Some(ready),
            updated_replicas: Some(updated),
            observed_generation: Some(1),
            replicas: ready,
            ..StatefulSetStatus::default()
        });
        s
    }

    fn now() -> Time {
        Time(jiff::Timestamp::from_second(1_800_000_000).unwrap())
    }

    /// Status for these StatefulSets and nothing else observed.
    fn with_sets(cc: &CacheCluster, sets: &[StatefulSet]) -> CacheClusterStatus {
        let observed = Observed {
            stateful_sets: Some(sets),
            ..Observed::default()
        };
        compute(cc, &observed, now())
    }

    fn cond<'a>(s: &'a CacheClusterStatus, t: &str) -> &'a Condition {
        s.conditions.iter().find(|c| c.type_ == t).unwrap()
    }

    #[test]
    fn fresh_cluster_is_pending_and_progressing() {
        let cc = cluster(3, 1);
        let s = compute(&cc, &Observed::default(), now());
        assert_eq!(s.phase, Some(Phase::Pending));
        assert_eq!(s.replicas, 6);
        assert_eq!(s.ready_replicas, 0);
        assert_eq!(cond(&s, "Available").status, "False");
        assert_eq!(cond(&s, "Progressing").status, "True");
        assert_eq!(cond(&s, "Degraded").status, "False");
        assert_eq!(s.epoch, 0, "no topology published yet");
        assert_eq!(s.observed_generation, Some(3));
        assert_eq!(s.shards[1].slots, "5462-10922");
        assert_eq!(s.shards[2].primary, "cache-shard-2-0");
    }

    #[test]
    fn a_resize_shows_its_step_and_the_slots_each_shard_owns() {
        use shoal_core::cluster::reshard;
        let ns = "apps";
        let t = crate::topology::document(&cluster(2, 0), ns, 3, None);
        let at = |cc: &CacheCluster, t: &Topology| {
            let observed = Observed {
                topology: Some(t),
                ..Observed::default()
            };
            compute(cc, &observed, now())
        };
        let s = at(&cluster(2, 0), &t);
        assert_eq!(cond(&s, "Resharding").status, "False");
        let grow = cluster(3, 0);
        assert_eq!(cond(&at(&grow, &t), "Resharding").reason, "AddingShards");
        let added = reshard::add_shards(&t, vec![crate::topology::shard_nodes(&grow, ns, 2)]);
        let s = at(&grow, &added);
        assert_eq!(cond(&s, "Resharding").reason, "WaitingForPods");
        assert_eq!(s.shards.len(), 3);
        assert_eq!(
            s.shards[2].slots, "",
            "a new shard owns nothing until cutover"
        );
        let owned: Vec<_> = added.shards.iter().map(|s| s.slots.clone()).collect();
        let begun = reshard::begin(&added, &reshard::plan(&owned, 3).unwrap());
        let c = cond(&at(&grow, &begun), "Resharding").clone();
        assert_eq!((c.status.as_str(), c.reason.as_str()), ("True", "Copying"));
        assert!(c.message.contains("0 of 5461 slots moved"), "{}", c.message);
        let cut = reshard::cutover(&begun);
        let s = at(&grow, &cut);
        assert_eq!(cond(&s, "Resharding").reason, "HandingOver");
        assert_eq!(s.shards[0].slots, "0-5461");
        assert_eq!(s.shards[2].slots, "5462-8191,13653-16383");
        // Shrinking back: the leaving shard is listed until it is removed.
        let done = reshard::finish(&cut);
        let shrink = cluster(2, 0);
        let s = at(&shrink, &done);
        assert_eq!(s.shards.len(), 3);
        assert_eq!(cond(&s, "Resharding").reason, "WaitingForPods");
    }

    #[test]
    fn all_ready_is_running_and_stable() {
        let cc = cluster(2, 1);
        let sets = [sts("cache-shard-0", 2, 2), sts("cache-shard-1", 2, 2)];
        let s = with_sets(&cc, &sets);
        assert_eq!(s.phase, Some(Phase::Running));
        assert_eq!(s.ready_replicas, 4);
        assert_eq!(cond(&s, "Available").status, "True");
        assert_eq!(cond(&s, "Progressing").reason, "Stable");
    }

    #[test]
    fn a_shard_without_ready_pods_degrades_the_cluster() {
        let cc = cluster(2, 1);
        let sets = [sts("cache-shard-0", 2, 2), sts("cache-shard-1", 0, 2)];
        let s = with_sets(&cc, &sets);
        assert_eq!(s.phase, Some(Phase::Degraded));
        assert_eq!(cond(&s, "Degraded").reason, "ShardUnavailable");
        assert_eq!(cond(&s, "Available").status, "False");
    }

    #[test]
    fn a_rolling_shard_still_serves() {
        let cc = cluster(1, 2);
        let sets = [sts("cache-shard-0", 2, 1)];
        let s = with_sets(&cc, &sets);
        assert_eq!(s.phase, Some(Phase::Running));
        assert_eq!(cond(&s, "Progressing").status, "True");
        assert_eq!(
            cond(&s, "Progressing").message,
            "1 of 3 pods updated, 2 ready; shard 0 in progress"
        );
    }

    #[test]
    fn a_cluster_without_replicas_or_persistence_is_said_to_lose_keys_on_restart() {
        let s = with_sets(&cluster(1, 0), &[]);
        assert_eq!(cond(&s, "Durable").status, "False");
        assert_eq!(cond(&s, "Durable").reason, "Ephemeral");
        assert_eq!(
            cond(&with_sets(&cluster(1, 1), &[]), "Durable").reason,
            "Replicated"
        );
        let mut cc = cluster(1, 0);
        cc.spec.persistence = serde_json::from_value(serde_json::json!({})).unwrap();
        assert_eq!(cond(&with_sets(&cc, &[]), "Durable").reason, "Snapshots");
    }

    #[test]
    fn an_on_delete_rollout_is_done_when_every_pod_is_updated_whatever_current_revision_says() {
        let cc = cluster(2, 1);
        let mut sets = [sts("cache-shard-0", 2, 2), sts("cache-shard-1", 2, 2)];
        for s in &mut sets {
            let st = s.status.as_mut().unwrap();
            st.current_revision = Some("old".into());
            st.update_revision = Some("new".into());
        }
        let s = with_sets(&cc, &sets);
        assert_eq!(cond(&s, "Progressing").status, "False");
        sets[1].status.as_mut().unwrap().updated_replicas = Some(1);
        let s = with_sets(&cc, &sets);
        assert_eq!(
            cond(&s, "Progressing").message,
            "3 of 4 pods updated, 4 ready; shard 1 in progress"
        );
    }

    #[test]
    fn errors_show_as_degraded_with_their_reason() {
        let cc = cluster(1, 0);
        let obs = Observed {
            error: Some(("SecretMissing", "Secret x not found".into())),
            ..Observed::default()
        };
        let s = compute(&cc, &obs, now());
        assert_eq!(s.phase, Some(Phase::Degraded));
        let d = cond(&s, "Degraded");
        assert_eq!(
            (d.status.as_str(), d.reason.as_str(), d.message.as_str()),
            ("True", "SecretMissing", "Secret x not found")
        );
    }

    #[test]
    fn unknown_readiness_keeps_the_last_report() {
        let mut cc = cluster(2, 0);
        let sets = [sts("cache-shard-0", 1, 1), sts("cache-shard-1", 1, 1)];
        cc.status = Some(with_sets(&cc, &sets));
        let obs = Observed {
            error: Some(("KubernetesAPIError", "timeout".into())),
            ..Observed::default()
        };
        let s = compute(&cc, &obs, now());
        assert_eq!(
            s.ready_replicas, 2,
            "an API hiccup does not make a serving cluster look empty"
        );
        assert_eq!(cond(&s, "Available").status, "True");
        assert_eq!(s.phase, Some(Phase::Degraded));
    }

    #[test]
    fn paused_wins() {
        let mut cc = cluster(1, 0);
        cc.spec.paused = true;
        let sets = [sts("cache-shard-0", 1, 1)];
        let s = with_sets(&cc, &sets);
        assert_eq!(
            s.ready_replicas, 1,
            "a paused cluster still reports what runs"
        );
        assert_eq!(s.phase, Some(Phase::Paused));
        assert_eq!(cond(&s, "Progressing").reason, "Paused");
    }

    #[test]
    fn transition_times_move_only_on_change_and_epoch_follows_the_published_one() {
        let mut cc = cluster(1, 1);
        let first = compute(&cc, &Observed::default(), now());
        cc.status = Some(first.clone());
        let later = Time(jiff::Timestamp::from_second(1_800_000_100).unwrap());
        let same = compute(&cc, &Observed::default(), later.clone());
        assert_eq!(cond(&same, "Available").last_transition_time, now());
        let sets = [sts("cache-shard-0", 1, 1)];
        let changed = compute(
            &cc,
            &Observed {
                stateful_sets: Some(&sets),
                ..Observed::default()
            },
            later.clone(),
        );
        assert_eq!(cond(&changed, "Available").last_transition_time, later);
        let first = crate::topology::document(&cc, "apps", 1, None);
        let promoted = shoal_core::cluster::failover::promote(&first, 0, "cache-shard-0-1");
        let promoted = promoted.expect("shard 0 has a replica");
        let published = Observed {
            topology: Some(&promoted),
            ..Observed::default()
        };
        let changed = compute(&cc, &published, later.clone());
        assert_eq!(changed.epoch, 2);
        assert_eq!(
            changed.shards[0].primary, "cache-shard-0-1",
            "after a failover"
        );
        cc.status = Some(changed);
        let kept = compute(&cc, &Observed::default(), later.clone());
        assert_eq!(kept.epoch, 2, "a failed reconcile keeps the epoch");
        assert_eq!(
            kept.shards[0].primary, "cache-shard-0-1",
            "and the primaries"
        );
        let stale = Observed {
            topology: Some(&first),
            ..Observed::default()
        };
        assert_eq!(compute(&cc, &stale, later).epoch, 2, "never backwards");
    }
}
