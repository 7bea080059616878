//! Disruption budgets (one per shard, so maintenance never takes a whole shard)
//! and the optional NetworkPolicy.

use super::{selector_labels, shard_selector_labels, Ctx, ADMIN_PORT, CLIENT_PORT, FORWARD_PORT};
use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// The `app.kubernetes.io/name` label of the operator's pods in the Helm chart.
pub const OPERATOR_APP_NAME: &str = "shoal-operator";

pub(super) fn pod_disruption_budgets(ctx: &Ctx<'_>) -> Vec<PodDisruptionBudget> {
    let pdb = ctx
        .cc
        .spec
        .pod_disruption_budget
        .clone()
        .unwrap_or_default();
    if ctx.cc.spec.pod_disruption_budget.is_some() && !pdb.enabled {
        return Vec::new();
    }
    let (min_available, max_unavailable) = match (pdb.min_available, pdb.max_unavailable) {
        (None, None) => (None, Some(IntOrString::Int(1))),
        other => other,
    };
    (0..ctx.shards)
        .map(|i| PodDisruptionBudget {
            metadata: ctx.meta(ctx.names().shard(i)),
            spec: Some(PodDisruptionBudgetSpec {
                selector: Some(LabelSelector {
                    match_labels: Some(shard_selector_labels(&ctx.name, i)),
                    ..LabelSelector::default()
                }),
                min_available: min_available.clone(),
                max_unavailable: max_unavailable.clone(),
                ..PodDisruptionBudgetSpec::default()
            }),
            ..PodDisruptionBudget::default()
        })
        .collect()
}

fn tcp(port: i32) -> NetworkPolicyPort {
    NetworkPolicyPort {
        port: Some(IntOrString::Int(port)),
        protocol: Some("TCP".into()),
        ..NetworkPolicyPort::default()
    }
}

fn pods(labels: std::collections::BTreeMap<String, String>) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        pod_selector: Some(LabelSelector {
            match_labels: Some(labels),
            ..LabelSelector::default()
        }),
        ..NetworkPolicyPeer::default()
    }
}

/// Clients reach the client port from the allowed peers (this namespace by
/// default); nodes reach each other; scrapers reach the admin port.
pub(super) fn network_policy(ctx: &Ctx<'_>) -> Option<NetworkPolicy> {
    let np = ctx.cc.spec.network_policy.as_ref().filter(|n| n.enabled)?;
    let clients = if np.allowed_clients.is_empty() {
        vec![pods(Default::default())]
    } else {
        np.allowed_clients.clone()
    };
    let mut rules = vec![
        NetworkPolicyIngressRule {
            from: Some(clients),
            ports: Some(vec![tcp(CLIENT_PORT), tcp(FORWARD_PORT)]),
        },
        NetworkPolicyIngressRule {
            from: Some(vec![pods(selector_labels(&ctx.name))]),
            ports: Some(vec![tcp(CLIENT_PORT), tcp(ADMIN_PORT)]),
        },
    ];
    // The operator probes every node's client port to fail over, from
    // whatever namespace it runs in (the Helm chart labels its pods so).
    rules.push(NetworkPolicyIngressRule {
        from: Some(vec![NetworkPolicyPeer {
            namespace_selector: Some(LabelSelector::default()),
            ..pods(std::collections::BTreeMap::from([(
                "app.kubernetes.io/name".to_string(),
                OPERATOR_APP_NAME.to_string(),
            )]))
        }]),
        ports: Some(vec![tcp(CLIENT_PORT)]),
    });
    // The kubelet probes the admin port from the node, which NetworkPolicy does
    // not filter; an empty list of scrapers leaves the port open to scraping.
    rules.push(NetworkPolicyIngressRule {
        from: (!np.allowed_scrapers.is_empty()).then(|| np.allowed_scrapers.clone()),
        ports: Some(vec![tcp(ADMIN_PORT)]),
    });
    Some(NetworkPolicy {
        metadata: ctx.meta(ctx.names().client_service()),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector {
                match_labels: Some(selector_labels(&ctx.name)),
                ..LabelSelector::default()
            }),
            policy_types: Some(vec!["Ingress".into()]),
            ingress: Some(rules),
            ..NetworkPolicySpec::default()
        }),
    })
}
