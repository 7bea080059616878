//! The node pods' identity: exactly the read access peer discovery needs.

use super::Ctx;
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};

pub(super) fn service_account(ctx: &Ctx<'_>) -> ServiceAccount {
    ServiceAccount {
        metadata: ctx.meta(ctx.names().node_identity()),
        ..ServiceAccount::default()
    }
}

/// Read the headless Service's EndpointSlices (who the peers are) and the
/// cluster's topology ConfigMap (who owns which slots); nothing else.
pub(super) fn role(ctx: &Ctx<'_>) -> Role {
    let read = || vec!["get".to_string(), "list".to_string(), "watch".to_string()];
    Role {
        metadata: ctx.meta(ctx.names().node_identity()),
        rules: Some(vec![
            PolicyRule {
                api_groups: Some(vec!["discovery.k8s.io".into()]),
                resources: Some(vec!["endpointslices".into()]),
                verbs: read(),
                ..PolicyRule::default()
            },
            PolicyRule {
                api_groups: Some(vec![String::new()]),
                resources: Some(vec!["configmaps".into()]),
                resource_names: Some(vec![ctx.names().topology_config_map()]),
                verbs: read(),
                ..PolicyRule::default()
            },
        ]),
    }
}

pub(super) fn role_binding(ctx: &Ctx<'_>) -> RoleBinding {
    let name = ctx.names().node_identity();
    RoleBinding {
        metadata: ctx.meta(&name),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "Role".into(),
            name: name.clone(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name,
            namespace: Some(ctx.namespace.clone()),
            ..Subject::default()
        }]),
    }
}
