//! `shoal-node local-cluster`: a whole cluster of separate node processes on
//! 127.0.0.1, for laptops and tests. It writes the topology file the nodes
//! watch and one pid file per node, starts the nodes, and returns once every
//! slot is served; `--stop` stops them.
//!
//! Ports, for node `i` (primaries first, shard by shard, then replicas):
//! client `base + i`, forwarding `base + 1000 + i`, admin `base + 2000 + i`.

use super::probe::Target;
pub use super::rolling::{rolling_restart, RollingReport, ShardReport};
use super::topology::{NodeAddr, Topology};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const FORWARD_OFFSET: u16 = 1000;
pub const ADMIN_OFFSET: u16 = 2000;
/// The topology file's name in the cluster directory.
pub const TOPOLOGY_FILE: &str = "topology.yaml";

#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error("{0}")]
    Invalid(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("a cluster is already running in {0} (pid {1}); stop it with --stop")]
    Running(PathBuf, i32),
    #[error("node {name} exited during startup; its log is {log}")]
    Died { name: String, log: PathBuf },
    #[error("the cluster did not serve every slot within {0:?}; logs are in {1}")]
    Timeout(Duration, PathBuf),
    #[error("TLS: {0}")]
    Tls(#[from] crate::tls::TlsError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> LocalError + '_ {
    move |source| LocalError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// One node of a local cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalNode {
    pub name: String,
    pub port: u16,
    pub forward_port: u16,
    pub admin_port: u16,
}

/// TLS for a whole local cluster: every node serves TLS only, on its client
/// and forwarding ports, with one certificate (which must name 127.0.0.1);
/// replication, forwarding and the probes of `local-cluster` and its supervisor
/// use TLS too, presenting that certificate, so `tls-auth-clients yes` (the
/// nodes' default) works.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalTls {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    pub ca_cert_file: PathBuf,
}

impl LocalTls {
    /// The files as given on the command line, made absolute: nodes and the
    /// supervisor run from another directory.
    pub fn new(cert: &Path, key: &Path, ca: &Path) -> Result<LocalTls, LocalError> {
        let abs = |p: &Path| std::fs::canonicalize(p).map_err(io(p));
        Ok(LocalTls {
            cert_file: abs(cert)?,
            key_file: abs(key)?,
            ca_cert_file: abs(ca)?,
        })
    }

    /// The file options, for a node or for the supervisor's command line.
    pub fn file_args(&self) -> Vec<OsString> {
        vec![
            "--tls-cert-file".into(),
            self.cert_file.clone().into(),
            "--tls-key-file".into(),
            self.key_file.clone().into(),
            "--tls-ca-cert-file".into(),
            self.ca_cert_file.clone().into(),
        ]
    }

    /// The client configuration the probes use.
    pub fn probe_config(&self) -> Result<Arc<rustls::ClientConfig>, LocalError> {
        let read = |p: &Path| std::fs::read(p).map_err(io(p));
        let (ca, cert, key) = (
            read(&self.ca_cert_file)?,
            read(&self.cert_file)?,
            read(&self.key_file)?,
        );
        Ok(crate::tls::client_config(
            &ca,
            &self.ca_cert_file,
            Some((&cert, &key)),
        )?)
    }
}

/// The nodes and topology of a local cluster: pure, so the layout is tested
/// without starting anything.
pub fn plan(
    shards: usize,
    replicas: usize,
    base_port: u16,
) -> Result<(Topology, Vec<LocalNode>), LocalError> {
    if shards == 0 || shards > 1000 {
        return Err(LocalError::Invalid(
            "--shards must be between 1 and 1000".into(),
        ));
    }
    if replicas > 10 {
        return Err(LocalError::Invalid(
            "--replicas must be between 0 and 10".into(),
        ));
    }
    let count = shards * (replicas + 1);
    if count > usize::from(FORWARD_OFFSET) {
        return Err(LocalError::Invalid(format!(
            "{count} nodes do not fit: at most {FORWARD_OFFSET}"
        )));
    }
    let last = u32::from(base_port) + u32::from(ADMIN_OFFSET) + count as u32 - 1;
    if base_port < 1024 || last > 65535 {
        return Err(LocalError::Invalid(format!(
            "--base-port {base_port} puts ports outside 1024-65535 (admin ports reach {last})"
        )));
    }
    let index = |s: usize, r: usize| {
        if r == 0 {
            s
        } else {
            shards + s * replicas + (r - 1)
        }
    };
    let node = |i: usize| {
        let port = base_port + i as u16;
        LocalNode {
            name: format!("node-{port}"),
            port,
            forward_port: port + FORWARD_OFFSET,
            admin_port: port + ADMIN_OFFSET,
        }
    };
    let topology = Topology::even(1, shards, replicas, |s, r| {
        let n = node(index(s, r));
        NodeAddr {
            name: n.name,
            host: "127.0.0.1".into(),
            port: n.port,
        }
    });
    Ok((topology, (0..count).map(node).collect()))
}

/// The node a topology entry stands for (ports follow the layout above).
pub fn local_node(n: &NodeAddr) -> LocalNode {
    LocalNode {
        name: n.name.clone(),
        port: n.port,
        forward_port: n.port + FORWARD_OFFSET,
        admin_port: n.port + ADMIN_OFFSET,
    }
}

/// Every node a topology names, as local nodes.
pub fn nodes_of(t: &Topology) -> Vec<LocalNode> {
    t.nodes().map(|(_, n, _)| local_node(n)).collect()
}

/// Runs `f` holding the cluster directory's topology lock: the supervisor
/// (failovers) and `--reshard` both rewrite the document, each from what it
/// just read.
pub fn with_topology_lock<R>(dir: &Path, f: impl FnOnce() -> R) -> Result<R, LocalError> {
    let path = dir.join("topology.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io(&path))?;
    file.lock().map_err(io(&path))?;
    let r = f();
    let _ = file.unlock();
    Ok(r)
}

/// The options every node of the cluster in `dir` was started with.
const OPTIONS_FILE: &str = "node-options";

pub(crate) fn read_options(dir: &Path) -> Result<Vec<String>, LocalError> {
    let path = dir.join(OPTIONS_FILE);
    let text = std::fs::read_to_string(&path).map_err(io(&path))?;
    Ok(text
        .split('\0')
        .filter(|a| !a.is_empty())
        .map(str::to_string)
        .collect())
}

/// Writes `text` to `path` through a temporary file and a rename, so a watcher
/// never reads half a document.
pub fn write_atomically(path: &Path, text: &str) -> Result<(), LocalError> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))
}

fn pid_file(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.pid"))
}

/// Pids recorded in `dir` whose process is still one of its nodes.
fn running(dir: &Path) -> Vec<(PathBuf, i32)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "pid"))
        .filter_map(|p| {
            let pid = std::fs::read_to_string(&p).ok()?.trim().parse().ok()?;
            Some((p, pid))
        })
        .filter(|&(_, pid)| is_node_of(pid, dir))
        .collect()
}

/// Whether `pid` is alive and is a node (or the supervisor) of the cluster in
/// `dir`: a recycled pid, or another cluster's process, is never signalled.
fn is_node_of(pid: i32, dir: &Path) -> bool {
    let topology = dir.join(TOPOLOGY_FILE);
    let want = topology.as_os_str().as_encoded_bytes();
    let want_dir = dir.as_os_str().as_encoded_bytes();
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| {
            let args: Vec<&[u8]> = c.split(|&b| b == 0).collect();
            let supervisor = args.contains(&&b"--supervise"[..])
                && args
                    .windows(2)
                    .any(|w| w[0] == b"--dir" && w[1] == want_dir);
            supervisor
                || args
                    .windows(2)
                    .any(|w| w[0] == b"--cluster-topology-file" && w[1] == want)
        })
        .unwrap_or(false)
}

/// Whether the node `name` of the cluster in `dir` is running.
pub fn node_alive(dir: &Path, name: &str) -> bool {
    node_pid(dir, name).is_some()
}

/// The pid of node `name` of the cluster in `dir`, if it is running.
pub fn node_pid(dir: &Path, name: &str) -> Option<i32> {
    std::fs::read_to_string(pid_file(dir, name))
        .ok()
        .and_then(|p| p.trim().parse().ok())
        .filter(|&pid| is_node_of(pid, dir))
}

/// Asks a node process to stop (SIGTERM: a primary hands over first).
pub(crate) fn terminate(pid: i32) {
    use nix::sys::signal::{kill, Signal};
    let _ = kill(nix::unistd::Pid::from_raw(pid), Signal::SIGTERM);
}

/// The supervisor's name in the cluster directory (pid and log files).
pub const SUPERVISOR: &str = "supervisor";

/// How a local cluster is started.
#[derive(Clone, Debug)]
pub struct Options {
    pub shards: usize,
    pub replicas: usize,
    pub base_port: u16,
    /// Options passed to every node.
    pub extra: Vec<String>,
    pub timeout: Duration,
    /// Start the supervisor (failover and restarts).
    pub supervise: bool,
    /// A primary unreachable this long is replaced.
    pub down_after: Duration,
    pub tls: Option<LocalTls>,
}

/// Starts a local cluster in `dir` and waits until it serves every slot, then
/// starts its supervisor.
pub fn start(o: &Options, dir: &Path) -> Result<Vec<LocalNode>, LocalError> {
    let (shards, replicas, base_port, extra, timeout) =
        (o.shards, o.replicas, o.base_port, &o.extra[..], o.timeout);
    let (topology, nodes) = plan(shards, replicas, base_port)?;
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let dir = dir.canonicalize().map_err(io(dir))?;
    if let Some((_, pid)) = running(&dir).first() {
        return Err(LocalError::Running(dir, *pid));
    }
    let topology_path = dir.join(TOPOLOGY_FILE);
    write_atomically(&topology_path, &topology.to_yaml())?;
    write_atomically(&dir.join(OPTIONS_FILE), &extra.join("\0"))?;
    let exe = std::env::current_exe().map_err(io(Path::new("current executable")))?;
    let probe_tls = o.tls.as_ref().map(LocalTls::probe_config).transpose()?;
    let started = spawn_all(&exe, &nodes, &dir, &topology_path, extra, o.tls.as_ref());
    // Nothing half-started stays behind.
    let mut result =
        started.and_then(|children| wait_serving(children, &dir, timeout, probe_tls.as_ref()));
    if result.is_ok() && o.supervise {
        result = spawn_supervisor(&exe, o, &dir);
    }
    if result.is_err() {
        let _ = stop(&dir);
    }
    result.map(|()| nodes)
}

fn spawn_supervisor(exe: &Path, o: &Options, dir: &Path) -> Result<(), LocalError> {
    let log = dir.join(format!("{SUPERVISOR}.log"));
    let out = std::fs::File::create(&log).map_err(io(&log))?;
    let err = out.try_clone().map_err(io(&log))?;
    let mut cmd = Command::new(exe);
    cmd.args(["local-cluster", "--supervise", "--dir"])
        .arg(dir)
        .args(["--shards", &o.shards.to_string()])
        .args(["--replicas", &o.replicas.to_string()])
        .args(["--base-port", &o.base_port.to_string()])
        .args(["--down-after-ms", &o.down_after.as_millis().to_string()])
        .args(o.tls.iter().flat_map(LocalTls::file_args))
        .arg("--")
        .args(&o.extra)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let child = cmd.spawn().map_err(io(exe))?;
    let pid_path = pid_file(dir, SUPERVISOR);
    std::fs::write(&pid_path, format!("{}\n", child.id())).map_err(io(&pid_path))
}

type Started = Vec<(LocalNode, std::process::Child, PathBuf)>;

fn spawn_all(
    exe: &Path,
    nodes: &[LocalNode],
    dir: &Path,
    topology_path: &Path,
    extra: &[String],
    tls: Option<&LocalTls>,
) -> Result<Started, LocalError> {
    let mut children = Vec::new();
    for n in nodes {
        let (child, log) = spawn_node(exe, n, dir, topology_path, extra, tls, false)?;
        children.push((n.clone(), child, log));
    }
    Ok(children)
}

/// Starts one node (`append`: keep its log, for a restart) and records its pid.
pub fn spawn_node(
    exe: &Path,
    n: &LocalNode,
    dir: &Path,
    topology_path: &Path,
    extra: &[String],
    tls: Option<&LocalTls>,
    append: bool,
) -> Result<(std::process::Child, PathBuf), LocalError> {
    {
        let log = dir.join(format!("{}.log", n.name));
        let out = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .append(append)
            .truncate(!append)
            .open(&log)
            .map_err(io(&log))?;
        let err = out.try_clone().map_err(io(&log))?;
        let mut cmd = Command::new(exe);
        cmd.args(["--bind", "127.0.0.1", "--admin-bind", "127.0.0.1"]);
        match tls {
            None => cmd.args(["--port", &n.port.to_string()]),
            // Plaintext off: the forwarding port then speaks TLS as well.
            Some(tls) => cmd
                .args(["--port", "0", "--tls-port", &n.port.to_string()])
                .args(tls.file_args())
                .args(["--tls-replication", "yes", "--tls-cluster", "yes"]),
        };
        cmd.args(["--forward-port", &n.forward_port.to_string()])
            .args(["--admin-port", &n.admin_port.to_string()])
            .args(["--cluster-node-name", &n.name])
            .arg("--cluster-topology-file")
            .arg(topology_path);
        // One snapshot file per node, should the nodes share a `--dir`.
        if !extra.iter().any(|a| a.starts_with("--dbfilename")) {
            cmd.args(["--dbfilename", &format!("{}.snap", n.name)]);
        }
        cmd.args(extra).stdin(Stdio::null()).stdout(out).stderr(err);
        // Own process group: the nodes outlive this command and a Ctrl-C in its
        // terminal.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd.spawn().map_err(io(exe))?;
        let pid_path = pid_file(dir, &n.name);
        std::fs::write(&pid_path, format!("{}\n", child.id())).map_err(io(&pid_path))?;
        Ok((child, log))
    }
}

fn wait_serving(
    mut children: Started,
    dir: &Path,
    timeout: Duration,
    tls: Option<&Arc<rustls::ClientConfig>>,
) -> Result<(), LocalError> {
    let deadline = Instant::now() + timeout;
    for (n, child, log) in &mut children {
        loop {
            if let Ok(Some(_)) = child.try_wait() {
                return Err(LocalError::Died {
                    name: n.name.clone(),
                    log: log.clone(),
                });
            }
            let target = Target {
                host: "127.0.0.1",
                port: n.port,
                tls,
            };
            if cluster_ok(target) && !held(target) {
                break;
            }
            if Instant::now() > deadline {
                return Err(LocalError::Timeout(timeout, dir.to_path_buf()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    Ok(())
}

/// Whether the node reports `cluster_state:ok`.
fn cluster_ok(target: Target<'_>) -> bool {
    super::probe::query(target, b"*2\r\n$7\r\nCLUSTER\r\n$4\r\nINFO\r\n", |reply| {
        if reply.windows(18).any(|w| w == b"cluster_state:ok\r\n") {
            Some(true)
        } else {
            reply.ends_with(b"\r\n\r\n").then_some(false)
        }
    })
    .unwrap_or(false)
}

/// Whether the node holds its keys back, waiting for its replicas
/// (a primary that started empty: see `repl::Hold`); they start together
/// here, so the wait is short.
fn held(target: Target<'_>) -> bool {
    super::probe::health(target, None).is_none_or(|h| h.held)
}

/// How long the nodes of shards a resize removed keep answering (MOVED) before
/// they stop.
const LEAVE_GRACE: Duration = Duration::from_secs(2);

/// What `--reshard` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resharded {
    pub shards: usize,
    pub slots_moved: usize,
    /// Keys and changes the targets copied in (their `shoal_imported_keys`).
    pub keys_copied: u64,
    pub elapsed: Duration,
}

/// Resizes the running cluster in `dir` to `shards` shards by live slot
/// migration (see `shoal_core::cluster::reshard`), continuing a resize that
/// was interrupted. `progress` hears about each step. `max_steps` stops after
/// publishing that many documents (tests interrupt a resize with it).
pub fn reshard(
    dir: &Path,
    shards: usize,
    timeout: Duration,
    tls: Option<&LocalTls>,
    max_steps: Option<usize>,
    mut progress: impl FnMut(&str),
) -> Result<Resharded, LocalError> {
    use super::reshard::{self as plan, Step};
    let began = Instant::now();
    let dir = &dir.canonicalize().map_err(io(dir))?;
    let topology_path = dir.join(TOPOLOGY_FILE);
    let extra = read_options(dir)?;
    let exe = std::env::current_exe().map_err(io(Path::new("current executable")))?;
    let probe_tls = tls.map(LocalTls::probe_config).transpose()?;
    let target = |port: u16| Target {
        host: "127.0.0.1",
        port,
        tls: probe_tls.as_ref(),
    };
    let read = || -> Result<Topology, LocalError> {
        let text = std::fs::read_to_string(&topology_path).map_err(io(&topology_path))?;
        Topology::parse(&text).map_err(|e| LocalError::Invalid(e.to_string()))
    };
    // Publishes `next` if the document is still `seen` (the supervisor may
    // have published a failover meanwhile); false: look again.
    let published = std::cell::Cell::new(0usize);
    let publish = |seen: &Topology, next: &Topology| -> Result<bool, LocalError> {
        with_topology_lock(dir, || {
            if read()? != *seen {
                return Ok(false);
            }
            write_atomically(&topology_path, &next.to_yaml())?;
            published.set(published.get() + 1);
            Ok(true)
        })?
    };
    let mut report = Resharded {
        shards,
        slots_moved: 0,
        keys_copied: 0,
        elapsed: Duration::ZERO,
    };
    let password = extra
        .windows(2)
        .find(|w| w[0] == "--requirepass")
        .map(|w| w[1].clone());
    let imports = |port: u16| {
        super::probe::imports(target(port), password.as_deref().map(|pw| ("default", pw)))
    };
    // Waits until `ready` holds for every target shard's primary.
    let wait_targets = |t: &Topology,
                        moves: &[plan::Move],
                        what: &str,
                        ready: &dyn Fn(&super::probe::Imports, usize) -> bool|
     -> Result<(), LocalError> {
        let deadline = Instant::now() + timeout;
        loop {
            let all = t.shards.iter().enumerate().all(|(i, s)| {
                let expected = moves.iter().filter(|m| m.to == i).count();
                expected == 0 || imports(s.primary.port).is_some_and(|n| ready(&n, expected))
            });
            if all {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(LocalError::Invalid(format!(
                    "the targets did not finish {what} within {timeout:?}; logs are in {}",
                    dir.display()
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    loop {
        if max_steps.is_some_and(|m| published.get() >= m) {
            progress(&format!(
                "stopped after {} step(s), as asked",
                published.get()
            ));
            break;
        }
        let t = read()?;
        let step = plan::next_step(&t, shards).map_err(|e| LocalError::Invalid(e.to_string()))?;
        match step {
            Step::Done => break,
            Step::AddShards(n) => {
                let replicas = t.shards[0].replicas.len();
                let mut port = t.nodes().map(|(_, n, _)| n.port).max().unwrap_or(0) + 1;
                let mut groups = Vec::new();
                let mut started = Vec::new();
                for _ in 0..n {
                    let mut group = Vec::new();
                    for _ in 0..=replicas {
                        let node = NodeAddr {
                            name: format!("node-{port}"),
                            host: "127.0.0.1".into(),
                            port,
                        };
                        let local = local_node(&node);
                        let (child, log) =
                            spawn_node(&exe, &local, dir, &topology_path, &extra, tls, false)?;
                        started.push((local, child, log));
                        group.push(node);
                        port += 1;
                    }
                    groups.push(group);
                }
                let next = plan::add_shards(&t, groups);
                if !publish(&t, &next)? {
                    continue;
                }
                progress(&format!(
                    "epoch {}: {n} new shard(s) joined with no slots ({} nodes)",
                    next.epoch,
                    started.len()
                ));
                let deadline = Instant::now() + timeout;
                for (node, child, log) in &mut started {
                    while !cluster_ok(target(node.port)) || held(target(node.port)) {
                        // A node that cannot start (its port taken…) is named.
                        if let Ok(Some(_)) = child.try_wait() {
                            return Err(LocalError::Died {
                                name: node.name.clone(),
                                log: log.clone(),
                            });
                        }
                        if Instant::now() > deadline {
                            return Err(LocalError::Timeout(timeout, dir.to_path_buf()));
                        }
                        std::thread::sleep(Duration::from_millis(50));
                    }
                }
            }
            Step::Begin(moves) => {
                let next = plan::begin(&t, &moves);
                if !publish(&t, &next)? {
                    continue;
                }
                let slots: usize = moves.iter().map(|m| m.slots.len()).sum();
                report.slots_moved += slots;
                progress(&format!(
                    "epoch {}: copying {slots} slots in {} range(s)",
                    next.epoch,
                    moves.len()
                ));
            }
            Step::Copying(moves) => {
                let copied = wait_targets(&t, &moves, "copying", &|i, n| i.copied(n));
                if let Err(e) = copied {
                    let back = plan::abort(&t);
                    publish(&t, &back)?;
                    progress(&format!("epoch {}: aborted, no slot moved", back.epoch));
                    return Err(e);
                }
                let next = plan::cutover(&t);
                if !publish(&t, &next)? {
                    continue;
                }
                progress(&format!("epoch {}: cutover", next.epoch));
            }
            Step::Importing(moves) => {
                wait_targets(&t, &moves, "importing", &|i, n| i.imported(n))?;
                report.keys_copied += t
                    .shards
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| moves.iter().any(|m| m.to == *i))
                    .filter_map(|(_, s)| imports(s.primary.port))
                    .map(|i| i.keys)
                    .sum::<u64>();
                let next = plan::finish(&t);
                if !publish(&t, &next)? {
                    continue;
                }
                progress(&format!("epoch {}: slots handed over", next.epoch));
            }
            Step::RemoveShards => {
                let Some(next) = plan::remove_empty(&t, shards) else {
                    return Err(LocalError::Invalid(
                        "the shards to remove still own slots".into(),
                    ));
                };
                if !publish(&t, &next)? {
                    continue;
                }
                let leaving: Vec<NodeAddr> = t.shards[shards..]
                    .iter()
                    .flat_map(|s| std::iter::once(s.primary.clone()).chain(s.replicas.clone()))
                    .collect();
                // Nodes the document no longer names answer MOVED to the new
                // owners: clients that still send them commands learn where
                // the slots went before the nodes stop.
                std::thread::sleep(LEAVE_GRACE);
                stop_nodes(dir, &leaving);
                progress(&format!(
                    "epoch {}: {} shard(s) removed, {} nodes stopped",
                    next.epoch,
                    t.shards.len() - shards,
                    leaving.len()
                ));
            }
        }
    }
    report.elapsed = began.elapsed();
    Ok(report)
}

/// Stops the named nodes of the cluster in `dir` and removes their pid files.
fn stop_nodes(dir: &Path, nodes: &[NodeAddr]) {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    let pids: Vec<(PathBuf, i32)> = nodes
        .iter()
        .map(|n| pid_file(dir, &n.name))
        .filter_map(|p| {
            let pid = std::fs::read_to_string(&p).ok()?.trim().parse().ok()?;
            Some((p, pid))
        })
        .filter(|&(_, pid)| is_node_of(pid, dir))
        .collect();
    for &(_, pid) in &pids {
        terminate(pid);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while pids.iter().any(|&(_, pid)| is_node_of(pid, dir)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    for (path, pid) in pids {
        if is_node_of(pid, dir) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        let _ = std::fs::remove_file(path);
    }
}

/// Stops every node recorded in `dir` (SIGTERM, then SIGKILL after 10 s) and
/// removes their pid files. Returns how many were running.
pub fn stop(dir: &Path) -> Result<usize, LocalError> {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    if !dir.is_dir() {
        return Err(LocalError::Invalid(format!(
            "{} is not a cluster directory",
            dir.display()
        )));
    }
    let dir = &dir.canonicalize().map_err(io(dir))?;
    // The supervisor first, so it restarts nothing that is being stopped.
    if let Some(pid) = std::fs::read_to_string(pid_file(dir, SUPERVISOR))
        .ok()
        .and_then(|p| p.trim().parse::<i32>().ok())
        .filter(|&pid| is_node_of(pid, dir))
    {
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        let deadline = Instant::now() + Duration::from_secs(5);
        while is_node_of(pid, dir) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let nodes = running(dir);
    for &(_, pid) in &nodes {
        terminate(pid);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while nodes.iter().any(|&(_, pid)| is_node_of(pid, dir)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    for &(_, pid) in &nodes {
        if is_node_of(pid, dir) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
    // Every pid file goes, stale ones too.
    if let Ok(entries) = std::fs::read_dir(dir) {
        for p in entries.filter_map(Result::ok).map(|e| e.path()) {
            if p.extension().is_some_and(|x| x == "pid") {
                let _ = std::fs::remove_file(p);
            }
        }
    }
    Ok(nodes.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_and_names_follow_the_documented_layout() {
        let (t, nodes) = plan(3, 1, 7000).unwrap();
        assert_eq!(nodes.len(), 6);
        assert_eq!(
            nodes[4],
            LocalNode {
                name: "node-7004".into(),
                port: 7004,
                forward_port: 8004,
                admin_port: 9004,
            }
        );
        assert_eq!(t.shards[0].primary.port, 7000);
        assert_eq!(t.shards[2].primary.port, 7002);
        assert_eq!(t.shards[0].replicas[0].port, 7003);
        assert_eq!(t.shards[2].replicas[0].port, 7005);
        t.check().unwrap();
        assert!(plan(0, 0, 7000).is_err());
        assert!(plan(3, 0, 64000).is_err());
        assert!(plan(3, 0, 80).is_err());
        assert!(plan(3, usize::MAX, 7000).is_err());
    }
}
