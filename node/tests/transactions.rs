//! MULTI/EXEC/WATCH on in-process sessions of one node: queueing and its
//! errors, no rollback of runtime errors, WATCH invalidated by other clients,
//! by expiry and by FLUSHALL, isolation of EXEC against concurrent readers
//! (keys in different keyspace shards), optimistic-locking races, and a
//! transaction reaching the replication journal as one batch.

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

fn simple(s: &str) -> Frame {
    Frame::Simple(s.into())
}

fn bulk(s: &str) -> Frame {
    Frame::Bulk(s.as_bytes().to_vec().into())
}

fn raw(h: &mut Harness, line: &str) -> String {
    let words: Vec<&str> = line.split_whitespace().collect();
    String::from_utf8_lossy(&h.exec_raw(&words)).into_owned()
}

#[test]
fn queued_commands_run_in_order_and_runtime_errors_do_not_roll_back() {
    let _rt = rt().enter();
    let mut h = Harness::new(Config::default());
    assert_eq!(raw(&mut h, "MULTI"), "+OK\r\n");
    assert_eq!(
        raw(&mut h, "MULTI"),
        "-ERR MULTI calls can not be nested\r\n"
    );
    assert_eq!(raw(&mut h, "SET a 1"), "+QUEUED\r\n");
    assert_eq!(raw(&mut h, "HSET a f v"), "+QUEUED\r\n");
    assert_eq!(raw(&mut h, "INCR a"), "+QUEUED\r\n");
    assert_eq!(
        raw(&mut h, "WATCH a"),
        "-ERR WATCH inside MULTI is not allowed\r\n"
    );
    assert_eq!(
        raw(&mut h, "EXEC"),
        "*3\r\n+OK\r\n-WRONGTYPE Operation against a key holding the wrong kind of value\r\n:2\r\n"
    );
    assert_eq!(h.exec("GET a"), bulk("2"));
    assert_eq!(raw(&mut h, "EXEC"), "-ERR EXEC without MULTI\r\n");
    assert_eq!(raw(&mut h, "DISCARD"), "-ERR DISCARD without MULTI\r\n");
}

#[test]
fn an_error_while_queueing_aborts_the_whole_transaction() {
    let _rt = rt().enter();
    let mut h = Harness::new(Config::default());
    h.exec("MULTI");
    assert_eq!(raw(&mut h, "SET a 1"), "+QUEUED\r\n");
    assert!(raw(&mut h, "NOSUCH x").starts_with("-ERR unknown command"));
    assert!(raw(&mut h, "GET").starts_with("-ERR wrong number of arguments"));
    assert_eq!(
        raw(&mut h, "EXEC"),
        "-EXECABORT Transaction discarded because of previous errors.\r\n"
    );
    assert_eq!(h.exec("EXISTS a"), Frame::Integer(0));
    // A command that may not run in a transaction dooms it too.
    h.exec("MULTI");
    assert_eq!(
        raw(&mut h, "PSYNC ? -1"),
        "-ERR Command not allowed inside a transaction\r\n"
    );
    assert!(raw(&mut h, "EXEC").starts_with("-EXECABORT"));
    // DISCARD drops what was queued.
    h.exec("MULTI");
    h.exec("SET a 1");
    assert_eq!(h.exec("DISCARD"), simple("OK"));
    assert_eq!(h.exec("EXISTS a"), Frame::Integer(0));
    assert_eq!(raw(&mut h, "MULTI"), "+OK\r\n");
    assert_eq!(raw(&mut h, "EXEC"), "*0\r\n");
}

#[test]
fn watch_is_invalidated_by_another_client_and_survives_unrelated_writes() {
    let _rt = rt().enter();
    let mut a = Harness::new(Config::default());
    let mut b = Harness::with_shared(a.shared.clone());
    a.exec("SET k 1");
    assert_eq!(a.exec("WATCH k"), simple("OK"));
    b.exec("SET other 1");
    a.exec("MULTI");
    a.exec("SET k 2");
    assert_eq!(raw(&mut a, "EXEC"), "*1\r\n+OK\r\n", "unrelated write");
    a.exec("WATCH k");
    b.exec("SET k 3");
    a.exec("MULTI");
    a.exec("SET k 4");
    assert_eq!(raw(&mut a, "EXEC"), "*-1\r\n", "watched key changed");
    assert_eq!(a.exec("GET k"), bulk("3"));
    // EXEC forgets the watches: the next transaction runs.
    a.exec("MULTI");
    a.exec("SET k 5");
    assert_eq!(raw(&mut a, "EXEC"), "*1\r\n+OK\r\n");
    // UNWATCH forgets them too.
    a.exec("WATCH k");
    a.exec("UNWATCH");
    b.exec("SET k 6");
    a.exec("MULTI");
    a.exec("GET k");
    assert_eq!(raw(&mut a, "EXEC"), "*1\r\n$1\r\n6\r\n");
    // A write by the watching client itself invalidates as well.
    a.exec("WATCH k");
    a.exec("SET k 7");
    a.exec("MULTI");
    a.exec("GET k");
    assert_eq!(raw(&mut a, "EXEC"), "*-1\r\n");
    // RESP3 answers a failed EXEC with null.
    a.exec("HELLO 3");
    a.exec("WATCH k");
    b.exec("DEL k");
    a.exec("MULTI");
    a.exec("GET k");
    assert_eq!(raw(&mut a, "EXEC"), "_\r\n");
}

#[test]
fn watch_sees_expiry_and_flushes_of_existing_keys_only() {
    let rt = rt();
    let _g = rt.enter();
    let mut a = Harness::new(Config::default());
    let mut b = Harness::with_shared(a.shared.clone());
    a.exec("SET k v PX 100");
    a.exec("WATCH k");
    rt.block_on(tokio::time::sleep(std::time::Duration::from_millis(200)));
    a.exec("MULTI");
    a.exec("PING");
    assert_eq!(
        raw(&mut a, "EXEC"),
        "*-1\r\n",
        "the key expired after WATCH"
    );
    // A key already expired at WATCH time is just missing.
    a.exec("SET k v PX 100");
    rt.block_on(tokio::time::sleep(std::time::Duration::from_millis(200)));
    a.exec("WATCH k");
    a.exec("MULTI");
    a.exec("PING");
    assert_eq!(raw(&mut a, "EXEC"), "*1\r\n+PONG\r\n");
    // FLUSHALL touches a watched key that existed, not one that did not.
    a.exec("WATCH missing");
    b.exec("FLUSHALL");
    a.exec("MULTI");
    a.exec("PING");
    assert_eq!(raw(&mut a, "EXEC"), "*1\r\n+PONG\r\n");
    a.exec("SET k 1");
    a.exec("WATCH k");
    b.exec("FLUSHALL");
    a.exec("MULTI");
    a.exec("PING");
    assert_eq!(raw(&mut a, "EXEC"), "*-1\r\n");
}

#[test]
fn a_session_that_ends_leaves_no_watch_behind() {
    let _rt = rt().enter();
    let mut a = Harness::new(Config::default());
    let shared = a.shared.clone();
    {
        let mut b = Harness::with_shared(shared.clone());
        b.exec("WATCH k x y");
    }
    a.exec("SET k 1");
    // Nothing is left to tell: touching the key again finds no stale flag.
    let mut c = Harness::with_shared(shared);
    c.exec("WATCH k");
    c.exec("MULTI");
    c.exec("PING");
    assert_eq!(raw(&mut c, "EXEC"), "*1\r\n+PONG\r\n");
}

/// Keys in different keyspace shards: EXEC's writes to both must be seen
/// together or not at all by every reader.
#[test]
fn readers_never_see_part_of_an_exec() {
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
    for _ in 0..2 {
        let (shared, stop, torn, reads) =
            (shared.clone(), stop.clone(), torn.clone(), reads.clone());
        threads.push(std::thread::spawn(move || {
            let _rt = rt().enter();
            let mut r = Harness::with_shared(shared);
            while !stop.load(Ordering::Relaxed) {
                // Both missing (before the first EXEC) or both the same value.
                match r.exec_args(&["MGET", "alpha", "omega"]) {
                    Frame::Array(v) if v.len() == 2 && v[0] == v[1] => {}
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
    for i in 0..3000 {
        w.exec("MULTI");
        w.exec_args(&["SET", "alpha", &i.to_string()]);
        w.exec_args(&["SET", "omega", &i.to_string()]);
        let r = w.exec_raw(&["EXEC"]);
        assert_eq!(r, b"*2\r\n+OK\r\n+OK\r\n");
    }
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    assert!(reads.load(Ordering::Relaxed) > 0);
    assert_eq!(torn.load(Ordering::Relaxed), 0, "a reader saw half an EXEC");
}

/// Optimistic locking: clients increment a counter with WATCH/GET/MULTI/SET/EXEC
/// and retry when EXEC fails; no increment is lost or doubled.
#[test]
fn watch_races_lose_no_increment() {
    let _rt = rt().enter();
    let owner = Harness::new(Config::default());
    let shared = owner.shared.clone();
    let per_thread = 300;
    let mut threads = Vec::new();
    let retries = Arc::new(AtomicU64::new(0));
    for _ in 0..3 {
        let (shared, retries) = (shared.clone(), retries.clone());
        threads.push(std::thread::spawn(move || {
            let _rt = rt().enter();
            let mut c = Harness::with_shared(shared);
            for _ in 0..per_thread {
                loop {
                    c.exec("WATCH counter");
                    let n = match c.exec("GET counter") {
                        Frame::Bulk(b) => String::from_utf8_lossy(&b).parse::<u64>().unwrap(),
                        _ => 0,
                    };
                    c.exec("MULTI");
                    c.exec_args(&["SET", "counter", &(n + 1).to_string()]);
                    if c.exec_raw(&["EXEC"]) == b"*1\r\n+OK\r\n" {
                        break;
                    }
                    retries.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for t in threads {
        t.join().unwrap();
    }
    let mut c = Harness::with_shared(shared);
    assert_eq!(c.exec("GET counter"), bulk(&(3 * per_thread).to_string()));
}

#[test]
fn a_transaction_is_journaled_as_one_batch() {
    let _rt = rt().enter();
    let mut h = Harness::new(Config::default());
    h.shared.db.set_tracking(true);
    let start = h.shared.db.journal().end();
    h.exec("MULTI");
    h.exec("SET alpha 1");
    h.exec("SET omega 2");
    h.exec("EXEC");
    let mut out = Vec::new();
    let end = h.shared.db.journal().end();
    h.shared
        .db
        .journal()
        .read(start, (end - start) as usize, &mut out)
        .unwrap();
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.starts_with("*2\r\n$5\r\nBATCH\r\n$1\r\n2\r\n"),
        "{text:?}"
    );
    // Applied to another keyspace, the batch gives the same data.
    let replica = shoal_node::store::Db::new(4);
    shoal_node::store::effect::apply_stream(&replica, &out).unwrap();
    assert_eq!(replica.len(), 2);
    // A batch cut short is refused rather than half applied.
    let cut = &out[..out.len() - 10];
    let other = shoal_node::store::Db::new(4);
    assert!(shoal_node::store::effect::apply_stream(&other, cut).is_err());
}

#[test]
fn watch_sees_eviction_and_replicated_changes() {
    let _rt = rt().enter();
    let mut a = Harness::new(Config::default());
    let mut admin = Harness::with_shared(a.shared.clone());
    a.exec("SET k v");
    a.exec("WATCH k");
    admin.exec("CONFIG SET maxmemory-policy allkeys-lru");
    // The only key goes to make room.
    admin.exec("CONFIG SET maxmemory 1");
    assert_eq!(a.exec("EXISTS k"), Frame::Integer(0), "k was evicted");
    a.exec("MULTI");
    a.exec("PING");
    assert_eq!(raw(&mut a, "EXEC"), "*-1\r\n", "eviction touches the watch");
    admin.exec("CONFIG SET maxmemory 0");
    // A change a primary streams in (an effect applied to this keyspace).
    a.exec("SET r 1");
    a.exec("WATCH r");
    shoal_node::store::effect::apply(&a.shared.db, &[b"SET", b"r", b"2", b"0"]).unwrap();
    a.exec("MULTI");
    a.exec("GET r");
    assert_eq!(
        raw(&mut a, "EXEC"),
        "*-1\r\n",
        "a replicated change touches the watch"
    );
    a.exec("WATCH r");
    shoal_node::store::effect::apply(&a.shared.db, &[b"DEL", b"other"]).unwrap();
    a.exec("MULTI");
    a.exec("GET r");
    assert_eq!(raw(&mut a, "EXEC"), "*1\r\n$1\r\n2\r\n");
}
