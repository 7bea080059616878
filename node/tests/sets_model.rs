//! Set commands against a model: random command sequences run through a
//! Harness and through BTreeSets, with replies, contents, encodings (intset
//! until a non-integer member or more than 512 members) and the memory
//! accounting checked after every step.

use proptest::prelude::*;
use shoal_node::resp::Frame;
use shoal_node::{Config, Harness};
use std::collections::{BTreeMap, BTreeSet};

const KEYS: &[&str] = &["a", "b", "c", "str"];
const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

type Members = BTreeSet<Vec<u8>>;

#[derive(Debug, Clone)]
enum Cmd {
    Sadd(usize, Vec<Vec<u8>>),
    SaddRange(usize, i64, usize),
    Srem(usize, Vec<Vec<u8>>),
    SremRange(usize, i64, usize),
    Sismember(usize, Vec<u8>),
    Smismember(usize, Vec<Vec<u8>>),
    Scard(usize),
    Smembers(usize),
    Smove(usize, usize, Vec<u8>),
    Spop(usize, Option<u64>),
    Srandmember(usize, i64),
    Read(Op, Vec<usize>),
    Store(Op, usize, Vec<usize>),
    Sintercard(Vec<usize>, u64),
    Encoding(usize),
    SetString(usize),
    Del(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Inter,
    Union,
    Diff,
}

fn member() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => (-3i64..700).prop_map(|i| i.to_string().into_bytes()),
        1 => (0u8..20).prop_map(|i| format!("x{i}").into_bytes()),
        1 => prop::sample::select(vec!["01", "-0", "", "9223372036854775807", "9223372036854775808"])
            .prop_map(|s| s.as_bytes().to_vec()),
    ]
}

fn key() -> impl Strategy<Value = usize> {
    0..KEYS.len()
}

fn keys() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(key(), 1..4)
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![Just(Op::Inter), Just(Op::Union), Just(Op::Diff)]
}

fn cmd() -> impl Strategy<Value = Cmd> {
    let members = || prop::collection::vec(member(), 1..5);
    prop_oneof![
        6 => (key(), members()).prop_map(|(k, m)| Cmd::Sadd(k, m)),
        2 => (key(), -10i64..400, 1usize..300).prop_map(|(k, lo, n)| Cmd::SaddRange(k, lo, n)),
        // Right at the intset limit.
        2 => (key(), 508usize..516).prop_map(|(k, n)| Cmd::SaddRange(k, 0, n)),
        3 => (key(), members()).prop_map(|(k, m)| Cmd::Srem(k, m)),
        1 => (key(), -10i64..400, 1usize..300).prop_map(|(k, lo, n)| Cmd::SremRange(k, lo, n)),
        2 => (key(), member()).prop_map(|(k, m)| Cmd::Sismember(k, m)),
        1 => (key(), members()).prop_map(|(k, m)| Cmd::Smismember(k, m)),
        1 => key().prop_map(Cmd::Scard),
        2 => key().prop_map(Cmd::Smembers),
        2 => (key(), key(), member()).prop_map(|(s, d, m)| Cmd::Smove(s, d, m)),
        2 => (key(), prop::option::of(0u64..40)).prop_map(|(k, c)| Cmd::Spop(k, c)),
        1 => (key(), -20i64..20).prop_map(|(k, c)| Cmd::Srandmember(k, c)),
        2 => (op(), keys()).prop_map(|(o, k)| Cmd::Read(o, k)),
        2 => (op(), key(), keys()).prop_map(|(o, d, k)| Cmd::Store(o, d, k)),
        1 => (keys(), 0u64..5).prop_map(|(k, l)| Cmd::Sintercard(k, l)),
        2 => key().prop_map(Cmd::Encoding),
        1 => key().prop_map(Cmd::SetString),
        1 => key().prop_map(Cmd::Del),
    ]
}

/// One key of the model: a set (members, whether it is a hashtable) or a string.
#[derive(Debug, Clone)]
enum Val {
    Set(Members, bool),
    Str,
}

fn is_int(m: &[u8]) -> bool {
    shoal_node::util::num::parse_i64(m).is_some()
}

/// The encoding flag of a set built afresh from these members.
fn fresh_flag(members: &Members) -> bool {
    members.len() > 512 || !members.iter().all(|m| is_int(m))
}

#[derive(Default)]
struct Model {
    keys: BTreeMap<usize, Val>,
}

impl Model {
    /// The set at k; Err on a string.
    fn set(&self, k: usize) -> Result<Option<&Members>, ()> {
        match self.keys.get(&k) {
            None => Ok(None),
            Some(Val::Set(m, _)) => Ok(Some(m)),
            Some(Val::Str) => Err(()),
        }
    }

    fn add(&mut self, k: usize, ms: &[Vec<u8>]) -> usize {
        let entry = self
            .keys
            .entry(k)
            .or_insert_with(|| Val::Set(Members::new(), false));
        let Val::Set(set, ht) = entry else {
            unreachable!()
        };
        let mut added = 0;
        for m in ms {
            if set.insert(m.clone()) {
                added += 1;
                if !is_int(m) || set.len() > 512 {
                    *ht = true;
                }
            }
        }
        added
    }

    fn remove(&mut self, k: usize, ms: &[Vec<u8>]) -> usize {
        let Some(Val::Set(set, _)) = self.keys.get_mut(&k) else {
            return 0;
        };
        let n = ms.iter().filter(|m| set.remove(*m)).count();
        if set.is_empty() {
            self.keys.remove(&k);
        }
        n
    }
}

fn int(n: usize) -> Frame {
    Frame::Integer(n as i64)
}

fn err(text: &str) -> Frame {
    Frame::Error(text.to_string())
}

fn bulks(f: &Frame) -> Vec<Vec<u8>> {
    match f {
        Frame::Array(items) | Frame::Set(items) => items
            .iter()
            .map(|i| match i {
                Frame::Bulk(b) => b.to_vec(),
                other => panic!("not a bulk: {other:?}"),
            })
            .collect(),
        other => panic!("not an array: {other:?}"),
    }
}

fn sorted(f: &Frame) -> Members {
    bulks(f).into_iter().collect()
}

fn s(k: usize) -> Vec<u8> {
    KEYS[k].as_bytes().to_vec()
}

fn range(lo: i64, n: usize) -> Vec<Vec<u8>> {
    (lo..lo + n as i64)
        .map(|i| i.to_string().into_bytes())
        .collect()
}

/// What Redis computes for an operation on these keys, and for SDIFFSTORE
/// whether its algorithm 2 (start from the whole first set) is used.
fn compute(model: &Model, op: Op, ks: &[usize]) -> Result<(Members, Option<bool>), ()> {
    let sets: Vec<Option<&Members>> = ks.iter().map(|&k| model.set(k)).collect::<Result<_, _>>()?;
    match op {
        Op::Inter => {
            if sets.iter().any(Option::is_none) {
                return Ok((Members::new(), None));
            }
            let mut it = sets.iter().map(|s| s.unwrap());
            let first = it.next().unwrap().clone();
            Ok((
                it.fold(first, |acc, s| acc.intersection(s).cloned().collect()),
                None,
            ))
        }
        Op::Union => Ok((
            sets.iter()
                .flatten()
                .flat_map(|s| s.iter().cloned())
                .collect(),
            None,
        )),
        Op::Diff => {
            let Some(first) = sets[0] else {
                return Ok((Members::new(), None));
            };
            if ks[1..].contains(&ks[0]) {
                return Ok((Members::new(), None));
            }
            let mut out = first.clone();
            for s in sets[1..].iter().flatten() {
                out.retain(|m| !s.contains(m));
            }
            let existing = sets.iter().flatten().count();
            let one = first.len() * existing / 2;
            let two: usize = sets.iter().flatten().map(|s| s.len()).sum();
            Ok((out, Some(one > two)))
        }
    }
}

fn check(h: &mut Harness, model: &mut Model, cmd: &Cmd) -> Result<(), TestCaseError> {
    match cmd {
        Cmd::Sadd(k, ms) | Cmd::Srem(k, ms) => {
            let adding = matches!(cmd, Cmd::Sadd(..));
            let mut args = vec![
                if adding {
                    b"SADD".to_vec()
                } else {
                    b"SREM".to_vec()
                },
                s(*k),
            ];
            args.extend(ms.iter().cloned());
            let got = h.exec_args(&args);
            let want = match model.set(*k) {
                Err(()) => err(WRONGTYPE),
                Ok(_) if adding => int(model.add(*k, ms)),
                Ok(_) => int(model.remove(*k, ms)),
            };
            prop_assert_eq!(got, want);
        }
        Cmd::SaddRange(k, lo, n) => {
            let ms = range(*lo, *n);
            check(h, model, &Cmd::Sadd(*k, ms))?;
        }
        Cmd::SremRange(k, lo, n) => {
            let ms = range(*lo, *n);
            check(h, model, &Cmd::Srem(*k, ms))?;
        }
        Cmd::Sismember(k, m) => {
            let got = h.exec_args(&[b"SISMEMBER".to_vec(), s(*k), m.clone()]);
            let want = match model.set(*k) {
                Err(()) => err(WRONGTYPE),
                Ok(set) => int(usize::from(set.is_some_and(|s| s.contains(m)))),
            };
            prop_assert_eq!(got, want);
        }
        Cmd::Smismember(k, ms) => {
            let mut args = vec![b"SMISMEMBER".to_vec(), s(*k)];
            args.extend(ms.iter().cloned());
            let got = h.exec_args(&args);
            let want = match model.set(*k) {
                Err(()) => err(WRONGTYPE),
                Ok(set) => Frame::Array(
                    ms.iter()
                        .map(|m| int(usize::from(set.is_some_and(|s| s.contains(m)))))
                        .collect(),
                ),
            };
            prop_assert_eq!(got, want);
        }
        Cmd::Scard(k) => {
            let got = h.exec_args(&[b"SCARD".to_vec(), s(*k)]);
            let want = match model.set(*k) {
                Err(()) => err(WRONGTYPE),
                Ok(set) => int(set.map_or(0, |s| s.len())),
            };
            prop_assert_eq!(got, want);
        }
        Cmd::Smembers(k) => {
            let got = h.exec_args(&[b"SMEMBERS".to_vec(), s(*k)]);
            match model.keys.get(k) {
                Some(Val::Str) => prop_assert_eq!(got, err(WRONGTYPE)),
                None => prop_assert_eq!(got, Frame::Array(vec![])),
                Some(Val::Set(set, ht)) => {
                    let list = bulks(&got);
                    prop_assert_eq!(&list.iter().cloned().collect::<Members>(), set);
                    prop_assert_eq!(list.len(), set.len());
                    if !ht {
                        // An intset answers in ascending numeric order.
                        let nums: Vec<i64> = list
                            .iter()
                            .map(|m| std::str::from_utf8(m).unwrap().parse().unwrap())
                            .collect();
                        prop_assert!(nums.windows(2).all(|w| w[0] < w[1]));
                    }
                }
            }
        }
        Cmd::Smove(src, dst, m) => {
            let got = h.exec_args(&[b"SMOVE".to_vec(), s(*src), s(*dst), m.clone()]);
            let want = match (model.set(*src), model.set(*dst)) {
                (Ok(None), _) => int(0),
                (Err(()), _) | (_, Err(())) => err(WRONGTYPE),
                (Ok(Some(set)), Ok(_)) => {
                    if !set.contains(m) {
                        int(0)
                    } else if src == dst {
                        int(1)
                    } else {
                        model.remove(*src, std::slice::from_ref(m));
                        model.add(*dst, std::slice::from_ref(m));
                        int(1)
                    }
                }
            };
            prop_assert_eq!(got, want);
        }
        Cmd::Spop(k, count) => {
            let mut args = vec![b"SPOP".to_vec(), s(*k)];
            if let Some(c) = count {
                args.push(c.to_string().into_bytes());
            }
            let got = h.exec_args(&args);
            match model.set(*k) {
                Err(()) => prop_assert_eq!(got, err(WRONGTYPE)),
                Ok(None) => prop_assert_eq!(
                    got,
                    if count.is_some() {
                        Frame::Array(vec![])
                    } else {
                        Frame::Null
                    }
                ),
                Ok(Some(set)) => {
                    let popped: Vec<Vec<u8>> = match count {
                        None => match &got {
                            Frame::Bulk(b) => vec![b.to_vec()],
                            other => return Err(TestCaseError::fail(format!("{other:?}"))),
                        },
                        Some(_) => bulks(&got),
                    };
                    let want_n = count.map_or(1, |c| (c as usize).min(set.len()));
                    prop_assert_eq!(popped.len(), want_n);
                    let distinct: Members = popped.iter().cloned().collect();
                    prop_assert_eq!(distinct.len(), want_n);
                    prop_assert!(distinct.is_subset(set));
                    model.remove(*k, &popped);
                }
            }
        }
        Cmd::Srandmember(k, count) => {
            let got = h.exec_args(&[
                b"SRANDMEMBER".to_vec(),
                s(*k),
                count.to_string().into_bytes(),
            ]);
            match model.set(*k) {
                Err(()) => prop_assert_eq!(got, err(WRONGTYPE)),
                Ok(None) => prop_assert_eq!(got, Frame::Array(vec![])),
                Ok(Some(set)) => {
                    let picks = bulks(&got);
                    let distinct: Members = picks.iter().cloned().collect();
                    prop_assert!(distinct.is_subset(set));
                    if *count >= 0 {
                        let n = (*count as usize).min(set.len());
                        prop_assert_eq!(picks.len(), n);
                        prop_assert_eq!(distinct.len(), n);
                    } else {
                        prop_assert_eq!(picks.len(), count.unsigned_abs() as usize);
                    }
                }
            }
        }
        Cmd::Read(op, ks) => {
            let name: &[u8] = match op {
                Op::Inter => b"SINTER",
                Op::Union => b"SUNION",
                Op::Diff => b"SDIFF",
            };
            let mut args = vec![name.to_vec()];
            args.extend(ks.iter().map(|&k| s(k)));
            let got = h.exec_args(&args);
            match compute(model, *op, ks) {
                Err(()) => prop_assert_eq!(got, err(WRONGTYPE)),
                Ok((want, _)) => {
                    prop_assert_eq!(bulks(&got).len(), want.len());
                    prop_assert_eq!(sorted(&got), want);
                }
            }
        }
        Cmd::Store(op, dst, ks) => {
            let name: &[u8] = match op {
                Op::Inter => b"SINTERSTORE",
                Op::Union => b"SUNIONSTORE",
                Op::Diff => b"SDIFFSTORE",
            };
            let mut args = vec![name.to_vec(), s(*dst)];
            args.extend(ks.iter().map(|&k| s(k)));
            let got = h.exec_args(&args);
            match compute(model, *op, ks) {
                Err(()) => prop_assert_eq!(got, err(WRONGTYPE)),
                Ok((want, algo_two)) => {
                    prop_assert_eq!(got, int(want.len()));
                    if want.is_empty() {
                        model.keys.remove(dst);
                    } else {
                        let ht = match algo_two {
                            Some(true) => fresh_flag(model.set(ks[0]).unwrap().unwrap()),
                            _ => fresh_flag(&want),
                        };
                        model.keys.insert(*dst, Val::Set(want, ht));
                    }
                }
            }
        }
        Cmd::Sintercard(ks, limit) => {
            let mut args = vec![b"SINTERCARD".to_vec(), ks.len().to_string().into_bytes()];
            args.extend(ks.iter().map(|&k| s(k)));
            args.push(b"LIMIT".to_vec());
            args.push(limit.to_string().into_bytes());
            let got = h.exec_args(&args);
            match compute(model, Op::Inter, ks) {
                Err(()) => prop_assert_eq!(got, err(WRONGTYPE)),
                Ok((want, _)) => {
                    let n = if *limit == 0 {
                        want.len()
                    } else {
                        want.len().min(*limit as usize)
                    };
                    prop_assert_eq!(got, int(n));
                }
            }
        }
        Cmd::Encoding(k) => {
            let got = h.exec_args(&[b"OBJECT".to_vec(), b"ENCODING".to_vec(), s(*k)]);
            if let Some(Val::Set(_, ht)) = model.keys.get(k) {
                let want = if *ht { "hashtable" } else { "intset" };
                prop_assert_eq!(got, Frame::Bulk(want.as_bytes().to_vec().into()));
            }
        }
        Cmd::SetString(k) => {
            h.exec_args(&[b"SET".to_vec(), s(*k), b"v".to_vec()]);
            model.keys.insert(*k, Val::Str);
        }
        Cmd::Del(k) => {
            let got = h.exec_args(&[b"DEL".to_vec(), s(*k)]);
            prop_assert_eq!(got, int(usize::from(model.keys.remove(k).is_some())));
        }
    }
    // Memory accounting: the running total equals a fresh sum over the entries.
    let mut sum = 0u64;
    h.shared.db.for_each(0, |e| sum += e.mem_size() as u64);
    prop_assert_eq!(h.shared.db.memory().dataset(), sum);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn sets_follow_the_model(cmds in prop::collection::vec(cmd(), 1..40)) {
        let mut h = Harness::new(Config::default());
        let mut model = Model::default();
        for c in &cmds {
            check(&mut h, &mut model, c)?;
        }
        // Contents agree at the end, key by key.
        for k in 0..KEYS.len() {
            let got = h.exec_args(&[b"TYPE".to_vec(), s(k)]);
            let want = match model.keys.get(&k) {
                None => "none",
                Some(Val::Str) => "string",
                Some(Val::Set(..)) => "set",
            };
            prop_assert_eq!(got, Frame::Simple(want.into()));
        }
    }
}

/// Words that steer set commands into their option parsing and edge cases.
const WORDS: &[&str] = &[
    "a",
    "b",
    "i",
    "h",
    "str",
    "missing",
    "0",
    "1",
    "2",
    "-1",
    "-2",
    "3",
    "10",
    "600",
    "01",
    "-0",
    "x",
    "m1",
    "LIMIT",
    "limit",
    "MATCH",
    "COUNT",
    "TYPE",
    "*",
    "m*",
    "9223372036854775807",
    "-9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "18446744073709551615",
    "",
    "+1",
    " 1",
    "1.5",
    "inf",
];

const SET_COMMANDS: &[&str] = &[
    "SADD",
    "SREM",
    "SMEMBERS",
    "SISMEMBER",
    "SMISMEMBER",
    "SCARD",
    "SPOP",
    "SRANDMEMBER",
    "SMOVE",
    "SINTER",
    "SINTERCARD",
    "SINTERSTORE",
    "SUNION",
    "SUNIONSTORE",
    "SDIFF",
    "SDIFFSTORE",
    "SSCAN",
];

fn fuzz_arg() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => prop::sample::select(WORDS).prop_map(|w| w.as_bytes().to_vec()),
        1 => prop::collection::vec(any::<u8>(), 0..8),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    /// Any arguments get exactly one well-formed reply, the node keeps
    /// working, no empty set is left behind and memory accounting holds.
    #[test]
    fn set_commands_answer_any_arguments(
        cmd in prop::sample::select(SET_COMMANDS),
        args in prop::collection::vec(fuzz_arg(), 0..7),
    ) {
        let mut config = Config::default();
        // Bounds replies whose size the client picks (negative SRANDMEMBER).
        config.settings.obuf_normal.hard = 1 << 20;
        let mut h = Harness::new(config);
        h.exec("SADD i 1 2 3 10");
        let many: Vec<String> = (0..600).map(|i| format!("m{i}")).collect();
        let mut sadd = vec!["SADD".to_string(), "h".to_string()];
        sadd.extend(many);
        h.exec_args(&sadd);
        h.exec("SADD a x 1");
        h.exec("SET str v");
        let mut full = vec![cmd.as_bytes().to_vec()];
        full.extend(args);
        let raw = h.exec_raw(&full);
        match Frame::parse(&raw) {
            Ok(Some((_, used))) => prop_assert_eq!(used, raw.len()),
            // A reply cut short past the output limit (the connection closes):
            // incomplete, or with a header the parser refuses to size.
            Ok(None) | Err(_) if raw.len() > 1 << 20 => {}
            other => return Err(TestCaseError::fail(format!("malformed reply {other:?}"))),
        }
        prop_assert_eq!(h.exec("PING"), Frame::Simple("PONG".into()));
        for k in ["a", "b", "i", "h", "missing", "x", "m1", "0", "1", "LIMIT"] {
            if h.exec_args(&["TYPE", k]) == Frame::Simple("set".into()) {
                prop_assert_ne!(h.exec_args(&["SCARD", k]), Frame::Integer(0));
            }
        }
        let mut sum = 0u64;
        h.shared.db.for_each(0, |e| sum += e.mem_size() as u64);
        prop_assert_eq!(h.shared.db.memory().dataset(), sum);
    }
}

/// A negative SRANDMEMBER count is the client's to pick: the reply stops just
/// past the output limit instead of growing with the count.
#[test]
fn huge_negative_srandmember_stops_at_the_output_limit() {
    let mut config = Config::default();
    config.settings.obuf_normal.hard = 1 << 20;
    let mut h = Harness::new(config);
    h.exec("SADD s a b c");
    let raw = h.exec_raw(&["SRANDMEMBER", "s", "-9223372036854775807"]);
    assert!(raw.starts_with(b"*9223372036854775807\r\n"));
    assert!(
        raw.len() > 1 << 20 && raw.len() < (1 << 20) + 64,
        "{}",
        raw.len()
    );
    h.exec_raw(&["SRANDMEMBER", "s", "-5"]);
    assert_eq!(h.exec("SCARD s"), Frame::Integer(3));
}
