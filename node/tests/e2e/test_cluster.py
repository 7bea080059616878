"""Clustering end to end: a local 3-shard cluster of shoal-node processes
(`shoal-node local-cluster`) driven by redis-py's RedisCluster, redis-cli -c and a
plain client on the forwarding port; reply shapes and slot hashing compared with
a real 3-primary redis-server cluster; topology file changes (newer epochs, older
epochs, migrating slots)."""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

import pytest
import redis
from redis.cluster import RedisCluster

from conftest import (ADMIN_OFFSET, FORWARD_OFFSET, LocalCluster, Proc, RawClient, encode, free_port,
                      node_binary, pick_base, wait_for)


@pytest.fixture(scope="module")
def cluster():
    c = LocalCluster()
    yield c
    c.stop()


def owner_port(cluster, key):
    slot = redis.Redis(port=cluster.ports[0]).execute_command("CLUSTER", "KEYSLOT", key)
    for start, end, node in [(s[0], s[1], s[2]) for s in redis.Redis(port=cluster.ports[0]).execute_command("CLUSTER", "SLOTS")]:
        if start <= slot <= end:
            return node[1]
    raise AssertionError(f"slot {slot} not served")


# --- the local-cluster command -------------------------------------------------


def test_local_cluster_writes_pid_files_and_serves_every_slot(cluster):
    pids = sorted(f for f in os.listdir(cluster.dir) if f.endswith(".pid"))
    assert pids == [f"node-{p}.pid" for p in cluster.ports] + ["supervisor.pid"]
    assert os.path.exists(cluster.topology_path())
    for port in cluster.ports:
        info = redis.Redis(port=port).execute_command("CLUSTER", "INFO").decode()
        assert "cluster_state:ok" in info
        assert "cluster_slots_assigned:16384" in info
        assert "cluster_known_nodes:3" in info
    with urllib.request.urlopen(f"http://127.0.0.1:{cluster.base + ADMIN_OFFSET}/readyz", timeout=5) as r:
        assert r.status == 200
    assert f"127.0.0.1:{cluster.base}" in cluster.started


def test_a_second_start_in_the_same_dir_is_refused(cluster):
    out = subprocess.run([node_binary(), "local-cluster", "--dir", cluster.dir, "--base-port", str(cluster.base)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "already running" in out.stderr


def test_stop_stops_every_node():
    c = LocalCluster(shards=2)
    pids = [int(open(os.path.join(c.dir, f)).read()) for f in os.listdir(c.dir) if f.endswith(".pid")]
    assert len(pids) == 3  # two nodes and the supervisor
    out = c.stop()
    assert out.returncode == 0 and "stopped 2 nodes" in out.stdout, out.stdout + out.stderr
    for pid in pids:
        assert not os.path.exists(f"/proc/{pid}") or b"shoal-node" not in open(f"/proc/{pid}/cmdline", "rb").read()


# --- cluster-aware clients -----------------------------------------------------


def test_redis_py_cluster_client_writes_and_reads_10000_keys(cluster):
    rc = RedisCluster(host="127.0.0.1", port=cluster.ports[0])
    assert len(rc.get_nodes()) == 3
    for i in range(10_000):
        rc.set(f"key:{i}", i)
    for i in range(10_000):
        assert rc.get(f"key:{i}") == str(i).encode()
    # Every node holds a share: the keys really are sharded.
    sizes = [redis.Redis(port=p).dbsize() for p in cluster.ports]
    assert all(s > 2000 for s in sizes), sizes
    # Pipelines split by slot and reassemble in order.
    pipe = rc.pipeline()
    for i in range(500):
        pipe.incr(f"counter:{i}")
        pipe.get(f"key:{i}")
    out = pipe.execute()
    assert out[0::2] == [1] * 500
    assert out[1::2] == [str(i).encode() for i in range(500)]
    # Hash tags keep multi-key commands on one slot.
    rc.mset({"{user:7}:name": "ada", "{user:7}:lang": "rust"})
    assert rc.mget("{user:7}:name", "{user:7}:lang") == [b"ada", b"rust"]
    assert rc.execute_command("DEL", "{user:7}:name", "{user:7}:lang") == 2
    rc.close()


def test_redis_cli_follows_redirections(cluster):
    cli = shutil.which("redis-cli")
    for key, value in [("alpha", "1"), ("beta", "2"), ("gamma", "3"), ("foo", "bar")]:
        out = subprocess.run([cli, "-c", "-p", str(cluster.ports[0]), "SET", key, value],
                             capture_output=True, text=True, timeout=10)
        assert out.stdout.strip() == "OK", out
        for port in cluster.ports:
            got = subprocess.run([cli, "-c", "-p", str(port), "GET", key], capture_output=True, text=True, timeout=10)
            assert got.stdout.strip() == value
    # Without -c, the owner's address comes back.
    slot = redis.Redis(port=cluster.ports[0]).execute_command("CLUSTER", "KEYSLOT", "foo")
    owner = owner_port(cluster, "foo")
    other = next(p for p in cluster.ports if p != owner)
    raw = RawClient(other)
    assert raw.call("GET", "foo") == b"-MOVED %d 127.0.0.1:%d\r\n" % (slot, owner)
    raw.close()


def test_collections_and_transactions_through_every_kind_of_client(cluster):
    rc = RedisCluster(host="127.0.0.1", port=cluster.ports[0], decode_responses=True)
    for i in range(300):
        rc.rpush(f"q:{i}", "a", "b")
        rc.sadd(f"s:{i}", i, "x")
        rc.zadd(f"z:{i}", {"m": i})
    for i in range(0, 300, 7):
        assert rc.lrange(f"q:{i}", 0, -1) == ["a", "b"]
        assert rc.smembers(f"s:{i}") == {str(i), "x"}
        assert rc.zscore(f"z:{i}", "m") == float(i)
    # Multi-key commands and transactions on one hash tag.
    rc.rpush("{job}:todo", "j1", "j2")
    assert rc.lmove("{job}:todo", "{job}:doing", "LEFT", "RIGHT") == "j1"
    rc.sadd("{t}:a", 1, 2, 3)
    rc.sadd("{t}:b", 2, 3, 4)
    assert rc.sinterstore("{t}:both", ["{t}:a", "{t}:b"]) == 2
    assert rc.zunionstore("{t}:zu", {"{t}:za": 1}) == 0
    with rc.pipeline(transaction=True) as p:
        p.incr("{tx}:n").rpush("{tx}:log", "one").sadd("{tx}:seen", "one")
        assert p.execute() == [1, 1, 1]
    rc.close()
    cli = shutil.which("redis-cli")
    out = subprocess.run([cli, "-c", "-p", str(cluster.ports[1]), "ZRANGE", "z:42", "0", "-1", "WITHSCORES"],
                         capture_output=True, text=True, timeout=10)
    assert out.stdout.split() == ["m", "42"], out
    # The forwarding port: any node answers every key, and a MULTI block for
    # another node's slot runs there as one transaction.
    for port in cluster.ports:
        plain = redis.Redis(port=port + FORWARD_OFFSET, decode_responses=True)
        assert plain.lrange("q:10", 0, -1) == ["a", "b"]
        assert plain.scard("s:11") == 2
        with plain.pipeline() as p:
            p.rpush("{fw}:l", port).llen("{fw}:l").zadd("{fw}:z", {str(port): port})
            n = p.execute()
        assert n[0] == n[1]
        plain.close()
    owner = owner_port(cluster, "{fw}:l")
    r = redis.Redis(port=owner, decode_responses=True)
    assert sorted(int(x) for x in r.lrange("{fw}:l", 0, -1)) == sorted(cluster.ports)
    assert r.zcard("{fw}:z") == len(cluster.ports)
    r.close()


def test_crossslot_is_refused_like_redis(cluster):
    raw = RawClient(cluster.ports[0])
    assert raw.call("MSET", "a", "1", "b", "2") == b"-CROSSSLOT Keys in request don't hash to the same slot\r\n"
    raw.close()


# --- plain clients: forwarding ---------------------------------------------------


def test_a_plain_client_gets_every_key_through_any_node(cluster):
    writer = redis.Redis(port=cluster.ports[0] + FORWARD_OFFSET)
    pipe = writer.pipeline(transaction=False)
    for i in range(10_000):
        pipe.set(f"plain:{i}", i)
    assert all(pipe.execute())
    for port in cluster.ports:
        reader = redis.Redis(port=port + FORWARD_OFFSET)
        pipe = reader.pipeline(transaction=False)
        for i in range(0, 10_000, 7):
            pipe.get(f"plain:{i}")
        assert pipe.execute() == [str(i).encode() for i in range(0, 10_000, 7)]
        # One at a time too, mixing local and forwarded keys.
        for i in range(50):
            assert reader.get(f"plain:{i}") == str(i).encode()
    # The same keys through a cluster-aware client: they landed on their owners.
    rc = RedisCluster(host="127.0.0.1", port=cluster.ports[1])
    assert rc.get("plain:4242") == b"4242"
    rc.close()


def test_forwarding_keeps_reply_order_and_resp3(cluster):
    raw = RawClient(cluster.ports[0] + FORWARD_OFFSET)
    keys = [f"order:{i}" for i in range(60)]
    raw.send_raw(b"".join(encode("SET", k, k) for k in keys))
    assert [raw.read_reply() for _ in keys] == [b"+OK\r\n"] * len(keys)
    raw.send_raw(b"".join(encode("GET", k) for k in keys))
    assert [raw.read_reply() for _ in keys] == [b"$%d\r\n%s\r\n" % (len(k), k.encode()) for k in keys]
    raw.close()
    r3 = redis.Redis(port=cluster.ports[1] + FORWARD_OFFSET, protocol=3)
    for i in range(20):
        r3.hset(f"h3:{i}", mapping={"f": i})
        assert r3.hgetall(f"h3:{i}") == {b"f": str(i).encode()}
    raw3 = RawClient(cluster.ports[2] + FORWARD_OFFSET)
    raw3.call("HELLO", "3")
    replies = {raw3.call("HGETALL", f"h3:{i}") for i in range(20)}
    assert all(r.startswith(b"%1\r\n") for r in replies), replies
    raw3.close()


def test_asking_for_the_slot_map_switches_a_connection_to_redirects(cluster):
    owner = owner_port(cluster, "foo")
    other = next(p for p in cluster.ports if p != owner)
    raw = RawClient(other + FORWARD_OFFSET)
    raw.call("SET", "foo", "x")
    assert raw.call("GET", "foo") == b"$1\r\nx\r\n"
    raw.call("CLUSTER", "SLOTS")
    assert raw.call("GET", "foo").startswith(b"-MOVED ")
    # RESET returns the connection to what its port gives.
    assert raw.call("RESET") == b"+RESET\r\n"
    assert raw.call("GET", "foo") == b"$1\r\nx\r\n"
    raw.close()


def test_forwarding_metrics(cluster):
    port = cluster.ports[0]
    before = forwarded(port)
    r = redis.Redis(port=port + FORWARD_OFFSET)
    for i in range(100):
        r.get(f"metric:{i}")
    after = forwarded(port)
    assert 40 < after - before <= 100
    text = urllib.request.urlopen(f"http://127.0.0.1:{port + ADMIN_OFFSET}/metrics", timeout=5).read().decode()
    assert "shoal_cluster_topology_epoch 1" in text
    assert f'shoal_cluster_slot_range_slots{{primary="node-{port}",range="0-5461",shard="0"}} 5462' in text
    assert "shoal_cluster_owned_slots 5462" in text
    assert 'shoal_cluster_redirects_total{type="moved"}' in text


def forwarded(port):
    text = urllib.request.urlopen(f"http://127.0.0.1:{port + ADMIN_OFFSET}/metrics", timeout=5).read().decode()
    for line in text.splitlines():
        if line.startswith("shoal_cluster_forwarded_commands_total "):
            return int(line.split()[1])
    raise AssertionError("no forwarded counter")


# --- topology changes through the file -----------------------------------------


def epoch_of(port):
    info = redis.Redis(port=port).execute_command("CLUSTER", "INFO")
    info = info.decode() if isinstance(info, bytes) else info
    return int(info.split("cluster_current_epoch:")[1].split("\r\n")[0])


def wait_epoch(ports, epoch):
    wait_for(f"epoch {epoch} on {ports}", lambda: all(epoch_of(p) == epoch for p in ports))


def write_topology(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


def two_shard_topology(base, epoch, migrating=""):
    return f"""epoch: {epoch}
shards:
- slots: ["0-8191"]
  primary: {{name: node-{base}, host: 127.0.0.1, port: {base}}}
{migrating}- slots: ["8192-16383"]
  primary: {{name: node-{base + 1}, host: 127.0.0.1, port: {base + 1}}}
"""


def test_newer_epochs_apply_older_ones_do_not_and_a_slot_moves_with_its_keys():
    c = LocalCluster(shards=2, supervise=False)
    try:
        a, b = c.ports
        r = redis.Redis(port=a)
        assert r.execute_command("CLUSTER", "KEYSLOT", "foo") == 12182
        # Epoch 5 moves slots 12000-12999 (foo's among them) to shard 0.
        text = f"""epoch: 5
shards:
- slots: ["0-8191", "12000-12999"]
  primary: {{name: node-{a}, host: 127.0.0.1, port: {a}}}
- slots: ["8192-11999", "13000-16383"]
  primary: {{name: node-{b}, host: 127.0.0.1, port: {b}}}
"""
        write_topology(c.topology_path(), text)
        wait_epoch(c.ports, 5)
        raw_b = RawClient(b)
        assert raw_b.call("GET", "foo") == b"-MOVED 12182 127.0.0.1:%d\r\n" % a
        # An older epoch is ignored: ownership stays.
        write_topology(c.topology_path(), two_shard_topology(a, 4))
        time.sleep(1.0)
        assert epoch_of(a) == epoch_of(b) == 5
        assert raw_b.call("GET", "foo") == b"-MOVED 12182 127.0.0.1:%d\r\n" % a
        # Epoch 6 starts moving 12000-12999 back to shard 1. The source keeps
        # serving the whole slot (no ASK: the target copies the slot and follows
        # its writes), and the target refuses it, even after ASKING.
        text6 = text.replace("epoch: 5", "epoch: 6").replace(
            f"  primary: {{name: node-{a}, host: 127.0.0.1, port: {a}}}\n",
            f"  primary: {{name: node-{a}, host: 127.0.0.1, port: {a}}}\n  migrating: [{{slots: 12000-12999, to: 1}}]\n", 1)
        raw_a = RawClient(a)
        assert raw_a.call("SET", "foo", "before") == b"+OK\r\n"
        assert raw_a.call("RPUSH", "{foo}list", "x", "y") == b":2\r\n"
        write_topology(c.topology_path(), text6)
        wait_epoch(c.ports, 6)
        raw_b = RawClient(b)
        wait_for("the copy follows the source",
                 lambda: redis.Redis(port=b).execute_command("CLUSTER", "COUNTKEYSINSLOT", 12182) == 2)
        assert raw_a.call("SET", "foo", "during") == b"+OK\r\n"
        assert raw_a.call("MGET", "foo", "{foo}list") == b"*2\r\n$6\r\nduring\r\n$-1\r\n"
        assert raw_b.call("GET", "foo") == b"-MOVED 12182 127.0.0.1:%d\r\n" % a
        assert raw_b.call("ASKING") == b"+OK\r\n"
        assert raw_b.call("GET", "foo") == b"-MOVED 12182 127.0.0.1:%d\r\n" % a
        assert redis.Redis(port=b + FORWARD_OFFSET).get("foo") == b"during"
        # Epoch 7 is the cutover: the slots belong to shard 1, which imports
        # them from shard 0. Clients see one MOVED, and the value written last.
        text7 = f"""epoch: 7
shards:
- slots: ["0-8191"]
  primary: {{name: node-{a}, host: 127.0.0.1, port: {a}}}
- slots: ["8192-16383"]
  primary: {{name: node-{b}, host: 127.0.0.1, port: {b}}}
  importing: [{{slots: 12000-12999, from: 0}}]
"""
        write_topology(c.topology_path(), text7)
        wait_epoch(c.ports, 7)
        assert raw_a.call("GET", "foo") == b"-MOVED 12182 127.0.0.1:%d\r\n" % b
        wait_for("the target serves the slot", lambda: raw_b.call("GET", "foo") == b"$6\r\nduring\r\n")
        assert raw_b.call("LRANGE", "{foo}list", 0, -1) == b"*2\r\n$1\r\nx\r\n$1\r\ny\r\n"
        assert redis.Redis(port=a + FORWARD_OFFSET).get("foo") == b"during"
        rc = RedisCluster(host="127.0.0.1", port=a)
        assert rc.get("foo") == b"during"
        rc.close()
        # The source keeps its copy until the import is over (epoch 8), then
        # deletes it.
        assert redis.Redis(port=a).execute_command("CLUSTER", "COUNTKEYSINSLOT", 12182) == 2
        write_topology(c.topology_path(), text7.replace("epoch: 7", "epoch: 8").replace(
            "  importing: [{slots: 12000-12999, from: 0}]\n", ""))
        wait_epoch(c.ports, 8)
        wait_for("the source's copy is deleted",
                 lambda: redis.Redis(port=a).execute_command("CLUSTER", "COUNTKEYSINSLOT", 12182) == 0)
        assert raw_b.call("GET", "foo") == b"$6\r\nduring\r\n"
        raw_a.close()
        raw_b.close()
    finally:
        c.stop()


def test_a_dead_owner_fails_only_its_own_keys_and_quickly():
    # Without the supervisor, which would restart the node.
    c = LocalCluster(shards=2, supervise=False)
    try:
        a, b = c.ports
        rc = RedisCluster(host="127.0.0.1", port=a)
        on_a = next(f"k{i}" for i in range(100) if rc.get_node_from_key(f"k{i}").port == a)
        on_b = next(f"k{i}" for i in range(100) if rc.get_node_from_key(f"k{i}").port == b)
        rc.close()
        plain = redis.Redis(port=a + FORWARD_OFFSET, socket_timeout=10)
        plain.set(on_a, "1")
        plain.set(on_b, "2")
        pid = int(open(os.path.join(c.dir, f"node-{b}.pid")).read())
        os.kill(pid, 9)
        wait_for("node b gone", lambda: refuses(b))
        start = time.time()
        with pytest.raises(redis.exceptions.ResponseError, match="forwarding failed"):
            plain.get(on_b)
        assert time.time() - start < 5
        assert plain.get(on_a) == b"1"
        text = urllib.request.urlopen(f"http://127.0.0.1:{a + ADMIN_OFFSET}/metrics", timeout=5).read().decode()
        assert "shoal_cluster_forward_errors_total 0" not in text
        assert "shoal_cluster_peers 1" in text
    finally:
        c.stop()


def test_a_stalled_owner_costs_a_bounded_wait_and_forwarding_recovers():
    c = LocalCluster(shards=2, supervise=False)
    a, b = c.ports
    pid = int(open(os.path.join(c.dir, f"node-{b}.pid")).read())
    try:
        rc = RedisCluster(host="127.0.0.1", port=a)
        on_b = next(f"k{i}" for i in range(100) if rc.get_node_from_key(f"k{i}").port == b)
        rc.close()
        plain = redis.Redis(port=a + FORWARD_OFFSET, socket_timeout=30)
        plain.set(on_b, "before")
        os.kill(pid, signal.SIGSTOP)
        start = time.time()
        # A pipeline of many forwarded commands waits once, not once each.
        pipe = plain.pipeline(transaction=False)
        for _ in range(20):
            pipe.get(on_b)
        replies = pipe.execute(raise_on_error=False)
        waited = time.time() - start
        assert all(isinstance(r, redis.exceptions.ResponseError) for r in replies), replies
        assert "did not answer in time" in str(replies[0])
        assert waited < 15, waited
        os.kill(pid, signal.SIGCONT)
        def answers():
            try:
                return plain.get(on_b) == b"before"
            except redis.exceptions.ResponseError:
                return False  # A command caught by the stall's end.
        wait_for("forwarding again", answers, timeout=20)
    finally:
        os.kill(pid, signal.SIGCONT)
        c.stop()


def refuses(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return False
    except OSError:
        return True


def test_a_node_the_topology_does_not_name_is_not_ready(tmp_path):
    topo = tmp_path / "t.yaml"
    port = free_port()
    topo.write_text(f"""epoch: 1
shards:
- slots: ["0-16383"]
  primary: {{name: someone-else, host: 127.0.0.1, port: {port}}}
""")
    admin = free_port()
    p = Proc([node_binary(), "--port", str(free_port()), "--admin-port", str(admin),
              "--cluster-node-name", "me", "--cluster-topology-file", str(topo)], admin)
    try:
        time.sleep(0.5)
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(f"http://127.0.0.1:{admin}/readyz", timeout=5)
        assert e.value.code == 503
    finally:
        p.close()


def test_cluster_commands_on_a_standalone_node_say_cluster_is_off(shoal, redis_server):
    for args in (["CLUSTER", "INFO"], ["CLUSTER", "SLOTS"], ["READONLY"], ["CLUSTER", "KEYSLOT", "x"]):
        ours = RawClient(shoal.port).call(*args)
        theirs = RawClient(redis_server.port).call(*args)
        assert ours == theirs == b"-ERR This instance has cluster support disabled\r\n", (args, ours, theirs)


# --- against a real Redis Cluster ------------------------------------------------


@pytest.fixture(scope="module")
def redis_cluster():
    exe, cli = shutil.which("redis-server"), shutil.which("redis-cli")
    d = tempfile.mkdtemp(prefix="redis-cluster-")
    base = pick_base(3, offsets=(0, 10000))  # Redis' cluster bus is port + 10000.
    procs = []
    for i in range(3):
        port = base + i
        procs.append(Proc([exe, "--port", str(port), "--cluster-enabled", "yes",
                           "--cluster-config-file", f"nodes-{port}.conf", "--dir", d,
                           "--save", "", "--appendonly", "no"], port))
    out = subprocess.run([cli, "--cluster", "create", *[f"127.0.0.1:{base + i}" for i in range(3)],
                          "--cluster-replicas", "0", "--cluster-yes"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    wait_for("redis cluster ok", lambda: all(
        b"cluster_state:ok" in RawClient(base + i).call("CLUSTER", "INFO") for i in range(3)), timeout=30)
    yield [base + i for i in range(3)]
    for p in procs:
        p.close()
    shutil.rmtree(d, ignore_errors=True)


def parse(buf, pos=0):
    """A RESP value as (type, value), and the position after it."""
    kind = buf[pos:pos + 1]
    end = buf.index(b"\r\n", pos)
    head = buf[pos + 1:end]
    pos = end + 2
    if kind in (b"$", b"="):
        n = int(head)
        if n < 0:
            return ("null", None), pos
        return (kind.decode(), buf[pos:pos + n]), pos + n + 2
    if kind in (b"*", b"%", b"~"):
        n = int(head) * (2 if kind == b"%" else 1)
        items = []
        for _ in range(n):
            item, pos = parse(buf, pos)
            items.append(item)
        return (kind.decode(), items), pos
    if kind == b":":
        return (":", int(head)), pos
    return (kind.decode(), head), pos


def skeleton(value, keep=()):
    """The shape of a reply: types, lengths and the given literal strings."""
    kind, v = value
    if isinstance(v, list):
        return (kind, [skeleton(x, keep) for x in v])
    if kind in ("$", "=", "+") and v in keep:
        return (kind, v)
    return kind


FIELDS = (b"slots", b"nodes", b"id", b"port", b"ip", b"endpoint", b"role", b"replication-offset",
          b"health", b"master", b"online")


@pytest.mark.parametrize("resp", [2, 3])
@pytest.mark.parametrize("sub", ["SLOTS", "SHARDS", "MYID", "KEYSLOT", "COUNTKEYSINSLOT", "GETKEYSINSLOT"])
def test_cluster_reply_shapes_match_redis(cluster, redis_cluster, sub, resp):
    slot = str(redis.Redis(port=cluster.ports[0]).execute_command("CLUSTER", "KEYSLOT", "{shape}"))
    args = {"KEYSLOT": ["KEYSLOT", "somekey"], "COUNTKEYSINSLOT": ["COUNTKEYSINSLOT", slot],
            "GETKEYSINSLOT": ["GETKEYSINSLOT", slot, "2"]}.get(sub, [sub])
    shapes = []
    for ports in (cluster.ports, redis_cluster):
        # The same two keys on both sides, asked of their owner.
        rc = RedisCluster(host="127.0.0.1", port=ports[0])
        rc.mset({"{shape}:a": "1", "{shape}:b": "2"})
        port = rc.get_node_from_key("{shape}").port
        rc.close()
        raw = RawClient(port)
        if resp == 3:
            raw.call("HELLO", "3")
        reply = raw.call("CLUSTER", *args)
        raw.close()
        value, end = parse(reply)
        assert end == len(reply)
        shapes.append(skeleton(value, keep=FIELDS))
    assert shapes[0] == shapes[1]


@pytest.mark.parametrize("resp", [2, 3])
def test_cluster_nodes_and_info_look_like_redis(cluster, redis_cluster, resp):
    for sub in ("NODES", "INFO"):
        kinds = []
        texts = []
        for port in (cluster.ports[0], redis_cluster[0]):
            raw = RawClient(port)
            if resp == 3:
                raw.call("HELLO", "3")
            (kind, text), _ = parse(raw.call("CLUSTER", sub))
            raw.close()
            kinds.append(kind)
            texts.append(text.decode())
        assert kinds[0] == kinds[1], sub
        ours, theirs = [t[4:] if t.startswith("txt:") else t for t in texts]
        if sub == "INFO":
            their_fields = [l.split(":")[0] for l in theirs.split("\r\n") if l]
            our_fields = [l.split(":")[0] for l in ours.split("\r\n") if l]
            assert our_fields[:len(their_fields)] == their_fields
        else:
            for text in (ours, theirs):
                lines = [l.split(" ") for l in text.strip("\n").split("\n")]
                assert len(lines) == 3
                me = [l for l in lines if "myself" in l[2]]
                assert len(me) == 1 and me[0][2] == "myself,master" and me[0][3] == "-"
                assert all(len(l[0]) == 40 and l[7] == "connected" and "-" in l[8] for l in lines)


def test_errors_and_connection_commands_match_redis(cluster, redis_cluster):
    cases = [["CLUSTER", "COUNTKEYSINSLOT", "99999"], ["CLUSTER", "COUNTKEYSINSLOT", "-1"],
             ["CLUSTER", "GETKEYSINSLOT", "0", "-5"], ["CLUSTER", "GETKEYSINSLOT", "x", "1"],
             ["CLUSTER", "KEYSLOT"], ["CLUSTER", "NOSUCH"], ["READONLY"], ["READWRITE"], ["ASKING"],
             ["CLUSTER", "COUNTKEYSINSLOT", "abc"], ["CLUSTER", "GETKEYSINSLOT", "0", "abc"],
             ["CLUSTER", "INFO", "x"], ["SELECT", "1"], ["SELECT", "0"],
             ["MGET", "a", "b"], ["DEL", "a", "b", "c"]]
    for args in cases:
        ours = RawClient(cluster.ports[0]).call(*args)
        theirs = RawClient(redis_cluster[0]).call(*args)
        assert ours == theirs, (args, ours, theirs)


def test_key_slots_match_redis(cluster, redis_cluster):
    keys = ["", "foo", "bar", "{user1}.following", "{user1}.followers", "foo{}{bar}", "foo{{bar}}zap",
            "foo{bar}{zap}", "{}foo", "a{b}c", "123456789", "{", "}", "{}", "user:{1000}:name",
            b"\xff\x00binary"] + [f"key:{i}" for i in range(500)] + [os.urandom(12) for _ in range(200)]
    ours, theirs = RawClient(cluster.ports[0]), RawClient(redis_cluster[0])
    for k in keys:
        assert ours.call("CLUSTER", "KEYSLOT", k) == theirs.call("CLUSTER", "KEYSLOT", k), k
    ours.close()
    theirs.close()


def test_countkeysinslot_and_getkeysinslot_see_local_keys(cluster):
    r = redis.Redis(port=cluster.ports[0])
    slot = r.execute_command("CLUSTER", "KEYSLOT", "{slotkeys}")
    owner = owner_port(cluster, "{slotkeys}")
    o = redis.Redis(port=owner)
    # Other tests' keys may share the slot: compare against the keys there.
    before = set(o.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100000))
    assert o.execute_command("CLUSTER", "COUNTKEYSINSLOT", slot) == len(before)
    for i in range(5):
        o.set(f"{{slotkeys}}:{i}", i)
    assert o.execute_command("CLUSTER", "COUNTKEYSINSLOT", slot) == len(before) + 5
    assert len(o.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 3)) == 3
    after = set(o.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100000))
    assert after - before == {f"{{slotkeys}}:{i}".encode() for i in range(5)}
    # Other nodes hold none of them.
    other = next(p for p in cluster.ports if p != owner)
    assert redis.Redis(port=other).execute_command("CLUSTER", "COUNTKEYSINSLOT", slot) == 0


def test_syncslots_refuses_bad_requests_and_streams_a_snapshot(shoal):
    raw = RawClient(shoal.port)
    assert raw.call("SYNCSLOTS", "0-10") == b"-ERR This instance has cluster support disabled\r\n"
    assert raw.call("SYNCSLOTS") == b"-ERR wrong number of arguments for 'syncslots' command\r\n"
    raw.close()
    c = LocalCluster(shards=1, replicas=1, supervise=False)
    try:
        primary, replica = c.ports
        raw = RawClient(primary)
        assert raw.call("SYNCSLOTS", "16384") == b"-ERR '16384' is not a slot (0-16383)\r\n"
        assert raw.call("SYNCSLOTS", "9-2") == b"-ERR slot range '9-2' ends before it starts\r\n"
        assert RawClient(replica).call("SYNCSLOTS", "0-10") == b"-ERR SYNCSLOTS is served by primaries only\r\n"
        # Errors read the same in RESP3 (Redis 7 has no SYNCSLOTS to compare
        # with: it is Shoal's own link).
        resp3 = RawClient(primary)
        assert resp3.call("HELLO", "3").startswith(b"%")
        assert resp3.call("SYNCSLOTS", "16384") == b"-ERR '16384' is not a slot (0-16383)\r\n"
        assert resp3.call("SYNCSLOTS") == b"-ERR wrong number of arguments for 'syncslots' command\r\n"
        resp3.close()
        r = redis.Redis(port=primary)
        for i in range(100):
            r.set(f"k{i}", i)
        # The link: a snapshot of the ranges' keys in checked chunks, its end,
        # then the stream of their writes.
        s = socket.create_connection(("127.0.0.1", primary), timeout=5)
        s.sendall(encode("SYNCSLOTS", "0-16383"))
        got = b""
        while b"$3\r\nEND\r\n" not in got:
            chunk = s.recv(65536)
            assert chunk, got
            got += chunk
        assert got.startswith(b"+SNAPSHOT\r\n*5\r\n$5\r\nCHUNK\r\n")
        r.set("after", "1")
        while b"after" not in got:
            got += s.recv(65536)
        s.close()
    finally:
        c.stop()
