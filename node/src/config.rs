//! Configuration: one set of options read from flags, `SHOAL_*` environment
//! variables and a YAML file (in that order of precedence), resolved into the
//! startup [`Config`] and the runtime [`Settings`] that CONFIG GET/SET read and
//! change.
//!
//! Names follow Redis (`maxmemory-policy`, `proto-max-bulk-len`…) so that the flag,
//! the YAML key and the CONFIG parameter are the same word.

use crate::store::Policy;
use crate::util::size::{format_memory, parse_memory};
use serde::Deserialize;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// A byte size written as Redis does: `100mb`, `1gb`, `4096`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct MemSize(pub u64);

impl FromStr for MemSize {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_memory(s)
            .map(MemSize)
            .ok_or_else(|| format!("'{s}' is not a memory size (e.g. 100mb, 2gb, 4096)"))
    }
}

impl<'de> Deserialize<'de> for MemSize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Int(n) => Ok(MemSize(n)),
            Raw::Text(s) => s.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// Every option, all optional so sources can be layered. Used both as clap
/// arguments and as the YAML file's schema.
#[derive(clap::Args, Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Options {
    /// Address to listen on for clients.
    #[arg(long, env = "SHOAL_BIND")]
    pub bind: Option<String>,
    /// Client port (RESP). 6379 by default; 0 turns plaintext off (serve
    /// clients on the TLS port only).
    #[arg(long, env = "SHOAL_PORT")]
    pub port: Option<u16>,
    /// Address of the admin HTTP server (metrics, health).
    #[arg(long, env = "SHOAL_ADMIN_BIND")]
    pub admin_bind: Option<String>,
    /// Admin HTTP port: /metrics, /healthz, /readyz. 9379 by default; 0 disables it.
    #[arg(long, env = "SHOAL_ADMIN_PORT")]
    pub admin_port: Option<u16>,
    /// Memory limit for the dataset, e.g. 100mb; 0 means no limit.
    #[arg(long, env = "SHOAL_MAXMEMORY")]
    pub maxmemory: Option<MemSize>,
    /// What to do at the memory limit: noeviction, allkeys-lru, allkeys-lfu,
    /// allkeys-random, volatile-lru, volatile-lfu, volatile-random, volatile-ttl.
    #[arg(long, env = "SHOAL_MAXMEMORY_POLICY")]
    pub maxmemory_policy: Option<String>,
    /// Keys sampled per eviction.
    #[arg(long, env = "SHOAL_MAXMEMORY_SAMPLES")]
    pub maxmemory_samples: Option<u32>,
    /// Password of the default user; clients must AUTH when set.
    #[arg(long, env = "SHOAL_REQUIREPASS", hide_env_values = true)]
    pub requirepass: Option<String>,
    /// File holding the default user's password (e.g. a mounted Secret); a
    /// trailing newline is ignored. Keeps the password out of args and env.
    #[arg(long, env = "SHOAL_REQUIREPASS_FILE")]
    pub requirepass_file: Option<PathBuf>,
    /// ACL file (Redis syntax: `user <name> <rules>…` per line): users with
    /// passwords, command and key permissions. Reloaded by ACL LOAD.
    #[arg(long, env = "SHOAL_ACLFILE")]
    pub aclfile: Option<PathBuf>,
    /// The user this node's links (replication, forwarding) log in to peers
    /// as, with `masterauth`; with an ACL file that does not define it, the
    /// node adds it with every permission. Without it, links log in as the
    /// default user with `requirepass`.
    #[arg(long, env = "SHOAL_MASTERUSER")]
    pub masteruser: Option<String>,
    /// Password of `masteruser`.
    #[arg(long, env = "SHOAL_MASTERAUTH", hide_env_values = true)]
    pub masterauth: Option<String>,
    /// File holding `masteruser`'s password (e.g. a mounted Secret), read at
    /// start; keeps it out of args and env.
    #[arg(long, env = "SHOAL_MASTERAUTH_FILE")]
    pub masterauth_file: Option<PathBuf>,
    /// Port for clients over TLS; 0 (the default) turns it off.
    #[arg(long, env = "SHOAL_TLS_PORT")]
    pub tls_port: Option<u16>,
    /// This node's certificate (PEM, chain first), re-read when it changes.
    #[arg(long, env = "SHOAL_TLS_CERT_FILE")]
    pub tls_cert_file: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, env = "SHOAL_TLS_KEY_FILE")]
    pub tls_key_file: Option<PathBuf>,
    /// CA certificates (PEM) that client and peer certificates must chain to.
    #[arg(long, env = "SHOAL_TLS_CA_CERT_FILE")]
    pub tls_ca_cert_file: Option<PathBuf>,
    /// Whether TLS clients must present a certificate signed by the CA: yes
    /// (the default, as in Redis), no or optional.
    #[arg(long, env = "SHOAL_TLS_AUTH_CLIENTS")]
    pub tls_auth_clients: Option<String>,
    /// yes: replicas connect to their primary over TLS (to its advertised port,
    /// which must then be a TLS port).
    #[arg(long, env = "SHOAL_TLS_REPLICATION")]
    pub tls_replication: Option<String>,
    /// yes: forwarding links and health probes use TLS.
    #[arg(long, env = "SHOAL_TLS_CLUSTER")]
    pub tls_cluster: Option<String>,
    /// Largest single argument a client may send.
    #[arg(long, env = "SHOAL_PROTO_MAX_BULK_LEN")]
    pub proto_max_bulk_len: Option<MemSize>,
    /// Most arguments in one request.
    #[arg(long, env = "SHOAL_PROTO_MAX_MULTIBULK_LEN")]
    pub proto_max_multibulk_len: Option<u64>,
    /// Longest inline (telnet-style) command line.
    #[arg(long, env = "SHOAL_PROTO_INLINE_MAX_SIZE")]
    pub proto_inline_max_size: Option<MemSize>,
    /// Most bytes buffered for one client's unprocessed input.
    #[arg(long, env = "SHOAL_CLIENT_QUERY_BUFFER_LIMIT")]
    pub client_query_buffer_limit: Option<MemSize>,
    /// Output buffer limit for normal clients, as Redis writes it:
    /// "<hard> <soft> <soft-seconds>", e.g. "256mb 64mb 60" (0 disables a limit).
    #[arg(long, env = "SHOAL_CLIENT_OUTPUT_BUFFER_LIMIT")]
    pub client_output_buffer_limit: Option<String>,
    /// Most simultaneous client connections.
    #[arg(long, env = "SHOAL_MAXCLIENTS")]
    pub maxclients: Option<u64>,
    /// Close clients idle for this many seconds (0: never).
    #[arg(long, env = "SHOAL_TIMEOUT")]
    pub timeout: Option<u64>,
    /// Background task frequency (active expiry, timeouts), per second.
    #[arg(long, env = "SHOAL_HZ")]
    pub hz: Option<u32>,
    /// LFU counter growth factor (Redis' lfu-log-factor).
    #[arg(long, env = "SHOAL_LFU_LOG_FACTOR")]
    pub lfu_log_factor: Option<u32>,
    /// Minutes for an LFU counter to decay by one (Redis' lfu-decay-time).
    #[arg(long, env = "SHOAL_LFU_DECAY_TIME")]
    pub lfu_decay_time: Option<u32>,
    /// I/O threads serving clients; the number of CPUs minus one by default.
    #[arg(long, env = "SHOAL_THREADS")]
    pub threads: Option<usize>,
    /// Keyspace shards (each with its own lock); rounded up to a power of two.
    #[arg(long, env = "SHOAL_SHARDS")]
    pub shards: Option<usize>,
    /// Seconds to let clients finish after SIGTERM before exiting.
    #[arg(long, env = "SHOAL_SHUTDOWN_TIMEOUT")]
    pub shutdown_timeout: Option<u64>,
    /// Log format: text or json.
    #[arg(long, env = "SHOAL_LOG_FORMAT")]
    pub log_format: Option<String>,
    /// Port on which plain clients get every key: commands for slots another node
    /// owns are forwarded to it. 0 (the default) turns it off. The client port
    /// answers MOVED/ASK instead, as Redis Cluster does.
    #[arg(long, env = "SHOAL_FORWARD_PORT")]
    pub forward_port: Option<u16>,
    /// This node's name in the cluster topology (in Kubernetes, the pod name).
    /// Setting a topology source below turns cluster mode on.
    #[arg(long, env = "SHOAL_CLUSTER_NODE_NAME")]
    pub cluster_node_name: Option<String>,
    /// Topology file (YAML) to load and watch for changes.
    #[arg(long, env = "SHOAL_CLUSTER_TOPOLOGY_FILE")]
    pub cluster_topology_file: Option<PathBuf>,
    /// ConfigMap holding the topology (key `topology.yaml`), watched through the
    /// Kubernetes API from inside the cluster.
    #[arg(long, env = "SHOAL_CLUSTER_TOPOLOGY_CONFIGMAP")]
    pub cluster_topology_configmap: Option<String>,
    /// Headless Service whose EndpointSlices list the peers (Kubernetes).
    #[arg(long, env = "SHOAL_CLUSTER_PEER_SERVICE")]
    pub cluster_peer_service: Option<String>,
    /// Namespace of the ConfigMap and Service; the pod's own by default.
    #[arg(long, env = "SHOAL_CLUSTER_NAMESPACE")]
    pub cluster_namespace: Option<String>,
}

macro_rules! layer {
    ($hi:ident, $lo:ident, $($f:ident),*) => {
        Options { $($f: $hi.$f.or($lo.$f)),* }
    };
}

impl Options {
    /// Fields set here win over fields set in `lower`.
    pub fn over(self, lower: Options) -> Options {
        let (a, b) = (self, lower);
        layer!(
            a,
            b,
            bind,
            port,
            admin_bind,
            admin_port,
            maxmemory,
            maxmemory_policy,
            maxmemory_samples,
            requirepass,
            requirepass_file,
            aclfile,
            masteruser,
            masterauth,
            masterauth_file,
            tls_port,
            tls_cert_file,
            tls_key_file,
            tls_ca_cert_file,
            tls_auth_clients,
            tls_replication,
            tls_cluster,
            proto_max_bulk_len,
            proto_max_multibulk_len,
            proto_inline_max_size,
            client_query_buffer_limit,
            client_output_buffer_limit,
            maxclients,
            timeout,
            hz,
            lfu_log_factor,
            lfu_decay_time,
            threads,
            shards,
            shutdown_timeout,
            log_format,
            forward_port,
            cluster_node_name,
            cluster_topology_file,
            cluster_topology_configmap,
            cluster_peer_service,
            cluster_namespace
        )
    }

    /// Reads a YAML file of options.
    pub fn from_yaml_file(path: &std::path::Path) -> Result<Options, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        if text.trim().is_empty() {
            return Ok(Options::default());
        }
        serde_yaml::from_str(&text).map_err(|e| ConfigError::File {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {path}: {reason}")]
    File { path: PathBuf, reason: String },
    #[error("invalid {name}: {reason}")]
    Invalid { name: &'static str, reason: String },
}

fn invalid(name: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        name,
        reason: reason.into(),
    }
}

/// Output buffer limit of one client class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ObufLimit {
    pub hard: u64,
    pub soft: u64,
    pub soft_seconds: u64,
}

impl fmt::Display for ObufLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.hard, self.soft, self.soft_seconds)
    }
}

impl ObufLimit {
    fn parse(hard: &str, soft: &str, secs: &str) -> Option<ObufLimit> {
        Some(ObufLimit {
            hard: parse_memory(hard)?,
            soft: parse_memory(soft)?,
            soft_seconds: secs.parse().ok()?,
        })
    }
}

/// Settings that can change at runtime (CONFIG SET). Read once per batch of
/// commands through an `ArcSwap`, so a change applies to the next batch.
#[derive(Clone, Debug)]
pub struct Settings {
    pub maxmemory: u64,
    pub maxmemory_policy: Policy,
    pub maxmemory_samples: u32,
    pub requirepass: Option<String>,
    pub proto_max_bulk_len: u64,
    pub proto_max_multibulk_len: u64,
    pub proto_inline_max_size: u64,
    pub client_query_buffer_limit: u64,
    pub obuf_normal: ObufLimit,
    pub obuf_replica: ObufLimit,
    pub obuf_pubsub: ObufLimit,
    pub maxclients: u64,
    pub timeout: u64,
    pub hz: u32,
    pub lfu_log_factor: u32,
    pub lfu_decay_time: u32,
    /// Redis' encoding thresholds (`*-max-listpack-*` and friends).
    pub encoding: EncodingLimits,
    /// Redis' RDB save points, kept as set: Shoal writes no snapshot files, but
    /// tools and test suites set `save ""` and read it back.
    pub save: String,
    /// Keyspace notification classes (`notify-keyspace-events`, see `notify`).
    pub notify_keyspace_events: u32,
    /// busy-reply-threshold (alias lua-time-limit), ms: past it a running
    /// script makes other clients' commands fail with BUSY.
    pub busy_reply_threshold: u64,
}

/// Redis' encoding thresholds, accepted by CONFIG GET/SET (with their old
/// `ziplist` names) so that clients and tools that set them work.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodingLimits {
    pub hash_max_listpack_entries: u64,
    pub hash_max_listpack_value: u64,
    pub list_max_listpack_size: i64,
    pub list_compress_depth: i64,
    pub set_max_intset_entries: u64,
    pub zset_max_listpack_entries: u64,
    pub zset_max_listpack_value: u64,
    pub hll_sparse_max_bytes: u64,
    pub stream_node_max_bytes: u64,
    pub stream_node_max_entries: i64,
}

impl Default for EncodingLimits {
    fn default() -> Self {
        EncodingLimits {
            hash_max_listpack_entries: 128,
            hash_max_listpack_value: 64,
            list_max_listpack_size: -2,
            list_compress_depth: 0,
            set_max_intset_entries: 512,
            zset_max_listpack_entries: 128,
            zset_max_listpack_value: 64,
            hll_sparse_max_bytes: 3000,
            stream_node_max_bytes: 4096,
            stream_node_max_entries: 100,
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            busy_reply_threshold: 5000,
            maxmemory: 0,
            maxmemory_policy: Policy::NoEviction,
            maxmemory_samples: 5,
            requirepass: None,
            proto_max_bulk_len: 512 << 20,
            proto_max_multibulk_len: 1024 * 1024,
            proto_inline_max_size: 64 << 10,
            client_query_buffer_limit: 1 << 30,
            // Redis leaves normal clients unlimited; Shoal bounds every buffer a
            // client controls, generously enough for any single large reply.
            obuf_normal: ObufLimit {
                hard: 1 << 30,
                soft: 0,
                soft_seconds: 0,
            },
            obuf_replica: ObufLimit {
                hard: 256 << 20,
                soft: 64 << 20,
                soft_seconds: 60,
            },
            obuf_pubsub: ObufLimit {
                hard: 32 << 20,
                soft: 8 << 20,
                soft_seconds: 60,
            },
            maxclients: 10_000,
            timeout: 0,
            hz: 10,
            lfu_log_factor: 10,
            lfu_decay_time: 1,
            encoding: EncodingLimits::default(),
            save: String::new(),
            notify_keyspace_events: 0,
        }
    }
}

impl Settings {
    pub fn request_limits(&self) -> crate::resp::RequestLimits {
        crate::resp::RequestLimits {
            max_bulk: self.proto_max_bulk_len as usize,
            max_args: self.proto_max_multibulk_len as usize,
            max_inline: self.proto_inline_max_size as usize,
        }
    }

    pub fn access_mode(&self) -> crate::store::AccessMode {
        crate::store::AccessMode {
            lfu: self.maxmemory_policy.is_lfu(),
            lfu_log_factor: self.lfu_log_factor,
            lfu_decay_time: self.lfu_decay_time,
        }
    }

    fn obuf_string(&self) -> String {
        format!(
            "normal {} replica {} pubsub {}",
            self.obuf_normal, self.obuf_replica, self.obuf_pubsub
        )
    }

    /// Parses Redis' `client-output-buffer-limit` syntax. A bare "hard soft secs"
    /// triple (the CLI form) sets the normal class.
    fn set_obuf(&mut self, value: &str) -> Result<(), String> {
        let words: Vec<&str> = value.split_whitespace().collect();
        let is_class = |w: &str| {
            matches!(
                w.to_ascii_lowercase().as_str(),
                "normal" | "replica" | "slave" | "pubsub"
            )
        };
        if words.len() == 3 && !is_class(words[0]) {
            self.obuf_normal = ObufLimit::parse(words[0], words[1], words[2])
                .ok_or("Invalid client-output-buffer-limit")?;
            return Ok(());
        }
        if words.is_empty() || !words.len().is_multiple_of(4) {
            return Err("Wrong number of arguments in buffer limit configuration.".into());
        }
        let mut next = self.clone();
        for w in words.chunks(4) {
            let limit = ObufLimit::parse(w[1], w[2], w[3]).ok_or(
                "Error in hard, soft or soft_seconds setting in buffer limit configuration.",
            )?;
            match w[0].to_ascii_lowercase().as_str() {
                "normal" => next.obuf_normal = limit,
                "replica" | "slave" => next.obuf_replica = limit,
                "pubsub" => next.obuf_pubsub = limit,
                _ => {
                    return Err(
                        "Invalid client class specified in buffer limit configuration.".into(),
                    )
                }
            }
        }
        *self = next;
        Ok(())
    }
}

/// Reads a password file (a mounted Secret): one line, a trailing newline ignored,
/// never empty.
pub fn read_password_file(path: &std::path::Path) -> Result<String, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| invalid("requirepass-file", format!("{}: {e}", path.display())))?;
    let pw = text.strip_suffix('\n').unwrap_or(&text);
    let pw = pw.strip_suffix('\r').unwrap_or(pw);
    if pw.is_empty() {
        return Err(invalid(
            "requirepass-file",
            format!("{} is empty", path.display()),
        ));
    }
    Ok(pw.to_string())
}

fn yes_no(name: &'static str, v: Option<&String>) -> Result<bool, ConfigError> {
    match v.map(|v| v.to_ascii_lowercase()) {
        None => Ok(false),
        Some(v) if v == "yes" => Ok(true),
        Some(v) if v == "no" => Ok(false),
        Some(_) => Err(invalid(name, "must be yes or no")),
    }
}

/// The TLS options, checked for consistency (files are read by `tls::Tls::load`).
fn tls_config(o: &Options) -> Result<Option<crate::tls::TlsConfig>, ConfigError> {
    let replication = yes_no("tls-replication", o.tls_replication.as_ref())?;
    let cluster = yes_no("tls-cluster", o.tls_cluster.as_ref())?;
    let auth_clients = match &o.tls_auth_clients {
        Some(v) => v.parse().map_err(|e| invalid("tls-auth-clients", e))?,
        None => crate::tls::ClientAuth::default(),
    };
    let (cert_file, key_file) = match (&o.tls_cert_file, &o.tls_key_file) {
        (Some(c), Some(k)) => (c.clone(), k.clone()),
        (None, None) => {
            if replication || cluster || o.tls_ca_cert_file.is_some() {
                return Err(invalid(
                    "tls-cert-file",
                    "TLS needs tls-cert-file and tls-key-file",
                ));
            }
            return Ok(None);
        }
        (Some(_), None) => return Err(invalid("tls-key-file", "set it with tls-cert-file")),
        (None, Some(_)) => return Err(invalid("tls-cert-file", "set it with tls-key-file")),
    };
    Ok(Some(crate::tls::TlsConfig {
        cert_file,
        key_file,
        ca_cert_file: o.tls_ca_cert_file.clone(),
        auth_clients,
        replication,
        cluster,
    }))
}

/// Startup configuration: where to listen and how to run, plus initial settings.
#[derive(Clone, Debug)]
pub struct Config {
    pub bind: String,
    pub port: u16,
    pub admin_bind: String,
    pub admin_port: u16,
    pub threads: usize,
    pub shards: usize,
    pub shutdown_timeout: u64,
    pub log_json: bool,
    pub config_file: Option<PathBuf>,
    pub forward_port: u16,
    /// Where the default user's password comes from, re-read when it changes
    /// (a rotated Secret reaches the node without a restart).
    pub requirepass_file: Option<PathBuf>,
    /// Users and permissions, when an ACL file is given.
    pub aclfile: Option<PathBuf>,
    pub acl: Option<crate::acl::Acl>,
    /// Who links log in to peers as (masteruser, masterauth), when set.
    pub link_login: Option<(String, String)>,
    /// TLS client port; 0: none.
    pub tls_port: u16,
    /// Certificates and what uses TLS, when TLS is configured.
    pub tls: Option<crate::tls::TlsConfig>,
    /// Cluster mode, when a topology source is set.
    pub cluster: Option<ClusterConfig>,
    pub settings: Settings,
}

/// Where a clustered node learns the topology, and who it is in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterConfig {
    pub node_name: String,
    pub source: TopologySource,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TopologySource {
    File(PathBuf),
    Kubernetes {
        config_map: String,
        peer_service: Option<String>,
        namespace: Option<String>,
    },
}

/// One I/O thread per CPU but one, which is left to the kernel's network stack
/// and to clients on the same machine (Redis gives the same advice for its
/// io-threads). On two CPUs, pinned or not, this measured best: see
/// node/bench/compare.py.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).max(1))
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: "127.0.0.1".into(),
            port: 6379,
            admin_bind: "127.0.0.1".into(),
            admin_port: 9379,
            threads: default_threads(),
            shards: crate::store::DEFAULT_SHARDS,
            shutdown_timeout: 10,
            log_json: false,
            config_file: None,
            forward_port: 0,
            requirepass_file: None,
            aclfile: None,
            acl: None,
            link_login: None,
            tls_port: 0,
            tls: None,
            cluster: None,
            settings: Settings::default(),
        }
    }
}

impl Config {
    /// Applies options over the defaults, validating every value.
    pub fn from_options(o: Options) -> Result<Config, ConfigError> {
        let mut c = Config {
            tls: tls_config(&o)?,
            ..Config::default()
        };
        if let Some(v) = o.bind {
            c.bind = v;
        }
        if let Some(v) = o.port {
            c.port = v;
        }
        if let Some(v) = o.admin_bind {
            c.admin_bind = v;
        }
        if let Some(v) = o.admin_port {
            c.admin_port = v;
        }
        if let Some(v) = o.threads {
            if v == 0 {
                return Err(invalid("threads", "must be at least 1"));
            }
            c.threads = v;
        }
        if let Some(v) = o.shards {
            if v == 0 || v > 16384 {
                return Err(invalid("shards", "must be between 1 and 16384"));
            }
            c.shards = v;
        }
        if let Some(v) = o.shutdown_timeout {
            c.shutdown_timeout = v;
        }
        if let Some(v) = o.log_format {
            c.log_json = match v.as_str() {
                "json" => true,
                "text" => false,
                _ => return Err(invalid("log-format", "must be text or json")),
            };
        }
        c.forward_port = o.forward_port.unwrap_or(0);
        c.tls_port = o.tls_port.unwrap_or(0);
        let source = match (o.cluster_topology_file, o.cluster_topology_configmap) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "cluster-topology-file",
                    "set cluster-topology-file or cluster-topology-configmap, not both",
                ))
            }
            (Some(f), None) => Some(TopologySource::File(f)),
            (None, Some(config_map)) => Some(TopologySource::Kubernetes {
                config_map,
                peer_service: o.cluster_peer_service,
                namespace: o.cluster_namespace,
            }),
            (None, None) => None,
        };
        c.cluster = match (source, o.cluster_node_name) {
            (Some(source), Some(node_name)) if !node_name.is_empty() => {
                Some(ClusterConfig { node_name, source })
            }
            (Some(_), _) => {
                return Err(invalid(
                    "cluster-node-name",
                    "a clustered node needs its name in the topology",
                ))
            }
            (None, Some(_)) => {
                return Err(invalid(
                    "cluster-node-name",
                    "set cluster-topology-file or cluster-topology-configmap too",
                ))
            }
            (None, None) => None,
        };
        if c.forward_port != 0 && c.cluster.is_none() {
            return Err(invalid(
                "forward-port",
                "only a clustered node forwards; set a topology source",
            ));
        }
        let masterauth = match (&o.masterauth, &o.masterauth_file) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "masterauth-file",
                    "set masterauth or masterauth-file, not both",
                ))
            }
            (Some(pw), None) => Some(pw.clone()),
            (None, Some(path)) => Some(read_password_file(path).map_err(|_| {
                invalid(
                    "masterauth-file",
                    format!("{} is unreadable or empty", path.display()),
                )
            })?),
            (None, None) => None,
        };
        c.link_login = match (o.masteruser.clone(), masterauth) {
            (Some(user), Some(pw)) => Some((user, pw)),
            (None, None) => None,
            _ => {
                return Err(invalid(
                    "masteruser",
                    "set masteruser and masterauth (or masterauth-file) together",
                ))
            }
        };
        if let Some(path) = &o.aclfile {
            if o.requirepass.is_some() || o.requirepass_file.is_some() {
                return Err(invalid(
                    "aclfile",
                    "set the default user's password in the ACL file, not with requirepass",
                ));
            }
            let mut acl =
                crate::acl::Acl::load(path).map_err(|e| invalid("aclfile", e.to_string()))?;
            acl.ensure_link_user(c.link_login.as_ref());
            c.acl = Some(acl);
            c.aclfile = Some(path.clone());
        }
        if c.tls_port != 0 && c.tls.is_none() {
            return Err(invalid(
                "tls-port",
                "a TLS port needs tls-cert-file and tls-key-file",
            ));
        }
        if c.port == 0 && c.tls_port == 0 {
            return Err(invalid(
                "port",
                "port 0 turns plaintext off; set tls-port to serve clients over TLS",
            ));
        }
        let mut requirepass = o.requirepass;
        if let Some(path) = &o.requirepass_file {
            if requirepass.is_some() {
                return Err(invalid(
                    "requirepass-file",
                    "set requirepass or requirepass-file, not both",
                ));
            }
            requirepass = Some(read_password_file(path)?);
            c.requirepass_file = Some(path.clone());
        }
        // Runtime settings go through the same code as CONFIG SET, so a value is
        // valid at startup exactly when it is valid at runtime.
        let s = &mut c.settings;
        let pairs: Vec<(&str, Option<String>)> = vec![
            ("maxmemory", o.maxmemory.map(|m| m.0.to_string())),
            ("maxmemory-policy", o.maxmemory_policy),
            (
                "maxmemory-samples",
                o.maxmemory_samples.map(|v| v.to_string()),
            ),
            ("requirepass", requirepass),
            (
                "proto-max-bulk-len",
                o.proto_max_bulk_len.map(|m| m.0.to_string()),
            ),
            (
                "proto-max-multibulk-len",
                o.proto_max_multibulk_len.map(|v| v.to_string()),
            ),
            (
                "proto-inline-max-size",
                o.proto_inline_max_size.map(|m| m.0.to_string()),
            ),
            (
                "client-query-buffer-limit",
                o.client_query_buffer_limit.map(|m| m.0.to_string()),
            ),
            ("client-output-buffer-limit", o.client_output_buffer_limit),
            ("maxclients", o.maxclients.map(|v| v.to_string())),
            ("timeout", o.timeout.map(|v| v.to_string())),
            ("hz", o.hz.map(|v| v.to_string())),
            ("lfu-log-factor", o.lfu_log_factor.map(|v| v.to_string())),
            ("lfu-decay-time", o.lfu_decay_time.map(|v| v.to_string())),
        ];
        for (name, value) in pairs {
            if let Some(v) = value {
                let p = param(name).expect("every option has a parameter");
                let set = p.set.expect("options are settable");
                set(s, &v).map_err(|reason| invalid(p.name, reason))?;
            }
        }
        Ok(c)
    }
}

/// Validates and applies a new value; the error says why it is refused.
pub type Setter = fn(&mut Settings, &str) -> Result<(), String>;

/// A CONFIG parameter: how to show it and, if settable, how to change it.
pub struct Param {
    pub name: &'static str,
    pub get: fn(&Settings, &Config) -> String,
    pub set: Option<Setter>,
}

fn parse_num<T: FromStr>(v: &str) -> Result<T, String> {
    v.trim()
        .parse()
        .map_err(|_| "argument couldn't be parsed into an integer".to_string())
}

fn parse_mem(v: &str) -> Result<u64, String> {
    parse_memory(v).ok_or_else(|| "argument must be a memory value".to_string())
}

/// A signed integer within `lo..=hi`, with Redis' two errors.
fn parse_signed(v: &str, lo: i64, hi: i64) -> Result<i64, String> {
    let n: i64 = parse_num(v)?;
    if n < lo || n > hi {
        return Err(format!("argument must be between {lo} and {hi} inclusive"));
    }
    Ok(n)
}

/// A `size_t` parameter (0 to LONG_MAX).
fn parse_size(v: &str) -> Result<u64, String> {
    Ok(parse_signed(v, 0, i64::MAX)? as u64)
}

/// An `int` parameter.
fn parse_int(v: &str) -> Result<i64, String> {
    parse_signed(v, i32::MIN.into(), i32::MAX.into())
}

/// A non-negative `int` parameter.
fn parse_uint(v: &str) -> Result<i64, String> {
    parse_signed(v, 0, i32::MAX.into())
}

/// A CONFIG parameter for one of [`EncodingLimits`]' fields.
macro_rules! encoding_param {
    ($name:literal, $field:ident, $parse:expr) => {
        Param {
            name: $name,
            get: |s, _| s.encoding.$field.to_string(),
            set: Some(|s, v| {
                s.encoding.$field = $parse(v)?;
                Ok(())
            }),
        }
    };
}

fn bounded(v: u64, lo: u64, hi: u64) -> Result<u64, String> {
    if v < lo || v > hi {
        Err(format!("argument must be between {lo} and {hi} inclusive"))
    } else {
        Ok(v)
    }
}

/// Every CONFIG parameter, settable and read-only alike, in one table.
pub static PARAMS: &[Param] = &[
    encoding_param!(
        "hash-max-listpack-entries",
        hash_max_listpack_entries,
        parse_size
    ),
    encoding_param!(
        "hash-max-ziplist-entries",
        hash_max_listpack_entries,
        parse_size
    ),
    encoding_param!(
        "hash-max-listpack-value",
        hash_max_listpack_value,
        parse_mem
    ),
    encoding_param!("hash-max-ziplist-value", hash_max_listpack_value, parse_mem),
    encoding_param!("list-max-listpack-size", list_max_listpack_size, parse_int),
    encoding_param!("list-max-ziplist-size", list_max_listpack_size, parse_int),
    encoding_param!("list-compress-depth", list_compress_depth, parse_uint),
    encoding_param!("set-max-intset-entries", set_max_intset_entries, parse_size),
    encoding_param!(
        "zset-max-listpack-entries",
        zset_max_listpack_entries,
        parse_size
    ),
    encoding_param!(
        "zset-max-ziplist-entries",
        zset_max_listpack_entries,
        parse_size
    ),
    encoding_param!(
        "zset-max-listpack-value",
        zset_max_listpack_value,
        parse_mem
    ),
    encoding_param!("zset-max-ziplist-value", zset_max_listpack_value, parse_mem),
    encoding_param!("hll-sparse-max-bytes", hll_sparse_max_bytes, parse_mem),
    encoding_param!("stream-node-max-bytes", stream_node_max_bytes, parse_mem),
    encoding_param!(
        "stream-node-max-entries",
        stream_node_max_entries,
        parse_int
    ),
    Param {
        name: "maxmemory",
        get: |s, _| s.maxmemory.to_string(),
        set: Some(|s, v| {
            s.maxmemory = parse_mem(v)?;
            Ok(())
        }),
    },
    Param {
        name: "maxmemory-policy",
        get: |s, _| s.maxmemory_policy.name().into(),
        set: Some(|s, v| {
            s.maxmemory_policy = Policy::from_name(v).ok_or("argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction")?;
            Ok(())
        }),
    },
    Param {
        name: "busy-reply-threshold",
        get: |s, _| s.busy_reply_threshold.to_string(),
        set: Some(|s, v| {
            s.busy_reply_threshold = parse_num(v)?;
            Ok(())
        }),
    },
    Param {
        name: "lua-time-limit",
        get: |s, _| s.busy_reply_threshold.to_string(),
        set: Some(|s, v| {
            s.busy_reply_threshold = parse_num(v)?;
            Ok(())
        }),
    },
    Param {
        name: "maxmemory-samples",
        get: |s, _| s.maxmemory_samples.to_string(),
        set: Some(|s, v| {
            s.maxmemory_samples = bounded(parse_num(v)?, 1, 64)? as u32;
            Ok(())
        }),
    },
    Param {
        name: "requirepass",
        get: |s, _| s.requirepass.clone().unwrap_or_default(),
        set: Some(|s, v| {
            s.requirepass = (!v.is_empty()).then(|| v.to_string());
            Ok(())
        }),
    },
    Param {
        name: "proto-max-bulk-len",
        get: |s, _| s.proto_max_bulk_len.to_string(),
        set: Some(|s, v| {
            s.proto_max_bulk_len = bounded(parse_mem(v)?, 1024 * 1024, i64::MAX as u64)?;
            Ok(())
        }),
    },
    Param {
        name: "proto-max-multibulk-len",
        get: |s, _| s.proto_max_multibulk_len.to_string(),
        set: Some(|s, v| {
            s.proto_max_multibulk_len = bounded(parse_num(v)?, 1024, i32::MAX as u64)?;
            Ok(())
        }),
    },
    Param {
        name: "proto-inline-max-size",
        get: |s, _| s.proto_inline_max_size.to_string(),
        set: Some(|s, v| {
            s.proto_inline_max_size = bounded(parse_mem(v)?, 1024, 64 * 1024)?;
            Ok(())
        }),
    },
    Param {
        name: "client-query-buffer-limit",
        get: |s, _| s.client_query_buffer_limit.to_string(),
        set: Some(|s, v| {
            s.client_query_buffer_limit = bounded(parse_mem(v)?, 1024 * 1024, i64::MAX as u64)?;
            Ok(())
        }),
    },
    Param {
        name: "client-output-buffer-limit",
        get: |s, _| s.obuf_string(),
        set: Some(|s, v| s.set_obuf(v)),
    },
    Param {
        name: "maxclients",
        get: |s, _| s.maxclients.to_string(),
        set: Some(|s, v| {
            s.maxclients = bounded(parse_num(v)?, 1, 1_000_000)?;
            Ok(())
        }),
    },
    Param {
        name: "timeout",
        get: |s, _| s.timeout.to_string(),
        set: Some(|s, v| {
            s.timeout = bounded(parse_num(v)?, 0, i32::MAX as u64)?;
            Ok(())
        }),
    },
    Param {
        name: "hz",
        get: |s, _| s.hz.to_string(),
        set: Some(|s, v| {
            s.hz = bounded(parse_num(v)?, 1, 500)? as u32;
            Ok(())
        }),
    },
    Param {
        name: "lfu-log-factor",
        get: |s, _| s.lfu_log_factor.to_string(),
        set: Some(|s, v| {
            s.lfu_log_factor = bounded(parse_num(v)?, 0, i32::MAX as u64)? as u32;
            Ok(())
        }),
    },
    Param {
        name: "lfu-decay-time",
        get: |s, _| s.lfu_decay_time.to_string(),
        set: Some(|s, v| {
            s.lfu_decay_time = bounded(parse_num(v)?, 0, i32::MAX as u64)? as u32;
            Ok(())
        }),
    },
    Param {
        name: "bind",
        get: |_, c| c.bind.clone(),
        set: None,
    },
    Param {
        name: "port",
        get: |_, c| c.port.to_string(),
        set: None,
    },
    Param {
        name: "tls-port",
        get: |_, c| c.tls_port.to_string(),
        set: None,
    },
    Param {
        name: "admin-port",
        get: |_, c| c.admin_port.to_string(),
        set: None,
    },
    Param {
        name: "io-threads",
        get: |_, c| c.threads.to_string(),
        set: None,
    },
    Param {
        name: "databases",
        get: |_, _| "1".into(),
        set: None,
    },
    // Shoal keeps no persistence files; tools such as redis-benchmark ask anyway.
    Param {
        name: "save",
        get: |s, _| s.save.clone(),
        set: Some(|s, v| {
            s.save = parse_save(v)?;
            Ok(())
        }),
    },
    Param {
        name: "notify-keyspace-events",
        get: |s, _| crate::notify::format(s.notify_keyspace_events),
        set: Some(|s, v| {
            s.notify_keyspace_events = crate::notify::parse(v).ok_or_else(|| {
                "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".to_string()
            })?;
            Ok(())
        }),
    },
    Param {
        name: "appendonly",
        get: |_, _| "no".into(),
        set: None,
    },
    Param {
        name: "cluster-enabled",
        // As INFO's cluster_enabled: a node given a topology source is clustered.
        get: |_, c| if c.cluster.is_some() { "yes" } else { "no" }.into(),
        set: None,
    },
];

/// Redis' `save` value: pairs of seconds and changes, or empty; normalized to
/// single spaces as Redis shows it.
fn parse_save(v: &str) -> Result<String, String> {
    let parts: Vec<&str> = v.split_ascii_whitespace().collect();
    if !parts.len().is_multiple_of(2) || parts.iter().any(|p| p.parse::<u32>().is_err()) {
        return Err("Invalid save parameters".into());
    }
    Ok(parts.join(" "))
}

/// Looks a parameter up by its exact (lowercase) name.
pub fn param(name: &str) -> Option<&'static Param> {
    PARAMS.iter().find(|p| p.name.eq_ignore_ascii_case(name))
}

/// Shown by CONFIG GET for sizes a user typed with units.
pub fn show_memory(n: u64) -> String {
    format_memory(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_cli_over_file_over_defaults() {
        let file: Options =
            serde_yaml::from_str("port: 7000\nmaxmemory: 100mb\nmaxmemory-policy: allkeys-lru\n")
                .unwrap();
        let cli = Options {
            port: Some(7001),
            ..Options::default()
        };
        let c = Config::from_options(cli.over(file)).unwrap();
        assert_eq!(c.port, 7001);
        assert_eq!(c.settings.maxmemory, 100 << 20);
        assert_eq!(c.settings.maxmemory_policy, Policy::AllKeysLru);
        assert_eq!(c.bind, "127.0.0.1");
    }

    #[test]
    fn rejects_bad_values_clearly() {
        let bad: Result<Options, _> = serde_yaml::from_str("maxmemory: lots\n");
        assert!(bad.unwrap_err().to_string().contains("not a memory size"));
        let unknown: Result<Options, _> = serde_yaml::from_str("max-memory: 1mb\n");
        assert!(unknown.unwrap_err().to_string().contains("unknown field"));
        let o = Options {
            maxmemory_policy: Some("lru".into()),
            ..Options::default()
        };
        let err = Config::from_options(o).unwrap_err().to_string();
        assert!(err.contains("maxmemory-policy"), "{err}");
    }

    #[test]
    fn password_from_a_file() {
        let dir = std::env::temp_dir().join(format!("shoal-pw-{}", std::process::id()));
        std::fs::write(&dir, "s3cret\n").unwrap();
        let o = Options {
            requirepass_file: Some(dir.clone()),
            ..Options::default()
        };
        assert_eq!(
            Config::from_options(o)
                .unwrap()
                .settings
                .requirepass
                .as_deref(),
            Some("s3cret")
        );
        let both = Options {
            requirepass_file: Some(dir.clone()),
            requirepass: Some("x".into()),
            ..Options::default()
        };
        assert!(Config::from_options(both)
            .unwrap_err()
            .to_string()
            .contains("not both"));
        std::fs::write(&dir, "\n").unwrap();
        let empty = Options {
            requirepass_file: Some(dir.clone()),
            ..Options::default()
        };
        assert!(Config::from_options(empty)
            .unwrap_err()
            .to_string()
            .contains("empty"));
        std::fs::remove_file(&dir).unwrap();
        let missing = Options {
            requirepass_file: Some(dir),
            ..Options::default()
        };
        assert!(Config::from_options(missing)
            .unwrap_err()
            .to_string()
            .contains("requirepass-file"));
    }

    #[test]
    fn output_buffer_limits_in_both_syntaxes() {
        let mut s = Settings::default();
        s.set_obuf("normal 10mb 5mb 30 pubsub 1mb 1mb 10").unwrap();
        assert_eq!(
            s.obuf_normal,
            ObufLimit {
                hard: 10 << 20,
                soft: 5 << 20,
                soft_seconds: 30
            }
        );
        s.set_obuf("1mb 0 0").unwrap();
        assert_eq!(s.obuf_normal.hard, 1 << 20);
        assert!(s.set_obuf("normal 1 2").is_err());
        assert!(s.set_obuf("bogus 1 2 3").is_err());
        assert!(s.obuf_string().starts_with("normal 1048576 0 0 replica"));
    }

    #[test]
    fn every_option_has_a_param() {
        // from_options panics if an option lacks its parameter; exercise all of them.
        let o = Options {
            maxmemory: Some(MemSize(1 << 20)),
            maxmemory_policy: Some("allkeys-lfu".into()),
            maxmemory_samples: Some(10),
            requirepass: Some("pw".into()),
            proto_max_bulk_len: Some(MemSize(2 << 20)),
            proto_max_multibulk_len: Some(4096),
            proto_inline_max_size: Some(MemSize(4096)),
            client_query_buffer_limit: Some(MemSize(8 << 20)),
            client_output_buffer_limit: Some("normal 0 0 0".into()),
            maxclients: Some(5),
            timeout: Some(3),
            hz: Some(20),
            lfu_log_factor: Some(5),
            lfu_decay_time: Some(2),
            ..Options::default()
        };
        let c = Config::from_options(o).unwrap();
        assert_eq!(c.settings.maxclients, 5);
        assert_eq!(c.settings.requirepass.as_deref(), Some("pw"));
        assert_eq!(c.settings.obuf_normal.hard, 0);
    }
}
