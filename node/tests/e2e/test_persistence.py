"""Snapshots for a warm restart (`dir`): every type and TTL survives a SIGTERM
and a start; SAVE, BGSAVE and LASTSAVE answer as redis-server's do; a
truncated or corrupted snapshot is refused (the node starts empty, sets the
file aside, says so in its log and metrics), never half loaded."""

import os
import subprocess
import shutil
import signal
import tempfile
import time
import urllib.request

import pytest
import redis

from conftest import RawClient, start_shoal, wait_for


@pytest.fixture
def snapdir():
    d = tempfile.mkdtemp(prefix="shoal-snap-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def fill(r):
    r.set("s", "v" * 100)
    r.set("n", 12345)
    r.set("ttl", "x", px=600_000)
    r.hset("h", mapping={f"f{i}": f"v{i}" for i in range(300)})
    r.hset("hs", mapping={"a": "1"})
    r.rpush("l", *[f"e{i}" for i in range(1000)])
    r.rpush("ls", "x", "y")
    r.sadd("set", *[f"m{i}" for i in range(600)])
    r.sadd("iset", *range(100))
    r.zadd("z", {f"m{i}": i / 3 for i in range(500)})
    r.zadd("zs", {"a": 1.5, "b": float("inf")})
    r.pexpire("h", 900_000)
    r.pexpire("z", 900_000)


def state(r):
    keys = sorted(r.keys("*"))
    return {k: (r.type(k), r.dump(k)) for k in keys}, {k: r.pttl(k) for k in keys}


def test_every_type_and_ttl_survives_a_restart(snapdir):
    p = start_shoal("--dir", snapdir)
    r = redis.Redis(port=p.port)
    fill(r)
    before, ttls = state(r)
    assert len(before) == 11
    assert p.close(signal.SIGTERM) == 0
    assert "snapshot written" in p.output(), p.output()[-2000:]
    assert os.path.exists(os.path.join(snapdir, "shoal.snap"))
    q = start_shoal("--dir", snapdir)
    try:
        r = redis.Redis(port=q.port)
        after, ttls_after = state(r)
        assert after == before
        for k, t in ttls.items():
            if t < 0:
                assert ttls_after[k] == t, k
            else:
                assert 0 < ttls_after[k] <= t, k
        assert "snapshot loaded" in q.output()
    finally:
        q.close()


def test_save_bgsave_and_lastsave_answer_as_redis(snapdir, redis_server):
    p = start_shoal("--dir", snapdir)
    try:
        for resp3 in (False, True):
            clients = [RawClient(p.port), RawClient(redis_server.port)]
            for c in clients:
                if resp3:
                    c.call("HELLO", "3")
            got, want = [c.call("SAVE") for c in clients]
            assert got == want == b"+OK\r\n"
            last = [c.call("LASTSAVE") for c in clients]
            assert all(x.startswith(b":") for x in last), last
            assert abs(int(last[0][1:]) - int(last[1][1:])) < 5
            assert abs(int(last[0][1:]) - time.time()) < 5
            # Errors as Redis words them.
            for args in (["SAVE", "x"], ["LASTSAVE", "x"], ["BGSAVE", "x", "y"], ["BGSAVE", "nope"]):
                got, want = [c.call(*args) for c in clients]
                assert got == want, (args, got, want)
            got, want = [c.call("BGSAVE") for c in clients]
            assert got == want == b"+Background saving started\r\n"
            for c in clients:
                wait_for("background save done",
                         lambda c=c: b"rdb_bgsave_in_progress:0" in c.call("INFO", "persistence"))
            info = [c.call("INFO", "persistence") for c in clients]
            for line in (b"rdb_bgsave_in_progress:0", b"rdb_last_bgsave_status:ok", b"aof_enabled:0"):
                assert all(line in i for i in info), (line, info)
            # Not inside a transaction, as in Redis.
            for c in clients:
                c.call("MULTI")
            got, want = [c.call("SAVE") for c in clients]
            assert got == want, (got, want)
            for c in clients:
                c.call("DISCARD")
                c.close()
    finally:
        p.close()


def test_without_dir_save_says_how_to_turn_snapshots_on(shoal):
    r = RawClient(shoal.port)
    for cmd in ("SAVE", "BGSAVE"):
        got = r.call(cmd)
        assert got.startswith(b"-ERR no snapshot directory"), got
    assert r.call("LASTSAVE").startswith(b":")


def metric(admin_port, name):
    body = urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/metrics", timeout=5).read().decode()
    for line in body.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return None


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage"])
def test_a_damaged_snapshot_is_refused_and_set_aside(snapdir, damage):
    p = start_shoal("--dir", snapdir)
    r = redis.Redis(port=p.port)
    fill(r)
    p.close(signal.SIGTERM)
    path = os.path.join(snapdir, "shoal.snap")
    data = open(path, "rb").read()
    if damage == "truncate":
        data = data[: len(data) * 2 // 3]
    elif damage == "flip":
        b = bytearray(data)
        b[len(b) // 2] ^= 0x55
        data = bytes(b)
    else:
        data = b"REDIS0011" + os.urandom(500)
    open(path, "wb").write(data)
    q = start_shoal("--dir", snapdir)
    try:
        r = redis.Redis(port=q.port)
        assert r.dbsize() == 0, "never half loaded"
        out = q.output()
        assert "snapshot refused: starting empty" in out, out[-2000:]
        assert os.path.exists(path.replace(".snap", ".corrupt"))
        assert not os.path.exists(path)
        assert metric(q.admin_port, "shoal_snapshot_load_failures_total") == 1
    finally:
        q.close()


def test_snapshot_interval_writes_in_the_background(snapdir):
    p = start_shoal("--dir", snapdir)
    try:
        r = redis.Redis(port=p.port)
        r.set("k", "v")
        first = r.lastsave()
        assert not os.path.exists(os.path.join(snapdir, "shoal.snap"))
        assert r.config_set("snapshot-interval", 1)
        wait_for("an interval snapshot", lambda: os.path.exists(os.path.join(snapdir, "shoal.snap")), timeout=10)
        wait_for("lastsave moves", lambda: r.lastsave() >= first, timeout=10)
        assert metric(p.admin_port, 'shoal_snapshot_saves_total{result="ok"}') >= 1
    finally:
        p.close()


def test_a_whole_local_cluster_stopped_and_started_again_keeps_its_keys(snapdir):
    """Every node snapshots on SIGTERM (one file per node in the shared dir);
    started again, each primary loads its snapshot, holds its keys until its
    replica reports no newer history, then serves, and the replica resyncs."""
    from conftest import LocalCluster, node_binary
    from test_replication import all_synced, slot_owner
    c = LocalCluster(shards=2, replicas=1, extra=("--dir", snapdir))
    try:
        wait_for("replicas synced", lambda: all_synced(c), timeout=30)
        written = {}
        for tag in ("{a}", "{b}"):
            slot = redis.Redis(port=c.ports[0]).execute_command("CLUSTER", "KEYSLOT", tag)
            r = redis.Redis(port=slot_owner(c.ports[0], slot))
            for i in range(500):
                r.set(f"{tag}:{i}", i)
                written[f"{tag}:{i}"] = str(i).encode()
            assert r.execute_command("WAIT", 1, 5000) == 1
        out = subprocess.run([node_binary(), "local-cluster", "--dir", c.dir, "--stop"],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert sorted(os.listdir(snapdir)) == sorted(f"node-{p}.snap" for p in c.ports)
        out = subprocess.run([node_binary(), "local-cluster", "--shards", "2", "--replicas", "1",
                              "--base-port", str(c.base), "--dir", c.dir, "--", "--dir", snapdir],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stdout + out.stderr
        wait_for("replicas synced again", lambda: all_synced(c), timeout=30)
        log = open(os.path.join(c.dir, f"node-{c.ports[0]}.log"), errors="replace").read()
        assert "snapshot loaded" in log and "no replication history" in log, log[-3000:]
        for key, value in written.items():
            slot = redis.Redis(port=c.ports[0]).execute_command("CLUSTER", "KEYSLOT", key)
            assert redis.Redis(port=slot_owner(c.ports[0], slot)).get(key) == value, key
        for p in c.ports:
            r = redis.Redis(port=p)
            r.execute_command("READONLY")
            assert r.dbsize() == 500, p
    finally:
        c.stop()
