//! maxmemory and the eviction policies, run in-process.

use shoal_node::resp::Frame;
use shoal_node::store::Policy;
use shoal_node::{Config, Harness};

fn harness(maxmemory: u64, policy: Policy) -> Harness {
    let mut config = Config::default();
    config.settings.maxmemory = maxmemory;
    config.settings.maxmemory_policy = policy;
    Harness::new(config)
}

fn fill(h: &mut Harness, prefix: &str, n: usize, value: &str) {
    for i in 0..n {
        let key = format!("{prefix}{i}");
        h.exec_args(&["SET", key.as_str(), value]);
    }
}

#[tokio::test(start_paused = true)]
async fn allkeys_lru_keeps_memory_under_limit_and_hot_keys_alive() {
    let limit = 2 << 20;
    let mut h = harness(limit, Policy::AllKeysLru);
    let value = "x".repeat(100);
    fill(&mut h, "hot", 100, &value);
    for round in 0..30 {
        fill(&mut h, &format!("cold{round}-"), 1_000, &value);
        // Reading the hot keys keeps them recent.
        for i in 0..100 {
            h.exec_args(&["GET", &format!("hot{i}")]);
        }
        tokio::time::advance(std::time::Duration::from_millis(50)).await;
        assert!(h.shared.db.memory().used() <= limit + 4096, "round {round}");
    }
    let evicted = h.shared.db.evicted();
    assert!(evicted > 10_000, "evicted {evicted}");
    let hot_alive = (0..100)
        .filter(|i| h.exec_args(&["EXISTS", &format!("hot{i}")]) == Frame::Integer(1))
        .count();
    assert!(hot_alive >= 90, "only {hot_alive} hot keys survived");
}

#[tokio::test]
async fn noeviction_refuses_writes_but_serves_reads_and_deletes() {
    let mut h = harness(1 << 20, Policy::NoEviction);
    let value = "x".repeat(1_000);
    let mut refused = None;
    for i in 0..5_000 {
        let key = format!("k{i}");
        if let Frame::Error(e) = h.exec_args(&["SET", key.as_str(), value.as_str()]) {
            refused = Some((i, e));
            break;
        }
    }
    let (i, err) = refused.expect("writes are refused at the limit");
    assert_eq!(
        err,
        "OOM command not allowed when used memory > 'maxmemory'."
    );
    assert!(i > 100);
    assert_eq!(
        h.exec("GET k0"),
        Frame::Bulk(value.as_bytes().to_vec().into())
    );
    assert_eq!(h.exec("DEL k0 k1 k2"), Frame::Integer(3));
    assert_eq!(h.exec("DBSIZE"), Frame::Integer(i as i64 - 3));
    assert_eq!(h.shared.metrics.oom_rejections.get(), 1);
}

#[tokio::test]
async fn volatile_policies_only_touch_keys_with_a_ttl() {
    let mut h = harness(1 << 20, Policy::VolatileLru);
    let value = "x".repeat(1_000);
    fill(&mut h, "keep", 300, &value);
    for i in 0..2_000 {
        let key = format!("tmp{i}");
        let r = h.exec_args(&["SET", key.as_str(), value.as_str(), "EX", "1000"]);
        assert_eq!(r, Frame::Simple("OK".into()), "at {i}");
    }
    let kept = (0..300)
        .filter(|i| h.exec_args(&["EXISTS", &format!("keep{i}")]) == Frame::Integer(1))
        .count();
    assert_eq!(kept, 300);
    assert!(h.shared.db.evicted() > 1_000);
    // With no TTL keys left to evict, writes are refused.
    let mut h = harness(1 << 20, Policy::VolatileRandom);
    let oom = (0..5_000).any(|i| {
        matches!(
            h.exec_args(&["SET", &format!("k{i}"), value.as_str()]),
            Frame::Error(_)
        )
    });
    assert!(oom);
}

#[tokio::test]
async fn volatile_ttl_evicts_the_nearest_deadline_first() {
    let mut h = harness(1 << 20, Policy::VolatileTtl);
    let value = "x".repeat(1_000);
    for i in 0..2_000 {
        let ttl = (100_000 + i).to_string();
        h.exec_args(&["SET", &format!("k{i}"), value.as_str(), "EX", ttl.as_str()]);
    }
    let alive: Vec<usize> = (0..2_000)
        .filter(|i| h.exec_args(&["EXISTS", &format!("k{i}")]) == Frame::Integer(1))
        .collect();
    assert!(alive.len() < 2_000 && alive.len() > 100);
    // What is left is exactly the keys with the latest deadlines.
    assert_eq!(alive, (2_000 - alive.len()..2_000).collect::<Vec<_>>());
}

#[tokio::test]
async fn allkeys_lfu_keeps_frequently_used_keys() {
    let mut h = harness(2 << 20, Policy::AllKeysLfu);
    let value = "x".repeat(100);
    fill(&mut h, "freq", 50, &value);
    for _ in 0..50 {
        for i in 0..50 {
            h.exec_args(&["GET", &format!("freq{i}")]);
        }
    }
    fill(&mut h, "once", 40_000, &value);
    let alive = (0..50)
        .filter(|i| h.exec_args(&["EXISTS", &format!("freq{i}")]) == Frame::Integer(1))
        .count();
    assert!(alive >= 45, "only {alive} frequent keys survived");
    assert!(matches!(h.exec("OBJECT FREQ freq1"), Frame::Integer(n) if n > 5));
}

#[tokio::test]
async fn lowering_maxmemory_at_runtime_evicts_at_once() {
    let mut h = harness(0, Policy::AllKeysRandom);
    fill(&mut h, "k", 20_000, &"x".repeat(100));
    assert_eq!(h.shared.db.evicted(), 0);
    assert_eq!(
        h.exec("CONFIG SET maxmemory 1mb"),
        Frame::Simple("OK".into())
    );
    assert!(h.shared.db.memory().used() <= 1 << 20);
    assert!(h.shared.db.evicted() > 0);
    assert_eq!(
        h.exec("CONFIG GET maxmemory"),
        Frame::Array(vec![
            Frame::Bulk("maxmemory".as_bytes().to_vec().into()),
            Frame::Bulk("1048576".as_bytes().to_vec().into())
        ])
    );
}

/// Found by the `command` fuzz target: switching to LFU while keys hold LRU
/// clocks overflowed the LFU decay arithmetic (a panic in debug builds, and keys
/// read as never used in release builds).
#[tokio::test]
async fn switching_between_lru_and_lfu_restamps_existing_keys() {
    let mut h = harness(0, Policy::NoEviction);
    h.exec("SET a 1");
    h.exec("SET b 1 EX 100");
    assert_eq!(
        h.exec("CONFIG SET maxmemory-policy allkeys-lfu"),
        Frame::Simple("OK".into())
    );
    assert_eq!(h.exec("GET a"), Frame::Bulk(b"1".to_vec().into()));
    // Keys from before the switch start at LFU's initial counter, as new keys do.
    assert!(matches!(h.exec("OBJECT FREQ b"), Frame::Integer(5)));
    assert!(matches!(h.exec("OBJECT FREQ a"), Frame::Integer(5 | 6)));

    h.exec("CONFIG SET maxmemory-policy volatile-lru");
    assert_eq!(h.exec("OBJECT IDLETIME a"), Frame::Integer(0));
    h.exec("CONFIG SET maxmemory-policy volatile-lfu");
    assert!(matches!(h.exec("OBJECT FREQ b"), Frame::Integer(5)));

    // The eviction path reads the same stamps.
    assert_eq!(
        h.exec("CONFIG SET maxmemory-policy allkeys-lfu maxmemory 1"),
        Frame::Simple("OK".into())
    );
    // Both older keys go to make room (the limit counts keys only, so the write
    // is then admitted).
    assert_eq!(h.exec("SET x y"), Frame::Simple("OK".into()));
    assert_eq!(h.exec("EXISTS a b"), Frame::Integer(0));
}
