//! `shoal-node`: run a cache node.

use anyhow::{bail, Context};
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
    /// YAML file of options (keys as the flags, e.g. `maxmemory-policy: allkeys-lru`).
    #[arg(long, env = "SHOAL_CONFIG")]
    config: Option<PathBuf>,
    #[command(flatten)]
    options: Options,
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

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let file = match &cli.config {
        Some(path) => Options::from_yaml_file(path)?,
        None => Options::default(),
    };
    let mut config = Config::from_options(cli.options.over(file))?;
    config.config_file = cli.config;
    shoal_node::logging::init(config.log_json);
    // Let jemalloc return freed pages to the OS in the background, as Redis does
    // (jemalloc-bg-thread): otherwise an idle node keeps them resident.
    if let Err(e) = tikv_jemalloc_ctl::background_thread::write(true) {
        tracing::warn!(error = %e, "could not enable jemalloc background purging");
    }
    if config.port == 0 {
        bail!("--port 0 leaves no port to listen on");
    }
    // This runtime handles signals, the admin port and background work; client
    // I/O runs on the node's own threads (one per --threads).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .thread_name("shoal-control")
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async move {
        let (bind, port, admin) = (config.bind.clone(), config.port, config.admin_port);
        let node = Node::start(config)
            .await
            .with_context(|| format!("listening on {bind}:{port} (admin port {admin})"))?;
        info!(
            addr = %node.addr,
            admin = %node.admin_addr.map(|a| a.to_string()).unwrap_or_else(|| "off".into()),
            version = env!("CARGO_PKG_VERSION"),
            "shoal-node ready"
        );
        let signal = terminated().await?;
        info!(signal, "shutting down");
        node.shutdown().await;
        Ok(())
    })
}
