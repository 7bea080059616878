//! Sorted set commands driven through the Harness against a model (a BTreeMap
//! per key), with sizes that cross the listpack/skiplist thresholds.

use proptest::prelude::*;
use shoal_node::resp::Frame;
use shoal_node::{Config, Harness};
use std::collections::BTreeMap;

type Model = BTreeMap<Vec<u8>, f64>;

#[derive(Default, Clone)]
struct Key {
    members: Model,
    /// Redis never converts back to listpack except when a key is rebuilt.
    skiplist: bool,
}

const KEYS: [&str; 3] = ["za", "zb", "zc"];

#[derive(Debug, Clone)]
enum Op {
    Add {
        key: usize,
        flag: u8,
        ch: bool,
        pairs: Vec<(i32, usize)>,
    },
    /// Short members f0..f{n-1}, for sets of exactly the threshold's size.
    Fill {
        key: usize,
        n: usize,
    },
    Incr {
        key: usize,
        by: i32,
        m: usize,
    },
    Rem {
        key: usize,
        ms: Vec<usize>,
    },
    Pop {
        key: usize,
        max: bool,
        count: usize,
    },
    RemRank {
        key: usize,
        start: i64,
        stop: i64,
    },
    RemScore {
        key: usize,
        min: i32,
        max: i32,
    },
    Range {
        key: usize,
        start: i64,
        stop: i64,
        rev: bool,
    },
    RangeScore {
        key: usize,
        min: i32,
        max: i32,
        off: i64,
        lim: i64,
        rev: bool,
    },
    Rank {
        key: usize,
        m: usize,
    },
    Count {
        key: usize,
        min: i32,
        max: i32,
    },
    Store {
        op: u8,
        dst: usize,
        a: usize,
        b: usize,
        w: i32,
    },
}

fn member(i: usize) -> Vec<u8> {
    if i % 97 == 96 {
        // Longer than zset-max-listpack-value.
        format!("{}-{i}", "L".repeat(64)).into_bytes()
    } else {
        format!("m{i}").into_bytes()
    }
}

/// Scores in quarters: exact in binary, so sums compare exactly.
fn score(q: i32) -> f64 {
    f64::from(q) / 4.0
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    let key = 0..3usize;
    let m = 0..300usize;
    let op = prop_oneof![
        4 => (key.clone(), 0..5u8, any::<bool>(), prop::collection::vec((-40..40i32, m.clone()), 1..80))
            .prop_map(|(key, flag, ch, pairs)| Op::Add { key, flag, ch, pairs }),
        1 => (key.clone(), 126..131usize).prop_map(|(key, n)| Op::Fill { key, n }),
        1 => (key.clone(), -8..8i32, m.clone()).prop_map(|(key, by, m)| Op::Incr { key, by, m }),
        2 => (key.clone(), prop::collection::vec(m.clone(), 1..30)).prop_map(|(key, ms)| Op::Rem { key, ms }),
        1 => (key.clone(), any::<bool>(), 0..40usize).prop_map(|(key, max, count)| Op::Pop { key, max, count }),
        1 => (key.clone(), -150..150i64, -150..150i64).prop_map(|(key, start, stop)| Op::RemRank { key, start, stop }),
        1 => (key.clone(), -40..40i32, -40..40i32).prop_map(|(key, min, max)| Op::RemScore { key, min, max }),
        2 => (key.clone(), -200..200i64, -200..200i64, any::<bool>())
            .prop_map(|(key, start, stop, rev)| Op::Range { key, start, stop, rev }),
        2 => (key.clone(), -40..40i32, -40..40i32, -2..20i64, -2..50i64, any::<bool>())
            .prop_map(|(key, min, max, off, lim, rev)| Op::RangeScore { key, min, max, off, lim, rev }),
        2 => (key.clone(), m.clone()).prop_map(|(key, m)| Op::Rank { key, m }),
        1 => (key.clone(), -40..40i32, -40..40i32).prop_map(|(key, min, max)| Op::Count { key, min, max }),
        1 => (0..3u8, key.clone(), key.clone(), key, -3..4i32)
            .prop_map(|(op, dst, a, b, w)| Op::Store { op, dst, a, b, w }),
    ];
    prop::collection::vec(op, 1..60)
}

fn sorted(m: &Model) -> Vec<(Vec<u8>, f64)> {
    let mut v: Vec<(Vec<u8>, f64)> = m.iter().map(|(k, s)| (k.clone(), *s)).collect();
    v.sort_by(|a, b| a.1.partial_cmp(&b.1).unwrap().then_with(|| a.0.cmp(&b.0)));
    v
}

fn int(f: &Frame) -> i64 {
    match f {
        Frame::Integer(i) => *i,
        other => panic!("expected an integer, got {other:?}"),
    }
}

fn text(f: &Frame) -> Vec<u8> {
    match f {
        Frame::Bulk(b) => b.to_vec(),
        other => panic!("expected a bulk string, got {other:?}"),
    }
}

fn num(f: &Frame) -> f64 {
    String::from_utf8(text(f)).unwrap().parse().unwrap()
}

fn array(f: Frame) -> Vec<Frame> {
    match f {
        Frame::Array(a) => a,
        other => panic!("expected an array, got {other:?}"),
    }
}

/// (member, score) pairs of a flat RESP2 WITHSCORES reply.
fn pairs(f: Frame) -> Vec<(Vec<u8>, f64)> {
    array(f)
        .chunks(2)
        .map(|p| (text(&p[0]), num(&p[1])))
        .collect()
}

fn rank_range(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let l = len as i64;
    let s = if start < 0 { (l + start).max(0) } else { start };
    let e = if stop < 0 { l + stop } else { stop.min(l - 1) };
    (s <= e && s < l).then_some((s as usize, e as usize))
}

/// Adds a new member to the model key, converting as Redis does.
fn model_add(k: &mut Key, m: Vec<u8>, s: f64) {
    if !k.members.contains_key(&m) && (k.members.len() + 1 > 128 || m.len() > 64) {
        k.skiplist = true;
    }
    k.members.insert(m, s);
}

fn settle(k: &mut Key) {
    if k.members.is_empty() {
        *k = Key::default();
    }
}

fn check(h: &mut Harness, keys: &[Key; 3]) {
    for (i, k) in keys.iter().enumerate() {
        let name = KEYS[i];
        let got = pairs(h.exec_args(&["ZRANGE", name, "0", "-1", "WITHSCORES"]));
        assert_eq!(got, sorted(&k.members), "contents of {name}");
        let enc = h.exec_args(&["OBJECT", "ENCODING", name]);
        if k.members.is_empty() {
            assert_eq!(
                int(&h.exec_args(&["EXISTS", name])),
                0,
                "{name} deleted when empty"
            );
        } else {
            let want = if k.skiplist { "skiplist" } else { "listpack" };
            assert_eq!(text(&enc), want.as_bytes(), "encoding of {name}");
        }
    }
}

fn run(ops: Vec<Op>) {
    let mut h = Harness::new(Config::default());
    let mut keys: [Key; 3] = Default::default();
    for op in ops {
        match op {
            Op::Add {
                key,
                flag,
                ch,
                pairs,
            } => {
                let mut args: Vec<Vec<u8>> = vec![b"ZADD".to_vec(), KEYS[key].into()];
                let (nx, xx, gt, lt) = (flag == 1, flag == 2, flag == 3, flag == 4);
                for (on, w) in [(nx, "NX"), (xx, "XX"), (gt, "GT"), (lt, "LT")] {
                    if on {
                        args.push(w.into());
                    }
                }
                if ch {
                    args.push(b"CH".to_vec());
                }
                let k = &mut keys[key];
                let (mut added, mut changed) = (0, 0);
                for &(q, m) in &pairs {
                    args.push(score(q).to_string().into_bytes());
                    args.push(member(m));
                    let (m, s) = (member(m), score(q));
                    match k.members.get(&m).copied() {
                        Some(cur) => {
                            let skip = nx || (lt && s >= cur) || (gt && s <= cur);
                            if !skip && s != cur {
                                k.members.insert(m, s);
                                changed += 1;
                            }
                        }
                        None if !xx => {
                            model_add(k, m, s);
                            added += 1;
                        }
                        None => {}
                    }
                }
                let want = if ch { added + changed } else { added };
                assert_eq!(int(&h.exec_args(&args)), want, "ZADD reply");
                settle(k);
            }
            Op::Fill { key, n } => {
                let mut args: Vec<Vec<u8>> = vec![b"ZADD".to_vec(), KEYS[key].into()];
                let k = &mut keys[key];
                let mut added = 0;
                for i in 0..n {
                    let m = format!("f{i}").into_bytes();
                    args.push(b"1".to_vec());
                    args.push(m.clone());
                    if !k.members.contains_key(&m) {
                        added += 1;
                    }
                    model_add(k, m, 1.0);
                }
                assert_eq!(int(&h.exec_args(&args)), added, "ZADD fill");
            }
            Op::Incr { key, by, m } => {
                let k = &mut keys[key];
                let m = member(m);
                let next = k.members.get(&m).copied().unwrap_or(0.0) + score(by);
                let got = h.exec_args(&[
                    b"ZINCRBY".to_vec(),
                    KEYS[key].into(),
                    score(by).to_string().into(),
                    m.clone(),
                ]);
                assert_eq!(num(&got), next);
                model_add(k, m, next);
            }
            Op::Rem { key, ms } => {
                let k = &mut keys[key];
                let mut args: Vec<Vec<u8>> = vec![b"ZREM".to_vec(), KEYS[key].into()];
                let mut n = 0;
                for m in ms {
                    let m = member(m);
                    if k.members.remove(&m).is_some() {
                        n += 1;
                    }
                    args.push(m);
                }
                assert_eq!(int(&h.exec_args(&args)), n);
                settle(k);
            }
            Op::Pop { key, max, count } => {
                let k = &mut keys[key];
                let mut order = sorted(&k.members);
                if max {
                    order.reverse();
                }
                order.truncate(count);
                for (m, _) in &order {
                    k.members.remove(m);
                }
                let cmd = if max { "ZPOPMAX" } else { "ZPOPMIN" };
                let got = pairs(h.exec_args(&[cmd, KEYS[key], &count.to_string()]));
                assert_eq!(got, order, "{cmd}");
                settle(k);
            }
            Op::RemRank { key, start, stop } => {
                let k = &mut keys[key];
                let order = sorted(&k.members);
                let mut n = 0;
                if let Some((a, b)) = rank_range(start, stop, order.len()) {
                    for (m, _) in &order[a..=b] {
                        k.members.remove(m);
                        n += 1;
                    }
                }
                let got = h.exec_args(&[
                    "ZREMRANGEBYRANK",
                    KEYS[key],
                    &start.to_string(),
                    &stop.to_string(),
                ]);
                assert_eq!(int(&got), n);
                settle(k);
            }
            Op::RemScore { key, min, max } => {
                let k = &mut keys[key];
                let (lo, hi) = (score(min), score(max));
                let before = k.members.len();
                k.members.retain(|_, s| !(*s >= lo && *s < hi));
                let n = (before - k.members.len()) as i64;
                let got = h.exec_args(&[
                    "ZREMRANGEBYSCORE",
                    KEYS[key],
                    &lo.to_string(),
                    &format!("({hi}"),
                ]);
                assert_eq!(int(&got), n);
                settle(k);
            }
            Op::Range {
                key,
                start,
                stop,
                rev,
            } => {
                let mut order = sorted(&keys[key].members);
                if rev {
                    order.reverse();
                }
                let want = match rank_range(start, stop, order.len()) {
                    Some((a, b)) => order[a..=b].to_vec(),
                    None => vec![],
                };
                let mut args = vec!["ZRANGE", KEYS[key]];
                let (s, e) = (start.to_string(), stop.to_string());
                args.push(&s);
                args.push(&e);
                if rev {
                    args.push("REV");
                }
                args.push("WITHSCORES");
                assert_eq!(pairs(h.exec_args(&args)), want, "{args:?}");
            }
            Op::RangeScore {
                key,
                min,
                max,
                off,
                lim,
                rev,
            } => {
                let (lo, hi) = (score(min), score(max));
                let mut order: Vec<_> = sorted(&keys[key].members)
                    .into_iter()
                    .filter(|(_, s)| *s > lo && *s <= hi)
                    .collect();
                if rev {
                    order.reverse();
                }
                let want: Vec<_> = if off < 0 {
                    vec![]
                } else {
                    let it = order.into_iter().skip(off as usize);
                    if lim < 0 {
                        it.collect()
                    } else {
                        it.take(lim as usize).collect()
                    }
                };
                let (a, b) = (format!("({lo}"), hi.to_string());
                let (o, l) = (off.to_string(), lim.to_string());
                let got = if rev {
                    h.exec_args(&[
                        "ZREVRANGEBYSCORE",
                        KEYS[key],
                        &b,
                        &a,
                        "WITHSCORES",
                        "LIMIT",
                        &o,
                        &l,
                    ])
                } else {
                    h.exec_args(&[
                        "ZRANGEBYSCORE",
                        KEYS[key],
                        &a,
                        &b,
                        "WITHSCORES",
                        "LIMIT",
                        &o,
                        &l,
                    ])
                };
                assert_eq!(pairs(got), want);
            }
            Op::Rank { key, m } => {
                let order = sorted(&keys[key].members);
                let m = member(m);
                let pos = order.iter().position(|(x, _)| *x == m);
                let got = h.exec_args(&[b"ZRANK".to_vec(), KEYS[key].into(), m.clone()]);
                let rgot = h.exec_args(&[b"ZREVRANK".to_vec(), KEYS[key].into(), m.clone()]);
                let sgot = h.exec_args(&[b"ZSCORE".to_vec(), KEYS[key].into(), m.clone()]);
                match pos {
                    Some(p) => {
                        assert_eq!(int(&got), p as i64);
                        assert_eq!(int(&rgot), (order.len() - 1 - p) as i64);
                        assert_eq!(num(&sgot), order[p].1);
                    }
                    None => {
                        assert_eq!(got, Frame::Null);
                        assert_eq!(rgot, Frame::Null);
                        assert_eq!(sgot, Frame::Null);
                    }
                }
            }
            Op::Count { key, min, max } => {
                let (lo, hi) = (score(min), score(max));
                let n = keys[key]
                    .members
                    .values()
                    .filter(|s| **s >= lo && **s <= hi)
                    .count();
                let got = h.exec_args(&["ZCOUNT", KEYS[key], &lo.to_string(), &hi.to_string()]);
                assert_eq!(int(&got), n as i64);
                assert_eq!(
                    int(&h.exec_args(&["ZCARD", KEYS[key]])),
                    keys[key].members.len() as i64
                );
            }
            Op::Store { op, dst, a, b, w } => {
                let (ma, mb) = (keys[a].members.clone(), keys[b].members.clone());
                let wf = f64::from(w);
                let mut out = Model::new();
                let cmd = match op {
                    0 => {
                        for (m, s) in &ma {
                            out.insert(m.clone(), *s);
                        }
                        for (m, s) in &mb {
                            let v = s * wf;
                            *out.entry(m.clone()).or_insert(0.0) += v;
                            if !ma.contains_key(m) {
                                out.insert(m.clone(), v);
                            }
                        }
                        "ZUNIONSTORE"
                    }
                    1 => {
                        for (m, s) in &ma {
                            if let Some(t) = mb.get(m) {
                                out.insert(m.clone(), s + t * wf);
                            }
                        }
                        "ZINTERSTORE"
                    }
                    _ => {
                        if a != b {
                            for (m, s) in &ma {
                                if !mb.contains_key(m) {
                                    out.insert(m.clone(), *s);
                                }
                            }
                        }
                        "ZDIFFSTORE"
                    }
                };
                let ws = w.to_string();
                let got = if op == 2 {
                    h.exec_args(&[cmd, KEYS[dst], "2", KEYS[a], KEYS[b]])
                } else {
                    h.exec_args(&[cmd, KEYS[dst], "2", KEYS[a], KEYS[b], "WEIGHTS", "1", &ws])
                };
                assert_eq!(int(&got), out.len() as i64, "{cmd}");
                let skiplist = out.len() > 128 || out.keys().any(|m| m.len() > 64);
                keys[dst] = Key {
                    members: out,
                    skiplist,
                };
                settle(&mut keys[dst]);
            }
        }
        check(&mut h, &keys);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn zsets_follow_the_model(ops in ops()) {
        run(ops);
    }
}

/// Words that steer the sorted set commands into their options and edge cases.
const WORDS: &[&str] = &[
    "za",
    "zb",
    "zc",
    "s",
    "missing",
    "0",
    "1",
    "-1",
    "2",
    "3",
    "-2",
    "100",
    "-100",
    "200",
    "9223372036854775807",
    "-9223372036854775808",
    "99999999999999999999",
    "1.5",
    "-0.5",
    "(1",
    "(1.5",
    "inf",
    "-inf",
    "+inf",
    "(-inf",
    "nan",
    "1e308",
    "-1e308",
    "0x10",
    "abc",
    "",
    "[m1",
    "(m2",
    "[m50",
    "-",
    "+",
    "[",
    "(",
    "NX",
    "XX",
    "GT",
    "LT",
    "CH",
    "INCR",
    "WITHSCORES",
    "LIMIT",
    "REV",
    "BYSCORE",
    "BYLEX",
    "WEIGHTS",
    "AGGREGATE",
    "SUM",
    "MIN",
    "MAX",
    "COUNT",
    "MATCH",
    "m*",
    "m1",
    "m2",
    "m3",
    "m150",
];

const ZCOMMANDS: &[&str] = &[
    "ZADD",
    "ZINCRBY",
    "ZREM",
    "ZCARD",
    "ZCOUNT",
    "ZSCORE",
    "ZMSCORE",
    "ZRANK",
    "ZREVRANK",
    "ZRANGE",
    "ZRANGESTORE",
    "ZREVRANGE",
    "ZRANGEBYSCORE",
    "ZREVRANGEBYSCORE",
    "ZRANGEBYLEX",
    "ZREVRANGEBYLEX",
    "ZLEXCOUNT",
    "ZPOPMIN",
    "ZPOPMAX",
    "ZMPOP",
    "ZREMRANGEBYRANK",
    "ZREMRANGEBYSCORE",
    "ZREMRANGEBYLEX",
    "ZUNION",
    "ZINTER",
    "ZDIFF",
    "ZUNIONSTORE",
    "ZINTERSTORE",
    "ZDIFFSTORE",
    "ZINTERCARD",
    "ZRANDMEMBER",
    "ZSCAN",
];

fn fuzz_arg() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => prop::sample::select(WORDS).prop_map(|w| w.as_bytes().to_vec()),
        1 => prop::collection::vec(any::<u8>(), 0..10),
    ]
}

/// Every shard's running byte total equals the sum of its entries' sizes,
/// and no key holds an empty sorted set.
fn accounting_holds(h: &Harness) {
    let db = &h.shared.db;
    for i in 0..db.shard_count() {
        let shard = db.lock_index(i);
        let mut sum = 0;
        shard.for_each(0, |e| {
            sum += e.mem_size();
            if let shoal_node::store::ValueRef::ZSet(z) = e.value() {
                assert!(!z.is_empty(), "empty sorted set kept");
            }
        });
        assert_eq!(shard.used_bytes(), sum, "shard {i} byte total");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn zset_commands_take_any_arguments(
        cmds in prop::collection::vec(
            (prop::sample::select(ZCOMMANDS), prop::collection::vec(fuzz_arg(), 0..8)),
            1..40,
        ),
    ) {
        let mut h = Harness::new(Config::default());
        h.exec("ZADD za 1 m1 2 m2 3 m3");
        let mut big: Vec<String> = vec!["ZADD".into(), "zb".into()];
        for i in 0..300 {
            big.push(format!("{}", i % 50));
            big.push(format!("m{i}"));
        }
        h.exec_args(&big);
        h.exec("SET s v");
        for (cmd, args) in cmds {
            let mut full = vec![cmd.as_bytes().to_vec()];
            full.extend(args);
            let raw = h.exec_raw(&full);
            match Frame::parse(&raw) {
                Ok(Some((_, used))) => assert_eq!(used, raw.len()),
                other => panic!("malformed reply {other:?} to {full:?}"),
            }
            accounting_holds(&h);
        }
        assert_eq!(h.exec("PING"), Frame::Simple("PONG".into()));
    }
}
