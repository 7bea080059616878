"""Everything the operator renders and the chart templates is valid Kubernetes:
`kubernetes-validate --strict` against the official schemas, for the oldest and
newest Kubernetes the chart supports. Also: helm lint, values schema, the
all-in-one manifest in sync, examples valid against the CRD schema, and no
secret value in anything rendered."""

import copy
import json
import os
import re
import subprocess

import jsonschema
import pytest
import yaml

from conftest import ROOT

VERSIONS = ["1.30.0", "1.37.0"]
CHART = os.path.join(ROOT, "charts", "shoal-operator")
EXAMPLES = os.path.join(ROOT, "operator", "examples")

BASE = {"apiVersion": "shoal.dev/v1alpha1", "kind": "CacheCluster", "metadata": {"name": "cache", "namespace": "apps"}}

SPECS = {
    "minimal": {"shards": 1},
    "replicated": {"shards": 3, "replicasPerShard": 2},
    "auth-generated": {"shards": 1, "auth": {"enabled": True}},
    "auth-named": {"shards": 1, "auth": {"enabled": True, "secretRef": {"name": "pw", "key": "secret"}}},
    "tls": {"shards": 2, "replicasPerShard": 1, "tls": {"secretRef": {"name": "cache-tls"}}},
    "auth-acl": {"shards": 1, "auth": {"enabled": True, "aclSecretRef": {"name": "cache-users"}}},
    "auth-and-mtls": {"shards": 1, "replicasPerShard": 1, "auth": {"enabled": True},
                      "tls": {"secretRef": {"name": "cache-tls"}, "caSecretRef": {"name": "cache-ca"},
                              "authClients": True}},
    "everything": {
        "shards": 2, "replicasPerShard": 1, "image": "example.com/shoal-node:dev", "imagePullPolicy": "Always",
        "imagePullSecrets": [{"name": "regcred"}], "maxMemory": "3Gi", "evictionPolicy": "volatile-lfu",
        "resources": {"requests": {"cpu": "2", "memory": "4Gi"}, "limits": {"cpu": "2", "memory": "4Gi"}},
        "service": {"type": "NodePort", "port": 16379, "annotations": {"x": "y"}},
        "metrics": {"enabled": True, "serviceMonitor": {"enabled": True, "interval": "10s", "labels": {"r": "p"}}},
        "podDisruptionBudget": {"minAvailable": "50%"},
        "persistence": {"size": "20Gi", "storageClassName": "ssd", "deleteWithCluster": True},
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["cache"]}]}]}}},
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "cache", "effect": "NoSchedule"}],
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                                       "whenUnsatisfiable": "DoNotSchedule",
                                       "labelSelector": {"matchLabels": {"app.kubernetes.io/instance": "cache"}}}],
        "priorityClassName": "high", "podLabels": {"team": "a"}, "podAnnotations": {"note": "b"},
        "config": {"timeout": "120", "maxclients": "5000", "hz": "20"},
        "networkPolicy": {"enabled": True, "allowedClients": [{"podSelector": {"matchLabels": {"role": "api"}}}],
                          "allowedScrapers": [{"namespaceSelector": {"matchLabels": {"name": "monitoring"}}}]},
    },
    "no-pdb-no-metrics": {"shards": 1, "podDisruptionBudget": {"enabled": False}, "metrics": {"enabled": False}},
}


def render(operator_bin, doc, *extra):
    out = subprocess.run([operator_bin, "render", "-f", "-", *extra], input=yaml.safe_dump(doc),
                         capture_output=True, text=True, timeout=60)
    return out


def validate_files(validate, path, version):
    out = subprocess.run([validate, "--strict", "-k", version, path], capture_output=True, text=True, timeout=300)
    failures = [l for l in (out.stdout + out.stderr).splitlines() if not (" passed " in l or "Couldn't find schema" in l)]
    assert out.returncode == 0 and not failures, "\n".join(failures) or out.stdout + out.stderr
    return out.stdout + out.stderr


@pytest.mark.parametrize("name", sorted(SPECS))
def test_rendered_objects_are_valid_kubernetes(name, operator_bin, validate, tmp_path):
    doc = copy.deepcopy(BASE)
    doc["spec"] = SPECS[name]
    out = render(operator_bin, doc, "--service-monitor-api")
    assert out.returncode == 0, out.stderr
    objects = [o for o in yaml.safe_load_all(out.stdout) if o]
    assert any(o["kind"] == "StatefulSet" for o in objects)
    path = tmp_path / f"{name}.yaml"
    path.write_text(out.stdout)
    for v in VERSIONS:
        report = validate_files(validate, str(path), v)
        # Every built-in kind was really checked, not skipped.
        assert report.count(" passed ") == sum(1 for o in objects if o["kind"] != "ServiceMonitor")


def test_render_refuses_bad_specs(operator_bin):
    for spec, why in [
        ({"shards": 1, "config": {"nosuch": "1"}}, "unknown option 'nosuch'"),
        ({"shards": 1, "config": {"repl-backlog-size": "0"}}, "invalid repl-backlog-size"),
        ({"shards": 1, "podDisruptionBudget": {"minAvailable": 1, "maxUnavailable": 1}}, "not both"),
        ({"shards": 0}, "shards must be between 1 and 512"),
        # The operator sets it from spec.tls.authClients.
        ({"shards": 1, "tls": {"secretRef": {"name": "tls"}}, "config": {"tls-auth-clients": "no"}},
         "config may not set"),
    ]:
        doc = copy.deepcopy(BASE)
        doc["spec"] = spec
        out = render(operator_bin, doc)
        assert out.returncode != 0
        assert why in out.stderr


def test_rendered_output_holds_no_secret(operator_bin):
    doc = copy.deepcopy(BASE)
    doc["spec"] = SPECS["auth-and-mtls"]
    out = render(operator_bin, doc)
    assert out.returncode == 0
    kinds = [o["kind"] for o in yaml.safe_load_all(out.stdout) if o]
    assert "Secret" not in kinds
    # No generated password (64 hex characters) anywhere in the output.
    assert not re.search(r"\b[0-9a-f]{64}\b", out.stdout)
    assert "created by the operator" in out.stderr
    # TLS material is mounted from its Secrets, never copied.
    assert "BEGIN" not in out.stdout and "PRIVATE" not in out.stdout
    config = next(o for o in yaml.safe_load_all(out.stdout) if o and o["kind"] == "ConfigMap"
                  and o["metadata"]["name"] == "cache-config")
    node = yaml.safe_load(next(iter(config["data"].values())))
    assert node["port"] == 0 and node["tls-port"] == 6379 and node["tls-auth-clients"] in ("yes", True)  # PyYAML reads YAML 1.1


def crd_schema():
    with open(os.path.join(ROOT, "crds", "cacheclusters.shoal.dev.yaml")) as f:
        crd = yaml.safe_load(f)
    return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def test_examples_and_specs_match_the_crd_schema():
    schema = crd_schema()
    docs = []
    for name in os.listdir(EXAMPLES):
        with open(os.path.join(EXAMPLES, name)) as f:
            docs.extend(d for d in yaml.safe_load_all(f) if d)
    for spec in SPECS.values():
        d = copy.deepcopy(BASE)
        d["spec"] = spec
        docs.append(d)
    for d in docs:
        jsonschema.validate({"spec": d["spec"]}, {"type": "object", "properties": {"spec": schema["properties"]["spec"]}})
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"spec": {"shards": 0}}, {"type": "object", "properties": {"spec": schema["properties"]["spec"]}})


FULL_VALUES = ["--set", "grafanaDashboard.enabled=true,metrics.serviceMonitor.enabled=true,networkPolicy.enabled=true,"
               "replicaCount=2,watchNamespace=apps,logFormat=text"]


@pytest.mark.parametrize("values", [[], FULL_VALUES], ids=["default", "full"])
def test_chart_lints_and_renders_valid_objects(values, helm, validate, tmp_path):
    lint = subprocess.run([helm, "lint", CHART, *values], capture_output=True, text=True, timeout=120)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    out = subprocess.run([helm, "template", "shoal-operator", CHART, "--namespace", "shoal-system", "--include-crds", *values],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    path = tmp_path / "chart.yaml"
    path.write_text(out.stdout)
    for v in VERSIONS:
        validate_files(validate, str(path), v)
    objects = [o for o in yaml.safe_load_all(out.stdout) if o]
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    if values:
        dash = next(o for o in objects if o["kind"] == "ConfigMap")
        assert json.loads(dash["data"]["shoal.json"])["title"] == "Shoal"
        assert deployment["spec"]["replicas"] == 2
        role = next(o for o in objects if o["kind"] == "Role" and o["metadata"]["name"] == "shoal-operator")
        assert role["metadata"]["namespace"] == "apps"


def test_values_schema_rejects_bad_values(helm):
    for bad in ["replicaCount=-1", "logFormat=xml", "image.pullPolicy=Sometimes", "nosuchvalue=1",
                "failover.downAfterMs=0"]:
        out = subprocess.run([helm, "lint", CHART, "--set", bad], capture_output=True, text=True, timeout=120)
        assert out.returncode != 0, bad


def test_operator_rbac_lists_only_what_it_needs(helm):
    out = subprocess.run([helm, "template", "shoal-operator", CHART], capture_output=True, text=True, timeout=120)
    objects = [o for o in yaml.safe_load_all(out.stdout) if o]
    rules = next(o for o in objects if o["kind"] == "ClusterRole")["rules"]
    verbs = {(g, r): set(rule["verbs"]) for rule in rules for g in rule["apiGroups"] for r in rule["resources"]}
    assert all("*" not in v for v in verbs.values()) and all("*" not in r for _, r in verbs)
    assert verbs[("", "secrets")] == {"get", "create", "patch", "delete"}, "no list/watch of Secrets"
    assert verbs[("shoal.dev", "cacheclusters/status")] == {"patch"}
    # patch only to remove the manual failover annotation once it is done
    assert verbs[("shoal.dev", "cacheclusters")] == {"get", "list", "watch", "patch"}
    # delete: only the StatefulSet of a shard a resize emptied (its volumes stay)
    assert verbs[("apps", "statefulsets")] == {"get", "list", "watch", "create", "patch", "delete"}
    assert verbs[("", "pods")] == {"get", "list", "delete"}, "rollouts delete pods, nothing more"


def test_all_in_one_manifest_is_in_sync(helm):
    with open(os.path.join(ROOT, "charts", "manifests", "shoal-operator.yaml")) as f:
        committed = f.read()
    out = subprocess.run([helm, "template", "shoal-operator", CHART, "--namespace", "shoal-system", "--include-crds"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0
    assert committed.endswith(out.stdout), "charts/manifests/shoal-operator.yaml is out of date: run scripts/render-manifests"
    assert "kind: Namespace" in committed.split(out.stdout)[0]
