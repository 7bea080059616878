//! The topology document: which shard owns which slots, and which nodes (by name
//! and stable address) are each shard's primary and replicas, at an epoch.
//!
//! The operator computes it and publishes it in a ConfigMap; outside Kubernetes
//! it is a file. Either way nodes accept a document only when its epoch is newer
//! than the one they hold ([`decide`]), so a late or replayed copy never rolls
//! ownership back.

use super::slot::{SlotRange, SLOTS};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// A node as clients and peers reach it. `name` is its identity (the pod name in
/// Kubernetes); `host` is a stable DNS name or address, never a pod IP.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeAddr {
    pub name: String,
    pub host: String,
    pub port: u16,
}

impl NodeAddr {
    /// The 40-hex-character node id clients see (CLUSTER NODES, SLOTS, SHARDS,
    /// MYID): derived from the name, so it survives restarts and reschedules.
    pub fn id(&self) -> String {
        sha1_smol::Sha1::from(self.name.as_bytes())
            .digest()
            .to_string()
    }

    /// `host:port`, as MOVED and ASK name a node.
    pub fn endpoint(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Slots of a shard being copied to another shard (step 2 of a resize, see
/// `reshard`): the source keeps serving them while the target copies a
/// snapshot and follows the writes; the copy is invisible until cutover.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Migration {
    pub slots: SlotRange,
    /// Index of the receiving shard.
    pub to: usize,
}

/// Slots a shard owns since the cutover of a resize (step 3), and the shard
/// they came from: the new owner serves them once the old one has said where
/// its last write to them is in its stream, and has sent everything before.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Import {
    pub slots: SlotRange,
    /// Index of the shard that owned them.
    pub from: usize,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shard {
    pub slots: Vec<SlotRange>,
    pub primary: NodeAddr,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replicas: Vec<NodeAddr>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub migrating: Vec<Migration>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub importing: Vec<Import>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Topology {
    /// Grows with every change of ownership; 0 is never valid.
    pub epoch: u64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cluster: String,
    pub shards: Vec<Shard>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopologyError {
    #[error("topology is not valid YAML or JSON: {0}")]
    Parse(String),
    #[error("topology epoch must be at least 1")]
    ZeroEpoch,
    #[error("topology has no shards")]
    NoShards,
    #[error("topology has {0} shards; at most 16384 can own slots")]
    TooManyShards(usize),
    #[error("slot {slot} is claimed by shards {first} and {second}")]
    Overlap {
        slot: u16,
        first: usize,
        second: usize,
    },
    #[error("node name {0:?} appears more than once")]
    DuplicateNode(String),
    #[error("node {0:?} has an empty name or host, or port 0")]
    BadNode(String),
    #[error("shard {shard} migrates slots {slots} it does not own, or to shard {to} that does not exist or is itself")]
    BadMigration {
        shard: usize,
        slots: SlotRange,
        to: usize,
    },
    #[error("shard {shard} imports slots {slots} it does not own, or from shard {from} that does not exist or is itself")]
    BadImport {
        shard: usize,
        slots: SlotRange,
        from: usize,
    },
}

impl Topology {
    pub fn parse(text: &str) -> Result<Topology, TopologyError> {
        let t: Topology =
            serde_yaml::from_str(text).map_err(|e| TopologyError::Parse(e.to_string()))?;
        t.check()?;
        Ok(t)
    }

    pub fn to_yaml(&self) -> String {
        serde_yaml::to_string(self).expect("a topology serializes")
    }

    /// Every node, primaries first in shard order, then replicas.
    pub fn nodes(&self) -> impl Iterator<Item = (usize, &NodeAddr, bool)> {
        let primaries = self
            .shards
            .iter()
            .enumerate()
            .map(|(i, s)| (i, &s.primary, true));
        let replicas = self
            .shards
            .iter()
            .enumerate()
            .flat_map(|(i, s)| s.replicas.iter().map(move |r| (i, r, false)));
        primaries.chain(replicas)
    }

    /// Checks what makes a document unusable: no epoch, overlapping slots, nodes
    /// that cannot be told apart or reached, migrations that make no sense.
    /// Unassigned slots are allowed: they are reported as not served.
    pub fn check(&self) -> Result<(), TopologyError> {
        if self.epoch == 0 {
            return Err(TopologyError::ZeroEpoch);
        }
        if self.shards.is_empty() {
            return Err(TopologyError::NoShards);
        }
        // Shard indexes are stored in 16 bits, u16::MAX meaning unowned.
        if self.shards.len() >= usize::from(UNOWNED) {
            return Err(TopologyError::TooManyShards(self.shards.len()));
        }
        let mut names = HashSet::new();
        for (_, n, _) in self.nodes() {
            if n.name.is_empty() || n.host.is_empty() || n.port == 0 {
                return Err(TopologyError::BadNode(n.name.clone()));
            }
            if !names.insert(n.name.as_str()) {
                return Err(TopologyError::DuplicateNode(n.name.clone()));
            }
        }
        let owners = self.owners()?;
        for (i, s) in self.shards.iter().enumerate() {
            for m in &s.migrating {
                let owned =
                    (m.slots.start..=m.slots.end).all(|slot| owners[usize::from(slot)] == i as u16);
                if !owned || m.to >= self.shards.len() || m.to == i {
                    return Err(TopologyError::BadMigration {
                        shard: i,
                        slots: m.slots,
                        to: m.to,
                    });
                }
            }
            for m in &s.importing {
                let owned =
                    (m.slots.start..=m.slots.end).all(|slot| owners[usize::from(slot)] == i as u16);
                if !owned || m.from >= self.shards.len() || m.from == i {
                    return Err(TopologyError::BadImport {
                        shard: i,
                        slots: m.slots,
                        from: m.from,
                    });
                }
            }
        }
        Ok(())
    }

    /// The owning shard of every slot ([`UNOWNED`] when none).
    fn owners(&self) -> Result<Box<[u16]>, TopologyError> {
        let mut owners = vec![UNOWNED; usize::from(SLOTS)].into_boxed_slice();
        for (i, s) in self.shards.iter().enumerate() {
            for r in &s.slots {
                for slot in r.start..=r.end {
                    let o = &mut owners[usize::from(slot)];
                    if *o != UNOWNED && *o != i as u16 {
                        return Err(TopologyError::Overlap {
                            slot,
                            first: usize::from(*o),
                            second: i,
                        });
                    }
                    *o = i as u16;
                }
            }
        }
        Ok(owners)
    }

    /// An even split of the slots over `shards` shards, `replicas` replicas each,
    /// with node `n` (primaries first, then shard by shard) named and addressed by
    /// `node(n)`.
    pub fn even(
        epoch: u64,
        shards: usize,
        replicas: usize,
        mut node: impl FnMut(usize, usize) -> NodeAddr,
    ) -> Topology {
        Topology {
            epoch,
            cluster: String::new(),
            shards: (0..shards)
                .map(|s| Shard {
                    slots: vec![SlotRange::even_split(s as u32, shards as u32)],
                    primary: node(s, 0),
                    replicas: (1..=replicas).map(|r| node(s, r)).collect(),
                    migrating: Vec::new(),
                    importing: Vec::new(),
                })
                .collect(),
        }
    }
}

const UNOWNED: u16 = u16::MAX;

/// What to do with a document offered while `current` is held.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    Apply,
    /// Same epoch and content: nothing to do.
    Same,
    /// An older epoch, or the same epoch with other content: kept out.
    Refuse(String),
}

/// Newer epochs win; an older epoch never overrides a newer one, and two
/// different documents at one epoch mean a writer bug, so the first one stays.
pub fn decide(current: Option<&Topology>, next: &Topology) -> Decision {
    match current {
        None => Decision::Apply,
        Some(c) if next.epoch > c.epoch => Decision::Apply,
        Some(c) if next.epoch == c.epoch && next == c => Decision::Same,
        Some(c) if next.epoch == c.epoch => Decision::Refuse(format!(
            "a different topology with the current epoch {}",
            c.epoch
        )),
        Some(c) => Decision::Refuse(format!(
            "epoch {} is older than the current {}",
            next.epoch, c.epoch
        )),
    }
}

/// This node's place in a topology.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Me {
    pub shard: usize,
    pub primary: bool,
}

/// Where a keyed command runs.
#[derive(Debug, PartialEq, Eq)]
pub enum Route<'a> {
    Local,
    /// Owned here since a resize's cutover: served once the previous owner's
    /// last writes to the slot have arrived (the node knows; the view does not).
    Importing(u16),
    /// Owned by that node, and being copied here: a client sent here by an
    /// owner that has already handed it over (nodes apply a new topology a
    /// moment apart) is better served by a short wait than by a MOVED back.
    Incoming(u16, &'a NodeAddr),
    Moved(u16, &'a NodeAddr),
    /// The slot has no owner.
    Down,
}

/// A topology compiled for lookups, as one node sees it.
#[derive(Debug)]
pub struct View {
    pub topology: Topology,
    owners: Box<[u16]>,
    /// Per slot, the shard it is migrating to ([`UNOWNED`] when stable).
    migrating_to: Box<[u16]>,
    /// Per slot, the shard its owner imports it from ([`UNOWNED`] when stable).
    importing_from: Box<[u16]>,
    pub me: Option<Me>,
    pub my_name: String,
}

impl View {
    pub fn new(topology: Topology, my_name: &str) -> Result<View, TopologyError> {
        topology.check()?;
        let owners = topology.owners()?;
        let mut migrating_to = vec![UNOWNED; usize::from(SLOTS)].into_boxed_slice();
        let mut importing_from = vec![UNOWNED; usize::from(SLOTS)].into_boxed_slice();
        for s in &topology.shards {
            for m in &s.migrating {
                for slot in m.slots.start..=m.slots.end {
                    migrating_to[usize::from(slot)] = m.to as u16;
                }
            }
            for m in &s.importing {
                for slot in m.slots.start..=m.slots.end {
                    importing_from[usize::from(slot)] = m.from as u16;
                }
            }
        }
        let me = topology
            .nodes()
            .find(|(_, n, _)| n.name == my_name)
            .map(|(shard, _, primary)| Me { shard, primary });
        Ok(View {
            topology,
            owners,
            migrating_to,
            importing_from,
            me,
            my_name: my_name.to_string(),
        })
    }

    pub fn epoch(&self) -> u64 {
        self.topology.epoch
    }

    pub fn owner(&self, slot: u16) -> Option<usize> {
        match self.owners[usize::from(slot & (SLOTS - 1))] {
            UNOWNED => None,
            o => Some(usize::from(o)),
        }
    }

    /// The shard `slot` is being copied to (step 2 of a resize).
    pub fn migrating_to(&self, slot: u16) -> Option<usize> {
        match self.migrating_to[usize::from(slot & (SLOTS - 1))] {
            UNOWNED => None,
            o => Some(usize::from(o)),
        }
    }

    /// The shard `slot`'s owner imports it from (step 3 of a resize).
    pub fn importing_from(&self, slot: u16) -> Option<usize> {
        match self.importing_from[usize::from(slot & (SLOTS - 1))] {
            UNOWNED => None,
            o => Some(usize::from(o)),
        }
    }

    /// Whether a primary should hold keys of `slot`: it owns the slot, copies
    /// it in (a migration to its shard), or its shard gave it away and the new
    /// owner has not finished importing it. Everything else is left over from
    /// a resize (or an aborted one) and may be deleted. None when this node is
    /// not a primary the topology names: it then deletes nothing.
    pub fn keeps(&self, slot: u16) -> Option<bool> {
        let me = self.me.filter(|m| m.primary)?;
        let mine = |s: Option<usize>| s == Some(me.shard);
        Some(
            mine(self.owner(slot))
                || mine(self.migrating_to(slot))
                || mine(self.importing_from(slot)),
        )
    }

    /// Slots with an owner.
    pub fn assigned(&self) -> usize {
        self.owners.iter().filter(|&&o| o != UNOWNED).count()
    }

    /// The node this one is, when the topology names it.
    pub fn my_addr(&self) -> Option<&NodeAddr> {
        self.topology
            .nodes()
            .map(|(_, n, _)| n)
            .find(|n| n.name == self.my_name)
    }

    /// Whether the node can serve: the topology names it, and every slot has an
    /// owner.
    pub fn serving(&self) -> bool {
        self.me.is_some() && self.assigned() == usize::from(SLOTS)
    }

    /// Where a command whose keys all hash to `slot` runs. `replica_read`: a
    /// read a replica of the slot's shard may answer (READONLY client, synced
    /// replica). A slot being copied elsewhere is still served whole by its
    /// owner (the copy follows its writes), so there is no ASK: clients only
    /// ever see MOVED, once, at cutover.
    pub fn route(&self, slot: u16, replica_read: bool) -> Route<'_> {
        let Some(owner) = self.owner(slot) else {
            return Route::Down;
        };
        let shards = &self.topology.shards;
        let importing = self.importing_from(slot).is_some();
        match self.me {
            Some(me) if me.primary && me.shard == owner && importing => Route::Importing(slot),
            Some(me) if me.primary && me.shard == owner => Route::Local,
            Some(me) if !me.primary && me.shard == owner && replica_read && !importing => {
                Route::Local
            }
            Some(me) if me.primary && self.migrating_to(slot) == Some(me.shard) => {
                Route::Incoming(slot, &shards[owner].primary)
            }
            _ => Route::Moved(slot, &shards[owner].primary),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(s: usize, r: usize) -> NodeAddr {
        NodeAddr {
            name: format!("n{s}-{r}"),
            host: "127.0.0.1".into(),
            port: 7000 + (s * 10 + r) as u16,
        }
    }

    #[test]
    fn documents_round_trip_and_are_checked() {
        let t = Topology::even(3, 3, 1, node);
        let back = Topology::parse(&t.to_yaml()).unwrap();
        assert_eq!(back, t);
        let mut bad = t.clone();
        bad.epoch = 0;
        assert_eq!(bad.check(), Err(TopologyError::ZeroEpoch));
        let mut bad = t.clone();
        bad.shards[1].slots.push(SlotRange::new(0, 3));
        assert!(matches!(
            bad.check(),
            Err(TopologyError::Overlap {
                slot: 0,
                first: 0,
                second: 1
            })
        ));
        let mut bad = t.clone();
        bad.shards[2].replicas[0].name = "n0-0".into();
        assert_eq!(
            bad.check(),
            Err(TopologyError::DuplicateNode("n0-0".into()))
        );
        assert!(matches!(
            Topology::parse("epoch: 1\nshards: []\nextra: 1"),
            Err(TopologyError::Parse(_))
        ));
        let mut bad = t.clone();
        bad.shards[0].migrating.push(Migration {
            slots: SlotRange::new(6000, 6001),
            to: 1,
        });
        assert!(matches!(
            bad.check(),
            Err(TopologyError::BadMigration { .. })
        ));
        let mut bad = t.clone();
        bad.shards[0].importing.push(Import {
            slots: SlotRange::new(0, 1),
            from: 0,
        });
        assert!(matches!(bad.check(), Err(TopologyError::BadImport { .. })));
    }

    #[test]
    fn epochs_only_move_forward() {
        let t1 = Topology::even(1, 2, 0, node);
        let t2 = Topology {
            epoch: 2,
            ..t1.clone()
        };
        assert_eq!(decide(None, &t1), Decision::Apply);
        assert_eq!(decide(Some(&t1), &t2), Decision::Apply);
        assert_eq!(decide(Some(&t2), &t2.clone()), Decision::Same);
        assert!(matches!(decide(Some(&t2), &t1), Decision::Refuse(_)));
        let mut other = t2.clone();
        other.shards.swap(0, 1);
        assert!(matches!(decide(Some(&t2), &other), Decision::Refuse(_)));
    }

    #[test]
    fn routing_as_a_primary_a_replica_and_a_stranger() {
        let t = Topology::even(1, 3, 1, node);
        let primary = View::new(t.clone(), "n1-0").unwrap();
        let replica = View::new(t.clone(), "n1-1").unwrap();
        let stranger = View::new(t, "nobody").unwrap();
        assert_eq!(
            primary.me,
            Some(Me {
                shard: 1,
                primary: true
            })
        );
        assert_eq!(
            replica.me,
            Some(Me {
                shard: 1,
                primary: false
            })
        );
        assert_eq!(replica.my_addr().map(|n| n.port), Some(7011));
        assert!(primary.serving() && replica.serving() && !stranger.serving());
        assert_eq!(primary.route(6000, false), Route::Local);
        let moved = Route::Moved(6000, &primary.topology.shards[1].primary);
        assert_eq!(replica.route(6000, false), moved);
        // A synced replica answers READONLY reads for its own shard only.
        assert_eq!(replica.route(6000, true), Route::Local);
        assert_eq!(stranger.route(6000, true), moved);
        assert_eq!(stranger.route(6000, false), moved);
        assert!(matches!(primary.route(100, false), Route::Moved(100, n) if n.name == "n0-0"));
    }

    #[test]
    fn a_resize_moves_a_slot_with_one_moved_and_keeps_copies_until_done() {
        let mut t = Topology::even(4, 2, 1, node);
        t.shards[0].migrating.push(Migration {
            slots: SlotRange::new(10, 20),
            to: 1,
        });
        let source = View::new(t.clone(), "n0-0").unwrap();
        let target = View::new(t.clone(), "n1-0").unwrap();
        let target_replica = View::new(t.clone(), "n1-1").unwrap();
        // While the copy is made, the source serves the whole slot.
        assert_eq!(source.route(15, false), Route::Local);
        assert!(matches!(target.route(15, false), Route::Incoming(15, n) if n.name == "n0-0"));
        assert!(matches!(target_replica.route(15, true), Route::Moved(15, n) if n.name == "n0-0"));
        assert_eq!(
            (source.keeps(15), target.keeps(15)),
            (Some(true), Some(true))
        );
        assert_eq!(target.keeps(30), Some(false), "slot 30 is not coming here");
        assert_eq!(
            target_replica.keeps(15),
            None,
            "replicas follow their primary"
        );
        // Cutover: the target owns it and imports it; the source keeps its
        // copy until the import is done.
        t.epoch = 5;
        t.shards[0].migrating.clear();
        t.shards[0].slots = vec![SlotRange::new(0, 9), SlotRange::new(21, 8191)];
        t.shards[1].slots.push(SlotRange::new(10, 20));
        t.shards[1].importing.push(Import {
            slots: SlotRange::new(10, 20),
            from: 0,
        });
        let source = View::new(t.clone(), "n0-0").unwrap();
        let target = View::new(t.clone(), "n1-0").unwrap();
        let target_replica = View::new(t.clone(), "n1-1").unwrap();
        assert!(matches!(source.route(15, false), Route::Moved(15, n) if n.name == "n1-0"));
        assert_eq!(target.route(15, false), Route::Importing(15));
        assert!(matches!(target_replica.route(15, true), Route::Moved(15, n) if n.name == "n1-0"));
        assert_eq!(
            (source.keeps(15), target.keeps(15)),
            (Some(true), Some(true))
        );
        // Done: only the owner keeps it.
        t.epoch = 6;
        t.shards[1].importing.clear();
        let source = View::new(t.clone(), "n0-0").unwrap();
        let target = View::new(t, "n1-0").unwrap();
        assert_eq!(target.route(15, false), Route::Local);
        assert_eq!(
            (source.keeps(15), target.keeps(15)),
            (Some(false), Some(true))
        );
    }

    #[test]
    fn unassigned_slots_are_down() {
        let mut t = Topology::even(1, 2, 0, node);
        t.shards[1].slots.clear();
        let v = View::new(t, "n0-0").unwrap();
        assert!(!v.serving());
        assert_eq!(v.route(16000, false), Route::Down);
    }
}
