"""Fixtures for the end-to-end tests: real shoal-node and redis-server processes
on 127.0.0.1, and a small raw RESP client that returns exact reply bytes."""

import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=15.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"port {port} did not open")


def node_binary():
    path = os.environ.get("SHOAL_NODE_BIN")
    if not path:
        target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
        path = os.path.join(target, "debug", "shoal-node")
    if not os.path.exists(path):
        pytest.fail(f"shoal-node binary not found at {path}: build it or set SHOAL_NODE_BIN")
    return path


class Proc:
    """A server process on loopback ports, stopped on close."""

    def __init__(self, args, port, admin_port=None, env=None):
        self.port = port
        self.admin_port = admin_port
        self.log = tempfile.NamedTemporaryFile(prefix="e2e-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        try:
            wait_port(port, self.proc)
        except Exception:
            self.close()
            raise RuntimeError(f"{args[0]} failed to start:\n{self.output()}")

    def output(self):
        with open(self.log.name, errors="replace") as f:
            return f.read()

    def close(self, sig=signal.SIGTERM, timeout=10):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def start_shoal(*extra, env=None):
    port, admin = free_port(), free_port()
    # Two calls may hand out the same just-freed port: the node then fails to
    # bind its second listener.
    while admin == port:
        admin = free_port()
    args = [node_binary(), "--port", str(port), "--admin-port", str(admin), *extra]
    full_env = dict(os.environ, RUST_LOG=os.environ.get("RUST_LOG", "info"))
    full_env.update(env or {})
    return Proc(args, port, admin, full_env)


@pytest.fixture
def shoal():
    p = start_shoal()
    yield p
    p.close()


@pytest.fixture
def shoal_factory():
    procs = []

    def make(*extra, env=None):
        p = start_shoal(*extra, env=env)
        procs.append(p)
        return p

    yield make
    for p in procs:
        p.close()


@pytest.fixture(scope="session")
def redis_server():
    """The reference: Debian's redis-server 7, without persistence."""
    exe = shutil.which("redis-server")
    if not exe:
        pytest.fail("redis-server not installed: run scripts/test, which installs it")
    port = free_port()
    d = tempfile.mkdtemp(prefix="redis-ref-")
    p = Proc([exe, "--port", str(port), "--save", "", "--appendonly", "no", "--dir", d], port)
    yield p
    p.close()


class RawClient:
    """Sends commands and returns each reply's exact bytes."""

    def __init__(self, port, timeout=10.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def close(self):
        self.sock.close()

    def send_raw(self, data):
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed")
        self.buf += chunk

    def _line(self, pos):
        while True:
            i = self.buf.find(b"\r\n", pos)
            if i >= 0:
                return i
            self._fill()

    def _skip(self, pos):
        """Returns the end offset of the reply starting at pos."""
        end = self._line(pos)
        kind = self.buf[pos:pos + 1]
        head = self.buf[pos + 1:end]
        pos = end + 2
        if kind in (b"$", b"=", b"!"):
            n = int(head)
            if n < 0:
                return pos
            while len(self.buf) < pos + n + 2:
                self._fill()
            return pos + n + 2
        if kind in (b"*", b"~", b">", b"%"):
            n = int(head)
            if n < 0:
                return pos
            if kind == b"%":
                n *= 2
            for _ in range(n):
                pos = self._skip(pos)
            return pos
        return pos

    def read_reply(self):
        while not self.buf:
            self._fill()
        end = self._skip(0)
        reply, self.buf = self.buf[:end], self.buf[end:]
        return reply

    def call(self, *args):
        self.send_raw(encode(*args))
        return self.read_reply()

    def closed_by_peer(self, timeout=5.0):
        """Whether the server closes the connection (after any pending bytes)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                if not self.sock.recv(65536):
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False


def encode(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


# --- local clusters (`shoal-node local-cluster`) ----------------------------------

FORWARD_OFFSET, ADMIN_OFFSET = 1000, 2000


def ports_free(ports):
    for p in ports:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", p))
            except OSError:
                return False
    return True


def pick_base(nodes, offsets=(0, FORWARD_OFFSET, ADMIN_OFFSET)):
    for _ in range(200):
        # Below the ephemeral range (32768-): a client socket never holds a
        # node's port when it restarts.
        base = random.randrange(10000, 30000 - nodes)
        wanted = [base + off + i for off in offsets for i in range(nodes)]
        if ports_free(wanted):
            return base
    raise RuntimeError("no free port range")


class LocalCluster:
    def __init__(self, shards=3, replicas=0, extra=(), supervise=True, down_after_ms=None, options=(),
                 spare=0):
        """`options` go to local-cluster itself, `extra` to every node (after --);
        `spare` more nodes' ports are checked free (for a resize's new shards)."""
        self.dir = tempfile.mkdtemp(prefix="shoal-lc-")
        self.n = shards * (replicas + 1)
        self.base = pick_base(self.n + spare)
        args = [node_binary(), "local-cluster", "--shards", str(shards), "--replicas", str(replicas),
                "--base-port", str(self.base), "--dir", self.dir]
        if not supervise:
            args.append("--no-supervisor")
        if down_after_ms is not None:
            args += ["--down-after-ms", str(down_after_ms)]
        args += [str(o) for o in options]
        if extra:
            args += ["--", *extra]
        out = subprocess.run(args, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stdout + out.stderr
        self.started = out.stdout
        self.ports = [self.base + i for i in range(self.n)]

    def topology_path(self):
        return os.path.join(self.dir, "topology.yaml")

    def stop(self):
        out = subprocess.run([node_binary(), "local-cluster", "--dir", self.dir, "--stop"],
                             capture_output=True, text=True, timeout=60)
        if os.environ.get("SHOAL_KEEP_DIR"):
            print(f"kept {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)
        return out


def wait_for(what, check, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out: {what}")
