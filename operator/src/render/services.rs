//! The headless Service (stable pod DNS names, peer discovery) and the client
//! Service.

use super::{selector_labels, Ctx, ADMIN_PORT, CLIENT_PORT};
use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

fn port(name: &str, port: i32, target: &str) -> ServicePort {
    ServicePort {
        name: Some(name.into()),
        port,
        target_port: Some(IntOrString::String(target.into())),
        protocol: Some("TCP".into()),
        ..ServicePort::default()
    }
}

/// Lists every node, ready or not, so nodes find peers that are still starting.
pub(super) fn headless(ctx: &Ctx<'_>) -> Service {
    let mut meta = ctx.meta(ctx.names().headless_service());
    meta.labels
        .get_or_insert_with(Default::default)
        .insert("shoal.dev/service".into(), "nodes".into());
    let mut ports = vec![port("redis", CLIENT_PORT, "redis")];
    if ctx.cc.spec.metrics.enabled {
        ports.push(port("admin", ADMIN_PORT, "admin"));
    }
    Service {
        metadata: meta,
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".into()),
            publish_not_ready_addresses: Some(true),
            selector: Some(selector_labels(&ctx.name)),
            ports: Some(ports),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

/// Where clients connect: any ready node answers every key (it forwards).
pub(super) fn client(ctx: &Ctx<'_>) -> Service {
    let s = &ctx.cc.spec.service;
    let mut meta = ctx.meta(ctx.names().client_service());
    if !s.annotations.is_empty() {
        meta.annotations = Some(s.annotations.clone());
    }
    Service {
        metadata: meta,
        spec: Some(ServiceSpec {
            type_: Some(s.type_.as_str().into()),
            selector: Some(selector_labels(&ctx.name)),
            // Plain clients come through here, so every key answers from any
            // pod: the forwarding port. Cluster-aware clients learn the pods'
            // client ports from CLUSTER SLOTS and talk to owners directly.
            ports: Some(vec![port("redis", s.port, "forward")]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}
