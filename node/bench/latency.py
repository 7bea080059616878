#!/usr/bin/env python3
"""Worst-case latency while a big dataset loads, shoal-node against redis-server.

    python3 node/bench/latency.py [--keys 5000000] [--bin target/release/shoal-node]

For each server in turn (fresh, one core each as in compare.py when the
machine has two): `redis-cli --pipe` loads --keys string keys while a probe
client sends one GET every millisecond on its own connection and times each
reply. Prints, per server, the load time and the probe's median, p99, p99.9
and maximum latency: a pause on the request path (a table growing all at once,
a huge value freed in line) shows in the maximum. Then it deletes a sorted set
and a set of 1,000,000 members each with DEL and UNLINK under the same probe.
"""

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402  (server start-up, pinning, release build)


class Probe(threading.Thread):
    """GETs once a millisecond; records every round trip."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.samples = []
        self.stop = threading.Event()

    def run(self):
        req = b"*2\r\n$3\r\nGET\r\n$5\r\nprobe\r\n"
        while not self.stop.is_set():
            t0 = time.perf_counter()
            self.sock.sendall(req)
            got = b""
            while not got.endswith(b"\r\n"):
                got += self.sock.recv(64)
            self.samples.append(time.perf_counter() - t0)
            time.sleep(0.001)

    def summary(self):
        s = sorted(self.samples)
        if not s:
            return "no samples"
        q = lambda p: s[min(len(s) - 1, int(p * len(s)))] * 1000
        return (f"{len(s):>7} probes  median {statistics.median(s) * 1000:7.3f} ms  p99 {q(0.99):7.3f} ms  "
                f"p99.9 {q(0.999):7.3f} ms  max {s[-1] * 1000:8.3f} ms")


def pipe(server, path):
    with open(path, "rb") as data:
        subprocess.run(["redis-cli", "-p", str(server.port), "--pipe"], stdin=data,
                       capture_output=True, check=True)


def write(path, commands):
    with open(path, "w") as f:
        for words in commands:
            f.write(f"*{len(words)}\r\n" + "".join(f"${len(w)}\r\n{w}\r\n" for w in words))


def probed(server, what, action):
    p = Probe(server.port)
    p.start()
    time.sleep(0.2)
    t0 = time.time()
    action()
    took = time.time() - t0
    time.sleep(0.2)
    p.stop.set()
    p.join()
    print(f"  {server.name:<6} {what:<28} {took:7.2f} s   {p.summary()}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keys", type=int, default=5_000_000)
    ap.add_argument("--members", type=int, default=1_000_000)
    ap.add_argument("--bin", help="shoal-node binary (default: build release)")
    args = ap.parse_args()
    args.tls = False
    args.threads = None
    compare.prepare(args)
    ncpu = os.cpu_count() or 1
    cpu = ncpu - 1 if ncpu >= 2 else None
    tmp = tempfile.mkdtemp(prefix="latency-")
    load = os.path.join(tmp, "load.resp")
    write(load, (["SET", f"key:{i:012d}", "v" * 16] for i in range(args.keys)))
    big = os.path.join(tmp, "big.resp")
    write(big, [w for i in range(0, args.members, 100) for w in (
        ["ZADD", "bigz", *(x for j in range(i, i + 100) for x in (str(j), f"m{j:012d}"))],
        ["SADD", "bigs", *(f"m{j:012d}" for j in range(i, i + 100))],
        ["ZADD", "bigz2", *(x for j in range(i, i + 100) for x in (str(j), f"m{j:012d}"))],
        ["SADD", "bigs2", *(f"m{j:012d}" for j in range(i, i + 100))])])
    print(f"probe: GET every 1 ms on its own connection; servers on CPU {cpu}, loaders unpinned\n")
    for which in ("redis", "shoal"):
        server = compare.start(which, args, cpu)
        try:
            probed(server, f"load {args.keys:,} keys", lambda: pipe(server, load))
            pipe(server, big)
            for cmd, key in (("DEL", "bigz"), ("DEL", "bigs"), ("UNLINK", "bigz2"), ("UNLINK", "bigs2")):
                probed(server, f"{cmd} {key} ({args.members:,})",
                       lambda: server.cli(cmd, key))
        finally:
            server.stop()
    os.unlink(load)
    os.unlink(big)


if __name__ == "__main__":
    main()
