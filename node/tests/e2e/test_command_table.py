"""The command table against redis-server 7's: every command Shoal serves must
report Redis' arity, flags, key positions and ACL categories, since cluster
clients route by them."""

import redis

from conftest import RawClient


def table(port):
    r = redis.Redis(port=port, decode_responses=True)
    try:
        return r.command()
    finally:
        r.close()


def flatten(cmds):
    out = {}
    for name, info in cmds.items():
        out[name] = info
        for sub in info.get("subcommands", []) or []:
            out[sub[0]] = {
                "name": sub[0], "arity": sub[1], "flags": sub[2], "first_key_pos": sub[3],
                "last_key_pos": sub[4], "step_count": sub[5], "acl_categories": sub[6],
            }
    return out


def test_table_matches_redis(shoal, redis_server):
    ours = flatten(table(shoal.port))
    ref = flatten(table(redis_server.port))
    assert len(ours) > 90
    # Every group of commands is listed (COMMAND once listed only the main table).
    for name in ("get", "hset", "lpush", "lmpop", "sadd", "sintercard", "zadd", "zunionstore",
                 "multi", "exec", "watch", "debug", "client|list"):
        assert name in ours, f"COMMAND does not list {name}"
    # client|setinfo is Redis 7.2; 7.0 does not know it, but redis-py 5 sends it.
    # syncslots is Shoal's slot migration link (Valkey 9 has its own).
    missing = [n for n in ours if n not in ref and n not in ("client|setinfo", "syncslots")]
    assert not missing, f"commands unknown to redis-server 7: {missing}"
    diffs = []
    for name, mine in ours.items():
        if name not in ref:
            continue
        theirs = ref[name]
        for field in ("arity", "first_key_pos", "last_key_pos", "step_count"):
            if mine[field] != theirs[field]:
                diffs.append(f"{name} {field}: redis {theirs[field]} shoal {mine[field]}")
        for field in ("flags", "acl_categories"):
            if set(mine[field]) != set(theirs[field]):
                diffs.append(f"{name} {field}: redis {sorted(theirs[field])} shoal {sorted(mine[field])}")
    assert not diffs, "\n".join(diffs)


def test_command_count_and_docs(shoal):
    c = RawClient(shoal.port)
    count = c.call("COMMAND", "COUNT")
    assert count == b":%d\r\n" % len(table(shoal.port))
    docs = c.call("COMMAND", "DOCS", "get")
    assert docs == (
        b"*2\r\n$3\r\nget\r\n*6\r\n$7\r\nsummary\r\n$22\r\nGet the value of a key\r\n"
        b"$5\r\nsince\r\n$5\r\n1.0.0\r\n$5\r\ngroup\r\n$6\r\nstring\r\n"
    )
    c.close()
