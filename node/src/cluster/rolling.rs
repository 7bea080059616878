//! `local-cluster --rolling-restart`: restarts every node of a running local
//! cluster one at a time, in the order the operator replaces pods
//! ([`super::rollout`]: replicas first, the primary last by a handover), while
//! one writer per shard measures the longest write pause it saw and checks,
//! at the end, that every write a primary answered OK to is still there.
//!
//! A node is restarted by SIGTERM; the supervisor starts it again (as the
//! kubelet would) and promotes a replica when a stopping primary asks
//! (`shoal_leaving`).

use super::local::{self, LocalError, LocalTls};
use super::probe::{self, Target};
use super::rollout::{self, Member, Step};
use super::slot::key_slot;
use super::topology::Topology;
use shoal_core::frame::Frame;
use shoal_core::tls::BlockingStream;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What one shard saw during the rolling restart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardReport {
    pub shard: usize,
    pub restarted: Vec<String>,
    /// Writes its primary answered OK to.
    pub writes: u64,
    /// Of those, how many were missing or different afterwards.
    pub lost: u64,
    /// The longest time between two acknowledged writes, and when it ended
    /// (since the rolling restart began).
    pub longest_pause: Duration,
    pub longest_pause_at: Duration,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RollingReport {
    pub shards: Vec<ShardReport>,
    pub elapsed: Duration,
}

/// Restarts every node of the cluster in `dir` (see the module doc).
/// `timeout` bounds the wait for one restarted node to serve again.
pub fn rolling_restart(
    dir: &Path,
    timeout: Duration,
    tls: Option<&LocalTls>,
    max_concurrent_shards: usize,
    mut progress: impl FnMut(&str),
) -> Result<RollingReport, LocalError> {
    let began = Instant::now();
    let dir = &dir.canonicalize().map_err(|source| LocalError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    if !local::node_alive(dir, local::SUPERVISOR) {
        return Err(LocalError::Invalid(
            "--rolling-restart needs the cluster's supervisor (it starts stopped nodes again and promotes replicas); this cluster runs without one".into(),
        ));
    }
    let password = local::read_options(dir)?
        .windows(2)
        .find(|w| w[0] == "--requirepass")
        .map(|w| w[1].clone());
    let probe_tls = tls.map(LocalTls::probe_config).transpose()?;
    let topology = read_topology(dir)?;
    let original: HashMap<String, Option<i32>> = topology
        .nodes()
        .map(|(_, n, _)| (n.name.clone(), local::node_pid(dir, &n.name)))
        .collect();

    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..topology.shards.len())
        .map(|shard| {
            let w = Arc::new(Writer::new(shard, tag_of(&topology, shard)));
            let (w2, stop, dir) = (w.clone(), stop.clone(), dir.to_path_buf());
            let (tls, pw) = (probe_tls.clone(), password.clone());
            let h =
                std::thread::spawn(move || w2.run(began, &dir, tls.as_ref(), pw.as_deref(), &stop));
            (w, h)
        })
        .collect();
    let result = replace_all(
        dir,
        &original,
        timeout,
        probe_tls.as_ref(),
        password.as_deref(),
        max_concurrent_shards,
        &mut progress,
    );
    stop.store(true, Ordering::Release);
    let mut shards = Vec::new();
    for (w, h) in writers {
        let _ = h.join();
        let restarted = result
            .as_ref()
            .map(|r| r.get(&w.shard).cloned().unwrap_or_default())
            .unwrap_or_default();
        let (writes, longest, longest_at) = {
            let s = w.state.lock().expect("writer state");
            (s.acked, s.longest, s.longest_at)
        };
        let lost = w.check(dir, probe_tls.as_ref(), password.as_deref())?;
        shards.push(ShardReport {
            shard: w.shard,
            restarted,
            writes,
            lost,
            longest_pause: longest,
            longest_pause_at: longest_at,
        });
    }
    result?;
    Ok(RollingReport {
        shards,
        elapsed: began.elapsed(),
    })
}

fn read_topology(dir: &Path) -> Result<Topology, LocalError> {
    let path = dir.join(local::TOPOLOGY_FILE);
    let text = std::fs::read_to_string(&path).map_err(|source| LocalError::Io {
        path: path.clone(),
        source,
    })?;
    Topology::parse(&text).map_err(|e| LocalError::Invalid(format!("{}: {e}", path.display())))
}

/// A hash tag whose slot the shard owns, for its writer's keys.
fn tag_of(t: &Topology, shard: usize) -> String {
    let owns = |slot: u16| t.shards[shard].slots.iter().any(|r| r.contains(slot));
    (0u32..)
        .map(|i| format!("{{rolling-{i}}}"))
        .find(|tag| owns(key_slot(tag.as_bytes())))
        .expect("every shard owns a slot")
}

/// Replaces every node by [`rollout::plan`]; returns who was restarted per shard.
fn replace_all(
    dir: &Path,
    original: &HashMap<String, Option<i32>>,
    timeout: Duration,
    tls: Option<&Arc<rustls::ClientConfig>>,
    password: Option<&str>,
    max_concurrent_shards: usize,
    progress: &mut impl FnMut(&str),
) -> Result<HashMap<usize, Vec<String>>, LocalError> {
    let mut restarted: HashMap<usize, Vec<String>> = HashMap::new();
    // Nodes sent SIGTERM (their pid then), and how long each wait lasted.
    let mut signalled: HashMap<String, i32> = HashMap::new();
    let mut waits = rollout::Waits::default();
    loop {
        let Ok(t) = read_topology(dir) else {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        };
        let shards = rollout::observe(&t, |n, primary| {
            let pid = local::node_pid(dir, &n.name);
            let updated = pid.is_some() && original.get(&n.name).is_none_or(|&was| pid != was);
            let target = Target {
                host: "127.0.0.1",
                port: n.port,
                tls,
            };
            let health =
                pid.and_then(|_| probe::health(target, password.map(|pw| ("default", pw))));
            let serving = health.is_some_and(|h| {
                if primary {
                    h.primary && !h.held
                } else {
                    !h.primary && h.synced
                }
            });
            // Stopping, not yet back: it will be updated, and is not ready
            // until then.
            let stopping = signalled
                .get(&n.name)
                .is_some_and(|&p| pid.is_none() || Some(p) == pid);
            Member {
                name: n.name.clone(),
                primary,
                updated: updated || stopping,
                ready: serving && !stopping,
            }
        });
        let plan = rollout::plan(&shards, max_concurrent_shards);
        if plan.done() {
            return Ok(restarted);
        }
        for (shard, name, waited) in waits.update(&plan, Instant::now()) {
            if waited > timeout {
                return Err(LocalError::Invalid(format!(
                    "shard {shard}: {name} did not serve again (ready and synced) within {timeout:?}; the rolling restart stopped there"
                )));
            }
        }
        for step in plan.replacements() {
            let Step::Replace {
                shard,
                name,
                primary,
                loses_data,
            } = step
            else {
                continue;
            };
            let Some(pid) = local::node_pid(dir, name) else {
                continue;
            };
            let role = rollout::describe(*primary, *loses_data);
            progress(&format!("shard {shard}: restarting {name} ({role})"));
            local::terminate(pid);
            signalled.insert(name.clone(), pid);
            restarted.entry(*shard).or_default().push(name.clone());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One shard's writer: SETs `{tag}:i` to the shard's primary as fast as it
/// answers, following MOVED and TRYAGAIN.
struct Writer {
    shard: usize,
    tag: String,
    state: Mutex<WriterState>,
}

#[derive(Default)]
struct WriterState {
    /// Keys `{tag}:0..acked` were answered OK (with their index as value).
    acked: u64,
    longest: Duration,
    longest_at: Duration,
}

/// A reply or connection problem: reconnect.
struct Broken;

impl Writer {
    fn new(shard: usize, tag: String) -> Writer {
        Writer {
            shard,
            tag,
            state: Mutex::new(WriterState::default()),
        }
    }

    fn primary_port(dir: &Path, shard: usize) -> Option<u16> {
        let t = read_topology(dir).ok()?;
        Some(t.shards.get(shard)?.primary.port)
    }

    fn run(
        &self,
        began: Instant,
        dir: &Path,
        tls: Option<&Arc<rustls::ClientConfig>>,
        password: Option<&str>,
        stop: &AtomicBool,
    ) {
        let mut conn: Option<Conn> = None;
        let mut last_ok: Option<Instant> = None;
        let mut i: u64 = 0;
        while !stop.load(Ordering::Acquire) {
            let c = match conn.as_mut() {
                Some(c) => c,
                None => {
                    let port = Self::primary_port(dir, self.shard);
                    match port.and_then(|p| Conn::open(p, tls, password)) {
                        Some(c) => conn.insert(c),
                        None => {
                            std::thread::sleep(Duration::from_millis(5));
                            continue;
                        }
                    }
                }
            };
            let key = format!("{}:{i}", self.tag);
            match c.call(&[b"SET", key.as_bytes(), i.to_string().as_bytes()]) {
                Ok(Frame::Simple(s)) if s == "OK" => {
                    let now = Instant::now();
                    let mut st = self.state.lock().expect("writer state");
                    if let Some(prev) = last_ok.filter(|&p| now - p > st.longest) {
                        st.longest = now - prev;
                        st.longest_at = now - began;
                    }
                    last_ok = Some(now);
                    i += 1;
                    st.acked = i;
                }
                Ok(Frame::Error(e)) if e.starts_with("MOVED") => {
                    let port = e.rsplit(':').next().and_then(|p| p.parse().ok());
                    conn = port.and_then(|p| Conn::open(p, tls, password));
                }
                // TRYAGAIN, LOADING, CLUSTERDOWN: the same key again shortly.
                Ok(_) => std::thread::sleep(Duration::from_millis(1)),
                Err(Broken) => {
                    conn = None;
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
        }
    }

    /// Reads every acknowledged key back from the shard's primary; returns
    /// how many are missing or different, then deletes them.
    fn check(
        &self,
        dir: &Path,
        tls: Option<&Arc<rustls::ClientConfig>>,
        password: Option<&str>,
    ) -> Result<u64, LocalError> {
        let acked = self.state.lock().expect("writer state").acked;
        let unreadable = || {
            LocalError::Invalid(format!(
                "shard {}: could not read its writer's keys back",
                self.shard
            ))
        };
        let port = Self::primary_port(dir, self.shard).ok_or_else(unreadable)?;
        let mut c = Conn::open(port, tls, password).ok_or_else(unreadable)?;
        let mut lost = 0;
        let mut from = 0;
        while from < acked {
            let to = (from + 500).min(acked);
            let keys: Vec<String> = (from..to).map(|i| format!("{}:{i}", self.tag)).collect();
            let mut args: Vec<&[u8]> = vec![b"MGET"];
            args.extend(keys.iter().map(|k| k.as_bytes()));
            let Ok(Frame::Array(values)) = c.call(&args) else {
                return Err(unreadable());
            };
            lost += (from..to)
                .zip(values)
                .filter(|(i, v)| v.as_bytes() != Some(i.to_string().as_bytes()))
                .count() as u64;
            args[0] = b"UNLINK";
            let _ = c.call(&args);
            from = to;
        }
        Ok(lost)
    }
}

/// A blocking client connection, for the writers.
struct Conn {
    stream: BlockingStream,
    buf: Vec<u8>,
}

/// Replies larger than this are refused (an MGET of 500 small values is far
/// below it).
const MAX_REPLY: usize = 1 << 20;

impl Conn {
    fn open(
        port: u16,
        tls: Option<&Arc<rustls::ClientConfig>>,
        password: Option<&str>,
    ) -> Option<Conn> {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let tcp = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok()?;
        tcp.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
        tcp.set_write_timeout(Some(Duration::from_secs(3))).ok()?;
        tcp.set_nodelay(true).ok()?;
        let stream = BlockingStream::new(tcp, "127.0.0.1", tls).ok()?;
        let mut c = Conn {
            stream,
            buf: Vec::new(),
        };
        if let Some(pw) = password {
            match c.call(&[b"AUTH", pw.as_bytes()]) {
                Ok(Frame::Simple(_)) => {}
                _ => return None,
            }
        }
        Some(c)
    }

    fn call(&mut self, args: &[&[u8]]) -> Result<Frame, Broken> {
        let mut req = Vec::new();
        Frame::encode_command(args, &mut req);
        self.stream.write_all(&req).map_err(|_| Broken)?;
        self.stream.flush().map_err(|_| Broken)?;
        self.buf.clear();
        let mut chunk = [0u8; 16 * 1024];
        loop {
            match Frame::parse(&self.buf) {
                Ok(Some((f, _))) => return Ok(f),
                Ok(None) if self.buf.len() < MAX_REPLY => {}
                _ => return Err(Broken),
            }
            let n = self.stream.read(&mut chunk).map_err(|_| Broken)?;
            if n == 0 {
                return Err(Broken);
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}
