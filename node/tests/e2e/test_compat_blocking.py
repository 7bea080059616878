"""Differential tests of blocking pops (BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP
BZPOPMIN BZPOPMAX BZMPOP), CLIENT UNBLOCK, SORT/SORT_RO and DUMP/RESTORE.

Single-client scenarios compare reply bytes with redis-server in RESP2 and RESP3
(what a blocking command answers when data is there, its errors, its timeout
nil). Multi-client scenarios run the same steps against both servers and
compare everything each client saw: who gets which element, in which order,
and what the lists hold right after the pushing command's reply."""

import time

import pytest

from conftest import RawClient
from test_compat import assert_same_replies

SCENARIOS = {
    "blocking_with_data": [
        "RPUSH l a b c", "BLPOP l 0", "BRPOP l 0", "BLPOP missing l 0", "LRANGE l 0 -1",
        "RPUSH l2 x", "BLPOP l2 0", "EXISTS l2", "RPUSH a 1", "RPUSH b 2", "BRPOP b a 0",
        "RPUSH src 1 2 3", "BLMOVE src dst LEFT RIGHT 0", "BRPOPLPUSH src dst 0",
        "LRANGE dst 0 -1", "BLMOVE src src RIGHT LEFT 0", "LRANGE src 0 -1",
        "RPUSH m 1 2 3 4", "BLMPOP 0 2 none m LEFT COUNT 3", "BLMPOP 0 1 m RIGHT",
        "EXISTS m", "ZADD z 1 a 2 b 3 c", "BZPOPMIN z 0", "BZPOPMAX z 0", "BZPOPMIN none z 0",
        "ZADD z2 1.5 x 2.5 y -inf n", "BZMPOP 0 1 z2 MIN COUNT 2", "BZMPOP 0 2 none z2 MAX",
        "EXISTS z2",
    ],
    "blocking_errors_and_timeouts": [
        "BLPOP l 0.01", "BRPOP l 0.01", "BLPOP l -1", "BLPOP l abc", "BLPOP l inf",
        "BLPOP l nan", "BLPOP l 1e30", "BLPOP l", "BLPOP", "BLMOVE s d LEFT RIGHT 0.01",
        "BLMOVE s d UP RIGHT 0", "BLMOVE s d LEFT RIGHT -1", "BRPOPLPUSH s d 0.01",
        "BRPOPLPUSH s d x", "BLMPOP 0.01 1 l LEFT", "BLMPOP 0 0 l LEFT", "BLMPOP 0 -1 l LEFT",
        "BLMPOP 0 2 l LEFT", "BLMPOP 0 1 l MIDDLE", "BLMPOP 0 1 l LEFT COUNT 0",
        "BLMPOP 0 1 l LEFT COUNT", "BLMPOP x 1 l LEFT", "BLMPOP -1 1 l LEFT",
        "BZPOPMIN z 0.01", "BZPOPMAX z -2", "BZMPOP 0.01 1 z MIN", "BZMPOP 0 1 z SIDEWAYS",
        "BZMPOP 0 1 z MIN COUNT -1", "SET s v", "BLPOP s 0", "BLPOP missing s 0",
        "BLMOVE s d LEFT RIGHT 0", "RPUSH src a", "BLMOVE src s LEFT RIGHT 0", "LRANGE src 0 -1",
        "BLMPOP 0 1 s LEFT", "BZPOPMIN s 0", "BZMPOP 0 1 s MIN", "ZADD zz 1 a",
        "BLPOP zz 0", "BZPOPMIN l2 zz 0",
    ],
    "blocking_inside_multi": [
        "MULTI", "BLPOP l 0", "BLMOVE a b LEFT LEFT 0", "BZPOPMIN z 0", "BLMPOP 0 1 l LEFT",
        "RPUSH l x", "BLPOP l 0", "EXEC",
    ],
    "client_unblock_errors": [
        "CLIENT UNBLOCK 999999", "CLIENT UNBLOCK 999999 TIMEOUT", "CLIENT UNBLOCK 999999 ERROR",
        "CLIENT UNBLOCK 999999 LATER", "CLIENT UNBLOCK x", "CLIENT UNBLOCK",
    ],
    "sort": [
        "RPUSH l 3 1 2 10", "SORT l", "SORT l DESC", "SORT l ALPHA", "SORT l ALPHA DESC",
        "SORT l LIMIT 1 2", "SORT l LIMIT -5 2", "SORT l LIMIT 2 -1", "SORT l LIMIT 10 5",
        "SORT l LIMIT 0 0", "SORT l LIMIT x 1", "SORT l LIMIT 1", "SORT l BY nosort",
        "SORT l BY nosort DESC", "SORT l BY nosort LIMIT 1 2", "SORT l BY nosort DESC LIMIT 1 2",
        "MSET w_3 30 w_1 10 w_2 5 w_10 1", "SORT l BY w_*", "SORT l BY w_* DESC",
        "SORT l BY w_* GET # GET w_*", "SORT l GET w_* GET nokey_*", "SORT l GET nostar",
        "HSET h_1 f a", "HSET h_2 f c", "HSET h_3 f b", "SORT l BY h_*->f ALPHA",
        "SORT l BY h_*->f ALPHA GET h_*->f", "SORT l STORE dst", "LRANGE dst 0 -1",
        "SORT l GET nokey_* STORE dst", "LRANGE dst 0 -1", "SORT missing", "SORT missing STORE dst",
        "EXISTS dst", "RPUSH bad a 1", "SORT bad", "SORT bad ALPHA", "SET str x", "SORT str",
        "SORT l FOO", "SORT l STORE", "SORT_RO l", "SORT_RO l STORE dst", "SORT_RO l DESC LIMIT 0 2",
        "ZADD z 3 c 1 a 2 b", "SORT z ALPHA", "SORT z BY nosort", "SORT z BY nosort DESC",
        "SORT z BY nosort LIMIT 1 1", "SADD s 5 3 9", "SORT s", "SORT s DESC", "SORT s BY nosort STORE dst2",
        "LRANGE dst2 0 -1", "RPUSH f 1.5 -2 1e2 inf", "SORT f", "RPUSH f2 1e400 1", "SORT f2", "RPUSH f3 -inf 0x10", "SORT f3", "RPUSH dup 2 1 2 1", "SORT dup",
        "SORT", "SORT l ASC DESC ALPHA ASC",
        "COMMAND GETKEYS SORT abc STORE def", "COMMAND GETKEYS SORT abc STORE invalid STORE stillbad STORE def",
        "COMMAND GETKEYS SORT abc STORE STORE def", "COMMAND GETKEYS SORT abc LIMIT STORE x STORE y",
        "COMMAND GETKEYS SORT abc GET STORE", "COMMAND GETKEYS SORT_RO abc STORE x", "COMMAND GETKEYS SORT abc STORE",
    ],
    "restore_errors": [
        "RESTORE k 0 garbage", "RESTORE k -1 garbage", "RESTORE k x garbage", "SET k v",
        "RESTORE k 0 garbage", "RESTORE k 0 garbage REPLACE", "RESTORE k 0 x IDLETIME -1",
        "RESTORE k 0 x FREQ 256", "RESTORE k 0 x IDLETIME 1 FREQ 1", "RESTORE k 0 x BOGUS",
        "RESTORE k 0", "DUMP missing", "DUMP", "RESTORE new 0 '\\x00\\x03abc\\x0a\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00'",
    ],
}


@pytest.mark.parametrize("resp3", [False, True], ids=["resp2", "resp3"])
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_matches_redis(name, resp3, shoal, redis_server):
    assert_same_replies(SCENARIOS[name], resp3, shoal, redis_server)


def blocked_count(c):
    info = c.call("INFO", "clients").decode()
    for line in info.split("\r\n"):
        if line.startswith("blocked_clients:"):
            return int(line.split(":")[1])
    raise AssertionError("no blocked_clients in INFO")


def wait_blocked(c, n):
    deadline = time.time() + 10
    while blocked_count(c) != n:
        assert time.time() < deadline, f"never saw {n} blocked clients"
        time.sleep(0.005)


def send(c, *args):
    from conftest import encode
    c.send_raw(encode(*args))


def fifo_and_chains(port, resp3):
    """Three clients block; pushes serve them in arrival order; chained BLMOVEs
    complete before the pushing command's reply; a MULTI that pushes then
    deletes wakes nobody."""
    main = RawClient(port)
    clients = [RawClient(port) for _ in range(5)]
    seen = []
    try:
        main.call("FLUSHALL")
        for c in clients:
            if resp3:
                c.call("HELLO", "3")
        for i, c in enumerate(clients[:3]):
            send(c, "BLPOP", "q", "0")
            wait_blocked(main, i + 1)
        seen.append(main.call("RPUSH", "q", "one", "two"))
        seen.append(clients[0].read_reply())
        seen.append(clients[1].read_reply())
        seen.append(blocked_count(main))
        seen.append(main.call("MULTI"))
        main.call("LPUSH", "q", "x")
        main.call("DEL", "q")
        main.call("SET", "q", "str")
        seen.append(main.call("EXEC"))
        seen.append(blocked_count(main))
        main.call("DEL", "q")
        seen.append(main.call("LPUSH", "q", "three"))
        seen.append(clients[2].read_reply())
        # Chained moves: l1 -> l2 -> l3, all done when RPUSH answers.
        send(clients[3], "BLMOVE", "l1", "l2", "RIGHT", "LEFT", "0")
        wait_blocked(main, 1)
        send(clients[4], "BLMOVE", "l2", "l3", "LEFT", "RIGHT", "0")
        wait_blocked(main, 2)
        seen.append(main.call("RPUSH", "l1", "foo"))
        seen.append([main.call("LRANGE", k, "0", "-1") for k in ("l1", "l2", "l3")])
        seen.append(clients[3].read_reply())
        seen.append(clients[4].read_reply())
        # A sorted-set waiter in RESP3 served by a RESP2 push gets a double.
        send(clients[0], "BZPOPMAX", "z", "0")
        wait_blocked(main, 1)
        seen.append(main.call("ZADD", "z", "1.5", "a", "2.5", "b"))
        seen.append(clients[0].read_reply())
        send(clients[1], "BLMPOP", "0", "2", "m1", "m2", "RIGHT", "COUNT", "2")
        wait_blocked(main, 1)
        seen.append(main.call("RPUSH", "m2", "a", "b", "c"))
        seen.append(clients[1].read_reply())
        # Timeouts answer nil; a client blocked with a timeout is still served.
        send(clients[2], "BRPOP", "t", "0.05")
        seen.append(clients[2].read_reply())
        send(clients[2], "BRPOP", "t", "5")
        wait_blocked(main, 1)
        seen.append(main.call("RPUSH", "t", "late"))
        seen.append(clients[2].read_reply())
        # CLIENT UNBLOCK, both ways; pipelined commands after a blocked one run after it.
        cid = int(clients[3].call("CLIENT", "ID")[1:-2])
        clients[3].send_raw(b"*3\r\n$5\r\nBLPOP\r\n$2\r\nnq\r\n$1\r\n0\r\n*1\r\n$4\r\nPING\r\n")
        wait_blocked(main, 1)
        seen.append(main.call("CLIENT", "UNBLOCK", str(cid)))
        seen.append(clients[3].read_reply())
        seen.append(clients[3].read_reply())
        send(clients[3], "BZPOPMIN", "nz", "0")
        wait_blocked(main, 1)
        seen.append(main.call("CLIENT", "UNBLOCK", str(cid), "ERROR"))
        seen.append(clients[3].read_reply())
        seen.append(main.call("CLIENT", "UNBLOCK", str(cid)))
        seen.append(blocked_count(main))
        return seen
    finally:
        main.close()
        for c in clients:
            c.close()


@pytest.mark.parametrize("resp3", [False, True], ids=["resp2", "resp3"])
def test_blocked_clients_are_served_as_redis_serves_them(resp3, shoal, redis_server):
    want = fifo_and_chains(redis_server.port, resp3)
    got = fifo_and_chains(shoal.port, resp3)
    assert got == want


def test_disconnected_waiter_takes_nothing(shoal):
    main = RawClient(shoal.port)
    gone = RawClient(shoal.port)
    try:
        send(gone, "BLPOP", "q", "0")
        wait_blocked(main, 1)
        gone.close()
        deadline = time.time() + 10
        while blocked_count(main) != 0:
            assert time.time() < deadline, "a closed client stayed blocked"
            time.sleep(0.005)
        assert main.call("RPUSH", "q", "kept") == b":1\r\n"
        assert main.call("LRANGE", "q", "0", "-1") == b"*1\r\n$4\r\nkept\r\n"
    finally:
        main.close()


def test_dump_payloads_move_between_redis_and_shoal(shoal, redis_server):
    """A DUMP from either server RESTOREs on the other to the same value."""
    s, r = RawClient(shoal.port), RawClient(redis_server.port)
    setup = [
        ("SET", "str", "x" * 100), ("SET", "int", "-12345"), ("RPUSH", "l", "a", "7", "x" * 300),
        ("SADD", "ints", "1", "5", "-70000"), ("SADD", "strs", "a", "b"),
        ("ZADD", "z", "1.5", "m", "-inf", "n"), ("HSET", "h", "f", "v", "n", "12"),
    ]
    reads = {
        "str": ("GET",), "int": ("GET",), "l": ("LRANGE", "0", "-1"), "ints": ("SMEMBERS",),
        "strs": ("SMEMBERS",), "z": ("ZRANGE", "0", "-1", "WITHSCORES"), "h": ("HGETALL",),
    }

    def value(c, key):
        cmd = reads[key]
        reply = c.call(cmd[0], key, *cmd[1:])
        return sorted(reply.split(b"\r\n")) if cmd[0] in ("SMEMBERS", "HGETALL") else reply

    try:
        for c in (s, r):
            c.call("FLUSHALL")
            for cmd in setup:
                c.call(*cmd)
        for src, dst in ((r, s), (s, r)):
            for key in reads:
                raw = src.call("DUMP", key)
                payload = raw[raw.index(b"\r\n") + 2:-2]
                assert dst.call("RESTORE", key + "_copy", "0", payload) == b"+OK\r\n", key
                reads[key + "_copy"] = reads[key]
                assert value(dst, key + "_copy") == value(src, key), key
                del reads[key + "_copy"]
                dst.call("DEL", key + "_copy")
        # TTL, REPLACE, BUSYKEY and an already expired ABSTTL, as Redis.
        for c in (s, r):
            raw = c.call("DUMP", "l")
            payload = raw[raw.index(b"\r\n") + 2:-2]
            assert c.call("RESTORE", "l", "0", payload).startswith(b"-BUSYKEY")
            assert c.call("RESTORE", "l", "5000", payload, "REPLACE") == b"+OK\r\n"
            assert 0 < int(c.call("PTTL", "l")[1:-2]) <= 5000
            assert c.call("RESTORE", "l", "1", payload, "REPLACE", "ABSTTL") == b"+OK\r\n"
            assert c.call("EXISTS", "l") == b":0\r\n"
    finally:
        s.close()
        r.close()
