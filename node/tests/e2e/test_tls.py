"""TLS against real clients: redis-cli --tls and redis-py with ssl, with
certificates generated for each run by the `test-certs` example (rcgen).
Plaintext off with --port 0, an untrusted or expired server certificate refused
by the clients, client certificates required with --tls-auth-clients yes,
rotated certificate files picked up without a restart, and a local cluster
whose clients, replication, forwarding and failover all run over TLS."""

import os
import shutil
import socket
import subprocess
import time
import urllib.request

import pytest
import redis

from conftest import FORWARD_OFFSET, ROOT, LocalCluster, Proc, free_port, node_binary, wait_for


def certs_binary():
    path = os.environ.get("SHOAL_TEST_CERTS_BIN")
    if not path:
        target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
        path = os.path.join(target, "debug", "examples", "test-certs")
    if not os.path.exists(path):
        pytest.fail(f"test-certs not found at {path}: cargo build -p shoal-node --example test-certs")
    return path


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("certs")
    subprocess.run([certs_binary(), str(d)], check=True, timeout=60)
    return d


def start_tls(certs, *extra, cert="server", files=None):
    """A node serving TLS only; `files` is a directory to read the
    certificate files from (copied there first, for rotation)."""
    src = files or certs
    if files is not None:
        shutil.copy(certs / f"{cert}.crt", files / "tls.crt")
        shutil.copy(certs / f"{cert}.key", files / "tls.key")
        shutil.copy(certs / "ca.crt", files / "ca.crt")
        crt, key, ca = files / "tls.crt", files / "tls.key", files / "ca.crt"
    else:
        crt, key, ca = src / f"{cert}.crt", src / f"{cert}.key", src / "ca.crt"
    port, admin = free_port(), free_port()
    args = [node_binary(), "--port", "0", "--tls-port", str(port), "--admin-port", str(admin),
            "--tls-cert-file", str(crt), "--tls-key-file", str(key), "--tls-ca-cert-file", str(ca),
            *extra]
    return Proc(args, port, admin, dict(os.environ, RUST_LOG="info"))


def cli(port, *args, tls=("--tls",)):
    r = subprocess.run(["redis-cli", "-p", str(port), *tls, *args],
                       capture_output=True, text=True, timeout=20)
    return r.returncode, (r.stdout + r.stderr).strip()


def test_redis_cli_and_redis_py_over_tls(certs):
    node = start_tls(certs, "--tls-auth-clients", "no")
    try:
        ca = ["--tls", "--cacert", str(certs / "ca.crt")]
        assert cli(node.port, "SET", "k", "over tls", tls=ca) == (0, "OK")
        assert cli(node.port, "GET", "k", tls=ca) == (0, "over tls")
        r = redis.Redis(port=node.port, ssl=True, ssl_ca_certs=str(certs / "ca.crt"))
        assert r.get("k") == b"over tls"
        assert r.incr("n") == 1
        r.close()
        # Plaintext is off: a plaintext client gets no reply on the TLS port.
        with socket.create_connection(("127.0.0.1", node.port), timeout=5) as s:
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            try:
                got = s.recv(100)
            except ConnectionResetError:
                got = b""
            assert not got.startswith(b"+PONG")
        assert "shoal_tls_handshake_failures_total" in urllib.request.urlopen(
            f"http://127.0.0.1:{node.admin_port}/metrics", timeout=5).read().decode()
    finally:
        node.close()


def test_untrusted_or_expired_server_certificates_are_refused(certs):
    node = start_tls(certs, "--tls-auth-clients", "no")
    try:
        code, out = cli(node.port, "PING", tls=["--tls", "--cacert", str(certs / "other-ca.crt")])
        assert code != 0 or "PONG" not in out
        assert "certificate verify failed" in out, out
        r = redis.Redis(port=node.port, ssl=True, ssl_ca_certs=str(certs / "other-ca.crt"))
        with pytest.raises(redis.ConnectionError, match="certificate verify failed"):
            r.ping()
    finally:
        node.close()
    expired = start_tls(certs, "--tls-auth-clients", "no", cert="expired")
    try:
        r = redis.Redis(port=expired.port, ssl=True, ssl_ca_certs=str(certs / "ca.crt"))
        with pytest.raises(redis.ConnectionError, match="certificate has expired"):
            r.ping()
        code, out = cli(expired.port, "PING", tls=["--tls", "--cacert", str(certs / "ca.crt")])
        assert "PONG" not in out and "certificate verify failed" in out, out
    finally:
        expired.close()


def test_client_certificates_required_by_default(certs):
    # tls-auth-clients defaults to yes, as in Redis.
    node = start_tls(certs)
    try:
        ca = ["--tls", "--cacert", str(certs / "ca.crt")]
        code, out = cli(node.port, "PING", tls=ca)
        assert "PONG" not in out
        good = ca + ["--cert", str(certs / "client.crt"), "--key", str(certs / "client.key")]
        assert cli(node.port, "PING", tls=good) == (0, "PONG")
        foreign = ca + ["--cert", str(certs / "other-client.crt"), "--key", str(certs / "other-client.key")]
        code, out = cli(node.port, "PING", tls=foreign)
        assert "PONG" not in out
        r = redis.Redis(port=node.port, ssl=True, ssl_ca_certs=str(certs / "ca.crt"),
                        ssl_certfile=str(certs / "client.crt"), ssl_keyfile=str(certs / "client.key"))
        assert r.ping() is True
        r.close()
        bare = redis.Redis(port=node.port, ssl=True, ssl_ca_certs=str(certs / "ca.crt"))
        with pytest.raises(redis.ConnectionError):
            bare.ping()
    finally:
        node.close()


def test_rotated_certificates_are_served_without_a_restart(certs, tmp_path):
    node = start_tls(certs, "--tls-auth-clients", "no", files=tmp_path)
    try:
        old = redis.Redis(port=node.port, ssl=True, ssl_ca_certs=str(certs / "ca.crt"))
        assert old.ping() is True
        pid = node.proc.pid
        # As a Secret update does: new certificate, key and CA in place.
        for src, dst in (("rotated.crt", "tls.crt"), ("rotated.key", "tls.key"), ("rotated-ca.crt", "ca.crt")):
            tmp = tmp_path / (dst + ".new")
            shutil.copy(certs / src, tmp)
            os.replace(tmp, tmp_path / dst)
        deadline = time.time() + 10
        while True:
            try:
                new = redis.Redis(port=node.port, ssl=True, ssl_ca_certs=str(certs / "rotated-ca.crt"))
                assert new.ping() is True
                break
            except redis.ConnectionError:
                assert time.time() < deadline, "the rotated certificate was never served"
                time.sleep(0.2)
        assert node.proc.pid == pid and node.proc.poll() is None
        # The open connection keeps its session; new ones get the new certificate.
        assert old.ping() is True
        fresh_old = redis.Redis(port=node.port, ssl=True, ssl_ca_certs=str(certs / "ca.crt"))
        with pytest.raises(redis.ConnectionError, match="certificate verify failed"):
            fresh_old.ping()
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{node.admin_port}/metrics", timeout=5).read().decode()
        assert 'shoal_tls_reloads_total{result="ok"} 1' in metrics
    finally:
        node.close()


def test_bad_tls_settings_are_refused_at_start(certs):
    def run(*args):
        r = subprocess.run([node_binary(), "--admin-port", "0", *args], capture_output=True, text=True, timeout=20)
        return r.returncode, r.stderr
    code, err = run("--port", "0")
    assert code != 0 and "set tls-port" in err, err
    code, err = run("--port", str(free_port()), "--tls-port", str(free_port()),
                    "--tls-cert-file", str(certs / "server.crt"), "--tls-key-file", str(certs / "client.key"),
                    "--tls-auth-clients", "no")
    assert code != 0 and "do not make a usable identity" in err, err
    code, err = run("--port", str(free_port()), "--tls-port", str(free_port()),
                    "--tls-cert-file", str(certs / "missing.crt"), "--tls-key-file", str(certs / "server.key"),
                    "--tls-auth-clients", "no")
    assert code != 0 and "missing.crt" in err, err


def test_local_cluster_runs_over_tls_end_to_end(certs):
    """local-cluster --tls-*: clients, forwarding, replication and the
    supervisor's failover probes all over mutual TLS, nothing in plaintext."""
    files = ["--tls-cert-file", certs / "server.crt", "--tls-key-file", certs / "server.key",
             "--tls-ca-cert-file", certs / "ca.crt"]
    c = LocalCluster(shards=2, replicas=1, down_after_ms=1000, options=files)
    good = ["--tls", "--cacert", str(certs / "ca.crt"),
            "--cert", str(certs / "client.crt"), "--key", str(certs / "client.key")]

    def tls_info(port):
        r = redis.Redis(port=port, ssl=True, ssl_ca_certs=str(certs / "ca.crt"),
                        ssl_certfile=str(certs / "client.crt"), ssl_keyfile=str(certs / "client.key"),
                        socket_timeout=2)
        try:
            return {k: str(v) for k, v in r.info("replication").items()}
        except (redis.ConnectionError, redis.TimeoutError):
            return None
        finally:
            r.close()

    try:
        assert "--tls --cacert" in c.started, c.started
        # A cluster-aware client follows MOVED between nodes over TLS.
        for i in range(20):
            assert cli(c.base, "-c", "SET", f"k{i}", f"v{i}", tls=good) == (0, "OK")
        # Any node's forwarding port answers every key, forwarding over TLS.
        for port in c.ports[:2]:
            for i in (0, 7, 19):
                assert cli(port + FORWARD_OFFSET, "GET", f"k{i}", tls=good) == (0, f"v{i}")
        # Nothing listens in plaintext, and the nodes ask for client certificates.
        code, out = cli(c.base, "PING", tls=())
        assert "PONG" not in out
        code, out = cli(c.base, "PING", tls=["--tls", "--cacert", str(certs / "ca.crt")])
        assert "PONG" not in out
        # Replicas synced over TLS.
        def synced():
            infos = [tls_info(p) for p in c.ports]
            return all(i is not None for i in infos) and all(
                i["master_link_status"] == "up" for i in infos if i["role"] == "slave")
        wait_for("replicas linked over TLS", synced, timeout=30)
        primary = c.ports[0]
        replica = next(p for p in c.ports if (tls_info(p) or {}).get("master_port") == str(primary))
        before = int(tls_info(primary)["master_repl_offset"])
        wait_for("replica caught up", lambda: int(tls_info(replica)["master_repl_offset"]) >= before)
        # The supervisor sees the primary die over TLS probes and promotes its replica.
        pid = int(open(os.path.join(c.dir, f"node-{primary}.pid")).read())
        os.kill(pid, 9)
        wait_for("replica promoted", lambda: (tls_info(replica) or {}).get("role") == "master", timeout=30)
        for i in range(20):
            assert cli(replica + FORWARD_OFFSET, "GET", f"k{i}", tls=good) == (0, f"v{i}")
        log = open(os.path.join(c.dir, "supervisor.log")).read()
        assert "PrimaryDown" in log, log
    finally:
        c.stop()
