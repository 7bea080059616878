//! The `CacheCluster` custom resource (`shoal.dev/v1alpha1`): what a user asks for
//! (spec) and what the operator reports (status). `crds/` is generated from these
//! types (`shoal-operator crd`), never edited by hand.
//!
//! Rules the OpenAPI schema cannot say are CEL `x-kubernetes-validations`, checked
//! by the API server and, through kube's `cel` feature, by `render` and the tests.

use k8s_openapi::api::core::v1::{
    Affinity, LocalObjectReference, ResourceRequirements, Toleration, TopologySpreadConstraint,
};
use k8s_openapi::api::networking::v1::NetworkPolicyPeer;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The node image the operator runs when the spec names none.
pub const DEFAULT_IMAGE: &str = concat!("ghcr.io/shoal-dev/shoal-node:", env!("CARGO_PKG_VERSION"));

/// The CEL rule that keeps `spec.config` off the options the operator sets from
/// the spec's own fields: every option `shoal_core::config` declares
/// operator-owned, so a new one is covered without touching this file. Key
/// lookups rather than iterating the map, so the API server's CEL cost estimate
/// stays constant. (Render refuses other spellings of the same names too.)
pub fn reserved_config_rule() -> kube::core::Rule {
    let names: Vec<&str> = shoal_core::config::operator_owned()
        .map(|p| p.name)
        .collect();
    let rule = names
        .iter()
        .map(|n| format!("!('{n}' in self)"))
        .collect::<Vec<_>>()
        .join(" && ");
    kube::core::Rule::new(rule).message(kube::core::Message::Message(format!(
        "config may not set what the operator sets from the spec's own fields: {}",
        names.join(", ")
    )))
}

/// A sharded, replicated Redis-protocol cache.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "shoal.dev",
    version = "v1alpha1",
    kind = "CacheCluster",
    namespaced,
    cel,
    status = "CacheClusterStatus",
    derive = "PartialEq",
    shortname = "cc",
    category = "shoal",
    doc = "A sharded, replicated Redis-protocol cache run by the Shoal operator.",
    printcolumn(name = "Shards", type_ = "integer", json_path = ".spec.shards"),
    printcolumn(name = "Replicas", type_ = "integer", json_path = ".spec.replicasPerShard", description = "replicas per shard"),
    printcolumn(name = "Ready", type_ = "integer", json_path = ".status.readyReplicas", description = "ready pods"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    validation = Rule::new("self.metadata.name.size() <= 40").message("name must be at most 40 characters: pod and object names are derived from it"),
)]
#[x_kube(validation = Rule::new("has(self.persistence) == has(oldSelf.persistence)").message("persistence cannot be added or removed after creation: StatefulSet volume templates are immutable"))]
#[serde(rename_all = "camelCase")]
pub struct CacheClusterSpec {
    /// Number of shards; the 16384 hash slots are split evenly between them.
    /// Changing it resizes the running cluster: slots move with their keys
    /// to new shards, or off the shards that leave (status condition
    /// `Resharding` follows it).
    #[schemars(range(min = 1, max = 512))]
    pub shards: i32,

    /// Replicas per shard, in addition to its primary.
    #[serde(default)]
    #[schemars(range(min = 0, max = 5))]
    pub replicas_per_shard: i32,

    /// The shoal-node image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,

    /// Always, IfNotPresent or Never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<PullPolicy>,

    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub image_pull_secrets: Vec<LocalObjectReference>,

    /// CPU and memory of each node container. With a memory limit and no
    /// maxMemory, the node's maxmemory is 80% of the limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,

    /// Dataset memory limit of each node (a Kubernetes quantity such as 1Gi).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_memory: Option<Quantity>,

    /// What a node does at its memory limit.
    #[serde(default)]
    pub eviction_policy: EvictionPolicy,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthSpec>,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsSpec>,

    /// The client Service.
    #[serde(default)]
    pub service: ServiceSpec,

    #[serde(default)]
    pub metrics: MetricsSpec,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_disruption_budget: Option<PdbSpec>,

    /// A volume per pod for snapshots. Cannot change after creation: StatefulSet
    /// volume templates are immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self == oldSelf").message("persistence cannot change after creation: StatefulSet volume templates are immutable"))]
    pub persistence: Option<PersistenceSpec>,

    /// Replaces the default, which spreads each shard's pods over nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,

    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<Toleration>,

    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,

    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub topology_spread_constraints: Vec<TopologySpreadConstraint>,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<String>,

    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pod_labels: BTreeMap<String, String>,

    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pod_annotations: BTreeMap<String, String>,

    /// Extra node settings, as in the node's YAML config (e.g. timeout: "300").
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[x_kube(validation = reserved_config_rule())]
    pub config: BTreeMap<String, String>,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_policy: Option<NetworkPolicySpec>,

    /// How changes to the pods roll out. The operator replaces the pods
    /// itself (StatefulSets use `OnDelete`): per shard, replicas first, one
    /// at a time, each waited for until ready and synced; then the primary,
    /// which hands over to an updated replica before it stops.
    #[serde(default)]
    pub rollout: RolloutSpec,

    /// Stop reconciling: objects are left as they are.
    #[serde(default)]
    pub paused: bool,
}

/// How pod changes (image, resources, config) roll out.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutSpec {
    /// Shards replaced at the same time (never two pods of one shard).
    #[serde(default = "one")]
    #[schemars(range(min = 1, max = 512))]
    pub max_concurrent_shards: i32,
    /// A replaced pod that is not ready and synced within this many seconds
    /// stops the rollout there, with a `RolloutStuck` event; a newer spec
    /// supersedes it.
    #[serde(default = "ready_timeout")]
    #[schemars(range(min = 10, max = 86400))]
    pub ready_timeout_seconds: i64,
}

fn one() -> i32 {
    1
}

fn ready_timeout() -> i64 {
    600
}

impl Default for RolloutSpec {
    fn default() -> Self {
        RolloutSpec {
            max_concurrent_shards: one(),
            ready_timeout_seconds: ready_timeout(),
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum PullPolicy {
    Always,
    IfNotPresent,
    Never,
}

impl PullPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            PullPolicy::Always => "Always",
            PullPolicy::IfNotPresent => "IfNotPresent",
            PullPolicy::Never => "Never",
        }
    }
}

/// The node's maxmemory-policy.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema, Default)]
#[serde(rename_all = "kebab-case")]
pub enum EvictionPolicy {
    Noeviction,
    #[default]
    AllkeysLru,
    AllkeysLfu,
    AllkeysRandom,
    VolatileLru,
    VolatileLfu,
    VolatileRandom,
    VolatileTtl,
}

impl EvictionPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            EvictionPolicy::Noeviction => "noeviction",
            EvictionPolicy::AllkeysLru => "allkeys-lru",
            EvictionPolicy::AllkeysLfu => "allkeys-lfu",
            EvictionPolicy::AllkeysRandom => "allkeys-random",
            EvictionPolicy::VolatileLru => "volatile-lru",
            EvictionPolicy::VolatileLfu => "volatile-lfu",
            EvictionPolicy::VolatileRandom => "volatile-random",
            EvictionPolicy::VolatileTtl => "volatile-ttl",
        }
    }
}

/// Password authentication for clients.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.secretRef) || self.enabled").message("auth.secretRef needs auth.enabled: true"))]
#[x_kube(validation = Rule::new("!has(self.aclSecretRef) || self.enabled").message("auth.aclSecretRef needs auth.enabled: true"))]
pub struct AuthSpec {
    #[serde(default)]
    pub enabled: bool,
    /// The Secret key holding the password. Without it, the operator generates
    /// a Secret named `<cluster>-auth` with a random password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretKeyRef>,
    /// ACL users, in Redis ACL file syntax (`user <name> <rules>…` per line),
    /// from a Secret key. The password above then belongs to the internal
    /// user `shoal-internal` that nodes and the operator log in as; the default
    /// user is whatever the file says. Changes apply within seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acl_secret_ref: Option<AclSecretRef>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AclSecretRef {
    #[schemars(length(min = 1))]
    pub name: String,
    /// Defaults to `users.acl`.
    #[serde(default = "default_acl_key")]
    pub key: String,
}

fn default_acl_key() -> String {
    "users.acl".into()
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeyRef {
    #[schemars(length(min = 1))]
    pub name: String,
    /// Defaults to `password`.
    #[serde(default = "default_password_key")]
    pub key: String,
}

fn default_password_key() -> String {
    "password".into()
}

/// TLS for clients and node-to-node links (replication, forwarding, the
/// operator's health probes). With it, the client port (6379) and the
/// forwarding port speak TLS only.
///
/// The certificate must name what clients and peers connect to: the client
/// Service (`<cluster>.<namespace>.svc`) and every pod
/// (`*.<cluster>-nodes.<namespace>.svc`). Rotating the Secret (as cert-manager
/// does) reaches nodes without a restart.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TlsSpec {
    /// A `kubernetes.io/tls` Secret with `tls.crt` and `tls.key`, and `ca.crt`
    /// unless `caSecretRef` is set (cert-manager writes all three).
    pub secret_ref: LocalObjectReference,
    /// A Secret whose `ca.crt` verifies peers and client certificates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_secret_ref: Option<LocalObjectReference>,
    /// Require client certificates signed by the CA (mutual TLS). Nodes
    /// present their own certificate to each other either way.
    #[serde(default)]
    pub auth_clients: bool,
}

impl TlsSpec {
    /// The Secret holding `ca.crt`.
    pub fn ca_secret(&self) -> &str {
        self.ca_secret_ref
            .as_ref()
            .map_or(&self.secret_ref.name, |r| &r.name)
    }
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema, Default)]
pub enum ServiceType {
    #[default]
    ClusterIP,
    NodePort,
    LoadBalancer,
}

impl ServiceType {
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceType::ClusterIP => "ClusterIP",
            ServiceType::NodePort => "NodePort",
            ServiceType::LoadBalancer => "LoadBalancer",
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSpec {
    #[serde(default, rename = "type")]
    pub type_: ServiceType,
    #[serde(default = "default_port")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: i32,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Default for ServiceSpec {
    fn default() -> Self {
        ServiceSpec {
            type_: ServiceType::ClusterIP,
            port: default_port(),
            annotations: BTreeMap::new(),
        }
    }
}

fn default_port() -> i32 {
    6379
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MetricsSpec {
    /// Expose the nodes' admin port (metrics) on the headless Service.
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub service_monitor: ServiceMonitorSpec,
}

impl Default for MetricsSpec {
    fn default() -> Self {
        MetricsSpec {
            enabled: true,
            service_monitor: ServiceMonitorSpec::default(),
        }
    }
}

fn yes() -> bool {
    true
}

/// A Prometheus Operator ServiceMonitor, created when that API exists.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct ServiceMonitorSpec {
    #[serde(default)]
    pub enabled: bool,
    /// Scrape interval, e.g. 30s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[0-9]+(ms|s|m|h)$"))]
    pub interval: Option<String>,
    /// Extra labels, e.g. the one your Prometheus selects ServiceMonitors by.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// Either minAvailable or maxUnavailable (default: maxUnavailable 1).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!(has(self.minAvailable) && has(self.maxUnavailable))").message("set minAvailable or maxUnavailable, not both"))]
pub struct PdbSpec {
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_available: Option<IntOrString>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<IntOrString>,
}

/// A volume per pod for snapshots.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PersistenceSpec {
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
    /// Defaults to 1Gi.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<Quantity>,
    /// Delete the volumes when the CacheCluster is deleted (kept by default).
    #[serde(default)]
    pub delete_with_cluster: bool,
    /// Seconds between snapshots written in the background (each node also
    /// writes one on SIGTERM and loads it at start). 0: only on SIGTERM.
    #[serde(default = "snapshot_interval")]
    #[schemars(range(min = 0, max = 86400))]
    pub snapshot_interval_seconds: u64,
}

fn snapshot_interval() -> u64 {
    300
}

impl PersistenceSpec {
    pub fn size(&self) -> Quantity {
        self.size.clone().unwrap_or_else(|| Quantity("1Gi".into()))
    }
}

/// Restricts who may connect.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPolicySpec {
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Who may reach the client port; empty means pods in this namespace.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_clients: Vec<NetworkPolicyPeer>,
    /// Who may scrape the admin port (metrics); empty means anyone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_scrapers: Vec<NetworkPolicyPeer>,
}

/// What the operator observed and did. Every field is serialized, even when
/// empty, so a merge patch of the whole status also clears what is gone.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct CacheClusterStatus {
    #[serde(default)]
    pub phase: Option<Phase>,
    #[serde(default)]
    pub observed_generation: Option<i64>,
    /// Pods the cluster should have.
    #[serde(default)]
    pub replicas: i32,
    /// Pods that are ready.
    #[serde(default)]
    pub ready_replicas: i32,
    #[serde(default)]
    pub shards: Vec<ShardStatus>,
    /// Topology version; it grows whenever slot ownership changes.
    #[serde(default)]
    pub epoch: i64,
    /// Name of the Secret holding the password, when auth is enabled.
    #[serde(default)]
    pub auth_secret: Option<String>,
    #[serde(default)]
    pub conditions: Vec<Condition>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum Phase {
    /// Objects are being created; no shard serves yet.
    Pending,
    /// Every shard has a ready primary; some pods may still be rolling.
    Running,
    /// Some shard has no ready pod, or reconciling failed.
    Degraded,
    /// spec.paused is set.
    Paused,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ShardStatus {
    pub index: i32,
    pub stateful_set: String,
    /// The pod that serves the shard's writes.
    pub primary: String,
    /// Slot ranges, as Redis Cluster writes them: "0-5460".
    pub slots: String,
    pub replicas: i32,
    pub ready_replicas: i32,
}

impl CacheCluster {
    /// Pods per shard: the primary and its replicas.
    pub fn pods_per_shard(&self) -> i32 {
        1 + self.spec.replicas_per_shard.max(0)
    }
}
