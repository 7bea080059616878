//! The node pods: one StatefulSet per shard (the primary and its replicas), and
//! the ConfigMap with the node configuration they mount.

use super::{
    quantity, shard_selector_labels, Ctx, RenderError, ADMIN_PORT, CLIENT_PORT, CONFIG_DIR,
    FORWARD_PORT, LABEL_SHARD,
};
use crate::crd::CacheCluster;
use k8s_openapi::api::apps::v1::{
    StatefulSet, StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetSpec,
    StatefulSetUpdateStrategy,
};
use k8s_openapi::api::core::v1::{
    Affinity, Capabilities, ConfigMap, ConfigMapVolumeSource, Container, ContainerPort,
    EmptyDirVolumeSource, EnvVar, EnvVarSource, HTTPGetAction, Lifecycle, LifecycleHandler,
    ObjectFieldSelector, PersistentVolumeClaim, PersistentVolumeClaimSpec, PodAffinityTerm,
    PodAntiAffinity, PodSecurityContext, PodSpec, PodTemplateSpec, Probe, ResourceRequirements,
    SeccompProfile, SecretVolumeSource, SecurityContext, SleepAction, Volume, VolumeMount,
    VolumeResourceRequirements, WeightedPodAffinityTerm,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::BTreeMap;

/// The node's share of its container memory limit when maxMemory is not set:
/// the rest covers buffers, connections and allocator overhead.
const MEMORY_LIMIT_SHARE: f64 = 0.8;
/// The non-root user of the node image (distroless `nonroot`).
const NODE_UID: i64 = 65532;
/// Seconds between the pod leaving its Services and SIGTERM, so clients stop
/// being routed to it before it closes connections.
const PRESTOP_SLEEP: i64 = 5;
const CONFIG_FILE: &str = "shoal.yaml";
const AUTH_DIR: &str = "/etc/shoal/auth";
const ACL_DIR: &str = "/etc/shoal/acl";
const TLS_DIR: &str = "/etc/shoal/tls";
const TLS_CA_DIR: &str = "/etc/shoal/tls-ca";

/// The node's maxmemory: spec.maxMemory, else 80% of the memory limit.
pub fn max_memory_bytes(cc: &CacheCluster) -> Option<u64> {
    if let Some(q) = &cc.spec.max_memory {
        return quantity::bytes(&q.0);
    }
    let limit = cc
        .spec
        .resources
        .as_ref()
        .unwrap_or(&default_resources())
        .limits
        .as_ref()?
        .get("memory")
        .and_then(|q| quantity::bytes(&q.0))?;
    Some((limit as f64 * MEMORY_LIMIT_SHARE) as u64)
}

/// Requests and a memory limit, so a cluster without `resources` is neither
/// best-effort nor unbounded.
fn default_resources() -> ResourceRequirements {
    ResourceRequirements {
        requests: Some(BTreeMap::from([
            ("cpu".to_string(), Quantity("100m".into())),
            ("memory".to_string(), Quantity("256Mi".into())),
        ])),
        limits: Some(BTreeMap::from([(
            "memory".to_string(),
            Quantity("256Mi".into()),
        )])),
        ..ResourceRequirements::default()
    }
}

/// The node's YAML configuration: the settings the operator owns, then the
/// user's `spec.config`.
pub fn config_file(cc: &CacheCluster) -> Result<String, RenderError> {
    use serde_yaml::{Mapping, Value};
    let mut m = Mapping::new();
    let mut put = |k: &str, v: Value| {
        m.insert(Value::String(k.into()), v);
    };
    put("bind", "0.0.0.0".into());
    if let Some(tls) = &cc.spec.tls {
        // TLS only, on the usual port: clients, replicas, forwarding links and
        // the operator's probes all speak TLS.
        use crate::secrets::{CA_KEY, TLS_CERT_KEY, TLS_KEY_KEY};
        let ca_dir = if tls.ca_secret_ref.is_some() {
            TLS_CA_DIR
        } else {
            TLS_DIR
        };
        put("port", 0.into());
        put("tls-port", CLIENT_PORT.into());
        put("tls-cert-file", format!("{TLS_DIR}/{TLS_CERT_KEY}").into());
        put("tls-key-file", format!("{TLS_DIR}/{TLS_KEY_KEY}").into());
        put("tls-ca-cert-file", format!("{ca_dir}/{CA_KEY}").into());
        put(
            "tls-auth-clients",
            if tls.auth_clients { "yes" } else { "no" }.into(),
        );
        put("tls-replication", "yes".into());
        put("tls-cluster", "yes".into());
    } else {
        put("port", CLIENT_PORT.into());
    }
    put("admin-bind", "0.0.0.0".into());
    put("admin-port", ADMIN_PORT.into());
    put("forward-port", FORWARD_PORT.into());
    // The node's own name comes from the pod (SHOAL_CLUSTER_NODE_NAME).
    let name = cc.metadata.name.clone().unwrap_or_default();
    put(
        "cluster-topology-configmap",
        super::Names(&name).topology_config_map().into(),
    );
    put(
        "cluster-peer-service",
        super::Names(&name).headless_service().into(),
    );
    put("log-format", "json".into());
    if let Some(b) = max_memory_bytes(cc) {
        put("maxmemory", b.into());
    }
    put("maxmemory-policy", cc.spec.eviction_policy.as_str().into());
    // Snapshots on the pod's volume: loaded at start, written on SIGTERM and
    // every snapshotIntervalSeconds.
    if let Some(p) = cc.spec.persistence.as_ref().filter(|p| p.enabled) {
        put("dir", "/data".into());
        put("snapshot-interval", p.snapshot_interval_seconds.into());
    }
    match cc.spec.auth.as_ref().filter(|a| a.enabled) {
        Some(auth) if auth.acl_secret_ref.is_some() => {
            use crate::secrets::{ACL_FILE_KEY, LINK_USER};
            put("aclfile", format!("{ACL_DIR}/{ACL_FILE_KEY}").into());
            put("masteruser", LINK_USER.into());
            put(
                "masterauth-file",
                format!("{AUTH_DIR}/{}", super::PASSWORD_KEY).into(),
            );
        }
        Some(_) => put(
            "requirepass-file",
            format!("{AUTH_DIR}/{}", super::PASSWORD_KEY).into(),
        ),
        None => {}
    }
    for (k, v) in &cc.spec.config {
        // The API server's CEL rule refuses these names as written; here any
        // spelling of them (CONFIG names are case-insensitive) is refused too,
        // so that the spec's own fields always win.
        if let Some(p) = shoal_core::config::param(k).filter(|p| p.is_operator_owned()) {
            return Err(RenderError::InvalidSpec(format!(
                "config: {k} is set by the operator ({}); use the spec's own fields",
                p.name
            )));
        }
        // Typed as YAML reads it: "300" is a number, "allkeys-lru" a string.
        let value: Value = serde_yaml::from_str(v).unwrap_or_else(|_| Value::String(v.clone()));
        m.insert(Value::String(k.clone()), value);
    }
    let text = serde_yaml::to_string(&m).map_err(|e| RenderError::InvalidSpec(e.to_string()))?;
    // The node reads this file; refuse here what it would refuse at startup.
    let mut check = shoal_core::config::Options::from_yaml(&text)
        .map_err(|e| RenderError::InvalidSpec(format!("config: {e}")))?;
    // Files exist only inside the pod; the node's name comes from the pod.
    for name in [
        "requirepass-file",
        "aclfile",
        "masteruser",
        "masterauth-file",
    ] {
        check.remove(name);
    }
    let check = check.with("cluster-node-name", "pod");
    shoal_core::config::Config::from_options(&check)
        .map_err(|e| RenderError::InvalidSpec(format!("config: {e}")))?;
    Ok(text)
}

pub(super) fn config_map(ctx: &Ctx<'_>) -> Result<ConfigMap, RenderError> {
    Ok(ConfigMap {
        metadata: ctx.meta(ctx.names().config_map()),
        data: Some(BTreeMap::from([(
            CONFIG_FILE.to_string(),
            config_file(ctx.cc)?,
        )])),
        ..ConfigMap::default()
    })
}

/// A stable digest of the configuration, so pods roll when it changes.
fn config_hash(cm: &ConfigMap) -> String {
    const CRC: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);
    let data = serde_json::to_vec(&cm.data).unwrap_or_default();
    format!("{:08x}", CRC.checksum(&data))
}

fn http_probe(path: &str, period: i32, failures: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.into()),
            port: IntOrString::String("admin".into()),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(period),
        failure_threshold: Some(failures),
        timeout_seconds: Some(2),
        ..Probe::default()
    }
}

fn env_field(name: &str, path: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                field_path: path.into(),
                ..ObjectFieldSelector::default()
            }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    }
}

fn env_value(name: &str, value: String) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: Some(value),
        ..EnvVar::default()
    }
}

fn mount(name: &str, path: &str) -> VolumeMount {
    VolumeMount {
        name: name.into(),
        mount_path: path.into(),
        read_only: Some(true),
        ..VolumeMount::default()
    }
}

fn secret_volume(name: &str, secret: &str) -> Volume {
    Volume {
        name: name.into(),
        secret: Some(SecretVolumeSource {
            secret_name: Some(secret.into()),
            default_mode: Some(0o440),
            ..SecretVolumeSource::default()
        }),
        ..Volume::default()
    }
}

/// Spreads a shard's pods over nodes, so losing a node loses one copy at most.
fn default_affinity(ctx: &Ctx<'_>, index: i32) -> Affinity {
    Affinity {
        pod_anti_affinity: Some(PodAntiAffinity {
            preferred_during_scheduling_ignored_during_execution: Some(vec![
                WeightedPodAffinityTerm {
                    weight: 100,
                    pod_affinity_term: PodAffinityTerm {
                        label_selector: Some(LabelSelector {
                            match_labels: Some(shard_selector_labels(&ctx.name, index)),
                            ..LabelSelector::default()
                        }),
                        topology_key: "kubernetes.io/hostname".into(),
                        ..PodAffinityTerm::default()
                    },
                },
            ]),
            ..PodAntiAffinity::default()
        }),
        ..Affinity::default()
    }
}

fn non_empty<T>(v: Vec<T>) -> Option<Vec<T>> {
    (!v.is_empty()).then_some(v)
}

fn non_empty_map(m: BTreeMap<String, String>) -> Option<BTreeMap<String, String>> {
    (!m.is_empty()).then_some(m)
}

pub(super) fn stateful_set(
    ctx: &Ctx<'_>,
    index: i32,
    config: &ConfigMap,
) -> Result<StatefulSet, RenderError> {
    let spec = &ctx.cc.spec;
    let names = ctx.names();
    let selector = shard_selector_labels(&ctx.name, index);
    let mut pod_labels = spec.pod_labels.clone();
    pod_labels.extend(super::object_labels(&ctx.name));
    pod_labels.insert(LABEL_SHARD.into(), index.to_string());
    let mut annotations = spec.pod_annotations.clone();
    annotations.insert("shoal.dev/config-hash".into(), config_hash(config));

    let mut volumes = vec![
        Volume {
            name: "config".into(),
            config_map: Some(ConfigMapVolumeSource {
                name: names.config_map(),
                ..ConfigMapVolumeSource::default()
            }),
            ..Volume::default()
        },
        Volume {
            name: "tmp".into(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Volume::default()
        },
    ];
    let mut mounts = vec![
        // Each volume gets its own directory: a mount nested inside a ConfigMap
        // volume would need a directory the read-only volume cannot create.
        mount("config", &format!("{CONFIG_DIR}/config")),
        VolumeMount {
            name: "tmp".into(),
            mount_path: "/tmp".into(),
            ..VolumeMount::default()
        },
    ];
    if let Some(auth) = spec.auth.as_ref().filter(|a| a.enabled) {
        // Mounted (a whole volume, no subPath, so the kubelet updates it in
        // place), never passed in env or args. The node re-reads the file every
        // second: a rotated password applies without restarting pods.
        let (secret, key) = match &auth.secret_ref {
            Some(r) => (r.name.clone(), r.key.clone()),
            None => (names.auth_secret(), super::PASSWORD_KEY.to_string()),
        };
        let mut v = secret_volume("auth", &secret);
        if let Some(s) = v.secret.as_mut() {
            s.items = Some(vec![k8s_openapi::api::core::v1::KeyToPath {
                key,
                path: super::PASSWORD_KEY.into(),
                ..Default::default()
            }]);
        }
        volumes.push(v);
        mounts.push(mount("auth", AUTH_DIR));
        if let Some(acl) = &auth.acl_secret_ref {
            let mut v = secret_volume("acl", &acl.name);
            if let Some(s) = v.secret.as_mut() {
                s.items = Some(vec![k8s_openapi::api::core::v1::KeyToPath {
                    key: acl.key.clone(),
                    path: crate::secrets::ACL_FILE_KEY.into(),
                    ..Default::default()
                }]);
            }
            volumes.push(v);
            mounts.push(mount("acl", ACL_DIR));
        }
    }
    if let Some(tls) = &spec.tls {
        // Whole-Secret volumes (no subPath) so rotations reach the files,
        // which the node re-reads every second; readable by the node only.
        use crate::secrets::{CA_KEY, TLS_CERT_KEY, TLS_KEY_KEY};
        let items = |keys: &[&str]| {
            keys.iter()
                .map(|k| k8s_openapi::api::core::v1::KeyToPath {
                    key: k.to_string(),
                    path: k.to_string(),
                    ..Default::default()
                })
                .collect::<Vec<_>>()
        };
        let own_ca = tls.ca_secret_ref.is_none();
        let mut v = secret_volume("tls", &tls.secret_ref.name);
        if let Some(s) = v.secret.as_mut() {
            s.items = Some(if own_ca {
                items(&[TLS_CERT_KEY, TLS_KEY_KEY, CA_KEY])
            } else {
                items(&[TLS_CERT_KEY, TLS_KEY_KEY])
            });
        }
        volumes.push(v);
        mounts.push(mount("tls", TLS_DIR));
        if let Some(ca) = &tls.ca_secret_ref {
            let mut v = secret_volume("tls-ca", &ca.name);
            if let Some(s) = v.secret.as_mut() {
                s.items = Some(items(&[CA_KEY]));
            }
            volumes.push(v);
            mounts.push(mount("tls-ca", TLS_CA_DIR));
        }
    }
    let persistence = spec.persistence.as_ref().filter(|p| p.enabled);
    if persistence.is_some() {
        mounts.push(VolumeMount {
            name: "data".into(),
            mount_path: "/data".into(),
            ..VolumeMount::default()
        });
    }

    let container = Container {
        name: "node".into(),
        image: Some(
            spec.image
                .clone()
                .unwrap_or_else(|| crate::crd::DEFAULT_IMAGE.into()),
        ),
        image_pull_policy: spec.image_pull_policy.map(|p| p.as_str().into()),
        args: Some(vec![
            "--config".into(),
            format!("{CONFIG_DIR}/config/{CONFIG_FILE}"),
        ]),
        env: Some(vec![
            env_field("POD_NAME", "metadata.name"),
            env_field("POD_NAMESPACE", "metadata.namespace"),
            env_field("SHOAL_CLUSTER_NODE_NAME", "metadata.name"),
            env_field("SHOAL_CLUSTER_NAMESPACE", "metadata.namespace"),
            env_value("SHOAL_CLUSTER", ctx.name.clone()),
            env_value("SHOAL_SHARD", index.to_string()),
        ]),
        ports: Some(vec![
            ContainerPort {
                name: Some("redis".into()),
                container_port: CLIENT_PORT,
                protocol: Some("TCP".into()),
                ..ContainerPort::default()
            },
            ContainerPort {
                name: Some("forward".into()),
                container_port: FORWARD_PORT,
                protocol: Some("TCP".into()),
                ..ContainerPort::default()
            },
            ContainerPort {
                name: Some("admin".into()),
                container_port: ADMIN_PORT,
                protocol: Some("TCP".into()),
                ..ContainerPort::default()
            },
        ]),
        resources: Some(spec.resources.clone().unwrap_or_else(default_resources)),
        readiness_probe: Some(http_probe("/readyz", 5, 2)),
        liveness_probe: Some(Probe {
            initial_delay_seconds: Some(5),
            ..http_probe("/healthz", 10, 3)
        }),
        lifecycle: Some(Lifecycle {
            pre_stop: Some(LifecycleHandler {
                sleep: Some(SleepAction {
                    seconds: PRESTOP_SLEEP,
                }),
                ..LifecycleHandler::default()
            }),
            ..Lifecycle::default()
        }),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
            run_as_non_root: Some(true),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".into()]),
                ..Capabilities::default()
            }),
            ..SecurityContext::default()
        }),
        volume_mounts: Some(mounts),
        ..Container::default()
    };

    let pod = PodSpec {
        service_account_name: Some(names.node_identity()),
        // Service links would inject variables like SHOAL_PORT=tcp://… for a
        // Service named "shoal", which the node reads as its own settings.
        enable_service_links: Some(false),
        automount_service_account_token: Some(true),
        containers: vec![container],
        volumes: Some(volumes),
        image_pull_secrets: non_empty(spec.image_pull_secrets.clone()),
        affinity: Some(
            spec.affinity
                .clone()
                .unwrap_or_else(|| default_affinity(ctx, index)),
        ),
        tolerations: non_empty(spec.tolerations.clone()),
        node_selector: non_empty_map(spec.node_selector.clone()),
        topology_spread_constraints: non_empty(spec.topology_spread_constraints.clone()),
        priority_class_name: spec.priority_class_name.clone(),
        termination_grace_period_seconds: Some(30),
        security_context: Some(PodSecurityContext {
            run_as_non_root: Some(true),
            run_as_user: Some(NODE_UID),
            run_as_group: Some(NODE_UID),
            fs_group: Some(NODE_UID),
            seccomp_profile: Some(SeccompProfile {
                type_: "RuntimeDefault".into(),
                ..SeccompProfile::default()
            }),
            ..PodSecurityContext::default()
        }),
        ..PodSpec::default()
    };

    let claims = persistence.map(|p| {
        vec![PersistentVolumeClaim {
            metadata: ObjectMeta {
                name: Some("data".into()),
                labels: Some(super::object_labels(&ctx.name)),
                ..ObjectMeta::default()
            },
            spec: Some(PersistentVolumeClaimSpec {
                access_modes: Some(vec!["ReadWriteOnce".into()]),
                storage_class_name: p.storage_class_name.clone(),
                resources: Some(VolumeResourceRequirements {
                    requests: Some(BTreeMap::from([("storage".to_string(), p.size())])),
                    ..VolumeResourceRequirements::default()
                }),
                ..PersistentVolumeClaimSpec::default()
            }),
            ..PersistentVolumeClaim::default()
        }]
    });

    let mut meta = ctx.meta(names.shard(index));
    meta.labels
        .get_or_insert_with(BTreeMap::new)
        .insert(LABEL_SHARD.into(), index.to_string());
    Ok(StatefulSet {
        metadata: meta,
        spec: Some(StatefulSetSpec {
            service_name: Some(names.headless_service()),
            replicas: Some(ctx.cc.pods_per_shard()),
            selector: LabelSelector {
                match_labels: Some(selector),
                ..LabelSelector::default()
            },
            pod_management_policy: Some("Parallel".into()),
            // The operator replaces pods in the order that keeps every
            // acknowledged write (see `crate::rollout`), not the controller.
            update_strategy: Some(StatefulSetUpdateStrategy {
                type_: Some("OnDelete".into()),
                ..StatefulSetUpdateStrategy::default()
            }),
            persistent_volume_claim_retention_policy: persistence.map(|p| {
                StatefulSetPersistentVolumeClaimRetentionPolicy {
                    when_deleted: Some(
                        if p.delete_with_cluster {
                            "Delete"
                        } else {
                            "Retain"
                        }
                        .into(),
                    ),
                    when_scaled: Some("Retain".into()),
                }
            }),
            volume_claim_templates: claims,
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(pod_labels),
                    annotations: Some(annotations),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod),
            },
            ..StatefulSetSpec::default()
        }),
        ..StatefulSet::default()
    })
}
