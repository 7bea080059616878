#!/usr/bin/env python3
"""Benchmark a live resize, side by side with Redis Cluster's.

    python3 node/bench/reshard.py [--bin target/release/shoal-node] [--keys 1000000]

Shoal: a local 3-shard cluster (`shoal-node local-cluster`, no replicas) holding
--keys keys of 100 bytes, resized 3 -> 4 -> 3 with `local-cluster --reshard`.
Redis: a 3-primary Redis Cluster holding the same keys, grown by `redis-cli
--cluster add-node` + `rebalance --cluster-use-empty-masters`, and shrunk by
`rebalance --cluster-weight <new>=0` + `del-node`.

While each resize runs, redis-benchmark --cluster writes (SET, 20 clients,
pipeline 1) and a probe client sends one GET of a loaded key every ms through
redis-py's RedisCluster, timing each. Reported per resize: its duration, keys
the loaded keys moved (those whose slots changed owner) and per second, keys
lost (every loaded key is read back after: must be 0), the probe's errors, and its p99 latency during the resize
against the same probe's p99 with the load but no resize (steady).

Everything shares this machine's CPUs, so both systems run one after the
other, and the figures are one run each (a resize cannot be repeated on the
same data without undoing it).
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import pick_base  # noqa: E402
from compare import prepare, wait_port  # noqa: E402

from redis.cluster import RedisCluster  # noqa: E402
from redis.crc import key_slot  # noqa: E402


def load(rc, keys):
    value = "x" * 100
    step = 20000
    for start in range(0, keys, step):
        p = rc.pipeline(transaction=False)
        for i in range(start, min(keys, start + step)):
            p.set(f"k:{i}", value)
        p.execute()


def loaded_in(port, keys):
    """How many loaded keys hash to the slots the node on `port` owns now."""
    owned = set()
    for line in redis_cli("-p", str(port), "cluster", "nodes").splitlines():
        f = line.split()
        if "myself" in f[2]:
            for r in f[8:]:
                if r.startswith("["):
                    continue
                a, _, b = r.partition("-")
                owned.update(range(int(a), int(b or a) + 1))
    return sum(1 for i in range(keys) if key_slot(f"k:{i}".encode()) in owned)


def lost(port, keys):
    """Loaded keys that cannot be read back, through a new client (one that
    cached a removed node's address would first fail to reach it)."""
    rc = RedisCluster(host="127.0.0.1", port=port)
    missing = 0
    step = 20000
    for start in range(0, keys, step):
        names = [f"k:{i}" for i in range(start, min(keys, start + step))]
        missing += sum(1 for v in rc.mget_nonatomic(names) if v is None)
    rc.close()
    return missing


class Probe(threading.Thread):
    """One GET per ms of a random loaded key; latencies (ms) and errors."""

    def __init__(self, port, keys):
        super().__init__(daemon=True)
        self.rc = RedisCluster(host="127.0.0.1", port=port)
        self.keys = keys
        self.lat, self.errors = [], []
        self.go = threading.Event()
        self.stop = threading.Event()

    def run(self):
        import random
        while not self.stop.is_set():
            if not self.go.is_set():
                time.sleep(0.001)
                continue
            t = time.perf_counter()
            try:
                self.rc.get(f"k:{random.randrange(self.keys)}")
                self.lat.append((time.perf_counter() - t) * 1000)
            except Exception as e:  # noqa: BLE001 - counted and reported
                self.errors.append(repr(e))
            time.sleep(max(0.0, 0.001 - (time.perf_counter() - t)))

    def window(self):
        """Starts a measuring window; returns a function that ends it."""
        self.lat, self.errors = [], []
        self.go.set()

        def end():
            self.go.clear()
            lat = sorted(self.lat)
            p99 = lat[int(len(lat) * 0.99)] if lat else float("nan")
            return p99, len(self.errors), len(lat), lat[-1] if lat else float("nan")
        return end


def background_load(port):
    return subprocess.Popen(["redis-benchmark", "--cluster", "-p", str(port), "-t", "set", "-c", "20",
                             "-n", "100000000", "-r", "100000", "-d", "100", "-q"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def measure(probe, port, action, keys_check):
    """Steady p99 for 3 s under load, then `action()` timed under the same load."""
    bg = background_load(port)
    time.sleep(1)
    end = probe.window()
    time.sleep(3)
    steady = end()
    end = probe.window()
    moved, took = action()
    during = end()
    bg.terminate()
    bg.wait()
    return {"took": took, "moved": moved, "steady_p99": steady[0], "p99": during[0],
            "errors": during[1], "probes": during[2], "max": during[3], "lost": keys_check()}


def shoal(args):
    d = tempfile.mkdtemp(prefix="bench-reshard-shoal-")
    base = pick_base(8, (0, 1000, 2000))
    subprocess.run([args.bin, "local-cluster", "--shards", "3", "--base-port", str(base), "--dir", d,
                    "--no-supervisor"], check=True, capture_output=True)
    try:
        rc = RedisCluster(host="127.0.0.1", port=base)
        t = time.perf_counter()
        load(rc, args.keys)
        print(f"shoal: loaded {args.keys} keys in {time.perf_counter() - t:.1f} s", flush=True)
        probe = Probe(base, args.keys)
        probe.start()
        results = {}
        new = base + 3  # the 4th shard's primary: the next port (see local-cluster)
        for shards in (4, 3):
            def action(shards=shards):
                before = loaded_in(new, args.keys) if shards == 3 else 0
                t = time.perf_counter()
                out = subprocess.run([args.bin, "local-cluster", "--dir", d, "--reshard", "--shards", str(shards),
                                      "--timeout", "300"], capture_output=True, text=True, check=True).stdout
                line = [x for x in out.splitlines() if x.startswith("resharded")][0]
                handed = [x for x in out.splitlines() if "slots handed over" in x][0]
                print("  " + line, flush=True)
                print(f"  (every slot at its new owner after {handed.split(']')[0].strip('[ s')} s)", flush=True)
                # Keys moved: what the new shard holds after growing, or held
                # before shrinking (as for Redis below).
                took = time.perf_counter() - t
                return (before if shards == 3 else loaded_in(new, args.keys)), took
            results["3->4" if shards == 4 else "4->3"] = measure(probe, base, action, lambda: lost(base, args.keys))
        probe.stop.set()
        return results
    finally:
        subprocess.run([args.bin, "local-cluster", "--dir", d, "--stop"], capture_output=True)
        shutil.rmtree(d, ignore_errors=True)


def redis_cli(*a, check=True):
    out = subprocess.run(["redis-cli", *a], capture_output=True, text=True)
    if check and out.returncode != 0:
        tail = "\n".join((out.stdout + out.stderr).splitlines()[-8:])
        raise RuntimeError(f"redis-cli {' '.join(a)} failed:\n{tail}")
    return out.stdout


def node_id(port):
    return redis_cli("-p", str(port), "cluster", "myid").strip()


def redis_side(args):
    d = tempfile.mkdtemp(prefix="bench-reshard-redis-")
    base = pick_base(4, (0, 10000))
    procs = []

    def start(p):
        procs.append(subprocess.Popen(["redis-server", "--port", str(p), "--cluster-enabled", "yes",
                                       "--cluster-config-file", f"nodes-{p}.conf", "--dir", d, "--save", "",
                                       "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_port(p)
    try:
        for i in range(4):
            start(base + i)
        redis_cli("--cluster", "create", *[f"127.0.0.1:{base + i}" for i in range(3)], "--cluster-replicas", "0",
                  "--cluster-yes")
        deadline = time.time() + 30
        while time.time() < deadline and not all(
                "cluster_state:ok" in redis_cli("-p", str(base + i), "cluster", "info") for i in range(3)):
            time.sleep(0.2)
        rc = RedisCluster(host="127.0.0.1", port=base)
        t = time.perf_counter()
        load(rc, args.keys)
        print(f"redis: loaded {args.keys} keys in {time.perf_counter() - t:.1f} s", flush=True)
        probe = Probe(base, args.keys)
        probe.start()
        new = base + 3

        def grow():
            t = time.perf_counter()
            redis_cli("--cluster", "add-node", f"127.0.0.1:{new}", f"127.0.0.1:{base}")
            # Every node must know the new one (gossip) before slots can move to it.
            deadline = time.time() + 60
            while time.time() < deadline and not all(
                    "cluster_known_nodes:4" in info and "cluster_state:ok" in info
                    for info in (redis_cli("-p", str(base + i), "cluster", "info") for i in range(4))):
                time.sleep(0.1)
            redis_cli("--cluster", "rebalance", f"127.0.0.1:{base}", "--cluster-use-empty-masters",
                      "--cluster-pipeline", "100")
            took = time.perf_counter() - t
            return loaded_in(new, args.keys), took

        def shrink():
            moved = loaded_in(new, args.keys)
            t = time.perf_counter()
            redis_cli("--cluster", "rebalance", f"127.0.0.1:{base}", "--cluster-weight", f"{node_id(new)}=0",
                      "--cluster-pipeline", "100")
            redis_cli("--cluster", "del-node", f"127.0.0.1:{base}", node_id(new), check=False)
            return moved, time.perf_counter() - t
        results = {"3->4": measure(probe, base, grow, lambda: lost(base, args.keys))}
        print(f"  redis 3->4 in {results['3->4']['took']:.2f} s", flush=True)
        results["4->3"] = measure(probe, base, shrink, lambda: lost(base, args.keys))
        print(f"  redis 4->3 in {results['4->3']['took']:.2f} s", flush=True)
        probe.stop.set()
        return results
    finally:
        for p in procs:
            p.terminate()
            p.wait(15)
        shutil.rmtree(d, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", help="shoal-node binary (default: build release)")
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--skip-redis", action="store_true")
    args = ap.parse_args()
    args.tls = False
    prepare(args)
    rows = [("shoal", shoal(args))]
    if not args.skip_redis:
        rows.append(("redis cluster", redis_side(args)))
    print()
    print("| system | resize | time | loaded keys moved | keys/s | keys lost | probe errors | probes | "
          "p99 steady | p99 during | ratio | max during |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, res in rows:
        for step, r in res.items():
            print(f"| {name} | {step} | {r['took']:.2f} s | {r['moved']} | {r['moved'] / r['took']:,.0f} | "
                  f"{r['lost']} | {r['errors']} | {r['probes']} | {r['steady_p99']:.2f} ms | {r['p99']:.2f} ms | "
                  f"{r['p99'] / r['steady_p99']:.1f}x | {r['max']:.1f} ms |")


if __name__ == "__main__":
    main()
