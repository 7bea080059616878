//! Lua scripts on in-process sessions of one node: a script's writes to keys in
//! different keyspace shards are seen together or not at all by concurrent
//! readers (plain commands and other scripts), concurrent read-modify-write
//! scripts lose no update, and a script reaches the replication journal as one
//! batch that another keyspace applies to the same data.

use shoal_node::resp::Frame;
use shoal_node::{Config, Harness};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap()
}

const WRITE_BOTH: &str = "redis.call('SET', KEYS[1], ARGV[1]) \
    redis.call('RPUSH', KEYS[3], ARGV[1]) \
    redis.call('SET', KEYS[2], ARGV[1]) return 1";

const READ_BOTH: &str = "return {redis.call('GET', KEYS[1]), redis.call('GET', KEYS[2])}";

#[test]
fn readers_never_see_part_of_a_script() {
    let _rt = rt().enter();
    let owner = Harness::new(Config::default());
    let shared = owner.shared.clone();
    assert_ne!(
        shared.db.shard_of(b"alpha"),
        shared.db.shard_of(b"omega"),
        "the test needs keys in two shards"
    );
    let stop = Arc::new(AtomicBool::new(false));
    let torn = Arc::new(AtomicU64::new(0));
    let reads = Arc::new(AtomicU64::new(0));
    let mut threads = Vec::new();
    for reader in 0..2 {
        let (shared, stop, torn, reads) =
            (shared.clone(), stop.clone(), torn.clone(), reads.clone());
        threads.push(std::thread::spawn(move || {
            let _rt = rt().enter();
            let mut r = Harness::with_shared(shared);
            while !stop.load(Ordering::Relaxed) {
                // One reader uses MGET, the other a script reading both keys.
                let got = if reader == 0 {
                    r.exec_args(&["MGET", "alpha", "omega"])
                } else {
                    r.exec_args(&["EVAL", READ_BOTH, "2", "alpha", "omega"])
                };
                match got {
                    Frame::Array(v) if v.len() == 2 && v[0] == v[1] => {}
                    // Before the first script both are missing: nil in MGET,
                    // false (a RESP2 nil) in the script's table.
                    other => {
                        if torn.fetch_add(1, Ordering::Relaxed) == 0 {
                            eprintln!("torn read: {other:?}");
                        }
                    }
                }
                reads.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let mut w = Harness::with_shared(shared.clone());
    for i in 0..2000 {
        let v = i.to_string();
        let r = w.exec_raw(&["EVAL", WRITE_BOTH, "3", "alpha", "omega", "log", &v]);
        assert_eq!(r, b":1\r\n");
    }
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    assert!(reads.load(Ordering::Relaxed) > 0);
    assert_eq!(
        torn.load(Ordering::Relaxed),
        0,
        "a reader saw half a script"
    );
    assert_eq!(w.exec("LLEN log"), Frame::Integer(2000));
}

/// GET, then SET of the value plus one, inside a script: atomic, so concurrent
/// clients lose no increment (the same without a script would).
#[test]
fn concurrent_read_modify_write_scripts_lose_nothing() {
    let _rt = rt().enter();
    let owner = Harness::new(Config::default());
    let shared = owner.shared.clone();
    let per_thread = 400;
    let incr = "local n = tonumber(redis.call('GET', KEYS[1]) or '0') \
                redis.call('SET', KEYS[1], n + 1) return n + 1";
    let mut threads = Vec::new();
    for _ in 0..3 {
        let shared = shared.clone();
        threads.push(std::thread::spawn(move || {
            let _rt = rt().enter();
            let mut c = Harness::with_shared(shared);
            // EVALSHA after SCRIPT LOAD, as client libraries do.
            let sha = match c.exec_args(&["SCRIPT", "LOAD", incr]) {
                Frame::Bulk(b) => String::from_utf8(b.to_vec()).unwrap(),
                other => panic!("{other:?}"),
            };
            for _ in 0..per_thread {
                match c.exec_args(&["EVALSHA", &sha, "1", "counter"]) {
                    Frame::Integer(_) => {}
                    other => panic!("{other:?}"),
                }
            }
        }));
    }
    for t in threads {
        t.join().unwrap();
    }
    let mut c = Harness::with_shared(shared);
    assert_eq!(
        c.exec("GET counter"),
        Frame::Bulk((3 * per_thread).to_string().into_bytes().into())
    );
}

#[test]
fn a_script_is_journaled_as_one_batch() {
    let _rt = rt().enter();
    let mut h = Harness::new(Config::default());
    h.shared.db.set_tracking(true);
    let start = h.shared.db.journal().end();
    let script = "redis.call('SET', KEYS[1], redis.call('TIME')[1]) \
                  redis.call('HSET', KEYS[2], 'r', tostring(math.random())) \
                  redis.call('SADD', KEYS[3], 'a', 'b') return 1";
    assert_eq!(
        h.exec_args(&["EVAL", script, "3", "alpha", "omega", "set"]),
        Frame::Integer(1)
    );
    let end = h.shared.db.journal().end();
    let mut out = Vec::new();
    h.shared
        .db
        .journal()
        .read(start, (end - start) as usize, &mut out)
        .unwrap();
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.starts_with("*2\r\n$5\r\nBATCH\r\n$1\r\n3\r\n"),
        "{text:?}"
    );
    assert!(!text.contains("EVAL"), "the script itself was journaled");
    let replica = Harness::new(Config::default());
    shoal_node::store::effect::apply_stream(&replica.shared.db, &out).unwrap();
    let digest = |h: &mut Harness| h.exec_raw(&["DEBUG", "DIGEST"]);
    let mut replica = replica;
    assert_eq!(digest(&mut h), digest(&mut replica));
    // A read-only script journals nothing.
    let before = h.shared.db.journal().end();
    h.exec_args(&["EVAL", READ_BOTH, "2", "alpha", "omega"]);
    assert_eq!(h.shared.db.journal().end(), before);
}

#[test]
fn eval_inside_multi_runs_at_exec_on_the_transactions_locks() {
    let _rt = rt().enter();
    let mut h = Harness::new(Config::default());
    h.exec("MULTI");
    assert_eq!(
        h.exec_args(&["EVAL", WRITE_BOTH, "3", "alpha", "omega", "log", "x"]),
        Frame::Simple("QUEUED".into())
    );
    h.exec("INCR n");
    assert_eq!(h.exec_raw(&["EXEC"]), b"*2\r\n:1\r\n:1\r\n".to_vec());
    assert_eq!(h.exec("GET omega"), Frame::Bulk(b"x".to_vec().into()));
    // A script error inside EXEC is that command's reply only.
    h.exec("MULTI");
    h.exec_args(&["EVAL", "error('no')", "0"]);
    h.exec("INCR n");
    let r = h.exec_raw(&["EXEC"]);
    let text = String::from_utf8_lossy(&r);
    assert!(
        text.starts_with("*2\r\n-ERR user_script:1: no script: "),
        "{text}"
    );
    assert!(text.ends_with(":2\r\n"), "{text}");
}
