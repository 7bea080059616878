//! The list commands against a model: random command sequences run through a
//! Harness and through VecDeques, and every reply and every list's contents must
//! agree. Elements are short or long (3 KB) and pushes come in batches, so lists
//! cross the 8 KB chunk size both ways: packed in one chunk, then a deque of
//! chunks, then back as they shrink.

use proptest::prelude::*;
use shoal_node::config::Config;
use shoal_node::resp::Frame;
use shoal_node::Harness;
use std::collections::{BTreeMap, VecDeque};

const KEYS: [&str; 3] = ["k0", "k1", "k2"];
/// Holds a string: every list command on it must answer WRONGTYPE.
const STRING_KEY: &str = "str";

type Model = BTreeMap<Vec<u8>, VecDeque<Vec<u8>>>;

#[derive(Clone, Debug)]
enum Op {
    Push {
        key: usize,
        head: bool,
        only_existing: bool,
        values: Vec<Vec<u8>>,
    },
    Pop {
        key: usize,
        head: bool,
        count: Option<i64>,
    },
    Range {
        key: usize,
        start: i64,
        end: i64,
    },
    Index {
        key: usize,
        index: i64,
    },
    Set {
        key: usize,
        index: i64,
        value: Vec<u8>,
    },
    Insert {
        key: usize,
        after: bool,
        pivot: Vec<u8>,
        value: Vec<u8>,
    },
    Rem {
        key: usize,
        count: i64,
        value: Vec<u8>,
    },
    Trim {
        key: usize,
        start: i64,
        end: i64,
    },
    Pos {
        key: usize,
        value: Vec<u8>,
        rank: Option<i64>,
        count: Option<i64>,
        maxlen: Option<i64>,
    },
    Move {
        src: usize,
        dst: usize,
        from_head: bool,
        to_head: bool,
    },
    Mpop {
        keys: Vec<usize>,
        head: bool,
        count: Option<i64>,
    },
    Len {
        key: usize,
    },
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => prop::sample::select(vec!["a", "b", "c", "", "dd"]).prop_map(|s| s.as_bytes().to_vec()),
        2 => (0u8..3).prop_map(|c| vec![b'x' + c; 3000]),
        1 => prop::collection::vec(any::<u8>(), 0..300),
    ]
}

fn values() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop_oneof![
        4 => prop::collection::vec(value(), 1..4),
        1 => (value(), 1usize..400).prop_map(|(v, n)| vec![v; n]),
        1 => (1usize..600, 1usize..6).prop_map(|(n, step)| {
            let pool: [&[u8]; 5] = [b"a", b"b", b"c", b"", b"dd"];
            (0..n).map(|i| pool[(i * step) % 5].to_vec()).collect()
        }),
    ]
}

/// Indexes mostly near the list's extent, sometimes extreme.
fn index() -> impl Strategy<Value = i64> {
    prop_oneof![
        4 => -12i64..12,
        4 => -700i64..700,
        1 => Just(i64::MAX),
        1 => Just(i64::MIN),
    ]
}

/// A key index; `KEYS.len()` stands for the string key.
fn key() -> impl Strategy<Value = usize> {
    prop_oneof![10 => 0..KEYS.len(), 1 => Just(KEYS.len())]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (key(), any::<bool>(), prop::bool::weighted(0.2), values())
            .prop_map(|(key, head, only_existing, values)| Op::Push { key, head, only_existing, values }),
        3 => (key(), any::<bool>(), prop::option::of(prop_oneof![0i64..5, 0i64..800, Just(-1)]))
            .prop_map(|(key, head, count)| Op::Pop { key, head, count }),
        2 => (key(), index(), index()).prop_map(|(key, start, end)| Op::Range { key, start, end }),
        2 => (key(), index()).prop_map(|(key, index)| Op::Index { key, index }),
        2 => (key(), index(), value()).prop_map(|(key, index, value)| Op::Set { key, index, value }),
        2 => (key(), any::<bool>(), value(), value())
            .prop_map(|(key, after, pivot, value)| Op::Insert { key, after, pivot, value }),
        3 => (key(), -3i64..4, value()).prop_map(|(key, count, value)| Op::Rem { key, count, value }),
        1 => (key(), index(), index()).prop_map(|(key, start, end)| Op::Trim { key, start, end }),
        2 => (
            key(),
            value(),
            prop::option::of(prop_oneof![-3i64..4, Just(i64::MIN)]),
            prop::option::of(-1i64..4),
            prop::option::of(-1i64..300),
        )
            .prop_map(|(key, value, rank, count, maxlen)| Op::Pos { key, value, rank, count, maxlen }),
        2 => (key(), key(), any::<bool>(), any::<bool>())
            .prop_map(|(src, dst, from_head, to_head)| Op::Move { src, dst, from_head, to_head }),
        2 => (prop::collection::vec(key(), 1..4), any::<bool>(), prop::option::of(-1i64..500))
            .prop_map(|(keys, head, count)| Op::Mpop { keys, head, count }),
        1 => key().prop_map(|key| Op::Len { key }),
    ]
}

fn key_name(k: usize) -> Vec<u8> {
    KEYS.get(k)
        .copied()
        .unwrap_or(STRING_KEY)
        .as_bytes()
        .to_vec()
}

fn bulk(v: &[u8]) -> Frame {
    Frame::Bulk(v.to_vec().into())
}

fn int(n: usize) -> Frame {
    Frame::Integer(n as i64)
}

fn wrongtype() -> Frame {
    Frame::Error("WRONGTYPE Operation against a key holding the wrong kind of value".into())
}

fn err(msg: &str) -> Frame {
    Frame::Error(format!("ERR {msg}"))
}

fn num(n: i64) -> Vec<u8> {
    n.to_string().into_bytes()
}

/// Redis' resolution of a possibly negative index.
fn resolve(index: i64, len: usize) -> Option<usize> {
    let i = if index < 0 {
        (len as i64).checked_add(index)?
    } else {
        index
    };
    usize::try_from(i).ok().filter(|&i| i < len)
}

/// Redis' start/stop clamping: (first, count).
fn clamp(start: i64, end: i64, len: usize) -> (usize, usize) {
    let llen = len as i64;
    let start = if start < 0 {
        (llen + start).max(0)
    } else {
        start
    };
    let end = if end < 0 { llen + end } else { end };
    if start > end || start >= llen {
        return (0, 0);
    }
    let end = end.min(llen - 1);
    (start as usize, (end - start + 1) as usize)
}

fn pop(l: &mut VecDeque<Vec<u8>>, head: bool) -> Vec<u8> {
    if head { l.pop_front() } else { l.pop_back() }.expect("not empty")
}

/// Applies `op` to the model and returns the request and the expected reply.
fn apply(m: &mut Model, op: &Op) -> (Vec<Vec<u8>>, Frame) {
    let is_str = |k: usize| k == KEYS.len();
    match op {
        Op::Push {
            key,
            head,
            only_existing,
            values,
        } => {
            let name = match (head, only_existing) {
                (true, false) => "LPUSH",
                (false, false) => "RPUSH",
                (true, true) => "LPUSHX",
                (false, true) => "RPUSHX",
            };
            let mut req = vec![name.as_bytes().to_vec(), key_name(*key)];
            req.extend(values.iter().cloned());
            if is_str(*key) {
                return (req, wrongtype());
            }
            if *only_existing && !m.contains_key(&key_name(*key)) {
                return (req, int(0));
            }
            let l = m.entry(key_name(*key)).or_default();
            for v in values {
                if *head {
                    l.push_front(v.clone())
                } else {
                    l.push_back(v.clone())
                }
            }
            (req, int(l.len()))
        }
        Op::Pop { key, head, count } => {
            let mut req = vec![
                if *head {
                    b"LPOP".to_vec()
                } else {
                    b"RPOP".to_vec()
                },
                key_name(*key),
            ];
            if let Some(c) = count {
                req.push(num(*c));
                if *c < 0 {
                    return (req, err("value is out of range, must be positive"));
                }
            }
            if is_str(*key) {
                return (req, wrongtype());
            }
            let name = key_name(*key);
            let Some(l) = m.get_mut(&name) else {
                return (req, Frame::Null);
            };
            let reply = match count {
                None => bulk(&pop(l, *head)),
                Some(c) => {
                    let n = (*c as usize).min(l.len());
                    Frame::Array((0..n).map(|_| bulk(&pop(l, *head))).collect())
                }
            };
            if l.is_empty() {
                m.remove(&name);
            }
            (req, reply)
        }
        Op::Range { key, start, end } => {
            let req = vec![b"LRANGE".to_vec(), key_name(*key), num(*start), num(*end)];
            if is_str(*key) {
                return (req, wrongtype());
            }
            let empty = VecDeque::new();
            let l = m.get(&key_name(*key)).unwrap_or(&empty);
            let (first, n) = clamp(*start, *end, l.len());
            (
                req,
                Frame::Array(l.iter().skip(first).take(n).map(|v| bulk(v)).collect()),
            )
        }
        Op::Index { key, index } => {
            let req = vec![b"LINDEX".to_vec(), key_name(*key), num(*index)];
            if is_str(*key) {
                return (req, wrongtype());
            }
            let reply = m
                .get(&key_name(*key))
                .and_then(|l| resolve(*index, l.len()).map(|i| bulk(&l[i])))
                .unwrap_or(Frame::Null);
            (req, reply)
        }
        Op::Set { key, index, value } => {
            let req = vec![b"LSET".to_vec(), key_name(*key), num(*index), value.clone()];
            if is_str(*key) {
                return (req, wrongtype());
            }
            let Some(l) = m.get_mut(&key_name(*key)) else {
                return (req, err("no such key"));
            };
            match resolve(*index, l.len()) {
                Some(i) => {
                    l[i] = value.clone();
                    (req, Frame::Simple("OK".into()))
                }
                None => (req, err("index out of range")),
            }
        }
        Op::Insert {
            key,
            after,
            pivot,
            value,
        } => {
            let req = vec![
                b"LINSERT".to_vec(),
                key_name(*key),
                if *after {
                    b"AFTER".to_vec()
                } else {
                    b"BEFORE".to_vec()
                },
                pivot.clone(),
                value.clone(),
            ];
            if is_str(*key) {
                return (req, wrongtype());
            }
            let Some(l) = m.get_mut(&key_name(*key)) else {
                return (req, int(0));
            };
            match l.iter().position(|v| v == pivot) {
                Some(i) => {
                    l.insert(i + usize::from(*after), value.clone());
                    (req, int(l.len()))
                }
                None => (req, Frame::Integer(-1)),
            }
        }
        Op::Rem { key, count, value } => {
            let req = vec![b"LREM".to_vec(), key_name(*key), num(*count), value.clone()];
            if is_str(*key) {
                return (req, wrongtype());
            }
            let name = key_name(*key);
            let Some(l) = m.get_mut(&name) else {
                return (req, int(0));
            };
            let limit = if *count == 0 {
                usize::MAX
            } else {
                count.unsigned_abs() as usize
            };
            let mut removed = 0;
            let mut kept: Vec<Vec<u8>> = Vec::new();
            let items: Vec<Vec<u8>> = if *count < 0 {
                l.iter().rev().cloned().collect()
            } else {
                l.iter().cloned().collect()
            };
            for v in items {
                if v == *value && removed < limit {
                    removed += 1;
                } else {
                    kept.push(v);
                }
            }
            if *count < 0 {
                kept.reverse();
            }
            *l = kept.into();
            if l.is_empty() {
                m.remove(&name);
            }
            (req, int(removed))
        }
        Op::Trim { key, start, end } => {
            let req = vec![b"LTRIM".to_vec(), key_name(*key), num(*start), num(*end)];
            if is_str(*key) {
                return (req, wrongtype());
            }
            let name = key_name(*key);
            if let Some(l) = m.get_mut(&name) {
                let (first, n) = clamp(*start, *end, l.len());
                *l = l.iter().skip(first).take(n).cloned().collect();
                if l.is_empty() {
                    m.remove(&name);
                }
            }
            (req, Frame::Simple("OK".into()))
        }
        Op::Pos {
            key,
            value,
            rank,
            count,
            maxlen,
        } => {
            let mut req = vec![b"LPOS".to_vec(), key_name(*key), value.clone()];
            if let Some(r) = rank {
                req.extend([b"RANK".to_vec(), num(*r)]);
            }
            if let Some(c) = count {
                req.extend([b"COUNT".to_vec(), num(*c)]);
            }
            if let Some(ml) = maxlen {
                req.extend([b"MAXLEN".to_vec(), num(*ml)]);
            }
            if *rank == Some(0) {
                return (req, err("RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list"));
            }
            if count.is_some_and(|c| c < 0) {
                return (req, err("COUNT can't be negative"));
            }
            if maxlen.is_some_and(|c| c < 0) {
                return (req, err("MAXLEN can't be negative"));
            }
            if is_str(*key) {
                return (req, wrongtype());
            }
            let rank = rank.unwrap_or(1);
            let empty = VecDeque::new();
            let l = m.get(&key_name(*key)).unwrap_or(&empty);
            let len = l.len();
            let scan = match maxlen {
                Some(ml) if *ml > 0 => (*ml as usize).min(len),
                _ => len,
            };
            // Every match in search order, as positions from the head.
            let order: Vec<usize> = if rank < 0 {
                (len - scan..len).rev().collect()
            } else {
                (0..scan).collect()
            };
            let all: Vec<usize> = order.into_iter().filter(|&i| l[i] == *value).collect();
            // RANK i64::MIN: Redis negates it as a C long, so it stays negative
            // and every match counts from the tail.
            let skip = if rank == i64::MIN {
                0
            } else {
                rank.unsigned_abs() as usize - 1
            };
            let hits: Vec<usize> = all.into_iter().skip(skip).collect();
            let reply = match count {
                None => hits.first().map_or(Frame::Null, |&i| int(i)),
                Some(c) => {
                    let n = if *c == 0 || rank == i64::MIN {
                        usize::MAX
                    } else {
                        *c as usize
                    };
                    Frame::Array(hits.into_iter().take(n).map(int).collect())
                }
            };
            (req, reply)
        }
        Op::Move {
            src,
            dst,
            from_head,
            to_head,
        } => {
            let side = |h: bool| {
                if h {
                    b"LEFT".to_vec()
                } else {
                    b"RIGHT".to_vec()
                }
            };
            let req = vec![
                b"LMOVE".to_vec(),
                key_name(*src),
                key_name(*dst),
                side(*from_head),
                side(*to_head),
            ];
            let (s, d) = (key_name(*src), key_name(*dst));
            if is_str(*src) {
                return (req, wrongtype());
            }
            if !m.contains_key(&s) {
                return (req, Frame::Null);
            }
            if is_str(*dst) {
                return (req, wrongtype());
            }
            let l = m.get_mut(&s).expect("checked");
            let v = pop(l, *from_head);
            if l.is_empty() {
                m.remove(&s);
            }
            let l = m.entry(d).or_default();
            if *to_head {
                l.push_front(v.clone())
            } else {
                l.push_back(v.clone())
            }
            (req, bulk(&v))
        }
        Op::Mpop { keys, head, count } => {
            let mut req = vec![b"LMPOP".to_vec(), num(keys.len() as i64)];
            req.extend(keys.iter().map(|&k| key_name(k)));
            req.push(if *head {
                b"LEFT".to_vec()
            } else {
                b"RIGHT".to_vec()
            });
            if let Some(c) = count {
                req.extend([b"COUNT".to_vec(), num(*c)]);
                if *c < 1 {
                    return (req, err("count should be greater than 0"));
                }
            }
            for &k in keys {
                if is_str(k) {
                    return (req, wrongtype());
                }
                let name = key_name(k);
                let Some(l) = m.get_mut(&name) else { continue };
                let n = (count.unwrap_or(1) as usize).min(l.len());
                let popped: Vec<Frame> = (0..n).map(|_| bulk(&pop(l, *head))).collect();
                if l.is_empty() {
                    m.remove(&name);
                }
                return (req, Frame::Array(vec![bulk(&name), Frame::Array(popped)]));
            }
            (req, Frame::Null)
        }
        Op::Len { key } => {
            let req = vec![b"LLEN".to_vec(), key_name(*key)];
            if is_str(*key) {
                return (req, wrongtype());
            }
            (req, int(m.get(&key_name(*key)).map_or(0, VecDeque::len)))
        }
    }
}

fn show(req: &[Vec<u8>]) -> String {
    req.iter()
        .map(|a| {
            let s = String::from_utf8_lossy(a);
            if s.len() > 20 {
                format!("{}..({})", &s[..10.min(s.len())], a.len())
            } else {
                s.into_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Each shard's running total equals the sum of its entries' estimates (as the
/// command fuzz target checks): a list whose size estimate drifts from its
/// contents shows here.
fn check_accounting(h: &Harness) -> Result<(), TestCaseError> {
    let db = &h.shared.db;
    let mut total = 0;
    for i in 0..db.shard_count() {
        let shard = db.lock_index(i);
        let mut sum = 0;
        shard.for_each(0, |e| sum += e.mem_size());
        prop_assert_eq!(shard.used_bytes(), sum, "shard {}'s total drifted", i);
        total += sum;
    }
    prop_assert_eq!(db.memory().dataset(), total as u64, "dataset total drifted");
    Ok(())
}

fn run(ops: &[Op]) -> Result<(), TestCaseError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut h = Harness::new(Config::default());
        h.exec_args(&["SET", STRING_KEY, "v"]);
        let mut m = Model::new();
        for (step, op) in ops.iter().enumerate() {
            let (req, want) = apply(&mut m, op);
            let got = h.exec_args(&req);
            prop_assert_eq!(&got, &want, "step {}: {}", step, show(&req));
            check_accounting(&h)?;
            // Contents and existence of every key agree after every step.
            for k in KEYS {
                let got = h.exec_args(&["LRANGE", k, "0", "-1"]);
                let want = m
                    .get(k.as_bytes())
                    .map_or(Vec::new(), |l| l.iter().map(|v| bulk(v)).collect());
                prop_assert_eq!(
                    got,
                    Frame::Array(want),
                    "contents of {} after step {}",
                    k,
                    step
                );
                let exists = h.exec_args(&["EXISTS", k]);
                prop_assert_eq!(
                    exists,
                    int(usize::from(m.contains_key(k.as_bytes()))),
                    "existence of {}",
                    k
                );
            }
        }
        // Deleting everything gives every byte back.
        for k in KEYS.iter().chain([&STRING_KEY]) {
            h.exec_args(&["DEL", k]);
        }
        prop_assert_eq!(
            h.shared.db.memory().dataset(),
            0,
            "memory estimate returns to zero"
        );
        Ok(())
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn list_commands_match_a_model(ops in prop::collection::vec(op(), 1..60)) {
        run(&ops)?;
    }
}

/// A fixed sequence that grows one list far past the chunk size with long
/// elements, works on its middle, then shrinks it back to a single chunk.
#[test]
fn crosses_the_chunk_size_both_ways() {
    let mut ops = Vec::new();
    for i in 0..40 {
        ops.push(Op::Push {
            key: 0,
            head: i % 2 == 0,
            only_existing: false,
            values: vec![vec![b'x' + (i % 3) as u8; 3000], b"a".to_vec()],
        });
    }
    ops.push(Op::Insert {
        key: 0,
        after: true,
        pivot: b"a".to_vec(),
        value: vec![b'q'; 5000],
    });
    ops.push(Op::Set {
        key: 0,
        index: 41,
        value: vec![b'w'; 9000],
    });
    ops.push(Op::Rem {
        key: 0,
        count: -5,
        value: b"a".to_vec(),
    });
    ops.push(Op::Pos {
        key: 0,
        value: b"a".to_vec(),
        rank: Some(-2),
        count: Some(0),
        maxlen: None,
    });
    ops.push(Op::Trim {
        key: 0,
        start: 10,
        end: -10,
    });
    ops.push(Op::Move {
        src: 0,
        dst: 1,
        from_head: true,
        to_head: false,
    });
    ops.push(Op::Pop {
        key: 0,
        head: false,
        count: Some(50),
    });
    ops.push(Op::Push {
        key: 0,
        head: true,
        only_existing: true,
        values: vec![b"back".to_vec()],
    });
    ops.push(Op::Mpop {
        keys: vec![2, 0, 1],
        head: true,
        count: Some(100),
    });
    run(&ops).unwrap();
}
