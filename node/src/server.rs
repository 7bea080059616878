//! The node: shared state, the client listener, background work (active expiry,
//! memory calibration, idle timeouts) and graceful shutdown.

use crate::client::{ClientInfo, Clients};
use crate::clock::Clock;
use crate::cmd::table;
use crate::config::SettingsExt;
use crate::config::{Config, Settings};
use crate::metrics::Metrics;
use crate::store::Db;
use arc_swap::ArcSwap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

/// Encoding thresholds the types read process-wide (hashes' and sorted sets'
/// listpack sizes).
fn apply_encoding(s: &Settings) {
    let e = &s.encoding;
    crate::store::zset::set_listpack_limits(
        usize::try_from(e.zset_max_listpack_entries).unwrap_or(usize::MAX),
        usize::try_from(e.zset_max_listpack_value).unwrap_or(usize::MAX),
    );
    crate::store::hash::set_listpack_limits(
        usize::try_from(e.hash_max_listpack_entries).unwrap_or(usize::MAX),
        usize::try_from(e.hash_max_listpack_value).unwrap_or(usize::MAX),
    );
}

/// State shared by every connection and background task.
pub struct Shared {
    pub db: Db,
    pub settings: ArcSwap<Settings>,
    pub config: Config,
    pub metrics: Metrics,
    pub clients: Clients,
    pub clock: Clock,
    pub started_ms: u64,
    /// 40 hex characters, like Redis' run id.
    pub run_id: String,
    /// Accepting clients and serving; false while starting and shutting down.
    pub ready: AtomicBool,
    /// ACL users, when an ACL file is configured; None: the default user only,
    /// guarded by requirepass, with no per-command checks.
    pub acl: arc_swap::ArcSwapOption<crate::acl::Acl>,
    /// Cluster membership; None for a standalone node, which owns every key.
    pub cluster: Option<crate::cluster::Cluster>,
    /// Replication role, history and attached replicas.
    pub repl: crate::repl::Replication,
    /// TLS material, when TLS is configured.
    pub tls: Option<crate::tls::Tls>,
    /// Background expiry runs (DEBUG SET-ACTIVE-EXPIRE 0 stops it, for tests).
    pub active_expire: AtomicBool,
    /// Pub/sub subscriptions of this node's clients.
    pub pubsub: crate::pubsub::Hub,
    /// Lua scripting: the VM, the script cache, the running script.
    pub scripts: crate::cmd::scripting::Scripting,
    /// Snapshots to `dir` (SAVE, BGSAVE, LASTSAVE, INFO persistence).
    pub snapshots: crate::persist::State,
}

impl Shared {
    /// As [`Shared::try_new`]; panics if the TLS files do not load (tests).
    pub fn new(config: Config, clock: Clock) -> Arc<Shared> {
        Shared::try_new(config, clock).expect("TLS files load")
    }

    /// The node's state; fails when TLS is configured and its files do not load.
    pub fn try_new(config: Config, clock: Clock) -> Result<Arc<Shared>, crate::tls::TlsError> {
        let tls = config.tls.clone().map(crate::tls::Tls::load).transpose()?;
        let names: Vec<&str> = table::all().iter().map(|s| s.name).collect();
        let db = Db::new(config.shards);
        let started_ms = clock.now_ms();
        db.set_access_mode(config.settings.access_mode(), started_ms);
        db.journal()
            .set_capacity(config.settings.repl_backlog_size as usize);
        let run_id = (0..40)
            .map(|_| char::from_digit(fastrand::u32(..16), 16).expect("digit < 16"))
            .collect();
        let cluster = config
            .cluster
            .as_ref()
            .map(|c| crate::cluster::Cluster::new(c.node_name.clone()));
        let acl = arc_swap::ArcSwapOption::from(config.acl.clone().map(Arc::new));
        apply_encoding(&config.settings);
        db.set_notify(crate::notify::enabled(
            config.settings.notify_keyspace_events,
        ));
        Ok(Arc::new(Shared {
            tls,
            active_expire: AtomicBool::new(true),
            pubsub: crate::pubsub::Hub::default(),
            scripts: Default::default(),
            acl,
            cluster,
            db,
            settings: ArcSwap::from_pointee(config.settings.clone()),
            metrics: Metrics::new(&names),
            config,
            clients: Clients::default(),
            clock,
            started_ms,
            run_id,
            ready: AtomicBool::new(false),
            repl: crate::repl::Replication::new(),
            snapshots: crate::persist::State::new(started_ms / 1000),
        }))
    }

    /// How this node's links log in to peers, (user, password): `masteruser`
    /// and `masterauth` when set, else the default user with `requirepass`;
    /// None when no password is needed.
    pub fn link_login(&self) -> Option<(String, String)> {
        if let Some(login) = &self.config.link_login {
            return Some(login.clone());
        }
        let pw = self.settings.load().requirepass.clone()?;
        Some(("default".into(), pw))
    }

    /// The TLS client configuration for a link of `kind`; None: plaintext.
    pub fn link_tls(&self, kind: crate::tls::Link) -> Option<Arc<rustls::ClientConfig>> {
        self.tls.as_ref().and_then(|t| t.link(kind))
    }

    pub fn settings(&self) -> Arc<Settings> {
        self.settings.load_full()
    }

    /// A new connection's user and whether it is authenticated: the default
    /// user, logged in when it needs no password.
    pub fn initial_login(&self) -> (bool, Option<Arc<crate::acl::User>>) {
        match self.acl.load().as_ref() {
            Some(acl) => {
                let user = acl.user(b"default");
                let open = user.as_ref().is_some_and(|u| u.enabled && u.nopass);
                (open, user)
            }
            None => (self.settings.load().requirepass.is_none(), None),
        }
    }

    /// `cluster` or `standalone`, as HELLO and INFO report it.
    pub fn mode(&self) -> &'static str {
        if self.cluster.is_some() {
            "cluster"
        } else {
            "standalone"
        }
    }

    /// Ready for traffic: serving, and in a cluster, holding a topology that
    /// names this node with every slot owned.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire) && self.cluster.as_ref().is_none_or(|c| c.serving())
    }

    /// Installs ACL users (ACL LOAD, a changed ACL file), keeping the user this
    /// node's links log in as.
    pub fn install_acl(&self, mut acl: crate::acl::Acl) {
        acl.ensure_link_user(self.config.link_login.as_ref());
        self.acl.store(Some(Arc::new(acl)));
    }

    /// Installs new settings (CONFIG SET) and applies how access is stamped;
    /// `keys` holds every shard. Eviction down to a lowered limit follows with
    /// [`Shared::evict_to_limit`] once the locks are released.
    pub fn apply_settings(
        &self,
        next: Arc<Settings>,
        now_ms: u64,
        keys: &mut crate::store::Locked<'_>,
    ) {
        let old = self.settings.swap(next.clone());
        if old.access_mode() != next.access_mode() {
            keys.set_access_mode(next.access_mode(), now_ms);
        }
        let notify = crate::notify::enabled(next.notify_keyspace_events);
        if notify != crate::notify::enabled(old.notify_keyspace_events) {
            keys.set_notify(notify);
        }
        apply_encoding(&next);
        if old.repl_backlog_size != next.repl_backlog_size {
            self.db
                .journal()
                .set_capacity(next.repl_backlog_size as usize);
        }
    }

    /// Evicts until memory is under `maxmemory` (after the limit was lowered).
    pub fn evict_to_limit(&self, now_ms: u64) {
        let next = self.settings();
        if next.maxmemory > 0 {
            // Each call evicts a bounded batch; keep going while it makes progress.
            while self.db.memory().used() > next.maxmemory {
                match self.db.evict_to(
                    next.maxmemory,
                    next.maxmemory_policy,
                    next.maxmemory_samples as usize,
                    now_ms,
                ) {
                    Ok(n) if n > 0 => {}
                    _ => break,
                }
            }
        }
    }

    /// Registers a client session (CLIENT LIST, maxclients, metrics).
    pub fn register_client(&self, addr: SocketAddr, laddr: SocketAddr) -> Arc<ClientInfo> {
        let client = Arc::new(ClientInfo::new(
            self.clients.next_id(),
            addr,
            laddr,
            self.clock.now_ms(),
        ));
        self.clients.insert(client.clone());
        self.metrics.connections_received.inc();
        self.metrics.connected_clients.inc();
        client
    }

    pub fn unregister_client(&self, client: &ClientInfo) {
        self.clients.remove(client.id);
        self.metrics.connected_clients.dec();
    }

    /// Brings the gauges that mirror the store up to date (before a scrape).
    pub fn refresh_metrics(&self) {
        let m = &self.metrics;
        let mem = self.db.memory();
        mem.refresh();
        let st = self.db.stats();
        m.keys.set(st.keys as i64);
        m.expiring_keys.set(st.expires as i64);
        Metrics::catch_up(&m.expired_keys, st.expired);
        Metrics::catch_up(&m.evicted_keys, st.evicted);
        m.memory_used.set(mem.allocated() as i64);
        m.memory_dataset.set(mem.dataset() as i64);
        m.memory_max.set(self.settings.load().maxmemory as i64);
        m.memory_rss
            .set(crate::store::memory::process_rss().unwrap_or(0) as i64);
        m.connected_clients.set(self.clients.len() as i64);
        self.scripts.refresh_metrics(m);
        let end = self.db.journal().end();
        m.repl.offset.set(end as i64);
        m.repl.primary.set(i64::from(self.repl.is_primary()));
        let attached = self.repl.attached();
        m.repl.connected_replicas.set(attached.len() as i64);
        m.repl.replica_lag.reset();
        for a in attached {
            let ack = a.ack.load(std::sync::atomic::Ordering::Relaxed);
            m.repl
                .replica_lag
                .with_label_values(&[&a.name])
                .set(end.saturating_sub(ack) as i64);
        }
    }
}

/// A running node. Dropping it does not stop it; call [`Node::shutdown`].
pub struct Node {
    pub shared: Arc<Shared>,
    /// The plaintext client port's address, or the TLS port's when plaintext is
    /// off.
    pub addr: SocketAddr,
    /// The TLS client port's address, when it is on.
    pub tls_addr: Option<SocketAddr>,
    pub admin_addr: Option<SocketAddr>,
    /// The forwarding port's address, when it is on.
    pub forward_addr: Option<SocketAddr>,
    stop: CancellationToken,
    done: tokio::task::JoinHandle<()>,
}

/// The sockets a node serves.
pub struct Listeners {
    /// Plaintext clients; None when plaintext is off (`port 0`).
    pub client: Option<TcpListener>,
    /// TLS clients (needs TLS in the configuration).
    pub tls: Option<TcpListener>,
    /// Plain clients' port: commands for other nodes' slots are forwarded.
    pub forward: Option<TcpListener>,
    pub admin: Option<TcpListener>,
}

/// Where accepted clients are served.
enum Serving {
    /// On the caller's runtime (tests, embedding).
    Local,
    /// On `n` I/O threads, each running its own single-threaded runtime. The
    /// accept loop hands each new client to the next thread in turn, which keeps
    /// their loads even; a client never moves, so there are no cross-thread
    /// wake-ups (thread per core).
    Threads(usize),
}

impl Node {
    /// Binds the client and admin ports from `config` and starts serving, with
    /// `config.threads` I/O threads.
    pub async fn start(config: Config) -> std::io::Result<Node> {
        // TLS files first: a bad certificate is reported as such, not as a
        // failure to listen.
        let shared = Shared::try_new(config, Clock::Wall)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
        let config = &shared.config;
        let listener = if config.port == 0 {
            None
        } else {
            Some(TcpListener::bind((config.bind.as_str(), config.port)).await?)
        };
        let tls = if config.tls_port == 0 {
            None
        } else {
            Some(TcpListener::bind((config.bind.as_str(), config.tls_port)).await?)
        };
        let admin = if config.admin_port == 0 {
            None
        } else {
            Some(TcpListener::bind((config.admin_bind.as_str(), config.admin_port)).await?)
        };
        let forward = if config.forward_port == 0 {
            None
        } else {
            Some(TcpListener::bind((config.bind.as_str(), config.forward_port)).await?)
        };
        let threads = config.threads;
        Ok(Node::spawn(
            shared,
            Listeners {
                client: listener,
                tls,
                forward,
                admin,
            },
            Serving::Threads(threads),
        ))
    }

    /// Starts serving on a listener bound by the caller (tests bind port 0), on
    /// the caller's runtime.
    pub fn start_with(
        shared: Arc<Shared>,
        listener: TcpListener,
        admin: Option<TcpListener>,
    ) -> Node {
        Node::start_listeners(
            shared,
            Listeners {
                client: Some(listener),
                tls: None,
                forward: None,
                admin,
            },
        )
    }

    /// As [`Node::start_with`], with a forwarding port too.
    pub fn start_listeners(shared: Arc<Shared>, listeners: Listeners) -> Node {
        Node::spawn(shared, listeners, Serving::Local)
    }

    fn spawn(shared: Arc<Shared>, listeners: Listeners, serving: Serving) -> Node {
        // Before anything serves: the snapshot a last run left.
        crate::persist::load_at_start(&shared);
        crate::cmd::scripting::worker::start(&shared);
        let Listeners {
            client: listener,
            tls,
            forward,
            admin,
        } = listeners;
        let tls_addr = tls.as_ref().and_then(|l| l.local_addr().ok());
        let addr = listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
            .or(tls_addr)
            .expect("a node serves clients on a plaintext or a TLS port");
        let admin_addr = admin.as_ref().and_then(|l| l.local_addr().ok());
        let forward_addr = forward.as_ref().and_then(|l| l.local_addr().ok());
        let stop = CancellationToken::new();
        crate::cluster::start_sources(&shared, &stop);
        tokio::spawn(crate::repl::replica::follow(shared.clone(), stop.clone()));
        if shared.cluster.is_some() {
            tokio::spawn(crate::repl::roles_from_topology(
                shared.clone(),
                stop.clone(),
            ));
            tokio::spawn(crate::cluster::migrate::run_imports(
                shared.clone(),
                stop.clone(),
            ));
            tokio::spawn(crate::cluster::migrate::run_cleanup(
                shared.clone(),
                stop.clone(),
            ));
        }
        if let Some(admin) = admin {
            let stopped = stop.clone();
            tokio::spawn(crate::admin::serve(shared.clone(), admin, async move {
                stopped.cancelled().await
            }));
        }
        if shared.config.dir.is_some() {
            tokio::spawn(crate::persist::background(shared.clone(), stop.clone()));
        }
        let done = tokio::spawn(run(
            shared.clone(),
            Accepting {
                client: listener,
                tls,
                forward,
            },
            serving,
            stop.clone(),
        ));
        Node {
            shared,
            addr,
            tls_addr,
            admin_addr,
            forward_addr,
            stop,
            done,
        }
    }

    /// Before stopping, a primary of a cluster shard with replicas asks the
    /// topology's writer to promote one (INFO `shoal_leaving`) and keeps
    /// serving until it is no longer the primary and has sent its replicas
    /// its last writes, or until `shutdown-timeout` passes. Its writes then
    /// move to the replica with none lost, instead of stopping until a
    /// failover notices the node is gone.
    pub async fn hand_over(&self) {
        let shared = &self.shared;
        let Some(cluster) = shared.cluster.as_ref() else {
            return;
        };
        let replicas = cluster.view().and_then(|v| {
            let me = v.me.filter(|m| m.primary)?;
            Some(v.topology.shards[me.shard].replicas.len())
        });
        if replicas.unwrap_or(0) == 0 || !shared.repl.is_primary() {
            return;
        }
        let started = std::time::Instant::now();
        let grace = Duration::from_secs(shared.config.shutdown_timeout);
        shared.repl.set_leaving();
        info!("asking for a replica's promotion before stopping");
        loop {
            match (shared.repl.is_primary(), shared.repl.links()) {
                // Demoted, and every link sent its last writes.
                (false, 0) => break,
                // Its replicas are stopping too (the whole cluster is): no
                // one is left to take over.
                (true, 0) => {
                    warn!("no replica is attached to take over; stopping as the primary");
                    return;
                }
                _ => {}
            }
            if started.elapsed() >= grace {
                warn!(
                    waited_ms = started.elapsed().as_millis() as u64,
                    "no replica took over within shutdown-timeout; stopping as the primary"
                );
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        info!(
            waited_ms = started.elapsed().as_millis() as u64,
            "handed over to a replica"
        );
    }

    /// Stops accepting, lets clients finish their current replies (up to the
    /// shutdown timeout) and returns when the node has stopped.
    pub async fn shutdown(self) {
        self.stop.cancel();
        let _ = self.done.await;
    }
}

/// The background task; stops when stopped.
pub struct Cron {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Cron {
    /// Starts active expiry, memory calibration and idle timeouts for `shared`.
    pub fn spawn(shared: Arc<Shared>) -> Cron {
        let stop = CancellationToken::new();
        let task = tokio::spawn(cron(shared, stop.clone()));
        Cron { stop, task }
    }

    pub async fn stop(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

/// Accepts from `listener`, or never when there is none.
async fn accept(
    listener: Option<&TcpListener>,
) -> std::io::Result<(tokio::net::TcpStream, SocketAddr)> {
    match listener {
        Some(l) => l.accept().await,
        None => std::future::pending().await,
    }
}

/// The client listeners of [`run`].
struct Accepting {
    client: Option<TcpListener>,
    tls: Option<TcpListener>,
    forward: Option<TcpListener>,
}

async fn run(shared: Arc<Shared>, listeners: Accepting, serving: Serving, stop: CancellationToken) {
    let Accepting {
        client: listener,
        tls,
        forward,
    } = listeners;
    // With plaintext off, the forwarding port speaks TLS too.
    let forward_tls = shared.tls.is_some() && listener.is_none();
    let tasks = TaskTracker::new();
    // Ends the I/O threads' runtimes once the grace period is over.
    let abort = CancellationToken::new();
    let cron = Cron::spawn(shared.clone());
    let mut threads = Vec::new();
    let mut handoff = Vec::new();
    if let Serving::Threads(n) = serving {
        for i in 0..n.max(1) {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            let (shared, tasks, abort) = (shared.clone(), tasks.clone(), abort.clone());
            match std::thread::Builder::new()
                .name(format!("shoal-io-{i}"))
                .spawn(move || io_thread(shared, rx, tasks, abort))
            {
                Ok(t) => {
                    threads.push(t);
                    handoff.push(tx);
                }
                Err(e) => warn!(error = %e, "could not start an I/O thread"),
            }
        }
    }
    shared.ready.store(true, Ordering::Release);
    let addr_of = |l: &Option<TcpListener>| {
        l.as_ref()
            .and_then(|l| l.local_addr().ok())
            .map(|a| a.to_string())
            .unwrap_or_else(|| "off".into())
    };
    info!(addr = %addr_of(&listener), tls = %addr_of(&tls), "accepting clients");
    let mut next = 0;
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            accepted = async {
                tokio::select! {
                    r = accept(listener.as_ref()) => (r, false, false),
                    r = accept(tls.as_ref()) => (r, false, true),
                    r = accept(forward.as_ref()) => (r, true, forward_tls),
                }
            } => match accepted {
                (Ok((stream, addr)), forwarding, tls) => {
                    let Some(client) = admit(&shared, &tasks, stream, addr, forwarding, tls) else { continue };
                    if handoff.is_empty() {
                        tasks.spawn(serve_client(shared.clone(), client));
                    } else {
                        // Round robin keeps the threads' client counts even.
                        // An I/O thread whose runtime failed to start has dropped
                        // its receiver: serve its share here instead of losing it.
                        if let Err(failed) = handoff[next % handoff.len()].send(client) {
                            tasks.spawn(serve_client(shared.clone(), failed.0));
                        }
                        next += 1;
                    }
                }
                (Err(e), _, _) => {
                    // Typically EMFILE: back off instead of spinning.
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
    drop(listener);
    drop(tls);
    drop(forward);
    drop(handoff);
    shared.ready.store(false, Ordering::Release);
    info!(
        clients = shared.clients.len(),
        "shutting down: finishing client replies"
    );
    tasks.close();
    shared.clients.kill_all();
    let grace = Duration::from_secs(shared.config.shutdown_timeout);
    if tokio::time::timeout(grace, tasks.wait()).await.is_err() {
        warn!(
            clients = shared.clients.len(),
            "shutdown timeout: closing remaining clients"
        );
    }
    abort.cancel();
    for t in threads {
        let _ = tokio::task::spawn_blocking(move || t.join()).await;
    }
    cron.stop().await;
    // Every reply is out: the snapshot holds every acknowledged write.
    if shared.config.dir.is_some() {
        let s = shared.clone();
        let _ = tokio::task::spawn_blocking(move || crate::persist::save(&s)).await;
    }
    info!("stopped");
}

/// A client accepted and registered, not yet served.
struct Admitted {
    stream: std::net::TcpStream,
    client: Arc<ClientInfo>,
    /// Arrived on the forwarding port.
    forwarding: bool,
    /// Speaks TLS.
    tls: bool,
}

/// Registers a new client, or refuses it when `maxclients` is reached.
fn admit(
    shared: &Arc<Shared>,
    tasks: &TaskTracker,
    mut stream: tokio::net::TcpStream,
    addr: SocketAddr,
    forwarding: bool,
    tls: bool,
) -> Option<Admitted> {
    let settings = shared.settings.load();
    if shared.clients.len() as u64 >= settings.maxclients {
        shared.metrics.rejected_connections.inc();
        debug!(%addr, "maxclients reached, refusing client");
        // A TLS client could not read a plaintext error: it is just closed.
        if !tls {
            tasks.spawn(async move {
                let _ = stream
                    .write_all(b"-ERR max number of clients reached\r\n")
                    .await;
            });
        }
        return None;
    }
    let _ = stream.set_nodelay(true);
    let laddr = stream.local_addr().unwrap_or(addr);
    // Detached from this runtime so another thread's runtime can take it over.
    let stream = match stream.into_std() {
        Ok(s) => s,
        Err(e) => {
            warn!(error = %e, "could not hand a client over");
            return None;
        }
    };
    let client = shared.register_client(addr, laddr);
    Some(Admitted {
        stream,
        client,
        forwarding,
        tls,
    })
}

/// An I/O thread: serves the clients handed to it on its own runtime until the
/// node stops.
fn io_thread(
    shared: Arc<Shared>,
    mut clients: tokio::sync::mpsc::UnboundedReceiver<Admitted>,
    tasks: TaskTracker,
    abort: CancellationToken,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            warn!(error = %e, "could not start an I/O runtime");
            return;
        }
    };
    runtime.block_on(async move {
        while let Some(admitted) = clients.recv().await {
            tasks.spawn(serve_client(shared.clone(), admitted));
        }
        // Keep serving this thread's clients until they finish or time runs out.
        tokio::select! {
            _ = tasks.wait() => {}
            _ = abort.cancelled() => {}
        }
    });
}

async fn serve_client(shared: Arc<Shared>, admitted: Admitted) {
    let Admitted {
        stream,
        client,
        forwarding,
        tls,
    } = admitted;
    // Unregisters on every exit, a panic included, so a failed connection never
    // keeps counting against maxclients.
    let _registered = Registered {
        shared: &shared,
        client: &client,
    };
    let stream = match tokio::net::TcpStream::from_std(stream) {
        Ok(stream) => stream,
        Err(e) => {
            warn!(error = %e, "could not register a client socket");
            return;
        }
    };
    let acceptor = match (&shared.tls, tls) {
        (_, false) => {
            return crate::connection::serve(&shared, stream, client.clone(), forwarding).await
        }
        (Some(t), true) => t.acceptor(),
        (None, true) => return,
    };
    // The handshake is bounded in time, and ends early if the client is killed
    // (CLIENT KILL, shutdown).
    let handshake = tokio::time::timeout(crate::tls::HANDSHAKE_TIMEOUT, acceptor.accept(stream));
    let stream = tokio::select! {
        r = handshake => match r {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                shared.metrics.tls_handshake_failures.inc();
                debug!(addr = %client.addr, error = %e, "TLS handshake failed");
                return;
            }
            Err(_) => {
                shared.metrics.tls_handshake_failures.inc();
                debug!(addr = %client.addr, "TLS handshake timed out");
                return;
            }
        },
        _ = client.killed() => return,
    };
    crate::connection::serve(&shared, stream, client.clone(), forwarding).await
}

struct Registered<'a> {
    shared: &'a Shared,
    client: &'a ClientInfo,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        self.shared.unregister_client(self.client);
    }
}

/// Background work at `hz` ticks per second: active expiry (bounded per tick, so
/// never a stop-the-world scan), memory calibration and idle-client timeouts.
async fn cron(shared: Arc<Shared>, stop: CancellationToken) {
    /// Keys expired per shard per pass; a pass that hits it runs again at once.
    const EXPIRE_BUDGET: usize = 200;
    let mut last_idle_check = 0;
    let mut watched = Watched::new(&shared);
    loop {
        let hz = shared.settings.load().hz.max(1);
        let tick = Duration::from_millis(1000 / u64::from(hz));
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(tick) => {}
        }
        let start = std::time::Instant::now();
        loop {
            if !shared.active_expire.load(Ordering::Relaxed) {
                break;
            }
            let (_, more) = shared.db.expire_cycle(shared.clock.now_ms(), EXPIRE_BUDGET);
            // Spend at most a quarter of the tick expiring, then yield to clients.
            if !more || start.elapsed() > tick / 4 {
                break;
            }
            tokio::task::yield_now().await;
        }
        shared.db.memory().refresh();
        // Expiries and evictions no command took: their notifications go now.
        let notify = shared.settings.load().notify_keyspace_events;
        if crate::notify::enabled(notify) {
            let events = shared.db.take_events();
            let limit = shared.settings.load().obuf_pubsub.hard;
            crate::notify::emit(
                &shared.pubsub,
                notify,
                limit,
                "",
                crate::resp::Args::new(&[], &[]),
                &events,
            );
        }
        let now = shared.clock.now_ms();
        let timeout = shared.settings.load().timeout;
        watched.check(&shared, now);
        if timeout > 0 && now.saturating_sub(last_idle_check) >= 1000 {
            last_idle_check = now;
            let n = shared.clients.kill_idle(now, timeout * 1000);
            if n > 0 {
                debug!(clients = n, "closed idle clients");
            }
        }
    }
}

/// A mounted file (a Secret: password, ACL users, TLS material) re-read once a
/// second by the cron. `reload` says whether what it read changed and was
/// installed, or why it cannot be used; a change is logged, a failure once
/// until its reason changes, and the previous value stays in use meanwhile.
struct Watch {
    what: &'static str,
    /// What a change does, for the log.
    effect: &'static str,
    checked_ms: u64,
    failing: Option<String>,
}

#[derive(Debug, PartialEq, Eq)]
enum Seen {
    Nothing,
    Changed,
    Failed,
}

impl Watch {
    fn new(what: &'static str, effect: &'static str) -> Watch {
        Watch {
            what,
            effect,
            checked_ms: 0,
            failing: None,
        }
    }

    fn poll(&mut self, now_ms: u64, reload: impl FnOnce() -> Result<bool, String>) -> Seen {
        if now_ms.saturating_sub(self.checked_ms) < 1000 {
            return Seen::Nothing;
        }
        self.checked_ms = now_ms;
        match reload() {
            Ok(changed) => {
                self.failing = None;
                if !changed {
                    return Seen::Nothing;
                }
                info!(file = self.what, "{} changed; {}", self.what, self.effect);
                Seen::Changed
            }
            Err(why) if self.failing.as_deref() != Some(why.as_str()) => {
                warn!(error = %why, "{} does not load; keeping the current one", self.what);
                self.failing = Some(why);
                Seen::Failed
            }
            Err(_) => Seen::Nothing,
        }
    }
}

/// The files the cron watches: the default user's password (new
/// authentications use a new one; connections already authenticated stay so,
/// as after CONFIG SET requirepass, and a password set with CONFIG SET stays
/// until the file itself changes), the ACL file (replaces the users as ACL LOAD
/// would) and the TLS material (see [`crate::tls::Tls::reload`]).
struct Watched {
    password: Watch,
    password_last: Option<String>,
    acl: Watch,
    acl_last: Option<Vec<u8>>,
    tls: Watch,
}

impl Watched {
    fn new(shared: &Shared) -> Watched {
        Watched {
            password: Watch::new("password file", "new authentications use the new password"),
            password_last: shared.settings.load().requirepass.clone(),
            acl: Watch::new("ACL file", "users reloaded"),
            acl_last: shared
                .config
                .aclfile
                .as_ref()
                .and_then(|p| std::fs::read(p).ok()),
            tls: Watch::new("TLS certificate files", "new connections use them"),
        }
    }

    fn check(&mut self, shared: &Shared, now_ms: u64) {
        if let Some(path) = &shared.config.requirepass_file {
            let last = &mut self.password_last;
            self.password.poll(now_ms, || {
                let pw = crate::config::read_password_file(path).map_err(|e| e.to_string())?;
                if last.as_deref() == Some(pw.as_str()) {
                    return Ok(false);
                }
                let mut next = (**shared.settings.load()).clone();
                next.requirepass = Some(pw.clone());
                shared.apply_settings(Arc::new(next), now_ms, &mut shared.db.lock_all());
                *last = Some(pw);
                Ok(true)
            });
        }
        if let Some(path) = &shared.config.aclfile {
            let last = &mut self.acl_last;
            self.acl.poll(now_ms, || {
                let text = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
                if last.as_ref() == Some(&text) {
                    return Ok(false);
                }
                let acl = crate::acl::Acl::parse(&String::from_utf8_lossy(&text))
                    .map_err(|e| e.to_string())?;
                shared.install_acl(acl);
                *last = Some(text);
                Ok(true)
            });
        }
        if let Some(tls) = &shared.tls {
            let outcome = match self
                .tls
                .poll(now_ms, || tls.reload().map_err(|e| e.to_string()))
            {
                Seen::Nothing => return,
                Seen::Changed => "ok",
                Seen::Failed => "error",
            };
            shared
                .metrics
                .tls_reloads
                .with_label_values(&[outcome])
                .inc();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Seen, Watch};

    #[test]
    fn a_watch_reads_once_a_second_and_reports_a_failure_once() {
        let mut w = Watch::new("test file", "applied");
        let reads = std::cell::Cell::new(0);
        let poll = |w: &mut Watch, at: u64, r: Result<bool, &str>| {
            w.poll(at, || {
                reads.set(reads.get() + 1);
                r.map_err(str::to_string)
            })
        };
        assert_eq!(poll(&mut w, 1000, Ok(true)), Seen::Changed);
        assert_eq!(poll(&mut w, 1500, Ok(true)), Seen::Nothing, "too soon");
        assert_eq!(poll(&mut w, 2000, Ok(false)), Seen::Nothing);
        assert_eq!(poll(&mut w, 3000, Err("bad")), Seen::Failed);
        assert_eq!(
            poll(&mut w, 4000, Err("bad")),
            Seen::Nothing,
            "reported once"
        );
        assert_eq!(
            poll(&mut w, 5000, Err("worse")),
            Seen::Failed,
            "a new reason"
        );
        assert_eq!(poll(&mut w, 6000, Ok(false)), Seen::Nothing);
        assert_eq!(
            poll(&mut w, 7000, Err("worse")),
            Seen::Failed,
            "failing again"
        );
        assert_eq!(reads.get(), 7);
    }
}
