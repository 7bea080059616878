"""The shoal-node process: configuration sources, validation, signals."""

import os
import signal
import subprocess
import time

import pytest
import redis

from conftest import RawClient, node_binary, start_shoal


def config_get(port, name):
    r = redis.Redis(port=port, decode_responses=True)
    try:
        return r.config_get(name)[name]
    finally:
        r.close()


def test_flags_env_and_file_layer_in_that_order(tmp_path):
    conf = tmp_path / "shoal.yaml"
    conf.write_text("maxmemory: 64mb\nmaxmemory-policy: allkeys-lru\ntimeout: 30\nmaxclients: 500\n")
    p = start_shoal(
        "--config", str(conf), "--maxclients", "700",
        env={"SHOAL_MAXMEMORY_POLICY": "allkeys-lfu", "SHOAL_TIMEOUT": "40"},
    )
    try:
        assert config_get(p.port, "maxmemory") == str(64 << 20)  # file
        assert config_get(p.port, "maxmemory-policy") == "allkeys-lfu"  # env over file
        assert config_get(p.port, "timeout") == "40"  # env over file
        assert config_get(p.port, "maxclients") == "700"  # flag over file
    finally:
        assert p.close() == 0


def test_repl_backlog_size_from_every_source_and_config_set(tmp_path):
    """repl-backlog-size is an option like any other (the replication error
    names it): flag, environment, YAML, CONFIG GET/SET, and INFO shows it."""
    conf = tmp_path / "shoal.yaml"
    conf.write_text("repl-backlog-size: 2mb\n")
    for extra, env, want in [
        (["--config", str(conf)], None, 2 << 20),
        (["--config", str(conf)], {"SHOAL_REPL_BACKLOG_SIZE": "3mb"}, 3 << 20),
        (["--config", str(conf), "--repl-backlog-size", "4mb"], {"SHOAL_REPL_BACKLOG_SIZE": "3mb"}, 4 << 20),
        ([], None, 64 << 20),
    ]:
        p = start_shoal(*extra, env=env)
        try:
            r = redis.Redis(port=p.port, decode_responses=True)
            assert config_get(p.port, "repl-backlog-size") == str(want), extra
            assert r.info("replication")["repl_backlog_size"] == want
            r.config_set("repl-backlog-size", "1mb")
            assert r.info("replication")["repl_backlog_size"] == 1 << 20
            r.close()
        finally:
            assert p.close() == 0
    out = subprocess.run([node_binary(), "--admin-port", "0", "--repl-backlog-size", "0"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode != 0 and "invalid repl-backlog-size" in out.stderr


@pytest.mark.parametrize("resp3", [False, True])
def test_repl_backlog_size_answers_as_redis(shoal, redis_server, resp3):
    # Redis raises sizes under 16kb to 16kb and refuses 0, with these bytes.
    ours, theirs = RawClient(shoal.port), RawClient(redis_server.port)
    if resp3:
        ours.call("HELLO", "3")
        theirs.call("HELLO", "3")
    for args in [("CONFIG", "SET", "repl-backlog-size", "1"), ("CONFIG", "GET", "repl-backlog-size"),
                 ("CONFIG", "SET", "repl-backlog-size", "0"), ("CONFIG", "SET", "repl-backlog-size", "2mb"),
                 ("CONFIG", "GET", "repl-backlog-size"), ("CONFIG", "SET", "repl-backlog-size", "x")]:
        a, b = ours.call(*args), theirs.call(*args)
        assert a == b, (args, a, b)


@pytest.mark.parametrize(
    "args,message",
    [
        (["--maxmemory", "lots"], "invalid maxmemory: argument must be a memory value"),
        (["--maxmemory-policy", "lru"], "maxmemory-policy"),
        (["--threads", "0"], "threads"),
        (["--port", "0"], "set tls-port to serve clients over TLS"),
    ],
)
def test_bad_configuration_fails_clearly(args, message):
    out = subprocess.run([node_binary(), "--admin-port", "0", *args], capture_output=True, text=True, timeout=30)
    assert out.returncode != 0
    assert message in out.stderr


def test_bad_config_file_fails_clearly(tmp_path):
    conf = tmp_path / "bad.yaml"
    conf.write_text("max-memory: 1mb\n")
    out = subprocess.run([node_binary(), "--config", str(conf)], capture_output=True, text=True, timeout=30)
    assert out.returncode != 0
    assert "unknown option 'max-memory'" in out.stderr and "bad.yaml" in out.stderr


def test_port_in_use_fails_clearly():
    first = start_shoal("--bind", "127.0.0.1")
    try:
        out = subprocess.run(
            [node_binary(), "--port", str(first.port), "--admin-port", "0"], capture_output=True, text=True, timeout=30
        )
        assert out.returncode != 0
        assert "Address already in use" in out.stderr or "in use" in out.stderr
    finally:
        first.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signals_shut_down_cleanly(sig):
    p = start_shoal()
    r = redis.Redis(port=p.port)
    r.set("k", "v")
    started = time.time()
    code = p.close(sig=sig)
    assert code == 0
    assert time.time() - started < 5
    assert "shutting down" in p.output() and "stopped" in p.output()


def test_default_address_is_localhost_6379():
    # The embedded default is 127.0.0.1:6379. If another server holds that port,
    # the node must fail naming that address, which proves the default as well.
    proc = subprocess.Popen([node_binary(), "--admin-port", "0"], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 10
        while time.time() < deadline and proc.poll() is None:
            try:
                if redis.Redis(port=6379).execute_command("CONFIG", "GET", "port") == [b"port", b"6379"]:
                    break
            except redis.RedisError:
                time.sleep(0.05)
        if proc.poll() is None:
            info = redis.Redis(port=6379).info("server")
            assert "shoal_version" in info
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(10) == 0
        else:
            assert proc.returncode != 0
            assert "127.0.0.1:6379" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_help_lists_flags_and_env_vars():
    out = subprocess.run([node_binary(), "--help"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0
    for flag in ("--bind", "--port", "--admin-port", "--maxmemory", "--maxmemory-policy", "--config", "SHOAL_PORT"):
        assert flag in out.stdout
    assert os.path.basename(node_binary()) == "shoal-node"


def test_a_rotated_password_file_applies_without_restart(tmp_path):
    """A mounted Secret changes in place: new authentications use the new
    password within about a second; authenticated connections stay so."""
    pw = tmp_path / "password"
    pw.write_text("first-secret\n")
    p = start_shoal("--requirepass-file", str(pw))
    try:
        old_conn = redis.Redis(port=p.port, password="first-secret")
        assert old_conn.set("k", "v")
        # Rotate as the kubelet does: write elsewhere, then swap in.
        tmp = tmp_path / "password.new"
        tmp.write_text("second-secret\n")
        os.rename(tmp, pw)
        deadline = time.time() + 10
        while True:
            try:
                assert redis.Redis(port=p.port, password="second-secret").get("k") == b"v"
                break
            except redis.exceptions.AuthenticationError:
                assert time.time() < deadline, "the new password was never picked up"
                time.sleep(0.1)
        with pytest.raises(redis.exceptions.AuthenticationError):
            redis.Redis(port=p.port, password="first-secret").ping()
        assert old_conn.get("k") == b"v", "an authenticated connection stays authenticated"
        # A file that disappears mid-rotation keeps the current password.
        pw.unlink()
        time.sleep(1.5)
        assert redis.Redis(port=p.port, password="second-secret").ping()
        # Never logged.
        assert "second-secret" not in p.output() and "first-secret" not in p.output()
    finally:
        p.close()


def environ(pid):
    with open(f"/proc/{pid}/environ", "rb") as f:
        return dict(e.split(b"=", 1) for e in f.read().split(b"\0") if b"=" in e)


def test_the_allocator_returns_pages_within_a_second_unless_told_otherwise():
    # The node restarts itself once (same pid) with jemalloc's settings in its
    # environment; a value the user set is kept. (node/bench/compare.py shows
    # what it does to RSS after a bulk load.)
    p = start_shoal()
    try:
        conf = environ(p.proc.pid).get(b"_RJEM_MALLOC_CONF", b"")
        assert b"dirty_decay_ms:1000" in conf and b"background_thread:true" in conf, conf
        assert config_get(p.port, "port") == str(p.port)
    finally:
        assert p.close() == 0
    p = start_shoal(env={"_RJEM_MALLOC_CONF": "dirty_decay_ms:5000"})
    try:
        assert environ(p.proc.pid)[b"_RJEM_MALLOC_CONF"] == b"dirty_decay_ms:5000"
    finally:
        assert p.close() == 0
