"""Live slot migration: `shoal-node local-cluster --reshard` grows and shrinks a
running cluster while clients write, moving slots with their keys (every type,
with deadlines), and loses no acknowledged write; an interrupted resize
continues, a killed target starts its copy over, an aborted one leaves nothing
behind."""

import fcntl
import os
import random
import signal
import subprocess
import threading
import time

import redis
import yaml
from redis.cluster import RedisCluster

from conftest import FORWARD_OFFSET, LocalCluster, node_binary, wait_for

STRINGS = 20000


def reshard(c, shards, *extra, timeout=120):
    out = subprocess.run([node_binary(), "local-cluster", "--dir", c.dir, "--reshard", "--shards", str(shards),
                          *extra], capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def topology(c):
    with open(c.topology_path()) as f:
        return yaml.safe_load(f)


def primaries(c):
    return [s["primary"]["port"] for s in topology(c)["shards"]]


def replica_ports(c):
    return [r["port"] for s in topology(c)["shards"] for r in s.get("replicas", [])]


def total_keys(ports):
    return sum(redis.Redis(port=p).dbsize() for p in ports)


def load(rc):
    """Strings, and collections of every type, some with deadlines."""
    pipe = rc.pipeline(transaction=False)
    for i in range(STRINGS):
        pipe.set(f"s:{i}", f"v{i}")
    pipe.execute()
    for i in range(50):
        rc.rpush(f"l:{i}", *[f"e{j}" for j in range(i + 1)])
        rc.sadd(f"set:{i}", *[f"m{j}" for j in range(i + 1)])
        rc.zadd(f"z:{i}", {f"m{j}": j / 2 for j in range(i + 1)})
        rc.hset(f"h:{i}", mapping={f"f{j}": j for j in range(i + 1)})
        rc.set(f"ttl:{i}", "x", ex=1000)
    # A list long enough to be sent as pushes and pops, not whole.
    rc.rpush("biglist", *range(2000))
    return STRINGS + 5 * 50 + 1


def check_loaded(rc):
    values = rc.mget_nonatomic([f"s:{i}" for i in range(STRINGS)])
    missing = [i for i, v in enumerate(values) if v != f"v{i}".encode()]
    assert missing == [], f"{len(missing)} strings lost or wrong, e.g. {missing[:5]}"
    for i in range(50):
        assert rc.lrange(f"l:{i}", 0, -1) == [f"e{j}".encode() for j in range(i + 1)]
        assert rc.smembers(f"set:{i}") == {f"m{j}".encode() for j in range(i + 1)}
        assert rc.zrange(f"z:{i}", 0, -1, withscores=True) == [(f"m{j}".encode(), j / 2) for j in range(i + 1)]
        assert rc.hgetall(f"h:{i}") == {f"f{j}".encode(): str(j).encode() for j in range(i + 1)}
        assert 900 < rc.ttl(f"ttl:{i}") <= 1000
    assert rc.llen("biglist") >= 2000 and rc.lindex("biglist", 1999) == b"1999"


class Writer(threading.Thread):
    """Writes w:<n> through RedisCluster, and pushes onto `biglist`; a write
    counts as acknowledged once WAIT on its owner says a replica has it."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.rc = RedisCluster(host="127.0.0.1", port=port)
        self.acked, self.errors, self.pushed, self.attempted = [], [], 0, 0
        self.stop = threading.Event()

    def run(self):
        n = 0
        while not self.stop.is_set():
            key = f"w:{n}"
            try:
                self.rc.set(key, n)
                node = self.rc.get_node_from_key(key)
                if self.rc.execute_command("WAIT", 1, 2000, target_nodes=node) >= 1:
                    self.acked.append(n)
                if n % 10 == 0:
                    self.rc.rpush("biglist", f"w{n}")
                    self.pushed += 1
            except Exception as e:  # noqa: BLE001 - every failure is reported
                self.errors.append(repr(e))
            n += 1
            self.attempted = n

    def finish(self):
        self.stop.set()
        self.join(30)
        return self

    def check(self, rc):
        values = rc.mget_nonatomic([f"w:{n}" for n in self.acked])
        lost = [n for n, v in zip(self.acked, values) if v != str(n).encode()]
        assert lost == [], f"{len(lost)} acknowledged writes lost, e.g. {lost[:5]}"
        assert rc.llen("biglist") == 2000 + self.pushed


class Reader(threading.Thread):
    """A plain client on one node's forwarding port, reading preloaded keys."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.r = redis.Redis(port=port + FORWARD_OFFSET)
        self.reads, self.wrong, self.errors = 0, [], []
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            i = random.randrange(STRINGS)
            try:
                v = self.r.get(f"s:{i}")
                if v != f"v{i}".encode():
                    self.wrong.append((i, v))
                self.reads += 1
            except Exception as e:  # noqa: BLE001
                self.errors.append(repr(e))

    def finish(self):
        self.stop.set()
        self.join(30)
        return self


def test_three_to_four_to_three_shards_under_load_loses_nothing():
    c = LocalCluster(shards=3, replicas=1, spare=2)
    try:
        rc = RedisCluster(host="127.0.0.1", port=c.base)
        expected = load(rc)
        writer, reader = Writer(c.base), Reader(c.base)
        writer.start()
        reader.start()
        time.sleep(0.5)
        out = reshard(c, 4)
        assert "resharded to 4 shards: 4096 slots moved" in out, out
        time.sleep(0.5)
        out = reshard(c, 3)
        assert "resharded to 3 shards: 4096 slots moved" in out, out
        time.sleep(0.5)
        writer.finish()
        reader.finish()
        assert writer.errors == [] and reader.errors == [], (writer.errors[:5], reader.errors[:5])
        assert reader.wrong == [] and reader.reads > 100
        assert len(writer.acked) > 100
        check_loaded(rc)
        writer.check(rc)
        t = topology(c)
        assert len(t["shards"]) == 3 and all(not s.get("migrating") and not s.get("importing") for s in t["shards"])
        # Exactly one copy of every key: the sources deleted theirs, and the
        # replicas hold what their primaries hold.
        wait_for("every copy but the owner's is deleted",
                 lambda: total_keys(primaries(c)) == expected + writer.attempted, timeout=20)
        wait_for("replicas match their primaries",
                 lambda: total_keys(replica_ports(c)) == total_keys(primaries(c)), timeout=20)
        rc.close()
    finally:
        c.stop()


def start_copy(c, shards, least=0):
    """Runs a resize's first two steps (new shards, copying) and waits until
    the first new shard's primary holds more than `least` keys; returns the
    topology then."""
    reshard(c, shards, "--max-steps", "2")
    t = topology(c)
    target = t["shards"][len(t["shards"]) - 1]["primary"]["port"]
    wait_for("the target copies", lambda: redis.Redis(port=target).dbsize() > least)
    return t


def kill(c, port):
    os.kill(int(open(os.path.join(c.dir, f"node-{port}.pid")).read()), signal.SIGKILL)


def test_a_resize_interrupted_at_every_step_continues_and_a_killed_target_starts_over():
    c = LocalCluster(shards=3, replicas=1, spare=2)
    try:
        rc = RedisCluster(host="127.0.0.1", port=c.base)
        expected = load(rc)
        # Step 1 (new shard) and step 2 (copying), then the coordinator stops.
        t = start_copy(c, 4)
        assert len(t["shards"]) == 4 and sum(len(s.get("migrating", [])) for s in t["shards"]) == 3
        target = t["shards"][3]["primary"]["port"]
        # The sources still serve everything meanwhile, and take writes.
        check_loaded(rc)
        rc.set("during-copy", "1")
        # The target's primary dies: its replica is promoted and copies again.
        kill(c, target)
        wait_for("the replica replaces the target",
                 lambda: topology(c)["shards"][3]["primary"]["port"] != target, timeout=20)
        # One step per run of the coordinator from here on.
        steps = 0
        while "stopped after" in reshard(c, 4, "--max-steps", "1"):
            steps += 1
            check_loaded(rc)
            assert steps < 10
        assert steps == 2, "cutover, then the end of the import"
        check_loaded(rc)
        assert rc.get("during-copy") == b"1"
        wait_for("one copy of every key", lambda: total_keys(primaries(c)) == expected + 1, timeout=20)
        rc.close()
    finally:
        c.stop()


def test_a_source_killed_during_the_copy_is_replaced_and_the_resize_completes():
    c = LocalCluster(shards=3, replicas=1, spare=2)
    try:
        rc = RedisCluster(host="127.0.0.1", port=c.base)
        expected = load(rc)
        t = start_copy(c, 4)
        source = t["shards"][0]["primary"]["port"]
        wait_for("the source's replica is in sync", lambda: redis.Redis(port=t["shards"][0]["replicas"][0]["port"])
                 .dbsize() == redis.Redis(port=source).dbsize())
        kill(c, source)
        wait_for("the source's replica takes over",
                 lambda: topology(c)["shards"][0]["primary"]["port"] != source, timeout=20)
        assert "resharded to 4 shards" in reshard(c, 4)
        check_loaded(rc)
        wait_for("one copy of every key", lambda: total_keys(primaries(c)) == expected, timeout=20)
        rc.close()
    finally:
        c.stop()


def test_a_client_blocked_on_a_moved_slot_is_redirected_and_served_at_the_new_owner():
    c = LocalCluster(shards=3, replicas=0, spare=1)
    try:
        rc = RedisCluster(host="127.0.0.1", port=c.base)
        # 3 -> 4 moves slots 4096-5461 off shard 0: a queue there.
        queue = next(f"q{i}" for i in range(100000) if 4096 <= rc.keyslot(f"q{i}") <= 5461)
        raw = redis.Redis(port=c.base)
        got = []
        worker = threading.Thread(target=lambda: got.append(
            RedisCluster(host="127.0.0.1", port=c.base).blpop([queue], 30)), daemon=True)
        worker.start()
        wait_for("the worker blocks", lambda: raw.info("clients")["blocked_clients"] == 1)
        reshard(c, 4)
        # Redis Cluster's answer to a client blocked on a slot that moved:
        # MOVED, which RedisCluster follows, to block again at the new owner.
        wait_for("the worker left the old owner", lambda: raw.info("clients")["blocked_clients"] == 0)
        owner = topology(c)["shards"][3]["primary"]["port"]
        wait_for("the worker blocks at the new owner",
                 lambda: redis.Redis(port=owner).info("clients")["blocked_clients"] == 1)
        rc.rpush(queue, "job")
        worker.join(10)
        assert got == [(queue.encode(), b"job")]
        rc.close()
    finally:
        c.stop()


def write_locked(c, doc):
    """Publishes a topology the way the supervisor and --reshard do."""
    with open(os.path.join(c.dir, "topology.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        tmp = c.topology_path() + ".tmp"
        with open(tmp, "w") as f:
            yaml.safe_dump(doc, f)
        os.rename(tmp, c.topology_path())


def test_an_aborted_resize_deletes_the_copy_and_moves_nothing():
    c = LocalCluster(shards=2, replicas=0, spare=1)
    try:
        rc = RedisCluster(host="127.0.0.1", port=c.base)
        expected = load(rc)
        t = start_copy(c, 3, least=1000)
        target = t["shards"][2]["primary"]["port"]
        for s in t["shards"]:
            s.pop("migrating", None)
        t["epoch"] += 1
        write_locked(c, t)
        wait_for("the copy is deleted", lambda: redis.Redis(port=target).dbsize() == 0)
        check_loaded(rc)
        assert total_keys(primaries(c)) == expected
        # A new resize from there completes.
        assert "resharded to 3 shards" in reshard(c, 3)
        check_loaded(rc)
        wait_for("one copy of every key", lambda: total_keys(primaries(c)) == expected, timeout=20)
        assert redis.Redis(port=target).dbsize() > 1000
        rc.close()
    finally:
        c.stop()


def test_a_flushall_on_the_source_restarts_the_copy():
    c = LocalCluster(shards=2, replicas=0, spare=1)
    try:
        rc = RedisCluster(host="127.0.0.1", port=c.base)
        load(rc)
        target = start_copy(c, 3, least=1000)["shards"][2]["primary"]["port"]
        for p in primaries(c)[:2]:
            redis.Redis(port=p).flushall()
        wait_for("the copy follows the flush", lambda: redis.Redis(port=target).dbsize() == 0)
        rc.set("after-flush", "x")
        assert "resharded to 3 shards" in reshard(c, 3)
        assert rc.get("after-flush") == b"x"
        assert total_keys(primaries(c)) == 1
        rc.close()
    finally:
        c.stop()
