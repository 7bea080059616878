//! What a primary journals for its replicas: changes proportional to what a
//! command changed (an HSET on a big hash sends one field), and journals that,
//! applied to an empty keyspace, give exactly the primary's data.

use shoal_node::store::{digest, effect, Db};
use shoal_node::{Config, Harness};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap()
}

fn digest_of(db: &Db) -> ([u8; 20], usize) {
    let mut acc = [0u8; 20];
    let mut n = 0;
    db.for_each(0, |e| {
        digest::mix(&mut acc, &digest::entry_digest(e));
        n += 1;
    });
    (acc, n)
}

/// Bytes the journal grew by while running `cmd`.
fn journaled(h: &mut Harness, cmd: &[&str]) -> usize {
    let before = h.shared.db.journal().end();
    h.exec_args(cmd);
    (h.shared.db.journal().end() - before) as usize
}

fn replay(h: &Harness) -> Db {
    let db = Db::new(8);
    let mut out = Vec::new();
    let end = h.shared.db.journal().end();
    h.shared
        .db
        .journal()
        .read(0, end as usize, &mut out)
        .unwrap();
    effect::apply_stream(&db, &out).unwrap();
    db
}

#[test]
fn hash_changes_send_the_fields_not_the_hash() {
    let _rt = rt().enter();
    let mut h = Harness::new(Config::default());
    h.shared.db.set_tracking(true);
    let mut fill = vec!["HSET".to_string(), "big".to_string()];
    for i in 0..2000 {
        fill.push(format!("field{i}"));
        fill.push(format!("value{i}"));
    }
    let fill: Vec<&str> = fill.iter().map(String::as_str).collect();
    let whole = journaled(&mut h, &fill);
    assert!(whole > 2000 * 10, "the new hash goes whole: {whole}");
    for cmd in [
        &["HSET", "big", "field7", "changed"][..],
        &["HSET", "big", "new", "1"],
        &["HDEL", "big", "field8", "missing"],
        &["HINCRBY", "big", "counter", "5"],
        &["EXPIRE", "big", "1000"],
        &["PERSIST", "big"],
    ] {
        let n = journaled(&mut h, cmd);
        assert!(n < 200, "{cmd:?} journaled {n} bytes");
    }
    // Many fields changed at once: the whole hash is cheaper, and sent.
    let mut most = vec!["HDEL".to_string(), "big".to_string()];
    for i in 0..1500 {
        most.push(format!("field{i}"));
    }
    let most: Vec<&str> = most.iter().map(String::as_str).collect();
    journaled(&mut h, &most);
    // Replaced, then changed in one transaction: the whole value goes.
    h.exec_args(&["MULTI"]);
    h.exec_args(&["DEL", "big"]);
    h.exec_args(&["HSET", "big", "only", "1"]);
    h.exec_args(&["EXEC"]);
    h.exec_args(&["HSET", "small", "a", "1"]);
    h.exec_args(&["HSET", "small", "b", "2"]);
    h.exec_args(&["HDEL", "small", "a", "b"]);
    let replica = replay(&h);
    assert_eq!(digest_of(&replica), digest_of(&h.shared.db));
    assert_eq!(digest_of(&replica).1, 1);
}

#[test]
fn list_pushes_and_pops_send_the_elements_not_the_list() {
    let _rt = rt().enter();
    let mut h = Harness::new(Config::default());
    h.shared.db.set_tracking(true);
    let mut fill = vec!["RPUSH".to_string(), "q".to_string()];
    fill.extend((0..3000).map(|i| format!("job{i}")));
    let fill: Vec<&str> = fill.iter().map(String::as_str).collect();
    assert!(journaled(&mut h, &fill) > 3000 * 5, "a new list goes whole");
    h.exec_args(&["RPUSH", "other", "a", "b", "c", "d", "e", "f"]);
    for cmd in [
        &["LPUSH", "q", "first"][..],
        &["RPUSH", "q", "last", "again"],
        &["LPOP", "q"],
        &["RPOP", "q", "2"],
        &["RPOPLPUSH", "q", "other"],
        &["LMOVE", "other", "q", "LEFT", "RIGHT"],
        &["LPUSHX", "q", "x"],
        &["EXPIRE", "q", "100"],
    ] {
        let n = journaled(&mut h, cmd);
        assert!(n < 300, "{cmd:?} journaled {n} bytes");
    }
    // A change in the middle sends the list.
    assert!(journaled(&mut h, &["LSET", "q", "5", "changed"]) > 3000 * 5);
    h.exec_args(&["LTRIM", "q", "10", "-10"]);
    h.exec_args(&["LINSERT", "q", "BEFORE", "job500", "ins"]);
    h.exec_args(&["LREM", "q", "1", "job600"]);
    // Pushed and popped in one transaction, and emptied.
    h.exec_args(&["MULTI"]);
    h.exec_args(&["RPUSH", "q", "t1"]);
    h.exec_args(&["LPOP", "q", "3"]);
    h.exec_args(&["RPOPLPUSH", "other", "q"]);
    h.exec_args(&["EXEC"]);
    h.exec_args(&["LPOP", "other", "100"]);
    let replica = replay(&h);
    assert_eq!(digest_of(&replica), digest_of(&h.shared.db));
    assert_eq!(digest_of(&replica).1, 1, "only q is left");
}

#[test]
fn set_changes_send_the_members_not_the_set() {
    let _rt = rt().enter();
    let mut h = Harness::new(Config::default());
    h.shared.db.set_tracking(true);
    let mut fill = vec!["SADD".to_string(), "tags".to_string()];
    fill.extend((0..3000).map(|i| format!("tag{i}")));
    let fill: Vec<&str> = fill.iter().map(String::as_str).collect();
    assert!(journaled(&mut h, &fill) > 3000 * 5, "a new set goes whole");
    h.exec_args(&["SADD", "small", "1", "2", "3"]);
    for cmd in [
        &["SADD", "tags", "new", "tag5"][..],
        &["SREM", "tags", "tag7", "missing"],
        &["SPOP", "tags"],
        &["SMOVE", "tags", "small", "tag9"],
        &["EXPIRE", "tags", "100"],
    ] {
        let n = journaled(&mut h, cmd);
        assert!(n < 300, "{cmd:?} journaled {n} bytes");
    }
    h.exec_args(&["SPOP", "tags", "2500"]);
    h.exec_args(&["SINTERSTORE", "inter", "tags", "small"]);
    h.exec_args(&["SADD", "one", "5"]);
    h.exec_args(&["SADD", "word", "w"]);
    let replica = replay(&h);
    assert_eq!(digest_of(&replica), digest_of(&h.shared.db));
}

#[test]
fn sorted_set_changes_send_the_members_not_the_set() {
    let _rt = rt().enter();
    let mut h = Harness::new(Config::default());
    h.shared.db.set_tracking(true);
    let mut fill = vec!["ZADD".to_string(), "board".to_string()];
    for i in 0..3000 {
        fill.push(i.to_string());
        fill.push(format!("player{i}"));
    }
    let fill: Vec<&str> = fill.iter().map(String::as_str).collect();
    assert!(
        journaled(&mut h, &fill) > 3000 * 10,
        "a new sorted set goes whole"
    );
    for cmd in [
        &["ZADD", "board", "1.5", "player7", "-0", "zero"][..],
        &["ZINCRBY", "board", "2.25", "player8"],
        &["ZREM", "board", "player9", "missing"],
        &["ZPOPMIN", "board"],
        &["ZPOPMAX", "board", "2"],
        &["ZADD", "board", "inf", "top", "-inf", "bottom"],
        &["EXPIRE", "board", "100"],
    ] {
        let n = journaled(&mut h, cmd);
        assert!(n < 300, "{cmd:?} journaled {n} bytes");
    }
    h.exec_args(&["ZREMRANGEBYRANK", "board", "0", "2500"]);
    h.exec_args(&["ZUNIONSTORE", "u", "1", "board"]);
    let replica = replay(&h);
    assert_eq!(digest_of(&replica), digest_of(&h.shared.db));
}
