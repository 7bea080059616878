//! `local-cluster`'s supervisor: the single writer of a local cluster's
//! topology, doing what the operator and the kubelet do in Kubernetes.
//!
//! Every [`TICK`] it probes each node (`INFO replication`), feeds what it saw
//! to the failover decision ([`super::failover`]), publishes promotions at the
//! next epoch (nodes pick the file up within 200 ms), and restarts nodes whose
//! process died — a dead primary only once a replica has replaced it, so the
//! empty restart never serves its slots while a copy of the data exists.

use super::failover::{self, Health, Policy, Verdict};
use super::local::{self, LocalError, LocalNode};
use super::topology::Topology;
use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

pub const TICK: Duration = Duration::from_millis(200);
/// After a promotion, the shard is left to settle this long.
const SETTLE: Duration = Duration::from_secs(2);
/// A dead node is restarted after this long (as a kubelet backs off).
const RESTART_AFTER: Duration = Duration::from_millis(500);

fn log(start: Instant, msg: impl std::fmt::Display) {
    eprintln!("[{:>9.3}s] {msg}", start.elapsed().as_secs_f64());
}

/// Reads one node's replication state; None if it cannot be reached.
pub fn probe(port: u16, password: Option<&str>) -> Option<Health> {
    let mut req = Vec::new();
    if let Some(pw) = password {
        req.extend_from_slice(format!("*2\r\n$4\r\nAUTH\r\n${}\r\n{pw}\r\n", pw.len()).as_bytes());
    }
    req.extend_from_slice(b"*2\r\n$4\r\nINFO\r\n$11\r\nreplication\r\n");
    local::query(port, &req, |reply| {
        parse_info(&String::from_utf8_lossy(reply))
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
    })
}

/// Runs until killed. `nodes` and `extra` are what the cluster was started with.
pub fn run(
    dir: &Path,
    nodes: &[LocalNode],
    extra: &[String],
    policy: Policy,
) -> Result<(), LocalError> {
    let start = Instant::now();
    let topology_path = dir.join(local::TOPOLOGY_FILE);
    let password = extra
        .windows(2)
        .find(|w| w[0] == "--requirepass")
        .map(|w| w[1].clone());
    let exe = std::env::current_exe().map_err(|source| LocalError::Io {
        path: "current executable".into(),
        source,
    })?;
    let mut down_since: HashMap<String, Instant> = HashMap::new();
    let mut dead_since: HashMap<String, Instant> = HashMap::new();
    let mut settled_at: HashMap<usize, Instant> = HashMap::new();
    let mut stuck_reported: HashMap<usize, String> = HashMap::new();
    log(
        start,
        format!("supervising {} nodes in {}", nodes.len(), dir.display()),
    );
    loop {
        std::thread::sleep(TICK);
        let Ok(text) = std::fs::read_to_string(&topology_path) else {
            continue;
        };
        let Ok(topology) = Topology::parse(&text) else {
            continue;
        };
        let now = Instant::now();
        let mut health = HashMap::new();
        for n in nodes {
            let h = match probe(n.port, password.as_deref()) {
                Some(h) => {
                    down_since.remove(&n.name);
                    h
                }
                None => {
                    let since = *down_since.entry(n.name.clone()).or_insert(now);
                    Health {
                        down_ms: now.duration_since(since).as_millis() as u64,
                        ..Health::default()
                    }
                }
            };
            health.insert(n.name.clone(), h);
        }
        let mut next = topology.clone();
        let mut changed = false;
        let mut stuck = Vec::new();
        for v in failover::decide(&topology, &health, policy) {
            match v {
                Verdict::Promote {
                    shard,
                    replica,
                    reason,
                } => {
                    if settled_at.get(&shard).is_some_and(|t| now < *t) {
                        continue;
                    }
                    if let Some(t) = failover::promote(&next, shard, &replica) {
                        log(
                            start,
                            format!("shard {shard}: promoting {replica} ({reason:?})"),
                        );
                        next = t;
                        next.epoch = topology.epoch + 1;
                        changed = true;
                        settled_at.insert(shard, now + SETTLE);
                    }
                }
                Verdict::Stuck { shard, why } => {
                    if stuck_reported.get(&shard) != Some(&why) {
                        log(start, format!("shard {shard}: {why}"));
                        stuck_reported.insert(shard, why);
                    }
                    stuck.push(shard);
                }
            }
        }
        if changed {
            local::write_atomically(&topology_path, &next.to_yaml())?;
            log(start, format!("published epoch {}", next.epoch));
        }
        // Restart dead processes; a primary only once it is no longer one, or
        // when nothing could replace it.
        for n in nodes {
            if local::node_alive(dir, &n.name) {
                dead_since.remove(&n.name);
                continue;
            }
            let since = *dead_since.entry(n.name.clone()).or_insert(now);
            if now.duration_since(since) < RESTART_AFTER {
                continue;
            }
            let primary_of = next.shards.iter().position(|s| s.primary.name == n.name);
            let replaceable = primary_of
                .is_some_and(|i| !next.shards[i].replicas.is_empty() && !stuck.contains(&i));
            if replaceable {
                continue;
            }
            match local::spawn_node(&exe, n, dir, &topology_path, extra, true) {
                Ok(_) => log(start, format!("restarted {}", n.name)),
                Err(e) => log(start, format!("could not restart {}: {e}", n.name)),
            }
            dead_since.remove(&n.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_replies_are_read_when_complete() {
        let body = "# Replication\r\nrole:slave\r\nmaster_repl_offset:42\r\nshoal_synced:1\r\nshoal_primary_lost_data:1\r\nshoal_failover_requested:0\r\n";
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
            }
        );
        assert_eq!(parse_info(&reply[..reply.len() - 30]), None);
        let auth_first = format!("+OK\r\n{reply}");
        assert_eq!(parse_info(&auth_first), Some(h));
    }
}
