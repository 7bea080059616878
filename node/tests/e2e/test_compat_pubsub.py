"""Differential tests of pub/sub: the same steps run against redis-server 7 and
shoal-node, in RESP2 and RESP3, and every byte each client received must match:
confirmations, messages and pattern messages, counts, RESP2 subscribed mode
(its PING and its refusals), PUBSUB introspection, CLIENT REPLY, RESET."""

import time

import pytest

from conftest import RawClient, encode


def read_all(c, first=1.0, idle=0.1):
    """Everything the server sent: waits up to `first` seconds for something,
    then reads until it stays quiet for `idle` seconds (a step that gets no
    reply costs `first`; a loaded machine does not truncate one that does)."""
    out = c.buf
    c.buf = b""
    c.sock.settimeout(idle if out else first)
    try:
        while True:
            chunk = c.sock.recv(65536)
            if not chunk:
                break
            out += chunk
            c.sock.settimeout(idle)
    except OSError:
        pass
    c.sock.settimeout(10)
    return out


def scenario(port, resp3):
    sub, sub2, pub = RawClient(port), RawClient(port), RawClient(port)
    seen = []

    def step(client, *args):
        client.send_raw(encode(*args))
        seen.append((args, read_all(client)))

    try:
        pub.call("FLUSHALL")
        if resp3:
            for c in (sub, sub2, pub):
                c.call("HELLO", "3")
        step(sub, "SUBSCRIBE", "news", "sport")
        step(sub, "SUBSCRIBE", "news")
        step(sub, "PSUBSCRIBE", "n*", "s?ort")
        step(sub2, "PSUBSCRIBE", "n*")
        step(pub, "PUBLISH", "news", "hello")
        seen.append(("sub got", read_all(sub)))
        seen.append(("sub2 got", read_all(sub2)))
        step(pub, "PUBLISH", "sport", "goal")
        seen.append(("sub got", read_all(sub)))
        step(pub, "PUBLISH", "nobody", "x")
        seen.append(("sub got", read_all(sub)))
        step(pub, "PUBLISH", "weather", "rain")
        step(pub, "PUBSUB", "CHANNELS", "n*")
        step(pub, "PUBSUB", "NUMSUB", "news", "sport", "none")
        step(pub, "PUBSUB", "NUMSUB")
        step(pub, "PUBSUB", "NUMPAT")
        step(pub, "PUBSUB", "CHANNELS", "a", "b")
        step(pub, "PUBSUB", "NOSUCH")
        step(pub, "PUBSUB", "HELP")
        # While subscribed: RESP2 refuses other commands, PING answers as a message.
        step(sub, "PING")
        step(sub, "PING", "hi")
        step(sub, "GET", "k")
        step(sub, "SET", "k", "v")
        step(sub, "UNSUBSCRIBE", "sport", "never")
        step(sub, "PUNSUBSCRIBE", "s?ort")
        step(sub, "PUNSUBSCRIBE", "n*")
        step(sub, "UNSUBSCRIBE")
        step(sub, "UNSUBSCRIBE")
        step(sub, "PUNSUBSCRIBE")
        step(sub, "PING")
        step(sub, "GET", "k")
        # Shard channels count apart from channels and patterns.
        step(sub, "SSUBSCRIBE", "orders")
        step(sub, "SUBSCRIBE", "chan")
        step(pub, "SPUBLISH", "orders", "o1")
        seen.append(("sub got", read_all(sub)))
        step(pub, "PUBLISH", "orders", "not-shard")
        step(pub, "PUBSUB", "SHARDCHANNELS")
        step(pub, "PUBSUB", "SHARDNUMSUB", "orders", "x")
        step(sub, "SUNSUBSCRIBE", "orders")
        step(sub, "SUNSUBSCRIBE")
        # RESET drops every subscription.
        step(sub, "RESET")
        step(pub, "PUBLISH", "chan", "after-reset")
        seen.append(("sub got", read_all(sub)))
        # CLIENT REPLY: replies dropped, messages (and RESP3 confirmations) kept.
        if resp3:
            sub.call("HELLO", "3")
        step(sub, "CLIENT", "REPLY", "OFF")
        step(sub, "SUBSCRIBE", "quiet")
        step(sub, "PING")
        step(pub, "PUBLISH", "quiet", "m")
        seen.append(("sub got", read_all(sub)))
        step(sub, "CLIENT", "REPLY", "ON")
        step(sub2, "CLIENT", "REPLY", "SKIP")
        step(sub2, "PING")
        step(sub2, "PING", "shown")
        step(sub2, "CLIENT", "REPLY", "MAYBE")
        step(sub, "SUBSCRIBE")
        step(pub, "PUBLISH")
        return seen
    finally:
        for c in (sub, sub2, pub):
            c.close()


@pytest.mark.parametrize("resp3", [False, True], ids=["resp2", "resp3"])
def test_pubsub_matches_redis(resp3, shoal, redis_server):
    want = scenario(redis_server.port, resp3)
    got = scenario(shoal.port, resp3)
    diffs = [f"  {w[0]!r}\n    redis: {w[1]!r}\n    shoal: {g[1]!r}" for w, g in zip(want, got) if w != g]
    assert not diffs, f"{len(diffs)} steps differ from redis-server:\n" + "\n".join(diffs)


def test_slow_subscriber_is_cut_at_the_pubsub_output_limit(shoal_factory):
    node = shoal_factory("--client-output-buffer-limit", "pubsub 1mb 0 0")
    sub, pub = RawClient(node.port), RawClient(node.port)
    try:
        assert sub.call("SUBSCRIBE", "firehose") == b"*3\r\n$9\r\nsubscribe\r\n$8\r\nfirehose\r\n:1\r\n"
        # The subscriber never reads: once what is queued for it passes the hard
        # limit it is disconnected, and its subscription goes with it.
        big = "x" * 65536
        deadline = time.time() + 20
        delivered = None
        while time.time() < deadline:
            for _ in range(32):
                pub.send_raw(encode("PUBLISH", "firehose", big))
            replies = [pub.read_reply() for _ in range(32)]
            delivered = replies[-1]
            if delivered == b":0\r\n":
                break
        assert delivered == b":0\r\n", "the slow subscriber was never cut"
        assert sub.closed_by_peer()
    finally:
        sub.close()
        pub.close()


def client_fields(port):
    """CLIENT LIST's flags and subscription counts for a subscribed client and
    a blocked one, as another client sees them."""
    sub, blocked, c = RawClient(port), RawClient(port), RawClient(port)
    try:
        ids = [int(x.call("CLIENT", "ID")[1:-2]) for x in (sub, blocked)]
        sub.call("SUBSCRIBE", "a", "b")
        read_all(sub, first=0.2)
        sub.send_raw(encode("PSUBSCRIBE", "p*"))
        sub.send_raw(encode("SSUBSCRIBE", "s"))
        read_all(sub, first=0.3)
        blocked.send_raw(encode("BLPOP", "nothing-here", "0"))
        time.sleep(0.2)
        out = []
        for line in c.call("CLIENT", "LIST").decode().split("\n"):
            fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
            if fields.get("id") in {str(i) for i in ids}:
                out.append(tuple(fields[k] for k in ("flags", "sub", "psub", "ssub")))
        return sorted(out)
    finally:
        for x in (sub, blocked, c):
            x.close()


def test_client_list_shows_subscriptions_and_blocking_as_redis(shoal, redis_server):
    assert client_fields(shoal.port) == client_fields(redis_server.port)
