"""Real clients against a real shoal-node: redis-cli, redis-py (RESP2 and RESP3)
and redis-benchmark."""

import subprocess

import pytest
import redis


def cli(port, *args, stdin=None):
    out = subprocess.run(
        ["redis-cli", "-p", str(port), *args], input=stdin, capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_redis_cli_commands(shoal):
    p = shoal.port
    assert cli(p, "PING") == "PONG\n"
    assert cli(p, "SET", "greeting", "hello world") == "OK\n"
    assert cli(p, "GET", "greeting") == "hello world\n"
    assert cli(p, "INCRBY", "n", "41") == "41\n"
    assert cli(p, "HSET", "h", "a", "1", "b", "2") == "2\n"
    assert cli(p, "HGETALL", "h") == "a\n1\nb\n2\n"
    assert cli(p, "-3", "HGETALL", "h") == "a 1\nb 2\n"
    assert cli(p, "GET", "missing") == "\n"
    assert "WRONGTYPE" in cli(p, "GET", "h")
    assert cli(p, "--no-raw", "EXPIRE", "greeting", "100") == "(integer) 1\n"
    assert cli(p, "TTL", "greeting") == "100\n"
    keys = cli(p, "--scan", "--pattern", "*").split()
    assert sorted(keys) == ["greeting", "h", "n"]
    assert "redis_version:" in cli(p, "INFO", "server")
    assert cli(p, "DBSIZE") == "3\n"


def test_redis_cli_pipe_mode_loads_keys(shoal):
    lines = "".join(f"SET key:{i} value:{i}\r\n" for i in range(5000))
    out = subprocess.run(
        ["redis-cli", "-p", str(shoal.port), "--pipe"], input=lines, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr + out.stdout
    assert "errors: 0, replies: 5000" in out.stdout
    assert cli(shoal.port, "DBSIZE") == "5000\n"
    assert cli(shoal.port, "GET", "key:4999") == "value:4999\n"


def test_redis_cli_interactive_session(shoal):
    # Interactive mode fetches COMMAND DOCS for hints; it must not break.
    out = cli(shoal.port, stdin="SET a 1\nGET a\nQUIT\n")
    assert "OK" in out and "1" in out


@pytest.mark.parametrize("protocol", [2, 3])
def test_redis_py(shoal, protocol):
    r = redis.Redis(port=shoal.port, protocol=protocol, decode_responses=True)
    assert r.ping()
    assert r.set("k", "v", ex=100)
    assert r.get("k") == "v"
    assert 99 <= r.ttl("k") <= 100
    assert r.set("k", "w", nx=True) is None
    assert r.set("k", "w", xx=True, get=True) == "v"
    assert r.mset({"a": "1", "b": "2"})
    assert r.mget("a", "b", "nope") == ["1", "2", None]
    assert r.incr("counter", 5) == 5
    assert r.incrbyfloat("f", 1.5) == 1.5
    assert r.hset("h", mapping={"x": "1", "y": "2"}) == 2
    assert r.hgetall("h") == {"x": "1", "y": "2"}
    assert r.hincrby("h", "x", 10) == 11
    assert r.hmget("h", ["x", "nope"]) == ["11", None]
    assert set(r.scan_iter(match="*", count=2)) == {"k", "a", "b", "counter", "f", "h"}
    assert set(r.hscan_iter("h")) == {("x", "11"), ("y", "2")}
    assert r.type("h") == "hash"
    assert r.exists("a", "b", "nope") == 2
    assert r.delete("a", "b") == 2
    assert r.rename("k", "k2")
    assert r.getex("k2", persist=True) == "w"
    assert r.ttl("k2") == -1
    assert r.client_setname("tester")
    assert r.client_getname() == "tester"
    assert any(c["name"] == "tester" for c in r.client_list())
    info = r.info()
    assert info["connected_clients"] >= 1 and "used_memory" in info
    assert r.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
    assert r.dbsize() == 4  # k2, counter, f, h
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.get("h")
    pipe = r.pipeline(transaction=False)
    for i in range(1000):
        pipe.set(f"p{i}", i)
    for i in range(1000):
        pipe.get(f"p{i}")
    results = pipe.execute()
    assert results[:1000] == [True] * 1000
    assert results[1000:] == [str(i) for i in range(1000)]
    assert r.flushall()
    assert r.dbsize() == 0
    r.close()


def test_redis_py_binary_values(shoal):
    r = redis.Redis(port=shoal.port)
    blob = bytes(range(256)) * 1000
    r.set(b"\x00bin\xff", blob)
    assert r.get(b"\x00bin\xff") == blob
    assert r.strlen(b"\x00bin\xff") == len(blob)
    assert r.getrange(b"\x00bin\xff", 0, 3) == b"\x00\x01\x02\x03"
    r.close()


def test_redis_benchmark_runs_clean(shoal):
    out = subprocess.run(
        ["redis-benchmark", "-p", str(shoal.port), "-t", "set,get,incr,mset", "-n", "2000", "-c", "10", "-P", "4", "-q"],
        capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    for name in ("SET", "GET", "INCR", "MSET"):
        assert f"{name}" in out.stdout and "requests per second" in out.stdout
    assert "ERR" not in out.stdout + out.stderr


@pytest.mark.parametrize("protocol", [2, 3])
def test_redis_py_pipelines_transactions_and_collections(shoal, protocol):
    """What applications do with redis-py: its default pipeline is a MULTI/EXEC
    transaction, `transaction()` retries on WATCH conflicts, and queues,
    leaderboards and tag sets use the collection types."""
    r = redis.Redis(port=shoal.port, protocol=protocol, decode_responses=True)
    r.flushall()
    with r.pipeline() as p:  # transaction=True: MULTI ... EXEC
        p.set("a", 1).incr("a").rpush("queue", "job1", "job2").sadd("tags", "x", "y")
        p.zadd("board", {"ann": 10, "bob": 20}).hset("h", mapping={"f": "v"})
        assert p.execute() == [True, 2, 2, 2, 2, 1]
    with r.pipeline(transaction=False) as p:
        p.lpop("queue").smembers("tags").zrange("board", 0, -1, withscores=True)
        job, tags, board = p.execute()
    assert job == "job1" and tags == {"x", "y"}
    assert board == [("ann", 10.0), ("bob", 20.0)] or board == [["ann", 10.0], ["bob", 20.0]]
    # A runtime error inside EXEC is reported in place; the rest ran.
    with r.pipeline() as p:
        p.set("s", "str").lpush("s", "x").set("after", "1")
        with pytest.raises(redis.ResponseError):
            p.execute()
    assert r.get("after") == "1"

    # Optimistic locking: concurrent increments through WATCH never lose one.
    import threading

    r.set("counter", 0)

    def bump(n):
        c = redis.Redis(port=shoal.port, protocol=protocol, decode_responses=True)

        def step(pipe):
            v = int(pipe.get("counter"))
            pipe.multi()
            pipe.set("counter", v + 1)

        for _ in range(n):
            c.transaction(step, "counter")
        c.close()

    threads = [threading.Thread(target=bump, args=(50,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert r.get("counter") == "200"

    # A reliable queue: RPOPLPUSH / LMOVE into a processing list, then LREM.
    r.delete("jobs", "processing")
    r.rpush("jobs", *[f"j{i}" for i in range(10)])
    taken = [r.lmove("jobs", "processing", "LEFT", "RIGHT") for _ in range(3)]
    assert taken == ["j0", "j1", "j2"]
    assert r.lrem("processing", 1, "j1") == 1
    assert r.lrange("processing", 0, -1) == ["j0", "j2"]
    assert r.llen("jobs") == 7
    # Leaderboard and tags.
    r.zincrby("board", 15, "ann")
    assert r.zrevrank("board", "ann") == 0
    assert r.zrevrange("board", 0, 0, withscores=True)[0][0] == "ann"
    r.sadd("t:1", "red", "blue")
    r.sadd("t:2", "blue", "green")
    assert r.sinter("t:1", "t:2") == {"blue"}
    r.close()
