//! Resizing a cluster: which slots move where ([`plan`]), and the topology
//! documents a resize goes through, each at the next epoch. All pure, so the
//! coordinator (the operator, or `local-cluster --reshard`) only publishes what
//! these return and waits for the nodes to report.
//!
//! A resize, as in Valkey 9's atomic slot migration:
//! 1. [`add_shards`]: new shards join owning nothing (their pods are ready
//!    before any slot is published for them).
//! 2. [`begin`]: each moving range is marked `migrating` on its source; the
//!    target copies a snapshot of the range and then follows the writes to it.
//!    The source keeps serving the range; the copy stays invisible.
//! 3. [`cutover`]: the range changes owner and is marked `importing` on the
//!    target. The source stops taking writes to it the moment it applies the
//!    document, and tells the target the offset of its last write; the target
//!    serves the range once it has applied up to there.
//! 4. [`finish`]: the marks go; the source deletes its copy.
//! 5. [`remove_empty`]: shards that own nothing after a shrink leave.
//!
//! A resize stopped before step 3 rolls back by [`abort`] (the source never
//! stopped owning its slots); from step 3 on it only goes forward.

use super::slot::{SlotRange, SLOTS};
use super::topology::{Import, Migration, NodeAddr, Shard, Topology};

/// Slots `slots` move from shard `from` to shard `to`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Move {
    pub slots: SlotRange,
    pub from: usize,
    pub to: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("a cluster needs at least one shard")]
    NoShards,
    #[error("{0} shards cannot each own a slot (at most {SLOTS})")]
    TooManyShards(usize),
    #[error("slot {0} has no owner; a resize needs every slot served")]
    Unowned(u16),
    #[error("a migration is already in progress")]
    InProgress,
}

/// The fewest slot moves that leave `shards` shards each owning 16384/shards
/// slots, give or take one. `owned[i]` is what shard `i` owns now; shards at
/// `shards` and beyond are emptied, shards beyond `owned` start empty. A shard
/// only gives (it owns more than its share) or only takes; what it gives comes
/// off the top of its slots, so the ranges stay few.
pub fn plan(owned: &[Vec<SlotRange>], shards: usize) -> Result<Vec<Move>, PlanError> {
    if shards == 0 {
        return Err(PlanError::NoShards);
    }
    if shards > usize::from(SLOTS) {
        return Err(PlanError::TooManyShards(shards));
    }
    let n = owned.len().max(shards);
    let mut slots: Vec<Vec<u16>> = vec![Vec::new(); n];
    let mut seen = vec![false; usize::from(SLOTS)];
    for (i, ranges) in owned.iter().enumerate() {
        for r in ranges {
            for s in r.start..=r.end {
                seen[usize::from(s)] = true;
                slots[i].push(s);
            }
        }
        slots[i].sort_unstable();
    }
    if let Some(s) = seen.iter().position(|&b| !b) {
        return Err(PlanError::Unowned(s as u16));
    }
    let quota = quotas(&slots.iter().map(Vec::len).collect::<Vec<_>>(), shards);
    // Every slot a shard gives, lowest first, with its giver.
    let mut given: Vec<(u16, usize)> = Vec::new();
    for (i, s) in slots.iter().enumerate() {
        let extra = s.len().saturating_sub(quota[i]);
        given.extend(s[s.len() - extra..].iter().map(|&slot| (slot, i)));
    }
    given.sort_unstable();
    let mut takers = (0..n).flat_map(|i| {
        let need = quota[i].saturating_sub(slots[i].len());
        std::iter::repeat_n(i, need)
    });
    let mut moves: Vec<Move> = Vec::new();
    for (slot, from) in given {
        let to = takers.next().expect("what is given is taken: totals agree");
        match moves.last_mut() {
            Some(m) if m.from == from && m.to == to && m.slots.end + 1 == slot => {
                m.slots.end = slot
            }
            _ => moves.push(Move {
                slots: SlotRange::new(slot, slot),
                from,
                to,
            }),
        }
    }
    Ok(moves)
}

/// Each shard's share: 16384/shards, the remainder going one each to the
/// shards that own the most now (fewest moves), none to shards that leave.
fn quotas(have: &[usize], shards: usize) -> Vec<usize> {
    let total = usize::from(SLOTS);
    let mut quota: Vec<usize> = (0..have.len())
        .map(|i| if i < shards { total / shards } else { 0 })
        .collect();
    let mut by_size: Vec<usize> = (0..shards).collect();
    by_size.sort_by_key(|&i| (std::cmp::Reverse(have[i]), i));
    for &i in by_size.iter().take(total % shards) {
        quota[i] += 1;
    }
    quota
}

/// `ranges` with `slots` removed (or added), merged and in order.
fn normalize(mut slots: Vec<u16>) -> Vec<SlotRange> {
    slots.sort_unstable();
    slots.dedup();
    let mut out: Vec<SlotRange> = Vec::new();
    for s in slots {
        match out.last_mut() {
            Some(r) if r.end + 1 == s => r.end = s,
            _ => out.push(SlotRange::new(s, s)),
        }
    }
    out
}

fn expand(ranges: &[SlotRange]) -> Vec<u16> {
    ranges.iter().flat_map(|r| r.start..=r.end).collect()
}

/// What each shard owns once `moves` are done.
pub fn owners_after(owned: &[Vec<SlotRange>], moves: &[Move]) -> Vec<Vec<SlotRange>> {
    let n = moves
        .iter()
        .map(|m| m.to.max(m.from) + 1)
        .max()
        .unwrap_or(0)
        .max(owned.len());
    let mut slots: Vec<Vec<u16>> = (0..n)
        .map(|i| owned.get(i).map(|r| expand(r)).unwrap_or_default())
        .collect();
    for m in moves {
        slots[m.from].retain(|s| !m.slots.contains(*s));
        slots[m.to].extend(m.slots.start..=m.slots.end);
    }
    slots.into_iter().map(normalize).collect()
}

/// What a coordinator does next to bring `t` to `shards` shards. Decided from
/// the document alone, so a coordinator that restarts (or a new operator
/// leader) continues where the last one stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Start this many new shards' nodes, then publish [`add_shards`].
    AddShards(usize),
    /// Publish [`begin`] with these moves.
    Begin(Vec<Move>),
    /// Wait until every target follows its source's writes, then publish
    /// [`cutover`] (or [`abort`]).
    Copying(Vec<Move>),
    /// Wait until every target has its ranges (released and on its
    /// replicas), then publish [`finish`].
    Importing(Vec<Move>),
    /// Publish [`remove_empty`], then stop the removed shards' nodes.
    RemoveShards,
    Done,
}

/// The next step from `t` towards `shards` shards.
pub fn next_step(t: &Topology, shards: usize) -> Result<Step, PlanError> {
    let copying = marked(t);
    if !copying.is_empty() {
        return Ok(Step::Copying(copying));
    }
    let mut importing: Vec<Move> = t
        .shards
        .iter()
        .enumerate()
        .flat_map(|(to, s)| {
            s.importing.iter().map(move |m| Move {
                slots: m.slots,
                from: m.from,
                to,
            })
        })
        .collect();
    if !importing.is_empty() {
        importing.sort();
        return Ok(Step::Importing(importing));
    }
    if t.shards.len() < shards {
        return Ok(Step::AddShards(shards - t.shards.len()));
    }
    let owned: Vec<Vec<SlotRange>> = t.shards.iter().map(|s| s.slots.clone()).collect();
    let moves = plan(&owned, shards)?;
    if !moves.is_empty() {
        return Ok(Step::Begin(moves));
    }
    if t.shards.len() > shards {
        return Ok(Step::RemoveShards);
    }
    Ok(Step::Done)
}

/// Whether a resize is under way in `t` (a mark of step 2 or 3 is present).
pub fn in_progress(t: &Topology) -> bool {
    t.shards
        .iter()
        .any(|s| !s.migrating.is_empty() || !s.importing.is_empty())
}

/// Step 1: shards that own nothing join, one per entry of `nodes` (its
/// primary first, then its replicas).
pub fn add_shards(t: &Topology, nodes: Vec<Vec<NodeAddr>>) -> Topology {
    let mut next = t.clone();
    next.epoch += 1;
    for mut group in nodes {
        let primary = group.remove(0);
        next.shards.push(Shard {
            slots: Vec::new(),
            primary,
            replicas: group,
            migrating: Vec::new(),
            importing: Vec::new(),
        });
    }
    next
}

/// Step 2: every move is marked on its source.
pub fn begin(t: &Topology, moves: &[Move]) -> Topology {
    let mut next = t.clone();
    next.epoch += 1;
    for m in moves {
        next.shards[m.from].migrating.push(Migration {
            slots: m.slots,
            to: m.to,
        });
    }
    next
}

/// The moves step 2 marked in `t`.
pub fn marked(t: &Topology) -> Vec<Move> {
    let mut moves: Vec<Move> = t
        .shards
        .iter()
        .enumerate()
        .flat_map(|(from, s)| {
            s.migrating.iter().map(move |m| Move {
                slots: m.slots,
                from,
                to: m.to,
            })
        })
        .collect();
    moves.sort();
    moves
}

/// Step 3: the marked ranges change owner, and the targets are told where
/// each came from.
pub fn cutover(t: &Topology) -> Topology {
    let moves = marked(t);
    let owned: Vec<Vec<SlotRange>> = t.shards.iter().map(|s| s.slots.clone()).collect();
    let after = owners_after(&owned, &moves);
    let mut next = t.clone();
    next.epoch += 1;
    for (s, slots) in next.shards.iter_mut().zip(after) {
        s.slots = slots;
        s.migrating.clear();
    }
    for m in moves {
        next.shards[m.to].importing.push(Import {
            slots: m.slots,
            from: m.from,
        });
    }
    next
}

/// Step 4: the marks of step 3 go.
pub fn finish(t: &Topology) -> Topology {
    let mut next = t.clone();
    next.epoch += 1;
    for s in &mut next.shards {
        s.importing.clear();
    }
    next
}

/// Undoes step 2: the marks go, nothing changed owner.
pub fn abort(t: &Topology) -> Topology {
    let mut next = t.clone();
    next.epoch += 1;
    for s in &mut next.shards {
        s.migrating.clear();
    }
    next
}

/// Step 5: shards from `shards` on leave; None if one of them still owns a
/// slot or takes part in a migration.
pub fn remove_empty(t: &Topology, shards: usize) -> Option<Topology> {
    if t.shards.len() <= shards {
        return None;
    }
    if t.shards[shards..].iter().any(|s| !s.slots.is_empty()) || in_progress(t) {
        return None;
    }
    let mut next = t.clone();
    next.epoch += 1;
    next.shards.truncate(shards);
    Some(next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn even(n: usize) -> Vec<Vec<SlotRange>> {
        (0..n)
            .map(|i| vec![SlotRange::even_split(i as u32, n as u32)])
            .collect()
    }

    fn counts(owned: &[Vec<SlotRange>]) -> Vec<usize> {
        owned
            .iter()
            .map(|r| r.iter().map(SlotRange::len).sum())
            .collect()
    }

    fn node(s: usize, r: usize) -> NodeAddr {
        NodeAddr {
            name: format!("n{s}-{r}"),
            host: "127.0.0.1".into(),
            port: 7000 + (s * 10 + r) as u16,
        }
    }

    /// Checks what every plan must satisfy, and returns the moved slot count.
    fn check(owned: &[Vec<SlotRange>], shards: usize) -> usize {
        let moves = plan(owned, shards).unwrap();
        let after = owners_after(owned, &moves);
        // Every slot owned exactly once.
        let mut owner = vec![usize::MAX; usize::from(SLOTS)];
        for (i, ranges) in after.iter().enumerate() {
            for s in expand(ranges) {
                assert_eq!(owner[usize::from(s)], usize::MAX, "slot {s} owned twice");
                owner[usize::from(s)] = i;
            }
        }
        assert!(
            owner.iter().all(|&o| o != usize::MAX),
            "a slot lost its owner"
        );
        // Balanced within one slot; leaving shards own nothing.
        let c = counts(&after);
        let kept = &c[..shards];
        let (lo, hi) = (kept.iter().min().unwrap(), kept.iter().max().unwrap());
        assert!(hi - lo <= 1, "unbalanced: {c:?}");
        assert!(c[shards..].iter().all(|&n| n == 0), "{c:?}");
        // Minimal: what moves is exactly what shards own above their share.
        let before = counts(owned);
        let q = quotas(
            &(0..after.len())
                .map(|i| before.get(i).copied().unwrap_or(0))
                .collect::<Vec<_>>(),
            shards,
        );
        let excess: usize = (0..after.len())
            .map(|i| before.get(i).copied().unwrap_or(0).saturating_sub(q[i]))
            .sum();
        let moved: usize = moves.iter().map(|m| m.slots.len()).sum();
        assert_eq!(moved, excess);
        // A move really moves: from its owner, to another shard, and no
        // shard both gives and takes.
        for m in &moves {
            assert_ne!(m.from, m.to);
            assert!(expand(&owned[m.from]).contains(&m.slots.start));
            assert!(!moves.iter().any(|o| o.from == m.to));
        }
        moved
    }

    #[test]
    fn growing_three_to_four_takes_a_quarter_from_each_end() {
        let moves = plan(&even(3), 4).unwrap();
        assert_eq!(
            moves,
            vec![
                Move {
                    slots: SlotRange::new(4096, 5461),
                    from: 0,
                    to: 3
                },
                Move {
                    slots: SlotRange::new(9558, 10922),
                    from: 1,
                    to: 3
                },
                Move {
                    slots: SlotRange::new(15019, 16383),
                    from: 2,
                    to: 3
                },
            ]
        );
        assert_eq!(check(&even(3), 4), 4096);
        // And back: shard 3 gives all it has.
        let grown = owners_after(&even(3), &moves);
        assert_eq!(check(&grown, 3), 4096);
        assert_eq!(plan(&even(3), 3).unwrap(), vec![]);
    }

    #[test]
    fn bad_requests_are_refused() {
        assert_eq!(plan(&even(3), 0), Err(PlanError::NoShards));
        assert_eq!(plan(&even(3), 20000), Err(PlanError::TooManyShards(20000)));
        let mut holes = even(2);
        holes[1] = vec![SlotRange::new(9000, 16383)];
        assert_eq!(plan(&holes, 3), Err(PlanError::Unowned(8192)));
    }

    #[test]
    fn the_documents_of_a_resize_are_valid_and_move_ownership_once() {
        let t = Topology::even(7, 3, 1, node);
        let grown = add_shards(&t, vec![vec![node(3, 0), node(3, 1)]]);
        grown.check().unwrap();
        assert_eq!((grown.epoch, grown.shards.len()), (8, 4));
        let owned: Vec<_> = grown.shards.iter().map(|s| s.slots.clone()).collect();
        let moves = plan(&owned, 4).unwrap();
        let begun = begin(&grown, &moves);
        begun.check().unwrap();
        assert!(in_progress(&begun));
        assert_eq!(marked(&begun), moves);
        // Nothing changed owner yet.
        assert_eq!(
            begun.shards.iter().map(|s| &s.slots).collect::<Vec<_>>(),
            grown.shards.iter().map(|s| &s.slots).collect::<Vec<_>>()
        );
        assert_eq!(abort(&begun).shards, grown.shards);
        let cut = cutover(&begun);
        cut.check().unwrap();
        assert_eq!(cut.epoch, 10);
        assert_eq!(cut.shards[3].importing.len(), 3);
        assert!(cut.shards.iter().all(|s| s.migrating.is_empty()));
        assert_eq!(
            counts(
                &cut.shards
                    .iter()
                    .map(|s| s.slots.clone())
                    .collect::<Vec<_>>()
            ),
            vec![4096; 4]
        );
        let done = finish(&cut);
        done.check().unwrap();
        assert!(!in_progress(&done));
        assert_eq!(remove_empty(&done, 3), None, "shard 3 owns slots");
        // Shrinking back empties shard 3, which may then leave.
        let owned: Vec<_> = done.shards.iter().map(|s| s.slots.clone()).collect();
        let back = finish(&cutover(&begin(&done, &plan(&owned, 3).unwrap())));
        back.check().unwrap();
        let removed = remove_empty(&back, 3).unwrap();
        removed.check().unwrap();
        assert_eq!(removed.shards.len(), 3);
        assert!(removed
            .shards
            .iter()
            .all(|s| s.slots.iter().map(SlotRange::len).sum::<usize>() >= 5461));
    }

    #[test]
    fn a_coordinator_resumes_from_any_document() {
        let t = Topology::even(1, 3, 0, node);
        assert_eq!(next_step(&t, 3), Ok(Step::Done));
        assert_eq!(next_step(&t, 5), Ok(Step::AddShards(2)));
        let grown = add_shards(&t, vec![vec![node(3, 0)]]);
        let Ok(Step::Begin(moves)) = next_step(&grown, 4) else {
            panic!("moves expected")
        };
        let begun = begin(&grown, &moves);
        assert_eq!(next_step(&begun, 4), Ok(Step::Copying(moves.clone())));
        // Whatever size is asked for meanwhile, a started move finishes first.
        assert_eq!(next_step(&begun, 3), Ok(Step::Copying(moves.clone())));
        let cut = cutover(&begun);
        assert_eq!(next_step(&cut, 4), Ok(Step::Importing(moves)));
        let done = finish(&cut);
        assert_eq!(next_step(&done, 4), Ok(Step::Done));
        let Ok(Step::Begin(back)) = next_step(&done, 3) else {
            panic!("moves back expected")
        };
        assert!(back.iter().all(|m| m.from == 3));
        let back = finish(&cutover(&begin(&done, &back)));
        assert_eq!(next_step(&back, 3), Ok(Step::RemoveShards));
        assert_eq!(
            next_step(&remove_empty(&back, 3).unwrap(), 3),
            Ok(Step::Done)
        );
    }

    fn layouts() -> impl Strategy<Value = Vec<Vec<SlotRange>>> {
        // Random owners for runs of slots, over 1..12 shards.
        (
            1usize..12,
            prop::collection::vec((1u16..3000, 0usize..12), 1..40),
        )
            .prop_map(|(n, runs)| {
                let mut slots: Vec<Vec<u16>> = vec![Vec::new(); n];
                let mut next = 0u32;
                let mut i = 0;
                while next < u32::from(SLOTS) {
                    let (len, owner) = runs[i % runs.len()];
                    let end = (next + u32::from(len)).min(u32::from(SLOTS));
                    slots[owner % n].extend((next..end).map(|s| s as u16));
                    next = end;
                    i += 1;
                }
                slots.into_iter().map(normalize).collect()
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn plans_are_balanced_minimal_and_lose_no_slot(owned in layouts(), shards in 1usize..16) {
            check(&owned, shards);
            // Planning again after the moves has nothing left to do.
            let after = owners_after(&owned, &plan(&owned, shards).unwrap());
            prop_assert_eq!(plan(&after[..shards.max(1)], shards).unwrap(), vec![]);
        }
    }
}
