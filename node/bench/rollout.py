#!/usr/bin/env python3
"""Benchmark rolling restarts and warm restarts, side by side with the old path
and with Redis.

    python3 node/bench/rollout.py [--rounds 3] [--keys 1000000] [--skip-warm]

Rolling restart: a local cluster of 3 primaries with 1 replica each under
`redis-benchmark --cluster` SET load, with one checking writer per shard
(SET then WAIT 1 100 on the shard's primary, following MOVED and TRYAGAIN).
`shoal-node local-cluster --rolling-restart` restarts every node (replicas
first, each primary by a handover) and prints each shard's longest write
pause; then every key the checking writers had acknowledged (OK, and the
subset WAIT confirmed) is read back: lost must be 0. For comparison, the
same writers measure `kill -9` of each primary (the failover path). Medians
over the rounds.

Warm restart: one node with --dir holding --keys 100-byte strings is stopped
(SIGTERM writes its snapshot) and started again; the time from exec until
DBSIZE answers the full count, against redis-server loading an RDB of the
same keys (SAVE, then restart with that dir). Medians over the rounds.
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
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import pick_base  # noqa: E402
from compare import free_port, prepare, ratio, wait_port  # noqa: E402

import redis  # noqa: E402
from redis.backoff import NoBackoff  # noqa: E402
from redis.retry import Retry  # noqa: E402

# The writers measure the server: no client-side retries hiding or adding waits.
NO_RETRY = dict(retry=Retry(NoBackoff(), 0))


def slot_owner(ports, slot):
    for p in ports:
        try:
            for s in redis.Redis(port=p, socket_timeout=1, **NO_RETRY).execute_command("CLUSTER", "SLOTS"):
                if s[0] <= slot <= s[1]:
                    return s[2][1]
        except (redis.RedisError, OSError):
            continue
    return None


class Writer(threading.Thread):
    """Writes `{tag}:i` to the primary of its slot; remembers what was
    answered OK and what WAIT 1 confirmed, and the longest gap between OKs
    (since `reset_gap`)."""

    def __init__(self, ports, tag):
        super().__init__(daemon=True)
        self.ports, self.tag = ports, tag
        self.slot = redis.Redis(port=ports[0]).execute_command("CLUSTER", "KEYSLOT", tag)
        self.ok, self.waited = [], []
        self.stop = threading.Event()
        self.longest = 0.0
        self.last = None

    def reset_gap(self):
        self.longest, self.last = 0.0, None

    def run(self):
        i, conn = 0, None
        while not self.stop.is_set():
            try:
                if conn is None:
                    port = slot_owner(self.ports, self.slot)
                    if port is None:
                        time.sleep(0.005)
                        continue
                    conn = redis.Redis(port=port, socket_timeout=3, **NO_RETRY)
                key = f"{self.tag}:{i}"
                if conn.set(key, i):
                    now = time.time()
                    if self.last is not None:
                        self.longest = max(self.longest, now - self.last)
                    self.last = now
                    self.ok.append(i)
                    if conn.execute_command("WAIT", 1, 100) >= 1:
                        self.waited.append(i)
                i += 1
            except redis.exceptions.MovedError as e:
                conn = redis.Redis(port=e.port, socket_timeout=3, **NO_RETRY)
            except redis.exceptions.TryAgainError:
                time.sleep(0.001)
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError):
                conn = None
                time.sleep(0.005)
            except redis.exceptions.ResponseError:
                time.sleep(0.005)

    def lost(self):
        port = slot_owner(self.ports, self.slot)
        r = redis.Redis(port=port, socket_timeout=30)
        missing_ok = missing_waited = 0
        waited = set(self.waited)
        for start in range(0, len(self.ok), 1000):
            batch = self.ok[start:start + 1000]
            got = r.mget([f"{self.tag}:{i}" for i in batch])
            for i, v in zip(batch, got):
                if v != str(i).encode():
                    missing_ok += 1
                    missing_waited += i in waited
        return missing_ok, missing_waited


def tags_per_shard(port):
    """One hash tag on each shard's slots, by the cluster's own KEYSLOT."""
    r = redis.Redis(port=port)
    slots = r.execute_command("CLUSTER", "SLOTS")
    out = []
    for s in sorted(slots):
        for i in range(100000):
            tag = f"{{b{i}}}"
            if s[0] <= r.execute_command("CLUSTER", "KEYSLOT", tag) <= s[1]:
                out.append(tag)
                break
    return out


def pid_of(d, port):
    return int(open(os.path.join(d, f"node-{port}.pid")).read())


def rolling(args):
    n = 6
    base = pick_base(n, (0, 1000, 2000))
    ports = [base + i for i in range(n)]
    pauses, kills, lost_ok, lost_waited, acked = [], [], 0, 0, 0
    for rnd in range(args.rounds):
        d = tempfile.mkdtemp(prefix="bench-roll-")
        subprocess.run([args.bin, "local-cluster", "--shards", "3", "--replicas", "1", "--base-port", str(base),
                        "--dir", d], check=True, capture_output=True)
        try:
            time.sleep(1)
            load = subprocess.Popen(["redis-benchmark", "-p", str(base), "--cluster", "-t", "set", "-n", "100000000",
                                     "-c", "20", "-r", "100000", "-d", "100", "-q"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            writers = [Writer(ports, t) for t in tags_per_shard(base)]
            for w in writers:
                w.start()
            time.sleep(1)
            out = subprocess.run([args.bin, "local-cluster", "--dir", d, "--rolling-restart", "--timeout", "60"],
                                 capture_output=True, text=True, timeout=600)
            if out.returncode != 0:
                sys.exit(f"--rolling-restart failed:\n{out.stdout}\n{out.stderr[:3000]}\nlogs kept in {d}")
            per_shard = [float(line.split("longest write pause ")[1].split(" ms")[0])
                         for line in out.stdout.splitlines() if "longest write pause" in line]
            checked = [w.longest * 1000 for w in writers]
            pauses.append((per_shard, checked))
            # The old path: kill -9 of each primary, the writers' longest gap.
            time.sleep(2)
            for w in writers:
                w.reset_gap()
                victim = slot_owner(ports, w.slot)
                os.kill(pid_of(d, victim), signal.SIGKILL)
                time.sleep(4)
                kills.append(w.longest * 1000)
            load.terminate()
            load.wait()
            for w in writers:
                w.stop.set()
                w.join(10)
            time.sleep(1)
            for w in writers:
                _, lw = w.lost()
                acked += len(w.ok)
                # kill -9 may lose writes not yet replicated (OK only); WAIT-confirmed ones never.
                lost_waited += lw
            print(f"round {rnd + 1}: rolling-restart pause per shard {per_shard} ms "
                  f"(checking writers: {[round(c, 1) for c in checked]} ms)")
            # Keys acknowledged during the rolling restart itself: all OK'd ones must be there.
            lost_ok += sum(int(line.rsplit(", ", 1)[1].split()[0]) for line in out.stdout.splitlines()
                           if "writes acknowledged" in line)
        finally:
            subprocess.run([args.bin, "local-cluster", "--dir", d, "--stop"], capture_output=True)
        shutil.rmtree(d, ignore_errors=True)
    worst = [max(p[0]) for p in pauses]
    print(f"\nrolling restart of a 3x1 cluster under redis-benchmark SET load, {args.rounds} rounds:")
    print(f"  longest write pause of any shard: median {statistics.median(worst):.1f} ms "
          f"(min {min(worst):.1f}, max {max(worst):.1f})")
    print(f"  acknowledged writes lost during the rolling restarts: {lost_ok}")
    print(f"  kill -9 of a primary (failover path): median write pause {statistics.median(kills):.0f} ms")
    print(f"  checking writers: {acked} writes, {lost_waited} WAIT-confirmed writes lost over both phases")


def wait_count(port, n, proc, timeout=600):
    start = time.time()
    while time.time() - start < timeout:
        if proc.poll() is not None:
            sys.exit(f"server exited: {proc.args}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"*1\r\n$6\r\nDBSIZE\r\n")
                reply = s.recv(64)
                if reply.startswith(b":") and int(reply[1:].strip()) == n:
                    return
        except OSError:
            pass
        time.sleep(0.005)
    sys.exit(f"timed out waiting for {n} keys on {port}")


def fill(port, n):
    """n SETs of 100-byte values through redis-cli --pipe."""
    value = "x" * 100
    lines = []
    for i in range(n):
        k = f"key:{i:010d}"
        lines.append(f"*3\r\n$3\r\nSET\r\n${len(k)}\r\n{k}\r\n$100\r\n{value}\r\n")
    data = "".join(lines).encode()
    subprocess.run(["redis-cli", "-p", str(port), "--pipe"], input=data, check=True, capture_output=True)


def warm(args):
    times = {"shoal": [], "redis": []}
    sizes = {}
    for which in ("shoal", "redis"):
        d = tempfile.mkdtemp(prefix=f"bench-warm-{which}-")
        port = free_port()
        if which == "shoal":
            cmd = [args.bin, "--port", str(port), "--admin-port", "0", "--dir", d]
        else:
            cmd = ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no", "--dir", d,
                   "--dbfilename", "dump.rdb"]
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(port)
        fill(port, args.keys)
        if which == "redis":
            subprocess.run(["redis-cli", "-p", str(port), "SAVE"], check=True, capture_output=True)
        p.send_signal(signal.SIGTERM)
        p.wait(120)
        f = os.path.join(d, "shoal.snap" if which == "shoal" else "dump.rdb")
        sizes[which] = os.path.getsize(f)
        for _ in range(args.rounds):
            start = time.time()
            p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait_count(port, args.keys, p)
            times[which].append(time.time() - start)
            # SIGKILL for shoal keeps the same snapshot for every round (SIGTERM
            # would write it again); redis-server with no save points writes none.
            p.send_signal(signal.SIGTERM if which == "redis" else signal.SIGKILL)
            p.wait(120)
        shutil.rmtree(d, ignore_errors=True)
    s, r = statistics.median(times["shoal"]), statistics.median(times["redis"])
    print(f"\nwarm restart with {args.keys} keys of 100 bytes, {args.rounds} rounds (exec until DBSIZE answers all):")
    print(f"  shoal-node from its snapshot: median {s * 1000:.0f} ms ({sizes['shoal'] / 1e6:.1f} MB file)")
    print(f"  redis-server from its RDB:    median {r * 1000:.0f} ms ({sizes['redis'] / 1e6:.1f} MB file)")
    print(f"  ratio shoal/redis: {ratio(s, r):.2f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--bin", help="shoal-node binary (default: build release)")
    ap.add_argument("--skip-warm", action="store_true")
    ap.add_argument("--skip-rolling", action="store_true")
    args = ap.parse_args()
    args.tls = False
    prepare(args)
    if not args.skip_rolling:
        rolling(args)
    if not args.skip_warm:
        warm(args)


if __name__ == "__main__":
    main()
