//! Reconciling one `CacheCluster`: read what the desired state depends on,
//! compute it ([`render::desired`]), apply it with server-side apply, and report
//! status. Kubernetes glue only; every decision lives in `render` and `status`.

use crate::crd::{CacheCluster, CacheClusterStatus};
use crate::error::Error;
use crate::metrics::Metrics;
use crate::render::{self, Desired, Inputs, Names};
use crate::status::{self, Observed};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::NamespaceResourceScope;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder};
use kube::{Client, Resource, ResourceExt};
use parking_lot::Mutex;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;
use tracing::{info, warn};

/// The field manager of every object the operator applies.
pub const FIELD_MANAGER: &str = "shoal-operator";
/// How often a healthy cluster is looked at again (changes to owned objects
/// trigger a reconcile sooner).
const RESYNC: Duration = Duration::from_secs(300);
const BACKOFF_MIN: Duration = Duration::from_secs(5);
const BACKOFF_MAX: Duration = Duration::from_secs(300);

/// Shared by every reconcile.
pub struct Context {
    pub client: Client,
    pub recorder: Recorder,
    pub metrics: Arc<Metrics>,
    /// Consecutive failures per cluster, for backoff.
    failures: Mutex<HashMap<String, u32>>,
}

impl Context {
    pub fn new(client: Client, metrics: Arc<Metrics>) -> Context {
        let recorder = Recorder::new(client.clone(), FIELD_MANAGER.into());
        Context {
            client,
            recorder,
            metrics,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// The delay before retrying a failed cluster: doubling from 5 s to 5 min.
    pub fn backoff(&self, key: &str) -> Duration {
        let mut f = self.failures.lock();
        let n = f.entry(key.to_string()).or_insert(0);
        *n = n.saturating_add(1);
        let exp = (*n - 1).min(16);
        (BACKOFF_MIN * 2u32.saturating_pow(exp)).min(BACKOFF_MAX)
    }

    fn succeeded(&self, key: &str) {
        self.failures.lock().remove(key);
    }
}

/// A cluster's `namespace/name`, for logs and per-cluster state.
pub(crate) fn key(cc: &CacheCluster) -> String {
    format!("{}/{}", cc.namespace().unwrap_or_default(), cc.name_any())
}

/// The controller's reconcile function.
pub async fn reconcile(cc: Arc<CacheCluster>, ctx: Arc<Context>) -> Result<Action, Error> {
    let timer = ctx.metrics.reconcile_duration.start_timer();
    let result = reconcile_inner(&cc, &ctx).await;
    timer.observe_duration();
    match &result {
        Ok(_) => {
            ctx.metrics.reconciles.with_label_values(&["ok"]).inc();
            ctx.succeeded(&key(&cc));
        }
        Err(e) => {
            ctx.metrics.reconciles.with_label_values(&["error"]).inc();
            ctx.metrics
                .errors
                .with_label_values(&[e.metric_label()])
                .inc();
            // Errors show in the status too, not only in logs.
            // The StatefulSets were not read back: keep the last readiness.
            let observed = Observed {
                stateful_sets: None,
                error: Some((e.metric_label(), e.to_string())),
                auth_secret: auth_secret_name(&cc),
                topology: None,
            };
            let status = status::compute(&cc, &observed, now());
            if let Err(pe) = patch_status(&ctx.client, &cc, &status).await {
                warn!(cluster = %key(&cc), error = %pe, "could not record the failure in status");
            }
            publish(
                &ctx,
                &cc,
                EventType::Warning,
                e.metric_label(),
                "Reconcile",
                e.to_string(),
            )
            .await;
        }
    }
    result
}

/// The controller's error policy: retry with backoff.
pub fn error_policy(cc: Arc<CacheCluster>, error: &Error, ctx: Arc<Context>) -> Action {
    let delay = ctx.backoff(&key(&cc));
    warn!(cluster = %key(&cc), error = %error, retry_in = ?delay, "reconcile failed");
    Action::requeue(delay)
}

fn now() -> Time {
    Time(jiff::Timestamp::now())
}

pub(crate) async fn publish(
    ctx: &Context,
    cc: &CacheCluster,
    type_: EventType,
    reason: &str,
    action: &str,
    note: String,
) {
    let event = Event {
        type_,
        reason: reason.into(),
        note: Some(note),
        action: action.into(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&event, &cc.object_ref(&())).await {
        warn!(cluster = %key(cc), error = %e, "could not publish an event");
    }
}

async fn reconcile_inner(cc: &CacheCluster, ctx: &Context) -> Result<Action, Error> {
    let ns = cc
        .namespace()
        .ok_or(Error::InvalidSpec("CacheCluster has no namespace".into()))?;
    let name = cc.name_any();
    let client = &ctx.client;
    if cc.meta().deletion_timestamp.is_some() {
        // Garbage collection removes the owned objects; re-applying them now
        // would only race it.
        return Ok(Action::await_change());
    }
    if cc.spec.paused {
        // Nothing is applied, but readiness is still reported truthfully.
        let names: Vec<String> = (0..cc.spec.shards).map(|i| Names(&name).shard(i)).collect();
        let sets = read_stateful_sets(client, &ns, &names).await?;
        let observed = Observed {
            stateful_sets: Some(&sets),
            error: None,
            auth_secret: auth_secret_name(cc),
            topology: None,
        };
        let status = status::compute(cc, &observed, now());
        patch_status(client, cc, &status).await?;
        return Ok(Action::requeue(RESYNC));
    }
    let inputs = read_inputs(client, cc, &ns).await?;
    let generated_before = inputs.existing_password.is_some();
    let desired = render::desired(cc, &inputs)?;
    apply_all(client, &ns, &desired).await?;
    if desired.auth_secret.is_some() && !generated_before {
        publish(
            ctx,
            cc,
            EventType::Normal,
            "SecretGenerated",
            "CreateSecret",
            format!("generated password Secret {}", Names(&name).auth_secret()),
        )
        .await;
    }
    remove_disabled(client, cc, &ns, &desired).await?;
    remove_left_shards(ctx, cc, &ns, desired.stateful_sets.len() as i32).await?;

    let names: Vec<String> = desired.stateful_sets.iter().map(|s| s.name_any()).collect();
    let sets = read_stateful_sets(client, &ns, &names).await?;
    let observed = Observed {
        stateful_sets: Some(&sets),
        error: None,
        auth_secret: auth_secret_name(cc),
        topology: Some(&desired.topology),
    };
    let status = status::compute(cc, &observed, now());
    let old_phase = cc.status.as_ref().and_then(|s| s.phase);
    if old_phase != status.phase {
        info!(cluster = %key(cc), from = ?old_phase, to = ?status.phase, "phase changed");
        publish(
            ctx,
            cc,
            EventType::Normal,
            "PhaseChanged",
            "UpdateStatus",
            format!("phase {:?} -> {:?}", old_phase, status.phase),
        )
        .await;
    }
    // Said once when it becomes true: a pod restart empties its shard.
    let ephemeral = |conds: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition]| {
        conds
            .iter()
            .any(|c| c.type_ == "Durable" && c.status == "False")
    };
    let was = cc.status.as_ref().is_some_and(|s| ephemeral(&s.conditions));
    if ephemeral(&status.conditions) && !was {
        publish(
            ctx,
            cc,
            EventType::Warning,
            "NotDurable",
            "UpdateStatus",
            status::durable(cc).message,
        )
        .await;
    }
    patch_status(client, cc, &status).await?;
    Ok(Action::requeue(RESYNC))
}

/// The named StatefulSets that exist, with their status.
async fn read_stateful_sets(
    client: &Client,
    ns: &str,
    names: &[String],
) -> Result<Vec<StatefulSet>, Error> {
    let api: Api<StatefulSet> = Api::namespaced(client.clone(), ns);
    let mut sets = Vec::with_capacity(names.len());
    for n in names {
        if let Some(found) = api.get_opt(n).await? {
            sets.push(found);
        }
    }
    Ok(sets)
}

fn auth_secret_name(cc: &CacheCluster) -> Option<String> {
    crate::secrets::password_source(cc).map(|(name, _)| name)
}

/// Reads what the desired state depends on: the generated password (kept
/// stable), that the referenced Secret exists, and whether ServiceMonitors exist.
async fn read_inputs(client: &Client, cc: &CacheCluster, ns: &str) -> Result<Inputs, Error> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    let mut inputs = Inputs::default();
    if let Some(auth) = cc.spec.auth.as_ref().filter(|a| a.enabled) {
        match &auth.secret_ref {
            Some(r) => {
                let s = secrets
                    .get_opt(&r.name)
                    .await?
                    .ok_or_else(|| Error::SecretMissing {
                        name: r.name.clone(),
                    })?;
                let has_key = s.data.as_ref().is_some_and(|d| d.contains_key(&r.key))
                    || s.string_data
                        .as_ref()
                        .is_some_and(|d| d.contains_key(&r.key));
                if !has_key {
                    return Err(Error::SecretKeyMissing {
                        name: r.name.clone(),
                        key: r.key.clone(),
                    });
                }
            }
            None => {
                let name = Names(&cc.name_any()).auth_secret();
                if let Some(s) = secrets.get_opt(&name).await? {
                    inputs.existing_password = s
                        .data
                        .as_ref()
                        .and_then(|d| d.get(render::PASSWORD_KEY))
                        .map(|b| String::from_utf8_lossy(&b.0).into_owned());
                }
            }
        }
    }
    if let Some(acl) = cc
        .spec
        .auth
        .as_ref()
        .filter(|a| a.enabled)
        .and_then(|a| a.acl_secret_ref.as_ref())
    {
        // Checked here as the node would: a bad line is named now, not in a
        // crash-looping pod.
        let s = secrets
            .get_opt(&acl.name)
            .await?
            .ok_or_else(|| Error::SecretMissing {
                name: acl.name.clone(),
            })?;
        let text = crate::secrets::value(&s, &acl.key).ok_or_else(|| Error::SecretKeyMissing {
            name: acl.name.clone(),
            key: acl.key.clone(),
        })?;
        shoal_core::acl::Acl::parse(&String::from_utf8_lossy(&text)).map_err(|e| {
            Error::InvalidSpec(format!("ACL Secret {} key {}: {e}", acl.name, acl.key))
        })?;
    }
    if let Some(tls) = &cc.spec.tls {
        // Pods would wait forever for a Secret volume that is not there: say so.
        crate::secrets::tls_client(&secrets, tls).await?;
    }
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    let topology_name = Names(&cc.name_any()).topology_config_map();
    if let Some(cm) = configmaps.get_opt(&topology_name).await? {
        inputs.published_topology_version = cm.metadata.resource_version.clone();
        // An unreadable document is replaced; its epoch is lost, but status
        // still holds the last one published, and the next is above it.
        inputs.published_topology = cm
            .data
            .as_ref()
            .and_then(|d| d.get(crate::topology::TOPOLOGY_KEY))
            .and_then(|text| shoal_core::cluster::Topology::parse(text).ok());
    }
    if cc.spec.metrics.service_monitor.enabled {
        inputs.service_monitor_api = match client
            .list_api_group_resources("monitoring.coreos.com/v1")
            .await
        {
            Ok(list) => list.resources.iter().any(|r| r.name == "servicemonitors"),
            Err(kube::Error::Api(s)) if s.code == 404 => false,
            Err(e) => return Err(e.into()),
        };
    }
    Ok(inputs)
}

/// Server-side apply with the operator's field manager. `force` takes over fields
/// another manager set: the operator is the authority on the objects it owns.
async fn apply<K>(client: &Client, ns: &str, obj: &K) -> Result<(), Error>
where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
        + Clone
        + DeserializeOwned
        + Serialize
        + Debug,
{
    let api: Api<K> = Api::namespaced(client.clone(), ns);
    let name = obj.meta().name.clone().unwrap_or_default();
    match api
        .patch(
            &name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(obj),
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 409 => Err(Error::Conflict {
            kind: K::kind(&()).into_owned(),
            name,
            message: s.message,
        }),
        Err(e) => Err(e.into()),
    }
}

async fn apply_all(client: &Client, ns: &str, d: &Desired) -> Result<(), Error> {
    apply(client, ns, &d.service_account).await?;
    apply(client, ns, &d.role).await?;
    apply(client, ns, &d.role_binding).await?;
    if let Some(s) = &d.auth_secret {
        apply(client, ns, s).await?;
    }
    apply(client, ns, &d.config_map).await?;
    // Before the pods: a node is ready only once it holds a topology.
    apply(client, ns, &d.topology_config_map).await?;
    apply(client, ns, &d.headless_service).await?;
    apply(client, ns, &d.client_service).await?;
    for s in &d.stateful_sets {
        apply(client, ns, s).await?;
    }
    for p in &d.pod_disruption_budgets {
        apply(client, ns, p).await?;
    }
    if let Some(np) = &d.network_policy {
        apply(client, ns, np).await?;
    }
    if let Some(sm) = &d.service_monitor {
        let api: Api<DynamicObject> =
            Api::namespaced_with(client.clone(), ns, &render::service_monitor_resource());
        api.patch(
            &sm.name_any(),
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(sm),
        )
        .await?;
    }
    Ok(())
}

async fn delete_if_present<K>(api: &Api<K>, name: &str) -> Result<(), Error>
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    match api.delete(name, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Deletes optional objects the spec no longer asks for. StatefulSets are not
/// deleted here: a shard's goes only once a resize has emptied it
/// ([`remove_left_shards`]), the rest with the CacheCluster.
async fn remove_disabled(
    client: &Client,
    cc: &CacheCluster,
    ns: &str,
    d: &Desired,
) -> Result<(), Error> {
    let name = cc.name_any();
    let names = Names(&name);
    if d.network_policy.is_none() {
        delete_if_present(
            &Api::<NetworkPolicy>::namespaced(client.clone(), ns),
            &names.client_service(),
        )
        .await?;
    }
    if d.pod_disruption_budgets.is_empty() {
        let api = Api::<PodDisruptionBudget>::namespaced(client.clone(), ns);
        for i in 0..cc.spec.shards {
            delete_if_present(&api, &names.shard(i)).await?;
        }
    }
    let auth_generated = cc
        .spec
        .auth
        .as_ref()
        .is_some_and(|a| a.enabled && a.secret_ref.is_none());
    if !auth_generated {
        // Only the Secret this cluster generated: a user's Secret that happens to
        // carry the same name is not ours to delete.
        let api = Api::<Secret>::namespaced(client.clone(), ns);
        let uid = cc.uid();
        if let Some(s) = api.get_opt(&names.auth_secret()).await? {
            let owned = s
                .owner_references()
                .iter()
                .any(|o| o.kind == "CacheCluster" && Some(&o.uid) == uid.as_ref());
            if owned {
                delete_if_present(&api, &names.auth_secret()).await?;
            }
        }
    }
    if d.service_monitor.is_none() {
        // Also when monitoring was just switched off. Without the Prometheus
        // Operator's API this is a 404, which counts as deleted.
        let api: Api<DynamicObject> =
            Api::namespaced_with(client.clone(), ns, &render::service_monitor_resource());
        if let Err(e) = delete_if_present(&api, &names.client_service()).await {
            warn!(cluster = %key(cc), error = %e, "could not delete the ServiceMonitor");
        }
    }
    Ok(())
}

/// Deletes the StatefulSets (and PodDisruptionBudgets) of shards from
/// `shards` on: a resize emptied them and the published topology no longer
/// names them. Their volumes stay, as when a StatefulSet is scaled down.
async fn remove_left_shards(
    ctx: &Context,
    cc: &CacheCluster,
    ns: &str,
    shards: i32,
) -> Result<(), Error> {
    let name = cc.name_any();
    let names = Names(&name);
    let sets = Api::<StatefulSet>::namespaced(ctx.client.clone(), ns);
    let pdbs = Api::<PodDisruptionBudget>::namespaced(ctx.client.clone(), ns);
    // Shards are numbered without gaps; the first absent one ends the list.
    for i in shards..512 {
        if sets.get_opt(&names.shard(i)).await?.is_none() {
            break;
        }
        delete_if_present(&sets, &names.shard(i)).await?;
        delete_if_present(&pdbs, &names.shard(i)).await?;
        info!(cluster = %key(cc), shard = i, "removed the StatefulSet of a shard the resize emptied");
        publish(
            ctx,
            cc,
            EventType::Normal,
            "ShardRemoved",
            "DeleteStatefulSet",
            format!(
                "shard {i} left the cluster; its StatefulSet {} is deleted (volumes kept)",
                names.shard(i)
            ),
        )
        .await;
    }
    Ok(())
}

/// Writes the status subresource (merge patch: only the operator writes status).
pub async fn patch_status(
    client: &Client,
    cc: &CacheCluster,
    status: &CacheClusterStatus,
) -> Result<(), Error> {
    let api: Api<CacheCluster> =
        Api::namespaced(client.clone(), &cc.namespace().unwrap_or_default());
    api.patch_status(
        &cc.name_any(),
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({ "status": status })),
    )
    .await?;
    Ok(())
}
