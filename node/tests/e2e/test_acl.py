"""ACL users from a file, side by side with redis-server 7 given the same file:
AUTH, NOPERM for commands and keys, ACL WHOAMI/USERS/LIST/CAT/GETUSER/DRYRUN/LOAD,
and real clients (redis-cli --user, redis-py username=)."""

import os
import shutil
import time
import subprocess

import pytest
import redis

from conftest import Proc, RawClient, free_port, node_binary, start_shoal, wait_for

USERS = """user default on nopass ~* &* +@all
user reader on >readpw ~* -@all +@read +ping
user sess on >sesspw ~session:* +@all
user rw on >rwpw %R~r:* %W~w:* +@all
user off off >offpw +@all ~*
user scripter on >scriptpw ~* +@all -set
"""


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    d = tmp_path_factory.mktemp("acl")
    (d / "shoal.acl").write_text(USERS)
    (d / "redis.acl").write_text(USERS)
    shoal = start_shoal("--aclfile", str(d / "shoal.acl"))
    port = free_port()
    ref = Proc([shutil.which("redis-server"), "--port", str(port), "--save", "", "--appendonly", "no",
                "--aclfile", str(d / "redis.acl"), "--dir", str(d)], port)
    yield shoal, ref, d
    shoal.close()
    ref.close()


def both(pair, *steps):
    """Runs the same steps on one connection to each server; returns both transcripts."""
    shoal, ref, _ = pair
    out = []
    for port in (shoal.port, ref.port):
        c = RawClient(port)
        out.append([c.call(*s) for s in steps])
        c.close()
    return out


def test_auth_and_noperm_match_redis(pair):
    ours, theirs = both(
        pair,
        ("AUTH", "reader", "bad"), ("AUTH", "nouser", "x"), ("AUTH", "off", "offpw"),
        ("AUTH", "reader", "readpw"), ("SET", "a", "1"), ("GET", "a"), ("PING",), ("ACL", "WHOAMI"),
        ("HSET", "h", "f", "v"), ("AUTH", "sess", "sesspw"), ("GET", "other"), ("GET", "session:1"),
        ("MGET", "session:1", "x"), ("SET", "session:2", "v"), ("ACL", "WHOAMI"),
        ("AUTH", "rw", "rwpw"), ("GET", "w:1"), ("SET", "r:1", "x"), ("GET", "r:1"), ("SET", "w:1", "x"),
        ("DEL", "w:1"),
    )
    assert ours == theirs


def test_acl_commands_match_redis(pair):
    ours, theirs = both(
        pair,
        ("ACL", "WHOAMI"), ("ACL", "USERS"), ("ACL", "LIST"), ("ACL", "CAT"), ("ACL", "CAT", "nosuch"),
        ("ACL", "GETUSER", "rw"), ("ACL", "GETUSER", "reader"), ("ACL", "GETUSER", "nouser"),
        ("ACL", "DRYRUN", "reader", "set", "a", "1"), ("ACL", "DRYRUN", "reader", "get", "a"),
        ("ACL", "DRYRUN", "sess", "get", "zz"), ("ACL", "DRYRUN", "nouser", "get", "a"),
        ("ACL", "DRYRUN", "reader", "nocmd"), ("ACL", "DRYRUN", "rw", "set", "r:1", "v"),
    )
    assert ours == theirs
    # Our commands in a category are a subset of Redis' (Shoal serves fewer).
    shoal, ref, _ = pair
    mine = {c.decode() if isinstance(c, bytes) else c for c in redis.Redis(port=shoal.port).acl_cat("read")}
    ref_read = {c.decode() if isinstance(c, bytes) else c for c in redis.Redis(port=ref.port).acl_cat("read")}
    assert {"get", "hget", "exists"} <= mine <= ref_read
    assert "set" not in mine


def test_real_clients_log_in_as_users(pair):
    shoal, _, _ = pair
    r = redis.Redis(port=shoal.port, username="rw", password="rwpw")
    assert r.set("w:client", "1")
    with pytest.raises(redis.exceptions.NoPermissionError):
        r.get("w:client")
    assert r.acl_whoami() == "rw" or r.acl_whoami() == b"rw"
    cli = shutil.which("redis-cli")
    ok = subprocess.run([cli, "-p", str(shoal.port), "--user", "reader", "--pass", "readpw", "--no-auth-warning",
                         "GET", "a"], capture_output=True, text=True, timeout=10)
    assert ok.returncode == 0 and "NOPERM" not in ok.stdout
    denied = subprocess.run([cli, "-p", str(shoal.port), "--user", "reader", "--pass", "readpw",
                             "--no-auth-warning", "SET", "a", "1"], capture_output=True, text=True, timeout=10)
    assert "NOPERM this user has no permissions to run the 'set' command" in denied.stdout + denied.stderr
    # HELLO AUTH logs in too.
    r3 = redis.Redis(port=shoal.port, username="sess", password="sesspw", protocol=3)
    assert r3.set("session:3", "x") and r3.get("session:3") == b"x"


def test_acl_load_reloads_and_a_bad_file_changes_nothing(tmp_path):
    f = tmp_path / "users.acl"
    f.write_text("user default off\nuser admin on >adminpw +@all ~*\n")
    p = start_shoal("--aclfile", str(f))
    try:
        c = RawClient(p.port)
        assert c.call("GET", "k") == b"-NOAUTH Authentication required.\r\n"
        assert c.call("AUTH", "admin", "adminpw") == b"+OK\r\n"
        f.write_text("user default off\nuser admin on >adminpw +@all ~*\nuser late on >latepw +get ~*\n")
        assert c.call("ACL", "LOAD") == b"+OK\r\n"
        assert redis.Redis(port=p.port, username="late", password="latepw").get("k") is None
        f.write_text("user admin on +@nosuchcategory\n")
        reply = c.call("ACL", "LOAD")
        assert reply.startswith(b"-ERR Error loading ACLs")
        assert redis.Redis(port=p.port, username="late", password="latepw").get("k") is None
        c.close()
    finally:
        p.close()


def test_bad_acl_files_and_mixed_auth_fail_clearly(tmp_path):
    f = tmp_path / "bad.acl"
    f.write_text("user x on +@nosuch\n")
    out = subprocess.run([node_binary(), "--aclfile", str(f), "--port", str(free_port())],
                         capture_output=True, text=True, timeout=10)
    assert out.returncode != 0 and "aclfile" in out.stderr and "line 1" in out.stderr
    f.write_text("user x on\n")
    out = subprocess.run([node_binary(), "--aclfile", str(f), "--requirepass", "x",
                          "--port", str(free_port())], capture_output=True, text=True, timeout=10)
    assert out.returncode != 0 and "requirepass" in out.stderr


def test_acl_file_changes_apply_without_acl_load_and_masteruser_is_added(tmp_path):
    acl = tmp_path / "users.acl"
    acl.write_text("user default off\nuser app on >one ~app:* +@all\n")
    node = start_shoal("--aclfile", str(acl), "--masteruser", "shoal-internal", "--masterauth", "link-pw")
    try:
        c = RawClient(node.port)
        # The link user exists with every permission; default is off.
        assert c.call("AUTH", "shoal-internal", "link-pw") == b"+OK\r\n"
        assert c.call("SET", "any", "1") == b"+OK\r\n"
        assert c.call("AUTH", "default", "x").startswith(b"-WRONGPASS")
        assert c.call("AUTH", "app", "one") == b"+OK\r\n"
        assert c.call("SET", "other", "1").startswith(b"-NOPERM")
        # A rotated Secret: new password, new key pattern, applied in seconds.
        tmp = tmp_path / "users.acl.new"
        tmp.write_text("user default off\nuser app on >two ~other +@all\n")
        os.replace(tmp, acl)
        deadline = time.time() + 10
        while RawClient(node.port).call("AUTH", "app", "two") != b"+OK\r\n":
            assert time.time() < deadline, "the changed ACL file was never loaded"
            time.sleep(0.2)
        c2 = RawClient(node.port)
        assert c2.call("AUTH", "app", "two") == b"+OK\r\n"
        assert c2.call("SET", "other", "1") == b"+OK\r\n"
        assert c2.call("AUTH", "app", "one").startswith(b"-WRONGPASS")
        # A file that does not parse changes nothing.
        tmp.write_text("user app on >three nonsense-rule\n")
        os.replace(tmp, acl)
        wait_for("the bad ACL file is refused", lambda: "ACL file does not load" in node.output())
        assert RawClient(node.port).call("AUTH", "app", "two") == b"+OK\r\n"
        # The link user survives the reload.
        assert RawClient(node.port).call("AUTH", "shoal-internal", "link-pw") == b"+OK\r\n"
        c.close()
        c2.close()
    finally:
        node.close()


def test_scripts_run_with_the_callers_permissions(pair):
    ours, theirs = both(
        pair,
        ("AUTH", "scripter", "scriptpw"),
        ("EVAL", "return redis.call('SET', KEYS[1], 'x')", "1", "k"),
        ("EVAL", "return redis.pcall('SET', KEYS[1], 'x')", "1", "k"),
        ("EVAL", "return redis.call('GET', KEYS[1])", "1", "k"),
        ("EVAL", "return redis.acl_check_cmd('set', 'k', 'v')", "0"),
        ("EVAL", "return redis.acl_check_cmd('get', 'k')", "0"),
        ("EVAL", "return redis.acl_check_cmd('nosuch')", "0"),
        ("AUTH", "reader", "readpw"),
        ("EVAL", "return 1", "0"),
        ("AUTH", "sess", "sesspw"),
        ("EVAL", "return redis.call('GET', KEYS[1])", "1", "other"),
        ("EVAL", "return redis.call('GET', KEYS[1])", "1", "session:1"),
        ("EVAL", "return redis.acl_check_cmd('get', 'other')", "0"),
    )
    assert ours == theirs
