//! The desired state: every object the operator applies for a `CacheCluster`,
//! computed without I/O. Reconcile applies exactly this; `shoal-operator render`
//! prints it.

mod monitoring;
mod policy;
pub mod quantity;
mod rbac;
mod secret;
mod services;
mod statefulset;
#[cfg(test)]
mod tests;

use crate::crd::CacheCluster;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::DynamicObject;
use kube::{Resource, ResourceExt};
use std::collections::BTreeMap;

pub use monitoring::service_monitor_resource;
pub use secret::{generate_password, PASSWORD_KEY};
pub use statefulset::{config_file, max_memory_bytes};

/// The client (RESP; cluster-aware clients, MOVED/ASK), forwarding (RESP; plain
/// clients, every key answered) and admin (HTTP: metrics, health) ports of
/// every node.
pub const CLIENT_PORT: i32 = 6379;
pub const FORWARD_PORT: i32 = 6380;
pub const ADMIN_PORT: i32 = 9379;
/// Where the node finds its configuration and secrets.
pub const CONFIG_DIR: &str = "/etc/shoal";

/// Facts from the cluster that the desired state depends on.
#[derive(Clone, Debug, Default)]
pub struct Inputs {
    /// The password in the Secret the operator generated before, if any; a new
    /// one is generated only when this is None, so it never changes under clients.
    pub existing_password: Option<String>,
    /// Whether the monitoring.coreos.com/v1 ServiceMonitor API is served.
    pub service_monitor_api: bool,
    /// The topology published now, if any (its epoch is the base of the next).
    pub published_topology: Option<shoal_core::cluster::Topology>,
    /// The resourceVersion of the topology ConfigMap read, if it exists: the
    /// apply is conditional on it, so a promotion the failover loop published
    /// in between is never overwritten with the roles read before it.
    pub published_topology_version: Option<String>,
}

/// Why a spec cannot be rendered.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RenderError {
    #[error("CacheCluster has no name")]
    NoName,
    #[error("CacheCluster has no namespace")]
    NoNamespace,
    #[error("invalid spec: {0}")]
    InvalidSpec(String),
}

/// Every object for one cluster, in the order they are applied.
#[derive(Clone, Debug)]
pub struct Desired {
    pub service_account: ServiceAccount,
    pub role: Role,
    pub role_binding: RoleBinding,
    /// Present when auth is enabled without a user-named Secret.
    pub auth_secret: Option<Secret>,
    pub config_map: ConfigMap,
    /// The topology document nodes watch, and the ConfigMap carrying it.
    pub topology: shoal_core::cluster::Topology,
    pub topology_config_map: ConfigMap,
    pub headless_service: Service,
    pub client_service: Service,
    pub stateful_sets: Vec<StatefulSet>,
    pub pod_disruption_budgets: Vec<PodDisruptionBudget>,
    pub network_policy: Option<NetworkPolicy>,
    pub service_monitor: Option<DynamicObject>,
}

impl Desired {
    /// All objects as JSON, for printing and for tests.
    pub fn to_values(&self) -> Vec<serde_json::Value> {
        fn v<T: serde::Serialize>(t: &T) -> serde_json::Value {
            serde_json::to_value(t).expect("Kubernetes objects serialize")
        }
        let mut out = vec![
            v(&self.service_account),
            v(&self.role),
            v(&self.role_binding),
        ];
        out.extend(self.auth_secret.iter().map(v));
        out.push(v(&self.config_map));
        out.push(v(&self.topology_config_map));
        out.push(v(&self.headless_service));
        out.push(v(&self.client_service));
        out.extend(self.stateful_sets.iter().map(v));
        out.extend(self.pod_disruption_budgets.iter().map(v));
        out.extend(self.network_policy.iter().map(v));
        out.extend(self.service_monitor.iter().map(v));
        out
    }
}

/// Names of the objects of a cluster, in one place.
pub struct Names<'a>(pub &'a str);

impl Names<'_> {
    pub fn client_service(&self) -> String {
        self.0.to_string()
    }
    pub fn headless_service(&self) -> String {
        format!("{}-nodes", self.0)
    }
    pub fn config_map(&self) -> String {
        format!("{}-config", self.0)
    }
    pub fn topology_config_map(&self) -> String {
        format!("{}-topology", self.0)
    }
    pub fn node_identity(&self) -> String {
        format!("{}-node", self.0)
    }
    pub fn auth_secret(&self) -> String {
        format!("{}-auth", self.0)
    }
    pub fn shard(&self, index: i32) -> String {
        format!("{}-shard-{index}", self.0)
    }
    /// The pod that starts as the shard's primary: the StatefulSet's ordinal 0.
    pub fn shard_primary(&self, index: i32) -> String {
        format!("{}-0", self.shard(index))
    }
}

pub const LABEL_CLUSTER: &str = "shoal.dev/cluster";
pub const LABEL_SHARD: &str = "shoal.dev/shard";

/// Labels that select every node pod of a cluster.
pub fn selector_labels(cluster: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_string(), "shoal".to_string()),
        (
            "app.kubernetes.io/instance".to_string(),
            cluster.to_string(),
        ),
        (
            "app.kubernetes.io/component".to_string(),
            "cache-node".to_string(),
        ),
    ])
}

/// Labels that select one shard's pods.
pub fn shard_selector_labels(cluster: &str, index: i32) -> BTreeMap<String, String> {
    let mut l = selector_labels(cluster);
    l.insert(LABEL_SHARD.to_string(), index.to_string());
    l
}

/// Labels every object of a cluster carries.
pub fn object_labels(cluster: &str) -> BTreeMap<String, String> {
    let mut l = selector_labels(cluster);
    l.insert(
        "app.kubernetes.io/managed-by".into(),
        "shoal-operator".into(),
    );
    l.insert("app.kubernetes.io/part-of".into(), "shoal".into());
    l.insert(LABEL_CLUSTER.into(), cluster.into());
    l
}

/// Context shared by the object builders.
pub(crate) struct Ctx<'a> {
    pub cc: &'a CacheCluster,
    pub name: String,
    pub namespace: String,
    pub owner: Option<OwnerReference>,
    /// StatefulSets to run: the spec's shards, and during a resize also those
    /// the topology still names (a shrink empties them before they go).
    pub shards: i32,
}

impl Ctx<'_> {
    pub fn names(&self) -> Names<'_> {
        Names(&self.name)
    }

    /// Metadata for a child object: name, namespace, labels, owner.
    pub fn meta(&self, name: impl Into<String>) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.into()),
            namespace: Some(self.namespace.clone()),
            labels: Some(object_labels(&self.name)),
            owner_references: self.owner.clone().map(|o| vec![o]),
            ..ObjectMeta::default()
        }
    }
}

/// Computes every object for `cc`. Fails for specs the API server would also
/// refuse (CEL rules) and for values the schema cannot check.
pub fn desired(cc: &CacheCluster, inputs: &Inputs) -> Result<Desired, RenderError> {
    let name = cc.metadata.name.clone().ok_or(RenderError::NoName)?;
    let namespace = cc.namespace().ok_or(RenderError::NoNamespace)?;
    cc.validate_cel().map_err(|errs| {
        RenderError::InvalidSpec(
            errs.iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("; "),
        )
    })?;
    check(cc)?;
    // Without a uid (offline render of a file) there is no owner to reference yet.
    let owner = cc
        .metadata
        .uid
        .as_ref()
        .and_then(|_| cc.controller_owner_ref(&()));
    let shards = (crate::topology::shard_count(cc, inputs.published_topology.as_ref()) as i32)
        .max(cc.spec.shards);
    let ctx = Ctx {
        cc,
        name,
        namespace,
        owner,
        shards,
    };
    let auth_secret = secret::auth_secret(&ctx, inputs);
    let config_map = statefulset::config_map(&ctx)?;
    let reported = cc.status.as_ref().map_or(0, |s| s.epoch.max(0) as u64);
    let epoch = crate::topology::next_epoch(
        cc,
        &ctx.namespace,
        inputs.published_topology.as_ref(),
        reported,
    );
    let topology = crate::topology::document(
        cc,
        &ctx.namespace,
        epoch,
        inputs.published_topology.as_ref(),
    );
    let mut topology_meta = ctx.meta(ctx.names().topology_config_map());
    topology_meta.resource_version = inputs.published_topology_version.clone();
    let topology_config_map = ConfigMap {
        metadata: topology_meta,
        data: Some(BTreeMap::from([(
            crate::topology::TOPOLOGY_KEY.to_string(),
            topology.to_yaml(),
        )])),
        ..ConfigMap::default()
    };
    let stateful_sets = (0..ctx.shards)
        .map(|i| statefulset::stateful_set(&ctx, i, &config_map))
        .collect::<Result<_, _>>()?;
    Ok(Desired {
        service_account: rbac::service_account(&ctx),
        role: rbac::role(&ctx),
        role_binding: rbac::role_binding(&ctx),
        auth_secret,
        config_map,
        topology,
        topology_config_map,
        headless_service: services::headless(&ctx),
        client_service: services::client(&ctx),
        stateful_sets,
        pod_disruption_budgets: policy::pod_disruption_budgets(&ctx),
        network_policy: policy::network_policy(&ctx),
        service_monitor: monitoring::service_monitor(&ctx, inputs),
    })
}

/// Checks the API server makes from the schema (repeated here because `render`
/// works offline) and those the schema cannot make: values typed as strings.
fn check(cc: &CacheCluster) -> Result<(), RenderError> {
    let s = &cc.spec;
    let range = |what: &str, v: i32, lo: i32, hi: i32| {
        if v < lo || v > hi {
            Err(RenderError::InvalidSpec(format!(
                "{what} must be between {lo} and {hi}, not {v}"
            )))
        } else {
            Ok(())
        }
    };
    range("shards", s.shards, 1, 512)?;
    range("replicasPerShard", s.replicas_per_shard, 0, 5)?;
    range("service.port", s.service.port, 1, 65535)?;
    if let Some(q) = &s.max_memory {
        if quantity::bytes(&q.0).is_none() {
            return Err(RenderError::InvalidSpec(format!(
                "maxMemory {:?} is not a quantity",
                q.0
            )));
        }
    }
    if let Some(p) = &s.persistence {
        let size = p.size();
        if quantity::bytes(&size.0).is_none_or(|b| b == 0) {
            return Err(RenderError::InvalidSpec(format!(
                "persistence.size {:?} is not a positive quantity",
                size.0
            )));
        }
    }
    for (k, v) in &s.config {
        if k.is_empty() || k.contains(char::is_whitespace) || v.contains('\n') {
            return Err(RenderError::InvalidSpec(format!(
                "config entry {k:?} is not a single-line setting"
            )));
        }
    }
    Ok(())
}
