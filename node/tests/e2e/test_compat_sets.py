"""Set commands against redis-server 7.0: every scenario runs on both servers in
RESP2 and RESP3 and the exact reply bytes must match.

Byte-for-byte comparison needs a determined order: small integer sets (intset,
ascending) and single-member sets. Hashtable sets are compared sorted, and the
random commands (SPOP, SRANDMEMBER) by their randomness-independent properties."""

import pytest

from conftest import RawClient, encode
from test_compat import run


def ints(lo, hi):
    return " ".join(str(i) for i in range(lo, hi))


SCENARIOS = {
    "sadd_srem_basic": [
        "SADD s 3 1 2", "SADD s 2 4", "SADD s 4 4 4", "SMEMBERS s", "SCARD s", "OBJECT ENCODING s",
        "SISMEMBER s 1", "SISMEMBER s 9", "SISMEMBER missing 1", "SMISMEMBER s 1 9 2 1",
        "SMISMEMBER missing a b", "SCARD missing", "SMEMBERS missing",
        "SADD s -5 9223372036854775807 -9223372036854775808 0", "SMEMBERS s", "OBJECT ENCODING s",
        "SREM s 9 8", "SREM s 1 1 9", "SMEMBERS s", "SREM missing a", "EXISTS missing",
        "SREM s 2 3 4 -5 9223372036854775807 -9223372036854775808 0 extra", "EXISTS s", "SCARD s",
        "SADD w hello", "SMEMBERS w", "OBJECT ENCODING w", "SREM w hello", "EXISTS w",
        "SADD bin '\\x00\\xff' ''", "SISMEMBER bin ''", "SISMEMBER bin '\\x00\\xff'", "SREM bin ''",
        "SMEMBERS bin", "sadd lower 1", "SaDd lower 2", "smembers lower",
    ],
    "not_integers": [
        "SADD a -0", "OBJECT ENCODING a", "SADD b +1", "OBJECT ENCODING b", "SADD c 01", "OBJECT ENCODING c",
        "SADD d ' 1'", "OBJECT ENCODING d", "SADD e 1.0", "OBJECT ENCODING e",
        "SADD f 9223372036854775808", "OBJECT ENCODING f", "SADD g -9223372036854775809", "OBJECT ENCODING g",
        "SADD h ''", "OBJECT ENCODING h", "SADD i 1 x", "OBJECT ENCODING i", "SREM i x", "OBJECT ENCODING i",
        "SMEMBERS i", "SISMEMBER i 1", "SISMEMBER i 01", "SADD j 5", "SISMEMBER j 05", "SISMEMBER j 5.0",
        "SISMEMBER j -0", "SADD k 0", "SISMEMBER k -0", "SISMEMBER k 0",
    ],
    "intset_limit": [
        "SADD big " + ints(0, 512), "OBJECT ENCODING big", "SCARD big", "SADD big 511",
        "OBJECT ENCODING big", "SADD big 512", "OBJECT ENCODING big", "SCARD big",
        "SISMEMBER big 0", "SISMEMBER big 512", "SISMEMBER big 513", "SREM big " + ints(0, 511),
        "OBJECT ENCODING big", "SCARD big", "SREM big 511", "SMEMBERS big",
        "SADD one " + ints(-256, 257), "OBJECT ENCODING one", "SCARD one",
        "SADD two " + ints(0, 400), "SADD two " + ints(300, 600), "OBJECT ENCODING two", "SCARD two",
        "SADD three " + ints(0, 511) + " a", "OBJECT ENCODING three", "SCARD three",
    ],
    "errors": [
        "SET str x", "SADD str a", "SREM str a", "SMEMBERS str", "SISMEMBER str a", "SMISMEMBER str a",
        "SCARD str", "SPOP str", "SPOP str 0", "SPOP str 2", "SRANDMEMBER str", "SRANDMEMBER str 0",
        "SRANDMEMBER str -2", "SINTER str", "SINTER missing str", "SINTERCARD 1 str",
        "SINTERSTORE d str", "SUNION str", "SUNION missing str", "SUNIONSTORE d str", "SDIFF str",
        "SDIFF missing str", "SDIFFSTORE d missing str", "SSCAN str 0", "SSCAN str 0 COUNT 0",
        "EXISTS d", "GET str", "HSET h f v", "SADD h a", "SINTER h", "SCARD h", "SMOVE h s a",
        "SADD", "SADD s", "SREM", "SREM s", "SMEMBERS", "SMEMBERS a b", "SISMEMBER s",
        "SISMEMBER s a b", "SMISMEMBER s", "SCARD", "SCARD a b", "SPOP", "SRANDMEMBER", "SMOVE a b",
        "SMOVE a b c d", "SINTER", "SINTERCARD", "SINTERCARD 1", "SINTERSTORE d", "SUNION",
        "SUNIONSTORE d", "SDIFF", "SDIFFSTORE d", "SSCAN", "SSCAN s",
    ],
    "smove": [
        "SADD m1 1 2", "SMOVE m1 m2 1", "SMEMBERS m1", "SMEMBERS m2", "OBJECT ENCODING m2",
        "SMOVE m1 m2 9", "SMOVE m1 m2 2", "EXISTS m1", "SMEMBERS m2", "SMOVE m2 m2 1", "SMOVE m2 m2 5",
        "SMEMBERS m2", "SMOVE missing m2 1", "SET str x", "SMOVE m2 str 1", "SMEMBERS m2",
        "SMOVE str m2 1", "SMOVE missing str 1", "SMOVE m2 str 9", "GET str", "SADD m3 a",
        "SMOVE m3 m4 a", "OBJECT ENCODING m4", "EXISTS m3", "SMOVE m2 m5 1", "OBJECT ENCODING m5",
        "SADD m5 x", "SMOVE m5 m2 x", "OBJECT ENCODING m2", "SISMEMBER m5 x", "SMOVE m2 m5 2",
        "SCARD m5", "SMISMEMBER m5 1 2 x", "SADD t 1", "EXPIRE t 100", "SMOVE m5 t 2", "TTL t", "SMEMBERS t",
    ],
    "spop_srandmember_determined": [
        "SADD one x", "SPOP one", "EXISTS one", "SPOP missing", "SPOP missing 3", "SPOP missing 0",
        "SADD p 3 1 2", "SPOP p 0", "SPOP p 3", "EXISTS p", "SADD p 3 1 2", "SPOP p 10", "EXISTS p",
        "SADD p 1", "SPOP p -1", "SPOP p x", "SPOP p 1.5", "SPOP p 1 2", "SPOP p 1", "EXISTS p",
        "SADD p 5 4", "SPOP p 9223372036854775808", "SPOP p -9223372036854775808", "SPOP p +1",
        "SPOP p 9223372036854775807", "EXISTS p", "SRANDMEMBER q 01", "SRANDMEMBER q +1",
        "SADD q 1 2 3", "SRANDMEMBER q 3", "SRANDMEMBER q 100", "SRANDMEMBER q 0",
        "SRANDMEMBER q 9223372036854775807", "SRANDMEMBER missing", "SRANDMEMBER missing 5",
        "SRANDMEMBER missing -5", "SRANDMEMBER missing 0", "SADD single a", "SRANDMEMBER single",
        "SRANDMEMBER single 1", "SRANDMEMBER single -3", "SRANDMEMBER single 5",
        "SRANDMEMBER q -9223372036854775808", "SRANDMEMBER missing -9223372036854775808",
        "SRANDMEMBER q x", "SRANDMEMBER q 1 2", "SRANDMEMBER q 9223372036854775808", "SCARD q",
        "SADD r " + ints(0, 600), "SPOP r 0", "SCARD r", "DEL r", "SADD r a b", "SREM r a", "SPOP r 5",
        "SADD r2 a", "SADD r2 " + ints(0, 10), "SREM r2 a", "SPOP r2 100", "SADD r3 x", "EXPIRE r3 100",
        "SPOP r3 0", "TTL r3",
    ],
    "inter": [
        "SADD a 1 2 3 4", "SADD b 3 4 5", "SADD c 4 5 6", "SINTER a b", "SINTER a b c", "SINTER b a",
        "SINTER a missing", "SINTER missing a", "SINTER a", "SINTER a a", "SINTER a a b",
        "SINTERCARD 2 a b", "SINTERCARD 3 a b c LIMIT 0", "SINTERCARD 2 a b LIMIT 1",
        "SINTERCARD 2 a b LIMIT 5", "SINTERCARD 1 a LIMIT 2 LIMIT 3", "SINTERCARD 1 a limit 9223372036854775807",
        "SINTERCARD 2 a missing", "SINTERCARD 1 missing", "SINTERCARD 2 a LIMIT",
        "SINTERCARD 0 a", "SINTERCARD -1 a", "SINTERCARD x a", "SINTERCARD 3 a b",
        "SINTERCARD 9223372036854775808 a", "SINTERCARD 1 a LIMIT", "SINTERCARD 1 a LIMIT -1",
        "SINTERCARD 1 a LIMIT x", "SINTERCARD 1 a FOO", "SINTERCARD 1 a LIMIT 1 FOO",
        "SINTERCARD 1 a LIMIT 9223372036854775808", "SINTERCARD +1 a", "SINTERCARD 01 a", "sintercard 1 a limit 01",
        "SET str x", "SINTERCARD 2 a str", "SINTERCARD 2 missing str", "SINTERCARD 1 a LIMIT -1 str",
        "SINTERSTORE d a b", "SMEMBERS d", "OBJECT ENCODING d", "SINTERSTORE d a missing", "EXISTS d",
        "SET d str", "SINTERSTORE d a b", "TYPE d", "SET d x EX 100", "SINTERSTORE d a b", "TTL d",
        "SINTERSTORE d d", "SMEMBERS d", "SINTERSTORE a a b", "SMEMBERS a", "SINTERSTORE e a c",
        "SINTERSTORE e b a missing", "EXISTS e", "SADD w x y", "SADD v y", "SINTER w v", "SINTER v w",
        "SINTERSTORE wv w v", "OBJECT ENCODING wv", "SINTER w a", "SINTERSTORE wa w a", "EXISTS wa",
        "SINTERSTORE str missing", "GET str",
    ],
    "inter_large": [
        "SADD L " + ints(0, 600), "SADD S 5 7 1000 599", "SINTER L S", "SINTER S L", "SINTERCARD 2 L S",
        "SINTERCARD 2 L S LIMIT 2", "SINTERSTORE i L S", "OBJECT ENCODING i", "SMEMBERS i",
        "SADD M " + ints(100, 700), "SINTERCARD 2 L M", "SINTERSTORE lm L M", "OBJECT ENCODING lm",
        "SCARD lm", "SINTERCARD 3 L M S", "SINTER L M S", "SADD N " + ints(0, 300) + " z",
        "SINTERSTORE ln L N", "OBJECT ENCODING ln", "SCARD ln", "SINTER ln S",
    ],
    "union": [
        "SADD a 1 2 3", "SADD b 3 4 5", "SUNION a b", "SUNION b a", "SUNION a missing", "SUNION missing",
        "SUNION a a", "SUNIONSTORE d a b", "SMEMBERS d", "OBJECT ENCODING d", "SUNIONSTORE d missing",
        "EXISTS d", "SET d x EX 100", "SUNIONSTORE d a", "TTL d", "TYPE d", "SUNIONSTORE a a b",
        "SMEMBERS a", "SUNIONSTORE b b", "SMEMBERS b", "SADD w x", "SUNION w missing",
        "SUNIONSTORE wd w", "OBJECT ENCODING wd", "SADD L " + ints(0, 300), "SADD M " + ints(200, 500),
        "SUNIONSTORE lm L M", "OBJECT ENCODING lm", "SCARD lm", "SADD N " + ints(500, 513),
        "SUNIONSTORE lmn L M N", "OBJECT ENCODING lmn", "SCARD lmn", "SUNIONSTORE str missing", "GET str",
    ],
    "diff": [
        "SADD a 1 2 3 4", "SADD b 3 4 5", "SADD c 1", "SDIFF a b", "SDIFF a b c", "SDIFF b a",
        "SDIFF a missing", "SDIFF missing a", "SDIFF a", "SDIFF a a", "SDIFF a b a", "SDIFF a c b",
        "SDIFFSTORE d a b", "SMEMBERS d", "OBJECT ENCODING d", "SDIFFSTORE d a a", "EXISTS d",
        "SDIFFSTORE d missing a", "EXISTS d", "SET d x EX 100", "SDIFFSTORE d a b", "TTL d", "TYPE d",
        "SDIFFSTORE a a b", "SMEMBERS a", "SADD w x 1", "SDIFF w c", "SDIFF w a", "SDIFFSTORE wd w a",
        "OBJECT ENCODING wd", "SDIFFSTORE str missing", "GET str",
        # Redis picks one of two algorithms by cost; it decides the encoding.
        "SADD L " + ints(0, 600), "SADD A " + ints(0, 100), "SADD B " + ints(100, 200),
        "SADD C " + ints(200, 300), "SDIFFSTORE r1 L A", "OBJECT ENCODING r1", "SCARD r1",
        "SDIFFSTORE r2 L A B C", "OBJECT ENCODING r2", "SCARD r2", "SDIFF A L", "SDIFF A B",
        "SDIFFSTORE r3 L L", "EXISTS r3", "SADD X x", "SDIFFSTORE r4 L X", "OBJECT ENCODING r4",
        "SADD T " + ints(0, 505), "SADD T a", "SREM T a", "SDIFFSTORE r5 T A", "OBJECT ENCODING r5",
        "SDIFFSTORE r6 L A nokey1 nokey2", "OBJECT ENCODING r6", "SMEMBERS r6",
    ],
    "generic_keys": [
        "SADD c1 3 1 2", "COPY c1 c2", "SADD c2 4", "SMEMBERS c1", "SMEMBERS c2", "OBJECT ENCODING c2",
        "SADD h1 x", "COPY h1 h2", "SADD h2 " + ints(0, 600), "SCARD h1", "SCARD h2", "SMEMBERS h1",
        "OBJECT ENCODING h1", "OBJECT ENCODING h2", "RENAME c1 c3", "SMEMBERS c3", "EXISTS c1",
        "TYPE c3", "TYPE h2", "EXPIRE c3 100", "SADD c3 9", "TTL c3", "SREM c3 9", "TTL c3",
        "SPOP c3 100", "EXISTS c3", "TTL c3", "SADD e 1", "PEXPIRE e 1", "PING", "PING", "DEL c2 h1 h2",
        "SADD t 5", "PERSIST t", "TTL t", "SET t x", "TYPE t", "SADD t 1",
    ],
    "sscan": [
        "SADD sc 1 2 3 12", "SSCAN sc 0", "SSCAN sc 0 MATCH 1*", "SSCAN sc 0 match *2 count 1",
        "SSCAN sc 0 COUNT 1", "SSCAN sc 5", "SSCAN sc ''", "SSCAN sc -1", "SSCAN sc +5", "SSCAN sc ' 5'",
        "SSCAN sc 18446744073709551615", "SSCAN sc 18446744073709551616", "SSCAN sc -18446744073709551615",
        "SSCAN sc +", "SSCAN sc -", "SSCAN sc 0x1", "SSCAN sc 0 COUNT 0", "SSCAN sc 0 COUNT -1",
        "SSCAN sc 0 COUNT x", "SSCAN sc 0 COUNT 9223372036854775808", "SSCAN sc 0 COUNT 01",
        "SSCAN sc 0 COUNT 9223372036854775807", "SSCAN sc 0 MATCH 1 MATCH 2", "SSCAN sc 0 match", "SSCAN sc 0 TYPE set", "SSCAN sc 0 NOVALUES", "SSCAN sc 0 MATCH",
        "SSCAN sc 0 COUNT", "SSCAN sc 0 MATCH * COUNT 2", "SSCAN sc 0 MATCH nomatch", "SSCAN missing 0",
        "SSCAN missing 0 COUNT 0", "SSCAN missing 0 BOGUS", "SSCAN missing x", "SET str x",
        "SSCAN str x", "SADD sw hello", "SSCAN sw 0", "SSCAN sw 0 MATCH h*", "SSCAN sw 0 MATCH x*",
        "SSCAN sw 0 COUNT 0",
    ],
}


@pytest.mark.parametrize("resp3", [False, True], ids=["resp2", "resp3"])
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_sets_match_redis(name, resp3, shoal, redis_server):
    commands = SCENARIOS[name]
    got = run(shoal.port, commands, resp3)
    want = run(redis_server.port, commands, resp3)
    diffs = [
        f"  {line[:80]!r}\n    redis: {w[:300]!r}\n    shoal: {g[:300]!r}"
        for line, w, g in zip(commands, want, got)
        if w != g
    ]
    assert not diffs, f"{len(diffs)} replies differ from redis-server:\n" + "\n".join(diffs)


# --- Replies whose order or picks are not determined -------------------------


def parse(data, pos=0):
    """Parses one RESP2/RESP3 reply; returns (value, kind, next position)."""
    kind = data[pos:pos + 1]
    end = data.index(b"\r\n", pos)
    head = data[pos + 1:end]
    pos = end + 2
    if kind in (b"+", b"-"):
        return head, kind, pos
    if kind == b":":
        return int(head), kind, pos
    if kind == b"$":
        n = int(head)
        if n < 0:
            return None, kind, pos
        return data[pos:pos + n], kind, pos + n + 2
    if kind == b"_":
        return None, kind, pos
    if kind in (b"*", b"~"):
        n = int(head)
        if n < 0:
            return None, kind, pos
        items = []
        for _ in range(n):
            v, _, pos = parse(data, pos)
            items.append(v)
        return items, kind, pos
    raise AssertionError(f"unexpected reply {data!r}")


class Both:
    """One connection to each server, same commands to both."""

    def __init__(self, shoal, redis_server, resp3):
        self.clients = [RawClient(shoal.port), RawClient(redis_server.port)]
        for c in self.clients:
            if resp3:
                c.call("HELLO", "3")
            c.call("FLUSHALL")

    def call(self, *args):
        return [c.call(*[str(a) for a in args]) for c in self.clients]

    def same(self, *args):
        got, want = self.call(*args)
        assert got == want, f"{args[:4]}: redis {want[:200]!r} shoal {got[:200]!r}"
        return got

    def same_sorted(self, *args):
        got, want = self.call(*args)
        g, gk, _ = parse(got)
        w, wk, _ = parse(want)
        assert gk == wk, f"{args[:4]}: reply types {wk} vs {gk}"
        assert sorted(g) == sorted(w), f"{args[:4]}: members differ"
        return g

    def close(self):
        for c in self.clients:
            c.close()


@pytest.fixture(params=[False, True], ids=["resp2", "resp3"])
def both(request, shoal, redis_server):
    b = Both(shoal, redis_server, request.param)
    yield b
    b.close()


def words(n, prefix="m"):
    return [f"{prefix}{i}" for i in range(n)]


def test_hashtable_sets_match_sorted(both):
    both.same("SADD", "a", *words(700))
    both.same("SADD", "b", *words(300), *range(100))
    both.same("SADD", "c", *words(50), "x", "y")
    for cmd in (["SMEMBERS", "a"], ["SMEMBERS", "b"], ["SINTER", "a", "b"], ["SINTER", "b", "c", "a"],
                ["SUNION", "a", "b", "c"], ["SUNION", "c"], ["SDIFF", "a", "b"], ["SDIFF", "b", "a", "c"],
                ["SDIFF", "c", "a"]):
        both.same_sorted(*cmd)
    for cmd in (["SINTERSTORE", "d1", "a", "b"], ["SUNIONSTORE", "d2", "a", "b", "c"],
                ["SDIFFSTORE", "d3", "a", "c"], ["SINTERCARD", 3, "a", "b", "c"],
                ["SINTERCARD", 2, "a", "b", "LIMIT", 10], ["SCARD", "d1"], ["SCARD", "d2"], ["SCARD", "d3"],
                ["OBJECT", "ENCODING", "d1"], ["OBJECT", "ENCODING", "d2"], ["OBJECT", "ENCODING", "d3"],
                ["SMISMEMBER", "a", "m0", "m699", "m700", "0"], ["SREM", "a", *words(690)], ["SCARD", "a"]):
        both.same(*cmd)
    both.same_sorted("SMEMBERS", "a")
    both.same_sorted("SMEMBERS", "d3")
    # SPOP of the whole set and SRANDMEMBER of at least its size: every member.
    both.same_sorted("SRANDMEMBER", "b", 400)
    both.same_sorted("SPOP", "b", 400)
    both.same("EXISTS", "b")


def test_spop_count_properties(both):
    for c in both.clients:
        c.call("SADD", "s", *words(600))
        c.call("SADD", "i", *range(100))
    for c in both.clients:
        raw = c.call("HELLO")
        resp3 = raw.startswith(b"%")
        for key, n, size in (("s", 250, 600), ("s", 1, 350), ("i", 30, 100), ("i", 68, 70)):
            reply = c.call("SPOP", key, n)
            popped, kind, _ = parse(reply)
            assert kind == (b"~" if resp3 else b"*")
            assert len(popped) == n and len(set(popped)) == n
            rest, _, _ = parse(c.call("SMEMBERS", key))
            assert len(rest) == size - n
            assert not set(popped) & set(rest)
            pool = words(600) if key == "s" else [str(i) for i in range(100)]
            assert set(popped) <= {p.encode() for p in pool}
        one, kind, _ = parse(c.call("SPOP", "i"))
        assert kind == b"$" and one in {str(i).encode() for i in range(100)}
        last, kind, _ = parse(c.call("SPOP", "i", 5))
        assert kind == (b"~" if resp3 else b"*") and len(last) == 1 and last[0] != one
        assert c.call("EXISTS", "i") == b":0\r\n"


def test_srandmember_properties(both):
    for c in both.clients:
        c.call("SADD", "s", *words(1000))
        c.call("SADD", "i", *range(20))
        for key, pool in (("s", {w.encode() for w in words(1000)}), ("i", {str(i).encode() for i in range(20)})):
            size = len(pool)
            for n in (1, 2, size - 1, size, size + 5):
                got, kind, _ = parse(c.call("SRANDMEMBER", key, n))
                assert kind == b"*"
                assert len(got) == min(n, size) and len(set(got)) == len(got) and set(got) <= pool
            for n in (-1, -5, -(size * 3)):
                got, kind, _ = parse(c.call("SRANDMEMBER", key, n))
                assert kind == b"*" and len(got) == -n and set(got) <= pool
            one, kind, _ = parse(c.call("SRANDMEMBER", key))
            assert kind == b"$" and one in pool
            assert parse(c.call("SCARD", key))[0] == size
    # Picks spread over the set: 2000 repeated picks from 20 members see them all.
    for c in both.clients:
        got, _, _ = parse(c.call("SRANDMEMBER", "i", -2000))
        assert len(set(got)) == 20


def test_sscan_covers_large_sets(both):
    for c in both.clients:
        c.call("SADD", "s", *words(1500), *range(300))
        members = set(parse(c.call("SMEMBERS", "s"))[0])
        seen, cursor, rounds = set(), b"0", 0
        while True:
            (cursor, batch), _, _ = parse(c.call("SSCAN", "s", cursor, "COUNT", 50))
            seen |= set(batch)
            rounds += 1
            # The last round may remove members: they need not come back.
            c.call("SREM", "s", f"m{rounds}")
            members.discard(f"m{rounds}".encode())
            if cursor == b"0":
                break
        assert members <= seen
        assert rounds > 5
        (cursor, batch), _, _ = parse(c.call("SSCAN", "s", 0, "MATCH", "m1?", "COUNT", 100000))
        assert cursor == b"0" and sorted(batch) == sorted(f"m1{i}".encode() for i in range(10)
                                                        if f"m1{i}".encode() in members)


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def load_big_set(port, n, batch=1000):
    c = RawClient(port, timeout=120)
    c.call("FLUSHALL")
    try:
        for start in range(0, n, batch * 20):
            payload = b"".join(
                encode("SADD", "big", *[f"member:{i}" for i in range(s, min(s + batch, n))])
                for s in range(start, min(start + batch * 20, n), batch)
            )
            c.send_raw(payload)
            for _ in range(start, min(start + batch * 20, n), batch):
                assert c.read_reply().startswith(b":")
        assert c.call("SCARD", "big") == b":%d\r\n" % n
    finally:
        c.close()


def test_million_member_set_rss_not_above_redis(shoal, redis_server):
    """Loading 1M short members grows shoal's RSS no more than redis-server's."""
    n = 1_000_000
    growth = {}
    for name, proc in (("shoal", shoal), ("redis", redis_server)):
        c = RawClient(proc.port)
        c.call("FLUSHALL")
        # Memory freed by earlier tests would be reused and hide growth.
        c.call("MEMORY", "PURGE")
        c.close()
        before = rss_bytes(proc.proc.pid)
        load_big_set(proc.port, n)
        growth[name] = rss_bytes(proc.proc.pid) - before
    c = RawClient(shoal.port)
    assert c.call("OBJECT", "ENCODING", "big") == b"$9\r\nhashtable\r\n"
    assert c.call("SISMEMBER", "big", "member:999999") == b":1\r\n"
    c.close()
    for proc in (shoal, redis_server):
        c = RawClient(proc.port)
        c.call("FLUSHALL")
        c.close()
    assert growth["shoal"] <= growth["redis"], growth


@pytest.mark.parametrize("noop,changes", [
    (["SADD s 1 2", "SREM s 9", "SMOVE s t 9", "SMOVE s s 1", "SPOP s 0", "SINTERSTORE gone missing"], False),
    (["SADD s 3"], True),
    (["SREM s 9 1"], True),
    (["SMOVE s t 1"], True),
    (["SADD src 1", "SMOVE src s 1"], False),
    (["SADD src 5", "SMOVE src s 5"], True),
    (["SPOP s"], True),
    (["SUNIONSTORE s s"], True),
])
def test_watch_sees_only_real_changes(noop, changes, shoal, redis_server):
    """WATCH is triggered by a set command only when it changes the set, as in Redis."""
    replies = []
    for proc in (shoal, redis_server):
        a, b = RawClient(proc.port), RawClient(proc.port)
        a.call("FLUSHALL")
        a.call("SADD", "s", "1", "2")
        a.call("WATCH", "s")
        for line in noop:
            b.call(*line.split())
        a.call("MULTI")
        a.call("SCARD", "s")
        replies.append(a.call("EXEC"))
        a.close()
        b.close()
    assert replies[0] == replies[1], replies
    assert (replies[1] == b"*-1\r\n") == changes



def replica_pair(shoal_factory):
    primary, replica = shoal_factory(), shoal_factory()
    p, r = RawClient(primary.port), RawClient(replica.port)
    assert r.call("REPLICAOF", "127.0.0.1", str(primary.port)) == b"+OK\r\n"
    return p, r



def sync(p, r, mark, timeout=20):
    from conftest import wait_for

    p.call("SET", "marker", mark)
    want = b"$%d\r\n%s\r\n" % (len(mark), mark.encode())
    wait_for("replica sync", lambda: r.call("GET", "marker") == want, timeout=timeout)


def test_sets_replicate(shoal_factory):
    """Single-key set changes reach a replica: contents, encodings, emptied keys."""
    p, r = replica_pair(shoal_factory)
    p.call("SADD", "small", "3", "1", "2", "4")
    p.call("SADD", "big", *words(800))
    p.call("SADD", "gone", "x", "y")
    p.call("SPOP", "gone", "2")
    p.call("SREM", "big", *words(100))
    p.call("SREM", "small", "1")
    p.call("SPOP", "small")
    sync(p, r, "done")
    for cmd in (["SMEMBERS", "small"], ["SCARD", "big"], ["EXISTS", "gone"], ["OBJECT", "ENCODING", "small"],
                ["OBJECT", "ENCODING", "big"], ["SISMEMBER", "big", "m100"], ["SISMEMBER", "big", "m99"]):
        assert r.call(*cmd) == p.call(*cmd), cmd
    got = sorted(parse(r.call("SMEMBERS", "big"))[0])
    assert got == sorted(parse(p.call("SMEMBERS", "big"))[0]) and len(got) == 700
    p.close()
    r.close()


def test_multi_key_set_commands_replicate(shoal_factory):
    p, r = replica_pair(shoal_factory)
    p.call("SADD", "src", "1", "2", "3")
    p.call("SADD", "other", "2", "3", "4")
    for cmd in (["SMOVE", "src", "dst", "1"], ["SUNIONSTORE", "u", "src", "other"],
                ["SINTERSTORE", "i", "src", "other"], ["SDIFFSTORE", "d", "other", "src"]):
        p.call(*cmd)
    sync(p, r, "done", timeout=5)
    for key in ("src", "dst", "u", "i", "d"):
        assert r.call("SMEMBERS", key) == p.call("SMEMBERS", key), key


def test_one_member_sets_replicate(shoal_factory):
    p, r = replica_pair(shoal_factory)
    p.call("SADD", "n", "5")
    p.call("SADD", "w", "word")
    p.call("SADD", "two", "a", "b")
    p.call("SREM", "two", "a")
    sync(p, r, "done", timeout=5)
    for key in ("n", "w", "two"):
        assert r.call("SMEMBERS", key) == p.call("SMEMBERS", key), key
