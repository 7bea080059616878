//! `shoal-node`: run a cache node.
#![forbid(unsafe_code)]

use anyhow::Context;
use clap::Parser;
use shoal_node::config::{Config, Options};
use shoal_node::Node;
use std::path::PathBuf;
use tracing::info;

// jemalloc: fast with many threads, little fragmentation, and it reports the
// allocated bytes that INFO and eviction use.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(
    name = "shoal-node",
    version,
    about = "Shoal cache node: a Redis-protocol in-memory cache",
    long_about = "Shoal cache node: a Redis-protocol in-memory cache.\n\n\
        Every option can also be set by an environment variable (SHOAL_<NAME>, e.g. \
        SHOAL_MAXMEMORY) or by the YAML file given with --config, whose keys are the \
        option names (e.g. `maxmemory: 100mb`). Flags win over the environment, which \
        wins over the file."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Sub>,
    /// YAML file of options (keys as the flags, e.g. `maxmemory-policy: allkeys-lru`).
    #[arg(long, env = "SHOAL_CONFIG")]
    config: Option<PathBuf>,
    #[command(flatten)]
    options: Options,
}

#[derive(clap::Subcommand)]
enum Sub {
    /// Start a cluster of separate node processes on 127.0.0.1 (or stop one with
    /// --stop). Node i (primaries first, then replicas) gets client port
    /// base-port+i, forwarding port base-port+1000+i and admin port
    /// base-port+2000+i. Returns once every slot is served.
    LocalCluster(LocalCluster),
}

#[derive(clap::Args)]
struct LocalCluster {
    #[arg(long, default_value_t = 3)]
    shards: usize,
    /// Replicas per shard.
    #[arg(long, default_value_t = 0)]
    replicas: usize,
    #[arg(long, default_value_t = 7000)]
    base_port: u16,
    /// Directory for the topology file, pid files and logs.
    #[arg(long)]
    dir: PathBuf,
    /// Stop the cluster running in --dir.
    #[arg(long)]
    stop: bool,
    /// Resize the cluster running in --dir to --shards shards, moving slots
    /// with their keys while it serves (continues an interrupted resize).
    #[arg(long, conflicts_with = "stop")]
    reshard: bool,
    /// Restart every node of the cluster running in --dir, one at a time:
    /// replicas first, then each primary by a handover to an updated
    /// replica. Prints each shard's longest write pause and checks no
    /// acknowledged write was lost. --timeout bounds each node's return.
    #[arg(long, conflicts_with_all = ["stop", "reshard"])]
    rolling_restart: bool,
    /// With --rolling-restart: shards restarted at the same time.
    #[arg(long, default_value_t = 1, requires = "rolling_restart")]
    max_concurrent_shards: usize,
    /// With --reshard: stop after publishing this many steps (to test that
    /// an interrupted resize continues).
    #[arg(long, hide = true, requires = "reshard")]
    max_steps: Option<usize>,
    /// Seconds to wait for every slot to be served.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
    /// Do not start the supervisor (no failover, no restarts).
    #[arg(long)]
    no_supervisor: bool,
    /// A primary unreachable this long (ms) is replaced by a replica.
    #[arg(long, default_value_t = 1000)]
    down_after_ms: u64,
    /// Run as the supervisor of the cluster in --dir (started by local-cluster).
    #[arg(long, hide = true)]
    supervise: bool,
    /// Serve TLS only, with this certificate for every node (it must name
    /// 127.0.0.1); links and probes use TLS too. Needs the key and CA files.
    #[arg(long, requires_all = ["tls_key_file", "tls_ca_cert_file"])]
    tls_cert_file: Option<PathBuf>,
    #[arg(long, requires = "tls_cert_file")]
    tls_key_file: Option<PathBuf>,
    /// The CA that node, peer and client certificates chain to.
    #[arg(long, requires = "tls_cert_file")]
    tls_ca_cert_file: Option<PathBuf>,
    /// Options for every node, after `--` (e.g. `-- --maxmemory 100mb`).
    #[arg(last = true)]
    node_options: Vec<String>,
}

fn local_cluster(a: LocalCluster) -> anyhow::Result<()> {
    use shoal_node::cluster::local;
    if a.stop {
        let n = local::stop(&a.dir)?;
        println!("stopped {n} nodes in {}", a.dir.display());
        return Ok(());
    }
    let tls = match (&a.tls_cert_file, &a.tls_key_file, &a.tls_ca_cert_file) {
        (Some(cert), Some(key), Some(ca)) => Some(local::LocalTls::new(cert, key, ca)?),
        _ => None,
    };
    if a.supervise {
        let dir = a.dir.canonicalize()?;
        let policy = shoal_node::cluster::failover::Policy {
            down_after_ms: a.down_after_ms,
        };
        shoal_node::cluster::supervisor::run(&dir, &a.node_options, tls.as_ref(), policy)?;
        return Ok(());
    }
    if a.rolling_restart {
        let start = std::time::Instant::now();
        let done = local::rolling_restart(
            &a.dir,
            std::time::Duration::from_secs(a.timeout),
            tls.as_ref(),
            a.max_concurrent_shards,
            |step| println!("[{:>7.3}s] {step}", start.elapsed().as_secs_f64()),
        )?;
        let mut lost = 0;
        for s in &done.shards {
            println!(
                "shard {}: restarted {} nodes, longest write pause {:.1} ms (ended at {:.3}s), {} writes acknowledged, {} lost",
                s.shard,
                s.restarted.len(),
                s.longest_pause.as_secs_f64() * 1000.0,
                s.longest_pause_at.as_secs_f64(),
                s.writes,
                s.lost
            );
            lost += s.lost;
        }
        println!(
            "rolling restart done in {:.3} s",
            done.elapsed.as_secs_f64()
        );
        if lost > 0 {
            anyhow::bail!("{lost} acknowledged writes were lost");
        }
        return Ok(());
    }
    if a.reshard {
        let start = std::time::Instant::now();
        let done = local::reshard(
            &a.dir,
            a.shards,
            std::time::Duration::from_secs(a.timeout),
            tls.as_ref(),
            a.max_steps,
            |step| println!("[{:>7.3}s] {step}", start.elapsed().as_secs_f64()),
        )?;
        println!(
            "resharded to {} shards: {} slots moved, {} keys and changes copied, in {:.3} s",
            done.shards,
            done.slots_moved,
            done.keys_copied,
            done.elapsed.as_secs_f64()
        );
        return Ok(());
    }
    let nodes = local::start(
        &local::Options {
            shards: a.shards,
            replicas: a.replicas,
            base_port: a.base_port,
            extra: a.node_options.clone(),
            timeout: std::time::Duration::from_secs(a.timeout),
            supervise: !a.no_supervisor,
            down_after: std::time::Duration::from_millis(a.down_after_ms),
            tls: tls.clone(),
        },
        &a.dir,
    )?;
    println!(
        "local cluster up: {} shards, {} replicas each, every slot served",
        a.shards, a.replicas
    );
    for n in &nodes {
        println!(
            "  {}  client 127.0.0.1:{}  forwarding :{}  admin http://127.0.0.1:{}/metrics",
            n.name, n.port, n.forward_port, n.admin_port
        );
    }
    let tls_args = match &tls {
        Some(t) => format!(
            "--tls --cacert {} --cert {} --key {} ",
            t.ca_cert_file.display(),
            t.cert_file.display(),
            t.key_file.display()
        ),
        None => String::new(),
    };
    println!(
        "try: redis-cli {tls_args}-c -p {}    stop: shoal-node local-cluster --dir {} --stop",
        a.base_port,
        a.dir.display()
    );
    Ok(())
}

async fn terminated() -> anyhow::Result<&'static str> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("installing SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing SIGINT handler")?;
    Ok(tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    })
}

/// jemalloc's settings for a cache: purge in the background, as Redis does
/// (jemalloc-bg-thread), and give freed pages back within a second instead of
/// jemalloc's default ten. Measured after loading 1M keys: RSS 235 MiB at 1 s,
/// 197 MiB at 10 s with the defaults; 196 MiB at 1 s with these (redis-server:
/// 210 MiB), so a pod's memory limit no longer sees a peak.
const MALLOC_CONF: &str = "background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0";
/// Where jemalloc (prefixed `_rjem_` by tikv-jemalloc-sys) reads its options.
const MALLOC_CONF_VAR: &str = "_RJEM_MALLOC_CONF";

/// The decay can only be chosen before the first allocation, by the
/// `malloc_conf` symbol (defining it takes unsafe code, which this crate
/// forbids) or by the environment, so the node runs itself again once with
/// the variable set. A value the user set is kept as it is.
fn with_allocator_settings() {
    use std::os::unix::process::CommandExt;
    if std::env::var_os(MALLOC_CONF_VAR).is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let mut args = std::env::args_os();
    let arg0 = args.next().unwrap_or_else(|| exe.clone().into_os_string());
    let err = std::process::Command::new(&exe)
        .arg0(arg0)
        .args(args)
        .env(MALLOC_CONF_VAR, MALLOC_CONF)
        .exec();
    eprintln!(
        "warning: could not restart with allocator settings ({err}); using jemalloc's defaults"
    );
}

fn main() -> anyhow::Result<()> {
    with_allocator_settings();
    let cli = Cli::parse();
    if let Some(Sub::LocalCluster(a)) = cli.command {
        return local_cluster(a);
    }
    let file = match &cli.config {
        Some(path) => Options::from_yaml_file(path)?,
        None => Options::default(),
    };
    let mut config = Config::from_options(&cli.options.over(file))?;
    config.config_file = cli.config;
    shoal_node::logging::init(config.log_json);
    // Let jemalloc return freed pages to the OS in the background, as Redis does
    // (jemalloc-bg-thread), also when the user's own _RJEM_MALLOC_CONF leaves
    // it out: otherwise an idle node keeps them resident.
    if let Err(e) = tikv_jemalloc_ctl::background_thread::write(true) {
        tracing::warn!(error = %e, "could not enable jemalloc background purging");
    }
    // This runtime handles signals, the admin port and background work; client
    // I/O runs on the node's own threads (one per --threads).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .thread_name("shoal-control")
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async move {
        let (bind, port, tls, admin) = (
            config.bind.clone(),
            config.port,
            config.tls_port,
            config.admin_port,
        );
        let node = Node::start(config).await.with_context(|| {
            format!("starting on {bind} (port {port}, tls-port {tls}, admin port {admin})")
        })?;
        info!(
            addr = %node.addr,
            admin = %node.admin_addr.map(|a| a.to_string()).unwrap_or_else(|| "off".into()),
            version = env!("CARGO_PKG_VERSION"),
            "shoal-node ready"
        );
        let signal = terminated().await?;
        info!(signal, "shutting down");
        node.hand_over().await;
        node.shutdown().await;
        Ok(())
    })
}
