#!/usr/bin/env python3
"""Benchmark shoal-node against redis-server on this machine, side by side.

    python3 node/bench/compare.py [--rounds 5] [--requests 500000] [--threads N]

Needs redis-server and redis-benchmark (scripts/install-test-deps installs them)
and builds shoal-node in release mode unless --bin is given.

For each pipeline depth (-P 1 and -P 16) it runs redis-benchmark (-t set,get -c 50
-d 100 -r 1000000) against each server in turn, alternating which goes first
every round, so machine noise hits both alike. It prints the median of the rounds
for each figure and the shoal/redis ratio: requests per second (higher is
better), p99 latency (lower is better) and requests per CPU-second of the server
process (per-core efficiency, higher is better). Then it starts fresh servers,
loads 1,000,000 keys with 100-byte values into each and prints their RSS.
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
    def __init__(self, name, args, port):
        self.name, self.port = name, port
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(port)

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
        return subprocess.run(["redis-cli", "-p", str(self.port), *args], capture_output=True, text=True).stdout

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def start(which, shoal_bin, threads):
    port = free_port()
    if which == "redis":
        d = tempfile.mkdtemp(prefix="bench-redis-")
        return Server("redis", ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no", "--dir", d], port)
    args = [shoal_bin, "--port", str(port), "--admin-port", "0"]
    if threads:
        args += ["--threads", str(threads)]
    return Server("shoal", args, port)


def benchmark(server, pipeline, requests):
    """One redis-benchmark run; returns {test: (rps, p99_ms)} and server CPU seconds."""
    cpu0 = server.cpu_seconds()
    out = subprocess.run(
        ["redis-benchmark", "-p", str(server.port), "-t", "set,get", "-c", "50", "-n", str(requests),
         "-P", str(pipeline), "-d", "100", "-r", "1000000", "--csv"],
        capture_output=True, text=True, check=True,
    ).stdout
    cpu = server.cpu_seconds() - cpu0
    results = {}
    for line in out.splitlines():
        cols = [c.strip('"') for c in line.split(",")]
        if cols[0] in ("SET", "GET"):
            # test, rps, avg, min, p50, p95, p99, max
            results[cols[0]] = (float(cols[1]), float(cols[6]))
    return results, cpu


def load_keys(server, n):
    """Loads n keys of 100-byte values through redis-cli --pipe."""
    value = "x" * 100
    with tempfile.NamedTemporaryFile("w", suffix=".resp", delete=False) as f:
        for i in range(n):
            key = f"key:{i:012d}"
            f.write(f"*3\r\n$3\r\nSET\r\n${len(key)}\r\n{key}\r\n$100\r\n{value}\r\n")
        path = f.name
    with open(path, "rb") as data:
        subprocess.run(["redis-cli", "-p", str(server.port), "--pipe"], stdin=data, capture_output=True, check=True)
    os.unlink(path)


def ratio(a, b):
    return a / b if b else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--requests", type=int, default=500_000, help="requests per redis-benchmark test at -P 16")
    ap.add_argument("--keys", type=int, default=1_000_000, help="keys loaded for the memory comparison")
    ap.add_argument("--threads", type=int, default=0, help="shoal-node worker threads (default: its own)")
    ap.add_argument("--bin", help="shoal-node binary (default: build release)")
    args = ap.parse_args()

    for tool in ("redis-server", "redis-benchmark", "redis-cli"):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found: run scripts/install-test-deps")
    shoal_bin = args.bin
    if not shoal_bin:
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "shoal-node"], cwd=ROOT, check=True)
        target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
        shoal_bin = os.path.join(target, "release", "shoal-node")

    print(f"machine: {os.cpu_count()} CPUs; redis: {subprocess.run(['redis-server', '--version'], capture_output=True, text=True).stdout.split()[2]}")
    print(f"redis-benchmark -t set,get -c 50 -d 100 -r 1000000, {args.rounds} alternating rounds, medians\n")
    servers = {w: start(w, shoal_bin, args.threads) for w in ("redis", "shoal")}
    try:
        header = f"{'test':<10}{'redis rps':>12}{'shoal rps':>12}{'ratio':>8}{'redis p99':>11}{'shoal p99':>11}{'ratio':>8}{'redis req/cpu-s':>17}{'shoal req/cpu-s':>17}{'ratio':>8}"
        print(header)
        for pipeline in (1, 16):
            n = args.requests if pipeline > 1 else max(args.requests // 5, 50_000)
            samples = {w: {"SET": [], "GET": [], "eff": []} for w in servers}
            for r in range(args.rounds):
                order = ["redis", "shoal"] if r % 2 == 0 else ["shoal", "redis"]
                for w in order:
                    res, cpu = benchmark(servers[w], pipeline, n)
                    for t in ("SET", "GET"):
                        samples[w][t].append(res[t])
                    samples[w]["eff"].append(2 * n / cpu if cpu > 0 else float("nan"))
            for t in ("SET", "GET"):
                med = {w: (statistics.median(x[0] for x in samples[w][t]), statistics.median(x[1] for x in samples[w][t])) for w in servers}
                eff = {w: statistics.median(samples[w]["eff"]) for w in servers}
                (rr, rp), (sr, sp) = med["redis"], med["shoal"]
                print(f"{t} -P {pipeline:<3}{rr:>12,.0f}{sr:>12,.0f}{ratio(sr, rr):>8.2f}{rp:>9.3f}ms{sp:>9.3f}ms{ratio(sp, rp):>8.2f}"
                      f"{eff['redis']:>17,.0f}{eff['shoal']:>17,.0f}{ratio(eff['shoal'], eff['redis']):>8.2f}")
    finally:
        for s in servers.values():
            s.stop()

    print(f"\nmemory after loading {args.keys:,} keys (16-byte keys, 100-byte values), fresh servers")
    rss = {}
    for w in ("redis", "shoal"):
        s = start(w, shoal_bin, args.threads)
        try:
            load_keys(s, args.keys)
            time.sleep(1)
            keys = int(s.cli("DBSIZE").strip() or 0)
            used = [l for l in s.cli("INFO", "memory").splitlines() if l.startswith("used_memory:")]
            rss[w] = s.rss()
            print(f"  {w:<6} keys={keys:,}  RSS={rss[w] / 2**20:8.1f} MiB  {used[0] if used else ''}")
        finally:
            s.stop()
    print(f"  RSS ratio shoal/redis: {ratio(rss['shoal'], rss['redis']):.2f}")


if __name__ == "__main__":
    main()
