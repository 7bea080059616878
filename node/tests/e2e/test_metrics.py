"""The admin port: Prometheus metrics that promtool accepts, and health probes."""

import shutil
import subprocess
import urllib.request

import pytest
import redis


def get(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as resp:
        return resp.status, resp.read().decode()


def metric(text, name, labels=""):
    for line in text.splitlines():
        if line.startswith(name + labels + " ") or (not labels and line.startswith(name + " ")):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name}{labels} not in metrics")


def test_health_probes(shoal):
    assert get(shoal.admin_port, "/healthz") == (200, "ok\n")
    assert get(shoal.admin_port, "/readyz") == (200, "ready\n")


def test_metrics_track_activity_and_pass_promtool(shoal):
    r = redis.Redis(port=shoal.port)
    r.set("a", "1")
    r.get("a")
    r.get("missing")
    r.expire("a", 100)
    for _ in range(10):
        r.get("a")
    with pytest.raises(redis.ResponseError):
        r.hget("a", "f")
    _, text = get(shoal.admin_port, "/metrics")
    assert metric(text, "shoal_keyspace_hits_total") == 11
    assert metric(text, "shoal_keyspace_misses_total") == 1
    assert metric(text, "shoal_command_duration_seconds_count", '{command="get"}') == 12
    assert metric(text, "shoal_command_errors_total", '{command="hget"}') == 1
    assert metric(text, "shoal_keys") == 1
    assert metric(text, "shoal_expiring_keys") == 1
    assert metric(text, "shoal_connected_clients") == 1
    assert metric(text, "shoal_connections_received_total") >= 1
    assert metric(text, "shoal_memory_used_bytes") > 0
    assert metric(text, "shoal_net_input_bytes_total") > 0
    assert metric(text, "shoal_net_output_bytes_total") > 0
    assert 'shoal_command_duration_seconds_bucket{command="set",le="+Inf"} 1' in text
    promtool = shutil.which("promtool")
    assert promtool, "promtool not installed: run scripts/test, which installs it"
    check = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stdout + check.stderr
    r.close()


def test_info_agrees_with_metrics(shoal):
    r = redis.Redis(port=shoal.port, decode_responses=True)
    for i in range(50):
        r.set(f"k{i}", "v")
        r.get(f"k{i}")
    info = r.info("all")
    _, text = get(shoal.admin_port, "/metrics")
    assert info["keyspace_hits"] == metric(text, "shoal_keyspace_hits_total") == 50
    assert info["db0"]["keys"] == 50
    assert info["cmdstat_get"]["calls"] == 50
    assert info["used_memory"] > 0
    r.close()
