//! Two clustered nodes in-process on ephemeral ports, raw TCP, exact bytes:
//! MOVED on the client port, forwarding on the forwarding port (replies in
//! order within one pipelined write, RESP3 kept), CROSSSLOT, and no answer
//! before a topology arrives.

mod common;

use common::{cmd_str as cmd, roundtrip, WAIT};
use shoal_node::clock::Clock;
use shoal_node::cluster::slot::key_slot;
use shoal_node::cluster::{NodeAddr, Topology};
use shoal_node::config::{ClusterConfig, Config, TopologySource};
use shoal_node::server::Listeners;
use shoal_node::{Node, Shared};
use std::path::Path;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

/// Reads one whole reply, whatever its length.
async fn read_frame(stream: &mut TcpStream) -> Vec<u8> {
    let mut buf = Vec::new();
    loop {
        if let Ok(Some((_, n))) = shoal_node::resp::Frame::parse(&buf) {
            assert_eq!(n, buf.len(), "one reply expected");
            return buf;
        }
        let mut chunk = [0u8; 4096];
        let n = timeout(WAIT, stream.read(&mut chunk))
            .await
            .expect("reply in time")
            .unwrap();
        assert!(n > 0, "closed");
        buf.extend_from_slice(&chunk[..n]);
    }
}

struct Pair {
    nodes: Vec<Node>,
    ports: Vec<u16>,
}

/// Two nodes splitting the slots at 8192, both watching `file`.
async fn pair(file: &Path) -> Pair {
    let mut listeners = Vec::new();
    for _ in 0..2 {
        let client = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let forward = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listeners.push((client, forward));
    }
    let ports: Vec<u16> = listeners
        .iter()
        .map(|(c, _)| c.local_addr().unwrap().port())
        .collect();
    let mut nodes = Vec::new();
    for (i, (client, forward)) in listeners.into_iter().enumerate() {
        let config = Config {
            cluster: Some(ClusterConfig {
                node_name: format!("n{i}"),
                source: TopologySource::File(file.to_path_buf()),
            }),
            ..Config::default()
        };
        let shared = Shared::new(config, Clock::Wall);
        nodes.push(Node::start_listeners(
            shared,
            Listeners {
                client: Some(client),
                tls: None,
                forward: Some(forward),
                admin: None,
            },
        ));
    }
    Pair { nodes, ports }
}

fn topology(ports: &[u16]) -> Topology {
    Topology::even(1, 2, 0, |s, _| NodeAddr {
        name: format!("n{s}"),
        host: "127.0.0.1".into(),
        port: ports[s],
    })
}

async fn until_serving(p: &Pair) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !p
        .nodes
        .iter()
        .all(|n| n.shared.cluster.as_ref().unwrap().serving())
    {
        assert!(tokio::time::Instant::now() < deadline, "no topology");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A key of each node: `keys[i]` hashes to a slot node `i` owns.
fn keys() -> [String; 2] {
    let find = |low: bool| {
        (0..)
            .map(|i| format!("key{i}"))
            .find(|k| (key_slot(k.as_bytes()) < 8192) == low)
            .unwrap()
    };
    [find(true), find(false)]
}

#[tokio::test]
async fn redirects_forwards_and_keeps_order() {
    let dir = std::env::temp_dir().join(format!("shoal-cluster-wire-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("topology.yaml");
    let p = pair(&file).await;

    // No topology yet: keyed commands are refused, others work.
    let mut c = TcpStream::connect(p.nodes[0].addr).await.unwrap();
    roundtrip(
        &mut c,
        &cmd(&["GET", "x"]),
        b"-CLUSTERDOWN Hash slot not served\r\n",
    )
    .await;
    roundtrip(&mut c, &cmd(&["PING"]), b"+PONG\r\n").await;
    assert!(!p.nodes[0].shared.is_ready());

    std::fs::write(&file, topology(&p.ports).to_yaml()).unwrap();
    until_serving(&p).await;
    assert!(p.nodes[0].shared.is_ready());
    let [mine, theirs] = keys();
    let slot = key_slot(theirs.as_bytes());

    // Client port: MOVED to the owner, exact Redis bytes.
    roundtrip(
        &mut c,
        &cmd(&["SET", &theirs, "v"]),
        format!("-MOVED {slot} 127.0.0.1:{}\r\n", p.ports[1]).as_bytes(),
    )
    .await;
    roundtrip(&mut c, &cmd(&["SET", &mine, "m"]), b"+OK\r\n").await;
    roundtrip(
        &mut c,
        &cmd(&["MSET", &mine, "1", &theirs, "2"]),
        b"-CROSSSLOT Keys in request don't hash to the same slot\r\n",
    )
    .await;

    // Forwarding port: one write mixing local and forwarded commands; the
    // replies come back in request order.
    let mut f = TcpStream::connect(p.nodes[0].forward_addr.unwrap())
        .await
        .unwrap();
    let mut batch = Vec::new();
    let mut want = Vec::new();
    for i in 0..50 {
        let key = if i % 2 == 0 { &mine } else { &theirs };
        batch.extend(cmd(&["SET", key, &format!("v{i}")]));
        batch.extend(cmd(&["GET", key]));
        want.extend(b"+OK\r\n");
        want.extend(format!("${}\r\nv{i}\r\n", format!("v{i}").len()).as_bytes());
    }
    roundtrip(&mut f, &batch, &want).await;
    // The forwarded writes landed on the owner.
    let mut owner = TcpStream::connect(p.nodes[1].addr).await.unwrap();
    roundtrip(&mut owner, &cmd(&["GET", &theirs]), b"$3\r\nv49\r\n").await;
    roundtrip(&mut owner, &cmd(&["DBSIZE"]), b":1\r\n").await;

    // RESP3 on the forwarding port: the owner answers in RESP3 too.
    f.write_all(&cmd(&["HELLO", "3"])).await.unwrap();
    assert!(read_frame(&mut f).await.starts_with(b"%7\r\n"));
    let h = format!("{{{theirs}}}h");
    roundtrip(&mut f, &cmd(&["HSET", &h, "a", "1"]), b":1\r\n").await;
    roundtrip(
        &mut f,
        &cmd(&["HGETALL", &h]),
        b"%1\r\n$1\r\na\r\n$1\r\n1\r\n",
    )
    .await;

    // Asking for the slot map moves the connection to the redirect path.
    let mut g = TcpStream::connect(p.nodes[0].forward_addr.unwrap())
        .await
        .unwrap();
    roundtrip(&mut g, &cmd(&["READONLY"]), b"+OK\r\n").await;
    roundtrip(
        &mut g,
        &cmd(&["GET", &theirs]),
        format!("-MOVED {slot} 127.0.0.1:{}\r\n", p.ports[1]).as_bytes(),
    )
    .await;

    // Transactions on the client port: a command for another node's slot is
    // refused while queueing (and dooms EXEC); keys of two slots are CROSSSLOT.
    let mut t = TcpStream::connect(p.nodes[0].addr).await.unwrap();
    roundtrip(
        &mut t,
        &cmd(&["CONFIG", "GET", "cluster-enabled"]),
        b"*2\r\n$15\r\ncluster-enabled\r\n$3\r\nyes\r\n",
    )
    .await;
    roundtrip(&mut t, &cmd(&["MULTI"]), b"+OK\r\n").await;
    roundtrip(
        &mut t,
        &cmd(&["GET", &theirs]),
        format!("-MOVED {slot} 127.0.0.1:{}\r\n", p.ports[1]).as_bytes(),
    )
    .await;
    roundtrip(
        &mut t,
        &cmd(&["EXEC"]),
        b"-EXECABORT Transaction discarded because of previous errors.\r\n",
    )
    .await;
    let mine2 = (0..)
        .map(|i| format!("other{i}"))
        .find(|k| {
            let s = key_slot(k.as_bytes());
            s < 8192 && s != key_slot(mine.as_bytes())
        })
        .unwrap();
    roundtrip(&mut t, &cmd(&["MULTI"]), b"+OK\r\n").await;
    roundtrip(&mut t, &cmd(&["SET", &mine, "1"]), b"+QUEUED\r\n").await;
    roundtrip(&mut t, &cmd(&["SET", &mine2, "1"]), b"+QUEUED\r\n").await;
    roundtrip(
        &mut t,
        &cmd(&["EXEC"]),
        b"-CROSSSLOT Keys in request don't hash to the same slot\r\n",
    )
    .await;
    // On the forwarding port a block for another node's slot runs there as
    // one transaction: its commands are queued here and sent whole at EXEC.
    let mut fm = TcpStream::connect(p.nodes[0].forward_addr.unwrap())
        .await
        .unwrap();
    let tag = format!("{{{theirs}}}");
    let mut block = Vec::new();
    block.extend(cmd(&["MULTI"]));
    block.extend(cmd(&["SET", &format!("{tag}a"), "1"]));
    block.extend(cmd(&["INCR", &format!("{tag}a")]));
    block.extend(cmd(&["APPEND", &format!("{tag}l"), "xy"]));
    block.extend(cmd(&["EXEC"]));
    roundtrip(
        &mut fm,
        &block,
        b"+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n*3\r\n+OK\r\n:2\r\n:2\r\n",
    )
    .await;
    roundtrip(
        &mut owner,
        &cmd(&["GET", &format!("{tag}a")]),
        b"$1\r\n2\r\n",
    )
    .await;
    // WATCH of a key another node owns is refused there, not forwarded.
    roundtrip(
        &mut fm,
        &cmd(&["WATCH", &theirs]),
        b"-ERR WATCH of keys another node owns is not served on the forwarding port: use a cluster-aware client\r\n",
    )
    .await;

    let forwarded = p.nodes[0].shared.metrics.cluster.forwarded.get();
    assert!(forwarded >= 25, "{forwarded}");
    for n in p.nodes {
        n.shutdown().await;
    }
    let _ = std::fs::remove_dir_all(dir);
}
