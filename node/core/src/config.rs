//! Configuration: every node option declared once, in [`PARAMS`]. From that one
//! declaration come the flag (`--maxmemory`), the environment variable
//! (`SHOAL_MAXMEMORY`), the YAML key of `--config` files, the CONFIG GET/SET
//! name, whether CONFIG SET may change it at run time ([`Kind`]) and whether the
//! operator sets it itself, so that a CacheCluster's `config` may not ([`Owner`]).
//!
//! Sources are layered as raw strings ([`Options`]: flags over environment over
//! file), then every value goes through its parameter's setter, the same code
//! CONFIG SET runs, so a value is valid at startup exactly when it is valid at
//! run time. Names follow Redis (`maxmemory-policy`, `proto-max-bulk-len`…).

use crate::eviction::Policy;
use crate::tls::{ClientAuth, TlsConfig};
use crate::util::size::{format_memory, parse_memory};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The backlog kept for partial resyncs when `repl-backlog-size` is not set: a
/// few seconds of heavy writes (Redis' 1mb default is a second of them).
pub const DEFAULT_REPL_BACKLOG: u64 = 64 << 20;

/// The smallest backlog; smaller sizes are raised to it, as Redis does.
pub const MIN_REPL_BACKLOG: u64 = 16 * 1024;

/// Keyspace shards when `shards` is not set.
pub const DEFAULT_SHARDS: usize = 64;

/// Who sets an option on a node the operator runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    /// The user, through the CacheCluster's `config`.
    User,
    /// The operator, from the CacheCluster's own fields (ports, auth, TLS,
    /// memory, topology): `config` may not set it.
    Operator,
}

/// Validates a value and stores it; the error says why it is refused.
pub type Setter = fn(&mut Settings, &str) -> Result<(), String>;
/// As [`Setter`], for an option read only at startup.
pub type StartupSetter = fn(&mut Config, &str) -> Result<(), String>;

/// When an option may be given.
#[derive(Clone, Copy)]
pub enum Kind {
    /// At startup only: CONFIG SET refuses it ("can't set immutable config").
    Startup(StartupSetter),
    /// At startup and by CONFIG SET at run time.
    Runtime(Setter),
    /// Not an option: a value CONFIG GET reports (as Redis reports it).
    Fixed,
}

/// One parameter: its name everywhere, how to show it and how to set it.
pub struct Param {
    /// The flag, YAML key and CONFIG name; `SHOAL_` + its upper snake case is
    /// the environment variable.
    pub name: &'static str,
    /// The flag's help; empty for Redis' old aliases, hidden from `--help`.
    pub help: &'static str,
    pub owner: Owner,
    pub kind: Kind,
    /// Its environment variable's value is never printed (passwords).
    pub secret: bool,
    pub get: fn(&Settings, &Config) -> String,
}

impl Param {
    /// Whether this is an option (flag, env, YAML), not a fixed CONFIG answer.
    pub fn is_option(&self) -> bool {
        !matches!(self.kind, Kind::Fixed)
    }

    /// Whether the operator sets this option itself (a CacheCluster's `config`
    /// may not).
    pub fn is_operator_owned(&self) -> bool {
        self.owner == Owner::Operator && self.is_option()
    }

    /// Validates `value` and stores it where this option lives: the startup
    /// configuration, or its runtime settings.
    pub fn apply(&self, c: &mut Config, value: &str) -> Result<(), String> {
        match self.kind {
            Kind::Startup(set) => set(c, value),
            Kind::Runtime(set) => set(&mut c.settings, value),
            Kind::Fixed => Err("not an option".into()),
        }
    }

    /// The environment variable: `SHOAL_MAXMEMORY_POLICY` for `maxmemory-policy`.
    pub fn env(&self) -> String {
        format!("SHOAL_{}", self.name.to_ascii_uppercase().replace('-', "_"))
    }
}

/// Looks a parameter up by name, in any case (CONFIG is case-insensitive).
pub fn param(name: &str) -> Option<&'static Param> {
    PARAMS.iter().find(|p| p.name.eq_ignore_ascii_case(name))
}

/// The options the operator sets itself and a CacheCluster's `config` may not.
pub fn operator_owned() -> impl Iterator<Item = &'static Param> {
    PARAMS.iter().filter(|p| p.is_operator_owned())
}

/// Raw option values by parameter name, before validation: what flags, the
/// environment and a YAML file said. Layer them with [`Options::over`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options(BTreeMap<&'static str, String>);

impl Options {
    /// Sets option `name` (any case) to `value`; unknown names are refused.
    pub fn set(&mut self, name: &str, value: impl Into<String>) -> Result<(), ConfigError> {
        match param(name) {
            Some(p) if p.is_option() => {
                self.0.insert(p.name, value.into());
                Ok(())
            }
            _ => Err(ConfigError::Unknown(name.to_string())),
        }
    }

    /// As [`Options::set`], for literals known to be options (tests, the
    /// operator's own keys).
    pub fn with(mut self, name: &str, value: impl Into<String>) -> Options {
        self.set(name, value).expect("a declared option");
        self
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        let p = param(name)?;
        self.0.get(p.name).map(String::as_str)
    }

    pub fn remove(&mut self, name: &str) -> Option<String> {
        let p = param(name)?;
        self.0.remove(p.name)
    }

    /// The options set, by canonical name.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.0.iter().map(|(k, v)| (*k, v.as_str()))
    }

    /// Options set here win over those set in `lower`.
    pub fn over(mut self, lower: Options) -> Options {
        for (k, v) in lower.0 {
            self.0.entry(k).or_insert(v);
        }
        self
    }

    /// Reads YAML options: a mapping of option names to scalars (numbers and
    /// booleans are taken as written: `true` as `yes`).
    pub fn from_yaml(text: &str) -> Result<Options, ConfigError> {
        use serde_yaml::Value;
        let bad = |reason: String| ConfigError::Yaml(reason);
        let value: Value = serde_yaml::from_str(text).map_err(|e| bad(e.to_string()))?;
        let map = match value {
            Value::Null => return Ok(Options::default()),
            Value::Mapping(m) => m,
            _ => return Err(bad("expected a mapping of option names to values".into())),
        };
        let mut o = Options::default();
        for (k, v) in map {
            let Value::String(name) = k else {
                return Err(bad(format!("option names are strings, not {k:?}")));
            };
            let text = match v {
                Value::String(s) => s,
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => if b { "yes" } else { "no" }.to_string(),
                _ => return Err(bad(format!("{name}: expected a single value"))),
            };
            o.set(&name, text)?;
        }
        Ok(o)
    }

    /// Reads a YAML file of options.
    pub fn from_yaml_file(path: &Path) -> Result<Options, ConfigError> {
        let file = |reason: String| ConfigError::File {
            path: path.to_path_buf(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| file(e.to_string()))?;
        Options::from_yaml(&text).map_err(|e| file(e.to_string()))
    }
}

/// Every option is a flag with an environment variable, from [`PARAMS`].
impl clap::Args for Options {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        PARAMS.iter().filter(|p| p.is_option()).fold(cmd, |cmd, p| {
            cmd.arg(
                clap::Arg::new(p.name)
                    .long(p.name)
                    .env(p.env())
                    .value_name("VALUE")
                    .help(p.help)
                    .hide(p.help.is_empty())
                    .hide_env_values(p.secret),
            )
        })
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

impl clap::FromArgMatches for Options {
    fn from_arg_matches(m: &clap::ArgMatches) -> Result<Self, clap::Error> {
        let mut o = Options::default();
        o.update_from_arg_matches(m)?;
        Ok(o)
    }

    fn update_from_arg_matches(&mut self, m: &clap::ArgMatches) -> Result<(), clap::Error> {
        for p in PARAMS.iter().filter(|p| p.is_option()) {
            if let Some(v) = m.get_one::<String>(p.name) {
                self.0.insert(p.name, v.clone());
            }
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {path}: {reason}")]
    File { path: PathBuf, reason: String },
    #[error("invalid {name}: {reason}")]
    Invalid { name: &'static str, reason: String },
    #[error("unknown option '{0}'")]
    Unknown(String),
    #[error("{0}")]
    Yaml(String),
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
    pub snapshot_interval: u64,
    /// Keyspace notification classes (`notify-keyspace-events`, see `notify`).
    pub notify_keyspace_events: u32,
    /// busy-reply-threshold (alias lua-time-limit), ms: past it a running
    /// script makes other clients' commands fail with BUSY.
    pub busy_reply_threshold: u64,
    /// Size of the replication backlog (`repl-backlog-size`): how far a
    /// replica may fall behind and still continue with a partial resync.
    pub repl_backlog_size: u64,
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
            snapshot_interval: 0,
            notify_keyspace_events: 0,
            repl_backlog_size: DEFAULT_REPL_BACKLOG,
        }
    }
}

impl Settings {
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

/// The startup options that are only meaningful together (TLS files, the
/// topology source, link credentials), as given; [`Config::from_options`]
/// checks them and builds [`Config::tls`], [`Config::cluster`] and the rest.
#[derive(Clone, Debug, Default)]
pub struct Given {
    pub masteruser: Option<String>,
    pub masterauth: Option<String>,
    pub masterauth_file: Option<PathBuf>,
    pub tls_cert_file: Option<PathBuf>,
    pub tls_key_file: Option<PathBuf>,
    pub tls_ca_cert_file: Option<PathBuf>,
    pub tls_auth_clients: ClientAuth,
    pub tls_replication: bool,
    pub tls_cluster: bool,
    pub cluster_node_name: Option<String>,
    pub cluster_topology_file: Option<PathBuf>,
    pub cluster_topology_configmap: Option<String>,
    pub cluster_peer_service: Option<String>,
    pub cluster_namespace: Option<String>,
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
    /// Where snapshots are written and loaded from; None: no snapshots.
    pub dir: Option<PathBuf>,
    pub dbfilename: String,
    /// Who links log in to peers as (masteruser, masterauth), when set.
    pub link_login: Option<(String, String)>,
    /// TLS client port; 0: none.
    pub tls_port: u16,
    /// Certificates and what uses TLS, when TLS is configured.
    pub tls: Option<TlsConfig>,
    /// Cluster mode, when a topology source is set.
    pub cluster: Option<ClusterConfig>,
    /// The options checked together, as given.
    pub given: Given,
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
            shards: DEFAULT_SHARDS,
            shutdown_timeout: 10,
            log_json: false,
            config_file: None,
            forward_port: 0,
            requirepass_file: None,
            aclfile: None,
            dir: None,
            dbfilename: "shoal.snap".into(),
            acl: None,
            link_login: None,
            tls_port: 0,
            tls: None,
            cluster: None,
            given: Given::default(),
            settings: Settings::default(),
        }
    }
}

impl Config {
    /// Applies options over the defaults, validating every value and then the
    /// options that go together.
    pub fn from_options(o: &Options) -> Result<Config, ConfigError> {
        let mut c = Config::default();
        for (name, value) in o.iter() {
            let p = param(name).expect("options hold declared names");
            p.apply(&mut c, value)
                .map_err(|reason| invalid(p.name, reason))?;
        }
        c.check()?;
        Ok(c)
    }

    fn check(&mut self) -> Result<(), ConfigError> {
        self.tls = tls_config(&self.given)?;
        let g = self.given.clone();
        let source = match (g.cluster_topology_file, g.cluster_topology_configmap) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "cluster-topology-file",
                    "set cluster-topology-file or cluster-topology-configmap, not both",
                ))
            }
            (Some(f), None) => Some(TopologySource::File(f)),
            (None, Some(config_map)) => Some(TopologySource::Kubernetes {
                config_map,
                peer_service: g.cluster_peer_service,
                namespace: g.cluster_namespace,
            }),
            (None, None) => None,
        };
        self.cluster = match (source, g.cluster_node_name) {
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
        if self.forward_port != 0 && self.cluster.is_none() {
            return Err(invalid(
                "forward-port",
                "only a clustered node forwards; set a topology source",
            ));
        }
        let masterauth = match (g.masterauth, &g.masterauth_file) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "masterauth-file",
                    "set masterauth or masterauth-file, not both",
                ))
            }
            (Some(pw), None) => Some(pw),
            (None, Some(path)) => Some(read_password_file(path).map_err(|_| {
                invalid(
                    "masterauth-file",
                    format!("{} is unreadable or empty", path.display()),
                )
            })?),
            (None, None) => None,
        };
        self.link_login = match (g.masteruser, masterauth) {
            (Some(user), Some(pw)) => Some((user, pw)),
            (None, None) => None,
            _ => {
                return Err(invalid(
                    "masteruser",
                    "set masteruser and masterauth (or masterauth-file) together",
                ))
            }
        };
        if let Some(path) = &self.aclfile {
            if self.settings.requirepass.is_some() || self.requirepass_file.is_some() {
                return Err(invalid(
                    "aclfile",
                    "set the default user's password in the ACL file, not with requirepass",
                ));
            }
            let mut acl =
                crate::acl::Acl::load(path).map_err(|e| invalid("aclfile", e.to_string()))?;
            acl.ensure_link_user(self.link_login.as_ref());
            self.acl = Some(acl);
        }
        if self.tls_port != 0 && self.tls.is_none() {
            return Err(invalid(
                "tls-port",
                "a TLS port needs tls-cert-file and tls-key-file",
            ));
        }
        if self.port == 0 && self.tls_port == 0 {
            return Err(invalid(
                "port",
                "port 0 turns plaintext off; set tls-port to serve clients over TLS",
            ));
        }
        if let Some(path) = &self.requirepass_file {
            if self.settings.requirepass.is_some() {
                return Err(invalid(
                    "requirepass-file",
                    "set requirepass or requirepass-file, not both",
                ));
            }
            self.settings.requirepass = Some(read_password_file(path)?);
        }
        Ok(())
    }
}

/// The TLS options, checked for consistency (files are read by `tls::Tls::load`).
fn tls_config(g: &Given) -> Result<Option<TlsConfig>, ConfigError> {
    let (cert_file, key_file) = match (&g.tls_cert_file, &g.tls_key_file) {
        (Some(c), Some(k)) => (c.clone(), k.clone()),
        (None, None) => {
            if g.tls_replication || g.tls_cluster || g.tls_ca_cert_file.is_some() {
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
    Ok(Some(TlsConfig {
        cert_file,
        key_file,
        ca_cert_file: g.tls_ca_cert_file.clone(),
        auth_clients: g.tls_auth_clients,
        replication: g.tls_replication,
        cluster: g.tls_cluster,
    }))
}

fn yes_no(v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err("argument must be 'yes' or 'no'".into()),
    }
}

fn show_yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.into()
}

fn show_path(p: &Option<PathBuf>) -> String {
    p.as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

fn non_empty(v: &str) -> Result<String, String> {
    if v.is_empty() {
        Err("argument must not be empty".into())
    } else {
        Ok(v.to_string())
    }
}

fn parse_port(v: &str) -> Result<u16, String> {
    Ok(parse_signed(v, 0, 65535)? as u16)
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

fn bounded(v: u64, lo: u64, hi: u64) -> Result<u64, String> {
    if v < lo || v > hi {
        Err(format!("argument must be between {lo} and {hi} inclusive"))
    } else {
        Ok(v)
    }
}

/// An option read at startup: `startup!(name, Owner, "help", |config, value| set, |config| get)`.
macro_rules! startup {
    ($name:literal, $owner:ident, $help:literal, |$c:ident, $v:ident| $set:expr, |$g:ident| $get:expr) => {
        Param {
            name: $name,
            help: $help,
            owner: Owner::$owner,
            kind: Kind::Startup(|$c, $v| {
                $set;
                Ok(())
            }),
            secret: false,
            get: |_, $g| $get,
        }
    };
}

/// An option CONFIG SET may change: `runtime!(name, Owner, "help", |settings, value| set, |settings| get)`.
macro_rules! runtime {
    ($name:literal, $owner:ident, $help:literal, |$s:ident, $v:ident| $set:expr, |$g:ident| $get:expr) => {
        Param {
            name: $name,
            help: $help,
            owner: Owner::$owner,
            kind: Kind::Runtime(|$s, $v| {
                $set;
                Ok(())
            }),
            secret: false,
            get: |$g, _| $get,
        }
    };
}

/// One of [`EncodingLimits`]' fields, under its name and Redis' old alias.
macro_rules! encoding {
    ($name:literal, $help:literal, $field:ident, $parse:expr) => {
        runtime!(
            $name,
            User,
            $help,
            |s, v| s.encoding.$field = $parse(v)?,
            |s| s.encoding.$field.to_string()
        )
    };
}

/// A value CONFIG GET reports that is no option.
macro_rules! fixed {
    ($name:literal, |$c:ident| $get:expr) => {
        Param {
            name: $name,
            help: "",
            owner: Owner::User,
            kind: Kind::Fixed,
            secret: false,
            get: |_, $c| $get,
        }
    };
}

const fn secret(p: Param) -> Param {
    Param { secret: true, ..p }
}

/// Every parameter: the options (flags, env, YAML, CONFIG) and CONFIG's fixed
/// answers, each declared once.
pub static PARAMS: &[Param] = &[
    startup!("bind", Operator, "Address to listen on for clients.",
        |c, v| c.bind = non_empty(v)?, |c| c.bind.clone()),
    startup!("port", Operator, "Client port (RESP). 6379 by default; 0 turns plaintext off (serve clients on the TLS port only).",
        |c, v| c.port = parse_port(v)?, |c| c.port.to_string()),
    startup!("admin-bind", Operator, "Address of the admin HTTP server (metrics, health).",
        |c, v| c.admin_bind = non_empty(v)?, |c| c.admin_bind.clone()),
    startup!("admin-port", Operator, "Admin HTTP port: /metrics, /healthz, /readyz. 9379 by default; 0 disables it.",
        |c, v| c.admin_port = parse_port(v)?, |c| c.admin_port.to_string()),
    runtime!("maxmemory", Operator, "Memory limit for the dataset, e.g. 100mb; 0 means no limit.",
        |s, v| s.maxmemory = parse_mem(v)?, |s| s.maxmemory.to_string()),
    runtime!("maxmemory-policy", Operator, "What to do at the memory limit: noeviction, allkeys-lru, allkeys-lfu, allkeys-random, volatile-lru, volatile-lfu, volatile-random, volatile-ttl.",
        |s, v| s.maxmemory_policy = Policy::from_name(v).ok_or("argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction")?,
        |s| s.maxmemory_policy.name().into()),
    runtime!("maxmemory-samples", User, "Keys sampled per eviction.",
        |s, v| s.maxmemory_samples = bounded(parse_num(v)?, 1, 64)? as u32, |s| s.maxmemory_samples.to_string()),
    secret(runtime!("requirepass", Operator, "Password of the default user; clients must AUTH when set.",
        |s, v| s.requirepass = (!v.is_empty()).then(|| v.to_string()), |s| s.requirepass.clone().unwrap_or_default())),
    startup!("requirepass-file", Operator, "File holding the default user's password (e.g. a mounted Secret), re-read when it changes; a trailing newline is ignored. Keeps the password out of args and env.",
        |c, v| c.requirepass_file = Some(non_empty(v)?.into()), |c| show_path(&c.requirepass_file)),
    startup!("dir", Operator, "Directory for the snapshot file (Redis' dir). When set, the node loads its snapshot there at start, before it serves, and writes one on SIGTERM, on SAVE and BGSAVE, and every snapshot-interval seconds. Unset (the default): no snapshots.",
        |c, v| c.dir = Some(non_empty(v)?.into()), |c| show_path(&c.dir)),
    startup!("dbfilename", User, "The snapshot file's name in dir (a Shoal snapshot, not an RDB file).",
        |c, v| c.dbfilename = match non_empty(v)? {
            n if n.contains('/') || n == "." || n == ".." => return Err("must be a file name, not a path (the directory is dir)".into()),
            n => n,
        }, |c| c.dbfilename.clone()),
    startup!("aclfile", Operator, "ACL file (Redis syntax: `user <name> <rules>…` per line): users with passwords, command and key permissions. Reloaded by ACL LOAD and when it changes.",
        |c, v| c.aclfile = Some(non_empty(v)?.into()), |c| show_path(&c.aclfile)),
    startup!("masteruser", Operator, "The user this node's links (replication, forwarding) log in to peers as, with masterauth; with an ACL file that does not define it, the node adds it with every permission. Without it, links log in as the default user with requirepass.",
        |c, v| c.given.masteruser = Some(non_empty(v)?), |c| c.given.masteruser.clone().unwrap_or_default()),
    secret(startup!("masterauth", Operator, "Password of masteruser.",
        |c, v| c.given.masterauth = Some(non_empty(v)?), |c| c.given.masterauth.clone().unwrap_or_default())),
    startup!("masterauth-file", Operator, "File holding masteruser's password (e.g. a mounted Secret), read at start; keeps it out of args and env.",
        |c, v| c.given.masterauth_file = Some(non_empty(v)?.into()), |c| show_path(&c.given.masterauth_file)),
    startup!("tls-port", Operator, "Port for clients over TLS; 0 (the default) turns it off.",
        |c, v| c.tls_port = parse_port(v)?, |c| c.tls_port.to_string()),
    startup!("tls-cert-file", Operator, "This node's certificate (PEM, chain first), re-read when it changes.",
        |c, v| c.given.tls_cert_file = Some(non_empty(v)?.into()), |c| show_path(&c.given.tls_cert_file)),
    startup!("tls-key-file", Operator, "The certificate's private key (PEM).",
        |c, v| c.given.tls_key_file = Some(non_empty(v)?.into()), |c| show_path(&c.given.tls_key_file)),
    startup!("tls-ca-cert-file", Operator, "CA certificates (PEM) that client and peer certificates must chain to.",
        |c, v| c.given.tls_ca_cert_file = Some(non_empty(v)?.into()), |c| show_path(&c.given.tls_ca_cert_file)),
    startup!("tls-auth-clients", Operator, "Whether TLS clients must present a certificate signed by the CA: yes (the default, as in Redis), no or optional.",
        |c, v| c.given.tls_auth_clients = v.parse()?, |c| c.given.tls_auth_clients.name().into()),
    startup!("tls-replication", Operator, "yes: replicas connect to their primary over TLS (to its advertised port, which must then be a TLS port).",
        |c, v| c.given.tls_replication = yes_no(v)?, |c| show_yes_no(c.given.tls_replication)),
    startup!("tls-cluster", Operator, "yes: forwarding links and health probes use TLS.",
        |c, v| c.given.tls_cluster = yes_no(v)?, |c| show_yes_no(c.given.tls_cluster)),
    runtime!("proto-max-bulk-len", User, "Largest single argument a client may send.",
        |s, v| s.proto_max_bulk_len = bounded(parse_mem(v)?, 1024 * 1024, i64::MAX as u64)?, |s| s.proto_max_bulk_len.to_string()),
    runtime!("proto-max-multibulk-len", User, "Most arguments in one request.",
        |s, v| s.proto_max_multibulk_len = bounded(parse_num(v)?, 1024, i32::MAX as u64)?, |s| s.proto_max_multibulk_len.to_string()),
    runtime!("proto-inline-max-size", User, "Longest inline (telnet-style) command line.",
        |s, v| s.proto_inline_max_size = bounded(parse_mem(v)?, 1024, 64 * 1024)?, |s| s.proto_inline_max_size.to_string()),
    runtime!("client-query-buffer-limit", User, "Most bytes buffered for one client's unprocessed input.",
        |s, v| s.client_query_buffer_limit = bounded(parse_mem(v)?, 1024 * 1024, i64::MAX as u64)?, |s| s.client_query_buffer_limit.to_string()),
    runtime!("client-output-buffer-limit", User, "Output buffer limits as Redis writes them: \"<class> <hard> <soft> <soft-seconds>\"… for normal, replica and pubsub, or \"<hard> <soft> <soft-seconds>\" for normal clients (0 disables a limit).",
        |s, v| s.set_obuf(v)?, |s| s.obuf_string()),
    runtime!("maxclients", User, "Most simultaneous client connections.",
        |s, v| s.maxclients = bounded(parse_num(v)?, 1, 1_000_000)?, |s| s.maxclients.to_string()),
    runtime!("timeout", User, "Close clients idle for this many seconds (0: never).",
        |s, v| s.timeout = bounded(parse_num(v)?, 0, i32::MAX as u64)?, |s| s.timeout.to_string()),
    runtime!("hz", User, "Background task frequency (active expiry, timeouts), per second.",
        |s, v| s.hz = bounded(parse_num(v)?, 1, 500)? as u32, |s| s.hz.to_string()),
    runtime!("lfu-log-factor", User, "LFU counter growth factor (Redis' lfu-log-factor).",
        |s, v| s.lfu_log_factor = bounded(parse_num(v)?, 0, i32::MAX as u64)? as u32, |s| s.lfu_log_factor.to_string()),
    runtime!("lfu-decay-time", User, "Minutes for an LFU counter to decay by one (Redis' lfu-decay-time).",
        |s, v| s.lfu_decay_time = bounded(parse_num(v)?, 0, i32::MAX as u64)? as u32, |s| s.lfu_decay_time.to_string()),
    runtime!("busy-reply-threshold", User, "Milliseconds a script may run before other clients' commands fail with BUSY.",
        |s, v| s.busy_reply_threshold = parse_num(v)?, |s| s.busy_reply_threshold.to_string()),
    runtime!("lua-time-limit", User, "",
        |s, v| s.busy_reply_threshold = parse_num(v)?, |s| s.busy_reply_threshold.to_string()),
    runtime!("repl-backlog-size", User, "Replication backlog, e.g. 64mb (the default): how far a replica may fall behind, or how much may be written during its full sync, and still catch up without another full sync.",
        |s, v| s.repl_backlog_size = bounded(parse_mem(v)?, 1, i64::MAX as u64)?.max(MIN_REPL_BACKLOG), |s| s.repl_backlog_size.to_string()),
    runtime!("snapshot-interval", User, "Seconds between snapshots written in the background when dir is set; 0 (the default): only on SIGTERM, SAVE and BGSAVE.",
        |s, v| s.snapshot_interval = bounded(parse_num(v)?, 0, 365 * 86400)?, |s| s.snapshot_interval.to_string()),
    runtime!("save", User, "Redis' RDB save points, kept as set: Shoal snapshots by dir and snapshot-interval instead, but tools set `save \"\"` and read it back.",
        |s, v| s.save = parse_save(v)?, |s| s.save.clone()),
    runtime!("notify-keyspace-events", User, "Keyspace notification classes, as Redis writes them (e.g. KEA).",
        |s, v| s.notify_keyspace_events = crate::notify::parse(v).ok_or("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")?,
        |s| crate::notify::format(s.notify_keyspace_events)),
    encoding!("hash-max-listpack-entries", "Redis' encoding threshold, accepted and shown (Shoal has one encoding per type).", hash_max_listpack_entries, parse_size),
    encoding!("hash-max-ziplist-entries", "", hash_max_listpack_entries, parse_size),
    encoding!("hash-max-listpack-value", "Redis' encoding threshold, accepted and shown.", hash_max_listpack_value, parse_mem),
    encoding!("hash-max-ziplist-value", "", hash_max_listpack_value, parse_mem),
    encoding!("list-max-listpack-size", "Redis' encoding threshold, accepted and shown.", list_max_listpack_size, parse_int),
    encoding!("list-max-ziplist-size", "", list_max_listpack_size, parse_int),
    encoding!("list-compress-depth", "Redis' list compression depth, accepted and shown.", list_compress_depth, parse_uint),
    encoding!("set-max-intset-entries", "Redis' encoding threshold, accepted and shown.", set_max_intset_entries, parse_size),
    encoding!("zset-max-listpack-entries", "Redis' encoding threshold, accepted and shown.", zset_max_listpack_entries, parse_size),
    encoding!("zset-max-ziplist-entries", "", zset_max_listpack_entries, parse_size),
    encoding!("zset-max-listpack-value", "Redis' encoding threshold, accepted and shown.", zset_max_listpack_value, parse_mem),
    encoding!("zset-max-ziplist-value", "", zset_max_listpack_value, parse_mem),
    encoding!("hll-sparse-max-bytes", "Redis' encoding threshold, accepted and shown.", hll_sparse_max_bytes, parse_mem),
    encoding!("stream-node-max-bytes", "Redis' encoding threshold, accepted and shown.", stream_node_max_bytes, parse_mem),
    encoding!("stream-node-max-entries", "Redis' encoding threshold, accepted and shown.", stream_node_max_entries, parse_int),
    startup!("threads", User, "I/O threads serving clients; the number of CPUs minus one by default.",
        |c, v| c.threads = parse_signed(v, 1, 1024)? as usize, |c| c.threads.to_string()),
    startup!("io-threads", User, "",
        |c, v| c.threads = parse_signed(v, 1, 1024)? as usize, |c| c.threads.to_string()),
    startup!("shards", User, "Keyspace shards (each with its own lock); rounded up to a power of two.",
        |c, v| c.shards = parse_signed(v, 1, 16384)? as usize, |c| c.shards.to_string()),
    startup!("shutdown-timeout", User, "Seconds to let clients finish after SIGTERM before exiting.",
        |c, v| c.shutdown_timeout = parse_size(v)?, |c| c.shutdown_timeout.to_string()),
    startup!("log-format", Operator, "Log format: text or json.",
        |c, v| c.log_json = match v { "json" => true, "text" => false, _ => return Err("must be text or json".into()) },
        |c| if c.log_json { "json" } else { "text" }.into()),
    startup!("forward-port", Operator, "Port on which plain clients get every key: commands for slots another node owns are forwarded to it. 0 (the default) turns it off. The client port answers MOVED/ASK instead, as Redis Cluster does.",
        |c, v| c.forward_port = parse_port(v)?, |c| c.forward_port.to_string()),
    startup!("cluster-node-name", Operator, "This node's name in the cluster topology (in Kubernetes, the pod name). Setting a topology source below turns cluster mode on.",
        |c, v| c.given.cluster_node_name = Some(v.to_string()), |c| c.given.cluster_node_name.clone().unwrap_or_default()),
    startup!("cluster-topology-file", Operator, "Topology file (YAML) to load and watch for changes.",
        |c, v| c.given.cluster_topology_file = Some(non_empty(v)?.into()), |c| show_path(&c.given.cluster_topology_file)),
    startup!("cluster-topology-configmap", Operator, "ConfigMap holding the topology (key `topology.yaml`), watched through the Kubernetes API from inside the cluster.",
        |c, v| c.given.cluster_topology_configmap = Some(non_empty(v)?), |c| c.given.cluster_topology_configmap.clone().unwrap_or_default()),
    startup!("cluster-peer-service", Operator, "Headless Service whose EndpointSlices list the peers (Kubernetes).",
        |c, v| c.given.cluster_peer_service = Some(non_empty(v)?), |c| c.given.cluster_peer_service.clone().unwrap_or_default()),
    startup!("cluster-namespace", Operator, "Namespace of the ConfigMap and Service; the pod's own by default.",
        |c, v| c.given.cluster_namespace = Some(non_empty(v)?), |c| c.given.cluster_namespace.clone().unwrap_or_default()),
    fixed!("databases", |_c| "1".into()),
    // Shoal keeps no persistence files; tools such as redis-benchmark ask anyway.
    fixed!("appendonly", |_c| "no".into()),
    // As INFO's cluster_enabled: a node given a topology source is clustered.
    fixed!("cluster-enabled", |c| show_yes_no(c.cluster.is_some())),
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

/// Shown by CONFIG GET for sizes a user typed with units.
pub fn show_memory(n: u64) -> String {
    format_memory(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_cli_over_file_over_defaults() {
        let file =
            Options::from_yaml("port: 7000\nmaxmemory: 100mb\nmaxmemory-policy: allkeys-lru\n")
                .unwrap();
        let cli = Options::default().with("port", "7001");
        let c = Config::from_options(&cli.over(file)).unwrap();
        assert_eq!(c.port, 7001);
        assert_eq!(c.settings.maxmemory, 100 << 20);
        assert_eq!(c.settings.maxmemory_policy, Policy::AllKeysLru);
        assert_eq!(c.bind, "127.0.0.1");
    }

    #[test]
    fn rejects_bad_values_clearly() {
        let bad = Config::from_options(&Options::from_yaml("maxmemory: lots\n").unwrap());
        assert!(bad.unwrap_err().to_string().contains("maxmemory"));
        let unknown = Options::from_yaml("max-memory: 1mb\n")
            .unwrap_err()
            .to_string();
        assert!(unknown.contains("unknown option 'max-memory'"), "{unknown}");
        let nested = Options::from_yaml("port: [1, 2]\n")
            .unwrap_err()
            .to_string();
        assert!(nested.contains("port"), "{nested}");
        let o = Options::default().with("maxmemory-policy", "lru");
        let err = Config::from_options(&o).unwrap_err().to_string();
        assert!(err.contains("maxmemory-policy"), "{err}");
        let o = Options::default().with("port", "70000");
        let err = Config::from_options(&o).unwrap_err().to_string();
        assert!(err.contains("invalid port"), "{err}");
        let o = Options::default().with("dbfilename", "../etc/x");
        let err = Config::from_options(&o).unwrap_err().to_string();
        assert!(
            err.contains("dbfilename") && err.contains("not a path"),
            "{err}"
        );
    }

    #[test]
    fn yaml_scalars_are_taken_as_written() {
        let o = Options::from_yaml("tls-replication: true\nhz: 20\nsave: ''\n").unwrap();
        assert_eq!(o.get("tls-replication"), Some("yes"));
        assert_eq!(o.get("HZ"), Some("20"));
        assert_eq!(o.get("save"), Some(""));
        assert_eq!(Options::from_yaml("").unwrap(), Options::default());
    }

    #[test]
    fn password_from_a_file() {
        let dir = std::env::temp_dir().join(format!("shoal-pw-{}", std::process::id()));
        std::fs::write(&dir, "s3cret\n").unwrap();
        let path = dir.display().to_string();
        let o = Options::default().with("requirepass-file", &path);
        assert_eq!(
            Config::from_options(&o)
                .unwrap()
                .settings
                .requirepass
                .as_deref(),
            Some("s3cret")
        );
        let both = o.clone().with("requirepass", "x");
        assert!(Config::from_options(&both)
            .unwrap_err()
            .to_string()
            .contains("not both"));
        std::fs::write(&dir, "\n").unwrap();
        assert!(Config::from_options(&o)
            .unwrap_err()
            .to_string()
            .contains("empty"));
        std::fs::remove_file(&dir).unwrap();
        assert!(Config::from_options(&o)
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
    fn every_option_reads_back_what_was_set() {
        // A value accepted for every option, then shown by CONFIG GET as given:
        // setter and getter of each declaration agree.
        let sample = |p: &Param| -> &'static str {
            match p.name {
                "maxmemory-policy" => "allkeys-lfu",
                "tls-auth-clients" => "optional",
                "tls-replication" | "tls-cluster" => "yes",
                "log-format" => "json",
                "client-output-buffer-limit" => {
                    "normal 0 0 0 replica 268435456 67108864 60 pubsub 33554432 8388608 60"
                }
                "save" => "3600 1",
                "notify-keyspace-events" => "KEA",
                "repl-backlog-size" | "proto-max-bulk-len" | "client-query-buffer-limit" => {
                    "2097152"
                }
                "proto-max-multibulk-len" | "proto-inline-max-size" => "4096",
                "bind" | "admin-bind" => "127.0.0.2",
                "dbfilename" => "dump.snap",
                n if n.contains("file") || n == "aclfile" => "/nonexistent",
                n if n.starts_with("cluster-") || n.starts_with("master") || n == "requirepass" => {
                    "name"
                }
                _ => "7",
            }
        };
        for p in PARAMS.iter().filter(|p| p.is_option()) {
            let mut c = Config::default();
            let v = sample(p);
            p.apply(&mut c, v)
                .unwrap_or_else(|e| panic!("{}: {e}", p.name));
            let shown = (p.get)(&c.settings, &c);
            let expected = if p.name == "notify-keyspace-events" {
                "AKE"
            } else {
                v
            };
            assert_eq!(shown, expected, "{}", p.name);
        }
    }

    #[test]
    fn names_are_unique_and_environment_variables_follow_them() {
        let mut seen = std::collections::HashSet::new();
        for p in PARAMS {
            assert!(seen.insert(p.name), "{} declared twice", p.name);
            assert_eq!(p.name, p.name.to_ascii_lowercase());
        }
        assert_eq!(
            param("maxmemory-policy").unwrap().env(),
            "SHOAL_MAXMEMORY_POLICY"
        );
        assert!(param("requirepass").unwrap().secret);
    }

    #[test]
    fn the_operator_owns_ports_auth_tls_memory_and_topology() {
        let owned: Vec<&str> = operator_owned().map(|p| p.name).collect();
        for name in [
            "bind",
            "port",
            "tls-port",
            "admin-port",
            "requirepass",
            "requirepass-file",
            "aclfile",
            "masteruser",
            "masterauth",
            "masterauth-file",
            "tls-cert-file",
            "tls-key-file",
            "tls-ca-cert-file",
            "tls-auth-clients",
            "tls-replication",
            "tls-cluster",
            "maxmemory",
            "maxmemory-policy",
            "log-format",
            "forward-port",
            "cluster-node-name",
            "cluster-topology-configmap",
            "cluster-peer-service",
        ] {
            assert!(owned.contains(&name), "{name} is set by the operator");
        }
        for name in ["hz", "timeout", "repl-backlog-size", "maxclients", "save"] {
            assert!(!owned.contains(&name), "{name} is the user's");
        }
    }

    #[test]
    fn clap_reads_flags_and_environment() {
        use clap::{Args, FromArgMatches};
        let cmd = Options::augment_args(clap::Command::new("t"));
        let m = cmd
            .try_get_matches_from(["t", "--maxmemory", "10mb", "--repl-backlog-size", "1mb"])
            .unwrap();
        let o = Options::from_arg_matches(&m).unwrap();
        assert_eq!(o.get("maxmemory"), Some("10mb"));
        let c = Config::from_options(&o).unwrap();
        assert_eq!(c.settings.repl_backlog_size, 1 << 20);
    }
}
