#!/usr/bin/env python3
"""Benchmark a local 3-shard Shoal cluster, side by side with its references.

    python3 node/bench/cluster.py [--rounds 5] [--requests 200000]

Aggregate throughput: redis-benchmark --cluster (a cluster-aware load generator:
it reads CLUSTER NODES and sends each node keys of its own slots) against a
local 3-shard Shoal cluster (`shoal-node local-cluster`) and a 3-primary Redis
Cluster, and plain redis-benchmark against one shoal-node and one redis-server.
SET and GET, 50 clients, 100-byte values, 100,000 keys, pipeline depth 1 and 16;
runs alternate between setups each round; medians are printed, with ratios to
the single redis-server.

Forwarding cost: on one node's forwarding port, GET and SET of keys its own
slots hold (served locally) against keys another node holds (forwarded over the
node-to-node link), with hash tags choosing the owner.

Everything shares this machine's CPUs: on a small machine the cluster's three
nodes and the load generator compete for the same cores, which is what the
aggregate figures then show.
"""

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import free_port, prepare, ratio, server_cmd, wait_port  # noqa: E402


def ports_free(ports):
    for p in ports:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", p))
            except OSError:
                return False
    return True


def pick_base(count, offsets):
    for base in range(21000, 60000, 97):
        if ports_free([base + o + i for o in offsets for i in range(count)]):
            return base
    raise RuntimeError("no free ports")


class Setup:
    """Something to benchmark: one or more server processes and how to load them."""

    def __init__(self, name, port, cluster, stop):
        self.name, self.port, self.cluster, self._stop = name, port, cluster, stop

    def stop(self):
        self._stop()


def shoal_cluster(binary):
    d = tempfile.mkdtemp(prefix="bench-shoal-cluster-")
    base = pick_base(3, (0, 1000, 2000))
    subprocess.run([binary, "local-cluster", "--shards", "3", "--base-port", str(base), "--dir", d],
                   check=True, capture_output=True)
    return Setup("shoal cluster x3", base,
                 True, lambda: subprocess.run([binary, "local-cluster", "--dir", d, "--stop"], capture_output=True))


def redis_cluster():
    d = tempfile.mkdtemp(prefix="bench-redis-cluster-")
    base = pick_base(3, (0, 10000))
    procs = []
    for i in range(3):
        p = base + i
        procs.append(subprocess.Popen(["redis-server", "--port", str(p), "--cluster-enabled", "yes",
                                       "--cluster-config-file", f"nodes-{p}.conf", "--dir", d, "--save", "",
                                       "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_port(p)
    subprocess.run(["redis-cli", "--cluster", "create", *[f"127.0.0.1:{base + i}" for i in range(3)],
                    "--cluster-replicas", "0", "--cluster-yes"], check=True, capture_output=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        infos = [subprocess.run(["redis-cli", "-p", str(base + i), "cluster", "info"], capture_output=True,
                                text=True).stdout for i in range(3)]
        if all("cluster_state:ok" in x for x in infos):
            break
        time.sleep(0.2)

    def stop():
        for p in procs:
            p.terminate()
            p.wait(15)
        shutil.rmtree(d, ignore_errors=True)
    return Setup("redis cluster x3", base, True, stop)


def single(name, args):
    port = free_port()
    cmd = server_cmd("redis" if name == "redis-server" else "shoal", args.bin, ["--port", str(port)])
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port)
    return Setup(name, port, False, lambda: (proc.terminate(), proc.wait(15)))


def run(cmd):
    """redis-benchmark --csv; returns {test: (rps, p99_ms)}."""
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    results = {}
    for line in out.splitlines():
        cols = [c.strip('"') for c in line.split(",")]
        if len(cols) > 6 and cols[1].replace(".", "").isdigit():
            results[cols[0]] = (float(cols[1]), float(cols[6]))
    return results


def load(setup, pipeline, n):
    cmd = ["redis-benchmark", "-p", str(setup.port), "-t", "set,get", "-c", "50", "-n", str(n),
           "-P", str(pipeline), "-d", "100", "-r", "100000", "--csv"]
    if setup.cluster:
        cmd.insert(1, "--cluster")
    return run(cmd)


def tag_on(port, want_local):
    """A hash tag whose slot the node on `port` owns (or does not)."""
    nodes = subprocess.run(["redis-cli", "-p", str(port), "cluster", "nodes"], capture_output=True,
                           text=True).stdout
    mine = next(l for l in nodes.splitlines() if "myself" in l).split()[8:]
    ranges = [tuple(int(x) for x in r.split("-")) for r in mine]
    for i in range(10000):
        tag = f"t{i}"
        slot = int(subprocess.run(["redis-cli", "-p", str(port), "cluster", "keyslot", tag],
                                  capture_output=True, text=True).stdout)
        if any(a <= slot <= b for a, b in ranges) == want_local:
            return tag
    raise RuntimeError("no tag found")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--requests", type=int, default=200_000, help="requests per test at -P 16 (-P 1 runs a fifth)")
    ap.add_argument("--bin", help="shoal-node binary (default: build release)")
    args = ap.parse_args()
    prepare(args)

    print(f"machine: {os.cpu_count()} CPUs; redis-benchmark -c 50 -d 100 -r 100000; "
          f"{args.rounds} alternating rounds; medians\n")
    setups = [shoal_cluster(args.bin), redis_cluster(), single("shoal-node", args), single("redis-server", args)]
    try:
        print(f"{'aggregate':<22}" + "".join(f"{s.name:>18}" for s in setups) + f"{'shoal cluster/redis-server':>28}")
        for pipeline in (1, 16):
            n = args.requests if pipeline > 1 else max(args.requests // 5, 20_000)
            samples = {s.name: {"SET": [], "GET": []} for s in setups}
            for r in range(args.rounds):
                order = setups if r % 2 == 0 else list(reversed(setups))
                for s in order:
                    res = load(s, pipeline, n)
                    for t in ("SET", "GET"):
                        samples[s.name][t].append(res[t])
            for t in ("SET", "GET"):
                rps = {k: statistics.median(x[0] for x in v[t]) for k, v in samples.items()}
                p99 = {k: statistics.median(x[1] for x in v[t]) for k, v in samples.items()}
                print(f"{t + ' -P' + str(pipeline) + ' rps':<22}" + "".join(f"{rps[s.name]:>18,.0f}" for s in setups)
                      + f"{ratio(rps[setups[0].name], rps['redis-server']):>28.2f}")
                print(f"{t + ' -P' + str(pipeline) + ' p99 ms':<22}" + "".join(f"{p99[s.name]:>18.3f}" for s in setups)
                      + f"{ratio(p99[setups[0].name], p99['redis-server']):>28.2f}")

        # Forwarding: the same port, local keys against keys another node owns.
        shoal = setups[0]
        fwd = shoal.port + 1000
        local, remote = tag_on(shoal.port, True), tag_on(shoal.port, False)
        value = "x" * 100
        print(f"\nforwarding port {fwd}: keys {{{local}}}:* are local, {{{remote}}}:* are forwarded")
        print(f"{'':<22}{'local rps':>12}{'forwarded rps':>15}{'ratio':>7}{'local p99':>11}{'fwd p99':>11}{'ratio':>7}")
        for pipeline in (1, 16):
            n = args.requests if pipeline > 1 else max(args.requests // 5, 20_000)
            for cmd in ("SET", "GET"):
                got = {"local": [], "remote": []}
                for r in range(args.rounds):
                    for which in (["local", "remote"] if r % 2 == 0 else ["remote", "local"]):
                        tag = local if which == "local" else remote
                        argv = [cmd, f"{{{tag}}}:__rand_int__"] + ([value] if cmd == "SET" else [])
                        res = run(["redis-benchmark", "-p", str(fwd), "-c", "50", "-n", str(n), "-P", str(pipeline),
                                   "-r", "100000", "--csv", *argv])
                        got[which].append(next(iter(res.values())))
                lr, rr = (statistics.median(x[0] for x in got[w]) for w in ("local", "remote"))
                lp, rp = (statistics.median(x[1] for x in got[w]) for w in ("local", "remote"))
                print(f"{cmd + ' -P' + str(pipeline):<22}{lr:>12,.0f}{rr:>15,.0f}{ratio(rr, lr):>7.2f}"
                      f"{lp:>9.3f}ms{rp:>9.3f}ms{ratio(rp, lp):>7.2f}")
    finally:
        for s in setups:
            s.stop()


if __name__ == "__main__":
    main()
