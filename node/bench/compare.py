#!/usr/bin/env python3
"""Benchmark shoal-node against redis-server on this machine, side by side.

    python3 node/bench/compare.py [--rounds 7] [--requests 400000] [--no-pin] [--tls]
                                  [--tests set,get] [--memory strings,set,zset,lists]

Needs redis-server, redis-benchmark and redis-cli (scripts/install-test-deps
installs them) and builds shoal-node in release mode unless --bin is given.

Per core: by default each server is pinned to the last CPU (shoal with one I/O
thread, as Redis serves from one thread) and redis-benchmark to CPU 0, so both
servers get exactly one core and the load generator never steals it. --no-pin
runs shoal with its default thread count, unpinned, to show what the whole
machine does.

For each key space (-r 1000: fits in cache; -r 1000000: memory-bound) and each
pipeline depth (-P 1, -P 16) it runs redis-benchmark (-t set,get -c 50 -d 100)
against each server in turn, alternating which goes first every round, so noise
hits both alike, and prints medians and shoal/redis ratios: requests per second
(higher is better), p99 latency (lower is better) and requests per CPU-second of
the server process (per-core efficiency, higher is better). Then it loads
1,000,000 keys with 100-byte values into fresh servers and prints their RSS 1, 5,
10 and 15 s after the load (what a pod's memory limit sees) and once it has
settled (both free memory through jemalloc background threads).

--tests picks redis-benchmark's tests (`-t`), e.g. the collection types':
lpush,rpush,lpop,rpop,sadd,spop,zadd,zpopmin,lrange_100,lrange_600,mset.
--memory picks the memory comparisons: strings (--keys keys of 100 bytes), set
and zset (one key holding --keys members), lists (--keys lists of 3 elements).

--tls serves both over TLS only (`--port 0 --tls-port`, no client certificates;
certificates from the `test-certs` example, built in release mode too) and
runs redis-benchmark with `--tls --cacert`; the memory comparison is skipped,
since TLS does not change what keys cost.
"""

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TICKS = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"port {port} did not open")


class Server:
    def __init__(self, name, args, port, cpu, tls):
        # tls: redis-cli/redis-benchmark options reaching a TLS-only server, or [].
        self.name, self.port, self.tls = name, port, tls
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(port)
        if cpu is not None:
            for tid in os.listdir(f"/proc/{self.proc.pid}/task"):
                os.sched_setaffinity(int(tid), {cpu})

    def cpu_seconds(self):
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS

    def rss(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0

    def cli(self, *args):
        return subprocess.run(["redis-cli", "-p", str(self.port), *self.tls, *args],
                              capture_output=True, text=True).stdout

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def server_cmd(which, binary, listen):
    """The command line of a redis-server (which="redis", persisting nothing) or
    of shoal-node `binary` (no admin port); `listen`: the port options, which
    both spell as Redis does."""
    if which == "redis":
        d = tempfile.mkdtemp(prefix="bench-redis-")
        return ["redis-server", *listen, "--save", "", "--appendonly", "no", "--dir", d]
    return [binary, *listen, "--admin-port", "0"]


def start(which, args, cpu):
    port = free_port()
    listen = ["--port", str(port)]
    client = []
    if args.certs:
        c = args.certs
        listen = ["--port", "0", "--tls-port", str(port), "--tls-cert-file", f"{c}/server.crt",
                  "--tls-key-file", f"{c}/server.key", "--tls-ca-cert-file", f"{c}/ca.crt",
                  "--tls-auth-clients", "no"]
        client = ["--tls", "--cacert", f"{c}/ca.crt"]
    cmd = server_cmd(which, args.bin, listen)
    if which == "redis":
        return Server("redis", cmd, port, cpu, client)
    if cpu is not None:
        cmd += ["--threads", "1"]
    elif args.threads:
        cmd += ["--threads", str(args.threads)]
    return Server("shoal", cmd, port, cpu, client)


def benchmark(server, pipeline, requests, keyspace, client_cpu, tests):
    """One redis-benchmark run; returns {test: (rps, p99_ms)} and server CPU seconds."""
    cpu0 = server.cpu_seconds()
    cmd = ["redis-benchmark", "-p", str(server.port), *server.tls, "-t", tests, "-c", "50", "-n", str(requests),
           "-P", str(pipeline), "-d", "100", "-r", str(keyspace), "--csv"]
    if client_cpu is not None:
        cmd = ["taskset", "-c", str(client_cpu)] + cmd
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    cpu = server.cpu_seconds() - cpu0
    results = {}
    for line in out.splitlines():
        cols = [c.strip('"') for c in line.split(",")]
        if len(cols) >= 7 and cols[0] != "test":
            # test, rps, avg, min, p50, p95, p99, max; "LRANGE_100 (first 100
            # elements)" is shortened to LRANGE_100.
            results[cols[0].split(" (")[0]] = (float(cols[1]), float(cols[6]))
    return results, cpu


def load(server, commands):
    """Sends RESP commands (lists of words) through redis-cli --pipe."""
    with tempfile.NamedTemporaryFile("w", suffix=".resp", delete=False) as f:
        for words in commands:
            f.write(f"*{len(words)}\r\n" + "".join(f"${len(w)}\r\n{w}\r\n" for w in words))
        path = f.name
    with open(path, "rb") as data:
        subprocess.run(["redis-cli", "-p", str(server.port), "--pipe"], stdin=data, capture_output=True, check=True)
    os.unlink(path)


def dataset(kind, n):
    """The commands that build one memory comparison's dataset."""
    if kind == "strings":
        return (["SET", f"key:{i:012d}", "x" * 100] for i in range(n))
    if kind == "set":
        return (["SADD", "set", *(f"member:{j:012d}" for j in range(i, min(i + 100, n)))] for i in range(0, n, 100))
    if kind == "zset":
        return (["ZADD", "zset", *(w for j in range(i, min(i + 100, n)) for w in (str(j * 7 % n), f"member:{j:012d}"))]
                for i in range(0, n, 100))
    if kind == "lists":
        return (["RPUSH", f"list:{i:012d}", "a", "bb", "ccc"] for i in range(n))
    raise ValueError(kind)


def prepare(args):
    """Checks the Redis tools are installed and builds shoal-node unless --bin names one."""
    for tool in ("redis-server", "redis-benchmark", "redis-cli"):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found: run scripts/install-test-deps")
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    if not args.bin:
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "shoal-node"], cwd=ROOT, check=True)
        args.bin = os.path.join(target, "release", "shoal-node")
    args.certs = None
    if args.tls:
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "shoal-node", "--example", "test-certs"],
                       cwd=ROOT, check=True)
        args.certs = tempfile.mkdtemp(prefix="bench-certs-")
        subprocess.run([os.path.join(target, "release", "examples", "test-certs"), args.certs], check=True)


def ratio(a, b):
    return a / b if b else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--requests", type=int, default=400_000, help="requests per test at -P 16 (-P 1 runs a fifth)")
    ap.add_argument("--keys", type=int, default=1_000_000, help="keys loaded for the memory comparison")
    ap.add_argument("--keyspaces", default="1000,1000000", help="redis-benchmark -r values to run")
    ap.add_argument("--no-pin", action="store_true", help="nothing pinned; shoal with default threads")
    ap.add_argument("--threads", type=int, help="shoal I/O threads when unpinned (default: its own default)")
    ap.add_argument("--bin", help="shoal-node binary (default: build release)")
    ap.add_argument("--tls", action="store_true", help="both servers TLS only; redis-benchmark --tls")
    ap.add_argument("--tests", default="set,get", help="redis-benchmark -t tests")
    ap.add_argument("--memory", default="strings", help="memory comparisons: strings,set,zset,lists (or none)")
    args = ap.parse_args()
    prepare(args)
    ncpu = os.cpu_count() or 1
    pin = not args.no_pin and ncpu >= 2
    server_cpu, client_cpu = (ncpu - 1, 0) if pin else (None, None)

    version = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.split()[2]
    print(f"machine: {ncpu} CPUs; redis {version}; "
          + ("each server pinned to CPU %d (shoal --threads 1), redis-benchmark to CPU %d" % (server_cpu, client_cpu)
             if pin else f"unpinned, shoal with {args.threads or 'default'} I/O threads"))
    print(f"redis-benchmark -t {args.tests} -c 50 -d 100{' --tls' if args.tls else ''}; "
          f"{args.rounds} alternating rounds; medians\n")
    print(f"{'test':<18}{'redis rps':>11}{'shoal rps':>11}{'ratio':>7}{'redis p99':>11}{'shoal p99':>11}{'ratio':>7}"
          f"{'redis req/cpu-s':>16}{'shoal req/cpu-s':>16}{'ratio':>7}")
    for keyspace in [int(k) for k in args.keyspaces.split(",") if k]:
        servers = {w: start(w, args, server_cpu) for w in ("redis", "shoal")}
        try:
            for pipeline in (1, 16):
                n = args.requests if pipeline > 1 else max(args.requests // 5, 50_000)
                samples = {w: {"eff": []} for w in servers}
                tests = []
                for r in range(args.rounds):
                    for w in (["redis", "shoal"] if r % 2 == 0 else ["shoal", "redis"]):
                        res, cpu = benchmark(servers[w], pipeline, n, keyspace, client_cpu, args.tests)
                        for t, v in res.items():
                            if t not in tests:
                                tests.append(t)
                            samples[w].setdefault(t, []).append(v)
                        samples[w]["eff"].append(len(res) * n / cpu if cpu > 0 else float("nan"))
                eff = {w: statistics.median(samples[w]["eff"]) for w in servers}
                for t in tests:
                    if any(t not in samples[w] for w in servers):
                        continue
                    rr, sr = (statistics.median(x[0] for x in samples[w][t]) for w in ("redis", "shoal"))
                    rp, sp = (statistics.median(x[1] for x in samples[w][t]) for w in ("redis", "shoal"))
                    label = f"{t} -P{pipeline} -r{keyspace:,}"
                    print(f"{label:<18}{rr:>11,.0f}{sr:>11,.0f}{ratio(sr, rr):>7.2f}{rp:>9.3f}ms{sp:>9.3f}ms{ratio(sp, rp):>7.2f}"
                          f"{eff['redis']:>16,.0f}{eff['shoal']:>16,.0f}{ratio(eff['shoal'], eff['redis']):>7.2f}")
        finally:
            for s in servers.values():
                s.stop()

    if args.tls:
        return
    for kind in [k for k in args.memory.split(",") if k and k != "none"]:
        memory(args, kind)


def memory(args, kind):
    what = {"strings": f"{args.keys:,} keys (16-byte keys, 100-byte values)",
            "set": f"one set of {args.keys:,} 19-byte members",
            "zset": f"one sorted set of {args.keys:,} 19-byte members",
            "lists": f"{args.keys:,} lists of 3 short elements"}[kind]
    print(f"\nmemory after loading {what}, fresh servers")
    rss = {}
    for w in ("redis", "shoal"):
        s = start(w, args, None)
        try:
            load(s, dataset(kind, args.keys))
            # Both allocators return freed pages in the background (jemalloc
            # background threads). A pod's memory limit sees the peak, so show
            # RSS over the first 15 s after the load, then once it has settled.
            loaded, timeline = time.time(), []
            for at in (1, 5, 10, 15):
                time.sleep(max(0.0, loaded + at - time.time()))
                timeline.append(f"{at}s {s.rss() / 2**20:.0f}")
            last, deadline = s.rss(), time.time() + 60
            while time.time() < deadline:
                time.sleep(3)
                now = s.rss()
                if abs(now - last) < last * 0.005:
                    break
                last = now
            keys = int(s.cli("DBSIZE").strip() or 0)
            used = [l for l in s.cli("INFO", "memory").splitlines() if l.startswith("used_memory:")]
            rss[w] = s.rss()
            print(f"  {w:<6} keys={keys:,}  RSS={rss[w] / 2**20:8.1f} MiB  {used[0] if used else ''}"
                  f"  (after the load, MiB: {', '.join(timeline)})")
        finally:
            s.stop()
    print(f"  RSS ratio shoal/redis: {ratio(rss['shoal'], rss['redis']):.2f}")


if __name__ == "__main__":
    main()
