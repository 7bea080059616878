//! Pure tests of the desired objects for many specs.

use super::*;
use crate::crd::CacheClusterSpec;
use k8s_openapi::api::core::v1::Container;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde_json::json;

fn cluster(spec: serde_json::Value) -> CacheCluster {
    let mut cc = CacheCluster::new(
        "cache",
        serde_json::from_value::<CacheClusterSpec>(spec).unwrap(),
    );
    cc.metadata.namespace = Some("apps".into());
    cc.metadata.uid = Some("0f4e6c2a-1111-2222-3333-444455556666".into());
    cc
}

fn render(spec: serde_json::Value) -> Desired {
    desired(&cluster(spec), &Inputs::default()).unwrap()
}

fn node(d: &Desired, shard: usize) -> &Container {
    &d.stateful_sets[shard]
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap()
        .containers[0]
}

#[test]
fn one_statefulset_and_pdb_per_shard_with_replicas() {
    let d = render(json!({"shards": 3, "replicasPerShard": 2}));
    assert_eq!(d.stateful_sets.len(), 3);
    assert_eq!(d.pod_disruption_budgets.len(), 3);
    for (i, s) in d.stateful_sets.iter().enumerate() {
        assert_eq!(
            s.metadata.name.as_deref(),
            Some(format!("cache-shard-{i}").as_str())
        );
        let spec = s.spec.as_ref().unwrap();
        assert_eq!(spec.replicas, Some(3));
        assert_eq!(spec.service_name.as_deref(), Some("cache-nodes"));
        // The operator replaces pods itself, in the order that keeps writes.
        assert_eq!(
            spec.update_strategy.as_ref().unwrap().type_.as_deref(),
            Some("OnDelete")
        );
        let sel = spec.selector.match_labels.as_ref().unwrap();
        assert_eq!(
            sel.get(LABEL_SHARD).map(String::as_str),
            Some(i.to_string().as_str())
        );
        // The pod template carries every selector label.
        let pod_labels = spec
            .template
            .metadata
            .as_ref()
            .unwrap()
            .labels
            .as_ref()
            .unwrap();
        assert!(sel.iter().all(|(k, v)| pod_labels.get(k) == Some(v)));
    }
    let pdb = d.pod_disruption_budgets[0].spec.as_ref().unwrap();
    assert_eq!(pdb.max_unavailable, Some(IntOrString::Int(1)));
    assert_eq!(pdb.min_available, None);
}

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

#[test]
fn every_child_is_owned_labelled_and_namespaced() {
    let d =
        render(json!({"shards": 2, "auth": {"enabled": true}, "networkPolicy": {"enabled": true}}));
    for v in d.to_values() {
        let meta = &v["metadata"];
        assert_eq!(meta["namespace"], "apps", "{}", v["kind"]);
        assert_eq!(
            meta["labels"]["app.kubernetes.io/managed-by"], "shoal-operator",
            "{}",
            v["kind"]
        );
        let owner = &meta["ownerReferences"][0];
        assert_eq!(owner["kind"], "CacheCluster");
        assert_eq!(owner["controller"], true);
        assert_eq!(owner["uid"], "0f4e6c2a-1111-2222-3333-444455556666");
    }
}

#[test]
fn offline_render_without_uid_has_no_owner() {
    let mut cc = cluster(json!({"shards": 1}));
    cc.metadata.uid = None;
    let d = desired(&cc, &Inputs::default()).unwrap();
    assert!(d.config_map.metadata.owner_references.is_none());
}

#[test]
fn hardened_pods() {
    let d = render(json!({"shards": 1}));
    let pod = d.stateful_sets[0]
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap();
    let psc = pod.security_context.as_ref().unwrap();
    assert_eq!(psc.run_as_non_root, Some(true));
    assert_eq!(
        psc.seccomp_profile.as_ref().unwrap().type_,
        "RuntimeDefault"
    );
    let sc = node(&d, 0).security_context.as_ref().unwrap();
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    assert_eq!(
        sc.capabilities.as_ref().unwrap().drop.as_deref(),
        Some(&["ALL".to_string()][..])
    );
    let c = node(&d, 0);
    assert_eq!(
        c.readiness_probe
            .as_ref()
            .unwrap()
            .http_get
            .as_ref()
            .unwrap()
            .path
            .as_deref(),
        Some("/readyz")
    );
    assert_eq!(
        c.liveness_probe
            .as_ref()
            .unwrap()
            .http_get
            .as_ref()
            .unwrap()
            .path
            .as_deref(),
        Some("/healthz")
    );
    assert!(c
        .lifecycle
        .as_ref()
        .unwrap()
        .pre_stop
        .as_ref()
        .unwrap()
        .sleep
        .is_some());
    assert!(c
        .resources
        .as_ref()
        .unwrap()
        .limits
        .as_ref()
        .unwrap()
        .contains_key("memory"));
    // The default affinity spreads the shard's pods over nodes.
    let anti = pod
        .affinity
        .as_ref()
        .unwrap()
        .pod_anti_affinity
        .as_ref()
        .unwrap();
    assert_eq!(
        anti.preferred_during_scheduling_ignored_during_execution
            .as_ref()
            .unwrap()[0]
            .weight,
        100
    );
}

#[test]
fn max_memory_from_spec_or_limit() {
    let d = render(json!({"shards": 1, "maxMemory": "1Gi"}));
    assert!(d.config_map.data.as_ref().unwrap()["shoal.yaml"]
        .contains(&format!("maxmemory: {}", 1u64 << 30)));
    let d = render(json!({"shards": 1, "resources": {"limits": {"memory": "1000Mi"}}}));
    let want = (1000u64 * 1024 * 1024) as f64 * 0.8;
    assert!(d.config_map.data.as_ref().unwrap()["shoal.yaml"]
        .contains(&format!("maxmemory: {}", want as u64)));
    let d = render(json!({"shards": 1, "resources": {"requests": {"cpu": "1"}}}));
    assert!(!d.config_map.data.as_ref().unwrap()["shoal.yaml"].contains("maxmemory:"));
}

#[test]
fn node_config_merges_user_settings_and_is_valid_for_the_node() {
    let d = render(
        json!({"shards": 1, "evictionPolicy": "volatile-ttl", "config": {"timeout": "300", "hz": "20"}}),
    );
    let text = &d.config_map.data.as_ref().unwrap()["shoal.yaml"];
    let opts = shoal_core::config::Options::from_yaml(text).unwrap();
    assert_eq!(opts.get("timeout"), Some("300"));
    assert_eq!(opts.get("hz"), Some("20"));
    assert_eq!(opts.get("maxmemory-policy"), Some("volatile-ttl"));
    assert_eq!(opts.get("port"), Some(CLIENT_PORT.to_string().as_str()));
}

#[test]
fn changing_config_rolls_pods() {
    let hash = |d: &Desired| {
        d.stateful_sets[0]
            .spec
            .as_ref()
            .unwrap()
            .template
            .metadata
            .as_ref()
            .unwrap()
            .annotations
            .as_ref()
            .unwrap()["shoal.dev/config-hash"]
            .clone()
    };
    let a = render(json!({"shards": 1, "config": {"timeout": "300"}}));
    let b = render(json!({"shards": 1, "config": {"timeout": "300"}}));
    let c = render(json!({"shards": 1, "config": {"timeout": "301"}}));
    assert_eq!(hash(&a), hash(&b));
    assert_ne!(hash(&a), hash(&c));
}

#[test]
fn bad_specs_are_refused_with_reasons() {
    let cases = [
        (
            json!({"shards": 1, "config": {"nosuchsetting": "1"}}),
            "unknown option 'nosuchsetting'",
        ),
        (json!({"shards": 1, "config": {"hz": "0"}}), "hz"),
        (
            json!({"shards": 1, "config": {"port": "1"}}),
            "config may not set",
        ),
        (json!({"shards": 1, "maxMemory": "lots"}), "maxMemory"),
        (
            json!({"shards": 1, "persistence": {"size": "0"}}),
            "persistence.size",
        ),
        (
            json!({"shards": 1, "podDisruptionBudget": {"minAvailable": 1, "maxUnavailable": 1}}),
            "not both",
        ),
        (
            json!({"shards": 1, "auth": {"enabled": false, "secretRef": {"name": "s"}}}),
            "auth.enabled",
        ),
    ];
    for (spec, why) in cases {
        let err = desired(&cluster(spec.clone()), &Inputs::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains(why), "{spec}: {err}");
    }
    let mut long = cluster(json!({"shards": 1}));
    long.metadata.name = Some("x".repeat(41));
    assert!(desired(&long, &Inputs::default())
        .unwrap_err()
        .to_string()
        .contains("40 characters"));
}

#[test]
fn shards_may_grow_and_shrink() {
    let old = cluster(json!({"shards": 3}));
    let smaller = cluster(json!({"shards": 2}));
    let larger = cluster(json!({"shards": 4}));
    assert!(smaller.validate_cel_update(&old).is_ok());
    assert!(larger.validate_cel_update(&old).is_ok());
}

#[test]
fn a_shrinking_cluster_keeps_the_stateful_sets_its_topology_still_names() {
    use shoal_core::cluster::reshard;
    let three = cluster(json!({"shards": 3}));
    let published = desired(&three, &Inputs::default()).unwrap().topology;
    // Asked for 2 while the document still names 3: all 3 keep running.
    let two = cluster(json!({"shards": 2}));
    let inputs = Inputs {
        published_topology: Some(published.clone()),
        ..Inputs::default()
    };
    let d = desired(&two, &inputs).unwrap();
    assert_eq!(d.stateful_sets.len(), 3);
    assert_eq!(d.pod_disruption_budgets.len(), 3);
    assert_eq!(d.topology.shards.len(), 3);
    assert_eq!(d.topology.shards[2].slots, published.shards[2].slots);
    // Once the resize removed shard 2, only 2 are rendered.
    let owned: Vec<_> = published.shards.iter().map(|s| s.slots.clone()).collect();
    let moved = reshard::finish(&reshard::cutover(&reshard::begin(
        &published,
        &reshard::plan(&owned, 2).unwrap(),
    )));
    let removed = reshard::remove_empty(&moved, 2).unwrap();
    let inputs = Inputs {
        published_topology: Some(removed),
        ..Inputs::default()
    };
    assert_eq!(desired(&two, &inputs).unwrap().stateful_sets.len(), 2);
    // Growing: the new StatefulSet runs before its shard joins the document.
    let four = cluster(json!({"shards": 4}));
    let inputs = Inputs {
        published_topology: Some(published),
        ..Inputs::default()
    };
    let d = desired(&four, &inputs).unwrap();
    assert_eq!((d.stateful_sets.len(), d.topology.shards.len()), (4, 3));
}

#[test]
fn persistence_cannot_change_after_creation() {
    let none = cluster(json!({"shards": 1}));
    let small = cluster(json!({"shards": 1, "persistence": {"size": "1Gi"}}));
    let large = cluster(json!({"shards": 1, "persistence": {"size": "2Gi"}}));
    let same = cluster(json!({"shards": 1, "persistence": {"size": "1Gi"}}));
    assert!(small.validate_cel_update(&none).is_err(), "added");
    assert!(none.validate_cel_update(&small).is_err(), "removed");
    assert!(large.validate_cel_update(&small).is_err(), "resized");
    assert!(same.validate_cel_update(&small).is_ok(), "unchanged");
    assert!(none.validate_cel_update(&none).is_ok());
}

/// The Secret volume `name` of shard `shard`'s pods: its Secret and the keys
/// it projects.
fn secret_volume(d: &Desired, shard: usize, name: &str) -> (String, Vec<String>) {
    let pod = d.stateful_sets[shard]
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap();
    let v = pod
        .volumes
        .as_ref()
        .unwrap()
        .iter()
        .find(|v| v.name == name)
        .unwrap();
    let s = v.secret.as_ref().unwrap();
    let keys = s.items.iter().flatten().map(|i| i.key.clone()).collect();
    (s.secret_name.clone().unwrap(), keys)
}

/// The node configuration in the rendered ConfigMap, parsed as the node does.
fn node_options(d: &Desired) -> shoal_core::config::Options {
    let text = d.config_map.data.as_ref().unwrap().values().next().unwrap();
    shoal_core::config::Options::from_yaml(text).unwrap()
}

#[test]
fn tls_serves_the_client_port_over_tls_with_mounted_secrets() {
    let d = render(json!({"shards": 2, "replicasPerShard": 1,
        "tls": {"secretRef": {"name": "cache-tls"}}}));
    let o = node_options(&d);
    assert_eq!(
        (o.get("port"), o.get("tls-port")),
        (Some("0"), Some("6379"))
    );
    assert_eq!(o.get("tls-cert-file"), Some("/etc/shoal/tls/tls.crt"));
    assert_eq!(o.get("tls-key-file"), Some("/etc/shoal/tls/tls.key"));
    assert_eq!(o.get("tls-ca-cert-file"), Some("/etc/shoal/tls/ca.crt"));
    assert_eq!(o.get("tls-auth-clients"), Some("no"));
    assert_eq!(o.get("tls-replication"), Some("yes"));
    assert_eq!(o.get("tls-cluster"), Some("yes"));
    let (secret, keys) = secret_volume(&d, 1, "tls");
    assert_eq!(secret, "cache-tls");
    assert_eq!(keys, ["tls.crt", "tls.key", "ca.crt"]);
    let m = node(&d, 1)
        .volume_mounts
        .as_ref()
        .unwrap()
        .iter()
        .find(|m| m.name == "tls")
        .unwrap();
    assert_eq!(m.mount_path, "/etc/shoal/tls");
    assert_eq!(m.read_only, Some(true));
    assert!(
        m.sub_path.is_none(),
        "a subPath mount would never see a rotation"
    );
    // Nothing of the Secret's content is in any object.
    let all = serde_json::to_string(&d.to_values()).unwrap();
    assert!(!all.contains("BEGIN"));
}

#[test]
fn tls_with_a_separate_ca_and_client_certificates() {
    let d = render(
        json!({"shards": 1, "tls": {"secretRef": {"name": "cache-tls"},
        "caSecretRef": {"name": "cache-ca"}, "authClients": true}}),
    );
    let o = node_options(&d);
    assert_eq!(o.get("tls-ca-cert-file"), Some("/etc/shoal/tls-ca/ca.crt"));
    assert_eq!(o.get("tls-auth-clients"), Some("yes"));
    let secret_of = |name: &str| secret_volume(&d, 0, name);
    assert_eq!(
        secret_of("tls"),
        (
            "cache-tls".to_string(),
            vec!["tls.crt".to_string(), "tls.key".to_string()]
        )
    );
    assert_eq!(
        secret_of("tls-ca"),
        ("cache-ca".to_string(), vec!["ca.crt".to_string()])
    );
}

#[test]
fn auth_generates_and_keeps_a_password_and_mounts_it() {
    let spec = json!({"shards": 1, "auth": {"enabled": true}});
    let d = render(spec.clone());
    let secret = d.auth_secret.as_ref().unwrap();
    let pw = &secret.string_data.as_ref().unwrap()[PASSWORD_KEY];
    assert_eq!(pw.len(), 64);
    assert!(pw.chars().all(|c| c.is_ascii_hexdigit()));
    // An existing password is reused, not replaced.
    let kept = desired(
        &cluster(spec),
        &Inputs {
            existing_password: Some("keep-me".into()),
            ..Inputs::default()
        },
    )
    .unwrap();
    assert_eq!(
        kept.auth_secret.unwrap().string_data.unwrap()[PASSWORD_KEY],
        "keep-me"
    );
    // Mounted as a file, never in env or args.
    let c = node(&d, 0);
    assert!(c
        .volume_mounts
        .as_ref()
        .unwrap()
        .iter()
        .any(|m| m.mount_path == "/etc/shoal/auth"));
    let env = serde_json::to_string(&c.env).unwrap() + &serde_json::to_string(&c.args).unwrap();
    assert!(!env.contains(pw.as_str()));
    assert!(d.config_map.data.as_ref().unwrap()["shoal.yaml"]
        .contains("requirepass-file: /etc/shoal/auth/password"));
    // A user-named Secret is mounted instead, with its key mapped to the file name.
    let d = render(
        json!({"shards": 1, "auth": {"enabled": true, "secretRef": {"name": "mine", "key": "pw"}}}),
    );
    assert!(d.auth_secret.is_none());
    let vols = d.stateful_sets[0]
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap()
        .volumes
        .as_ref()
        .unwrap();
    let auth = vols
        .iter()
        .find(|v| v.name == "auth")
        .unwrap()
        .secret
        .as_ref()
        .unwrap();
    assert_eq!(auth.secret_name.as_deref(), Some("mine"));
    assert_eq!(auth.items.as_ref().unwrap()[0].key, "pw");
}

#[test]
fn optional_objects_follow_the_spec() {
    let d = render(json!({"shards": 1}));
    assert!(d.network_policy.is_none() && d.service_monitor.is_none() && d.auth_secret.is_none());
    let on = json!({"shards": 1, "metrics": {"serviceMonitor": {"enabled": true, "interval": "15s", "labels": {"release": "prom"}}}});
    assert!(
        render(on.clone()).service_monitor.is_none(),
        "no ServiceMonitor without the API"
    );
    let sm = desired(
        &cluster(on),
        &Inputs {
            service_monitor_api: true,
            ..Inputs::default()
        },
    )
    .unwrap()
    .service_monitor
    .unwrap();
    assert_eq!(sm.data["spec"]["endpoints"][0]["interval"], "15s");
    assert_eq!(sm.metadata.labels.as_ref().unwrap()["release"], "prom");
    let d = render(json!({"shards": 2, "podDisruptionBudget": {"enabled": false}}));
    assert!(d.pod_disruption_budgets.is_empty());
    let d = render(json!({"shards": 1, "podDisruptionBudget": {"minAvailable": "50%"}}));
    let pdb = d.pod_disruption_budgets[0].spec.as_ref().unwrap();
    assert_eq!(pdb.min_available, Some(IntOrString::String("50%".into())));
    assert_eq!(pdb.max_unavailable, None);
}

#[test]
fn network_policy_admits_clients_peers_and_scrapers() {
    let d = render(json!({"shards": 1, "networkPolicy": {"enabled": true,
        "allowedClients": [{"namespaceSelector": {"matchLabels": {"team": "a"}}}]}}));
    let rules = d.network_policy.unwrap().spec.unwrap().ingress.unwrap();
    assert_eq!(rules.len(), 4);
    let clients = rules[0].from.as_ref().unwrap();
    assert_eq!(
        clients[0]
            .namespace_selector
            .as_ref()
            .unwrap()
            .match_labels
            .as_ref()
            .unwrap()["team"],
        "a"
    );
    assert_eq!(
        rules[0].ports.as_ref().unwrap()[0].port,
        Some(IntOrString::Int(CLIENT_PORT))
    );
    let operator = &rules[2].from.as_ref().unwrap()[0];
    assert_eq!(
        operator
            .pod_selector
            .as_ref()
            .unwrap()
            .match_labels
            .as_ref()
            .unwrap()["app.kubernetes.io/name"],
        "shoal-operator",
        "the operator reaches the client port from any namespace to fail over"
    );
    assert_eq!(operator.namespace_selector, Some(LabelSelector::default()));
    assert!(
        rules[3].from.is_none(),
        "metrics stay scrapable without a scraper list"
    );
}

#[test]
fn services_and_persistence() {
    let d = render(
        json!({"shards": 1, "service": {"type": "LoadBalancer", "port": 7000, "annotations": {"a": "b"}},
        "persistence": {"size": "5Gi", "storageClassName": "fast", "deleteWithCluster": true}}),
    );
    let client = d.client_service.spec.as_ref().unwrap();
    assert_eq!(client.type_.as_deref(), Some("LoadBalancer"));
    assert_eq!(client.ports.as_ref().unwrap()[0].port, 7000);
    assert_eq!(
        d.client_service.metadata.annotations.as_ref().unwrap()["a"],
        "b"
    );
    let headless = d.headless_service.spec.as_ref().unwrap();
    assert_eq!(headless.cluster_ip.as_deref(), Some("None"));
    assert_eq!(headless.publish_not_ready_addresses, Some(true));
    // The node snapshots to the volume: loaded at start, written on SIGTERM.
    let config = &d.config_map.data.as_ref().unwrap()["shoal.yaml"];
    let opts = shoal_core::config::Options::from_yaml(config).unwrap();
    assert_eq!(opts.get("dir"), Some("/data"));
    assert_eq!(opts.get("snapshot-interval"), Some("300"));
    let off = render(json!({"shards": 1}));
    assert!(!off.config_map.data.as_ref().unwrap()["shoal.yaml"].contains("dir:"));
    let sts = d.stateful_sets[0].spec.as_ref().unwrap();
    let pvc = &sts.volume_claim_templates.as_ref().unwrap()[0];
    assert_eq!(
        pvc.spec.as_ref().unwrap().storage_class_name.as_deref(),
        Some("fast")
    );
    assert_eq!(
        sts.persistent_volume_claim_retention_policy
            .as_ref()
            .unwrap()
            .when_deleted
            .as_deref(),
        Some("Delete")
    );
}

#[test]
fn node_identity_may_only_read_discovery() {
    let d = render(json!({"shards": 1}));
    let rules = d.role.rules.unwrap();
    for r in &rules {
        assert_eq!(r.verbs, vec!["get", "list", "watch"]);
    }
    assert_eq!(
        rules[0].resources.as_deref(),
        Some(&["endpointslices".to_string()][..])
    );
    assert_eq!(
        rules[1].resource_names.as_deref(),
        Some(&["cache-topology".to_string()][..])
    );
    assert_eq!(d.role_binding.subjects.unwrap()[0].name, "cache-node");
}

#[test]
fn acl_users_come_from_their_secret_and_links_log_in_as_the_internal_user() {
    let d = render(json!({"shards": 1, "replicasPerShard": 1,
        "auth": {"enabled": true, "aclSecretRef": {"name": "cache-users"}}}));
    let o = node_options(&d);
    assert_eq!(o.get("aclfile"), Some("/etc/shoal/acl/users.acl"));
    assert_eq!(o.get("masteruser"), Some("shoal-internal"));
    assert_eq!(o.get("masterauth-file"), Some("/etc/shoal/auth/password"));
    assert!(o.get("requirepass-file").is_none(), "the node refuses both");
    let (secret, keys) = secret_volume(&d, 0, "acl");
    assert_eq!(
        (secret.as_str(), keys.as_slice()),
        ("cache-users", &["users.acl".to_string()][..])
    );
    // Needs auth enabled, as the password Secret holds the link user's password.
    let cc = cluster(json!({"shards": 1,
        "auth": {"enabled": false, "aclSecretRef": {"name": "cache-users"}}}));
    assert!(cc.validate_cel().is_err());
}

#[test]
fn config_may_set_none_of_what_the_operator_sets() {
    // Every operator-owned option, from the one declaration in shoal-core: the
    // API server's CEL rule refuses it, and so does render, in any spelling.
    let owned: Vec<&str> = shoal_core::config::operator_owned()
        .map(|p| p.name)
        .collect();
    assert!(owned.len() >= 25, "{owned:?}");
    for name in owned {
        let cc = cluster(json!({"shards": 1, "config": {name: "1"}}));
        let errs = cc.validate_cel().expect_err(name);
        assert!(
            format!("{errs:?}").contains("config may not set"),
            "{name}: {errs:?}"
        );
        for spelling in [name.to_string(), name.to_ascii_uppercase()] {
            let cc = cluster(json!({"shards": 1, "config": {spelling.clone(): "1"}}));
            let err = statefulset::config_file(&cc).unwrap_err().to_string();
            assert!(err.contains("is set by the operator"), "{spelling}: {err}");
        }
    }
    // The two the issue found: an ACL file beside the operator's password file
    // (a crash loop), and a user value beating spec.tls.authClients.
    for spec in [
        json!({"shards": 1, "auth": {"enabled": true}, "config": {"aclfile": "/etc/passwd"}}),
        json!({"shards": 1, "tls": {"secretRef": {"name": "t"}, "authClients": true},
               "config": {"tls-auth-clients": "no"}}),
    ] {
        let err = desired(&cluster(spec.clone()), &Inputs::default()).unwrap_err();
        assert!(
            err.to_string().contains("config may not set"),
            "{spec}: {err}"
        );
    }
    // What the user owns still passes.
    render(json!({"shards": 1, "config": {"repl-backlog-size": "128mb", "hz": "20"}}));
}
