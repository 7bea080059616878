"""Differential test of keyspace notifications: the same commands run against
redis-server 7 and shoal-node with `notify-keyspace-events` on, and a client
subscribed to every keyspace and keyevent channel must receive the same
messages in the same order."""

import time

import pytest

from conftest import RawClient, encode
from test_compat_pubsub import read_all

COMMANDS = [
    "SET s 1", "SET s 2 EX 100", "SETEX s2 100 v", "SETNX s3 v", "SETNX s3 w", "MSET m1 a m2 b",
    "GETSET s x", "APPEND s yz", "SETRANGE s 0 Q", "INCR n", "INCRBY n 5", "DECR n", "INCRBYFLOAT n 1.5",
    "SETBIT b 3 1", "GETEX s PERSIST", "GETEX s EX 50", "GETDEL s3", "EXPIRE s 100", "PERSIST s",
    "PEXPIRE s2 100000", "RENAME m1 m3", "COPY m3 m4", "DEL m2 m3 missing", "UNLINK m4",
    "LPUSH l a b", "RPUSH l c", "LPUSHX nol x", "RPUSHX l d", "LPOP l", "RPOP l", "LINSERT l BEFORE a z",
    "LSET l 0 y", "LREM l 1 y", "LTRIM l 0 5", "RPUSH src 1 2", "LMOVE src dst LEFT RIGHT",
    "RPOPLPUSH src dst", "LMPOP 1 dst RIGHT COUNT 5", "RPUSH last x", "LPOP last",
    "HSET h f v g w", "HSETNX h f v", "HINCRBY h n 1", "HINCRBYFLOAT h x 1.5", "HDEL h f g n x",
    "SADD st a b", "SADD st a", "SREM st a", "SREM st zz", "SMOVE st st2 b", "SADD st3 1 2", "SPOP st3",
    "SINTERSTORE sd st3 st3", "SUNIONSTORE sd st3 nokey", "SDIFFSTORE sd nokey",
    "ZADD z 1 a 2 b", "ZADD z INCR 5 a", "ZINCRBY z 1 b", "ZREM z a", "ZADD z 3 c 4 d",
    "ZREMRANGEBYSCORE z 4 4", "ZREMRANGEBYRANK z 0 0", "ZADD z 5 e", "ZPOPMIN z", "ZPOPMAX z",
    "ZADD z2 1 a 2 b", "ZUNIONSTORE zu 1 z2", "ZRANGESTORE zr z2 0 0", "ZMPOP 1 z2 MAX",
    "RPUSH so 3 1 2", "SORT so STORE sorted", "BITOP NOT bn b", "FLUSHALL",
]


def collect(port, flags):
    sub, c = RawClient(port), RawClient(port)
    try:
        c.call("FLUSHALL")
        assert c.call("CONFIG", "SET", "notify-keyspace-events", flags) == b"+OK\r\n"
        sub.call("PSUBSCRIBE", "__key*__:*")
        seen = []
        for line in COMMANDS:
            c.send_raw(encode(*line.split()))
            c.read_reply()
            seen.append((line, read_all(sub, first=0.3, idle=0.05)))
        # An expiry noticed by the background cycle (s2 had 1 ms).
        time.sleep(0.2)
        c.call("SET", "gone", "v", "PX", "1")
        deadline = time.time() + 5
        got = b""
        while b"expired" not in got and time.time() < deadline:
            got += read_all(sub, first=0.3, idle=0.05)
        seen.append(("background expiry", got))
        return seen
    finally:
        c.call("CONFIG", "SET", "notify-keyspace-events", "")
        sub.close()
        c.close()


@pytest.mark.parametrize("flags", ["KEA", "Eg$lshzxn", "Kl"])
def test_notifications_match_redis(flags, shoal, redis_server):
    want = collect(redis_server.port, flags)
    got = collect(shoal.port, flags)
    diffs = [f"  {w[0]!r}\n    redis: {w[1]!r}\n    shoal: {g[1]!r}" for w, g in zip(want, got) if w != g]
    assert not diffs, f"{len(diffs)} commands notified differently:\n" + "\n".join(diffs)
