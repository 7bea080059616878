//! A Prometheus Operator ServiceMonitor for the nodes, when that API exists.

use super::{Ctx, Inputs};
use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use serde_json::json;

pub fn service_monitor_resource() -> ApiResource {
    ApiResource::from_gvk(&GroupVersionKind::gvk(
        "monitoring.coreos.com",
        "v1",
        "ServiceMonitor",
    ))
}

pub(super) fn service_monitor(ctx: &Ctx<'_>, inputs: &Inputs) -> Option<DynamicObject> {
    let m = &ctx.cc.spec.metrics;
    if !(m.enabled && m.service_monitor.enabled && inputs.service_monitor_api) {
        return None;
    }
    let mut meta = ctx.meta(ctx.names().client_service());
    meta.labels
        .get_or_insert_with(Default::default)
        .extend(m.service_monitor.labels.clone());
    let mut endpoint = json!({"port": "admin", "path": "/metrics"});
    if let Some(interval) = &m.service_monitor.interval {
        endpoint["interval"] = json!(interval);
    }
    let mut selector = super::object_labels(&ctx.name);
    selector.insert("shoal.dev/service".into(), "nodes".into());
    let mut obj = DynamicObject::new(&ctx.names().client_service(), &service_monitor_resource());
    obj.metadata = meta;
    obj.data = json!({
        "spec": {
            "selector": {"matchLabels": selector},
            "endpoints": [endpoint],
        }
    });
    Some(obj)
}
