"""Differential tests of the list type: each scenario runs against redis-server 7
and shoal-node, in RESP2 and RESP3, and the exact reply bytes must match. Lists
are deterministic, so every reply is compared byte for byte; scenarios use long
and many elements to cross the packed-chunk threshold (8 KB) both ways."""

import pytest

from conftest import RawClient
from test_compat import run, same

BIG = "x" * 5000
MID = "m" * 300


def many(cmd, key, n, prefix="e"):
    return f"{cmd} {key} " + " ".join(f"{prefix}{i}" for i in range(n))


SCENARIOS = {
    "push_basic": [
        "LPUSH l a", "LPUSH l b c", "RPUSH l d e", "LRANGE l 0 -1", "LLEN l", "TYPE l",
        "RPUSH l2 ''", "LRANGE l2 0 -1", "LLEN l2", "LLEN missing", "OBJECT ENCODING l",
        "LPUSHX missing a", "RPUSHX missing a", "EXISTS missing", "LPUSHX l x y", "RPUSHX l z",
        "LRANGE l 0 -1", "LPUSH", "LPUSH l", "RPUSH l", "LPUSHX l", "RPUSHX", "LLEN", "LLEN l x",
        "SET s v", "LPUSH s a", "RPUSH s a", "LPUSHX s a", "RPUSHX s a", "LLEN s", "GET s",
        "HSET h f v", "LPUSH h a", "LLEN h", "lpush L1 a", "RpUsH L1 b", "LRANGE L1 0 -1",
        "RPUSH bin '\\x00\\xff\\r\\n'", "LRANGE bin 0 -1",
    ],
    "pop_count": [
        "RPUSH l a b c d e", "LPOP l", "RPOP l", "LRANGE l 0 -1", "LPOP l 2", "RPUSH l f g h",
        "RPOP l 2", "LRANGE l 0 -1", "LPOP l 0", "RPOP l 0", "LPOP l 100", "EXISTS l",
        "LPOP l", "RPOP l", "LPOP l 1", "RPOP l 1", "LPOP l 0", "RPOP l 0",
        "RPUSH l a b c", "RPOP l 100", "EXISTS l", "RPUSH l a", "RPOP l", "EXISTS l",
        "RPUSH l a b", "LPOP l -1", "LPOP l x", "RPOP l -1", "RPOP l 1.5", "LPOP l ''",
        "LPOP l 1 2", "RPOP l 1 2", "LPOP", "RPOP", "LPOP l 9223372036854775807",
        "RPUSH l a", "LPOP l 9223372036854775808", "LPOP l -9223372036854775808",
        "SET s v", "LPOP s", "RPOP s", "LPOP s 0", "LPOP s 2", "LPOP s -1", "LPOP s x",
        "LPOP missing -1", "LPOP missing 0", "RPOP missing 3",
    ],
    "lrange_lindex": [
        "RPUSH l a b c d e f", "LRANGE l 0 0", "LRANGE l 0 -1", "LRANGE l -2 -1", "LRANGE l -100 2",
        "LRANGE l 2 100", "LRANGE l 4 2", "LRANGE l 6 10", "LRANGE l -1 -2", "LRANGE l -7 -7",
        "LRANGE l 1 -5", "LRANGE l 1 -6", "LRANGE l 9223372036854775807 -9223372036854775808",
        "LRANGE l -9223372036854775808 9223372036854775807", "LRANGE l a 1", "LRANGE l 1 b",
        "LRANGE l 1.0 2", "LRANGE l 0 9223372036854775808", "LRANGE missing 0 -1",
        "LRANGE missing a b", "LRANGE l 0", "LRANGE l 0 1 2",
        "LINDEX l 0", "LINDEX l 5", "LINDEX l 6", "LINDEX l -1", "LINDEX l -6", "LINDEX l -7",
        "LINDEX l 9223372036854775807", "LINDEX l -9223372036854775808", "LINDEX l x",
        "LINDEX l 1.5", "LINDEX missing 0", "LINDEX missing x", "LINDEX l", "LINDEX l 0 1",
        "SET s v", "LRANGE s 0 -1", "LRANGE s a b", "LINDEX s 0", "LINDEX s x", "LLEN s",
    ],
    "lset": [
        "RPUSH l a b c", "LSET l 0 A", "LSET l -1 C", "LSET l 1 ''", "LRANGE l 0 -1",
        "LSET l 3 x", "LSET l -4 x", "LSET l 9223372036854775807 x", "LSET l -9223372036854775808 x",
        "LSET l x v", "LSET l 1.5 v", "LSET missing 0 v", "LSET missing x v", "EXISTS missing",
        "SET s v", "LSET s 0 v", "LSET s x v", "LSET l 0", "LSET l 0 a b",
        f"LSET l 1 {BIG}", "LINDEX l 1", "LLEN l", "LSET l 1 small", "LRANGE l 0 -1",
    ],
    "linsert": [
        "RPUSH l a b c", "LINSERT l BEFORE b x", "LINSERT l AFTER b y", "LINSERT l before a first",
        "LINSERT l after c last", "LRANGE l 0 -1", "LINSERT l BEFORE zz v", "LINSERT l AFTER zz v",
        "LINSERT missing BEFORE a v", "EXISTS missing", "LINSERT l MIDDLE a v",
        "LINSERT missing MIDDLE a v", "LINSERT l BEFORE a", "LINSERT l", "LINSERT l BEFORE a b c",
        "SET s v", "LINSERT s BEFORE a v", "LINSERT s MIDDLE a v", "RPUSH d a a a",
        "LINSERT d AFTER a b", "LRANGE d 0 -1", "LINSERT d BEFORE '' x", "RPUSH d ''",
        "LINSERT d BEFORE '' x", "LRANGE d 0 -1", f"LINSERT d AFTER b {BIG}", "LLEN d",
        "LINDEX d 2", "LINDEX d 1",
    ],
    "lrem": [
        "RPUSH l a b a c a d a", "LREM l 2 a", "LRANGE l 0 -1", "LREM l -1 a", "LRANGE l 0 -1",
        "LREM l 0 zz", "LREM l 0 a", "LRANGE l 0 -1", "LREM l 100 b", "LREM l -100 c",
        "LRANGE l 0 -1", "LREM l 0 d", "EXISTS l", "LREM missing 0 a", "LREM l x a", "LREM l 1.5 a",
        "LREM missing x a", "RPUSH l a b a", "LREM l 9223372036854775807 a", "LRANGE l 0 -1",
        "RPUSH l b a b", "LREM l -9223372036854775808 b", "LRANGE l 0 -1", "SET s v", "LREM s 0 a",
        "LREM s x a", "LREM l 0", "LREM l", "LREM l 0 a b",
    ],
    "ltrim": [
        "RPUSH l a b c d e f", "LTRIM l 1 -2", "LRANGE l 0 -1", "LTRIM l 0 100", "LRANGE l 0 -1",
        "LTRIM l -2 -1", "LRANGE l 0 -1", "LTRIM l -100 0", "LRANGE l 0 -1", "LTRIM l 1 0",
        "EXISTS l", "RPUSH l a b c", "LTRIM l 5 10", "EXISTS l", "RPUSH l a b c", "LTRIM l 2 1",
        "EXISTS l", "RPUSH l a b c", "LTRIM l -1 -3", "EXISTS l", "LTRIM missing 0 1",
        "LTRIM missing x 1", "RPUSH l a b c", "LTRIM l x 1", "LTRIM l 0 y", "LTRIM l 0 1.5",
        "LTRIM l -9223372036854775808 9223372036854775807", "LRANGE l 0 -1",
        "LTRIM l 9223372036854775807 -9223372036854775808", "EXISTS l", "SET s v", "LTRIM s 0 1",
        "LTRIM s x 1", "LTRIM l 0", "LTRIM l 0 1 2",
    ],
    "lpos": [
        "RPUSH l a b c 1 2 3 c c", "LPOS l c", "LPOS l c RANK 2", "LPOS l c RANK -1",
        "LPOS l c RANK -2", "LPOS l c RANK 4", "LPOS l c RANK -4", "LPOS l zz", "LPOS l c COUNT 2",
        "LPOS l c COUNT 0", "LPOS l c COUNT 10", "LPOS l c COUNT 0 RANK 2", "LPOS l c COUNT 2 RANK -1",
        "LPOS l c COUNT 0 RANK -2", "LPOS l zz COUNT 0", "LPOS l c MAXLEN 3", "LPOS l c MAXLEN 2",
        "LPOS l c MAXLEN 3 COUNT 0", "LPOS l c RANK -1 MAXLEN 1", "LPOS l c RANK -1 MAXLEN 3 COUNT 0",
        "LPOS l c RANK 2 MAXLEN 6", "LPOS l c RANK 2 MAXLEN 7", "LPOS l c MAXLEN 0", "LPOS l c RANK 0",
        "LPOS l c RANK x", "LPOS l c RANK 1.5", "LPOS l c RANK", "LPOS l c COUNT -1", "LPOS l c COUNT x",
        "LPOS l c COUNT", "LPOS l c MAXLEN -1", "LPOS l c MAXLEN x", "LPOS l c MAXLEN", "LPOS l c BOGUS 1",
        "LPOS l c RANK 1 BOGUS", "LPOS l c rank 1 count 1 maxlen 100", "LPOS l c RANK 1 RANK -1",
        "LPOS l c COUNT 1 COUNT 0", "LPOS l c RANK 9223372036854775807", "LPOS l c RANK -9223372036854775807",
        "LPOS l c RANK -9223372036854775808", "LPOS l c RANK -9223372036854775808 COUNT 0",
        "LPOS l c RANK 9223372036854775808", "LPOS l c COUNT 9223372036854775807",
        "LPOS l c MAXLEN 9223372036854775807", "LPOS missing c", "LPOS missing c COUNT 1",
        "LPOS missing c RANK 0", "LPOS missing c COUNT -1", "SET s v", "LPOS s c", "LPOS s c COUNT 1",
        "LPOS s c RANK 0", "LPOS l", "LPOS",
    ],
    "lmove": [
        "RPUSH a 1 2 3", "LMOVE a b LEFT RIGHT", "LMOVE a b RIGHT LEFT", "LRANGE a 0 -1",
        "LRANGE b 0 -1", "LMOVE a b left left", "EXISTS a", "LRANGE b 0 -1", "LMOVE a b LEFT LEFT",
        "LMOVE b b LEFT RIGHT", "LRANGE b 0 -1", "LMOVE b b RIGHT LEFT", "LRANGE b 0 -1",
        "LMOVE b b LEFT LEFT", "LMOVE b b RIGHT RIGHT", "LRANGE b 0 -1", "RPUSH one x",
        "LMOVE one one LEFT RIGHT", "LRANGE one 0 -1", "LMOVE one one RIGHT LEFT", "EXISTS one",
        "SET s v", "LMOVE b s LEFT LEFT", "LRANGE b 0 -1", "LMOVE s b LEFT LEFT", "LMOVE s s LEFT LEFT",
        "LMOVE missing s LEFT LEFT", "LMOVE missing b LEFT LEFT", "LMOVE b c UP LEFT",
        "LMOVE b c LEFT DOWN", "LMOVE missing c UP DOWN", "LMOVE s c UP LEFT", "EXISTS c",
        "LMOVE b c", "LMOVE b c LEFT", "LMOVE b c LEFT LEFT x", "RPOPLPUSH b c", "RPOPLPUSH b c",
        "LRANGE b 0 -1", "LRANGE c 0 -1", "RPOPLPUSH c c", "LRANGE c 0 -1", "RPOPLPUSH missing c",
        "RPOPLPUSH c s", "LRANGE c 0 -1", "RPOPLPUSH s c", "RPOPLPUSH b", "RPOPLPUSH b c d",
        "RPUSH last z", "RPOPLPUSH last new", "EXISTS last", "LRANGE new 0 -1", "HSET h f v",
        "RPOPLPUSH new h", "LMOVE new h RIGHT RIGHT", "LRANGE new 0 -1",
    ],
    "lmpop": [
        "RPUSH a 1 2 3", "RPUSH b 4 5", "LMPOP 1 a LEFT", "LMPOP 1 a RIGHT", "LMPOP 2 missing b LEFT",
        "LMPOP 2 missing b RIGHT COUNT 10", "EXISTS b", "LMPOP 2 a b LEFT COUNT 5", "EXISTS a",
        "LMPOP 2 a b LEFT", "LMPOP 1 a left count 1", "RPUSH a 1 2 3 4", "LMPOP 1 a RIGHT COUNT 2",
        "LMPOP 1 a LEFT COUNT 9223372036854775807", "LMPOP 0 a LEFT", "LMPOP -1 a LEFT",
        "LMPOP x a LEFT", "LMPOP 1.5 a LEFT", "LMPOP 9223372036854775807 a LEFT",
        "LMPOP 9223372036854775808 a LEFT", "LMPOP 3 a b LEFT", "LMPOP 2 a LEFT", "LMPOP 1 a MIDDLE",
        "LMPOP 1 a LEFT COUNT 0", "LMPOP 1 a LEFT COUNT -1", "LMPOP 1 a LEFT COUNT x",
        "LMPOP 1 a LEFT COUNT", "LMPOP 1 a LEFT COUNT 1 COUNT 1", "LMPOP 1 a LEFT BOGUS",
        "LMPOP 1 a LEFT BOGUS 1", "LMPOP 1 a", "LMPOP 1", "LMPOP", "RPUSH a x", "SET s v",
        "LMPOP 2 s a LEFT", "LMPOP 2 a s LEFT", "LMPOP 2 missing s LEFT", "LMPOP 1 s LEFT COUNT 0",
        "LMPOP 2 a a LEFT COUNT 2", "RPUSH a 1 2 3", "LMPOP 2 a a LEFT COUNT 2", "LRANGE a 0 -1", "RPUSH c 1 2", "LMPOP 3 missing1 missing2 c RIGHT",
        "COMMAND GETKEYS LMPOP 2 a b LEFT", "COMMAND GETKEYS LMPOP 1 a RIGHT COUNT 2",
        "COMMAND GETKEYS LMOVE a b LEFT RIGHT", "COMMAND GETKEYS RPOPLPUSH a b",
    ],
    "large_lists": [
        many("RPUSH", "l", 3000), "LLEN l", "LINDEX l 0", "LINDEX l 1499", "LINDEX l 1500",
        "LINDEX l -1", "LINDEX l -3000", "LINDEX l -3001", "LRANGE l 1495 1505", "LRANGE l -5 -1",
        "LRANGE l 2990 4000", "LSET l 1500 middle", "LSET l -1 tail", "LINDEX l 1500",
        "LINSERT l BEFORE e1000 before1000", "LINSERT l AFTER e2000 after2000", "LLEN l",
        "LRANGE l 998 1002", "LRANGE l 1998 2004", "LPOS l e2999", "LPOS l e5 RANK -1",
        "LPOS l e2999 MAXLEN 2000", "LPOS l e2999 RANK -1 MAXLEN 2", "LREM l 0 e7", "LREM l -1 e8",
        "LLEN l", "LTRIM l 100 -100", "LLEN l", "LINDEX l 0", "LINDEX l -1", "LRANGE l 0 3",
        "LPOP l 5", "RPOP l 5", "LLEN l", many("LPUSH", "l", 500, "f"), "LRANGE l 0 4", "LLEN l",
        "LMPOP 1 l RIGHT COUNT 3", "LTRIM l 0 9", "LRANGE l 0 -1", "OBJECT ENCODING l",
        "LPOP l 100", "EXISTS l",
    ],
    "long_elements": [
        f"RPUSH l {BIG} {BIG} small", f"LPUSH l {BIG}", "LLEN l", "LINDEX l 3", "LRANGE l 3 3",
        f"LINSERT l BEFORE small {BIG}", "LRANGE l -2 -1", f"LREM l 2 {BIG}", "LLEN l",
        "LRANGE l 2 -1", f"LPOS l {BIG} COUNT 0", f"RPUSH m {MID} {MID} {MID}", many("RPUSH", "m", 100),
        f"LREM m 0 {MID}", "LLEN m", "LRANGE m 0 2", f"LSET m 50 {BIG}", f"LSET m 51 {BIG}",
        "LRANGE m 49 49", "LRANGE m 52 53", f"LMOVE m l LEFT RIGHT", "LLEN l", "RPOP l",
        "LTRIM m 50 51", "LLEN m", "RPOP m", "LPOP m 5", "EXISTS m",
    ],
    # Redis' list.tcl "List ziplist of various encodings", without its DUMP.
    "various_encodings": [
        "LPUSH k 127", "LPUSH k 32767", "LPUSH k 2147483647", "LPUSH k 9223372036854775808",
        "LPUSH k 0", "LPUSH k 12", "LPUSH k -1", "LPUSH k -9223372036854775808", "LPUSH k 007",
        "LPUSH k ' 1'", "LPUSH k 1.5", "LPUSH k " + "x" * 31, "LPUSH k " + "x" * 8191,
        "LPUSH k " + "x" * 65535, "LRANGE k 0 -1", "LPOS k 12", "LPOS k 007", "LREM k 0 7",
        "LINSERT k BEFORE 0 1", "LINDEX k -2", "LLEN k",
    ],
    "queue_patterns": [
        "LPUSH q j1 j2 j3", "RPOPLPUSH q processing", "LRANGE processing 0 -1",
        "LREM processing 1 j1", "LMOVE q processing RIGHT LEFT", "LLEN q", "LLEN processing",
        "RPUSH q j4", "LMPOP 2 q processing RIGHT COUNT 10", "LMPOP 2 q processing RIGHT COUNT 10",
        "LMPOP 2 q processing RIGHT", "EXISTS q processing", "MULTI", "RPUSH t a b", "LPOP t",
        "LLEN t", "EXEC", "RPUSH e a", "EXPIRE e 100", "RPUSH e b", "TTL e", "LPOP e 2", "TTL e",
        "EXISTS e",
    ],
}


@pytest.mark.parametrize("resp3", [False, True], ids=["resp2", "resp3"])
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_lists_match_redis(name, resp3, shoal, redis_server):
    commands = SCENARIOS[name]
    got = run(shoal.port, commands, resp3)
    want = run(redis_server.port, commands, resp3)
    diffs = [
        f"  {line[:120]!r}\n    redis: {w[:300]!r}\n    shoal: {g[:300]!r}"
        for line, w, g in zip(commands, want, got)
        if not same(line, w, g)
    ]
    assert not diffs, f"{len(diffs)} replies differ from redis-server:\n" + "\n".join(diffs)


def test_object_encoding_is_quicklist(shoal, redis_server):
    # 7.0 reports quicklist for every list, even a one-element one.
    for port in (shoal.port, redis_server.port):
        c = RawClient(port)
        try:
            c.call("FLUSHALL")
            c.call("RPUSH", "one", "a")
            assert c.call("OBJECT", "ENCODING", "one") == b"$9\r\nquicklist\r\n"
            c.call("RPUSH", "big", *[b"v" * 100] * 200)
            assert c.call("OBJECT", "ENCODING", "big") == b"$9\r\nquicklist\r\n"
        finally:
            c.close()


def test_watch_sees_list_changes_only_when_they_happen(shoal, redis_server):
    # A failed or no-op LREM/LINSERT/LMOVE does not touch a watched key; a pop does.
    script = [
        ("RPUSH", "w", "a", "b"), ("WATCH", "w"), ("LREM", "w", "0", "zz"),
        ("LINSERT", "w", "BEFORE", "zz", "x"), ("LSET", "w", "9", "x"), ("MULTI",), ("LLEN", "w"),
        ("EXEC",), ("WATCH", "w"), ("LPOP", "w"), ("MULTI",), ("LLEN", "w"), ("EXEC",),
    ]
    for port in (shoal.port, redis_server.port):
        c = RawClient(port)
        try:
            c.call("FLUSHALL")
            replies = [c.call(*cmd) for cmd in script]
        finally:
            c.close()
        if port == shoal.port:
            ours = replies
        else:
            assert ours == replies


def test_big_list_round_trip(shoal):
    # 20k elements of mixed sizes through the deque of chunks, both ends.
    c = RawClient(shoal.port)
    try:
        c.call("FLUSHALL")
        values = [(b"%d-" % i) * (1 + i % 50) for i in range(20000)]
        for i in range(0, len(values), 1000):
            c.call("RPUSH", "big", *values[i:i + 1000])
        assert c.call("LLEN", "big") == b":20000\r\n"
        for i in (0, 1, 9999, 10000, 19999):
            v = values[i]
            assert c.call("LINDEX", "big", str(i)) == b"$%d\r\n%s\r\n" % (len(v), v)
        got = c.call("LRANGE", "big", "-3", "-1")
        assert got == b"*3\r\n" + b"".join(b"$%d\r\n%s\r\n" % (len(v), v) for v in values[-3:])
        got = c.call("RPOP", "big", "2")
        assert got == b"*2\r\n" + b"".join(b"$%d\r\n%s\r\n" % (len(v), v) for v in values[-1:-3:-1])
        assert c.call("LTRIM", "big", "1", "-1") == b"+OK\r\n"
        assert c.call("LLEN", "big") == b":19997\r\n"
        assert c.call("LPOP", "big", "30000").startswith(b"*19997\r\n")
        assert c.call("EXISTS", "big") == b":0\r\n"
    finally:
        c.close()


def random_commands(seed, n):
    """A reproducible mix of every list command with valid and invalid arguments,
    on a few keys (one of them a string), with elements short and long enough
    to cross the chunk size."""
    import random

    rng = random.Random(seed)
    keys = ["a", "b", "c"] * 3 + ["s"]
    vals = ["x", "y", "z", "", "12", "-3", "x" * 3000, "y" * 700]
    idx = lambda: rng.choice([rng.randint(-12, 12), rng.randint(-400, 400), "9223372036854775807", "-9223372036854775808", "q"])
    key = lambda: rng.choice(keys)
    val = lambda: rng.choice(vals)
    side = lambda: rng.choice(["LEFT", "RIGHT", "left", "UP"])
    out = ["SET s str"]
    for _ in range(n):
        k = key()
        c = rng.randrange(17)
        if c == 0:
            out.append([rng.choice(["LPUSH", "RPUSH"]), k] + [val() for _ in range(rng.choice([1, 2, 5, 60, 200]))])
        elif c == 1:
            out.append([rng.choice(["LPUSHX", "RPUSHX"]), k, val()])
        elif c == 2:
            out.append([rng.choice(["LPOP", "RPOP"]), k] + rng.choice([[], [str(rng.randint(-1, 5))], ["50"], ["0"]]))
        elif c == 3:
            out.append(["LRANGE", k, str(idx()), str(idx())])
        elif c == 4:
            out.append(["LINDEX", k, str(idx())])
        elif c == 5:
            out.append(["LSET", k, str(idx()), val()])
        elif c == 6:
            out.append(["LINSERT", k, rng.choice(["BEFORE", "AFTER", "before", "MID"]), val(), val()])
        elif c == 7:
            out.append(["LREM", k, str(rng.randint(-3, 3)), val()])
        elif c == 8:
            out.append(["LTRIM", k, str(idx()), str(idx())])
        elif c == 9:
            opts = []
            for name, gen in (("RANK", lambda: rng.choice([1, 2, -1, -2, 0, 5])), ("COUNT", lambda: rng.choice([0, 1, 3, -1])), ("MAXLEN", lambda: rng.choice([0, 1, 10, -1]))):
                if rng.random() < 0.4:
                    opts += [name, str(gen())]
            out.append(["LPOS", k, val()] + opts)
        elif c == 10:
            out.append(["LMOVE", k, key(), side(), side()])
        elif c == 11:
            out.append(["RPOPLPUSH", k, key()])
        elif c == 12:
            ks = [key() for _ in range(rng.randint(1, 3))]
            extra = rng.choice([[], ["COUNT", str(rng.choice([1, 2, 100, 0]))]])
            out.append(["LMPOP", str(len(ks))] + ks + [side()] + extra)
        elif c == 13:
            out.append(["LLEN", k])
        elif c == 14:
            out.append(["LRANGE", k, "0", "-1"])
        elif c == 15:
            out.append(["EXISTS", k])
        else:
            out.append(["TYPE", k])
    return out


def run_words(port, commands, resp3):
    c = RawClient(port)
    try:
        if resp3:
            c.call("HELLO", "3")
        c.call("FLUSHALL")
        return [c.call(*(cmd.split() if isinstance(cmd, str) else cmd)) for cmd in commands]
    finally:
        c.close()


@pytest.mark.parametrize("resp3", [False, True], ids=["resp2", "resp3"])
@pytest.mark.parametrize("seed", range(6))
def test_random_sequences_match_redis(seed, resp3, shoal, redis_server):
    commands = random_commands(seed, 400)
    got = run_words(shoal.port, commands, resp3)
    want = run_words(redis_server.port, commands, resp3)
    for i, (cmd, w, g) in enumerate(zip(commands, want, got)):
        shown = " ".join(a if len(a) < 20 else f"<{len(a)} bytes>" for a in (cmd.split() if isinstance(cmd, str) else cmd))
        assert g == w, f"step {i}: {shown}\n  redis: {w[:300]!r}\n  shoal: {g[:300]!r}"


def test_lists_replicate_exactly(shoal_factory):
    # Every list change reaches a replica as the list's new state: the replica
    # ends with the primary's lists, element for element. Single-key commands
    # only: a command changing two keys (LMOVE a b) journals a BATCH, which the
    # replica's stream loop (repl/replica.rs) hands to effect::apply instead of
    # an effect::Applier, dropping the link; reported, to fix there.
    import time

    primary, replica = shoal_factory(), shoal_factory()
    p, r = RawClient(primary.port), RawClient(replica.port)
    try:
        assert r.call("REPLICAOF", "127.0.0.1", str(primary.port)) == b"+OK\r\n"
        p.call("RPUSH", "q", *[f"e{i}" for i in range(3000)])
        p.call("LPUSH", "q", "x" * 9000)
        p.call("LINSERT", "q", "AFTER", "e5", "ins")
        p.call("LSET", "q", "-1", "last")
        p.call("LREM", "q", "0", "e7")
        p.call("LTRIM", "q", "0", "2000")
        p.call("LMOVE", "q", "q", "LEFT", "RIGHT")
        p.call("RPOPLPUSH", "q", "q")
        p.call("LMPOP", "2", "nokey", "q", "RIGHT", "COUNT", "5")
        p.call("RPUSH", "d", "one")
        p.call("RPUSH", "gone", "a")
        p.call("LPOP", "gone")
        p.call("RPUSH", "tiny", "a", "b")
        p.call("LMOVE", "tiny", "tiny", "LEFT", "RIGHT")
        keys = ["q", "d", "gone", "tiny"]
        want = [p.call("LRANGE", k, "0", "-1") for k in keys]
        assert want[0].startswith(b"*199")
        deadline = time.time() + 15
        while True:
            got = [r.call("LRANGE", k, "0", "-1") for k in keys]
            if got == want or time.time() > deadline:
                break
            time.sleep(0.1)
        assert got == want
        assert r.call("EXISTS", "gone") == b":0\r\n"
    finally:
        p.close()
        r.close()
