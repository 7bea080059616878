"""Planned handovers end to end on local clusters with replicas: a primary
stopped by SIGTERM, and CLUSTER FAILOVER, both under write load. Every write a
primary answered OK to (no WAIT) must be on the new primary afterwards: the old
primary sends its last writes and where they end (`+HANDOVER`), and the
promoted replica serves only once it has them. Also: a promotion whose old
primary never hands over serves after a bounded wait."""

import os
import subprocess
import signal
import threading
import time

import redis

from conftest import LocalCluster, node_binary, wait_for
from test_replication import all_synced, info, info_or_none, slot_owner


class Writer(threading.Thread):
    """SETs keys of one slot (a hash tag) to its primary as fast as it answers,
    following MOVED and TRYAGAIN itself; remembers every write answered OK
    and the longest time between two of them."""

    def __init__(self, cluster, tag):
        super().__init__(daemon=True)
        self.c, self.tag = cluster, tag
        self.slot = redis.Redis(port=cluster.ports[0]).execute_command("CLUSTER", "KEYSLOT", tag)
        self.acked = {}
        self.stop = threading.Event()
        self.errors = []
        self.longest_gap = 0.0
        self.ports_written = set()

    def find_owner(self):
        for p in self.c.ports:
            try:
                o = slot_owner(p, self.slot)
                if o:
                    return o
            except (redis.exceptions.RedisError, OSError):
                continue
        return None

    def run(self):
        i, port, conn, last_ok = 0, None, None, None
        while not self.stop.is_set():
            try:
                if conn is None:
                    port = self.find_owner()
                    if port is None:
                        time.sleep(0.005)
                        continue
                    conn = redis.Redis(port=port, socket_timeout=3)
                key = f"{self.tag}:{i}"
                if conn.set(key, i):
                    now = time.time()
                    if last_ok is not None:
                        self.longest_gap = max(self.longest_gap, now - last_ok)
                    last_ok = now
                    self.acked[key] = str(i).encode()
                    self.ports_written.add(port)
                i += 1
            except redis.exceptions.MovedError as e:
                port = e.port
                conn = redis.Redis(port=port, socket_timeout=3)
            except redis.exceptions.TryAgainError:
                time.sleep(0.001)
            except redis.exceptions.ResponseError as e:
                self.errors.append(str(e))
                time.sleep(0.005)
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError):
                conn = None
                time.sleep(0.005)

    def check_on(self, port):
        keys = list(self.acked)
        r = redis.Redis(port=port, socket_timeout=10, single_connection_client=True)
        r.execute_command("READONLY")
        got = r.mget(keys)
        return [k for k, v in zip(keys, got) if v != self.acked[k]]


def primary_of(c, slot):
    o = slot_owner(c.ports[0], slot)
    assert o is not None
    return o


def replica_of(c, primary):
    for p in c.ports:
        i = info_or_none(p)
        if i and i["role"] == "slave" and i["master_port"] == str(primary):
            return p
    raise AssertionError(f"no replica of {primary}")


def run_handover(c, tag, trigger):
    """Runs a writer on `tag`'s slot, `trigger(primary, replica)`, and waits
    for writes on the replica; returns (writer, old primary, new primary)."""
    w = Writer(c, tag)
    w.start()
    wait_for("writes", lambda: len(w.acked) >= 300, timeout=30)
    old = primary_of(c, w.slot)
    new = replica_of(c, old)
    trigger(old, new)
    wait_for("writes on the promoted replica", lambda: new in w.ports_written, timeout=20)
    n = len(w.acked)
    wait_for("more writes", lambda: len(w.acked) >= n + 300, timeout=20)
    w.stop.set()
    w.join(10)
    assert info(new)["role"] == "master"
    return w, old, new


def test_sigterm_of_a_primary_hands_over_without_losing_a_write():
    c = LocalCluster(shards=2, replicas=1)
    try:
        wait_for("replicas synced", lambda: all_synced(c), timeout=30)
        gaps = []
        for tag in ("{a}", "{b}"):
            def term(old, _new):
                pid = int(open(os.path.join(c.dir, f"node-{old}.pid")).read())
                os.kill(pid, signal.SIGTERM)
            w, old, new = run_handover(c, tag, term)
            missing = w.check_on(new)
            assert not missing, f"{len(missing)} of {len(w.acked)} writes answered OK were lost, e.g. {missing[:5]}"
            assert not w.errors, w.errors[:5]
            gaps.append(w.longest_gap)
            # The stopped node comes back (the supervisor restarts it) as a
            # replica of the new primary, with its data.
            def rejoined():
                i = info_or_none(old)
                return (i is not None and i["role"] == "slave" and i.get("master_link_status") == "up"
                        and i["master_port"] == str(new)
                        and i["master_repl_offset"] == info(new)["master_repl_offset"])
            wait_for("old primary rejoined", rejoined, timeout=30)
            assert redis.Redis(port=old).dbsize() == redis.Redis(port=new).dbsize()
            log = open(os.path.join(c.dir, f"node-{old}.log")).read()
            assert "handed over to a replica" in log, log[-2000:]
            assert "handed over at offset" in open(os.path.join(c.dir, f"node-{new}.log")).read()
        print(f"\nlongest write pause per SIGTERM handover: {[round(g * 1000) for g in gaps]} ms")
        log = open(os.path.join(c.dir, "supervisor.log")).read()
        assert log.count("(Leaving)") == 2, log
        assert "PrimaryDown" not in log, log
    finally:
        c.stop()


def test_cluster_failover_under_load_loses_no_write():
    c = LocalCluster(shards=1, replicas=2)
    try:
        wait_for("replicas synced", lambda: all_synced(c), timeout=30)

        def ask(_old, new):
            assert redis.Redis(port=new).execute_command("CLUSTER", "FAILOVER") == b"OK"
        w, old, new = run_handover(c, "{f}", ask)
        missing = w.check_on(new)
        assert not missing, f"{len(missing)} of {len(w.acked)} writes answered OK were lost, e.g. {missing[:5]}"
        assert not w.errors, w.errors[:5]
        print(f"\nlongest write pause of CLUSTER FAILOVER: {round(w.longest_gap * 1000)} ms")
        # Both others follow the new primary from the backlog, with every key.
        others = [p for p in c.ports if p != new]
        for p in others:
            wait_for("following the new primary", lambda p=p: info(p)["master_port"] == str(new)
                     and info(p).get("master_link_status") == "up"
                     and info(p)["master_repl_offset"] == info(new)["master_repl_offset"], timeout=20)
            assert not w.check_on(p), f"node {p} misses writes"
            assert redis.Redis(port=p).dbsize() == redis.Redis(port=new).dbsize()
        # Neither replica needed a second full sync: the history continued.
        metrics = redis.Redis(port=new).info("replication")
        assert metrics["connected_slaves"] == 2
        assert "Requested" in open(os.path.join(c.dir, "supervisor.log")).read()
    finally:
        c.stop()


def test_a_promotion_whose_old_primary_never_hands_over_serves_after_a_bounded_wait():
    """The primary is frozen (SIGSTOP: its replica's link stays up), and the
    topology promotes the replica by hand: it waits for a handover that
    cannot come, then serves."""
    c = LocalCluster(shards=1, replicas=1, supervise=False)
    pid = None
    try:
        wait_for("replicas synced", lambda: all_synced(c), timeout=30)
        primary, replica = c.ports
        redis.Redis(port=primary).set("before", "1")
        assert redis.Redis(port=primary).execute_command("WAIT", 1, 5000) == 1
        pid = int(open(os.path.join(c.dir, f"node-{primary}.pid")).read())
        os.kill(pid, signal.SIGSTOP)
        text = open(c.topology_path()).read()
        import yaml
        doc = yaml.safe_load(text)
        shard = doc["shards"][0]
        shard["primary"], shard["replicas"] = shard["replicas"][0], [shard["primary"]]
        doc["epoch"] += 1
        tmp = c.topology_path() + ".tmp"
        with open(tmp, "w") as f:
            yaml.safe_dump(doc, f)
        os.rename(tmp, c.topology_path())
        r = redis.Redis(port=replica, socket_timeout=5)
        start = time.time()
        # Until it serves, its slots' commands wait (then TRYAGAIN), never
        # answering from a copy that may miss the last writes.
        while True:
            try:
                assert r.set("after", "2")
                break
            except (redis.exceptions.TryAgainError, redis.exceptions.MovedError):
                assert time.time() - start < 10
                time.sleep(0.01)
        waited = time.time() - start
        assert r.get("before") == b"1"
        log = open(os.path.join(c.dir, f"node-{replica}.log")).read()
        assert "no handover came in time" in log, log[-2000:]
        print(f"\npromotion without a handover served after {round(waited * 1000)} ms")
    finally:
        if pid:
            os.kill(pid, signal.SIGCONT)
        c.stop()


def pids(c):
    return {p: int(open(os.path.join(c.dir, f"node-{p}.pid")).read()) for p in c.ports}


def test_rolling_restart_restarts_every_node_replicas_first_and_loses_no_write():
    c = LocalCluster(shards=3, replicas=1)
    try:
        wait_for("replicas synced", lambda: all_synced(c), timeout=30)
        before = pids(c)
        primaries = {slot_owner(c.ports[0], s) for s in (0, 8000, 16000)}
        w = Writer(c, "{a}")
        w.start()
        wait_for("writes", lambda: len(w.acked) >= 300, timeout=30)
        out = subprocess.run([node_binary(), "local-cluster", "--dir", c.dir, "--rolling-restart",
                              "--timeout", "60"], capture_output=True, text=True, timeout=300)
        w.stop.set()
        w.join(10)
        assert out.returncode == 0, out.stdout + out.stderr
        print("\n" + out.stdout)
        # Every node is a new process; every shard's primary changed by a
        # handover, none by a failover.
        after = pids(c)
        assert all(after[p] != before[p] for p in c.ports), (before, after)
        assert {slot_owner(c.ports[0], s) for s in (0, 8000, 16000)}.isdisjoint(primaries)
        log = open(os.path.join(c.dir, "supervisor.log")).read()
        assert log.count("(Leaving)") == 3, log
        assert "PrimaryDown" not in log, log
        # Replicas first within each shard, one shard at a time.
        steps = [l for l in out.stdout.splitlines() if "restarting" in l]
        assert len(steps) == 6, out.stdout
        for i in range(3):
            assert "a replica" in steps[2 * i] and "the primary" in steps[2 * i + 1], steps
            assert f"shard {steps[2 * i].split('shard ')[1][0]}" in steps[2 * i + 1], steps
        reports = [l for l in out.stdout.splitlines() if "writes acknowledged" in l]
        assert len(reports) == 3 and all(", 0 lost" in l for l in reports), reports
        assert all(int(l.split(" writes acknowledged")[0].rsplit(" ", 1)[1]) > 0 for l in reports)
        # The test's own writer, on its own connection: nothing lost either.
        wait_for("synced again", lambda: all_synced(c), timeout=30)
        missing = w.check_on(primary_of(c, w.slot))
        assert not missing, f"{len(missing)} of {len(w.acked)} writes lost"
    finally:
        c.stop()


def test_rolling_restart_needs_the_supervisor():
    c = LocalCluster(shards=1, replicas=1, supervise=False)
    try:
        out = subprocess.run([node_binary(), "local-cluster", "--dir", c.dir, "--rolling-restart"],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode != 0
        assert "needs the cluster's supervisor" in out.stderr, out.stderr
    finally:
        c.stop()
