//! The INFO text: Redis' sections and field names, so dashboards and tools that
//! parse INFO work unchanged. Counters come from the Prometheus metrics.

use crate::cmd::table;
use crate::config::Settings;
use crate::server::Shared;
use crate::util::size::human_bytes;
use std::fmt::Write;

const DEFAULT: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "cluster",
    "keyspace",
];
const ALL_EXTRA: &[&str] = &["commandstats"];

/// Which sections a request names (`default`, `all`, `everything` or names).
pub fn sections(asked: &[String]) -> Vec<&'static str> {
    if asked.is_empty() {
        return DEFAULT.to_vec();
    }
    let mut out: Vec<&'static str> = Vec::new();
    let mut add = |s: &'static str| {
        if !out.contains(&s) {
            out.push(s);
        }
    };
    for a in asked {
        match a.as_str() {
            "default" => DEFAULT.iter().for_each(|s| add(s)),
            "all" | "everything" => DEFAULT.iter().chain(ALL_EXTRA).for_each(|s| add(s)),
            other => {
                if let Some(s) = DEFAULT.iter().chain(ALL_EXTRA).find(|s| **s == other) {
                    add(s);
                }
            }
        }
    }
    out
}

fn cpu_seconds() -> (f64, f64) {
    // utime and stime are fields 14 and 15 of /proc/self/stat, in clock ticks.
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = after.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0) / 100.0;
    (tick(11), tick(12))
}

/// `keyspace`: the figures of the keyspace, read by the caller under its locks.
pub fn render(
    shared: &Shared,
    settings: &Settings,
    asked: &[String],
    now_ms: u64,
    keyspace: crate::store::KeyspaceStats,
) -> String {
    let m = &shared.metrics;
    let mem = shared.db.memory();
    let mut out = String::new();
    for (i, section) in sections(asked).into_iter().enumerate() {
        if i > 0 {
            out.push_str("\r\n");
        }
        let mut s = String::new();
        let mut kv = |k: &str, v: &dyn std::fmt::Display| {
            let _ = write!(s, "{k}:{v}\r\n");
        };
        match section {
            "server" => {
                let uptime = now_ms.saturating_sub(shared.started_ms) / 1000;
                kv(
                    "redis_version",
                    &crate::cmd::server::hello::REDIS_COMPAT_VERSION,
                );
                kv("shoal_version", &env!("CARGO_PKG_VERSION"));
                kv("redis_mode", &shared.mode());
                kv(
                    "os",
                    &format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
                );
                kv("arch_bits", &(usize::BITS));
                kv("multiplexing_api", &"epoll");
                kv("process_id", &std::process::id());
                kv("run_id", &shared.run_id);
                kv("tcp_port", &shared.config.port);
                kv("server_time_usec", &shared.clock.now_us());
                kv("uptime_in_seconds", &uptime);
                kv("uptime_in_days", &(uptime / 86400));
                kv("hz", &settings.hz);
                kv("io_threads_active", &shared.config.threads);
                kv(
                    "config_file",
                    &shared
                        .config
                        .config_file
                        .as_ref()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default(),
                );
            }
            "clients" => {
                kv("connected_clients", &shared.clients.len());
                kv("maxclients", &settings.maxclients);
                kv(
                    "blocked_clients",
                    &shared
                        .db
                        .blocked_clients
                        .load(std::sync::atomic::Ordering::Relaxed),
                );
                kv("tracking_clients", &0);
            }
            "memory" => {
                mem.refresh();
                let rss = crate::store::memory::process_rss().unwrap_or(0);
                let used = mem.allocated();
                kv("used_memory", &used);
                kv("used_memory_human", &human_bytes(used));
                kv("used_memory_rss", &rss);
                kv("used_memory_rss_human", &human_bytes(rss));
                kv("used_memory_peak", &mem.peak());
                kv("used_memory_peak_human", &human_bytes(mem.peak()));
                kv("used_memory_dataset", &mem.dataset());
                kv("used_memory_for_eviction", &mem.used());
                kv("allocator_resident", &mem.resident());
                kv("maxmemory", &settings.maxmemory);
                kv("maxmemory_human", &human_bytes(settings.maxmemory));
                kv("maxmemory_policy", &settings.maxmemory_policy.name());
                let frag = if used > 0 {
                    rss as f64 / used as f64
                } else {
                    0.0
                };
                kv("mem_fragmentation_ratio", &format!("{frag:.2}"));
                kv("mem_allocator", &"jemalloc-5.3.0");
                let lua = shared.scripts.lua_memory();
                kv("used_memory_lua", &lua);
                kv("used_memory_lua_human", &human_bytes(lua));
                kv("used_memory_vm_eval", &lua);
                kv("number_of_cached_scripts", &shared.scripts.len());
            }
            "persistence" => {
                let st = &shared.snapshots;
                kv("loading", &0);
                kv("async_loading", &0);
                kv("rdb_changes_since_last_save", &0);
                kv(
                    "rdb_bgsave_in_progress",
                    &u8::from(st.in_progress.load(std::sync::atomic::Ordering::Acquire)),
                );
                kv(
                    "rdb_last_save_time",
                    &st.last_save.load(std::sync::atomic::Ordering::Acquire),
                );
                kv(
                    "rdb_last_bgsave_status",
                    &if st.last_ok.load(std::sync::atomic::Ordering::Acquire) {
                        "ok"
                    } else {
                        "err"
                    },
                );
                kv(
                    "rdb_last_bgsave_time_sec",
                    &(st.last_save_ms.load(std::sync::atomic::Ordering::Acquire) / 1000),
                );
                kv(
                    "rdb_saves",
                    &st.saves.load(std::sync::atomic::Ordering::Acquire),
                );
                kv("aof_enabled", &0);
            }
            "stats" => {
                let st = keyspace;
                kv("total_connections_received", &m.connections_received.get());
                kv("total_commands_processed", &m.commands_processed.get());
                kv("total_net_input_bytes", &m.net_input_bytes.get());
                kv("total_net_output_bytes", &m.net_output_bytes.get());
                kv("rejected_connections", &m.rejected_connections.get());
                kv("expired_keys", &st.expired);
                kv("evicted_keys", &st.evicted);
                kv("keyspace_hits", &m.keyspace_hits.get());
                kv("keyspace_misses", &m.keyspace_misses.get());
                kv(
                    "total_error_replies",
                    &errors_by_command(shared).values().sum::<u64>(),
                );
                kv(
                    "client_output_buffer_limit_disconnections",
                    &m.output_limit_disconnects.get(),
                );
            }
            "replication" => shared.repl.info(&shared.db, now_ms, &mut |k, v| kv(k, v)),
            "cpu" => {
                let (user, sys) = cpu_seconds();
                kv("used_cpu_sys", &format!("{sys:.6}"));
                kv("used_cpu_user", &format!("{user:.6}"));
            }
            "cluster" => kv("cluster_enabled", &u8::from(shared.cluster.is_some())),
            "keyspace" => {
                let st = keyspace;
                if st.keys > 0 {
                    kv(
                        "db0",
                        &format!("keys={},expires={},avg_ttl=0", st.keys, st.expires),
                    );
                }
            }
            "commandstats" => {
                let errors = errors_by_command(shared);
                for (id, spec) in table::all().iter().enumerate() {
                    let Some((calls, secs)) = m.command_totals(id).filter(|(c, _)| *c > 0) else {
                        continue;
                    };
                    let usec = secs * 1e6;
                    let failed = errors.get(spec.name).copied().unwrap_or(0);
                    kv(
                        &format!("cmdstat_{}", spec.name),
                        &format!(
                            "calls={calls},usec={:.0},usec_per_call={:.2},rejected_calls=0,failed_calls={failed}",
                            usec,
                            usec / calls as f64
                        ),
                    );
                }
            }
            _ => {}
        }
        let title = match section {
            "cpu" => "CPU".to_string(),
            other => {
                let mut t = other.to_string();
                t[..1].make_ascii_uppercase();
                t
            }
        };
        let _ = write!(out, "# {title}\r\n{s}");
    }
    out
}

/// Error replies per command, read from the metric without creating children.
fn errors_by_command(shared: &Shared) -> std::collections::HashMap<String, u64> {
    use prometheus::core::Collector;
    let mut out = std::collections::HashMap::new();
    for family in shared.metrics.command_errors.collect() {
        for m in family.get_metric() {
            if let Some(label) = m.get_label().first() {
                out.insert(label.value().to_string(), m.get_counter().value() as u64);
            }
        }
    }
    out
}
