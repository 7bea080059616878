//! The rollout decision: given what was observed of every shard's members
//! (which are updated, which are ready), which node to replace next. Pure, so
//! every situation is tested without processes; the operator (pods of an
//! `OnDelete` StatefulSet) and `local-cluster --rolling-restart` (processes)
//! act on it.
//!
//! Rules, after Dragonfly's operator, for sharded clusters:
//! - Never touch a shard while one of its updated members is not ready: a
//!   node being replaced, restarting or resyncing. So two members of one
//!   shard are never down at once, and the next step waits for the last
//!   one's resync. A member not ready and not updated (crashing on an old
//!   revision, or stuck on a bad one a newer spec replaced) is replaced
//!   first: it serves nothing, and only a newer revision can mend it.
//! - In a shard, replicas first, one at a time; the primary last. Replacing
//!   the primary stops it with SIGTERM: it asks for the promotion of a synced
//!   replica (already updated) and hands over its last writes first, then
//!   rejoins as a replica.
//! - After a failover in the middle, roles are whatever they are now: a
//!   member not yet updated that became a replica goes first.
//! - At most `max_concurrent_shards` shards are between their first and last
//!   replacement; a shard with an unready member that nothing replaced
//!   (a pod crashing before the rollout) is waited on but does not count.

/// One member of a shard, as observed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    /// It serves as its shard's primary now.
    pub primary: bool,
    /// It runs the wanted revision (a pod of the StatefulSet's update
    /// revision; a process started since the rolling restart began).
    pub updated: bool,
    /// It serves: reachable, and synced if a replica (for a pod, also Ready).
    pub ready: bool,
}

/// What to do about one shard now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Stop (delete) this node so it comes back updated. `loses_data`: it is
    /// a primary with no ready replica to take over, so its keys go unless it
    /// restarts from a snapshot.
    Replace {
        shard: usize,
        name: String,
        primary: bool,
        loses_data: bool,
    },
    /// Wait for this member to become ready.
    Wait { shard: usize, name: String },
    /// Another shard is in progress and `max_concurrent_shards` is reached.
    Queued { shard: usize },
}

/// The decision for every shard: shards not listed are done.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub steps: Vec<Step>,
}

impl Plan {
    /// Every member of every shard is updated and ready.
    pub fn done(&self) -> bool {
        self.steps.is_empty()
    }

    pub fn replacements(&self) -> impl Iterator<Item = &Step> {
        self.steps
            .iter()
            .filter(|s| matches!(s, Step::Replace { .. }))
    }
}

/// How long each member the plans wait for has been waited for, across
/// rounds: a replaced node that does not come back is reported (the
/// operator) or ends the rolling restart (`local-cluster`).
#[derive(Debug, Default)]
pub struct Waits(std::collections::HashMap<String, std::time::Instant>);

impl Waits {
    /// Records the waits of `plan` at `now`, forgetting members it no longer
    /// waits for; returns each waited member (shard, name) with how long.
    pub fn update(
        &mut self,
        plan: &Plan,
        now: std::time::Instant,
    ) -> Vec<(usize, String, std::time::Duration)> {
        let waited: Vec<(usize, &String)> = plan
            .steps
            .iter()
            .filter_map(|s| match s {
                Step::Wait { shard, name } => Some((*shard, name)),
                _ => None,
            })
            .collect();
        self.0.retain(|n, _| waited.iter().any(|(_, w)| *w == n));
        waited
            .into_iter()
            .map(|(shard, name)| {
                let since = *self.0.entry(name.clone()).or_insert(now);
                (shard, name.clone(), now.duration_since(since))
            })
            .collect()
    }
}

/// Each shard's members, its primary first, as `observe` sees each node
/// (`true`: the topology names it primary).
pub fn observe(
    t: &super::Topology,
    mut observe: impl FnMut(&super::NodeAddr, bool) -> Member,
) -> Vec<Vec<Member>> {
    t.shards
        .iter()
        .map(|s| {
            std::iter::once((&s.primary, true))
                .chain(s.replicas.iter().map(|r| (r, false)))
                .map(|(n, primary)| observe(n, primary))
                .collect()
        })
        .collect()
}

/// What a replacement means, for logs and events.
pub fn describe(primary: bool, loses_data: bool) -> &'static str {
    match (primary, loses_data) {
        (false, _) => "a replica",
        (true, false) => "the primary: it hands over to an updated replica",
        (true, true) => {
            "the shard's only serving node: its keys are lost unless it restarts from a snapshot"
        }
    }
}

/// Counts, for status: (updated members, all members).
pub fn progress(shards: &[Vec<Member>]) -> (usize, usize) {
    let all = shards.iter().map(Vec::len).sum();
    let updated = shards.iter().flatten().filter(|m| m.updated).count();
    (updated, all)
}

/// Decides the next step of each shard (see the module's rules).
pub fn plan(shards: &[Vec<Member>], max_concurrent_shards: usize) -> Plan {
    let started = |ms: &[Member]| ms.iter().any(|m| m.updated) && ms.iter().any(|m| !m.updated);
    let finished = |ms: &[Member]| ms.iter().all(|m| m.updated && m.ready);
    // In progress: some members replaced, or a replaced one not back yet.
    let active = |ms: &[Member]| started(ms) || (ms.iter().any(|m| m.updated) && !finished(ms));
    let mut busy = shards.iter().filter(|ms| active(ms)).count();
    let mut steps = Vec::new();
    for (shard, ms) in shards.iter().enumerate() {
        if finished(ms) || ms.is_empty() {
            continue;
        }
        if let Some(m) = ms.iter().find(|m| !m.ready && m.updated) {
            steps.push(Step::Wait {
                shard,
                name: m.name.clone(),
            });
            continue;
        }
        // Every updated member is ready, and some are not updated.
        if !active(ms) {
            if busy >= max_concurrent_shards.max(1) {
                steps.push(Step::Queued { shard });
                continue;
            }
            busy += 1;
        }
        let next = ms
            .iter()
            .find(|m| !m.ready)
            .or_else(|| ms.iter().find(|m| !m.updated && !m.primary))
            .or_else(|| ms.iter().find(|m| !m.updated))
            .expect("a shard not finished with every updated member ready has one not updated");
        steps.push(Step::Replace {
            shard,
            name: next.name.clone(),
            primary: next.primary,
            loses_data: next.primary && !ms.iter().any(|m| !m.primary && m.ready),
        });
    }
    Plan { steps }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn m(name: &str, primary: bool, updated: bool, ready: bool) -> Member {
        Member {
            name: name.into(),
            primary,
            updated,
            ready,
        }
    }

    fn fresh(shards: usize, replicas: usize) -> Vec<Vec<Member>> {
        (0..shards)
            .map(|s| {
                (0..=replicas)
                    .map(|r| m(&format!("s{s}-{r}"), r == 0, false, true))
                    .collect()
            })
            .collect()
    }

    fn replaced(p: &Plan) -> Vec<&str> {
        p.replacements()
            .map(|s| match s {
                Step::Replace { name, .. } => name.as_str(),
                _ => unreachable!(),
            })
            .collect()
    }

    #[test]
    fn a_fresh_rollout_starts_with_one_replica_of_the_first_shard() {
        let p = plan(&fresh(3, 1), 1);
        assert_eq!(replaced(&p), ["s0-1"]);
        assert_eq!(
            p.steps[1..],
            [Step::Queued { shard: 1 }, Step::Queued { shard: 2 }]
        );
        let p = plan(&fresh(3, 1), 2);
        assert_eq!(replaced(&p), ["s0-1", "s1-1"]);
    }

    #[test]
    fn a_replaced_member_is_waited_for_before_anything_else_in_its_shard() {
        let mut s = fresh(2, 2);
        s[0][1] = m("s0-1", false, true, false);
        let p = plan(&s, 1);
        assert_eq!(
            p.steps,
            [
                Step::Wait {
                    shard: 0,
                    name: "s0-1".into()
                },
                Step::Queued { shard: 1 }
            ]
        );
        // Back and synced: the next replica, still not the primary.
        s[0][1].ready = true;
        assert_eq!(replaced(&plan(&s, 1)), ["s0-2"]);
        s[0][2] = m("s0-2", false, true, true);
        let p = plan(&s, 1);
        assert_eq!(
            p.steps[0],
            Step::Replace {
                shard: 0,
                name: "s0-0".into(),
                primary: true,
                loses_data: false
            }
        );
    }

    #[test]
    fn after_the_primary_hands_over_the_shard_is_done_and_the_next_begins() {
        let mut s = fresh(2, 1);
        // The old primary was replaced: the updated replica took over, the
        // old one came back (updated) as its replica.
        s[0] = vec![m("s0-0", false, true, true), m("s0-1", true, true, true)];
        let p = plan(&s, 1);
        assert_eq!(replaced(&p), ["s1-1"]);
        s[1] = vec![m("s1-0", false, true, true), m("s1-1", true, true, true)];
        assert!(plan(&s, 1).done());
    }

    #[test]
    fn a_failover_in_the_middle_replaces_the_old_primary_as_a_replica() {
        // s0-0 (not updated) lost its role to the updated s0-2 meanwhile.
        let s = vec![vec![
            m("s0-0", false, false, true),
            m("s0-1", false, false, true),
            m("s0-2", true, true, true),
        ]];
        assert_eq!(replaced(&plan(&s, 1)), ["s0-0"]);
    }

    #[test]
    fn a_shard_without_replicas_is_replaced_and_says_it_loses_its_keys() {
        let p = plan(&fresh(1, 0), 1);
        assert_eq!(
            p.steps,
            [Step::Replace {
                shard: 0,
                name: "s0-0".into(),
                primary: true,
                loses_data: true
            }]
        );
    }

    #[test]
    fn a_stuck_pod_holds_its_shard_and_the_concurrency_limit() {
        let mut s = fresh(3, 1);
        s[0][1] = m("s0-1", false, true, false);
        let p = plan(&s, 1);
        assert!(replaced(&p).is_empty());
        assert!(p.steps.contains(&Step::Queued { shard: 2 }));
        // A member down before anything was replaced (crashing on the old
        // revision) is replaced first.
        let mut s = fresh(2, 1);
        s[0][1].ready = false;
        let p = plan(&s, 1);
        assert_eq!(replaced(&p), ["s0-1"]);
        assert_eq!(p.steps[1], Step::Queued { shard: 1 });
        // A primary down with its replica not ready either: replaced, and
        // said to lose its keys.
        let mut s = fresh(1, 1);
        s[0][0].ready = false;
        s[0][1].ready = false;
        assert!(matches!(
            &plan(&s, 1).steps[0],
            Step::Replace { name, loses_data: true, .. } if name == "s0-0"
        ));
    }

    #[test]
    fn a_newer_revision_supersedes_a_pod_stuck_on_the_last_one() {
        // s0-1 runs a bad revision and never becomes ready: waited on.
        let mut s = fresh(2, 1);
        s[0][1] = m("s0-1", false, true, false);
        assert!(replaced(&plan(&s, 1)).is_empty());
        // A newer spec: nothing runs it; the stuck pod goes first, the
        // shard's primary only once it is back.
        for x in s.iter_mut().flatten() {
            x.updated = false;
        }
        let p = plan(&s, 1);
        assert_eq!(replaced(&p), ["s0-1"]);
        assert_eq!(p.steps[1], Step::Queued { shard: 1 });
    }

    #[test]
    fn waits_count_from_the_first_round_and_restart_when_the_wait_ends() {
        let t0 = std::time::Instant::now();
        let wait = |name: &str| Plan {
            steps: vec![Step::Wait {
                shard: 0,
                name: name.into(),
            }],
        };
        let mut w = Waits::default();
        let s = std::time::Duration::from_secs;
        assert_eq!(w.update(&wait("a"), t0), [(0, "a".into(), s(0))]);
        assert_eq!(w.update(&wait("a"), t0 + s(5)), [(0, "a".into(), s(5))]);
        // No longer waited for: forgotten, so a later wait starts again.
        assert!(w.update(&Plan::default(), t0 + s(6)).is_empty());
        assert_eq!(w.update(&wait("a"), t0 + s(7)), [(0, "a".into(), s(0))]);
    }

    #[test]
    fn progress_counts_updated_members() {
        let mut s = fresh(2, 1);
        s[1][0].updated = true;
        assert_eq!(progress(&s), (1, 4));
    }

    fn arb_shards() -> impl Strategy<Value = Vec<Vec<Member>>> {
        prop::collection::vec(
            (
                0usize..3,
                prop::collection::vec((any::<bool>(), any::<bool>()), 3),
            ),
            1..5,
        )
        .prop_map(|shards| {
            shards
                .into_iter()
                .enumerate()
                .map(|(s, (primary, flags))| {
                    flags
                        .into_iter()
                        .enumerate()
                        .map(|(i, (updated, ready))| {
                            m(&format!("s{s}-{i}"), i == primary, updated, ready)
                        })
                        .collect()
                })
                .collect()
        })
    }

    proptest! {
        /// Whatever was observed: at most one replacement per shard, only
        /// in a shard whose members all serve, a replica before any primary,
        /// never a member already updated, and no more shards in progress
        /// than allowed.
        #[test]
        fn replacements_are_safe(s in arb_shards(), max in 1usize..3) {
            let p = plan(&s, max);
            let mut shards_seen = std::collections::HashSet::new();
            for step in p.replacements() {
                let Step::Replace { shard, name, primary, .. } = step else { unreachable!() };
                prop_assert!(shards_seen.insert(*shard));
                let ms = &s[*shard];
                // Never a second member down: every other member serves,
                // or the one replaced serves nothing already.
                prop_assert!(ms.iter().all(|m| m.ready || !m.updated));
                let me = ms.iter().find(|m| &m.name == name).unwrap();
                prop_assert!(!me.updated);
                prop_assert_eq!(me.primary, *primary);
                if me.ready {
                    prop_assert!(ms.iter().all(|m| m.ready));
                }
                if *primary && me.ready {
                    prop_assert!(ms.iter().all(|m| m.primary || m.updated));
                }
            }
            let in_progress = s.iter().enumerate().filter(|(i, ms)| {
                let upd = ms.iter().filter(|m| m.updated).count();
                let finished = ms.iter().all(|m| m.updated && m.ready);
                (upd > 0 && !finished) || shards_seen.contains(i)
            }).count();
            let already = s.iter().filter(|ms| {
                let upd = ms.iter().filter(|m| m.updated).count();
                upd > 0 && !ms.iter().all(|m| m.updated && m.ready)
            }).count();
            prop_assert!(in_progress <= max.max(already));
            // Done exactly when everything is updated and ready.
            prop_assert_eq!(p.done(), s.iter().flatten().all(|m| m.updated && m.ready));
        }
    }
}
