//! TLS on the client port and on node-to-node links, in-process on ephemeral
//! ports, with certificates made by rcgen in each test: exact reply bytes over
//! TLS, refusals (untrusted server, missing, foreign or expired client
//! certificate), certificate rotation without a restart, replication and
//! forwarding over TLS, and links that refuse a peer they cannot verify.

mod certs;
mod common;

use certs::{Ca, Leaf};
use common::{cmd_str as cmd, WAIT};
use shoal_node::clock::Clock;
use shoal_node::cluster::slot::key_slot;
use shoal_node::cluster::{NodeAddr, Topology};
use shoal_node::config::{ClusterConfig, Config, TopologySource};
use shoal_node::server::Listeners;
use shoal_node::tls::{ClientAuth, TlsConfig};
use shoal_node::{Node, Shared};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

/// A fresh directory for one test's files.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("shoal-tls-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes the CA and a server certificate for 127.0.0.1 into `dir` (created if
/// missing); returns the TLS configuration pointing at them.
fn server_files(dir: &Path, ca: &Ca, server: &Leaf, auth: ClientAuth) -> TlsConfig {
    std::fs::create_dir_all(dir).unwrap();
    let (cert_file, key_file) = server.write(dir, "server");
    let ca_file = dir.join("ca.crt");
    std::fs::write(&ca_file, &ca.pem).unwrap();
    TlsConfig {
        cert_file,
        key_file,
        ca_cert_file: Some(ca_file),
        auth_clients: auth,
        replication: true,
        cluster: true,
    }
}

/// A node serving TLS only (plaintext off), or TLS and plaintext when `plain`.
async fn tls_node(tls: TlsConfig, plain: bool, cluster: Option<ClusterConfig>) -> Node {
    let config = Config {
        tls: Some(tls),
        cluster,
        ..Config::default()
    };
    let client = if plain {
        Some(TcpListener::bind("127.0.0.1:0").await.unwrap())
    } else {
        None
    };
    let tls = TcpListener::bind("127.0.0.1:0").await.unwrap();
    Node::start_listeners(
        Shared::new(config, Clock::Wall),
        Listeners {
            client,
            tls: Some(tls),
            forward: None,
            admin: None,
        },
    )
}

/// A TLS client trusting `ca`, presenting `identity` if given.
async fn connect(
    port: u16,
    ca: &Ca,
    identity: Option<&Leaf>,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let config = shoal_node::tls::client_config(
        ca.pem.as_bytes(),
        Path::new("test CA"),
        identity.map(|l| (l.cert.as_bytes(), l.key.as_bytes())),
    )
    .unwrap();
    let tcp = TcpStream::connect(("127.0.0.1", port)).await?;
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
}

/// Sends `request` and reads until `want.len()` bytes came, or the server
/// closed or failed the connection (TLS 1.3 reports a refused client
/// certificate only on the first read).
async fn exchange(
    port: u16,
    ca: &Ca,
    identity: Option<&Leaf>,
    request: &[u8],
) -> Result<Vec<u8>, String> {
    let mut s = connect(port, ca, identity)
        .await
        .map_err(|e| e.to_string())?;
    s.write_all(request).await.map_err(|e| e.to_string())?;
    s.flush().await.map_err(|e| e.to_string())?;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = timeout(WAIT, s.read(&mut buf))
            .await
            .map_err(|_| "no reply in time".to_string())?
            .map_err(|e| e.to_string())?;
        if n == 0 {
            return if got.is_empty() {
                Err("closed".into())
            } else {
                Ok(got)
            };
        }
        got.extend_from_slice(&buf[..n]);
        if got.ends_with(b"\r\n") {
            return Ok(got);
        }
    }
}

async fn ping(port: u16, ca: &Ca, identity: Option<&Leaf>) -> Result<(), String> {
    match exchange(port, ca, identity, &cmd(&["PING"])).await? {
        r if r == b"+PONG\r\n" => Ok(()),
        r => Err(format!(
            "unexpected reply {:?}",
            String::from_utf8_lossy(&r)
        )),
    }
}

const HOST: &[&str] = &["127.0.0.1", "localhost"];

#[tokio::test]
async fn clients_speak_tls_and_plaintext_gets_nothing() {
    let dir = scratch("basic");
    let ca = Ca::new("shoal test CA");
    let node = tls_node(
        server_files(&dir, &ca, &ca.leaf(HOST), ClientAuth::No),
        false,
        None,
    )
    .await;
    let port = node.tls_addr.unwrap().port();
    assert_eq!(
        node.addr.port(),
        port,
        "with plaintext off, addr is the TLS port"
    );

    let mut req = cmd(&["SET", "k", "v"]);
    req.extend_from_slice(&cmd(&["GET", "k"]));
    let mut s = connect(port, &ca, None).await.unwrap();
    s.write_all(&req).await.unwrap();
    let want = b"+OK\r\n$1\r\nv\r\n";
    let mut got = vec![0u8; want.len()];
    timeout(WAIT, s.read_exact(&mut got))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, want);

    // A plaintext request on the TLS port is no TLS handshake: no reply
    // bytes, the connection is closed, and the failure is counted.
    let failures = node.shared.metrics.tls_handshake_failures.get();
    let mut plain = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    plain.write_all(&cmd(&["PING"])).await.unwrap();
    let mut buf = vec![0u8; 64];
    let n = timeout(WAIT, plain.read(&mut buf))
        .await
        .unwrap()
        .unwrap_or(0);
    assert!(
        !buf[..n].starts_with(b"+PONG"),
        "plaintext answered on the TLS port"
    );
    assert_eq!(
        node.shared.metrics.tls_handshake_failures.get(),
        failures + 1
    );
    node.shutdown().await;
}

#[tokio::test]
async fn a_client_that_does_not_trust_the_server_is_refused() {
    let dir = scratch("trust");
    let ca = Ca::new("shoal test CA");
    let other = Ca::new("someone else's CA");
    let node = tls_node(
        server_files(&dir, &ca, &ca.leaf(HOST), ClientAuth::No),
        false,
        None,
    )
    .await;
    let port = node.tls_addr.unwrap().port();
    let err = ping(port, &other, None).await.unwrap_err();
    assert!(err.contains("UnknownIssuer"), "{err}");
    // A certificate for another name is refused too.
    node.shutdown().await;
    let node = tls_node(
        server_files(&dir, &ca, &ca.leaf(&["cache.example.com"]), ClientAuth::No),
        false,
        None,
    )
    .await;
    let err = ping(node.tls_addr.unwrap().port(), &ca, None)
        .await
        .unwrap_err();
    assert!(err.contains("not valid for name"), "{err}");
    // And an expired server certificate.
    node.shutdown().await;
    let node = tls_node(
        server_files(&dir, &ca, &ca.expired(HOST), ClientAuth::No),
        false,
        None,
    )
    .await;
    let err = ping(node.tls_addr.unwrap().port(), &ca, None)
        .await
        .unwrap_err();
    assert!(err.contains("certificate expired"), "{err}");
    node.shutdown().await;
}

#[tokio::test]
async fn client_certificates_are_verified_when_asked() {
    let dir = scratch("mtls");
    let ca = Ca::new("shoal test CA");
    let other = Ca::new("someone else's CA");
    let good = ca.leaf(&["client"]);
    let foreign = other.leaf(&["client"]);
    let expired = ca.expired(&["client"]);

    let node = tls_node(
        server_files(&dir, &ca, &ca.leaf(HOST), ClientAuth::Yes),
        false,
        None,
    )
    .await;
    let port = node.tls_addr.unwrap().port();
    ping(port, &ca, Some(&good)).await.unwrap();
    assert!(ping(port, &ca, None).await.is_err(), "no certificate");
    assert!(ping(port, &ca, Some(&foreign)).await.is_err(), "foreign CA");
    assert!(ping(port, &ca, Some(&expired)).await.is_err(), "expired");
    assert_eq!(node.shared.metrics.tls_handshake_failures.get(), 3);
    node.shutdown().await;

    let node = tls_node(
        server_files(&dir, &ca, &ca.leaf(HOST), ClientAuth::Optional),
        false,
        None,
    )
    .await;
    let port = node.tls_addr.unwrap().port();
    ping(port, &ca, None).await.unwrap();
    ping(port, &ca, Some(&good)).await.unwrap();
    assert!(ping(port, &ca, Some(&foreign)).await.is_err(), "foreign CA");
    node.shutdown().await;
}

/// Waits until `ok` holds, checking every 100 ms for up to 10 s.
async fn eventually<F: std::future::Future<Output = bool>>(what: &str, ok: impl Fn() -> F) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !ok().await {
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn rotated_certificates_are_picked_up_without_a_restart() {
    let dir = scratch("rotate");
    let old_ca = Ca::new("old CA");
    let new_ca = Ca::new("new CA");
    let files = server_files(&dir, &old_ca, &old_ca.leaf(HOST), ClientAuth::No);
    let node = tls_node(files.clone(), false, None).await;
    let port = node.tls_addr.unwrap().port();
    ping(port, &old_ca, None).await.unwrap();
    // A connection opened before the rotation keeps working after it.
    let mut before = connect(port, &old_ca, None).await.unwrap();

    // Rotation as a Secret update does it: every file changes.
    let rotated = new_ca.leaf(HOST);
    let _ = rotated.write(&dir, "server");
    std::fs::write(files.ca_cert_file.as_ref().unwrap(), &new_ca.pem).unwrap();
    eventually("the new certificate is served", || async {
        ping(port, &new_ca, None).await.is_ok()
    })
    .await;
    assert!(ping(port, &old_ca, None).await.is_err());
    let reloads = |r: &str| {
        node.shared
            .metrics
            .tls_reloads
            .with_label_values(&[r])
            .get()
    };
    assert_eq!(reloads("ok"), 1);
    before.write_all(&cmd(&["PING"])).await.unwrap();
    let mut got = [0u8; 7];
    timeout(WAIT, before.read_exact(&mut got))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&got, b"+PONG\r\n");

    // A half-done rotation (a certificate that does not match the key) is
    // refused, once, and the current certificate stays in use.
    std::fs::write(&files.cert_file, new_ca.leaf(HOST).cert).unwrap();
    eventually("the mismatched pair is refused", || async {
        reloads("error") == 1
    })
    .await;
    ping(port, &new_ca, None).await.unwrap();
    // (That a failure repeated is reported once is the watcher's unit test.)
    // Completing the rotation is picked up, and nothing failed again meanwhile.
    let ok_before = reloads("ok");
    std::fs::write(&files.cert_file, &rotated.cert).unwrap();
    // (Back to the installed files: no change. A new byte in the CA file is one,
    // and every state on the way is valid.)
    std::fs::write(
        files.ca_cert_file.as_ref().unwrap(),
        format!("{}\n", new_ca.pem),
    )
    .unwrap();
    eventually("the completed rotation loads", || async {
        reloads("ok") > ok_before
    })
    .await;
    assert_eq!(reloads("error"), 1, "no failure since the refused pair");
    node.shutdown().await;
}

/// `INFO replication` of the node with a plaintext port at `port`.
async fn info(port: u16) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    s.write_all(&cmd(&["INFO", "replication"])).await.unwrap();
    let mut buf = vec![0u8; 16 * 1024];
    let n = timeout(WAIT, s.read(&mut buf)).await.unwrap().unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

async fn plain_call(port: u16, args: &[&str]) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    s.write_all(&cmd(args)).await.unwrap();
    let mut buf = vec![0u8; 16 * 1024];
    let n = timeout(WAIT, s.read(&mut buf)).await.unwrap().unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[tokio::test]
async fn replicas_sync_over_mutual_tls_and_refuse_an_untrusted_primary() {
    let dir = scratch("repl");
    let ca = Ca::new("shoal test CA");
    // Both require client certificates: the replica presents its own.
    let primary = tls_node(
        server_files(&dir.join("p"), &ca, &ca.leaf(HOST), ClientAuth::Yes),
        true,
        None,
    )
    .await;
    let replica = tls_node(
        server_files(&dir.join("r"), &ca, &ca.leaf(HOST), ClientAuth::Yes),
        true,
        None,
    )
    .await;
    let p_plain = primary.addr.port();
    for i in 0..100 {
        let k = format!("k{i}");
        assert_eq!(plain_call(p_plain, &["SET", &k, "v"]).await, "+OK\r\n");
    }
    let tls_port = primary.tls_addr.unwrap().port().to_string();
    assert_eq!(
        plain_call(replica.addr.port(), &["REPLICAOF", "127.0.0.1", &tls_port]).await,
        "+OK\r\n"
    );
    let r_plain = replica.addr.port();
    eventually("the replica holds the primary's keys", || async {
        info(r_plain).await.contains("master_link_status:up")
            && replica.shared.db.stats().keys == 100
    })
    .await;
    assert_eq!(plain_call(p_plain, &["SET", "late", "x"]).await, "+OK\r\n");
    eventually("the stream carries later writes", || async {
        replica.shared.db.stats().keys == 101
    })
    .await;
    replica.shutdown().await;

    // A replica whose CA did not sign the primary's certificate never links.
    let other = Ca::new("someone else's CA");
    let stranger = tls_node(
        server_files(&dir.join("o"), &other, &other.leaf(HOST), ClientAuth::No),
        true,
        None,
    )
    .await;
    let s_plain = stranger.addr.port();
    assert_eq!(
        plain_call(s_plain, &["REPLICAOF", "127.0.0.1", &tls_port]).await,
        "+OK\r\n"
    );
    eventually("the link failure is reported", || async {
        let i = info(s_plain).await;
        i.contains("master_link_status:down") && i.contains("UnknownIssuer")
    })
    .await;
    assert_eq!(stranger.shared.db.stats().keys, 0);
    stranger.shutdown().await;
    primary.shutdown().await;
}

#[tokio::test]
async fn forwarding_links_use_tls_and_refuse_an_untrusted_peer() {
    let dir = scratch("forward");
    let ca = Ca::new("shoal test CA");
    let file = dir.join("topology.yaml");
    // Node 1 has a certificate from a CA node 0 trusts; node 2 does not.
    let other = Ca::new("someone else's CA");
    let mut nodes = Vec::new();
    let mut tls_ports = Vec::new();
    for i in 0..3 {
        let d = dir.join(format!("n{i}"));
        let issuer = if i == 2 { &other } else { &ca };
        let mut files = server_files(&d, &ca, &issuer.leaf(HOST), ClientAuth::Yes);
        if i == 2 {
            std::fs::write(files.ca_cert_file.as_ref().unwrap(), &other.pem).unwrap();
            files.auth_clients = ClientAuth::No;
        }
        let config = Config {
            tls: Some(files),
            cluster: Some(ClusterConfig {
                node_name: format!("n{i}"),
                source: TopologySource::File(file.clone()),
            }),
            ..Config::default()
        };
        let client = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let tls = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let forward = TcpListener::bind("127.0.0.1:0").await.unwrap();
        tls_ports.push(tls.local_addr().unwrap().port());
        nodes.push(Node::start_listeners(
            Shared::new(config, Clock::Wall),
            Listeners {
                client: Some(client),
                tls: Some(tls),
                forward: Some(forward),
                admin: None,
            },
        ));
    }
    // The topology advertises the TLS ports: links and redirects use them.
    let topology = Topology::even(1, 3, 0, |s, _| NodeAddr {
        name: format!("n{s}"),
        host: "127.0.0.1".into(),
        port: tls_ports[s],
    });
    std::fs::write(&file, topology.to_yaml()).unwrap();
    eventually("every node serves", || async {
        nodes
            .iter()
            .all(|n| n.shared.cluster.as_ref().unwrap().serving())
    })
    .await;
    let owner = |k: &str| {
        let slot = key_slot(k.as_bytes());
        topology
            .shards
            .iter()
            .position(|s| s.slots.iter().any(|r| r.contains(slot)))
            .unwrap()
    };
    let key_of = |want: usize| {
        (0..)
            .map(|i| format!("key{i}"))
            .find(|k| owner(k) == want)
            .unwrap()
    };
    let (k1, k2) = (key_of(1), key_of(2));
    let fwd = nodes[0].forward_addr.unwrap().port();
    assert_eq!(plain_call(fwd, &["SET", &k1, "over-tls"]).await, "+OK\r\n");
    assert_eq!(plain_call(fwd, &["GET", &k1]).await, "$8\r\nover-tls\r\n");
    assert_eq!(nodes[1].shared.db.stats().keys, 1, "stored on its owner");
    // Node 2's certificate does not chain to node 0's CA: nothing is sent.
    let reply = plain_call(fwd, &["SET", &k2, "x"]).await;
    assert!(reply.starts_with("-TRYAGAIN"), "{reply}");
    assert_eq!(nodes[2].shared.db.stats().keys, 0);
    for n in nodes {
        n.shutdown().await;
    }
}

#[test]
fn tls_options_are_checked_together() {
    use shoal_node::config::Options;
    let err = |o: Options| Config::from_options(&o).unwrap_err().to_string();
    let files = |o: Options| {
        o.with("tls-cert-file", "c.pem")
            .with("tls-key-file", "k.pem")
    };
    let none = Options::default;
    assert!(err(none().with("port", "0")).contains("set tls-port"));
    assert!(err(none().with("tls-port", "6380")).contains("needs tls-cert-file"));
    assert!(err(none().with("tls-cert-file", "c.pem")).contains("tls-key-file"));
    assert!(err(files(none().with("tls-auth-clients", "maybe"))).contains("yes, no or optional"));
    assert!(err(none().with("tls-replication", "yes")).contains("tls-cert-file"));
    let c = Config::from_options(&files(
        none()
            .with("port", "0")
            .with("tls-port", "6380")
            .with("tls-auth-clients", "no")
            .with("tls-cluster", "yes"),
    ))
    .unwrap();
    let tls = c.tls.unwrap();
    assert_eq!((c.port, c.tls_port), (0, 6380));
    assert_eq!(tls.auth_clients, ClientAuth::No);
    assert!(tls.cluster && !tls.replication);
    // Files are read when the node starts: a missing one is named.
    let missing = Shared::try_new(
        Config {
            tls: Some(TlsConfig {
                cert_file: "/nonexistent/tls.crt".into(),
                key_file: "/nonexistent/tls.key".into(),
                ca_cert_file: None,
                auth_clients: ClientAuth::No,
                replication: false,
                cluster: false,
            }),
            ..Config::default()
        },
        Clock::Wall,
    )
    .err()
    .unwrap()
    .to_string();
    assert!(missing.contains("/nonexistent/tls.crt"), "{missing}");
    // Verifying clients or peers needs a CA.
    let no_ca = Shared::try_new(
        Config {
            tls: Some(TlsConfig {
                cert_file: "/nonexistent/tls.crt".into(),
                key_file: "/nonexistent/tls.key".into(),
                ca_cert_file: None,
                auth_clients: ClientAuth::Yes,
                replication: false,
                cluster: false,
            }),
            ..Config::default()
        },
        Clock::Wall,
    )
    .err()
    .unwrap()
    .to_string();
    assert!(no_ca.contains("tls-ca-cert-file"), "{no_ca}");
}
