//! Failover in Kubernetes. While it leads, the operator probes every node of
//! each cluster that has replicas (`INFO replication` on the client port),
//! feeds what it saw to the decision `local-cluster`'s supervisor also makes
//! ([`shoal_core::cluster::failover`]), and publishes a promotion by writing
//! the topology ConfigMap at the next epoch. Nodes watch that ConfigMap: the
//! promoted replica serves its shard's slots, the old primary is fenced by the
//! epoch, and when its pod comes back it follows the new primary.
//!
//! The write is conditional on the ConfigMap's resourceVersion, as
//! reconcile's apply is, so neither ever overwrites roles the other
//! published after it read them; reconcile keeps published roles
//! ([`crate::topology::document`]).
//!
//! A manual failover: annotate the CacheCluster `shoal.dev/failover=<pod>`.
//! The replica is promoted once it has caught up with its live primary, as
//! with `CLUSTER FAILOVER`, and the annotation is then removed.

use crate::crd::CacheCluster;
use crate::error::Error;
use crate::reconcile::{key, publish, Context};
use crate::render::Names;
use crate::topology::TOPOLOGY_KEY;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use kube::runtime::events::EventType;
use kube::runtime::reflector::Store;
use kube::{Resource, ResourceExt};
use shoal_core::cluster::failover::{Health, Policy, Tracker};
use shoal_core::cluster::{probe, Topology};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::{info, warn};

/// Names the replica a user wants promoted.
pub const FAILOVER_ANNOTATION: &str = "shoal.dev/failover";
/// How long credentials read from Secrets are used before reading them again.
const PASSWORD_TTL: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// Time between probe rounds.
    pub interval: Duration,
    pub policy: Policy,
}

/// The failover loop's state across rounds, per cluster.
pub struct Failover {
    ctx: Arc<Context>,
    settings: Settings,
    trackers: HashMap<String, Tracker>,
    credentials: HashMap<String, CachedCredentials>,
    rollouts: HashMap<String, RolloutState>,
}

/// What the rollout of one cluster remembers between rounds.
#[derive(Default)]
struct RolloutState {
    /// Uids of pods this operator deleted: terminating even before the API
    /// says so.
    deleted: HashSet<String>,
    /// Pods waited for, and how long.
    waits: shoal_core::cluster::rollout::Waits,
    /// Pods reported stuck (once each).
    stuck: HashSet<String>,
}

/// What one round did for one cluster.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The topology published, when something was promoted.
    pub published: Option<Topology>,
    /// Nodes that answered the probe.
    pub reachable: usize,
}

impl Failover {
    pub fn new(ctx: Arc<Context>, settings: Settings) -> Failover {
        Failover {
            ctx,
            settings,
            trackers: HashMap::new(),
            credentials: HashMap::new(),
            rollouts: HashMap::new(),
        }
    }

    /// Runs rounds over every cluster in `clusters` until the task is dropped.
    pub async fn run(mut self, clusters: Store<CacheCluster>) {
        let mut tick = tokio::time::interval(self.settings.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let all = clusters.state();
            let keys: Vec<String> = all.iter().map(|cc| key(cc)).collect();
            self.trackers.retain(|k, _| keys.contains(k));
            self.credentials.retain(|k, _| keys.contains(k));
            self.rollouts.retain(|k, _| keys.contains(k));
            for cc in all {
                if let Err(e) = self.round(&cc).await {
                    self.ctx
                        .metrics
                        .failover_errors
                        .with_label_values(&[e.metric_label()])
                        .inc();
                    warn!(cluster = %key(&cc), error = %e, "failover round failed");
                }
            }
        }
    }

    /// One round for one cluster: probe, decide, publish a failover; or else
    /// the next step of a resize ([`crate::resize`]).
    pub async fn round(&mut self, cc: &CacheCluster) -> Result<Outcome, Error> {
        let k = key(cc);
        if cc.meta().deletion_timestamp.is_some() || cc.spec.paused {
            self.trackers.remove(&k);
            return Ok(Outcome::default());
        }
        let failover = cc.spec.replicas_per_shard > 0;
        if !failover {
            self.trackers.remove(&k);
            // Without replicas nothing is probed unless status (which
            // reconcile computes from the published topology) shows a resize
            // or a rollout.
            let busy = cc.status.as_ref().is_some_and(|s| {
                s.conditions.iter().any(|c| {
                    (c.type_ == "Resharding" || c.type_ == "Progressing") && c.status == "True"
                })
            });
            if !busy {
                return Ok(Outcome::default());
            }
        }
        let ns = cc.namespace().unwrap_or_default();
        let name = cc.name_any();
        let configmaps: Api<ConfigMap> = Api::namespaced(self.ctx.client.clone(), &ns);
        let cm_name = Names(&name).topology_config_map();
        let Some(cm) = configmaps.get_opt(&cm_name).await? else {
            return Ok(Outcome::default());
        };
        let Some(topology) = cm
            .data
            .as_ref()
            .and_then(|d| d.get(TOPOLOGY_KEY))
            .and_then(|text| Topology::parse(text).ok())
        else {
            return Ok(Outcome::default());
        };
        let resizing =
            shoal_core::cluster::reshard::next_step(&topology, cc.spec.shards.max(1) as usize)
                .is_ok_and(|s| s != shoal_core::cluster::reshard::Step::Done);
        if !failover && !resizing {
            self.rollout(cc, &ns, &topology, None).await?;
            return Ok(Outcome::default());
        }
        let credentials = self.credentials(cc, &ns).await?;
        let probes = probe_all(&topology, &credentials).await;
        let reachable = probes.values().filter(|h| h.is_some()).count();
        let all_reachable = topology
            .nodes()
            .all(|(_, n, _)| probes.get(&n.name).is_some_and(Option::is_some));
        let mut published = None;
        if failover {
            published = self
                .failover(cc, &configmaps, &cm_name, &cm, &topology, probes.clone())
                .await?;
        }
        // Pods are replaced only between roles changes and resize steps.
        if published.is_none() && !resizing {
            self.rollout(cc, &ns, &topology, Some(&probes)).await?;
        }
        if published.is_none() && resizing {
            published = self
                .resize(
                    cc,
                    &configmaps,
                    &cm_name,
                    &cm,
                    &topology,
                    all_reachable,
                    &credentials,
                )
                .await?;
        }
        Ok(Outcome {
            published,
            reachable,
        })
    }

    /// Replaces the pods the rollout decision names next (see
    /// [`crate::rollout`]), and reports a replaced pod that does not come
    /// back ready within `rollout.readyTimeoutSeconds`.
    async fn rollout(
        &mut self,
        cc: &CacheCluster,
        ns: &str,
        topology: &Topology,
        probes: Option<&HashMap<String, Option<Health>>>,
    ) -> Result<(), Error> {
        use crate::rollout::{members, update_revisions, PodSeen};
        use shoal_core::cluster::rollout::{plan, Step};
        let k = key(cc);
        let selector = crate::render::selector_labels(&cc.name_any())
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",");
        let lp = ListParams::default().labels(&selector);
        let sets: Api<StatefulSet> = Api::namespaced(self.ctx.client.clone(), ns);
        let sets = sets.list(&lp).await?.items;
        let Some(revisions) = update_revisions(&sets) else {
            return Ok(());
        };
        let pods_api: Api<Pod> = Api::namespaced(self.ctx.client.clone(), ns);
        let state = self.rollouts.entry(k.clone()).or_default();
        let listed = pods_api.list(&lp).await?.items;
        // Uids of pods that are gone need no remembering.
        let uids: HashMap<String, String> = listed
            .iter()
            .filter_map(|p| Some((p.name_any(), p.metadata.uid.clone()?)))
            .collect();
        state.deleted.retain(|u| uids.values().any(|v| v == u));
        let pods: HashMap<String, PodSeen> = listed
            .iter()
            .map(|p| (p.name_any(), PodSeen::of(p, &state.deleted)))
            .collect();
        let shards = members(topology, &pods, &revisions, probes);
        let decided = plan(
            &shards,
            cc.spec.rollout.max_concurrent_shards.max(1) as usize,
        );
        let timeout = Duration::from_secs(cc.spec.rollout.ready_timeout_seconds.max(1) as u64);
        // (type, reason, action, note) of the events to publish.
        let mut notes = Vec::new();
        let waits = state.waits.update(&decided, Instant::now());
        state.stuck.retain(|n| waits.iter().any(|(_, w, _)| w == n));
        for (shard, name, waited) in waits {
            if waited > timeout && state.stuck.insert(name.clone()) {
                warn!(cluster = %k, shard, pod = %name, "rollout stuck");
                notes.push((
                    EventType::Warning,
                    "RolloutStuck",
                    format!("Wait for {name}"),
                    format!(
                        "shard {shard}: {name} is not ready and synced after {}s; the rollout of this shard waits (a newer spec replaces it)",
                        timeout.as_secs()
                    ),
                ));
            }
        }
        for step in decided.replacements() {
            let Step::Replace {
                shard,
                name,
                primary,
                loses_data,
            } = step
            else {
                continue;
            };
            pods_api.delete(name, &DeleteParams::default()).await?;
            state.deleted.extend(uids.get(name).cloned());
            let role = shoal_core::cluster::rollout::describe(*primary, *loses_data);
            info!(cluster = %k, shard, pod = %name, role, "rollout: replacing a pod");
            self.ctx.metrics.rollout_replacements.inc();
            notes.push((
                if *loses_data {
                    EventType::Warning
                } else {
                    EventType::Normal
                },
                "RollingOut",
                format!("Replace {name}"),
                format!("shard {shard}: replacing {name} ({role})"),
            ));
        }
        for (kind, reason, action, note) in notes {
            publish(&self.ctx, cc, kind, reason, &action, note).await;
        }
        Ok(())
    }

    /// Decides and publishes a failover of `cc` from this round's `probes`.
    async fn failover(
        &mut self,
        cc: &CacheCluster,
        configmaps: &Api<ConfigMap>,
        cm_name: &str,
        cm: &ConfigMap,
        topology: &Topology,
        probes: HashMap<String, Option<Health>>,
    ) -> Result<Option<Topology>, Error> {
        let k = key(cc);
        let requested: Vec<String> = cc
            .annotations()
            .get(FAILOVER_ANNOTATION)
            .cloned()
            .into_iter()
            .collect();
        let tracker = self
            .trackers
            .entry(k.clone())
            .or_insert_with(|| Tracker::new(self.settings.policy));
        let round = tracker.round(topology, probes, &requested, Instant::now());
        for (shard, why) in &round.newly_stuck {
            warn!(cluster = %k, shard, %why, "failover blocked");
            publish(
                &self.ctx,
                cc,
                EventType::Warning,
                "FailoverBlocked",
                &format!("Failover shard {shard}"),
                format!("shard {shard}: {why}"),
            )
            .await;
        }
        let mut current = topology;
        if let Some(next) = &round.next {
            write_topology(configmaps, cm_name, cm, next).await?;
            current = next;
            for (shard, replica, reason) in &round.promoted {
                let reason = format!("{reason:?}");
                info!(cluster = %k, shard, %replica, %reason, epoch = next.epoch, "promoted");
                self.ctx
                    .metrics
                    .failovers
                    .with_label_values(&[reason.as_str()])
                    .inc();
                publish(
                    &self.ctx,
                    cc,
                    EventType::Normal,
                    "Failover",
                    // Per promoted pod: events with the same reason and action
                    // collapse into one series, keeping the first note.
                    &format!("Promote {replica}"),
                    format!(
                        "shard {shard}: promoted {replica} ({reason}), topology epoch {}",
                        next.epoch
                    ),
                )
                .await;
            }
        }
        if let Some(wanted) = requested.first() {
            self.settle_request(cc, current, wanted).await?;
        }
        Ok(round.next)
    }

    /// Publishes the next document of a resize of `cc`, if one is due.
    #[allow(clippy::too_many_arguments)]
    async fn resize(
        &self,
        cc: &CacheCluster,
        configmaps: &Api<ConfigMap>,
        cm_name: &str,
        cm: &ConfigMap,
        topology: &Topology,
        all_reachable: bool,
        with: &Credentials,
    ) -> Result<Option<Topology>, Error> {
        let ns = cc.namespace().unwrap_or_default();
        let mut seen = crate::resize::Seen {
            all_reachable,
            imports: HashMap::new(),
        };
        for i in crate::resize::awaited(topology, cc.spec.shards.max(1) as usize) {
            let p = topology.shards[i].primary.clone();
            let with = with.clone();
            let got = tokio::task::spawn_blocking(move || {
                let target = probe::Target {
                    host: &p.host,
                    port: p.port,
                    tls: with.tls.as_ref(),
                };
                probe::imports(target, with.password.as_deref().map(|pw| (with.user, pw)))
            })
            .await
            .ok()
            .flatten();
            if let Some(got) = got {
                seen.imports.insert(i, got);
            }
        }
        let decided = crate::resize::decide(cc, &ns, topology, &seen)
            .map_err(|e| Error::InvalidSpec(format!("resize: {e}")))?;
        let Some(p) = decided else {
            return Ok(None);
        };
        write_topology(configmaps, cm_name, cm, &p.next).await?;
        let m = &self.ctx.metrics;
        m.resize_steps.with_label_values(&[p.step]).inc();
        if p.step == "Begin" {
            let moved: usize = shoal_core::cluster::reshard::marked(&p.next)
                .iter()
                .map(|m| m.slots.len())
                .sum();
            m.slots_moved.inc_by(moved as u64);
        }
        info!(cluster = %key(cc), step = p.step, epoch = p.next.epoch, note = %p.note, "resize step");
        publish(
            &self.ctx,
            cc,
            EventType::Normal,
            "Resharding",
            &format!("Resize {}", p.step),
            format!("{}, topology epoch {}", p.note, p.next.epoch),
        )
        .await;
        Ok(Some(p.next))
    }

    /// Removes the failover annotation once its replica is primary, or when
    /// it names no replica of this cluster.
    async fn settle_request(
        &self,
        cc: &CacheCluster,
        topology: &Topology,
        wanted: &str,
    ) -> Result<(), Error> {
        let role = topology.nodes().find(|(_, n, _)| n.name == wanted);
        if let Some((_, _, false)) = role {
            return Ok(());
        }
        if role.is_none() {
            publish(
                &self.ctx,
                cc,
                EventType::Warning,
                "FailoverRefused",
                "Failover",
                format!("{FAILOVER_ANNOTATION}={wanted} names no replica of this cluster"),
            )
            .await;
        }
        let api: Api<CacheCluster> =
            Api::namespaced(self.ctx.client.clone(), &cc.namespace().unwrap_or_default());
        let patch = serde_json::json!({"metadata": {"annotations": {FAILOVER_ANNOTATION: null}}});
        api.patch(
            &cc.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await?;
        Ok(())
    }

    /// What probes need: the password nodes ask for and the TLS client
    /// configuration, read from the cluster's Secrets at most every
    /// [`PASSWORD_TTL`] (so rotations are picked up) or when the spec names
    /// other Secrets.
    async fn credentials(&mut self, cc: &CacheCluster, ns: &str) -> Result<Credentials, Error> {
        let source = (crate::secrets::password_source(cc), cc.spec.tls.clone());
        let k = key(cc);
        if let Some(cached) = self.credentials.get(&k) {
            if cached.source == source && cached.read_at.elapsed() < PASSWORD_TTL {
                return Ok(cached.credentials.clone());
            }
        }
        let api: Api<Secret> = Api::namespaced(self.ctx.client.clone(), ns);
        let password = match &source.0 {
            None => None,
            Some((secret, field)) => {
                let s = api
                    .get_opt(secret)
                    .await?
                    .ok_or_else(|| Error::SecretMissing {
                        name: secret.clone(),
                    })?;
                let pw = crate::secrets::value(&s, field)
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .ok_or_else(|| Error::SecretKeyMissing {
                        name: secret.clone(),
                        key: field.clone(),
                    })?;
                Some(pw)
            }
        };
        let tls = match &source.1 {
            Some(tls) => Some(crate::secrets::tls_client(&api, tls).await?),
            None => None,
        };
        let user = crate::secrets::login_user(cc);
        let credentials = Credentials {
            user,
            password,
            tls,
        };
        self.credentials.insert(
            k,
            CachedCredentials {
                source,
                read_at: Instant::now(),
                credentials: credentials.clone(),
            },
        );
        Ok(credentials)
    }
}

/// Publishes `next` in the topology ConfigMap `cm`, only if nobody wrote it
/// since it was read (its resourceVersion), as reconcile's apply does.
async fn write_topology(
    configmaps: &Api<ConfigMap>,
    cm_name: &str,
    cm: &ConfigMap,
    next: &Topology,
) -> Result<(), Error> {
    let patch = serde_json::json!({
        "metadata": {"resourceVersion": cm.metadata.resource_version},
        "data": {TOPOLOGY_KEY: next.to_yaml()},
    });
    configmaps
        .patch(cm_name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    Ok(())
}

/// How the operator logs in to nodes.
#[derive(Clone)]
struct Credentials {
    /// Who to log in as: the links' user when the cluster has ACL users.
    user: &'static str,
    password: Option<String>,
    tls: Option<Arc<shoal_core::tls::ClientConfig>>,
}

struct CachedCredentials {
    /// The password's (Secret, key) and the TLS spec they were read from.
    source: (Option<(String, String)>, Option<crate::crd::TlsSpec>),
    read_at: Instant,
    credentials: Credentials,
}

/// Probes every node of `topology` at once (blocking probes, each bounded
/// by its connect and read timeouts).
async fn probe_all(topology: &Topology, with: &Credentials) -> HashMap<String, Option<Health>> {
    let tasks: Vec<_> = topology
        .nodes()
        .map(|(_, n, _)| {
            let (n, with) = (n.clone(), with.clone());
            tokio::task::spawn_blocking(move || {
                let target = probe::Target {
                    host: &n.host,
                    port: n.port,
                    tls: with.tls.as_ref(),
                };
                let login = with.password.as_deref().map(|pw| (with.user, pw));
                let h = probe::health(target, login);
                (n.name, h)
            })
        })
        .collect();
    let mut out = HashMap::with_capacity(tasks.len());
    for t in tasks {
        if let Ok((name, h)) = t.await {
            out.insert(name, h);
        }
    }
    out
}
