//! Wire tests: a node on an ephemeral port, raw TCP, exact RESP bytes. Covers
//! pipelining, inline commands, malformed and oversized input, and every limit a
//! client can run into.

mod common;

use common::{cmd, expect, roundtrip, WAIT};
use shoal_node::clock::Clock;
use shoal_node::config::{Config, ObufLimit};
use shoal_node::{Node, Shared};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

async fn start(config: Config) -> Node {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    Node::start_with(Shared::new(config, Clock::Wall), listener, None)
}

async fn connect(node: &Node) -> TcpStream {
    TcpStream::connect(node.addr).await.unwrap()
}

/// Asserts the server closes the connection, with nothing more to read.
async fn expect_closed(stream: &mut TcpStream) {
    let mut buf = [0u8; 64];
    match timeout(WAIT, stream.read(&mut buf))
        .await
        .expect("close in time")
    {
        Ok(0) => {}
        Ok(n) => panic!("unexpected bytes {:?}", String::from_utf8_lossy(&buf[..n])),
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset),
    }
}

/// A fresh connection sends `req`, gets exactly `want`, and is closed.
async fn answered_then_closed(node: &Node, req: &[u8], want: &[u8]) {
    let mut c = connect(node).await;
    roundtrip(&mut c, req, want).await;
    expect_closed(&mut c).await;
}

#[tokio::test]
async fn pipelined_requests_get_replies_in_order() {
    let node = start(Config::default()).await;
    let mut c = connect(&node).await;
    let mut req = Vec::new();
    req.extend(cmd(&[b"PING"]));
    req.extend(cmd(&[b"SET", b"k", b"v"]));
    req.extend(cmd(&[b"GET", b"k"]));
    req.extend(cmd(&[b"GET", b"missing"]));
    req.extend(cmd(&[b"INCR", b"k"]));
    req.extend(cmd(&[b"DEL", b"k", b"missing"]));
    roundtrip(
        &mut c,
        &req,
        b"+PONG\r\n+OK\r\n$1\r\nv\r\n$-1\r\n-ERR value is not an integer or out of range\r\n:1\r\n",
    )
    .await;
    node.shutdown().await;
}

#[tokio::test]
async fn requests_split_into_single_bytes() {
    let node = start(Config::default()).await;
    let mut c = connect(&node).await;
    let req = cmd(&[b"SET", b"key", b"a\r\nbinary\x00value"]);
    for b in &req {
        c.write_all(&[*b]).await.unwrap();
    }
    expect(&mut c, b"+OK\r\n").await;
    roundtrip(
        &mut c,
        &cmd(&[b"GET", b"key"]),
        b"$15\r\na\r\nbinary\x00value\r\n",
    )
    .await;
    node.shutdown().await;
}

#[tokio::test]
async fn inline_commands_like_telnet() {
    let node = start(Config::default()).await;
    answered_then_closed(&node, b"PING\r\nset greeting \"hello world\"\nGET greeting\r\n\r\nget 'it''s'\r\n", b"+PONG\r\n+OK\r\n$11\r\nhello world\r\n-ERR Protocol error: unbalanced quotes in request\r\n").await;
    node.shutdown().await;
}

/// Regression: a NUL byte in an inline command made the splitter loop forever
/// (found by the parser property test). Redis ends the line at the NUL.
#[tokio::test]
async fn inline_nul_byte_ends_the_command() {
    let node = start(Config::default()).await;
    let mut c = connect(&node).await;
    roundtrip(
        &mut c,
        b"SET a 1\r\nGET a\x00ignored\r\n",
        b"+OK\r\n$1\r\n1\r\n",
    )
    .await;
    node.shutdown().await;
}

#[tokio::test]
async fn unknown_command_and_arity_errors() {
    let node = start(Config::default()).await;
    let mut c = connect(&node).await;
    roundtrip(
        &mut c,
        &cmd(&[b"FOO", b"a", b"b"]),
        b"-ERR unknown command 'FOO', with args beginning with: 'a' 'b' \r\n",
    )
    .await;
    roundtrip(
        &mut c,
        &cmd(&[b"GET"]),
        b"-ERR wrong number of arguments for 'get' command\r\n",
    )
    .await;
    roundtrip(
        &mut c,
        &cmd(&[b"CONFIG", b"NOPE"]),
        b"-ERR unknown subcommand 'NOPE'. Try CONFIG HELP.\r\n",
    )
    .await;
    node.shutdown().await;
}

#[tokio::test]
async fn malformed_frame_closes_only_that_connection() {
    let node = start(Config::default()).await;
    let mut bad = connect(&node).await;
    let mut good = connect(&node).await;
    roundtrip(&mut good, &cmd(&[b"SET", b"k", b"v"]), b"+OK\r\n").await;
    // Replies to earlier requests in the same batch are still delivered.
    bad.write_all(&cmd(&[b"PING"])).await.unwrap();
    bad.write_all(b"*2\r\n$3\r\nGET\r\n$x\r\n").await.unwrap();
    expect(
        &mut bad,
        b"+PONG\r\n-ERR Protocol error: invalid bulk length\r\n",
    )
    .await;
    expect_closed(&mut bad).await;
    roundtrip(&mut good, &cmd(&[b"GET", b"k"]), b"$1\r\nv\r\n").await;
    for (input, err) in [
        (
            &b"*1\r\n+PING\r\n"[..],
            &b"-ERR Protocol error: expected '$', got '+'\r\n"[..],
        ),
        (
            b"*-x\r\n",
            b"-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*1\r\n$4\r\nPINGxx",
            b"-ERR Protocol error: expected CRLF after bulk data\r\n",
        ),
    ] {
        let mut c = connect(&node).await;
        roundtrip(&mut c, input, err).await;
        expect_closed(&mut c).await;
    }
    assert_eq!(node.shared.metrics.protocol_errors.get(), 4);
    node.shutdown().await;
}

#[tokio::test]
async fn oversized_input_is_refused_before_it_is_buffered() {
    let mut config = Config::default();
    config.settings.proto_max_bulk_len = 1 << 20;
    config.settings.proto_max_multibulk_len = 1024;
    let node = start(config).await;
    let mut c = connect(&node).await;
    // Only the header arrives: the claim alone is refused.
    roundtrip(
        &mut c,
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000000\r\n",
        b"-ERR Protocol error: invalid bulk length\r\n",
    )
    .await;
    expect_closed(&mut c).await;
    answered_then_closed(
        &node,
        b"*5000\r\n",
        b"-ERR Protocol error: invalid multibulk length\r\n",
    )
    .await;
    answered_then_closed(
        &node,
        &vec![b'a'; 70 * 1024],
        b"-ERR Protocol error: too big inline request\r\n",
    )
    .await;
    let mut c = connect(&node).await;
    let mut long_count = b"*".to_vec();
    long_count.extend(vec![b'1'; 70 * 1024]);
    roundtrip(
        &mut c,
        &long_count,
        b"-ERR Protocol error: too big mbulk count string\r\n",
    )
    .await;
    expect_closed(&mut c).await;
    // A value just under the limit is fine.
    let mut c = connect(&node).await;
    let value = vec![b'x'; (1 << 20) - 1];
    roundtrip(&mut c, &cmd(&[b"SET", b"big", &value]), b"+OK\r\n").await;
    roundtrip(&mut c, &cmd(&[b"STRLEN", b"big"]), b":1048575\r\n").await;
    node.shutdown().await;
}

#[tokio::test]
async fn query_buffer_limit_closes_the_client() {
    let mut config = Config::default();
    config.settings.client_query_buffer_limit = 1 << 20;
    let node = start(config).await;
    let mut c = connect(&node).await;
    c.write_all(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3000000\r\n")
        .await
        .unwrap();
    // Feed more than the limit; the server stops reading and closes.
    let chunk = vec![b'x'; 64 * 1024];
    for _ in 0..40 {
        if c.write_all(&chunk).await.is_err() {
            break;
        }
    }
    expect_closed(&mut c).await;
    node.shutdown().await;
}

#[tokio::test]
async fn maxclients_refuses_extra_connections() {
    let mut config = Config::default();
    config.settings.maxclients = 2;
    let node = start(config).await;
    let mut a = connect(&node).await;
    let mut b = connect(&node).await;
    roundtrip(&mut a, &cmd(&[b"PING"]), b"+PONG\r\n").await;
    roundtrip(&mut b, &cmd(&[b"PING"]), b"+PONG\r\n").await;
    let mut c = connect(&node).await;
    expect(&mut c, b"-ERR max number of clients reached\r\n").await;
    expect_closed(&mut c).await;
    assert_eq!(node.shared.metrics.rejected_connections.get(), 1);
    drop(a);
    // Once a slot frees up, new clients are served again.
    let mut served = false;
    for _ in 0..100 {
        let mut d = connect(&node).await;
        d.write_all(&cmd(&[b"PING"])).await.unwrap();
        let mut buf = [0u8; 7];
        if timeout(WAIT, d.read_exact(&mut buf)).await.unwrap().is_ok() && &buf == b"+PONG\r\n" {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(served);
    node.shutdown().await;
}

#[tokio::test]
async fn quit_and_client_kill_close_connections() {
    let node = start(Config::default()).await;
    let mut a = connect(&node).await;
    roundtrip(&mut a, &cmd(&[b"QUIT"]), b"+OK\r\n").await;
    expect_closed(&mut a).await;
    let mut victim = connect(&node).await;
    roundtrip(
        &mut victim,
        &cmd(&[b"CLIENT", b"SETNAME", b"victim"]),
        b"+OK\r\n",
    )
    .await;
    victim.write_all(&cmd(&[b"CLIENT", b"ID"])).await.unwrap();
    let mut buf = vec![0u8; 64];
    let n = timeout(WAIT, victim.read(&mut buf)).await.unwrap().unwrap();
    let id = String::from_utf8_lossy(&buf[1..n - 2]).to_string();
    let mut killer = connect(&node).await;
    roundtrip(
        &mut killer,
        &cmd(&[b"CLIENT", b"KILL", b"ID", id.as_bytes()]),
        b":1\r\n",
    )
    .await;
    expect_closed(&mut victim).await;
    roundtrip(
        &mut killer,
        &cmd(&[b"CLIENT", b"KILL", b"ID", id.as_bytes()]),
        b":0\r\n",
    )
    .await;
    node.shutdown().await;
}

#[tokio::test]
async fn output_buffer_hard_limit_drops_the_client_not_the_server() {
    let mut config = Config::default();
    config.settings.obuf_normal = ObufLimit {
        hard: 1 << 20,
        soft: 0,
        soft_seconds: 0,
    };
    let node = start(config).await;
    let mut c = connect(&node).await;
    let value = vec![b'v'; 2 << 20];
    roundtrip(&mut c, &cmd(&[b"SET", b"big", &value]), b"+OK\r\n").await;
    c.write_all(&cmd(&[b"GET", b"big"])).await.unwrap();
    expect_closed(&mut c).await;
    assert_eq!(node.shared.metrics.output_limit_disconnects.get(), 1);
    let mut d = connect(&node).await;
    roundtrip(&mut d, &cmd(&[b"STRLEN", b"big"]), b":2097152\r\n").await;
    node.shutdown().await;
}

#[tokio::test]
async fn requirepass_gates_commands_and_request_size() {
    let mut config = Config::default();
    config.settings.requirepass = Some("s3cret".into());
    let node = start(config).await;
    let mut c = connect(&node).await;
    roundtrip(
        &mut c,
        &cmd(&[b"GET", b"a"]),
        b"-NOAUTH Authentication required.\r\n",
    )
    .await;
    roundtrip(
        &mut c,
        &cmd(&[b"PING"]),
        b"-NOAUTH Authentication required.\r\n",
    )
    .await;
    roundtrip(
        &mut c,
        &cmd(&[b"AUTH", b"wrong"]),
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n",
    )
    .await;
    roundtrip(&mut c, &cmd(&[b"AUTH", b"s3cret"]), b"+OK\r\n").await;
    roundtrip(&mut c, &cmd(&[b"GET", b"a"]), b"$-1\r\n").await;
    // Before AUTH, a client may not make the server buffer a large request.
    answered_then_closed(
        &node,
        b"*20\r\n",
        b"-ERR Protocol error: invalid multibulk length\r\n",
    )
    .await;
    answered_then_closed(
        &node,
        b"*2\r\n$4\r\nAUTH\r\n$100000\r\n",
        b"-ERR Protocol error: invalid bulk length\r\n",
    )
    .await;
    let mut h = connect(&node).await;
    let hello = cmd(&[b"HELLO", b"3", b"AUTH", b"default", b"s3cret"]);
    h.write_all(&hello).await.unwrap();
    expect(&mut h, b"%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n").await;
    node.shutdown().await;
}

#[tokio::test]
async fn resp3_reply_shapes() {
    let node = start(Config::default()).await;
    let mut c = connect(&node).await;
    c.write_all(&cmd(&[b"HELLO", b"3"])).await.unwrap();
    expect(
        &mut c,
        b"%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n",
    )
    .await;
    // The rest of the HELLO map, read a byte at a time to its exact end (one
    // whole RESP value), so the next reply starts right after it.
    let mut reply = b"%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n".to_vec();
    while shoal_node::resp::Frame::parse(&reply).unwrap().is_none() {
        let mut byte = [0u8; 1];
        timeout(WAIT, c.read_exact(&mut byte))
            .await
            .unwrap()
            .unwrap();
        reply.push(byte[0]);
    }
    assert!(reply.ends_with(b"$7\r\nmodules\r\n*0\r\n"), "{reply:?}");
    roundtrip(&mut c, &cmd(&[b"GET", b"missing"]), b"_\r\n").await;
    roundtrip(&mut c, &cmd(&[b"HSET", b"h", b"f", b"v"]), b":1\r\n").await;
    roundtrip(
        &mut c,
        &cmd(&[b"HGETALL", b"h"]),
        b"%1\r\n$1\r\nf\r\n$1\r\nv\r\n",
    )
    .await;
    roundtrip(&mut c, &cmd(&[b"HGETALL", b"missing"]), b"%0\r\n").await;
    roundtrip(&mut c, &cmd(&[b"RESET"]), b"+RESET\r\n").await;
    roundtrip(&mut c, &cmd(&[b"GET", b"missing"]), b"$-1\r\n").await;
    node.shutdown().await;
}

#[tokio::test]
async fn large_values_round_trip() {
    let node = start(Config::default()).await;
    let mut c = connect(&node).await;
    let value: Vec<u8> = (0..5_000_000u32).map(|i| (i % 251) as u8).collect();
    roundtrip(&mut c, &cmd(&[b"SET", b"big", &value]), b"+OK\r\n").await;
    c.write_all(&cmd(&[b"GET", b"big"])).await.unwrap();
    let mut want = b"$5000000\r\n".to_vec();
    want.extend_from_slice(&value);
    want.extend_from_slice(b"\r\n");
    expect(&mut c, &want).await;
    node.shutdown().await;
}

#[tokio::test]
async fn idle_clients_time_out() {
    let mut config = Config::default();
    config.settings.timeout = 1;
    let node = start(config).await;
    let mut c = connect(&node).await;
    roundtrip(&mut c, &cmd(&[b"PING"]), b"+PONG\r\n").await;
    expect_closed(&mut c).await;
    node.shutdown().await;
}

#[tokio::test]
async fn shutdown_answers_what_was_read_then_closes() {
    let node = start(Config::default()).await;
    let addr = node.addr;
    let mut c = connect(&node).await;
    roundtrip(&mut c, &cmd(&[b"SET", b"k", b"v"]), b"+OK\r\n").await;
    let mut pipeline = Vec::new();
    for _ in 0..20_000 {
        pipeline.extend(cmd(&[b"PING"]));
    }
    c.write_all(&pipeline).await.unwrap();
    let started = std::time::Instant::now();
    node.shutdown().await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "shutdown waited for the grace period"
    );
    // Every reply that arrived is complete: a whole number of +PONG lines. The
    // close may be a reset, since requests the server never read are discarded.
    let mut got = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match timeout(WAIT, c.read(&mut buf)).await.unwrap() {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => {
                assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset);
                break;
            }
        }
    }
    assert_eq!(got.len() % 7, 0, "partial reply after shutdown");
    assert!(got.chunks(7).all(|r| r == b"+PONG\r\n"));
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "still accepting after shutdown"
    );
}

#[tokio::test]
async fn hrandfield_negative_counts_stop_at_the_output_limit() {
    let mut config = Config::default();
    config.settings.obuf_normal = ObufLimit {
        hard: 1 << 20,
        soft: 0,
        soft_seconds: 0,
    };
    let node = start(config).await;
    let mut c = connect(&node).await;
    roundtrip(&mut c, &cmd(&[b"HSET", b"h", b"f", b"v"]), b":1\r\n").await;
    // -2^63 is outside the range Redis reads a count in.
    roundtrip(
        &mut c,
        &cmd(&[b"HRANDFIELD", b"h", b"-9223372036854775808"]),
        b"-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n",
    )
    .await;
    // Repeats allowed: the reply size is the client's alone to choose. Redis
    // closes such a client at the output limit; so does Shoal, without first
    // building (or failing to allocate) the whole reply.
    for count in [&b"-100000000"[..], b"-9223372036854775807"] {
        let mut c = connect(&node).await;
        c.write_all(&cmd(&[b"HRANDFIELD", b"h", count]))
            .await
            .unwrap();
        let mut buf = vec![0u8; 64 * 1024];
        let mut got = 0usize;
        loop {
            match timeout(WAIT, c.read(&mut buf))
                .await
                .expect("closed in time")
            {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) => {
                    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset);
                    break;
                }
            }
        }
        assert_eq!(got, 0, "nothing of the cut reply is sent");
    }
    assert_eq!(node.shared.metrics.output_limit_disconnects.get(), 2);
    // Small negative counts still work, repeats included.
    roundtrip(
        &mut c,
        &cmd(&[b"HRANDFIELD", b"h", b"-3"]),
        b"*3\r\n$1\r\nf\r\n$1\r\nf\r\n$1\r\nf\r\n",
    )
    .await;
    node.shutdown().await;
}

#[tokio::test]
async fn client_kill_closes_a_client_that_stopped_reading() {
    let node = start(Config::default()).await;
    let mut c = connect(&node).await;
    let value = vec![b'v'; 4 << 20];
    roundtrip(&mut c, &cmd(&[b"SET", b"big", &value]), b"+OK\r\n").await;
    let mut victim = connect(&node).await;
    victim.write_all(&cmd(&[b"CLIENT", b"ID"])).await.unwrap();
    let mut buf = vec![0u8; 64];
    let n = timeout(WAIT, victim.read(&mut buf)).await.unwrap().unwrap();
    let id = String::from_utf8_lossy(&buf[1..n - 2]).to_string();
    // 64 MiB of replies the victim never reads: the server's write blocks.
    let mut gets = Vec::new();
    for _ in 0..16 {
        gets.extend(cmd(&[b"GET", b"big"]));
    }
    victim.write_all(&gets).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(node.shared.clients.len(), 2);
    roundtrip(
        &mut c,
        &cmd(&[b"CLIENT", b"KILL", b"ID", id.as_bytes()]),
        b":1\r\n",
    )
    .await;
    let gone = async {
        while node.shared.clients.len() > 1 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    timeout(WAIT, gone)
        .await
        .expect("the killed client is released although it never read");
    drop(victim);
    node.shutdown().await;
}
