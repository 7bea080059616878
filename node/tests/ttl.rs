//! TTL behaviour on tokio's paused clock: no sleeping, exact milliseconds.

use shoal_node::resp::Frame;
use shoal_node::server::Cron;
use shoal_node::{Config, Harness};
use std::time::Duration;
use tokio::time::advance;

fn bulk(s: &str) -> Frame {
    Frame::Bulk(s.as_bytes().to_vec().into())
}

fn ok() -> Frame {
    Frame::Simple("OK".into())
}

fn int(i: i64) -> Frame {
    Frame::Integer(i)
}

#[tokio::test(start_paused = true)]
async fn ex_expires_to_the_millisecond() {
    let mut h = Harness::new(Config::default());
    assert_eq!(h.exec("SET k v EX 10"), ok());
    assert_eq!(h.exec("TTL k"), int(10));
    advance(Duration::from_millis(9_999)).await;
    assert_eq!(h.exec("GET k"), bulk("v"));
    assert_eq!(h.exec("PTTL k"), int(1));
    advance(Duration::from_millis(1)).await;
    assert_eq!(h.exec("GET k"), Frame::Null);
    assert_eq!(h.exec("TTL k"), int(-2));
    assert_eq!(h.exec("EXISTS k"), int(0));
}

#[tokio::test(start_paused = true)]
async fn px_psetex_and_pexpire() {
    let mut h = Harness::new(Config::default());
    h.exec("SET a v PX 1500");
    h.exec("PSETEX b 250 v");
    h.exec("SET c v");
    assert_eq!(h.exec("PEXPIRE c 700"), int(1));
    advance(Duration::from_millis(249)).await;
    assert_eq!(
        h.exec("MGET a b c"),
        Frame::Array(vec![bulk("v"), bulk("v"), bulk("v")])
    );
    advance(Duration::from_millis(1)).await;
    assert_eq!(
        h.exec("MGET a b c"),
        Frame::Array(vec![bulk("v"), Frame::Null, bulk("v")])
    );
    advance(Duration::from_millis(450)).await;
    assert_eq!(h.exec("EXISTS a b c"), int(1));
    advance(Duration::from_millis(800)).await;
    assert_eq!(h.exec("EXISTS a"), int(0));
}

#[tokio::test(start_paused = true)]
async fn writes_that_keep_or_clear_ttl() {
    let mut h = Harness::new(Config::default());
    h.exec("SET k 1 EX 100");
    h.exec("INCR k");
    h.exec("APPEND k 0");
    assert_eq!(h.exec("TTL k"), int(100), "INCR and APPEND keep the TTL");
    h.exec("SET k v KEEPTTL");
    assert_eq!(h.exec("TTL k"), int(100));
    h.exec("SET k v");
    assert_eq!(h.exec("TTL k"), int(-1), "a plain SET clears it");
    h.exec("SET k v EX 100");
    h.exec("RENAME k k2");
    assert_eq!(h.exec("TTL k2"), int(100), "RENAME carries it");
    assert_eq!(h.exec("PERSIST k2"), int(1));
    assert_eq!(h.exec("TTL k2"), int(-1));
    h.exec("GETEX k2 PX 100");
    advance(Duration::from_millis(100)).await;
    assert_eq!(h.exec("GET k2"), Frame::Null);
}

#[tokio::test(start_paused = true)]
async fn absolute_deadlines_follow_the_clock() {
    let mut h = Harness::new(Config::default());
    let now_ms = h.shared.clock.now_ms() as i64;
    h.exec("SET k v");
    let at = (now_ms + 5_000).to_string();
    assert_eq!(h.exec_args(&["PEXPIREAT", "k", &at]), int(1));
    assert_eq!(h.exec("PEXPIRETIME k"), int(now_ms + 5_000));
    assert_eq!(h.exec("PTTL k"), int(5_000));
    advance(Duration::from_millis(5_000)).await;
    assert_eq!(h.exec("GET k"), Frame::Null);
    // A deadline already past deletes at once and still reports success.
    h.exec("SET k v");
    let past = (now_ms - 1).to_string();
    assert_eq!(h.exec_args(&["PEXPIREAT", "k", &past]), int(1));
    assert_eq!(h.exec("EXISTS k"), int(0));
}

#[tokio::test(start_paused = true)]
async fn active_expiry_reclaims_keys_nobody_reads() {
    let mut h = Harness::new(Config::default());
    let cron = Cron::spawn(h.shared.clone());
    for i in 0..5_000 {
        let key = format!("k{i}");
        h.exec_args(&["SET", &key, "v", "PX", "100"]);
    }
    h.exec("SET keep v");
    assert_eq!(h.exec("DBSIZE"), int(5_001));
    // DBSIZE does not look keys up, so only active expiry can shrink it.
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    assert_eq!(h.exec("DBSIZE"), int(1));
    assert_eq!(h.shared.db.stats().expired, 5_000);
    assert_eq!(h.shared.db.memory().dataset() as usize, {
        let mut one = Harness::new(Config::default());
        one.exec("SET keep v");
        one.shared.db.memory().dataset() as usize
    });
    cron.stop().await;
}

#[tokio::test(start_paused = true)]
async fn expired_keys_are_invisible_everywhere() {
    let mut h = Harness::new(Config::default());
    h.exec("MSET a 1 b 2");
    h.exec("PEXPIRE a 10");
    h.exec("HSET h f v");
    h.exec("PEXPIRE h 10");
    advance(Duration::from_millis(10)).await;
    assert_eq!(h.exec("KEYS *"), Frame::Array(vec![bulk("b")]));
    assert_eq!(
        h.exec("SCAN 0 COUNT 100"),
        Frame::Array(vec![bulk("0"), Frame::Array(vec![bulk("b")])])
    );
    assert_eq!(h.exec("HGET h f"), Frame::Null);
    assert_eq!(h.exec("TYPE a"), Frame::Simple("none".into()));
    assert_eq!(h.exec("RANDOMKEY"), bulk("b"));
    assert_eq!(
        h.exec("SET a new NX"),
        ok(),
        "an expired key does not block NX"
    );
}
