//! Prometheus metrics. The counters here are also what INFO reports, so the two
//! never disagree.
//!
//! The request path does not touch shared atomics per command: each connection
//! accumulates into [`LocalStats`] and flushes once per batch of pipelined
//! commands.

use prometheus::local::LocalHistogram;
use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry,
};
use std::sync::OnceLock;

pub struct Metrics {
    pub registry: Registry,
    /// Per command (index in the command table): latency histogram, created on
    /// first use so unused commands do not clutter the exposition.
    command_latency: Vec<OnceLock<Histogram>>,
    latency_vec: HistogramVec,
    command_names: Vec<String>,
    pub command_errors: IntCounterVec,
    pub keyspace_hits: IntCounter,
    pub keyspace_misses: IntCounter,
    pub expired_keys: IntCounter,
    pub evicted_keys: IntCounter,
    pub keys: IntGauge,
    pub expiring_keys: IntGauge,
    pub memory_used: IntGauge,
    pub memory_max: IntGauge,
    pub memory_dataset: IntGauge,
    pub memory_rss: IntGauge,
    pub connected_clients: IntGauge,
    pub connections_received: IntCounter,
    pub rejected_connections: IntCounter,
    pub net_input_bytes: IntCounter,
    pub net_output_bytes: IntCounter,
    pub commands_processed: IntCounter,
    pub oom_rejections: IntCounter,
    /// Lua scripts run (EVAL family), those that ended in an error, those
    /// stopped by SCRIPT KILL, and the time spent running them (µs).
    pub script_calls: IntCounter,
    pub script_errors: IntCounter,
    pub script_kills: IntCounter,
    pub script_seconds: prometheus::Counter,
    pub scripts_cached: IntGauge,
    pub protocol_errors: IntCounter,
    pub output_limit_disconnects: IntCounter,
    /// TLS handshakes that failed (bad or missing client certificate, wrong
    /// protocol, timeout).
    pub tls_handshake_failures: IntCounter,
    /// Certificate reloads, by result (ok, error).
    pub tls_reloads: IntCounterVec,
    /// Snapshots written, by result (ok, error); snapshots refused at start.
    pub snapshot_saves: IntCounterVec,
    pub snapshot_load_failures: IntCounter,
    pub cluster: ClusterMetrics,
    pub repl: ReplMetrics,
}

/// Replication metrics: offsets, lag, links and syncs.
pub struct ReplMetrics {
    /// 1 on a primary, 0 on a replica.
    pub primary: IntGauge,
    pub offset: IntGauge,
    pub connected_replicas: IntGauge,
    /// Bytes each replica still has to acknowledge, by replica name.
    pub replica_lag: IntGaugeVec,
    /// 1 while a replica's link to its primary is up.
    pub link_up: IntGauge,
    /// 1 while this replica refuses a primary that came back empty.
    pub primary_lost_data: IntGauge,
    pub full_syncs: IntCounter,
    pub partial_syncs: IntCounter,
    /// Promotions of this node: how long they waited for the old primary's
    /// last writes.
    pub takeover_seconds: prometheus::Histogram,
    /// Handovers this primary made, with its last write sent to a replica.
    pub handovers: IntCounter,
}

impl ReplMetrics {
    fn new(r: &Registry) -> ReplMetrics {
        let g = |n: &str, h: &str| IntGauge::new(n, h).expect("valid metric");
        let c = |n: &str, h: &str| IntCounter::new(n, h).expect("valid metric");
        let m = ReplMetrics {
            primary: g(
                "shoal_repl_primary",
                "1 when this node is a primary, 0 when a replica.",
            ),
            offset: g(
                "shoal_repl_offset",
                "Replication offset: bytes of the replication stream this node holds.",
            ),
            connected_replicas: g(
                "shoal_repl_connected_replicas",
                "Replicas attached to this primary.",
            ),
            replica_lag: IntGaugeVec::new(
                Opts::new(
                    "shoal_repl_replica_lag_bytes",
                    "Stream bytes a replica has not acknowledged yet, by replica.",
                ),
                &["replica"],
            )
            .expect("valid metric"),
            link_up: g(
                "shoal_repl_link_up",
                "1 while this replica's link to its primary is up.",
            ),
            primary_lost_data: g(
                "shoal_repl_primary_lost_data",
                "1 while this replica keeps its data because its primary restarted empty.",
            ),
            full_syncs: c(
                "shoal_repl_full_syncs_total",
                "Full resyncs (snapshots) served to replicas.",
            ),
            partial_syncs: c(
                "shoal_repl_partial_syncs_total",
                "Partial resyncs (from the backlog) served to replicas.",
            ),
            takeover_seconds: prometheus::Histogram::with_opts(
                prometheus::HistogramOpts::new(
                    "shoal_repl_takeover_seconds",
                    "Promotions of this node: how long its shard's commands waited for the old primary's last writes.",
                )
                .buckets(vec![0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0]),
            )
            .expect("valid metric"),
            handovers: c(
                "shoal_repl_handovers_total",
                "Replica links this primary closed after sending its last write and the handover offset.",
            ),
        };
        m.primary.set(1);
        for x in [
            &m.primary,
            &m.offset,
            &m.connected_replicas,
            &m.link_up,
            &m.primary_lost_data,
        ] {
            r.register(Box::new(x.clone())).expect("unique metric");
        }
        for x in [&m.full_syncs, &m.partial_syncs, &m.handovers] {
            r.register(Box::new(x.clone())).expect("unique metric");
        }
        r.register(Box::new(m.takeover_seconds.clone()))
            .expect("unique metric");
        r.register(Box::new(m.replica_lag.clone()))
            .expect("unique metric");
        m
    }
}

/// Cluster metrics: what this node holds of the topology and how it routes.
pub struct ClusterMetrics {
    pub epoch: IntGauge,
    /// Slots in each range, labelled with the range, its shard and its primary.
    pub slot_ranges: IntGaugeVec,
    /// Slots this node serves as a primary.
    pub owned_slots: IntGauge,
    pub peers: IntGauge,
    pub forwarded: IntCounter,
    pub forward_errors: IntCounter,
    pub redirects: IntCounterVec,
    pub refused_topologies: IntCounter,
    /// Commands told to retry because their slot's hand-over was not complete.
    pub import_waits: IntCounter,
    /// Keys copied in by slot imports (snapshots and the writes that followed).
    pub imported_keys: IntCounter,
    /// Slot ranges whose import completed, and imports restarted after a failure.
    pub imports_done: IntCounter,
    pub imports_restarted: IntCounter,
    /// Keys of slots this node no longer holds, deleted after a resize.
    pub cleaned_keys: IntCounter,
    /// Slot ranges this node handed over (its last write sent), and the time
    /// from the cutover document to the last byte.
    pub exports_released: IntCounter,
    pub handover_seconds: prometheus::Histogram,
}

impl ClusterMetrics {
    fn new(r: &Registry) -> ClusterMetrics {
        let m = ClusterMetrics {
            epoch: IntGauge::new(
                "shoal_cluster_topology_epoch",
                "Epoch of the topology this node holds (0: none yet).",
            )
            .expect("valid metric"),
            slot_ranges: IntGaugeVec::new(
                Opts::new(
                    "shoal_cluster_slot_range_slots",
                    "Slots in each range of the topology, by range, owning shard and primary.",
                ),
                &["range", "shard", "primary"],
            )
            .expect("valid metric"),
            owned_slots: IntGauge::new(
                "shoal_cluster_owned_slots",
                "Slots this node serves as a primary.",
            )
            .expect("valid metric"),
            peers: IntGauge::new(
                "shoal_cluster_peers",
                "Ready peer nodes seen by discovery (-1: discovery has not reported).",
            )
            .expect("valid metric"),
            forwarded: IntCounter::new(
                "shoal_cluster_forwarded_commands_total",
                "Commands forwarded to the owning node for plain clients.",
            )
            .expect("valid metric"),
            forward_errors: IntCounter::new(
                "shoal_cluster_forward_errors_total",
                "Forwarded commands that failed (peer unreachable or too slow).",
            )
            .expect("valid metric"),
            redirects: IntCounterVec::new(
                Opts::new(
                    "shoal_cluster_redirects_total",
                    "MOVED and ASK redirections sent to cluster-aware clients, by type.",
                ),
                &["type"],
            )
            .expect("valid metric"),
            refused_topologies: IntCounter::new(
                "shoal_cluster_topologies_refused_total",
                "Topology documents refused (unreadable, invalid, an older epoch, or conflicting).",
            )
            .expect("valid metric"),
            import_waits: IntCounter::new(
                "shoal_cluster_import_waits_total",
                "Commands answered TRYAGAIN because their slot was still being handed over to this node.",
            )
            .expect("valid metric"),
            imported_keys: IntCounter::new(
                "shoal_cluster_imported_keys_total",
                "Keys copied into this node by slot migrations (snapshot keys and streamed changes).",
            )
            .expect("valid metric"),
            imports_done: IntCounter::new(
                "shoal_cluster_imports_done_total",
                "Slot ranges whose migration into this node completed.",
            )
            .expect("valid metric"),
            imports_restarted: IntCounter::new(
                "shoal_cluster_imports_restarted_total",
                "Slot migrations into this node restarted from a new snapshot after a failure.",
            )
            .expect("valid metric"),
            cleaned_keys: IntCounter::new(
                "shoal_cluster_cleaned_keys_total",
                "Keys deleted because this node no longer holds their slot (after a resize, or an aborted one).",
            )
            .expect("valid metric"),
            exports_released: IntCounter::new(
                "shoal_cluster_exports_released_total",
                "Slot ranges this node handed over to a new owner.",
            )
            .expect("valid metric"),
            handover_seconds: prometheus::Histogram::with_opts(
                prometheus::HistogramOpts::new(
                    "shoal_cluster_handover_seconds",
                    "From applying a cutover document to sending the new owner the last write to the slots.",
                )
                .buckets(vec![0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5]),
            )
            .expect("valid metric"),
        };
        m.peers.set(-1);
        for c in [
            &m.import_waits,
            &m.imported_keys,
            &m.imports_done,
            &m.imports_restarted,
            &m.cleaned_keys,
            &m.exports_released,
        ] {
            r.register(Box::new(c.clone())).expect("unique metric");
        }
        r.register(Box::new(m.handover_seconds.clone()))
            .expect("unique metric");
        for c in [&m.forwarded, &m.forward_errors, &m.refused_topologies] {
            r.register(Box::new(c.clone())).expect("unique metric");
        }
        for g in [&m.epoch, &m.owned_slots, &m.peers] {
            r.register(Box::new(g.clone())).expect("unique metric");
        }
        r.register(Box::new(m.slot_ranges.clone()))
            .expect("unique metric");
        r.register(Box::new(m.redirects.clone()))
            .expect("unique metric");
        m
    }

    pub fn record_view(&self, view: &crate::cluster::View) {
        self.epoch.set(view.epoch() as i64);
        self.slot_ranges.reset();
        let mut owned = 0;
        for (i, shard) in view.topology.shards.iter().enumerate() {
            for r in &shard.slots {
                self.slot_ranges
                    .with_label_values(&[&r.to_string(), &i.to_string(), &shard.primary.name])
                    .set(r.len() as i64);
                if view.me
                    == Some(crate::cluster::topology::Me {
                        shard: i,
                        primary: true,
                    })
                {
                    owned += r.len();
                }
            }
        }
        self.owned_slots.set(owned as i64);
    }
}

/// Latency buckets from 10µs to 1s: in-memory commands are mostly microseconds.
const LATENCY_BUCKETS: &[f64] = &[
    0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1, 0.25, 0.5, 1.0,
];

impl Metrics {
    /// Registers every metric. `commands` are the names of the command table, in
    /// table order.
    pub fn new(commands: &[&str]) -> Metrics {
        let registry = Registry::new();
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "shoal_command_duration_seconds",
                "Time to execute a command, by command (subcommands as parent|sub).",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["command"],
        )
        .expect("valid metric");
        let command_latency = commands.iter().map(|_| OnceLock::new()).collect();
        let command_errors = IntCounterVec::new(
            Opts::new(
                "shoal_command_errors_total",
                "Commands that replied with an error, by command.",
            ),
            &["command"],
        )
        .expect("valid metric");
        fn counter(name: &str, help: &str) -> IntCounter {
            IntCounter::new(name, help).expect("valid metric")
        }
        fn gauge(name: &str, help: &str) -> IntGauge {
            IntGauge::new(name, help).expect("valid metric")
        }
        let m = Metrics {
            command_latency,
            latency_vec: latency.clone(),
            command_names: commands.iter().map(|c| c.to_string()).collect(),
            command_errors,
            keyspace_hits: counter(
                "shoal_keyspace_hits_total",
                "Key lookups that found the key.",
            ),
            keyspace_misses: counter(
                "shoal_keyspace_misses_total",
                "Key lookups that found no key.",
            ),
            expired_keys: counter(
                "shoal_expired_keys_total",
                "Keys removed because their TTL passed.",
            ),
            evicted_keys: counter(
                "shoal_evicted_keys_total",
                "Keys evicted to stay under maxmemory.",
            ),
            keys: gauge("shoal_keys", "Keys in the keyspace."),
            expiring_keys: gauge("shoal_expiring_keys", "Keys with a TTL."),
            memory_used: gauge(
                "shoal_memory_used_bytes",
                "Bytes allocated by the node (INFO used_memory).",
            ),
            memory_max: gauge(
                "shoal_memory_max_bytes",
                "The maxmemory setting (0: unlimited).",
            ),
            memory_dataset: gauge(
                "shoal_memory_dataset_bytes",
                "Estimated bytes held by keys and values.",
            ),
            memory_rss: gauge(
                "shoal_memory_rss_bytes",
                "Resident set size of the process.",
            ),
            connected_clients: gauge("shoal_connected_clients", "Client connections open now."),
            connections_received: counter(
                "shoal_connections_received_total",
                "Client connections accepted.",
            ),
            rejected_connections: counter(
                "shoal_rejected_connections_total",
                "Client connections refused because of maxclients.",
            ),
            net_input_bytes: counter("shoal_net_input_bytes_total", "Bytes read from clients."),
            net_output_bytes: counter("shoal_net_output_bytes_total", "Bytes written to clients."),
            commands_processed: counter("shoal_commands_processed_total", "Commands executed."),
            oom_rejections: counter(
                "shoal_oom_rejections_total",
                "Writes refused with -OOM at maxmemory.",
            ),
            script_calls: counter(
                "shoal_script_calls_total",
                "Lua scripts run (EVAL, EVALSHA and their _RO forms).",
            ),
            script_errors: counter(
                "shoal_script_errors_total",
                "Lua scripts that ended in an error reply.",
            ),
            script_kills: counter(
                "shoal_script_kills_total",
                "Lua scripts stopped by SCRIPT KILL.",
            ),
            script_seconds: prometheus::Counter::new(
                "shoal_script_run_seconds_total",
                "Time spent running Lua scripts.",
            )
            .expect("valid metric"),
            scripts_cached: gauge("shoal_scripts_cached", "Scripts in the script cache."),
            protocol_errors: counter(
                "shoal_protocol_errors_total",
                "Connections closed for a malformed request.",
            ),
            output_limit_disconnects: counter(
                "shoal_output_buffer_disconnects_total",
                "Clients closed for exceeding the output buffer limit.",
            ),
            tls_handshake_failures: counter(
                "shoal_tls_handshake_failures_total",
                "TLS handshakes with clients that failed.",
            ),
            tls_reloads: IntCounterVec::new(
                Opts::new(
                    "shoal_tls_reloads_total",
                    "Certificate files re-read after they changed, by result (ok, error).",
                ),
                &["result"],
            )
            .expect("valid metric"),
            snapshot_saves: IntCounterVec::new(
                Opts::new(
                    "shoal_snapshot_saves_total",
                    "Snapshots written to dir, by result (ok, error).",
                ),
                &["result"],
            )
            .expect("valid metric"),
            snapshot_load_failures: counter(
                "shoal_snapshot_load_failures_total",
                "Snapshots refused at start (truncated, corrupt, unreadable): the node started empty and set the file aside.",
            ),
            cluster: ClusterMetrics::new(&registry),
            repl: ReplMetrics::new(&registry),
            registry,
        };
        let r = &m.registry;
        let register =
            |c: Box<dyn prometheus::core::Collector>| r.register(c).expect("unique metric");
        register(Box::new(latency));
        register(Box::new(m.command_errors.clone()));
        register(Box::new(m.tls_reloads.clone()));
        register(Box::new(m.snapshot_saves.clone()));
        register(Box::new(m.script_seconds.clone()));
        for c in [
            &m.keyspace_hits,
            &m.keyspace_misses,
            &m.expired_keys,
            &m.evicted_keys,
            &m.connections_received,
            &m.rejected_connections,
            &m.net_input_bytes,
            &m.net_output_bytes,
            &m.commands_processed,
            &m.oom_rejections,
            &m.script_calls,
            &m.script_errors,
            &m.script_kills,
            &m.protocol_errors,
            &m.output_limit_disconnects,
            &m.tls_handshake_failures,
            &m.snapshot_load_failures,
        ] {
            register(Box::new(c.clone()));
        }
        for g in [
            &m.keys,
            &m.expiring_keys,
            &m.memory_used,
            &m.memory_max,
            &m.memory_dataset,
            &m.memory_rss,
            &m.connected_clients,
            &m.scripts_cached,
        ] {
            register(Box::new(g.clone()));
        }
        let build = IntGauge::with_opts(
            Opts::new(
                "shoal_build_info",
                "Build information; the value is always 1.",
            )
            .const_label("version", env!("CARGO_PKG_VERSION")),
        )
        .expect("valid metric");
        build.set(1);
        register(Box::new(build));
        #[cfg(target_os = "linux")]
        register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ));
        m
    }

    /// The latency histogram of command `id`.
    pub fn latency(&self, id: usize) -> &Histogram {
        self.command_latency[id].get_or_init(|| {
            self.latency_vec
                .with_label_values(&[&self.command_names[id]])
        })
    }

    /// Calls and total seconds of command `id`, if it has run.
    pub fn command_totals(&self, id: usize) -> Option<(u64, f64)> {
        self.command_latency[id]
            .get()
            .map(|h| (h.get_sample_count(), h.get_sample_sum()))
    }

    /// Brings a counter kept elsewhere (in the store) up to `total`.
    pub fn catch_up(counter: &IntCounter, total: u64) {
        let now = counter.get();
        if total > now {
            counter.inc_by(total - now);
        }
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        render(&self.registry)
    }
}

pub use shoal_core::metrics::render;

/// Per-connection counters, flushed to [`Metrics`] once per batch.
pub struct LocalStats {
    pub hits: u64,
    pub misses: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub commands: u64,
    latency: Vec<Option<LocalHistogram>>,
    dirty: Vec<usize>,
}

impl LocalStats {
    pub fn new(commands: usize) -> LocalStats {
        LocalStats {
            hits: 0,
            misses: 0,
            bytes_in: 0,
            bytes_out: 0,
            commands: 0,
            latency: (0..commands).map(|_| None).collect(),
            dirty: Vec::new(),
        }
    }

    pub fn hit(&mut self, found: bool) {
        if found {
            self.hits += 1;
        } else {
            self.misses += 1;
        }
    }

    pub fn observe(&mut self, metrics: &Metrics, command: usize, seconds: f64) {
        self.commands += 1;
        let slot = &mut self.latency[command];
        let h = slot.get_or_insert_with(|| metrics.latency(command).local());
        h.observe(seconds);
        if !self.dirty.contains(&command) {
            self.dirty.push(command);
        }
    }

    pub fn flush(&mut self, m: &Metrics) {
        for (n, c) in [
            (&mut self.hits, &m.keyspace_hits),
            (&mut self.misses, &m.keyspace_misses),
            (&mut self.bytes_in, &m.net_input_bytes),
            (&mut self.bytes_out, &m.net_output_bytes),
            (&mut self.commands, &m.commands_processed),
        ] {
            if *n > 0 {
                c.inc_by(*n);
                *n = 0;
            }
        }
        for i in self.dirty.drain(..) {
            if let Some(h) = &self.latency[i] {
                h.flush();
            }
        }
    }
}

impl Drop for LocalStats {
    fn drop(&mut self) {
        for h in self.latency.iter().flatten() {
            h.flush();
        }
    }
}
