#!/usr/bin/env python3
"""Benchmark failover and the cost of replication, side by side with Redis.

    python3 node/bench/failover.py [--rounds 10] [--redis-rounds 3] [--requests 400000]

Recovery: a local cluster of 3 primaries with 1 replica each. Each round, a
writer keeps writing keys of one shard's slots to whichever node is its
primary; its primary gets `kill -9`, and the time from the kill to the first
write that succeeds again is recorded. The killed node comes back as a replica
and catches up before the next round; rounds go round the shards. The same is
measured on a 3+3 Redis Cluster with its default cluster-node-timeout (15 s).
Medians, minimums and maximums are printed.

Replication cost: SET throughput (redis-benchmark, 50 clients, 100-byte values,
-P 1 and -P 16) on one primary with 0, 1 and 2 replicas attached, Shoal and
redis-server alternating, medians of the rounds.
"""

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import pick_base, run  # noqa: E402
from compare import free_port, prepare, ratio, server_cmd, wait_port  # noqa: E402


def cli(port, *args, timeout=2):
    try:
        return subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True, text=True,
                              timeout=timeout).stdout
    except subprocess.TimeoutExpired:
        return ""


def primary_for(ports, key):
    """The client port of the node that answers writes for `key`, or None."""
    for p in ports:
        out = cli(p, "cluster", "slots", timeout=1)
        slot = cli(p, "cluster", "keyslot", key, timeout=1).strip()
        if not out or not slot.isdigit():
            continue
        slot = int(slot)
        lines = out.split("\n")
        # redis-cli prints CLUSTER SLOTS flat: start, end, host, port, id, ...
        i = 0
        while i + 3 < len(lines):
            if lines[i].isdigit() and lines[i + 1].isdigit() and lines[i + 2] == "127.0.0.1":
                if int(lines[i]) <= slot <= int(lines[i + 1]):
                    return int(lines[i + 3])
            i += 1
    return None


class Raw:
    """A minimal RESP client for replies of one line (no redis-py needed)."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=2)
        self.reader = self.sock.makefile("rb")

    def call(self, *args):
        req = b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in map(str.encode, args))
        self.sock.sendall(req)
        line = self.reader.readline()
        if not line or line.startswith(b"-"):
            raise OSError(line.decode(errors="replace").strip() or "closed")
        return line

    def close(self):
        self.sock.close()


class Writer(threading.Thread):
    """SETs keys of one hash tag to its current primary as fast as one
    connection allows; records when writes succeed."""

    def __init__(self, ports, tag):
        super().__init__(daemon=True)
        self.ports, self.tag = ports, tag
        self.stop = threading.Event()
        self.last_ok = 0.0
        self.first_ok_after = None
        self.mark = None
        self.victim = None

    def run(self):
        conn, port, i = None, None, 0
        while not self.stop.is_set():
            try:
                if conn is None:
                    port = primary_for(self.ports, self.tag)
                    if port is None:
                        time.sleep(0.02)
                        continue
                    conn = Raw(port)
                conn.call("SET", f"{self.tag}:{i}", str(i))
                now = time.time()
                self.last_ok = now
                if self.mark and self.first_ok_after is None and port != self.victim:
                    self.first_ok_after = now
                i += 1
            except OSError:
                if conn is not None:
                    conn.close()
                conn = None
                time.sleep(0.01)


def wait_synced(ports, timeout=60):
    """Waits until every replica among `ports` has completed its sync: neither
    system promotes a replica that never synced (Redis syncs its replicas 5 s
    after they attach, by default)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        roles = [cli(p, "info", "replication") for p in ports]
        replicas = [r for r in roles if "role:slave" in r]
        if len(replicas) == len(ports) // 2 and all("master_link_status:up" in r for r in replicas):
            return
        time.sleep(0.2)
    raise RuntimeError(f"replicas of {ports} did not sync")


def measure(ports, pid_of, rejoined, rounds, tags, label):
    times = []
    for r in range(rounds):
        tag = tags[r % len(tags)]
        w = Writer(ports, tag)
        w.start()
        deadline = time.time() + 60
        while w.last_ok == 0 and time.time() < deadline:
            time.sleep(0.05)
        victim = primary_for(ports, tag)
        os.kill(pid_of(victim), 9)
        w.victim, w.mark = victim, time.time()
        while w.first_ok_after is None and time.time() < w.mark + 120:
            time.sleep(0.01)
        w.stop.set()
        w.join(10)
        if w.first_ok_after is None:
            print(f"  {label} round {r + 1}: no recovery within 120 s")
            continue
        t = w.first_ok_after - w.mark
        times.append(t)
        print(f"  {label} round {r + 1}: {t:.2f} s (killed {victim})", flush=True)
        rejoined(victim)
    return times


def shoal_recovery(binary, rounds):
    d = tempfile.mkdtemp(prefix="bench-failover-")
    base = pick_base(6, (0, 1000, 2000))
    subprocess.run([binary, "local-cluster", "--shards", "3", "--replicas", "1", "--base-port", str(base),
                    "--dir", d], check=True, capture_output=True)
    ports = [base + i for i in range(6)]

    def pid_of(port):
        return int(open(os.path.join(d, f"node-{port}.pid")).read())

    try:
        wait_synced(ports)
        return measure(ports, pid_of, lambda port: wait_synced(ports), rounds, ["{a}", "{b}", "{c}"], "shoal")
    finally:
        subprocess.run([binary, "local-cluster", "--dir", d, "--stop"], capture_output=True)
        shutil.rmtree(d, ignore_errors=True)


def redis_recovery(rounds):
    d = tempfile.mkdtemp(prefix="bench-redis-failover-")
    base = pick_base(6, (0, 10000))
    procs = {}

    def start(p):
        procs[p] = subprocess.Popen(["redis-server", "--port", str(p), "--cluster-enabled", "yes",
                                     "--cluster-config-file", f"nodes-{p}.conf", "--dir", d, "--save", "",
                                     "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(p)

    ports = [base + i for i in range(6)]
    for p in ports:
        start(p)
    subprocess.run(["redis-cli", "--cluster", "create", *[f"127.0.0.1:{p}" for p in ports],
                    "--cluster-replicas", "1", "--cluster-yes"], check=True, capture_output=True)

    def rejoined(port):
        start(port)  # Redis keeps its nodes.conf: it rejoins as a replica.
        wait_synced(ports)

    try:
        wait_synced(ports)
        return measure(ports, lambda p: procs[p].pid, rejoined, rounds, ["{a}", "{b}", "{c}"], "redis")
    finally:
        for p in procs.values():
            p.kill()
            p.wait()
        shutil.rmtree(d, ignore_errors=True)


def replication_cost(args):
    """SET rps with 0, 1, 2 replicas, Shoal and Redis alternating."""
    def group(kind, replicas):
        procs, ports = [], []
        for _ in range(replicas + 1):
            port = free_port()
            cmd = server_cmd(kind, args.bin, ["--port", str(port)])
            procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            wait_port(port)
            ports.append(port)
        for p in ports[1:]:
            cli(p, "replicaof", "127.0.0.1", str(ports[0]))
        deadline = time.time() + 30
        while time.time() < deadline and f"connected_slaves:{replicas}" not in cli(ports[0], "info", "replication"):
            time.sleep(0.1)
        return procs, ports[0]

    setups = [(k, n) for n in (0, 1, 2) for k in ("shoal", "redis")]
    running = {s: group(*s) for s in setups}
    samples = {(s, p): [] for s in setups for p in (1, 16)}
    try:
        for r in range(args.rounds_cost):
            order = setups if r % 2 == 0 else list(reversed(setups))
            for pipeline in (1, 16):
                n = args.requests if pipeline > 1 else args.requests // 4
                for s in order:
                    res = run(["redis-benchmark", "-p", str(running[s][1]), "-t", "set", "-c", "50", "-n", str(n),
                               "-P", str(pipeline), "-d", "100", "-r", "100000", "--csv"])
                    samples[(s, pipeline)].append(res["SET"][0])
    finally:
        for procs, _ in running.values():
            for p in procs:
                p.terminate()
                p.wait(15)
    print(f"\nSET rps on one primary (median of {args.rounds_cost}; redis-benchmark -c 50 -d 100 -r 100000)")
    print(f"{'':<16}{'shoal':>12}{'redis':>12}{'shoal/redis':>13}{'shoal vs 0 replicas':>21}")
    for pipeline in (1, 16):
        base = statistics.median(samples[(("shoal", 0), pipeline)])
        for n in (0, 1, 2):
            s = statistics.median(samples[(("shoal", n), pipeline)])
            rd = statistics.median(samples[(("redis", n), pipeline)])
            print(f"{f'-P{pipeline} {n} replicas':<16}{s:>12,.0f}{rd:>12,.0f}{ratio(s, rd):>13.2f}{ratio(s, base):>21.2f}")


def summary(name, times):
    if not times:
        print(f"{name:<8} no successful round")
        return
    print(f"{name:<8} median {statistics.median(times):.2f} s   min {min(times):.2f} s   max {max(times):.2f} s"
          f"   ({len(times)} rounds)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=10, help="Shoal failover rounds")
    ap.add_argument("--redis-rounds", type=int, default=3, help="Redis Cluster failover rounds (about 20 s each)")
    ap.add_argument("--rounds-cost", type=int, default=5, help="rounds of the replication-cost benchmark")
    ap.add_argument("--requests", type=int, default=400_000)
    ap.add_argument("--bin", help="shoal-node binary (default: build release)")
    args = ap.parse_args()
    prepare(args)
    print(f"machine: {os.cpu_count()} CPUs\n\ntime from kill -9 of a primary to the first successful write to its slots")
    shoal = shoal_recovery(args.bin, args.rounds)
    redis_times = redis_recovery(args.redis_rounds) if args.redis_rounds else []
    summary("shoal", shoal)
    summary("redis", redis_times)
    replication_cost(args)


if __name__ == "__main__":
    main()
