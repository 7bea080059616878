"""maxmemory with the real allocator: INFO used_memory stays under the limit."""

import redis


def load(port, n, value):
    r = redis.Redis(port=port)
    pipe = r.pipeline(transaction=False)
    errors = 0
    for i in range(n):
        pipe.set(f"key:{i:08d}", value)
        if i % 1000 == 999:
            for res in pipe.execute(raise_on_error=False):
                if isinstance(res, Exception):
                    errors += 1
    for res in pipe.execute(raise_on_error=False):
        if isinstance(res, Exception):
            errors += 1
    return r, errors


def test_eviction_keeps_used_memory_under_maxmemory(shoal_factory):
    limit = 16 << 20
    p = shoal_factory("--maxmemory", str(limit), "--maxmemory-policy", "allkeys-lru")
    r, errors = load(p.port, 300_000, b"x" * 100)
    assert errors == 0
    info = r.info("all")
    assert info["evicted_keys"] > 100_000
    assert info["used_memory"] <= limit * 1.05, info["used_memory"]
    assert 0 < r.dbsize() < 300_000
    r.close()


def test_noeviction_answers_oom_and_keeps_data(shoal_factory):
    p = shoal_factory("--maxmemory", "8mb")
    r, errors = load(p.port, 200_000, b"y" * 100)
    assert errors > 0
    try:
        r.set("one-more", "x" * 1000)
        raise AssertionError("write accepted over maxmemory")
    except redis.exceptions.OutOfMemoryError as e:
        # redis-py maps the OOM code to this exception and drops the code.
        assert str(e) == "command not allowed when used memory > 'maxmemory'."
    kept = r.dbsize()
    assert kept > 10_000
    assert r.get("key:00000000") == b"y" * 100
    # The allocator's overhead is recalibrated each tick (hz), so writes between
    # two ticks can overshoot a little, more on a loaded machine: 10% of 8 MB.
    assert r.info("memory")["used_memory"] <= (8 << 20) * 1.10
    r.close()
