//! `shoal-operator`: run the operator, print the CRD, or render a cluster's
//! objects offline.
#![forbid(unsafe_code)]

use anyhow::{bail, Context as _};
use clap::{Args, Parser, Subcommand};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use kube::runtime::{watcher, Controller};
use kube::{Api, Client, CustomResourceExt};
use shoal_core::cluster::failover::Policy;
use shoal_operator::crd::CacheCluster;
use shoal_operator::failover::{self, Failover};
use shoal_operator::metrics::Metrics;
use shoal_operator::reconcile::{self, Context};
use shoal_operator::render::{self, Inputs};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tracing::{error, info, warn};

#[derive(Parser)]
#[command(
    name = "shoal-operator",
    version,
    about = "Shoal operator: CacheCluster resources into cache node StatefulSets"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Run the operator (the default).
    Run(RunArgs),
    /// Print the CacheCluster CustomResourceDefinition.
    Crd,
    /// Print, offline, every object the operator would apply for the
    /// CacheCluster(s) in a YAML file.
    Render {
        /// A YAML file of one or more CacheClusters ("-" for standard input).
        #[arg(short = 'f', long)]
        file: PathBuf,
        /// Namespace for clusters that name none.
        #[arg(short = 'n', long, default_value = "default")]
        namespace: String,
        /// Render a ServiceMonitor as if the Prometheus Operator API exists.
        #[arg(long)]
        service_monitor_api: bool,
    },
}

#[derive(Args, Clone)]
struct RunArgs {
    /// Namespace to watch; all namespaces when empty.
    #[arg(long, env = "WATCH_NAMESPACE", default_value = "")]
    watch_namespace: String,
    /// Address of the admin HTTP server (/metrics, /healthz, /readyz).
    #[arg(
        long,
        env = "SHOAL_OPERATOR_ADMIN_ADDR",
        default_value = "0.0.0.0:8080"
    )]
    admin_addr: SocketAddr,
    /// Elect a leader through a Lease, so several replicas can run safely.
    #[arg(long, env = "SHOAL_OPERATOR_LEADER_ELECTION", default_value_t = true, action = clap::ArgAction::Set)]
    leader_election: bool,
    /// The Lease's name.
    #[arg(
        long,
        env = "SHOAL_OPERATOR_LEASE_NAME",
        default_value = "shoal-operator"
    )]
    lease_name: String,
    /// The Lease's namespace (the operator's own namespace in a pod).
    #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
    lease_namespace: String,
    /// This replica's identity in the Lease (the pod name in a pod).
    #[arg(long, env = "POD_NAME")]
    identity: Option<String>,
    /// Time between failover probe rounds (every node of every cluster with
    /// replicas is probed once per round).
    #[arg(
        long,
        env = "SHOAL_OPERATOR_FAILOVER_INTERVAL_MS",
        default_value_t = 500
    )]
    failover_interval_ms: u64,
    /// A primary unreachable this long is replaced by its best synced replica.
    #[arg(
        long,
        env = "SHOAL_OPERATOR_FAILOVER_DOWN_AFTER_MS",
        default_value_t = 2000
    )]
    failover_down_after_ms: u64,
    /// Log format: text or json; the level comes from RUST_LOG.
    #[arg(long, env = "SHOAL_OPERATOR_LOG_FORMAT", default_value = "text")]
    log_format: String,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Crd) => {
            print!("{}", crd_yaml()?);
            Ok(())
        }
        Some(Command::Render {
            file,
            namespace,
            service_monitor_api,
        }) => render_file(&file, &namespace, service_monitor_api),
        Some(Command::Run(args)) => run(args),
        None => run(cli.run),
    }
}

fn crd_yaml() -> anyhow::Result<String> {
    Ok(serde_yaml::to_string(&CacheCluster::crd())?)
}

fn render_file(file: &PathBuf, namespace: &str, service_monitor_api: bool) -> anyhow::Result<()> {
    let text = if file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())?
    } else {
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?
    };
    let mut out = String::new();
    for (i, doc) in serde_yaml::Deserializer::from_str(&text).enumerate() {
        let value =
            serde_yaml::Value::deserialize(doc).with_context(|| format!("document {}", i + 1))?;
        if value.is_null() {
            continue;
        }
        let mut cc: CacheCluster = serde_yaml::from_value(value)
            .with_context(|| format!("document {} is not a CacheCluster", i + 1))?;
        if cc.metadata.namespace.is_none() {
            cc.metadata.namespace = Some(namespace.to_string());
        }
        let inputs = Inputs {
            service_monitor_api,
            ..Inputs::default()
        };
        let desired = render::desired(&cc, &inputs).map_err(|e| {
            anyhow::anyhow!("{}: {e}", cc.metadata.name.clone().unwrap_or_default())
        })?;
        if let Some(s) = &desired.auth_secret {
            // Its password is generated by the operator when it applies; a random
            // value printed here would never match, and belongs in no repository.
            eprintln!(
                "note: Secret {} (generated password) is created by the operator at apply time and not printed",
                s.metadata.name.clone().unwrap_or_default()
            );
        }
        for v in desired.to_values() {
            if v["kind"] == "Secret" && desired.auth_secret.is_some() {
                continue;
            }
            out.push_str("---\n");
            out.push_str(&serde_yaml::to_string(&v)?);
        }
    }
    if out.is_empty() {
        bail!("{}: no CacheCluster found", file.display());
    }
    print!("{out}");
    Ok(())
}

use serde::Deserialize;

fn run(args: RunArgs) -> anyhow::Result<()> {
    shoal_core::logging::init(args.log_format == "json");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(run_async(args))
}

async fn run_async(args: RunArgs) -> anyhow::Result<()> {
    let client = Client::try_default()
        .await
        .context("connecting to Kubernetes (in-cluster config or KUBECONFIG)")?;
    let metrics = Arc::new(Metrics::default());
    let ready = Arc::new(AtomicBool::new(false));
    let admin = tokio::spawn(shoal_operator::admin::serve(
        args.admin_addr,
        metrics.clone(),
        ready.clone(),
    ));
    info!(addr = %args.admin_addr, "admin server listening");

    // Leadership: only the Lease holder reconciles. A replica that loses the
    // Lease exits, so it can never act on a stale view next to the new leader.
    let mut lease = None;
    if args.leader_election {
        let identity = args
            .identity
            .clone()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .unwrap_or_else(|| format!("shoal-operator-{}", std::process::id()));
        let manager =
            kube_lease_manager::LeaseManagerBuilder::new(client.clone(), &args.lease_name)
                .with_namespace(&args.lease_namespace)
                .with_identity(&identity)
                .with_duration(15)
                .with_grace(5)
                .build()
                .await
                .context("preparing leader election")?;
        let (mut channel, task) = manager.watch().await;
        ready.store(true, Ordering::Release);
        info!(lease = %args.lease_name, %identity, "waiting for leadership");
        shoal_operator::leader::acquired(&mut channel)
            .await
            .context("leader election stopped")?;
        info!("leading: starting the controller");
        metrics.leader.set(1);
        let watch = channel.clone();
        let watcher = tokio::spawn(async move {
            shoal_operator::leader::lost(watch).await;
            error!("lost the leader Lease: exiting");
            std::process::exit(1);
        });
        lease = Some((channel, task, watcher));
    } else {
        ready.store(true, Ordering::Release);
    }

    let (clusters, sets, services, configs): (
        Api<CacheCluster>,
        Api<StatefulSet>,
        Api<Service>,
        Api<ConfigMap>,
    ) = if args.watch_namespace.is_empty() {
        (
            Api::all(client.clone()),
            Api::all(client.clone()),
            Api::all(client.clone()),
            Api::all(client.clone()),
        )
    } else {
        let ns = args.watch_namespace.as_str();
        (
            Api::namespaced(client.clone(), ns),
            Api::namespaced(client.clone(), ns),
            Api::namespaced(client.clone(), ns),
            Api::namespaced(client.clone(), ns),
        )
    };
    let owned = watcher::Config::default().labels("app.kubernetes.io/managed-by=shoal-operator");
    let ctx = Arc::new(Context::new(client.clone(), metrics.clone()));
    let controller = Controller::new(clusters, watcher::Config::default())
        .owns(sets, owned.clone())
        .owns(services, owned.clone())
        .owns(configs, owned);
    // Only the leader runs it, as only the leader reconciles: one writer of
    // each topology.
    let failover = tokio::spawn(
        Failover::new(
            ctx.clone(),
            failover::Settings {
                interval: Duration::from_millis(args.failover_interval_ms.max(50)),
                policy: Policy {
                    down_after_ms: args.failover_down_after_ms,
                },
            },
        )
        .run(controller.store()),
    );
    controller
        .shutdown_on_signal()
        .run(reconcile::reconcile, reconcile::error_policy, ctx)
        .for_each(|result| async move {
            if let Err(e) = result {
                warn!(error = %e, "controller");
            }
        })
        .await;
    info!("controller stopped");
    failover.abort();
    metrics.leader.set(0);
    if let Some((channel, task, watcher)) = lease {
        // The loss watcher holds a receiver too: stop it first, or the manager
        // never sees the channel close (and releasing would look like a loss).
        watcher.abort();
        let _ = watcher.await;
        // Closing the channel makes the manager release the Lease for the next leader.
        drop(channel);
        if let Ok(Ok(manager)) = task.await {
            let _ = manager.release().await;
        }
    }
    admin.abort();
    Ok(())
}
