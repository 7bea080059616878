"""Where Shoal deliberately differs from a standalone redis-server."""

import redis


def test_single_database(shoal):
    r = redis.Redis(port=shoal.port)
    assert r.execute_command("SELECT", 0) is True
    try:
        r.execute_command("SELECT", 1)
        raise AssertionError("SELECT 1 accepted")
    except redis.ResponseError as e:
        assert str(e) == "DB index is out of range"
    r.close()


def test_config_parameters(shoal):
    r = redis.Redis(port=shoal.port, decode_responses=True)
    assert r.config_get("maxmemory*") == {
        "maxmemory": "0", "maxmemory-policy": "noeviction", "maxmemory-samples": "5"
    }
    assert r.config_set("maxmemory-policy", "allkeys-lfu")
    assert r.config_get("maxmemory-policy")["maxmemory-policy"] == "allkeys-lfu"
    r.set("k", "v")
    assert r.object("freq", "k") == 5  # Redis' LFU_INIT_VAL
    try:
        r.config_set("port", "1234")
        raise AssertionError("immutable parameter changed")
    except redis.ResponseError as e:
        assert "can't set immutable config" in str(e)
    r.close()


def test_float_range_is_f64(shoal):
    r = redis.Redis(port=shoal.port)
    assert float(r.incrbyfloat("f", 1e308)) == 1e308
    try:
        r.incrbyfloat("f", 1e308)
        raise AssertionError("overflow accepted")
    except redis.ResponseError as e:
        assert "NaN or Infinity" in str(e)
    r.close()


def test_lfu_counter_starts_at_five_and_counts_accesses_as_redis(shoal, redis_server):
    def counts(port):
        r = redis.Redis(port=port)
        try:
            r.config_set("maxmemory-policy", "allkeys-lfu")
            # Growth factor 0 counts every access; no decay while the test runs.
            r.config_set("lfu-log-factor", "0")
            r.config_set("lfu-decay-time", "0")
            r.delete("lfu:k")
            r.set("lfu:k", "v")
            seen = [r.object("freq", "lfu:k")]
            for _ in range(10):
                r.get("lfu:k")
            seen.append(r.object("freq", "lfu:k"))
            return seen
        finally:
            r.config_set("maxmemory-policy", "noeviction")
            r.config_set("lfu-log-factor", "10")
            r.config_set("lfu-decay-time", "1")
            r.delete("lfu:k")
            r.close()

    assert counts(shoal.port) == counts(redis_server.port) == [5, 15]
