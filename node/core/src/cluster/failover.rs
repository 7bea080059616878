//! The failover decision: given a topology and what was last observed of each
//! node, which replica (if any) becomes its shard's primary. Pure, so every
//! situation is tested without processes; the one topology writer (the
//! operator in Kubernetes, `local-cluster`'s supervisor outside it) calls it
//! and publishes the result with the next epoch.
//!
//! Rules:
//! - A primary is lost when it has been unreachable for `down_after`
//!   continuously, or when one of its replicas reports that it came back
//!   without its data (it restarted empty under the same name).
//! - Only a reachable replica that completed a sync is promoted, never one still
//!   loading or one that never synced: promoting it would serve an empty or
//!   partial copy as the truth.
//! - Among those, the highest acknowledged offset wins (it holds every write
//!   any replica acknowledged, so every write `WAIT` confirmed), then the name.
//! - A planned handover — `CLUSTER FAILOVER` sent to a replica, or a primary
//!   shutting down (`shoal_leaving`) — promotes a replica within
//!   [`HANDOVER_LAG`] of a live primary. No write is lost to it: the old
//!   primary stops taking writes when it applies the new topology and sends
//!   its last ones and where they end, and the promoted replica serves only
//!   once it has them (see the node's `repl::HANDOVER`).
//! - One decision per shard; a shard with no candidate is reported, not touched.

use super::topology::{NodeAddr, Topology};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// What the writer last saw of one node.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Health {
    pub reachable: bool,
    /// How long it has been unreachable without a break (0 when reachable).
    pub down_ms: u64,
    /// It reports itself a primary.
    pub primary: bool,
    pub offset: u64,
    /// Completed a sync (replicas) — a primary always counts as synced.
    pub synced: bool,
    /// A replica whose primary came back empty.
    pub primary_lost_data: bool,
    /// `CLUSTER FAILOVER` was sent to this replica.
    pub failover_requested: bool,
    /// A primary shutting down, asking for a replica's promotion.
    pub leaving: bool,
    /// A primary holding its keys back until its replicas report (INFO
    /// `shoal_held`): it does not serve yet.
    pub held: bool,
}

/// How far behind its primary (in stream bytes, as probed) a replica may be
/// to be promoted by a planned handover: it catches up before it serves, so
/// this bounds that wait, not what is kept.
pub const HANDOVER_LAG: u64 = 1 << 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Unreachable this long, a primary is lost.
    pub down_after_ms: u64,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            down_after_ms: 1000,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    PrimaryDown,
    PrimaryLostData,
    Requested,
    /// The primary is shutting down.
    Leaving,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Promote `replica` to primary of `shard`.
    Promote {
        shard: usize,
        replica: String,
        reason: Reason,
    },
    /// The primary is lost and no replica may take over.
    Stuck { shard: usize, why: String },
}

/// Decides for every shard of `topology`.
pub fn decide(
    topology: &Topology,
    health: &HashMap<String, Health>,
    policy: Policy,
) -> Vec<Verdict> {
    let mut out = Vec::new();
    for (i, shard) in topology.shards.iter().enumerate() {
        if let Some(v) = decide_shard(i, &shard.primary, &shard.replicas, health, policy) {
            out.push(v);
        }
    }
    out
}

fn decide_shard(
    shard: usize,
    primary: &NodeAddr,
    replicas: &[NodeAddr],
    health: &HashMap<String, Health>,
    policy: Policy,
) -> Option<Verdict> {
    let p = health.get(&primary.name)?;
    let seen: Vec<(&NodeAddr, &Health)> = replicas
        .iter()
        .filter_map(|r| health.get(&r.name).map(|h| (r, h)))
        .collect();
    let eligible = |h: &Health| h.reachable && h.synced && !h.primary;
    let best = || {
        seen.iter()
            .filter(|(_, h)| eligible(h))
            .max_by(|(a, ha), (b, hb)| ha.offset.cmp(&hb.offset).then_with(|| b.name.cmp(&a.name)))
            .map(|(r, _)| r.name.clone())
    };
    let reason = if !p.reachable && p.down_ms >= policy.down_after_ms {
        Some(Reason::PrimaryDown)
    } else if p.reachable && seen.iter().any(|(_, h)| h.reachable && h.primary_lost_data) {
        Some(Reason::PrimaryLostData)
    } else {
        None
    };
    if let Some(reason) = reason {
        return Some(match best() {
            Some(replica) => Verdict::Promote {
                shard,
                replica,
                reason,
            },
            None => Verdict::Stuck {
                shard,
                why: format!(
                    "primary {} is lost ({reason:?}) and no reachable replica has completed a sync",
                    primary.name
                ),
            },
        });
    }
    // Planned handovers: the old primary is live and hands its last writes over.
    if !p.reachable || !p.primary {
        return None;
    }
    let close = |h: &Health| eligible(h) && h.offset.saturating_add(HANDOVER_LAG) >= p.offset;
    if let Some((r, _)) = seen.iter().find(|(_, h)| h.failover_requested && close(h)) {
        return Some(Verdict::Promote {
            shard,
            replica: r.name.clone(),
            reason: Reason::Requested,
        });
    }
    if !p.leaving {
        return None;
    }
    seen.iter()
        .filter(|(_, h)| close(h))
        .max_by(|(a, ha), (b, hb)| ha.offset.cmp(&hb.offset).then_with(|| b.name.cmp(&a.name)))
        .map(|(r, _)| Verdict::Promote {
            shard,
            replica: r.name.clone(),
            reason: Reason::Leaving,
        })
}

/// The topology after promoting `replica` in `shard`: the old primary becomes
/// its replica (it resyncs when it comes back), at the next epoch.
pub fn promote(topology: &Topology, shard: usize, replica: &str) -> Option<Topology> {
    let mut next = topology.clone();
    let s = next.shards.get_mut(shard)?;
    let pos = s.replicas.iter().position(|r| r.name == replica)?;
    let new_primary = s.replicas.remove(pos);
    let old = std::mem::replace(&mut s.primary, new_primary);
    s.replicas.push(old);
    next.epoch = topology.epoch.checked_add(1)?;
    Some(next)
}

/// Failover across probe rounds, for a topology's single writer: how long
/// each node has been unreachable, which shards are settling after a
/// promotion (their nodes have not all seen the new epoch yet, so what they
/// report is stale), and which blocked shards were already reported.
#[derive(Debug, Default)]
pub struct Tracker {
    policy: Policy,
    down_since: HashMap<String, Instant>,
    settling_until: HashMap<usize, Instant>,
    stuck_reported: HashMap<usize, String>,
}

/// What one round decided.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Round {
    /// The topology to publish, when something was promoted.
    pub next: Option<Topology>,
    /// (shard, promoted replica, why).
    pub promoted: Vec<(usize, String, Reason)>,
    /// Shards whose primary is lost with no replica to take over.
    pub stuck: Vec<usize>,
    /// Of those, the ones not reported before or for a new reason: (shard, why).
    pub newly_stuck: Vec<(usize, String)>,
}

/// After a promotion, a shard is left alone this long.
pub const SETTLE: Duration = Duration::from_secs(2);

impl Tracker {
    pub fn new(policy: Policy) -> Tracker {
        Tracker {
            policy,
            ..Tracker::default()
        }
    }

    /// One round: `probes` maps node names to what a probe read (None when
    /// unreachable); nodes missing from it are unknown and never failed over.
    /// `requested` names replicas a user asked to promote, as if they had been
    /// sent `CLUSTER FAILOVER`.
    pub fn round(
        &mut self,
        topology: &Topology,
        probes: HashMap<String, Option<Health>>,
        requested: &[String],
        now: Instant,
    ) -> Round {
        let mut health = HashMap::with_capacity(probes.len());
        for (name, probe) in probes {
            let h = match probe {
                Some(mut h) => {
                    self.down_since.remove(&name);
                    h.failover_requested |= requested.contains(&name);
                    h
                }
                None => {
                    let since = *self.down_since.entry(name.clone()).or_insert(now);
                    Health {
                        down_ms: now.duration_since(since).as_millis() as u64,
                        ..Health::default()
                    }
                }
            };
            health.insert(name, h);
        }
        let mut round = Round::default();
        let mut next = topology.clone();
        for v in decide(topology, &health, self.policy) {
            match v {
                Verdict::Promote {
                    shard,
                    replica,
                    reason,
                } => {
                    if self.settling_until.get(&shard).is_some_and(|t| now < *t) {
                        continue;
                    }
                    if let Some(t) = promote(&next, shard, &replica) {
                        next = t;
                        next.epoch = topology.epoch.saturating_add(1);
                        self.settling_until.insert(shard, now + SETTLE);
                        round.promoted.push((shard, replica, reason));
                    }
                }
                Verdict::Stuck { shard, why } => {
                    if self.stuck_reported.get(&shard) != Some(&why) {
                        self.stuck_reported.insert(shard, why.clone());
                        round.newly_stuck.push((shard, why));
                    }
                    round.stuck.push(shard);
                }
            }
        }
        self.stuck_reported.retain(|s, _| round.stuck.contains(s));
        if !round.promoted.is_empty() {
            round.next = Some(next);
        }
        round
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topo() -> Topology {
        Topology::even(7, 2, 2, |s, r| NodeAddr {
            name: format!("n{s}-{r}"),
            host: "127.0.0.1".into(),
            port: 7000 + (s * 10 + r) as u16,
        })
    }

    fn up(primary: bool, offset: u64) -> Health {
        Health {
            reachable: true,
            primary,
            offset,
            synced: true,
            ..Health::default()
        }
    }

    fn down(ms: u64) -> Health {
        Health {
            reachable: false,
            down_ms: ms,
            ..Health::default()
        }
    }

    fn healthy() -> HashMap<String, Health> {
        let mut h = HashMap::new();
        for s in 0..2 {
            h.insert(format!("n{s}-0"), up(true, 100));
            h.insert(format!("n{s}-1"), up(false, 100));
            h.insert(format!("n{s}-2"), up(false, 100));
        }
        h
    }

    const P: Policy = Policy {
        down_after_ms: 1000,
    };

    #[test]
    fn a_healthy_cluster_is_left_alone() {
        assert_eq!(decide(&topo(), &healthy(), P), vec![]);
        // Nothing known yet about a primary: no decision on guesswork.
        let mut h = healthy();
        h.remove("n0-0");
        assert_eq!(decide(&topo(), &h, P), vec![]);
    }

    #[test]
    fn a_lost_primary_is_replaced_by_the_most_advanced_synced_replica() {
        let mut h = healthy();
        h.insert("n0-0".into(), down(1500));
        h.insert("n0-1".into(), up(false, 90));
        h.insert("n0-2".into(), up(false, 95));
        assert_eq!(
            decide(&topo(), &h, P),
            vec![Verdict::Promote {
                shard: 0,
                replica: "n0-2".into(),
                reason: Reason::PrimaryDown
            }]
        );
        // Equal offsets: the name decides, so every writer picks the same one.
        h.insert("n0-2".into(), up(false, 90));
        assert!(
            matches!(&decide(&topo(), &h, P)[0], Verdict::Promote { replica, .. } if replica == "n0-1")
        );
    }

    #[test]
    fn a_short_outage_or_flapping_does_not_fail_over() {
        let mut h = healthy();
        h.insert("n1-0".into(), down(999));
        assert_eq!(decide(&topo(), &h, P), vec![]);
        // Answering again resets the clock: the writer passes down_ms = 0.
        h.insert("n1-0".into(), up(true, 100));
        assert_eq!(decide(&topo(), &h, P), vec![]);
    }

    #[test]
    fn replicas_that_never_synced_are_never_promoted() {
        let mut h = healthy();
        h.insert("n0-0".into(), down(5000));
        let mut loading = up(false, 500);
        loading.synced = false;
        h.insert("n0-1".into(), loading);
        h.insert("n0-2".into(), down(5000));
        assert!(matches!(
            &decide(&topo(), &h, P)[0],
            Verdict::Stuck { shard: 0, .. }
        ));
        // A lagging but synced replica is still better than none.
        h.insert("n0-2".into(), up(false, 3));
        assert!(
            matches!(&decide(&topo(), &h, P)[0], Verdict::Promote { replica, .. } if replica == "n0-2")
        );
    }

    #[test]
    fn two_failures_in_a_shard_leave_it_stuck_and_others_unaffected() {
        let mut h = healthy();
        h.insert("n0-0".into(), down(5000));
        h.insert("n0-1".into(), down(5000));
        h.insert("n0-2".into(), down(5000));
        h.insert("n1-0".into(), down(5000));
        let v = decide(&topo(), &h, P);
        assert_eq!(v.len(), 2);
        assert!(matches!(&v[0], Verdict::Stuck { shard: 0, .. }));
        assert!(matches!(&v[1], Verdict::Promote { shard: 1, replica, .. } if replica == "n1-1"));
    }

    #[test]
    fn a_primary_back_without_its_data_is_replaced() {
        let mut h = healthy();
        // Restarted empty: reachable, offset 0, and its replica refuses it.
        h.insert("n1-0".into(), up(true, 0));
        let mut keeper = up(false, 100);
        keeper.primary_lost_data = true;
        h.insert("n1-2".into(), keeper);
        h.insert("n1-1".into(), up(false, 80));
        assert_eq!(
            decide(&topo(), &h, P),
            vec![Verdict::Promote {
                shard: 1,
                replica: "n1-2".into(),
                reason: Reason::PrimaryLostData
            }]
        );
    }

    #[test]
    fn a_requested_failover_waits_for_the_replica_to_come_close() {
        let mut h = healthy();
        h.insert("n0-0".into(), up(true, HANDOVER_LAG + 90));
        let mut asked = up(false, 89);
        asked.failover_requested = true;
        h.insert("n0-1".into(), asked.clone());
        assert_eq!(decide(&topo(), &h, P), vec![], "too far behind");
        // Within the lag it is promoted: it catches up before serving.
        asked.offset = 90;
        h.insert("n0-1".into(), asked.clone());
        let promoted = |replica: &str, reason| {
            vec![Verdict::Promote {
                shard: 0,
                replica: replica.into(),
                reason,
            }]
        };
        assert_eq!(decide(&topo(), &h, P), promoted("n0-1", Reason::Requested));
        // Never while unsynced, or when the primary cannot hand over.
        asked.synced = false;
        h.insert("n0-1".into(), asked.clone());
        assert_eq!(decide(&topo(), &h, P), vec![]);
        asked.synced = true;
        h.insert("n0-1".into(), asked);
        h.insert("n0-0".into(), down(10));
        assert_eq!(decide(&topo(), &h, P), vec![], "not down long enough yet");
    }

    #[test]
    fn a_leaving_primary_hands_over_to_its_closest_replica() {
        let mut h = healthy();
        let mut leaving = up(true, 100);
        leaving.leaving = true;
        h.insert("n1-0".into(), leaving);
        h.insert("n1-1".into(), up(false, 95));
        h.insert("n1-2".into(), up(false, 99));
        let promoted = |replica: &str| {
            vec![Verdict::Promote {
                shard: 1,
                replica: replica.into(),
                reason: Reason::Leaving,
            }]
        };
        assert_eq!(decide(&topo(), &h, P), promoted("n1-2"));
        // An unsynced or unreachable replica is passed over; none left: no
        // verdict (the primary exits and is then failed over, or is alone).
        let mut unsynced = up(false, 100);
        unsynced.synced = false;
        h.insert("n1-2".into(), unsynced);
        assert_eq!(decide(&topo(), &h, P), promoted("n1-1"));
        h.insert("n1-1".into(), down(5));
        assert_eq!(decide(&topo(), &h, P), vec![]);
        // A replica flagged as leaving is nothing to act on.
        let mut h = healthy();
        let mut replica = up(false, 100);
        replica.leaving = true;
        h.insert("n1-1".into(), replica);
        assert_eq!(decide(&topo(), &h, P), vec![]);
    }

    #[test]
    fn promotion_swaps_roles_at_the_next_epoch() {
        let t = topo();
        let next = promote(&t, 1, "n1-2").unwrap();
        assert_eq!(next.epoch, t.epoch + 1);
        assert_eq!(next.shards[1].primary.name, "n1-2");
        let names: Vec<&str> = next.shards[1]
            .replicas
            .iter()
            .map(|r| r.name.as_str())
            .collect();
        assert_eq!(names, ["n1-1", "n1-0"]);
        assert_eq!(next.shards[0], t.shards[0]);
        assert_eq!(next.shards[1].slots, t.shards[1].slots);
        next.check().unwrap();
        assert!(promote(&t, 1, "n0-1").is_none());
        assert!(promote(&t, 9, "n1-1").is_none());
    }

    fn probes(
        h: &HashMap<String, Health>,
        unreachable: &[&str],
    ) -> HashMap<String, Option<Health>> {
        h.iter()
            .map(|(n, h)| {
                let seen = (!unreachable.contains(&n.as_str())).then(|| h.clone());
                (n.clone(), seen)
            })
            .collect()
    }

    #[test]
    fn the_tracker_times_outages_and_lets_a_promoted_shard_settle() {
        let t = topo();
        let mut tracker = Tracker::new(P);
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut h = healthy();
        h.get_mut("n1-2").unwrap().offset = 150;
        // Down, but not for long enough; then back: the clock starts over.
        assert_eq!(
            tracker.round(&t, probes(&h, &["n1-0"]), &[], ms(0)),
            Round::default()
        );
        assert_eq!(
            tracker.round(&t, probes(&h, &[]), &[], ms(900)),
            Round::default()
        );
        assert_eq!(
            tracker.round(&t, probes(&h, &["n1-0"]), &[], ms(1000)),
            Round::default()
        );
        assert_eq!(
            tracker.round(&t, probes(&h, &["n1-0"]), &[], ms(1900)),
            Round::default()
        );
        let r = tracker.round(&t, probes(&h, &["n1-0"]), &[], ms(2000));
        assert_eq!(
            r.promoted,
            vec![(1, "n1-2".to_string(), Reason::PrimaryDown)]
        );
        let next = r.next.unwrap();
        assert_eq!(next.epoch, 8);
        assert_eq!(next.shards[1].primary.name, "n1-2");
        assert_eq!(next.shards[0], t.shards[0]);
        // The old topology read again before the new one landed: no second
        // promotion while the shard settles, and one after if still needed.
        let again = tracker.round(&t, probes(&h, &["n1-0"]), &[], ms(2000) + SETTLE / 2);
        assert_eq!(again, Round::default());
        let later = tracker.round(&t, probes(&h, &["n1-0"]), &[], ms(2000) + SETTLE);
        assert_eq!(later.promoted.len(), 1);
    }

    #[test]
    fn the_tracker_reports_a_stuck_shard_once_and_honours_requests() {
        let t = topo();
        let mut tracker = Tracker::new(P);
        let t0 = Instant::now();
        let down = ["n0-0", "n0-1", "n0-2"];
        assert!(tracker
            .round(&t, probes(&healthy(), &down), &[], t0)
            .stuck
            .is_empty());
        let at = t0 + Duration::from_millis(1500);
        let r = tracker.round(&t, probes(&healthy(), &down), &[], at);
        assert_eq!(r.stuck, vec![0]);
        assert_eq!(r.newly_stuck.len(), 1);
        assert!(r.newly_stuck[0].1.contains("n0-0"), "{:?}", r.newly_stuck);
        let r = tracker.round(&t, probes(&healthy(), &down), &[], at);
        assert_eq!(r.stuck, vec![0]);
        assert!(r.newly_stuck.is_empty());
        // Shard 0 recovers; a user asks for n1-1 (caught up) to take over.
        let r = tracker.round(&t, probes(&healthy(), &[]), &["n1-1".to_string()], at);
        assert!(r.stuck.is_empty());
        assert_eq!(r.promoted, vec![(1, "n1-1".to_string(), Reason::Requested)]);
        // An unknown name asks for nothing.
        let mut fresh = Tracker::new(P);
        let r = fresh.round(&t, probes(&healthy(), &[]), &["n9-9".to_string()], at);
        assert_eq!(r, Round::default());
    }
}
