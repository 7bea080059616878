//! `local-cluster`'s supervisor: the single writer of a local cluster's
//! topology, doing what the operator and the kubelet do in Kubernetes.
//!
//! Every [`TICK`] it probes each node (`INFO replication`), feeds what it saw
//! to the failover decision ([`super::failover`]), publishes promotions at the
//! next epoch (nodes pick the file up within 50 ms), and restarts nodes whose
//! process died — a dead primary only once a replica has replaced it, so the
//! empty restart never serves its slots while a copy of the data exists.

use super::failover::{Policy, Tracker};
use super::local::{self, LocalError, LocalNode, LocalTls};
use super::probe;
use super::topology::Topology;
use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

pub const TICK: Duration = Duration::from_millis(200);
/// A dead node is restarted after this long (as a kubelet backs off).
const RESTART_AFTER: Duration = Duration::from_millis(500);

fn log(start: Instant, msg: impl std::fmt::Display) {
    eprintln!("[{:>9.3}s] {msg}", start.elapsed().as_secs_f64());
}

/// Runs until killed. `extra` and `tls` are what the cluster was started
/// with; the nodes are those the topology names (a resize adds and removes
/// some).
pub fn run(
    dir: &Path,
    extra: &[String],
    tls: Option<&LocalTls>,
    policy: Policy,
) -> Result<(), LocalError> {
    let start = Instant::now();
    let probe_tls = tls.map(LocalTls::probe_config).transpose()?;
    let password = extra
        .windows(2)
        .find(|w| w[0] == "--requirepass")
        .map(|w| w[1].clone());
    let exe = std::env::current_exe().map_err(|source| LocalError::Io {
        path: "current executable".into(),
        source,
    })?;
    let mut dead_since: HashMap<String, Instant> = HashMap::new();
    let mut tracker = Tracker::new(policy);
    log(start, format!("supervising the nodes in {}", dir.display()));
    loop {
        std::thread::sleep(TICK);
        // Held from reading the document to publishing the next one.
        local::with_topology_lock(dir, || {
            tick(
                dir,
                extra,
                tls,
                &mut tracker,
                &mut dead_since,
                start,
                &exe,
                probe_tls.as_ref(),
                password.as_deref(),
            )
        })??;
    }
}

#[allow(clippy::too_many_arguments)]
fn tick(
    dir: &Path,
    extra: &[String],
    tls: Option<&LocalTls>,
    tracker: &mut Tracker,
    dead_since: &mut HashMap<String, Instant>,
    start: Instant,
    exe: &Path,
    probe_tls: Option<&std::sync::Arc<rustls::ClientConfig>>,
    password: Option<&str>,
) -> Result<(), LocalError> {
    let topology_path = dir.join(local::TOPOLOGY_FILE);
    {
        let Ok(text) = std::fs::read_to_string(&topology_path) else {
            return Ok(());
        };
        let Ok(topology) = Topology::parse(&text) else {
            return Ok(());
        };
        let nodes: Vec<LocalNode> = local::nodes_of(&topology);
        let probes = nodes
            .iter()
            .map(|n| {
                let target = probe::Target {
                    host: "127.0.0.1",
                    port: n.port,
                    tls: probe_tls,
                };
                let h = probe::health(target, password.map(|pw| ("default", pw)));
                (n.name.clone(), h)
            })
            .collect();
        let now = Instant::now();
        let round = tracker.round(&topology, probes, &[], now);
        for (shard, why) in &round.newly_stuck {
            log(start, format!("shard {shard}: {why}"));
        }
        for (shard, replica, reason) in &round.promoted {
            log(
                start,
                format!("shard {shard}: promoting {replica} ({reason:?})"),
            );
        }
        let next = match round.next {
            Some(next) => {
                local::write_atomically(&topology_path, &next.to_yaml())?;
                log(start, format!("published epoch {}", next.epoch));
                next
            }
            None => topology,
        };
        let stuck = round.stuck;
        // Restart dead processes; a primary only once it is no longer one, or
        // when nothing could replace it.
        for n in &nodes {
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
            match local::spawn_node(exe, n, dir, &topology_path, extra, tls, true) {
                Ok(_) => log(start, format!("restarted {}", n.name)),
                Err(e) => log(start, format!("could not restart {}: {e}", n.name)),
            }
            dead_since.remove(&n.name);
        }
    }
    Ok(())
}
