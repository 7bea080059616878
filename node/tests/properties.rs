//! Property tests of the pure parts: the request parser and the store against a
//! simple model.

use proptest::prelude::*;
use shoal_node::resp::request::{Parsed, RequestLimits, RequestParser};
use shoal_node::resp::Frame;
use shoal_node::store::{Db, Ttl, Value};
use std::collections::{BTreeMap, HashSet};

const LIMITS: RequestLimits = RequestLimits {
    max_bulk: 1 << 20,
    max_args: 1 << 16,
    max_inline: 64 * 1024,
};

fn encode(cmds: &[Vec<Vec<u8>>]) -> Vec<u8> {
    let mut out = bytes::BytesMut::new();
    for c in cmds {
        Frame::encode_command(c, &mut out);
    }
    out.to_vec()
}

/// Parses a byte stream delivered in the given chunk sizes, like reads from a
/// socket, and returns every request's arguments.
fn parse_chunked(input: &[u8], chunks: &[usize]) -> Result<Vec<Vec<Vec<u8>>>, String> {
    let mut p = RequestParser::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut out = Vec::new();
    let mut fed = 0;
    let mut sizes = chunks.iter().cycle();
    while fed < input.len() {
        let n = (*sizes.next().unwrap()).max(1).min(input.len() - fed);
        buf.extend_from_slice(&input[fed..fed + n]);
        fed += n;
        let mut start = 0;
        loop {
            match p.parse(&buf[start..], &LIMITS).map_err(|e| e.to_string())? {
                Parsed::Incomplete => break,
                Parsed::Request { consumed } => {
                    let args = p.args(&buf[start..]);
                    if !args.is_empty() {
                        out.push(args.iter().map(<[u8]>::to_vec).collect());
                    }
                    start += consumed;
                }
            }
        }
        buf.drain(..start);
    }
    Ok(out)
}

fn command() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 1..6)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// However the stream is cut into reads, the same requests come out.
    #[test]
    fn chunking_does_not_change_requests(
        cmds in prop::collection::vec(command(), 1..20),
        chunks in prop::collection::vec(1usize..50, 1..10),
    ) {
        let input = encode(&cmds);
        prop_assert_eq!(parse_chunked(&input, &chunks).unwrap(), cmds);
    }

    /// Arbitrary bytes never panic the parser; it either waits, parses, or errs.
    #[test]
    fn garbage_never_panics(input in prop::collection::vec(any::<u8>(), 0..512), chunk in 1usize..64) {
        let _ = parse_chunked(&input, &[chunk]);
    }

    /// Reply frames survive encode and parse.
    #[test]
    fn frames_round_trip(items in prop::collection::vec((any::<i64>(), prop::collection::vec(any::<u8>(), 0..30)), 0..10)) {
        let f = Frame::Array(items.iter().flat_map(|(i, b)| [Frame::Integer(*i), Frame::Bulk(b.clone().into())]).collect());
        let mut out = bytes::BytesMut::new();
        f.encode(&mut out);
        let (g, n) = Frame::parse(&out).unwrap().unwrap();
        prop_assert_eq!(n, out.len());
        prop_assert_eq!(g, f);
    }
}

#[derive(Debug, Clone)]
enum Op {
    Set(u8, u8, Option<u64>),
    Del(u8),
    Append(u8, u8),
    Advance(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (any::<u8>(), any::<u8>(), prop::option::of(1u64..50)).prop_map(|(k, v, t)| Op::Set(
            k % 32,
            v,
            t
        )),
        any::<u8>().prop_map(|k| Op::Del(k % 32)),
        (any::<u8>(), any::<u8>()).prop_map(|(k, v)| Op::Append(k % 32, v)),
        (1u64..20).prop_map(Op::Advance),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// The sharded store behaves like a map with deadlines: same live keys and
    /// values, memory estimate back to zero when emptied, and a full SCAN that
    /// returns every live key.
    #[test]
    fn store_matches_a_model(ops in prop::collection::vec(op(), 1..200)) {
        let db = Db::new(4);
        let mut model: BTreeMap<Vec<u8>, (Vec<u8>, Option<u64>)> = BTreeMap::new();
        let mut now = 1_000u64;
        for op in &ops {
            match *op {
                Op::Set(k, v, ttl) => {
                    let key = vec![b'k', k];
                    let at = ttl.map(|t| now + t);
                    db.lock(&key).set(&key, Value::Str(&[v]), at.map_or(Ttl::Clear, Ttl::At), now);
                    model.insert(key, (vec![v], at));
                }
                Op::Del(k) => {
                    let key = vec![b'k', k];
                    db.lock(&key).remove(&key, now);
                    model.remove(&key);
                }
                Op::Append(k, v) => {
                    let key = vec![b'k', k];
                    let mut shard = db.lock(&key);
                    let appended = match shard.get_mut(&key, now) {
                        Some(mut e) => {
                            e.entry_mut().str_mut().unwrap().push(v);
                            true
                        }
                        None => false,
                    };
                    if !appended {
                        shard.set(&key, Value::Str(&[v]), Ttl::Clear, now);
                    }
                    let live = model.get(&key).is_some_and(|(_, at)| at.is_none_or(|t| t > now));
                    if live {
                        model.get_mut(&key).unwrap().0.push(v);
                    } else {
                        model.insert(key, (vec![v], None));
                    }
                }
                Op::Advance(ms) => {
                    now += ms;
                    db.expire_cycle(now, 3);
                }
            }
            model.retain(|_, (_, at)| at.is_none_or(|t| t > now));
        }
        for k in 0..32u8 {
            let key = vec![b'k', k];
            let got = db.lock(&key).get(&key, now).and_then(|e| e.as_str().map(<[u8]>::to_vec));
            prop_assert_eq!(got, model.get(&key).map(|(v, _)| v.clone()));
        }
        let mut scanned = HashSet::new();
        let mut cursor = 0;
        loop {
            cursor = db.scan(cursor, 3, now, |e| { scanned.insert(e.key().to_vec()); });
            if cursor == 0 { break; }
        }
        let live: HashSet<Vec<u8>> = model.keys().cloned().collect();
        prop_assert_eq!(scanned, live);
        db.flush(false);
        prop_assert_eq!(db.memory().dataset(), 0);
    }
}

mod topology {
    use proptest::prelude::*;
    use shoal_node::cluster::slot::{SlotRange, SLOTS};
    use shoal_node::cluster::topology::{decide, Decision, Route, Shard};
    use shoal_node::cluster::{NodeAddr, Topology, View};

    fn node(i: usize) -> NodeAddr {
        NodeAddr {
            name: format!("n{i}"),
            host: "127.0.0.1".into(),
            port: 7000 + i as u16,
        }
    }

    /// A topology whose shards own the ranges between sorted cut points, each
    /// shard possibly holding several ranges, some slots possibly unassigned.
    fn topology() -> impl Strategy<Value = Topology> {
        (
            1usize..8,
            prop::collection::btree_set(1u16..SLOTS, 0..20),
            any::<u64>(),
            1u64..1000,
        )
            .prop_map(|(shards, cuts, seed, epoch)| {
                let mut bounds: Vec<u16> = cuts.into_iter().collect();
                bounds.insert(0, 0);
                let mut t = Topology {
                    epoch,
                    cluster: String::new(),
                    shards: (0..shards)
                        .map(|i| Shard {
                            slots: vec![],
                            primary: node(i),
                            replicas: vec![],
                            migrating: vec![],
                            importing: vec![],
                        })
                        .collect(),
                };
                for (k, w) in bounds.iter().enumerate() {
                    let end = bounds.get(k + 1).map_or(SLOTS - 1, |n| n - 1);
                    // Some ranges stay unassigned.
                    let pick = (seed.rotate_left(k as u32 * 7) % (shards as u64 + 1)) as usize;
                    if pick < shards {
                        t.shards[pick].slots.push(SlotRange::new(*w, end));
                    }
                }
                t
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// Every slot routes to the shard whose ranges contain it: locally on
        /// that shard's primary, MOVED to it from everywhere else, down when no
        /// range holds it.
        #[test]
        fn routes_follow_the_ranges(t in topology(), me in 0usize..8, probes in prop::collection::vec(0u16..SLOTS, 64)) {
            prop_assert!(t.check().is_ok());
            let view = View::new(t.clone(), &format!("n{me}")).unwrap();
            for slot in probes {
                let owner = t.shards.iter().position(|s| s.slots.iter().any(|r| r.contains(slot)));
                let route = view.route(slot, false);
                match owner {
                    None => prop_assert_eq!(route, Route::Down),
                    Some(o) if o == me => prop_assert_eq!(route, Route::Local),
                    Some(o) => prop_assert_eq!(route, Route::Moved(slot, &t.shards[o].primary)),
                }
            }
            let assigned: usize = t.shards.iter().flat_map(|s| &s.slots).map(|r| r.len()).sum();
            prop_assert_eq!(view.assigned(), assigned);
            prop_assert_eq!(view.serving(), me < t.shards.len() && assigned == usize::from(SLOTS));
            // The document survives its own serialization.
            prop_assert_eq!(Topology::parse(&t.to_yaml()).unwrap(), t);
        }

        /// Whatever order documents arrive in (replays, reordering, stale
        /// copies), the one held is the first copy of the highest epoch seen.
        #[test]
        fn the_held_epoch_is_the_highest_offered(epochs in prop::collection::vec(1u64..20, 1..40)) {
            let mut held: Option<Topology> = None;
            for e in &epochs {
                let next = Topology::even(*e, 2, 0, |s, _| node(s));
                if decide(held.as_ref(), &next) == Decision::Apply {
                    held = Some(next);
                }
            }
            prop_assert_eq!(held.map(|t| t.epoch), epochs.iter().copied().max());
        }

        /// Overlapping ranges are always refused.
        #[test]
        fn overlaps_are_refused(a in 0u16..SLOTS, len in 0u16..100) {
            let end = a.saturating_add(len).min(SLOTS - 1);
            let mut t = Topology::even(1, 2, 0, |s, _| node(s));
            let other = if t.shards[0].slots[0].contains(a) { 1 } else { 0 };
            t.shards[other].slots.push(SlotRange::new(a, end));
            prop_assert!(t.check().is_err());
        }
    }
}
