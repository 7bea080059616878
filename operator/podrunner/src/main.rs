//! shoal-podrunner: a stand-in for a kubelet, for tests only (the role kwok
//! plays elsewhere, but running real processes). It registers a Node, keeps
//! its Lease and status fresh, and runs every pod bound to it as a local
//! process on an address of its own (10.244.X.Y, routed locally):
//!
//! - the container's args and env (`$(VAR)` expansion, fieldRef, Secret and
//!   ConfigMap references), in a private mount namespace (`unshare`) where its
//!   ConfigMap, Secret, projected service-account token, downward API and
//!   emptyDir volumes sit at their mount paths, kept in sync with the API
//!   objects every two seconds, and a hosts file the runner maintains sits over
//!   `/etc/hosts`, so `<pod>.<subdomain>.<ns>.svc` resolves as cluster DNS would;
//! - with no network namespace, the process is told its address through the
//!   variables named by `--address-env` (e.g. `SHOAL_BIND={ip}`);
//! - its readiness and liveness probes (HTTP or TCP), restarts when it exits,
//!   pod status (IP, conditions, container state) written back to the API;
//! - on deletion the preStop sleep, SIGTERM, SIGKILL after the grace period,
//!   then the pod's final removal, as the kubelet does.

mod spec;

use anyhow::Context as _;
use clap::Parser;
use futures::StreamExt;
use k8s_openapi::api::authentication::v1::{BoundObjectReference, TokenRequest, TokenRequestSpec};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Node, Pod, Secret, ServiceAccount, Volume};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::runtime::watcher;
use kube::{Api, Client};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::process::{Child, Command};
use tokio::sync::watch;
use tracing::{info, warn};

#[derive(Parser, Debug)]
#[command(about = "Runs the pods bound to one Node as local processes (tests only)")]
struct Args {
    /// The Node to register and serve.
    #[arg(long, env = "PODRUNNER_NODE_NAME", default_value = "shoal-test-node")]
    node_name: String,
    /// Where pod directories, logs and the hosts file go.
    #[arg(long, env = "PODRUNNER_DIR")]
    dir: PathBuf,
    /// `PATTERN=PATH`: run PATH for any image whose reference contains PATTERN.
    #[arg(long = "image", value_parser = parse_pair)]
    images: Vec<(String, PathBuf)>,
    /// `NAME=TEMPLATE`: set NAME in every container, `{ip}` replaced by the
    /// pod's address (the stand-in for a network namespace).
    #[arg(long = "address-env", value_parser = parse_pair)]
    address_env: Vec<(String, PathBuf)>,
    /// The /16 pods get addresses in (`P.Q`), which the machine must route
    /// locally: scripts/e2e-kube runs everything in a network namespace of its
    /// own with `ip route add local 10.244.0.0/16 dev lo`. (The API server
    /// refuses loopback addresses in EndpointSlices, so 127.0.0.0/8 cannot be it.)
    #[arg(long, default_value = "10.244", value_parser = parse_prefix)]
    pod_network: [u8; 2],
    /// Pod addresses start at P.Q.BASE.1.
    #[arg(long, default_value_t = 10)]
    address_base: u8,
    /// A kubeconfig for provisioning volumes (a Node may not create
    /// PersistentVolumes): with it, PVCs of the storage class named by
    /// `--storage-class` get a directory under `--dir` as a hostPath PV.
    #[arg(long)]
    provisioner_kubeconfig: Option<PathBuf>,
    #[arg(long, default_value = "shoal-test")]
    storage_class: String,
    /// KUBERNETES_SERVICE_HOST and _PORT for pods: the API server.
    #[arg(long, default_value = "127.0.0.1")]
    api_host: String,
    #[arg(long, default_value_t = 6443)]
    api_port: u16,
}

fn parse_prefix(s: &str) -> Result<[u8; 2], String> {
    let parts: Vec<u8> = s
        .split('.')
        .map(|p| {
            p.parse()
                .map_err(|_| format!("{s:?}: want two octets, e.g. 10.244"))
        })
        .collect::<Result<_, _>>()?;
    <[u8; 2]>::try_from(parts).map_err(|_| format!("{s:?}: want two octets, e.g. 10.244"))
}

fn parse_pair(s: &str) -> Result<(String, PathBuf), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: want A=B"))?;
    Ok((k.to_string(), PathBuf::from(v)))
}

const HOST_IP: &str = "127.0.0.1";

/// A running pod in the hosts file: (order of start, ip, names).
type HostEntry = (u64, String, Vec<String>);

/// What every pod task shares.
struct Runner {
    client: Client,
    args: Args,
    addresses: Mutex<spec::Addresses>,
    /// uid → its entry: the hosts file's content.
    hosts: Mutex<BTreeMap<String, HostEntry>>,
    started: std::sync::atomic::AtomicU64,
}

impl Runner {
    fn hosts_path(&self) -> PathBuf {
        self.args.dir.join("hosts")
    }

    /// Rewrites the hosts file in place: every pod's mount namespace has it
    /// bound over `/etc/hosts`, so the inode must stay the same.
    fn write_hosts(&self) {
        // Built and written under the lock: two tasks writing at once could
        // otherwise leave the older view last, or interleave.
        let hosts = self.hosts.lock().unwrap();
        let mut entries: Vec<_> = hosts.values().cloned().collect();
        entries.sort_by_key(|(order, _, _)| std::cmp::Reverse(*order));
        let text = spec::hosts_file(
            &entries
                .into_iter()
                .map(|(_, ip, names)| (ip, names))
                .collect::<Vec<_>>(),
        );
        // In place (the inode is bound into every pod), overwriting before
        // truncating, so a reader never finds the file empty.
        let written = (|| -> std::io::Result<()> {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(self.hosts_path())?;
            f.write_all(text.as_bytes())?;
            f.set_len(text.len() as u64)
        })();
        if let Err(e) = written {
            warn!(error = %e, "cannot write the hosts file");
        }
        drop(hosts);
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,kube=warn".into()),
        )
        .init();
    let args = Args::parse();
    std::fs::create_dir_all(args.dir.join("pods")).context("create --dir")?;
    let client = Client::try_default()
        .await
        .context("a client from KUBECONFIG")?;
    let runner = Arc::new(Runner {
        client,
        addresses: Mutex::new(spec::Addresses::new(args.pod_network, args.address_base)),
        args,
        hosts: Mutex::default(),
        started: Default::default(),
    });
    runner.write_hosts();
    register(&runner).await.context("register the Node")?;
    info!(node = %runner.args.node_name, "registered");
    let heartbeat = tokio::spawn(heartbeat(runner.clone()));
    if let Some(path) = &runner.args.provisioner_kubeconfig {
        let kubeconfig =
            kube::config::Kubeconfig::read_from(path).context("--provisioner-kubeconfig")?;
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
        let client = Client::try_from(config)?;
        tokio::spawn(provision(
            client,
            runner.args.storage_class.clone(),
            runner.args.dir.join("volumes"),
        ));
    }
    let pods = tokio::spawn(watch_pods(runner.clone()));
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
        r = heartbeat => { warn!(?r, "heartbeat ended"); }
        r = pods => { warn!(?r, "pod watch ended"); }
    }
    // Children are killed on drop (kill_on_drop) as the runtime shuts down.
    Ok(())
}

fn node_status(name: &str, since: &jiff::Timestamp) -> Value {
    let now = jiff::Timestamp::now().to_string();
    let cond = |t: &str, s: &str, reason: &str| {
        json!({"type": t, "status": s, "reason": reason, "message": reason,
               "lastHeartbeatTime": now, "lastTransitionTime": since.to_string()})
    };
    let capacity =
        json!({"cpu": "32", "memory": "64Gi", "pods": "250", "ephemeral-storage": "100Gi"});
    json!({
        "capacity": capacity, "allocatable": capacity,
        "conditions": [
            cond("Ready", "True", "KubeletReady"),
            cond("MemoryPressure", "False", "KubeletHasSufficientMemory"),
            cond("DiskPressure", "False", "KubeletHasNoDiskPressure"),
            cond("PIDPressure", "False", "KubeletHasSufficientPID"),
        ],
        "addresses": [{"type": "InternalIP", "address": HOST_IP}, {"type": "Hostname", "address": name}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        "nodeInfo": {"machineID": "shoal-podrunner", "systemUUID": "shoal-podrunner", "bootID": "shoal-podrunner",
                     "kernelVersion": "", "osImage": "shoal-podrunner", "containerRuntimeVersion": "podrunner://0.1",
                     "kubeletVersion": "v1.34.4", "kubeProxyVersion": "", "operatingSystem": "linux",
                     "architecture": "amd64"},
    })
}

/// Creates the Node (a kubelet registers itself), then its status.
async fn register(r: &Runner) -> anyhow::Result<()> {
    let name = &r.args.node_name;
    let nodes: Api<Node> = Api::all(r.client.clone());
    let node: Node = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {
            "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"}},
    }))?;
    match nodes.create(&PostParams::default(), &node).await {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 409 => {}
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

/// Node status and Lease every 10 s: the node lifecycle controller marks a
/// node whose Lease lapses (40 s) NotReady and evicts its pods.
async fn heartbeat(r: Arc<Runner>) {
    let name = r.args.node_name.clone();
    let nodes: Api<Node> = Api::all(r.client.clone());
    let leases: Api<Lease> = Api::namespaced(r.client.clone(), "kube-node-lease");
    let since = jiff::Timestamp::now();
    loop {
        let status = json!({"status": node_status(&name, &since)});
        if let Err(e) = nodes
            .patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
            .await
        {
            warn!(error = %e, "node status update failed");
        }
        let lease = json!({
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": name, "namespace": "kube-node-lease"},
            "spec": {"holderIdentity": name, "leaseDurationSeconds": 40,
                     "renewTime": jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()},
        });
        // Server-side apply creates the Lease the first time and renews it after.
        let renewed = leases
            .patch(
                &name,
                &PatchParams::apply("shoal-podrunner").force(),
                &Patch::Apply(&lease),
            )
            .await;
        if let Err(e) = renewed {
            warn!(error = %e, "node lease renewal failed");
        }
        tokio::time::sleep(Duration::from_secs(10)).await;
    }
}

/// Starts a task per pod bound to this node and hands it every new version.
async fn watch_pods(r: Arc<Runner>) {
    let api: Api<Pod> = Api::all(r.client.clone());
    let config = watcher::Config::default().fields(&format!("spec.nodeName={}", r.args.node_name));
    let mut events = watcher(api, config).boxed();
    let mut tasks: HashMap<String, watch::Sender<Option<Pod>>> = HashMap::new();
    let mut listed = std::collections::HashSet::new();
    while let Some(event) = events.next().await {
        tasks.retain(|_, tx| !tx.is_closed());
        let pod = match event {
            Ok(watcher::Event::Init) => {
                listed.clear();
                continue;
            }
            Ok(watcher::Event::InitDone) => {
                // Pods gone while the watch was down.
                for (uid, tx) in &tasks {
                    if !listed.contains(uid) {
                        let _ = tx.send(None);
                    }
                }
                continue;
            }
            Ok(watcher::Event::Delete(p)) => {
                if let Some(tx) = p.metadata.uid.as_ref().and_then(|u| tasks.get(u)) {
                    let _ = tx.send(None);
                }
                continue;
            }
            Ok(watcher::Event::Apply(p)) | Ok(watcher::Event::InitApply(p)) => p,
            Err(e) => {
                warn!(error = %e, "pod watch failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let Some(uid) = pod.metadata.uid.clone() else {
            continue;
        };
        listed.insert(uid.clone());
        if let Some(tx) = tasks.get(&uid) {
            let _ = tx.send(Some(pod));
            continue;
        }
        let phase = pod.status.as_ref().and_then(|s| s.phase.clone());
        if matches!(phase.as_deref(), Some("Succeeded" | "Failed")) {
            continue;
        }
        let (tx, rx) = watch::channel(Some(pod));
        tasks.insert(uid, tx);
        tokio::spawn(run_pod(r.clone(), rx));
    }
}

/// The container's state as the pod status shows it.
#[derive(Default)]
struct State {
    ip: String,
    started_at: Option<String>,
    running: bool,
    ready: bool,
    ready_changed: Option<String>,
    restarts: i32,
    last_exit: Option<Value>,
    waiting: Option<(String, String)>,
    /// Succeeded or Failed: the container will not run again (restartPolicy).
    terminal: Option<&'static str>,
}

/// One pod, from its volumes to its final removal.
struct PodTask {
    r: Arc<Runner>,
    rx: watch::Receiver<Option<Pod>>,
    pod: Pod,
    dir: PathBuf,
    state: State,
    /// Projected token paths → when they were last requested.
    tokens: HashMap<PathBuf, tokio::time::Instant>,
    /// Volumes that live elsewhere than the pod's directory (PVCs, hostPath).
    sources: HashMap<String, PathBuf>,
}

fn now() -> String {
    jiff::Timestamp::now().to_string()
}

async fn run_pod(r: Arc<Runner>, rx: watch::Receiver<Option<Pod>>) {
    let pod = rx.borrow().clone().expect("a new task starts with its pod");
    let Some(ip) = r.addresses.lock().unwrap().take() else {
        warn!("out of pod addresses");
        return;
    };
    let (ns, name, uid) = (
        pod.metadata.namespace.clone().unwrap_or_default(),
        pod.metadata.name.clone().unwrap_or_default(),
        pod.metadata.uid.clone().unwrap_or_default(),
    );
    let dir = r.args.dir.join("pods").join(format!("{ns}_{name}_{uid}"));
    let mut task = PodTask {
        r: r.clone(),
        rx,
        pod,
        dir,
        state: State {
            ip: ip.clone(),
            ..State::default()
        },
        tokens: HashMap::new(),
        sources: HashMap::new(),
    };
    info!(pod = %format!("{ns}/{name}"), %ip, "starting");
    task.run().await;
    r.hosts.lock().unwrap().remove(&uid);
    r.write_hosts();
    r.addresses.lock().unwrap().give_back(&ip);
    info!(pod = %format!("{ns}/{name}"), "finished");
}

impl PodTask {
    fn api(&self) -> Api<Pod> {
        Api::namespaced(self.r.client.clone(), self.ns())
    }

    fn ns(&self) -> &str {
        self.pod.metadata.namespace.as_deref().unwrap_or_default()
    }

    fn name(&self) -> &str {
        self.pod.metadata.name.as_deref().unwrap_or_default()
    }

    /// True once the pod is being deleted (or gone); refreshes `self.pod`.
    fn deleting(&mut self) -> bool {
        match self.rx.borrow_and_update().clone() {
            Some(p) => {
                let d = p.metadata.deletion_timestamp.is_some();
                self.pod = p;
                d
            }
            None => true,
        }
    }

    async fn run(&mut self) {
        let container = match spec::container(&self.pod) {
            Ok(c) => c.clone(),
            Err(e) => return self.fail(&e.to_string()).await,
        };
        let image = container.image.clone().unwrap_or_default();
        let binary = match spec::binary(&self.r.args.images, &image) {
            Ok(b) => b,
            Err(e) => return self.fail(&e.to_string()).await,
        };
        // Volumes first: a missing Secret holds the pod in ContainerCreating.
        loop {
            if self.deleting() {
                return self.remove().await;
            }
            match self.write_volumes().await {
                Ok(()) => break,
                Err(e) => {
                    let msg = format!("{e:#}");
                    if self.state.waiting.as_ref().map(|w| &w.1) != Some(&msg) {
                        warn!(pod = %self.name(), error = %msg, "volumes not ready");
                        self.state.waiting = Some(("ContainerCreating".into(), msg));
                        self.report().await;
                    }
                    self.pause(Duration::from_secs(2)).await;
                }
            }
        }
        {
            let uid = self.pod.metadata.uid.clone().unwrap_or_default();
            let order = self
                .r
                .started
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.r.hosts.lock().unwrap().insert(
                uid,
                (order, self.state.ip.clone(), spec::host_names(&self.pod)),
            );
            self.r.write_hosts();
        }
        let mut backoff = Duration::from_secs(1);
        loop {
            let mut child = match self.spawn(&container, &binary).await {
                Ok(c) => c,
                Err(e) => {
                    self.state.waiting = Some(("CreateContainerError".into(), format!("{e:#}")));
                    self.report().await;
                    if self.pause(backoff).await {
                        return self.remove().await;
                    }
                    continue;
                }
            };
            self.state.running = true;
            self.state.waiting = None;
            self.state.started_at = Some(now());
            self.set_ready(container.readiness_probe.is_none());
            self.report().await;
            let started = tokio::time::Instant::now();
            let exit = self.supervise(&mut child, &container).await;
            self.state.running = false;
            self.set_ready(false);
            match exit {
                Some(code) => {
                    let terminated = json!({"terminated": {
                        "exitCode": code, "reason": if code == 0 {"Completed"} else {"Error"},
                        "startedAt": self.state.started_at, "finishedAt": now()}});
                    let policy = self
                        .pod
                        .spec
                        .as_ref()
                        .and_then(|s| s.restart_policy.clone())
                        .unwrap_or_else(|| "Always".into());
                    if policy == "Never" || (policy == "OnFailure" && code == 0) {
                        // Done for good: report it and wait for the deletion.
                        self.state.terminal = Some(if code == 0 { "Succeeded" } else { "Failed" });
                        self.state.last_exit = Some(terminated);
                        self.state.waiting =
                            Some(("Terminated".into(), format!("exited with {code}")));
                        self.report().await;
                        while !self.deleting() {
                            if self.rx.changed().await.is_err() {
                                break;
                            }
                        }
                        return self.remove().await;
                    }
                    self.state.restarts += 1;
                    self.state.last_exit = Some(terminated);
                    self.state.waiting =
                        Some(("CrashLoopBackOff".into(), format!("exited with {code}")));
                    self.report().await;
                    if started.elapsed() > Duration::from_secs(30) {
                        backoff = Duration::from_secs(1);
                    }
                    if self.pause(backoff).await {
                        return self.remove().await;
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
                None => return self.remove().await,
            }
        }
    }

    fn set_ready(&mut self, ready: bool) {
        if self.state.ready != ready || self.state.ready_changed.is_none() {
            self.state.ready = ready;
            self.state.ready_changed = Some(now());
        }
    }

    /// Sleeps unless the pod is deleted meanwhile; true if it was.
    async fn pause(&mut self, d: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + d;
        loop {
            if self.deleting() {
                return true;
            }
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => return self.deleting(),
                changed = self.rx.changed() => if changed.is_err() { return true; },
            }
        }
    }

    /// Runs probes and volume syncs until the process exits (its code) or the
    /// pod is deleted (the process then stopped as the kubelet would: None).
    async fn supervise(
        &mut self,
        child: &mut Child,
        c: &k8s_openapi::api::core::v1::Container,
    ) -> Option<i32> {
        let readiness = c.readiness_probe.as_ref().map(|p| {
            (
                p.clone(),
                spec::target(c, p).unwrap_or(spec::Target::Running),
            )
        });
        let liveness = c.liveness_probe.as_ref().map(|p| {
            (
                p.clone(),
                spec::target(c, p).unwrap_or(spec::Target::Running),
            )
        });
        let start = tokio::time::Instant::now();
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        let (mut next_ready, mut next_live, mut next_sync) = (start, start, start);
        let (mut ready_ok, mut ready_bad, mut live_bad) = (0, 0, 0);
        loop {
            tokio::select! {
                status = child.wait() => {
                    let code = status.ok().and_then(|s| s.code().or_else(|| {
                        use std::os::unix::process::ExitStatusExt;
                        s.signal().map(|n| 128 + n)
                    })).unwrap_or(-1);
                    warn!(pod = %self.name(), code, "container exited");
                    return Some(code);
                }
                changed = self.rx.changed() => {
                    if changed.is_err() || self.deleting() {
                        self.stop(child, c).await;
                        return None;
                    }
                }
                _ = tick.tick() => {}
            }
            let now_i = tokio::time::Instant::now();
            if let Some((p, t)) = &readiness {
                let initial =
                    Duration::from_secs(p.initial_delay_seconds.unwrap_or(0).max(0) as u64);
                if now_i >= next_ready && now_i >= start + initial {
                    next_ready =
                        now_i + Duration::from_secs(p.period_seconds.unwrap_or(10).max(1) as u64);
                    if self.probe(t, p).await {
                        ready_ok += 1;
                        ready_bad = 0;
                    } else {
                        ready_bad += 1;
                        ready_ok = 0;
                    }
                    let was = self.state.ready;
                    if !was && ready_ok >= p.success_threshold.unwrap_or(1) {
                        self.set_ready(true);
                    } else if was && ready_bad >= p.failure_threshold.unwrap_or(3) {
                        self.set_ready(false);
                    }
                    if was != self.state.ready {
                        self.report().await;
                    }
                }
            }
            if let Some((p, t)) = &liveness {
                let initial =
                    Duration::from_secs(p.initial_delay_seconds.unwrap_or(0).max(0) as u64);
                if now_i >= next_live && now_i >= start + initial {
                    next_live =
                        now_i + Duration::from_secs(p.period_seconds.unwrap_or(10).max(1) as u64);
                    if self.probe(t, p).await {
                        live_bad = 0;
                    } else {
                        live_bad += 1;
                        if live_bad >= p.failure_threshold.unwrap_or(3) {
                            warn!(pod = %self.name(), "liveness probe failed; killing");
                            let _ = child.start_kill();
                        }
                    }
                }
            }
            if now_i >= next_sync {
                next_sync = now_i + Duration::from_secs(2);
                if let Err(e) = self.write_volumes().await {
                    warn!(pod = %self.name(), error = %format!("{e:#}"), "volume sync failed");
                }
            }
        }
    }

    async fn probe(&self, t: &spec::Target, p: &k8s_openapi::api::core::v1::Probe) -> bool {
        let timeout = Duration::from_secs(p.timeout_seconds.unwrap_or(1).max(1) as u64);
        let ip = self.state.ip.clone();
        let attempt = async {
            match t {
                spec::Target::Running => true,
                spec::Target::Tcp { port } => tokio::net::TcpStream::connect((ip.as_str(), *port))
                    .await
                    .is_ok(),
                spec::Target::Http { port, path } => http_ok(&ip, *port, path).await,
            }
        };
        tokio::time::timeout(timeout, attempt)
            .await
            .unwrap_or(false)
    }

    /// preStop sleep, SIGTERM, then SIGKILL when the grace period runs out.
    async fn stop(&mut self, child: &mut Child, c: &k8s_openapi::api::core::v1::Container) {
        let grace = self
            .pod
            .metadata
            .deletion_grace_period_seconds
            .or(self
                .pod
                .spec
                .as_ref()
                .and_then(|s| s.termination_grace_period_seconds))
            .unwrap_or(30)
            .max(0) as u64;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(grace);
        let gone = self.rx.borrow().is_none();
        info!(pod = %self.name(), grace, "stopping");
        if !gone && grace > 0 {
            if let Some(s) = c
                .lifecycle
                .as_ref()
                .and_then(|l| l.pre_stop.as_ref())
                .and_then(|h| h.sleep.as_ref())
            {
                let until = (tokio::time::Instant::now()
                    + Duration::from_secs(s.seconds.max(0) as u64))
                .min(deadline);
                tokio::select! {
                    _ = tokio::time::sleep_until(until) => {}
                    _ = child.wait() => {}
                }
            }
        }
        if let Some(pid) = child.id() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        if gone
            || tokio::time::timeout_at(deadline, child.wait())
                .await
                .is_err()
        {
            let _ = child.kill().await;
        }
        let _ = child.wait().await;
    }

    /// The pod is done: its containers stopped; remove it (grace 0, as the
    /// kubelet does once the containers are gone).
    async fn remove(&mut self) {
        let dp = DeleteParams {
            grace_period_seconds: Some(0),
            preconditions: Some(Preconditions {
                uid: self.pod.metadata.uid.clone(),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        // Retried until it lands: a deleted pod sends no further event that
        // would start another attempt, and would stay Terminating.
        let mut backoff = Duration::from_millis(200);
        while self.rx.borrow().is_some() {
            match self.api().delete(self.name(), &dp).await {
                Ok(_) => return,
                Err(kube::Error::Api(a)) if a.code == 404 || a.code == 409 => return,
                Err(e) => warn!(pod = %self.name(), error = %e, "final delete failed; retrying"),
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = self.rx.changed() => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    /// A pod the runner cannot run fails, with the reason in its status.
    async fn fail(&mut self, why: &str) {
        warn!(pod = %self.name(), why, "refused");
        let status = json!({"status": {"phase": "Failed", "reason": "PodRunner", "message": why}});
        let _ = self
            .api()
            .patch_status(self.name(), &PatchParams::default(), &Patch::Merge(&status))
            .await;
        while !self.deleting() {
            if self.rx.changed().await.is_err() {
                break;
            }
        }
        self.remove().await;
    }

    async fn report(&self) {
        let s = &self.state;
        let (cname, image) = spec::container(&self.pod)
            .map(|c| (c.name.clone(), c.image.clone().unwrap_or_default()))
            .unwrap_or_default();
        let state = if s.running {
            json!({"running": {"startedAt": s.started_at}})
        } else if let (Some(_), Some(last)) = (s.terminal, &s.last_exit) {
            last.clone()
        } else if let Some((reason, message)) = &s.waiting {
            json!({"waiting": {"reason": reason, "message": message}})
        } else {
            json!({"waiting": {"reason": "ContainerCreating"}})
        };
        let since = s.ready_changed.clone().unwrap_or_else(now);
        let ready = if s.ready { "True" } else { "False" };
        let created = self
            .pod
            .metadata
            .creation_timestamp
            .as_ref()
            .map(|t| t.0.to_string())
            .unwrap_or_else(now);
        let cond =
            |t: &str, v: &str, at: &str| json!({"type": t, "status": v, "lastTransitionTime": at});
        let mut cs = json!({
            "name": cname, "image": image, "imageID": format!("podrunner://{image}"),
            "containerID": format!("podrunner://{}", self.pod.metadata.uid.as_deref().unwrap_or_default()),
            "ready": s.ready, "started": s.running, "restartCount": s.restarts, "state": state,
        });
        if let Some(last) = &s.last_exit {
            cs["lastState"] = last.clone();
        }
        // Before its first start a pod is Pending with no address, as with a
        // kubelet: an address would put it in EndpointSlices (headless
        // Services publish not-ready addresses).
        let sandbox = s.started_at.is_some() || s.restarts > 0;
        let mut status = json!({"status": {
            "phase": if sandbox { "Running" } else { "Pending" },
            "hostIP": HOST_IP, "hostIPs": [{"ip": HOST_IP}], "startTime": created,
            "conditions": [
                cond("PodReadyToStartContainers", if sandbox { "True" } else { "False" }, &created),
                cond("Initialized", "True", &created),
                cond("Ready", ready, &since),
                cond("ContainersReady", ready, &since),
                cond("PodScheduled", "True", &created),
            ],
            "containerStatuses": [cs],
        }});
        if sandbox {
            status["status"]["podIP"] = json!(s.ip);
            status["status"]["podIPs"] = json!([{"ip": s.ip}]);
        }
        if let Some(phase) = &s.terminal {
            status["status"]["phase"] = json!(phase);
        }
        if let Err(e) = self
            .api()
            .patch_status(self.name(), &PatchParams::default(), &Patch::Merge(&status))
            .await
        {
            if !matches!(&e, kube::Error::Api(a) if a.code == 404) {
                warn!(pod = %self.name(), error = %e, "status update failed");
            }
        }
    }

    /// Writes every volume the container mounts; files change only when
    /// their content does, by rename, so a reader never sees half a file.
    async fn write_volumes(&mut self) -> anyhow::Result<()> {
        let volumes = self
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.volumes.clone())
            .unwrap_or_default();
        for v in &volumes {
            let dir = self.dir.join("volumes").join(&v.name);
            std::fs::create_dir_all(&dir)?;
            self.write_volume(v, &dir)
                .await
                .with_context(|| format!("volume {:?}", v.name))?;
        }
        Ok(())
    }

    async fn write_volume(&mut self, v: &Volume, dir: &Path) -> anyhow::Result<()> {
        if let Some(s) = &v.secret {
            let name = s.secret_name.clone().unwrap_or_default();
            let data = self.secret(&name, s.optional).await?;
            write_items(dir, &data, s.items.as_deref())?;
        } else if let Some(c) = &v.config_map {
            let data = self.config_map(&c.name, c.optional).await?;
            write_items(dir, &data, c.items.as_deref())?;
        } else if let Some(d) = &v.downward_api {
            self.write_fields(dir, d.items.as_deref())?;
        } else if let Some(p) = &v.projected {
            for source in p.sources.iter().flatten() {
                if let Some(t) = &source.service_account_token {
                    self.write_token(dir, t).await?;
                }
                if let Some(s) = &source.secret {
                    let data = self.secret(&s.name, s.optional).await?;
                    write_items(dir, &data, s.items.as_deref())?;
                }
                if let Some(c) = &source.config_map {
                    let data = self.config_map(&c.name, c.optional).await?;
                    write_items(dir, &data, c.items.as_deref())?;
                }
                if let Some(d) = &source.downward_api {
                    self.write_fields(dir, d.items.as_deref())?;
                }
            }
        } else if let Some(claim) = &v.persistent_volume_claim {
            // The claim's bound PV, a hostPath our provisioner made; a bound
            // claim keeps its volume, so it is looked up once.
            if self.sources.contains_key(&v.name) {
                return Ok(());
            }
            use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
            let pvc = Api::<PersistentVolumeClaim>::namespaced(self.r.client.clone(), self.ns())
                .get(&claim.claim_name)
                .await?;
            let volume = pvc
                .spec
                .and_then(|s| s.volume_name)
                .with_context(|| format!("claim {:?} is not bound", claim.claim_name))?;
            let pv = Api::<PersistentVolume>::all(self.r.client.clone())
                .get(&volume)
                .await?;
            let path = pv
                .spec
                .and_then(|s| s.host_path)
                .map(|h| PathBuf::from(h.path))
                .with_context(|| format!("volume {volume:?} is not a hostPath"))?;
            self.sources.insert(v.name.clone(), path);
        } else if let Some(h) = &v.host_path {
            self.sources.insert(v.name.clone(), PathBuf::from(&h.path));
        }
        // emptyDir: the directory itself.
        Ok(())
    }

    /// Downward-API files: each item's fieldRef value at its path.
    fn write_fields(
        &self,
        dir: &Path,
        items: Option<&[k8s_openapi::api::core::v1::DownwardAPIVolumeFile]>,
    ) -> anyhow::Result<()> {
        for item in items.unwrap_or_default() {
            if let Some(f) = &item.field_ref {
                let value = spec::field(&self.pod, &self.state.ip, HOST_IP, &f.field_path)?;
                write_file(&dir.join(&item.path), value.as_bytes())?;
            }
        }
        Ok(())
    }

    async fn secret(&self, name: &str, optional: Option<bool>) -> anyhow::Result<Data> {
        let api: Api<Secret> = Api::namespaced(self.r.client.clone(), self.ns());
        let found = api.get_opt(name).await?.map(|s| {
            s.data
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, v.0))
                .collect()
        });
        present(found, optional, "secret", name)
    }

    async fn config_map(&self, name: &str, optional: Option<bool>) -> anyhow::Result<Data> {
        let api: Api<ConfigMap> = Api::namespaced(self.r.client.clone(), self.ns());
        let found = api.get_opt(name).await?.map(|c| {
            let text = c.data.unwrap_or_default().into_iter();
            let binary = c.binary_data.unwrap_or_default().into_iter();
            text.map(|(k, v)| (k, v.into_bytes()))
                .chain(binary.map(|(k, v)| (k, v.0)))
                .collect()
        });
        present(found, optional, "configmap", name)
    }

    /// A bound token for the pod's ServiceAccount, renewed at 80 % of its life.
    async fn write_token(
        &mut self,
        dir: &Path,
        t: &k8s_openapi::api::core::v1::ServiceAccountTokenProjection,
    ) -> anyhow::Result<()> {
        let path = dir.join(&t.path);
        let life = t.expiration_seconds.unwrap_or(3600).max(600);
        if let Some(at) = self.tokens.get(&path) {
            if at.elapsed() < Duration::from_secs(life as u64 * 8 / 10) {
                return Ok(());
            }
        }
        let sa = self
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.service_account_name.clone())
            .unwrap_or_else(|| "default".into());
        let api: Api<ServiceAccount> = Api::namespaced(self.r.client.clone(), self.ns());
        let req = TokenRequest {
            spec: TokenRequestSpec {
                audiences: t.audience.clone().into_iter().collect(),
                expiration_seconds: Some(life),
                bound_object_ref: Some(BoundObjectReference {
                    api_version: Some("v1".into()),
                    kind: Some("Pod".into()),
                    name: self.pod.metadata.name.clone(),
                    uid: self.pod.metadata.uid.clone(),
                }),
            },
            ..TokenRequest::default()
        };
        let token = api
            .create_token_request(&sa, &PostParams::default(), &req)
            .await
            .with_context(|| format!("a token for ServiceAccount {sa}"))?;
        let token = token.status.map(|s| s.token).unwrap_or_default();
        write_file(&path, token.as_bytes())?;
        self.tokens.insert(path, tokio::time::Instant::now());
        Ok(())
    }

    async fn spawn(
        &self,
        c: &k8s_openapi::api::core::v1::Container,
        binary: &Path,
    ) -> anyhow::Result<Child> {
        let env = self.environment(c).await?;
        let args: Vec<String> = c
            .command
            .iter()
            .flatten()
            .skip(1)
            .chain(c.args.iter().flatten())
            .map(|a| spec::expand(a, &env))
            .collect();
        let mounts: Vec<(PathBuf, String, bool)> = c
            .volume_mounts
            .iter()
            .flatten()
            .map(|m| {
                let mut src = self
                    .sources
                    .get(&m.name)
                    .cloned()
                    .unwrap_or_else(|| self.dir.join("volumes").join(&m.name));
                if let Some(sub) = m.sub_path.as_deref().filter(|s| !s.is_empty()) {
                    src = src.join(sub);
                }
                (src, m.mount_path.clone(), m.read_only.unwrap_or(false))
            })
            .collect();
        let script = spec::mount_script(&mounts, &self.r.hosts_path());
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join(format!("{}.log", c.name)))?;
        let child = Command::new("unshare")
            .args(spec::UNSHARE)
            .arg("-c")
            .arg(script)
            .arg("pod")
            .arg(binary)
            .args(&args)
            .env_clear()
            .envs(&env)
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .context("unshare")?;
        Ok(child)
    }

    /// The container's environment, as the kubelet builds it.
    async fn environment(
        &self,
        c: &k8s_openapi::api::core::v1::Container,
    ) -> anyhow::Result<BTreeMap<String, String>> {
        let mut env = BTreeMap::new();
        let a = &self.r.args;
        env.insert(
            "PATH".into(),
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
        );
        env.insert(
            "HOSTNAME".into(),
            spec::host_names(&self.pod)
                .last()
                .cloned()
                .unwrap_or_default(),
        );
        env.insert("KUBERNETES_SERVICE_HOST".into(), a.api_host.clone());
        env.insert("KUBERNETES_SERVICE_PORT".into(), a.api_port.to_string());
        env.insert(
            "KUBERNETES_SERVICE_PORT_HTTPS".into(),
            a.api_port.to_string(),
        );
        for from in c.env_from.iter().flatten() {
            let prefix = from.prefix.clone().unwrap_or_default();
            let data = if let Some(s) = &from.secret_ref {
                self.secret(&s.name, s.optional).await?
            } else if let Some(m) = &from.config_map_ref {
                self.config_map(&m.name, m.optional).await?
            } else {
                BTreeMap::new()
            };
            for (k, v) in data {
                env.insert(
                    format!("{prefix}{k}"),
                    String::from_utf8_lossy(&v).into_owned(),
                );
            }
        }
        for e in c.env.iter().flatten() {
            let value = if let Some(v) = &e.value {
                spec::expand(v, &env)
            } else if let Some(from) = &e.value_from {
                if let Some(f) = &from.field_ref {
                    spec::field(&self.pod, &self.state.ip, HOST_IP, &f.field_path)?
                } else if let Some(s) = &from.secret_key_ref {
                    let data = self.secret(&s.name, s.optional).await?;
                    String::from_utf8_lossy(data.get(&s.key).map(|v| &v[..]).unwrap_or_default())
                        .into_owned()
                } else if let Some(m) = &from.config_map_key_ref {
                    let data = self.config_map(&m.name, m.optional).await?;
                    String::from_utf8_lossy(data.get(&m.key).map(|v| &v[..]).unwrap_or_default())
                        .into_owned()
                } else {
                    String::new()
                }
            } else {
                String::new()
            };
            env.insert(e.name.clone(), value);
        }
        for (name, template) in &a.address_env {
            env.insert(
                name.clone(),
                template
                    .display()
                    .to_string()
                    .replace("{ip}", &self.state.ip),
            );
        }
        Ok(env)
    }
}

/// The provisioner named in the PVs it makes.
const PROVISIONER: &str = "shoal.dev/podrunner";

/// A local-directory provisioner: each pending PVC of `class` gets a hostPath
/// PV (a directory under `root`) pre-bound to it; the PV controller binds the
/// pair. A Released PV of ours with reclaim policy Delete is removed with its
/// directory, so retention policies (StatefulSet `whenDeleted`) behave as on
/// a cluster with a dynamic provisioner.
async fn provision(client: Client, class: String, root: PathBuf) {
    use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
    let claims: Api<PersistentVolumeClaim> = Api::all(client.clone());
    let volumes: Api<PersistentVolume> = Api::all(client.clone());
    loop {
        match claims.list(&Default::default()).await {
            Ok(list) => {
                for pvc in list.items {
                    let spec = pvc.spec.clone().unwrap_or_default();
                    let pending =
                        pvc.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Pending");
                    if !pending
                        || spec.volume_name.is_some()
                        || spec.storage_class_name.as_deref() != Some(class.as_str())
                        || pvc.metadata.deletion_timestamp.is_some()
                    {
                        continue;
                    }
                    let uid = pvc.metadata.uid.clone().unwrap_or_default();
                    let name = format!("pvc-{uid}");
                    let dir = root.join(&name);
                    if let Err(e) = std::fs::create_dir_all(&dir) {
                        warn!(error = %e, "cannot make a volume directory");
                        continue;
                    }
                    let size = spec
                        .resources
                        .as_ref()
                        .and_then(|r| r.requests.as_ref())
                        .and_then(|r| r.get("storage"))
                        .map(|q| q.0.clone())
                        .unwrap_or_else(|| "1Gi".into());
                    let pv = json!({
                        "apiVersion": "v1", "kind": "PersistentVolume",
                        "metadata": {"name": name, "annotations": {"pv.kubernetes.io/provisioned-by": PROVISIONER}},
                        "spec": {
                            "capacity": {"storage": size},
                            "accessModes": spec.access_modes.clone().unwrap_or_else(|| vec!["ReadWriteOnce".into()]),
                            "persistentVolumeReclaimPolicy": "Delete",
                            "storageClassName": class,
                            "hostPath": {"path": dir.display().to_string(), "type": "Directory"},
                            "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                                         "namespace": pvc.metadata.namespace, "name": pvc.metadata.name, "uid": uid},
                        },
                    });
                    match serde_json::from_value::<PersistentVolume>(pv) {
                        Ok(pv) => match volumes.create(&PostParams::default(), &pv).await {
                            Ok(_) => info!(pvc = ?pvc.metadata.name, volume = %name, "provisioned"),
                            Err(kube::Error::Api(e)) if e.code == 409 => {}
                            Err(e) => warn!(error = %e, "cannot create a PV"),
                        },
                        Err(e) => warn!(error = %e, "PV"),
                    }
                }
            }
            Err(e) => warn!(error = %e, "cannot list PVCs"),
        }
        match volumes.list(&Default::default()).await {
            Ok(list) => {
                for pv in list.items {
                    let ours = pv
                        .metadata
                        .annotations
                        .as_ref()
                        .and_then(|a| a.get("pv.kubernetes.io/provisioned-by"))
                        .map(String::as_str)
                        == Some(PROVISIONER);
                    let released =
                        pv.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Released");
                    let delete = pv
                        .spec
                        .as_ref()
                        .and_then(|s| s.persistent_volume_reclaim_policy.as_deref())
                        == Some("Delete");
                    if ours && released && delete {
                        let name = pv.metadata.name.clone().unwrap_or_default();
                        if let Some(path) = pv.spec.as_ref().and_then(|s| s.host_path.as_ref()) {
                            let _ = std::fs::remove_dir_all(&path.path);
                        }
                        match volumes.delete(&name, &DeleteParams::default()).await {
                            Ok(_) => info!(volume = %name, "deleted a released volume"),
                            Err(e) => warn!(error = %e, "cannot delete a released PV"),
                        }
                    }
                }
            }
            Err(e) => warn!(error = %e, "cannot list PVs"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// `GET path` over HTTP/1.1; a 2xx or 3xx status passes, as for the kubelet.
/// Written by hand: one request line and one status line, not worth a client.
async fn http_ok(ip: &str, port: u16, path: &str) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut s) = tokio::net::TcpStream::connect((ip, port)).await else {
        return false;
    };
    let req = format!("GET {path} HTTP/1.1\r\nHost: {ip}:{port}\r\nUser-Agent: kube-probe/1.34\r\nConnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).await.is_err() {
        return false;
    }
    let mut buf = [0u8; 64];
    let mut n = 0;
    while n < 12 {
        match s.read(&mut buf[n..]).await {
            Ok(0) | Err(_) => return false,
            Ok(k) => n += k,
        }
    }
    let line = String::from_utf8_lossy(&buf[..n]);
    line.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse::<u16>().ok())
        .is_some_and(|c| (200..400).contains(&c))
}

/// A Secret's or ConfigMap's keys and values.
type Data = BTreeMap<String, Vec<u8>>;

/// An object's data; a missing one is empty when optional, else an error.
fn present(
    found: Option<Data>,
    optional: Option<bool>,
    kind: &str,
    name: &str,
) -> anyhow::Result<Data> {
    match found {
        Some(d) => Ok(d),
        None if optional.unwrap_or(false) => Ok(Data::new()),
        None => anyhow::bail!("{kind} {name:?} not found"),
    }
}

/// The volume's files: every key, or only the listed items at their paths.
fn write_items(
    dir: &Path,
    data: &BTreeMap<String, Vec<u8>>,
    items: Option<&[k8s_openapi::api::core::v1::KeyToPath]>,
) -> anyhow::Result<()> {
    match items {
        Some(items) => {
            for i in items {
                match data.get(&i.key) {
                    Some(v) => write_file(&dir.join(&i.path), v)?,
                    None => anyhow::bail!("key {:?} not found", i.key),
                }
            }
        }
        None => {
            for (k, v) in data {
                write_file(&dir.join(k), v)?;
            }
        }
    }
    Ok(())
}

fn write_file(path: &Path, content: &[u8]) -> anyhow::Result<()> {
    if std::fs::read(path).ok().as_deref() == Some(content) {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let tmp = path.with_extension("podrunner-tmp");
    std::fs::write(&tmp, content)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}
