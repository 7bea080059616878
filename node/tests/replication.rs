//! The replication stream under faults, in-process on ephemeral ports: a proxy
//! between replica and primary cuts the link in the middle of a snapshot,
//! corrupts a snapshot chunk, or cuts the stream after the snapshot. The
//! replica must end with exactly the primary's data, resuming the snapshot from
//! its last good chunk and the stream from the backlog rather than starting
//! over.

mod common;

use common::{cmd_str as cmd, WAIT};
use shoal_node::clock::Clock;
use shoal_node::config::Config;
use shoal_node::{Node, Shared};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

async fn node() -> Node {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    Node::start_with(Shared::new(Config::default(), Clock::Wall), listener, None)
}

/// Sends one command and reads one reply (small replies only).
async fn call(port: u16, args: &[&str]) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    s.write_all(&cmd(args)).await.unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    let n = timeout(WAIT, s.read(&mut buf)).await.unwrap().unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// Writes `n` keys with incompressible 1 KiB values, pipelined.
async fn fill(port: u16, n: usize, prefix: &str) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut req = Vec::new();
    for i in 0..n {
        let v: String = (0..1024)
            .map(|_| char::from(b'a' + fastrand::u8(..26)))
            .collect();
        req.extend_from_slice(&cmd(&["SET", &format!("{prefix}{i}"), &v]));
    }
    s.write_all(&req).await.unwrap();
    let want = b"+OK\r\n".len() * n;
    let mut got = 0;
    let mut buf = vec![0u8; 64 * 1024];
    while got < want {
        got += timeout(WAIT, s.read(&mut buf)).await.unwrap().unwrap();
    }
}

/// What the proxy does to the primary's bytes on each connection.
#[derive(Clone, Copy, Debug)]
enum Fault {
    None,
    /// Close both sides once this many bytes went to the replica.
    CutAfter(usize),
    /// Flip one byte this far after the start of the `n`th CHUNK frame.
    Corrupt {
        chunk: usize,
        at: usize,
    },
}

/// A TCP proxy to `upstream` that applies the next fault from `faults` to each
/// new connection, and records what the replica sent.
struct Proxy {
    port: u16,
    sent_by_replica: Arc<Mutex<Vec<String>>>,
}

async fn proxy(upstream: u16, faults: Vec<Fault>) -> Proxy {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let sent = Arc::new(Mutex::new(Vec::new()));
    let log = sent.clone();
    tokio::spawn(async move {
        let mut faults = faults.into_iter();
        loop {
            let Ok((down, _)) = listener.accept().await else {
                return;
            };
            let fault = faults.next().unwrap_or(Fault::None);
            let up = TcpStream::connect(("127.0.0.1", upstream)).await.unwrap();
            let (mut dr, mut dw) = down.into_split();
            let (mut ur, mut uw) = up.into_split();
            let log = log.clone();
            let to_primary = tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                loop {
                    let n = match dr.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                    if text.contains("PSYNC") {
                        log.lock().unwrap().push(text);
                    }
                    if uw.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            });
            tokio::spawn(async move {
                let mut seen: Vec<u8> = Vec::new();
                let mut buf = vec![0u8; 16 * 1024];
                let mut flipped = false;
                loop {
                    let n = match ur.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    let start = seen.len();
                    seen.extend_from_slice(&buf[..n]);
                    match fault {
                        Fault::CutAfter(limit) if seen.len() >= limit => {
                            let keep = limit.saturating_sub(start).min(n);
                            let _ = dw.write_all(&buf[..keep]).await;
                            break;
                        }
                        Fault::Corrupt { chunk, at } if !flipped => {
                            let marker = b"$5\r\nCHUNK\r\n";
                            let pos = seen
                                .windows(marker.len())
                                .enumerate()
                                .filter(|(_, w)| *w == marker)
                                .nth(chunk)
                                .map(|(i, _)| i + at);
                            if let Some(p) = pos.filter(|p| *p >= start && *p < seen.len()) {
                                buf[p - start] ^= 0x55;
                                flipped = true;
                            }
                        }
                        _ => {}
                    }
                    if dw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
                to_primary.abort();
            });
        }
    });
    Proxy {
        port,
        sent_by_replica: sent,
    }
}

fn field(info: &str, name: &str) -> Option<String> {
    info.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(':')))
        .map(|v| v.trim().to_string())
}

/// Waits until the replica is linked and holds the primary's offset.
async fn caught_up(primary: &Node, replica: &Node) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let info = call(replica.addr.port(), &["INFO", "replication"]).await;
        let want = primary.shared.db.journal().end();
        if field(&info, "master_link_status").as_deref() == Some("up")
            && replica.shared.db.journal().end() == want
        {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "replica never caught up: {info}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Makes `replica` follow the node at `port` (the primary, or a proxy to it)
/// and waits until it has caught up with `primary`.
async fn follow(replica: &Node, port: u16, primary: &Node) {
    let reply = call(
        replica.addr.port(),
        &["REPLICAOF", "127.0.0.1", &port.to_string()],
    )
    .await;
    assert_eq!(reply, "+OK\r\n");
    caught_up(primary, replica).await;
}

/// The replica holds exactly the primary's keys, deadlines and values, of
/// every type: the dataset digests (DEBUG DIGEST's) agree.
fn same_data(primary: &Node, replica: &Node) {
    use shoal_node::store::digest;
    let digests = |n: &Node| {
        let mut keys = std::collections::BTreeMap::new();
        n.shared.db.for_each(0, |e| {
            keys.insert(e.key().to_vec(), digest::entry_digest(e));
        });
        keys
    };
    let (p, r) = (digests(primary), digests(replica));
    let differ: Vec<&Vec<u8>> = p
        .keys()
        .chain(r.keys())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .filter(|k| p.get(*k) != r.get(*k))
        .take(3)
        .collect();
    // Name the keys that differ, with both values: a bare "differs" says
    // nothing about why. Values are shown only for those keys.
    let show = |n: &Node, k: &[u8]| {
        let mut v = String::from("(none)");
        n.shared.db.for_each(0, |e| {
            if e.key() == k {
                v = format!("{:.300}", format!("{:?}", e.value()));
            }
        });
        v
    };
    let described: Vec<String> = differ
        .iter()
        .map(|k| {
            format!(
                "{}: primary {} / replica {}",
                String::from_utf8_lossy(k),
                show(primary, k),
                show(replica, k)
            )
        })
        .collect();
    assert!(
        described.is_empty(),
        "replica data differs from the primary's: {described:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_cut_midway_resumes_from_the_last_good_chunk() {
    let primary = node().await;
    fill(primary.addr.port(), 3000, "k").await;
    // About 3 MB of snapshot; cut after 1 MB.
    let proxy = proxy(primary.addr.port(), vec![Fault::CutAfter(1 << 20)]).await;
    let replica = node().await;
    follow(&replica, proxy.port, &primary).await;
    same_data(&primary, &replica);
    let psyncs = proxy.sent_by_replica.lock().unwrap().clone();
    assert_eq!(psyncs.len(), 2, "one cut, one reconnection: {psyncs:?}");
    assert!(!psyncs[0].contains("RESUME"));
    assert!(psyncs[1].contains("RESUME"), "{}", psyncs[1]);
    // It resumed past the first chunk, not from the start.
    assert!(
        !psyncs[1].contains("RESUME\r\n$1\r\n0\r\n"),
        "{}",
        psyncs[1]
    );
    // Writes after the sync stream in.
    assert_eq!(
        call(primary.addr.port(), &["SET", "after", "1"]).await,
        "+OK\r\n"
    );
    caught_up(&primary, &replica).await;
    same_data(&primary, &replica);
    replica.shutdown().await;
    primary.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupted_chunk_is_caught_by_its_checksum_and_fetched_again() {
    let primary = node().await;
    fill(primary.addr.port(), 3000, "k").await;
    let proxy = proxy(
        primary.addr.port(),
        vec![Fault::Corrupt { chunk: 2, at: 4000 }],
    )
    .await;
    let replica = node().await;
    follow(&replica, proxy.port, &primary).await;
    same_data(&primary, &replica);
    let info = call(replica.addr.port(), &["INFO", "replication"]).await;
    assert_eq!(
        field(&info, "shoal_last_sync_error").as_deref(),
        Some("chunk checksum mismatch"),
        "{info}"
    );
    let psyncs = proxy.sent_by_replica.lock().unwrap().clone();
    assert_eq!(psyncs.len(), 2, "{psyncs:?}");
    assert!(psyncs[1].contains("RESUME"));
    replica.shutdown().await;
    primary.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_cut_after_the_snapshot_continues_from_the_backlog() {
    let primary = node().await;
    fill(primary.addr.port(), 200, "k").await;
    // The snapshot of 200 keys is well under 1 MB; the stream is cut at 1 MB.
    let proxy = proxy(primary.addr.port(), vec![Fault::CutAfter(1 << 20)]).await;
    let replica = node().await;
    follow(&replica, proxy.port, &primary).await;
    // 2000 more keys (2 MB) of stream: the cut falls in the middle of them.
    fill(primary.addr.port(), 2000, "more").await;
    caught_up(&primary, &replica).await;
    same_data(&primary, &replica);
    assert_eq!(primary.shared.metrics.repl.full_syncs.get(), 1);
    assert_eq!(primary.shared.metrics.repl.partial_syncs.get(), 1);
    // WAIT counts the replica once it acknowledged everything.
    let mut c = TcpStream::connect(primary.addr).await.unwrap();
    c.write_all(&cmd(&["SET", "w", "1"])).await.unwrap();
    c.write_all(&cmd(&["WAIT", "1", "5000"])).await.unwrap();
    common::expect(&mut c, b"+OK\r\n:1\r\n").await;
    // Asking for more replicas than exist times out with the count.
    c.write_all(&cmd(&["WAIT", "2", "100"])).await.unwrap();
    common::expect(&mut c, b":1\r\n").await;
    replica.shutdown().await;
    primary.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_refuse_writes_and_wait() {
    let primary = node().await;
    let replica = node().await;
    follow(&replica, primary.addr.port(), &primary).await;
    let mut c = TcpStream::connect(replica.addr).await.unwrap();
    common::roundtrip(
        &mut c,
        &cmd(&["SET", "k", "v"]),
        b"-READONLY You can't write against a read only replica.\r\n",
    )
    .await;
    c.write_all(&cmd(&["WAIT", "1", "0"])).await.unwrap();
    let mut buf = vec![0u8; 256];
    let n = timeout(WAIT, c.read(&mut buf)).await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&buf[..n])
        .starts_with("-ERR WAIT cannot be used with replica instances"));
    // ROLE, as Redis shapes it.
    let role = call(replica.addr.port(), &["ROLE"]).await;
    assert!(
        role.starts_with("*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n"),
        "{role}"
    );
    assert!(role.contains("$9\r\nconnected\r\n"), "{role}");
    let role = call(primary.addr.port(), &["ROLE"]).await;
    assert!(role.starts_with("*3\r\n$6\r\nmaster\r\n:"), "{role}");
    // Promotion: the replica takes writes, under a new replication id.
    assert_eq!(
        call(replica.addr.port(), &["REPLICAOF", "NO", "ONE"]).await,
        "+OK\r\n"
    );
    assert_eq!(
        call(replica.addr.port(), &["SET", "k", "v"]).await,
        "+OK\r\n"
    );
    replica.shutdown().await;
    primary.shutdown().await;
}

#[tokio::test]
async fn with_acl_users_replicas_log_in_as_masteruser() {
    // The default user is off: only the link user (added by the node, as
    // `masteruser` is not in the file) and `app` may log in.
    let users = "user default off\nuser app on >app-pw ~* +@all\n";
    let login = ("shoal-internal".to_string(), "link-pw".to_string());
    let start = || async {
        let mut acl = shoal_node::acl::Acl::parse(users).unwrap();
        acl.ensure_link_user(Some(&login));
        let config = Config {
            acl: Some(acl),
            link_login: Some(login.clone()),
            ..Config::default()
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        Node::start_with(Shared::new(config, Clock::Wall), listener, None)
    };
    let (primary, replica) = (start().await, start().await);
    let session = |port: u16, user: &'static str, pw: &'static str| async move {
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        common::roundtrip(&mut s, &cmd(&["AUTH", user, pw]), b"+OK\r\n").await;
        s
    };
    let mut p = session(primary.addr.port(), "app", "app-pw").await;
    common::roundtrip(&mut p, &cmd(&["SET", "k", "v"]), b"+OK\r\n").await;
    let mut r = session(replica.addr.port(), "shoal-internal", "link-pw").await;
    let port = primary.addr.port().to_string();
    common::roundtrip(&mut r, &cmd(&["REPLICAOF", "127.0.0.1", &port]), b"+OK\r\n").await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while replica.shared.db.stats().keys != 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the replica never logged in and synced"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The link user's password is checked like any other.
    let mut bad = TcpStream::connect(primary.addr).await.unwrap();
    common::roundtrip(
        &mut bad,
        &cmd(&["AUTH", "shoal-internal", "wrong"]),
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n",
    )
    .await;
    replica.shutdown().await;
    primary.shutdown().await;
}

/// Writes to every collection type, single commands and MULTI blocks, while a
/// replica runs its full sync: it must end with exactly the primary's data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_during_a_full_sync_of_collections_converge() {
    let primary = node().await;
    fill(primary.addr.port(), 2000, "k").await;
    let port = primary.addr.port();
    // Long lists, whose pushes and pops replicate as operations (LOPS).
    for i in 0..5 {
        let mut words = vec!["RPUSH".to_string(), format!("long{i}")];
        words.extend((0..300).map(|j| format!("e{j}")));
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        assert_eq!(call(port, &words).await, ":300\r\n");
    }
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
            let mut errors = Vec::new();
            let mut round = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) || round < 200 {
                let i = round % 50;
                let batch: Vec<Vec<String>> = vec![
                    vec![
                        "RPUSH".into(),
                        format!("list{i}"),
                        round.to_string(),
                        "x".into(),
                    ],
                    vec!["LPOP".into(), format!("list{}", (i + 7) % 50)],
                    vec![
                        "SADD".into(),
                        format!("set{i}"),
                        (round % 13).to_string(),
                        format!("m{round}"),
                    ],
                    vec![
                        "SREM".into(),
                        format!("set{}", (i + 3) % 50),
                        format!("m{}", round.saturating_sub(40)),
                    ],
                    vec![
                        "ZADD".into(),
                        format!("zset{i}"),
                        (round % 17).to_string(),
                        format!("m{}", round % 23),
                    ],
                    vec![
                        "ZINCRBY".into(),
                        format!("zset{}", (i + 1) % 50),
                        "1.5".into(),
                        "m1".into(),
                    ],
                    vec![
                        "HSET".into(),
                        format!("hash{i}"),
                        format!("f{}", round % 9),
                        round.to_string(),
                    ],
                    vec!["MULTI".into()],
                    vec!["INCR".into(), "{tx}a".into()],
                    vec!["RPUSH".into(), "{tx}log".into(), round.to_string()],
                    vec!["SADD".into(), "{tx}seen".into(), round.to_string()],
                    vec!["EXEC".into()],
                    vec!["DEL".into(), format!("k{}", round % 2000)],
                    vec![
                        "RPUSH".into(),
                        format!("long{}", i % 5),
                        format!("r{round}"),
                    ],
                    vec!["LPOP".into(), format!("long{}", (i + 2) % 5)],
                    vec![
                        "LPUSH".into(),
                        format!("long{}", (i + 3) % 5),
                        format!("l{round}"),
                        "y".into(),
                    ],
                    vec![
                        "RPOPLPUSH".into(),
                        format!("long{}", (i + 1) % 5),
                        format!("long{}", (i + 4) % 5),
                    ],
                ];
                let mut req = Vec::new();
                for c in &batch {
                    let words: Vec<&str> = c.iter().map(String::as_str).collect();
                    req.extend_from_slice(&cmd(&words));
                }
                s.write_all(&req).await.unwrap();
                // One reply per command; errors are collected.
                let mut got = Vec::new();
                let mut buf = vec![0u8; 64 * 1024];
                let mut replies = 0;
                while replies < batch.len() {
                    match shoal_node::resp::Frame::parse(&got).unwrap() {
                        Some((frame, used)) => {
                            if let shoal_node::resp::Frame::Error(e) = &frame {
                                errors.push(e.to_string());
                            }
                            got.drain(..used);
                            replies += 1;
                        }
                        None => {
                            let n = timeout(WAIT, s.read(&mut buf)).await.unwrap().unwrap();
                            got.extend_from_slice(&buf[..n]);
                        }
                    }
                }
                round += 1;
            }
            errors
        })
    };
    let replica = node().await;
    follow(&replica, port, &primary).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let errors = writer.await.unwrap();
    assert!(
        errors.is_empty(),
        "writes failed: {:?}",
        &errors[..errors.len().min(2)]
    );
    caught_up(&primary, &replica).await;
    same_data(&primary, &replica);
    assert_eq!(
        call(primary.addr.port(), &["DEBUG", "DIGEST"]).await,
        call(replica.addr.port(), &["DEBUG", "DIGEST"]).await
    );
    replica.shutdown().await;
    primary.shutdown().await;
}

/// A script's writes reach replicas as their effects, in one batch: a script
/// writing several keys of several types, and scripts whose writes depend on
/// TIME and math.random (which a replica re-running the script would get
/// differently), leave the replica with exactly the primary's data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn script_effects_replicate_and_converge() {
    let primary = node().await;
    let replica = node().await;
    follow(&replica, primary.addr.port(), &primary).await;
    let p = primary.addr.port();
    let several = "redis.call('SET', KEYS[1], ARGV[1]) redis.call('RPUSH', KEYS[2], 'a', 'b') \
                   redis.call('HSET', KEYS[3], 'f', ARGV[1]) redis.call('ZADD', KEYS[4], 1, 'm') \
                   redis.call('INCRBY', KEYS[5], 7) return 1";
    for i in 0..20 {
        let (a, b, c, d, e) = (
            format!("s{i}"),
            format!("l{i}"),
            format!("h{i}"),
            format!("z{i}"),
            format!("n{i}"),
        );
        let reply = call(
            p,
            &["EVAL", several, "5", &a, &b, &c, &d, &e, &i.to_string()],
        )
        .await;
        assert_eq!(reply, ":1\r\n");
    }
    let random = "local t = redis.call('TIME') math.randomseed(tonumber(t[2])) \
                  redis.call('SET', KEYS[1], t[1] .. '.' .. t[2]) \
                  redis.call('SET', KEYS[2], tostring(math.random())) \
                  redis.call('PEXPIRE', KEYS[2], 100000 + math.random(1000)) return 1";
    for i in 0..20 {
        let reply = call(
            p,
            &["EVAL", random, "2", &format!("t{i}"), &format!("r{i}")],
        )
        .await;
        assert_eq!(reply, ":1\r\n");
    }
    // A script that fails halfway keeps the writes before the error, there too.
    let half = "redis.call('SET', KEYS[1], 'kept') return redis.call('INCR', KEYS[1])";
    assert!(call(p, &["EVAL", half, "1", "half"])
        .await
        .starts_with("-ERR"));
    caught_up(&primary, &replica).await;
    same_data(&primary, &replica);
    assert_eq!(
        call(replica.addr.port(), &["GET", "half"]).await,
        "$4\r\nkept\r\n"
    );
    // Replicas refuse scripts' writes, and run read-only ones.
    let r = replica.addr.port();
    assert_eq!(
        call(
            r,
            &["EVAL", "return redis.call('SET', KEYS[1], 'x')", "1", "k"]
        )
        .await,
        "-READONLY You can't write against a read only replica. script: \
         bd6f3018b28bbdb36260f19d3c44afed740db987, on @user_script:1.\r\n"
    );
    assert_eq!(
        call(
            r,
            &["EVAL_RO", "return redis.call('GET', KEYS[1])", "1", "half"]
        )
        .await,
        "$4\r\nkept\r\n"
    );
    replica.shutdown().await;
    primary.shutdown().await;
}
