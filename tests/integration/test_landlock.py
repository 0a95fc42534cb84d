"""Landlock inside the real sandbox, proven by evidence.

Each check targets something only Landlock stops -- the mount layout would
allow it -- so a pass shows Landlock at work, not the read-only mounts:
writing /proc/self/comm (procfs is writable by its owner), TCP bind/connect
on the sandbox's own loopback when network.loopback_tcp is false, and the
converse: what must still work (executing from volumes unless noexec, TCP on
the sandbox's own lo by default).
"""
import json
import shutil
from pathlib import Path

import pytest

from conftest import host_has_ipv6, log_records, mkdtemp_world

PY = "/usr/bin/python3"


@pytest.fixture(autouse=True)
def _need(airlock_works):
    if not Path(PY).exists():
        pytest.skip("python3 not on this host (the default image)")


def py(airlock, code, opts=()):
    return airlock.run("run", *airlock.extra, *opts, "--", PY, "-c", code, timeout=60)


def errno_of(airlock, code, opts=()):
    """Run code inside; it prints 'ok' or the errno name of the OSError."""
    wrapped = ("import errno, os, socket, sys\ntry:\n" +
               "".join("    " + line + "\n" for line in code.strip().splitlines()) +
               "    print('ok')\nexcept OSError as e:\n    print(errno.errorcode[e.errno])\n")
    res = py(airlock, wrapped, opts)
    assert res.rc == 0, res.describe()
    return res.stdout.decode().strip()


def test_procfs_is_read_only_to_the_workload(airlock):
    # the mount allows it (a process may rename itself through procfs): only Landlock refuses
    assert errno_of(airlock, "open('/proc/self/comm', 'w').write('renamed')") == "EACCES"
    assert errno_of(airlock, "open('/proc/self/status').read()") == "ok"


def test_volumes_execute_unless_noexec(airlock, world_tmp):
    """Read-only volumes are executable (as with docker, podman, bwrap):
    `-v ./tools:/tools:ro` then `/tools/run` works; `noexec` turns it off,
    for both the mount and Landlock, in both the CLI and the mapping form."""
    shutil.copy2("/bin/true", world_tmp / "tool")
    (world_tmp / "tool").chmod(0o755)
    for mode in ("", ":ro", ":rw,owner=root"):
        res = airlock.run("run", *airlock.extra, "-v", f"{world_tmp}:/data{mode}", "--", "/data/tool")
        assert res.rc == 0, (mode, res.describe())
    for mode in (":ro,noexec", ":noexec", ":rw,noexec,owner=root"):
        opts = ["-v", f"{world_tmp}:/data{mode}"]
        assert errno_of(airlock, "open('/data/tool', 'rb').read(4)", opts) == "ok"
        assert errno_of(airlock, "os.execv('/data/tool', ['tool'])", opts) == "EACCES", mode
    spec = world_tmp / "spec.yaml"
    spec.write_text(f"volumes:\n  - {{host: {world_tmp}, path: /data, noexec: true}}\n"
                    f"  - {{host: {world_tmp}, path: /data2, noexec: false}}\n")
    spec.chmod(0o644)
    opts = ["--spec", str(spec)]
    assert errno_of(airlock, "os.execv('/data/tool', ['tool'])", opts) == "EACCES"
    res = airlock.run("run", *airlock.extra, *opts, "--", "/data2/tool")
    assert res.rc == 0, res.describe()


def test_writable_areas_allow_write_and_exec(airlock):
    script = ("set -e; for d in /tmp /var/tmp /workspace \"$HOME\" /dev/shm; do "
              "echo x > $d/f; rm $d/f; done; cp /bin/true /tmp/t && /tmp/t && "
              "cp /bin/true /workspace/t && /workspace/t && cp /bin/true \"$HOME\"/t && "
              "\"$HOME\"/t && echo ok")
    res = airlock.run("run", *airlock.extra, "--", "/bin/sh", "-c", script)
    assert res.rc == 0 and res.stdout == b"ok\n", res.describe()


def test_dev_nodes_usable(airlock):
    script = "set -e; echo x > /dev/null; head -c 4 /dev/zero | wc -c; head -c 4 /dev/urandom >/dev/null; echo ok"
    res = airlock.run("run", *airlock.extra, "--", "/bin/sh", "-c", script)
    assert res.rc == 0 and res.stdout == b"4\nok\n", res.describe()


@pytest.mark.parametrize("off", [["--no-loopback-tcp"], "spec"])
def test_tcp_bind_and_connect_are_denied_when_loopback_tcp_is_off(airlock, world_tmp, off):
    if off == "spec":
        spec = world_tmp / "spec.yaml"
        spec.write_text("network: {loopback_tcp: false}\n")
        spec.chmod(0o644)
        off = ["--spec", str(spec)]
    # the netns holds only lo; Landlock handles TCP bind/connect with no rule
    assert errno_of(airlock, "socket.socket().bind(('127.0.0.1', 0))", off) == "EACCES"
    if host_has_ipv6():   # a kernel booted with ipv6.disable=1 has no AF_INET6 at all
        assert errno_of(airlock, "socket.socket(socket.AF_INET6).bind(('::1', 0))", off) == "EACCES"
    assert errno_of(airlock, "socket.create_connection(('127.0.0.1', 9), timeout=2)", off) == "EACCES"
    # MPTCP is TCP to the network but not to Landlock: the socket filter refuses it
    assert errno_of(airlock, "socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)", off) == "EPERM"
    assert errno_of(airlock, "socket.socket(socket.AF_INET6, socket.SOCK_STREAM, 262)", off) == "EPERM"
    # other kinds of sockets are not Landlock's business
    assert errno_of(airlock, "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
                             "s.bind(('127.0.0.1', 0))", off) == "ok"
    assert errno_of(airlock, "s = socket.socket(socket.AF_UNIX); s.bind('/tmp/s')", off) == "ok"


@pytest.mark.parametrize("flag", [[], ["--allow-loopback-tcp"]])
def test_loopback_tcp_by_default_reaches_only_the_sandbox(airlock, flag):
    """By default (and with the old --allow-loopback-tcp): a server on the
    sandbox's own lo works; the host's loopback is still another network
    namespace, out of reach."""
    import socket as hsock
    host = hsock.socket()
    host.bind(("127.0.0.1", 0))
    host.listen()
    port = host.getsockname()[1]
    try:
        code = ("import socket, threading, json\n"
                "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n"
                "threading.Thread(target=lambda: s.accept()[0].sendall(b'pong'), daemon=True).start()\n"
                "c = socket.create_connection(s.getsockname(), timeout=5)\n"
                "local = c.recv(4).decode()\n"
                "try:\n"
                f"    socket.create_connection(('127.0.0.1', {port}), timeout=2); host = 'connected'\n"
                "except OSError as e:\n"
                "    host = type(e).__name__\n"
                "print(json.dumps({'local': local, 'host': host}))\n")
        res = airlock.run("run", *airlock.extra, *flag, "--", "python3", "-c", code)
        assert res.rc == 0, res.describe()
        out = json.loads(res.stdout.decode().strip().splitlines()[-1])
        assert out["local"] == "pong", out
        assert out["host"] != "connected", out   # refused: nothing listens on the sandbox's port
        host.settimeout(0.5)
        with pytest.raises(hsock.timeout):
            host.accept()                          # and nothing arrived on the host
    finally:
        host.close()


def test_ruleset_is_recorded(airlock, world_tmp):
    log = world_tmp / "run.jsonl"
    res = airlock.run("run", *airlock.extra, "--log", str(log), "-v", f"{world_tmp}:/vol:ro",
                      "-v", f"{world_tmp}:/data:ro,noexec", "--", "/bin/true")
    assert res.rc == 0, res.describe()
    start = [r for r in log_records(log) if r["type"] == "run_start"][0]
    ll = start["protections"]["landlock"]
    abi = ll["abi"]
    assert ll["enabled"] is True and abi >= 1, ll
    rules = {r["path"]: set(r["access"]) for r in ll["fs_rules"]}
    assert "write_file" not in rules["/etc"] and "execute" not in rules["/etc"]
    assert "execute" in rules["/usr"] and "write_file" not in rules["/usr"]
    assert {"write_file", "execute", "make_reg"} <= rules["/tmp"]
    assert rules["/vol"] == {"read_file", "read_dir", "execute"}, rules["/vol"]
    assert rules["/data"] == {"read_file", "read_dir"}, rules["/data"]
    if abi >= 4:
        assert ll["net_tcp_denied"] is False   # loopback TCP is allowed by default
        log2 = world_tmp / "run2.jsonl"
        res = airlock.run("run", *airlock.extra, "--log", str(log2), "--no-loopback-tcp",
                          "--", "/bin/true")
        assert res.rc == 0, res.describe()
        start = [r for r in log_records(log2) if r["type"] == "run_start"][0]
        assert start["protections"]["landlock"]["net_tcp_denied"] is True
    if abi >= 6:
        assert ll["scope_signal"] is True and ll["scope_abstract_unix"] is True
