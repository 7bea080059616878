"""Replication and failover end to end: local clusters with replicas
(`shoal-node local-cluster --replicas N`, whose supervisor decides failovers),
real processes, kill -9 under write load, WAIT-acknowledged writes checked after
every failover, the killed primary rejoining as a replica, CLUSTER FAILOVER, and
a primary that restarts empty before anyone notices."""

import os
import subprocess
import threading
import time
import urllib.request

import pytest
import redis
from redis.cluster import LoadBalancingStrategy, RedisCluster

from conftest import ADMIN_OFFSET, FORWARD_OFFSET, LocalCluster, RawClient, wait_for


def info(port):
    """INFO replication, every value as text."""
    r = redis.Redis(port=port, socket_timeout=2)
    try:
        return {k: str(v) for k, v in r.info("replication").items()}
    finally:
        r.close()


def info_or_none(port):
    try:
        return info(port)
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
        return None


def slot_owner(port, slot):
    """The client port of the primary serving `slot`, as node `port` sees it."""
    for s in redis.Redis(port=port, socket_timeout=2).execute_command("CLUSTER", "SLOTS"):
        if s[0] <= slot <= s[1]:
            return s[2][1]
    return None


def shard_roles(c):
    """{client port: (role, offset)} for every reachable node."""
    out = {}
    for p in c.ports:
        i = info_or_none(p)
        if i:
            out[p] = (i["role"], int(i["master_repl_offset"]))
    return out


def all_synced(c):
    for p in c.ports:
        i = info_or_none(p)
        if not i or i.get("shoal_synced") != "1":
            return False
        if i["role"] == "slave" and i.get("master_link_status") != "up":
            return False
    return True


@pytest.fixture(scope="module")
def cluster():
    c = LocalCluster(shards=2, replicas=1)
    wait_for("replicas synced", lambda: all_synced(c), timeout=30)
    yield c
    c.stop()


def test_replicas_hold_a_copy_and_serve_readonly_reads(cluster):
    rc = RedisCluster(host="127.0.0.1", port=cluster.ports[0])
    for i in range(2000):
        rc.set(f"copy:{i}", i)
    primaries = cluster.ports[:2]
    replicas = cluster.ports[2:]
    for p, r in zip(primaries, replicas):
        assert redis.Redis(port=p).execute_command("WAIT", 1, 5000) == 1
        wait_for("replica offset", lambda: info(r)["master_repl_offset"] == info(p)["master_repl_offset"])
        assert redis.Redis(port=r).dbsize() == redis.Redis(port=p).dbsize() > 500
        assert info(p)["connected_slaves"] == "1"
        assert info(r)["master_port"] == str(p)
    # A replica redirects plain reads, and answers them after READONLY.
    key = next(f"copy:{i}" for i in range(2000) if rc.get_node_from_key(f"copy:{i}").port == primaries[0])
    raw = RawClient(replicas[0])
    assert raw.call("GET", key).startswith(b"-MOVED ")
    assert raw.call("READONLY") == b"+OK\r\n"
    value = rc.get(key)
    assert raw.call("GET", key) == b"$%d\r\n%s\r\n" % (len(value), value)
    assert raw.call("SET", key, "x").startswith(b"-MOVED ")
    raw.close()
    # redis-py reading from replicas gets the same answers.
    rr = RedisCluster(host="127.0.0.1", port=cluster.ports[0],
                      load_balancing_strategy=LoadBalancingStrategy.ROUND_ROBIN_REPLICAS)
    assert [rr.get(f"copy:{i}") for i in range(200)] == [str(i).encode() for i in range(200)]
    rr.close()
    rc.close()
    metrics = urllib.request.urlopen(f"http://127.0.0.1:{primaries[0] + ADMIN_OFFSET}/metrics", timeout=5).read().decode()
    assert "shoal_repl_connected_replicas 1" in metrics
    assert "shoal_repl_primary 1" in metrics
    assert 'shoal_repl_replica_lag_bytes{replica="node-%d"}' % replicas[0] in metrics


class Writer(threading.Thread):
    """Writes keys of one slot (a hash tag) to whoever is its primary, each
    followed by WAIT 1; remembers which writes WAIT acknowledged and when the
    first write after `mark()` succeeded."""

    def __init__(self, cluster, tag):
        super().__init__(daemon=True)
        self.c, self.tag = cluster, tag
        self.slot = redis.Redis(port=cluster.ports[0]).execute_command("CLUSTER", "KEYSLOT", tag)
        self.acked = {}
        self.stop = threading.Event()
        self.marked = None
        self.victim = None
        self.recovered = None
        self.errors = 0

    def mark(self, victim):
        """From now on, count the first write that succeeds elsewhere than `victim`."""
        self.victim = victim
        self.marked = time.time()

    def owner(self):
        for p in self.c.ports:
            try:
                o = slot_owner(p, self.slot)
                if o and info(o)["role"] == "master":
                    return o
            except (redis.exceptions.RedisError, OSError):
                continue
        return None

    def run(self):
        i, conn, port = 0, None, None
        while not self.stop.is_set():
            try:
                if conn is None:
                    port = self.owner()
                    if port is None:
                        time.sleep(0.05)
                        continue
                    conn = redis.Redis(port=port, socket_timeout=3)
                key = f"{self.tag}:{i}"
                conn.set(key, i)
                # The collection types too, in one MULTI block.
                t = self.tag
                p = conn.pipeline(transaction=True)
                p.rpush(f"{t}:list", i).sadd(f"{t}:set", i).zadd(f"{t}:zset", {f"m{i}": i})
                p.hset(f"{t}:hash", f"f{i}", i)
                p.execute()
                if self.marked and not self.recovered and port != self.victim:
                    self.recovered = time.time()
                if conn.execute_command("WAIT", 1, 1000) >= 1:
                    self.acked[key] = str(i).encode()
                i += 1
            except (redis.exceptions.RedisError, OSError):
                self.errors += 1
                conn = None
                time.sleep(0.02)


def test_kill_9_of_each_primary_fails_over_keeps_acknowledged_writes_and_the_old_primary_rejoins():
    c = LocalCluster(shards=2, replicas=1)
    try:
        wait_for("replicas synced", lambda: all_synced(c), timeout=30)
        times = []
        for shard, tag in ((0, "{a}"), (1, "{b}")):
            w = Writer(c, tag)
            w.start()
            wait_for("writes acknowledged", lambda: len(w.acked) >= 200, timeout=30)
            victim = w.owner()
            pid = int(open(os.path.join(c.dir, f"node-{victim}.pid")).read())
            os.kill(pid, 9)
            w.mark(victim)
            wait_for("a write after the kill", lambda: w.recovered is not None, timeout=30)
            times.append(w.recovered - w.marked)
            wait_for("more acknowledged writes", lambda: len(w.acked) >= 400, timeout=30)
            w.stop.set()
            w.join(10)
            new = w.owner()
            assert new != victim
            # Every acknowledged write survived, with its value.
            r = redis.Redis(port=new)
            keys = list(w.acked)
            got = r.mget(keys)
            missing = [k for k, v in zip(keys, got) if v != w.acked[k]]
            assert not missing, f"{len(missing)} acknowledged writes lost, e.g. {missing[:5]}"
            # And each acknowledged transaction's list, set, sorted-set and hash writes.
            done = [int(v) for v in w.acked.values()]
            listed = {int(x) for x in r.lrange(f"{tag}:list", 0, -1)}
            members = {int(x) for x in r.smembers(f"{tag}:set")}
            scores = {m.decode(): s for m, s in r.zrange(f"{tag}:zset", 0, -1, withscores=True)}
            fields = r.hgetall(f"{tag}:hash")
            lost = [i for i in done if i not in listed or i not in members
                    or scores.get(f"m{i}") != float(i) or fields.get(f"f{i}".encode()) != str(i).encode()]
            assert not lost, f"{len(lost)} acknowledged transactions lost, e.g. {lost[:5]}"
            # The killed node is restarted by the supervisor and catches up as a
            # replica of the new primary.
            def rejoined():
                i = info_or_none(victim)
                return (i is not None and i["role"] == "slave" and i.get("master_link_status") == "up"
                        and i["master_port"] == str(new)
                        and i["master_repl_offset"] == info(new)["master_repl_offset"])
            wait_for("old primary rejoined", rejoined, timeout=30)
            assert redis.Redis(port=victim).dbsize() == r.dbsize()
        print(f"\ntime from kill -9 to the first successful write: {[round(t, 2) for t in times]} s")
        log = open(os.path.join(c.dir, "supervisor.log")).read()
        assert log.count("PrimaryDown") == 2, log
    finally:
        c.stop()


def test_cluster_failover_swaps_roles_without_losing_writes(cluster):
    primary, replica = cluster.ports[1], cluster.ports[3]
    wait_for("pair", lambda: info(replica).get("master_port") == str(primary) and all_synced(cluster), timeout=30)
    r = redis.Redis(port=primary)
    rc = RedisCluster(host="127.0.0.1", port=cluster.ports[0])
    tag_slot_keys = [k for k in (f"fo:{i}" for i in range(3000)) if rc.get_node_from_key(k).port == primary][:300]
    rc.close()
    for k in tag_slot_keys:
        r.set(k, k)
    before = r.dbsize()
    with pytest.raises(redis.exceptions.ResponseError, match="send CLUSTER FAILOVER to a replica"):
        r.execute_command("CLUSTER", "FAILOVER")
    assert redis.Redis(port=replica).execute_command("CLUSTER", "FAILOVER") == b"OK"
    wait_for("promotion", lambda: info(replica)["role"] == "master", timeout=15)
    wait_for("demotion", lambda: info(primary)["role"] == "slave" and info(primary).get("master_link_status") == "up",
             timeout=15)
    n = redis.Redis(port=replica)
    assert n.dbsize() == before
    assert [n.get(k) for k in tag_slot_keys] == [k.encode() for k in tag_slot_keys]
    # The old primary continued from the backlog: no second full sync.
    assert int(info(primary)["master_repl_offset"]) > 0
    rc = RedisCluster(host="127.0.0.1", port=cluster.ports[0])
    assert rc.get(tag_slot_keys[0]) == tag_slot_keys[0].encode()
    rc.set(tag_slot_keys[0], "after")
    assert redis.Redis(port=replica).get(tag_slot_keys[0]) == b"after"
    rc.close()
    # A plain client through any forwarding port follows the new owner.
    assert redis.Redis(port=cluster.ports[0] + FORWARD_OFFSET).get(tag_slot_keys[0]) == b"after"


def test_a_primary_restarted_empty_is_not_followed_and_is_replaced():
    # A failover on lost contact would take a minute here: only the empty
    # restart can trigger it.
    c = LocalCluster(shards=1, replicas=1, down_after_ms=60000)
    try:
        wait_for("replicas synced", lambda: all_synced(c), timeout=30)
        primary, replica = c.ports
        r = redis.Redis(port=primary)
        for i in range(500):
            r.set(f"keep:{i}", i)
        assert r.execute_command("WAIT", 1, 5000) == 1
        pid_path = os.path.join(c.dir, f"node-{primary}.pid")
        pid = int(open(pid_path).read())
        cmdline = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")[:-1]
        os.kill(pid, 9)
        wait_for("primary gone", lambda: info_or_none(primary) is None)
        # Restarted at once, empty, under the same name (as a container restart).
        log = open(os.path.join(c.dir, f"node-{primary}.log"), "ab")
        proc = subprocess.Popen(cmdline, stdout=log, stderr=log, start_new_session=True)
        with open(pid_path, "w") as f:
            f.write(f"{proc.pid}\n")
        # Until the replica is promoted and the emptied node redirects, that
        # node never answers a key with "nothing": it holds keys back.
        # (A raw client: redis-py retries LOADING as a connection error.)
        seen = set()
        deadline = time.time() + 20
        while time.time() < deadline and "MOVED" not in seen:
            try:
                c0 = RawClient(primary, timeout=2)
                reply = c0.call("GET", "keep:0")
                c0.close()
                seen.add(reply.split(b" ")[0].lstrip(b"-").decode() if reply.startswith(b"-") else reply.decode())
            except OSError:
                seen.add("down")
            time.sleep(0.01)
        assert "$-1\r\n" not in seen, seen
        assert {"LOADING", "MOVED"} <= seen, seen
        # The replica keeps its copy, and the supervisor promotes it.
        wait_for("replica promoted", lambda: (info_or_none(replica) or {}).get("role") == "master", timeout=20)
        assert redis.Redis(port=replica).dbsize() == 500
        assert redis.Redis(port=replica).get("keep:499") == b"499"
        # The emptied node follows the promoted replica and gets the data back.
        wait_for("emptied node resynced", lambda: (info_or_none(primary) or {}).get("master_link_status") == "up",
                 timeout=20)
        wait_for("data back", lambda: redis.Redis(port=primary).dbsize() == 500, timeout=20)
        sup = open(os.path.join(c.dir, "supervisor.log")).read()
        assert "PrimaryLostData" in sup, sup
    finally:
        c.stop()
