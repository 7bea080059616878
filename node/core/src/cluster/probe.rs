//! Asking a node something over a short-lived blocking connection: the
//! start-up readiness check of `local-cluster`, and the health probes of the
//! topology's writers (its supervisor, and the operator in Kubernetes).

use super::failover::Health;
use crate::frame::Frame;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

const CONNECT_TIMEOUT: Duration = Duration::from_millis(200);
const IO_TIMEOUT: Duration = Duration::from_millis(500);
/// More than any reply asked for here; a node sending more is not answering.
const MAX_REPLY: usize = 64 * 1024;

/// Where a probe goes: a node's host and port, over TLS when a client
/// configuration is given (the node's certificate must then name `host`).
#[derive(Clone, Copy)]
pub struct Target<'a> {
    pub host: &'a str,
    pub port: u16,
    pub tls: Option<&'a Arc<rustls::ClientConfig>>,
}

impl<'a> Target<'a> {
    pub fn plain(host: &'a str, port: u16) -> Target<'a> {
        Target {
            host,
            port,
            tls: None,
        }
    }
}

/// Sends `request` to `target` and reads the reply until `parse` makes
/// something of it. None if the address does not resolve, the node cannot be
/// reached (or its certificate is not trusted), answers an error, stalls
/// (500 ms) or sends more than 64 KiB.
pub fn query<T>(
    target: Target<'_>,
    request: &[u8],
    parse: impl Fn(&[u8]) -> Option<T>,
) -> Option<T> {
    let addr = (target.host, target.port).to_socket_addrs().ok()?.next()?;
    let tcp = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT).ok()?;
    tcp.set_read_timeout(Some(IO_TIMEOUT)).ok()?;
    tcp.set_write_timeout(Some(IO_TIMEOUT)).ok()?;
    let mut s = crate::tls::BlockingStream::new(tcp, target.host, target.tls).ok()?;
    s.write_all(request).ok()?;
    s.flush().ok()?;
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        let n = s.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(t) = parse(&buf) {
            return Some(t);
        }
        if buf.len() > MAX_REPLY || buf.starts_with(b"-") {
            return None;
        }
    }
}

/// A node's replication state from `INFO replication`, after `AUTH user
/// password` when a login is given; None if it cannot be reached or refuses
/// the login.
pub fn health(target: Target<'_>, login: Option<(&str, &str)>) -> Option<Health> {
    let mut req = Vec::new();
    if let Some((user, pw)) = login {
        Frame::encode_command(&["AUTH", user, pw], &mut req);
    }
    Frame::encode_command(&["INFO", "replication"], &mut req);
    query(target, &req, |reply| {
        parse_info(&String::from_utf8_lossy(reply))
    })
}

/// Where a node's slot imports stand (`CLUSTER INFO`'s `shoal_imports_*`):
/// how many are connecting, loading a snapshot, streaming, released, done.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Imports {
    pub connecting: usize,
    pub snapshot: usize,
    pub streaming: usize,
    pub released: usize,
    pub done: usize,
    /// Keys and changes imported since start.
    pub keys: u64,
}

impl Imports {
    /// `expected` imports all follow their source's writes (or are further):
    /// a resize may cut over.
    pub fn copied(&self, expected: usize) -> bool {
        self.connecting + self.snapshot == 0
            && self.streaming + self.released + self.done >= expected
    }

    /// `expected` imports are complete, on the replicas too: a resize may end.
    pub fn imported(&self, expected: usize) -> bool {
        self.done >= expected
    }
}

/// A node's slot imports from `CLUSTER INFO`, after `AUTH` when a login is
/// given; None if it cannot be reached or refuses.
pub fn imports(target: Target<'_>, login: Option<(&str, &str)>) -> Option<Imports> {
    let mut req = Vec::new();
    if let Some((user, pw)) = login {
        Frame::encode_command(&["AUTH", user, pw], &mut req);
    }
    Frame::encode_command(&["CLUSTER", "INFO"], &mut req);
    query(target, &req, |reply| {
        parse_imports(&String::from_utf8_lossy(reply))
    })
}

/// Parses `CLUSTER INFO` once the reply is complete.
fn parse_imports(text: &str) -> Option<Imports> {
    let body_at = text.find("cluster_state:")?;
    let len: usize = text[..body_at].rsplit('$').next()?.trim().parse().ok()?;
    let body = text.get(body_at..body_at + len)?;
    let field = |k: &str| -> Option<u64> {
        body.lines()
            .find_map(|l| l.strip_prefix(k).and_then(|r| r.strip_prefix(':')))?
            .trim()
            .parse()
            .ok()
    };
    let n = |k: &str| field(k).map(|v| v as usize);
    Some(Imports {
        connecting: n("shoal_imports_connecting")?,
        snapshot: n("shoal_imports_snapshot")?,
        streaming: n("shoal_imports_streaming")?,
        released: n("shoal_imports_released")?,
        done: n("shoal_imports_done")?,
        keys: field("shoal_imported_keys")?,
    })
}

/// Parses the `INFO replication` bulk reply once it is complete.
fn parse_info(text: &str) -> Option<Health> {
    let body_at = text.find("# Replication")?;
    let header = &text[..body_at];
    let len: usize = header.rsplit('$').next()?.trim().parse().ok()?;
    let body = text.get(body_at..body_at + len)?;
    let field = |k: &str| {
        body.lines()
            .find_map(|l| l.strip_prefix(k).and_then(|r| r.strip_prefix(':')))
    };
    let primary = field("role")? == "master";
    Some(Health {
        reachable: true,
        down_ms: 0,
        primary,
        offset: field("master_repl_offset")?.parse().ok()?,
        synced: primary || field("shoal_synced") == Some("1"),
        primary_lost_data: field("shoal_primary_lost_data") == Some("1"),
        failover_requested: field("shoal_failover_requested") == Some("1"),
        leaving: field("shoal_leaving") == Some("1"),
        held: field("shoal_held") == Some("1"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_replies_are_read_when_complete() {
        let body = "# Replication\r\nrole:slave\r\nmaster_repl_offset:42\r\nshoal_synced:1\r\nshoal_primary_lost_data:1\r\nshoal_failover_requested:0\r\nshoal_leaving:1\r\n";
        let reply = format!("${}\r\n{body}\r\n", body.len());
        let h = parse_info(&reply).unwrap();
        assert_eq!(
            h,
            Health {
                reachable: true,
                down_ms: 0,
                primary: false,
                offset: 42,
                synced: true,
                primary_lost_data: true,
                failover_requested: false,
                leaving: true,
                held: false,
            }
        );
        assert_eq!(parse_info(&reply[..reply.len() - 30]), None);
        let auth_first = format!("+OK\r\n{reply}");
        assert_eq!(parse_info(&auth_first), Some(h));
    }

    #[test]
    fn import_counts_are_read_from_cluster_info() {
        let body = "cluster_state:ok\r\nshoal_imports_connecting:0\r\nshoal_imports_snapshot:1\r\nshoal_imports_streaming:2\r\nshoal_imports_released:0\r\nshoal_imports_done:3\r\nshoal_imported_keys:99\r\n";
        let reply = format!("+OK\r\n${}\r\n{body}\r\n", body.len());
        let i = parse_imports(&reply).unwrap();
        assert_eq!((i.snapshot, i.streaming, i.done, i.keys), (1, 2, 3, 99));
        assert!(!i.copied(5), "one is still loading its snapshot");
        assert!(i.imported(3) && !i.imported(4));
        let all_streaming = Imports {
            streaming: 2,
            released: 1,
            ..Imports::default()
        };
        assert!(all_streaming.copied(3) && !all_streaming.copied(4));
        assert_eq!(parse_imports(&reply[..reply.len() - 10]), None);
        assert_eq!(parse_imports("$20\r\ncluster_state:ok\r\n\r\n"), None);
    }

    #[test]
    fn unreachable_and_unresolvable_nodes_have_no_health() {
        // Bound then dropped: nothing listens there now.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        assert_eq!(health(Target::plain("127.0.0.1", port), None), None);
        assert_eq!(
            health(Target::plain("no-such-host.invalid", 6379), None),
            None
        );
    }
}
