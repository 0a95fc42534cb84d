"""Sessions: `airlock create`, then many `exec`s into the same live sandbox,
`ls`, `rm`. Every command is forked by the sandbox's own init (same
confinement), relayed and recorded by the supervisor; the control socket
is for its owner only; nothing of a session outlives it."""
import base64
import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import is_rootless


def session_dir():
    if os.geteuid() == 0:
        return Path("/run/airlock")
    x = os.environ.get("XDG_RUNTIME_DIR")
    return Path(x) / "airlock" if x and x.startswith("/") else Path(f"/tmp/airlock-{os.geteuid()}")


class Session:
    def __init__(self, airlock, *opts, name=None):
        self.airlock = airlock
        args = ["create", *airlock.extra, "--json", *opts]
        if name:
            args += ["--name", name]
        r = airlock.run(*args, timeout=60)
        assert r.rc == 0, r.describe()
        info = json.loads(r.stdout)
        self.id = info["id"]
        self.log = Path(info["log"])

    def exec(self, *cmd, opts=(), timeout=60, input=None):
        return self.airlock.run("exec", self.id, *opts, "--", *cmd, timeout=timeout, input=input)

    def xjson(self, *cmd, opts=(), timeout=60, input=None):
        r = self.airlock.run("exec", self.id, "--json", *opts, "--", *cmd, timeout=timeout, input=input)
        assert r.stdout, r.describe()
        return r.rc, json.loads(r.stdout)

    def status(self):
        r = self.airlock.run("ls", "--json")
        assert r.rc == 0, r.describe()
        for s in json.loads(r.stdout):
            if s["id"] == self.id:
                return s
        return None

    def rm(self):
        return self.airlock.run("rm", self.id, timeout=90)

    def records(self):
        return [json.loads(l) for l in self.log.read_text().splitlines()]

    def ended(self):
        """run_end is on record (a line being written is not yet a record)."""
        try:
            return any(r["type"] == "run_end" for r in self.records())
        except (OSError, ValueError):
            return False


@pytest.fixture
def session(airlock, airlock_works):
    s = Session(airlock)
    yield s
    if s.status() is not None:
        s.rm()


def proc_cmdlines_with(marker):
    """Host pids whose command line holds marker (a unique number)."""
    found = []
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            if marker.encode() in (p / "cmdline").read_bytes() and int(p.name) != os.getpid():
                found.append(int(p.name))
        except OSError:
            pass
    return found


def wait_until(pred, timeout=20.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


def test_execs_keep_state(session):
    assert session.exec("sh", "-c", "echo one > /tmp/state; export FOO=bar; echo $FOO > /tmp/env").rc == 0
    r = session.exec("sh", "-c", "cat /tmp/state /tmp/env")
    assert r.rc == 0 and r.stdout == b"one\nbar\n", r.describe()
    # a background process started with nohup keeps running after its exec
    # (written beside and renamed: a plain `>` truncates first, and a read
    # between the truncation and the write would see an empty file)
    r = session.exec("sh", "-c", "nohup sh -c 'while :; do date +%s%N > /tmp/tick.n; mv /tmp/tick.n /tmp/tick; "
                     "sleep 0.05; done' >/dev/null 2>&1 & echo started")
    assert r.rc == 0 and r.stdout == b"started\n", r.describe()
    assert wait_until(lambda: session.exec("cat", "/tmp/tick").stdout)
    a = session.exec("cat", "/tmp/tick").stdout
    time.sleep(0.5)
    b = session.exec("cat", "/tmp/tick").stdout
    assert a and b and a != b, (a, b)
    # the same confinement as run: the sandbox's uid, no capabilities, seccomp on
    r = session.exec("sh", "-c", "grep -E '^(Uid|CapEff|Seccomp|NoNewPrivs):' /proc/self/status")
    st = dict(l.split(":\t", 1) for l in r.stdout.decode().splitlines())
    assert st["CapEff"].strip() == "0000000000000000" and st["Seccomp"].strip() == "2", st
    assert st["NoNewPrivs"].strip() == "1" and st["Uid"].split()[0] == "1000", st


def test_exit_statuses(session):
    assert session.exec("true").rc == 0
    assert session.exec("sh", "-c", "exit 42").rc == 42
    r = session.exec("no-such-command-xyz")
    assert r.rc == 127 and b"No such file" in r.stderr, r.describe()
    assert session.exec("/etc/passwd").rc == 126
    assert session.exec("sh", "-c", "kill -TERM $$").rc == 128 + signal.SIGTERM
    r = session.exec("true", opts=("-w", "/no/such/dir"))
    assert r.rc == 125 and b"chdir" in r.stderr, r.describe()
    # the sandbox is still there after all of them
    assert session.exec("true").rc == 0


def test_env_workdir_and_json(session):
    rc, j = session.xjson("sh", "-c", "echo $FOO; pwd; printf 'a\\r\\nb'",
                          opts=("-e", "FOO=x y", "-w", "/tmp"))
    assert rc == 0 and j["exit_status"] == 0 and j["stdout"] == "x y\n/tmp\na\r\nb", j
    assert j["stdout_base64"] is False and j["timed_out"] is False and j["duration_ns"] > 0
    rc, j = session.xjson("sh", "-c", "printf '\\377\\000\\001'; echo err >&2; exit 3")
    assert rc == 3 and j["exit_status"] == 3 and j["stdout_base64"] is True
    assert base64.b64decode(j["stdout"]) == b"\xff\x00\x01" and j["stderr"] == "err\n", j


def test_stdin(session):
    data = os.urandom(300000)
    r = session.exec("sh", "-c", "cat > /tmp/in; sha256sum /tmp/in", opts=("-i",), input=data)
    import hashlib
    assert r.rc == 0 and r.stdout.split()[0].decode() == hashlib.sha256(data).hexdigest(), r.describe()
    # without -i the command's stdin is empty, never the caller's
    r = session.exec("cat", input=b"secret")
    assert r.rc == 0 and r.stdout == b""


def test_concurrent_execs(session):
    results = {}

    def one(i):
        results[i] = session.exec("sh", "-c", f"sleep 0.3; echo {i}; echo e{i} >&2; exit {i % 7}")

    ts = [threading.Thread(target=one, args=(i,)) for i in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for i in range(8):
        r = results[i]
        assert r.rc == i % 7 and r.stdout == f"{i}\n".encode() and r.stderr == f"e{i}\n".encode(), r.describe()


def test_timeout_kills_the_command_not_the_sandbox(session):
    marker = f"99{os.getpid()}7"
    t0 = time.monotonic()
    r = session.exec("sh", "-c", f"sleep {marker} & sleep {marker}", opts=("--timeout", "1s"))
    assert r.rc == 124 and b"timeout" in r.stderr, r.describe()
    assert time.monotonic() - t0 < 30
    # the command and what it started in its process group are gone
    assert wait_until(lambda: not proc_cmdlines_with(marker)), proc_cmdlines_with(marker)
    rc, j = session.xjson("sh", "-c", "sleep 5", opts=("--timeout", "0.5s"))
    assert rc == 124 and j["timed_out"] is True
    assert session.exec("echo", "alive").stdout == b"alive\n"
    ends = [r for r in session.records() if r["type"] == "session_exec_end"]
    assert any(e["timed_out"] for e in ends), ends


def test_output_caps(session):
    # --json keeps the tail past the cap
    rc, j = session.xjson("sh", "-c", "seq 1 100000", opts=("--max-output", "1000"))
    assert rc == 0 and j["stdout_truncated"] is True and len(j["stdout"]) == 1000, j["stdout"][:50]
    assert j["stdout"].endswith("99999\n100000\n") and j["stdout_bytes"] > 500000
    # streaming delivers the head and says so
    r = session.exec("sh", "-c", "seq 1 100000", opts=("--max-output", "1000"))
    assert r.rc == 0 and len(r.stdout) == 1000 and r.stdout.startswith(b"1\n2\n"), r.describe()
    assert b"dropped" in r.stderr
    ends = [r for r in session.records() if r["type"] == "session_exec_end"]
    assert ends[-1]["stdout_truncated"] is True and ends[-1]["stdout_bytes"] > 500000


def test_records_and_rm_leaves_nothing(airlock, airlock_works):
    s = Session(airlock, name=f"rec{os.getpid()}")
    marker = f"88{os.getpid()}3"
    assert s.exec("sh", "-c", f"nohup sleep {marker} >/dev/null 2>&1 &").rc == 0
    assert wait_until(lambda: proc_cmdlines_with(marker))
    st = s.status()
    assert st["state"] == "running" and st["commands"] == 1 and st["name"] == f"rec{os.getpid()}", st
    # a name works wherever an id does
    assert airlock.run("exec", f"rec{os.getpid()}", "--", "true").rc == 0
    r = s.rm()
    assert r.rc == 0, r.describe()
    # rm returns after the supervisor has finished: nothing is left
    assert not proc_cmdlines_with(marker)
    assert not (session_dir() / f"{s.id}.sock").exists()
    assert s.status() is None
    recs = s.records()
    types = [r["type"] for r in recs]
    assert types[0] == "run_start" and "session_ready" in types and "session_rm" in types
    ex = [r for r in recs if r["type"] == "session_exec"]
    assert ex[0]["argv"][-1].endswith("&") and ex[0]["peer_uid"] == os.geteuid() and ex[0]["peer_pid"] > 0
    td = [r for r in recs if r["type"] == "teardown"][0]
    assert td["ok"] is True and td["processes_left"] == 0 and td["fds_left"] == 0, td
    assert td["cgroup_removed"] is True
    end = [r for r in recs if r["type"] == "run_end"][0]
    assert end["verdict"] == "removed", end
    v = airlock.run("log", "verify", str(s.log))
    assert v.rc == 0, v.describe()


def test_supervisor_killed_leaves_nothing(airlock, airlock_works):
    s = Session(airlock)
    marker = f"77{os.getpid()}1"
    assert s.exec("sh", "-c", f"nohup sleep {marker} >/dev/null 2>&1 &").rc == 0
    pid = s.status()["supervisor_pid"]
    assert wait_until(lambda: proc_cmdlines_with(marker))
    os.kill(pid, signal.SIGKILL)
    # the init dies with its supervisor (PDEATHSIG), and the namespace with it
    assert wait_until(lambda: not proc_cmdlines_with(marker))
    st = s.status()
    assert st is not None and st["state"] == "dead", st
    r = s.exec("true")
    assert r.rc == 125 and b"gone" in r.stderr, r.describe()
    r = s.rm()
    assert r.rc == 0 and b"stale" in r.stdout, r.describe()
    assert s.status() is None


def test_idle_timeout_and_max_lifetime(airlock, airlock_works):
    idle = Session(airlock, "--idle-timeout", "1s")
    life = Session(airlock, "--max-lifetime", "2s", "--idle-timeout", "0s")
    assert idle.exec("true").rc == 0
    assert wait_until(lambda: idle.status() is None, 30)
    assert wait_until(lambda: life.status() is None, 30)
    for s, why in ((idle, "idle timeout"), (life, "timeout reached")):
        # the control socket goes first (no new execs), then the teardown
        # and run_end are written: wait for the end of the record
        assert wait_until(s.ended, 30)
        end = [r for r in s.records() if r["type"] == "run_end"][0]
        assert end["verdict"] == "timeout" and why in end.get("reason", ""), end
        td = [r for r in s.records() if r["type"] == "teardown"][0]
        assert td["ok"] is True, td


def test_user_rootless_only_the_sandbox_user(airlock, session):
    if not is_rootless():
        pytest.skip("rootful: --user root is test_sessions_user.py")
    r = session.exec("id", "-u", opts=("--user", "root"))
    assert r.rc == 125 and b"rootless session maps one uid" in r.stderr, r.describe()
    assert session.exec("id", "-u", opts=("--user", "agent")).rc == 0
    r = airlock.run("cp", "--user", "root", "/etc/hostname", f"{session.id}:/tmp/h")
    assert r.rc == 125 and b"rootless session maps one uid" in r.stderr, r.describe()
    assert session.exec("test", "-e", "/tmp/h").rc == 1


def test_session_keys_in_the_spec(airlock, airlock_works, tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text("session:\n  idle_timeout: 1s\n  max_lifetime: 90m\n")
    s = Session(airlock, "--spec", spec)
    st = s.status()
    assert st["idle_timeout_ns"] == 10**9 and st["max_lifetime_ns"] == 90 * 60 * 10**9, st
    # the idle timeout from the spec fires
    assert wait_until(lambda: s.status() is None, 30)
    assert wait_until(s.ended, 30)
    end = [r for r in s.records() if r["type"] == "run_end"][0]
    assert end["verdict"] == "timeout" and "idle timeout" in end.get("reason", ""), end
    # the command line's options override the spec's keys
    o = Session(airlock, "--spec", spec, "--idle-timeout", "7m", "--max-lifetime", "3h")
    st = o.status()
    assert st["idle_timeout_ns"] == 7 * 60 * 10**9 and st["max_lifetime_ns"] == 3 * 3600 * 10**9, st
    assert o.rm().rc == 0
    # defaults: 30 min idle, 24 h
    d = Session(airlock)
    st = d.status()
    assert st["idle_timeout_ns"] == 30 * 60 * 10**9 and st["max_lifetime_ns"] == 24 * 3600 * 10**9, st
    assert d.rm().rc == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("session:\n  max_lifetime: 0s\n")
    r = airlock.run("create", *airlock.extra, "--spec", bad)
    assert r.rc == 125 and b"max_lifetime" in r.stderr, r.describe()
    bad.write_text("session:\n  idle: 1s\n")
    r = airlock.run("create", *airlock.extra, "--spec", bad)
    assert r.rc == 125, r.describe()


@pytest.mark.skipif(is_rootless(), reason="needs root to run a client as another uid")
def test_another_uid_is_refused(airlock, session):
    user = os.environ.get("AIRLOCK_TEST_USER", "airlock-test")
    r = subprocess.run(["setpriv", "--reuid", user, "--regid", user, "--clear-groups",
                        "env", "-i", "PATH=/usr/bin:/bin",
                        str(airlock.binary), "exec", session.id, "--", "true"],
                       capture_output=True, timeout=30)
    assert r.returncode == 125, (r.returncode, r.stderr)
    d = session_dir()
    sock = d / f"{session.id}.sock"
    # the directory is 0700 and the socket 0600, both root's
    assert (d.stat().st_mode & 0o777) == 0o700 and d.stat().st_uid == 0
    assert (sock.stat().st_mode & 0o777) == 0o600
    r2 = subprocess.run(["setpriv", "--reuid", user, "--regid", user, "--clear-groups",
                         str(airlock.binary), "rm", session.id], capture_output=True, timeout=30)
    assert r2.returncode == 125
    # Behind the modes, the supervisor checks the peer (SO_PEERCRED): open
    # the modes up for a moment and the other uid is still refused, and
    # the refusal is recorded.
    os.chmod(d, 0o711)
    os.chmod(sock, 0o666)
    try:
        r3 = subprocess.run(["setpriv", "--reuid", user, "--regid", user, "--clear-groups",
                             "/usr/bin/python3", "-c",
                             "import socket,sys\n"
                             "s=socket.socket(socket.AF_UNIX)\n"
                             "s.connect(sys.argv[1])\n"
                             "try:\n"
                             "    s.sendall(b'\\x01\\x00\\x00\\x00S')\n"
                             "    print(repr(s.recv(100)))\n"
                             "except (ConnectionResetError, BrokenPipeError):\n"
                             "    print(repr(b''))  # closed unanswered\n", str(sock)],
                            capture_output=True, timeout=30)
    finally:
        os.chmod(sock, 0o600)
        os.chmod(d, 0o700)
    assert r3.returncode == 0 and r3.stdout.strip() == b"b''", (r3.stdout, r3.stderr)
    refused = [r for r in session.records() if r["type"] == "session_refused"]
    assert refused and refused[0]["peer_uid"] != 0, refused
    assert session.exec("true").rc == 0


def test_session_dir_must_be_ours(airlock, airlock_works, tmp_path):
    if not is_rootless():
        pytest.skip("the rootless directory rules: /tmp/airlock-UID or $XDG_RUNTIME_DIR/airlock")
    xdg = tmp_path / "xdg"
    xdg.mkdir()
    (xdg / "airlock").mkdir(mode=0o755)
    os.chmod(xdg / "airlock", 0o755)
    env = dict(os.environ, XDG_RUNTIME_DIR=str(xdg))
    r = airlock.run("create", *airlock.extra, env=env)
    assert r.rc == 125 and b"accessible to group or others" in r.stderr, r.describe()
    os.rmdir(xdg / "airlock")
    os.symlink(tmp_path, xdg / "airlock")
    r = airlock.run("create", *airlock.extra, env=env)
    assert r.rc == 125 and b"not a link" in r.stderr, r.describe()


def test_fifty_sessions(airlock, airlock_works):
    ids = [Session(airlock, name=f"many{os.getpid()}-{i}") for i in range(50)]
    try:
        for s in ids[::7]:
            assert s.exec("echo", "ok").stdout == b"ok\n"
        live = {s["id"] for s in json.loads(airlock.run("ls", "--json").stdout)}
        assert {s.id for s in ids} <= live
    finally:
        for s in ids:
            s.rm()
    live = {s["id"] for s in json.loads(airlock.run("ls", "--json").stdout)}
    assert not ({s.id for s in ids} & live)


def test_create_keeps_no_caller_descriptor(airlock, airlock_works):
    """A descriptor the caller leaks into `airlock create` (here a pipe the
    caller then waits on for EOF) is not kept by the detached supervisor."""
    r, w = os.pipe()
    try:
        p = subprocess.run(airlock.cmd("create", *airlock.extra), pass_fds=(w,),
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
        assert p.returncode == 0, p.stderr
        os.close(w)
        w = -1
        import select
        ready, _, _ = select.select([r], [], [], 10)
        assert ready and os.read(r, 1) == b"", "the session's supervisor holds the caller's pipe"
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)
        airlock.run("rm", p.stdout.decode().strip())


def _process_memory_contains(pid, needle):
    found = False
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
        for line in maps:
            addr, perms = line.split()[:2]
            if "r" not in perms:
                continue
            lo, hi = (int(x, 16) for x in addr.split("-"))
            # AddressSanitizer's shadow (sanitizer builds only) is terabytes
            # of reserved address space holding none of the process's data
            if hi - lo > (1 << 32):
                continue
            # chunked, overlapping by the needle's length
            pos, tail = lo, b""
            while pos < hi and not found:
                try:
                    mem.seek(pos)
                    chunk = mem.read(min(1 << 24, hi - pos))
                except (OSError, ValueError, OverflowError):
                    break
                if not chunk:
                    break
                found = needle in tail + chunk
                tail = chunk[-len(needle):]
                pos += len(chunk)
            if found:
                break
    return found


@pytest.mark.skipif(is_rootless(), reason="reads the init's memory from the host (root)")
def test_init_holds_no_copy_of_the_signing_key(airlock, airlock_works, tmp_path):
    """The init is cloned from the supervisor, and a session's commands are
    forked from the init while other processes of the sandbox run: the
    log's secret key must not be in the init's memory. The secret key of
    `airlock keygen` is the hex seed; libsodium's key is seed || public key."""
    r = airlock.run("keygen", "-o", str(tmp_path / "k"))
    assert r.rc == 0, r.describe()
    seed = bytes.fromhex((tmp_path / "k.key").read_text().strip())
    s = Session(airlock, "--signing-key", str(tmp_path / "k.key"))
    try:
        assert s.exec("true").rc == 0
        sup = s.status()["supervisor_pid"]
        kids = Path(f"/proc/{sup}/task/{sup}/children").read_text().split()
        assert kids, "no sandbox init under the supervisor"
        # (the supervisor itself no longer holds it either: the first
        # checkpoint ratchets to a fresh epoch key and wipes the root one;
        # on this cgroup v1 host the init is cloned before that checkpoint)
        # the supervisor's only child here is the init (no egress proxy)
        for k in kids:
            assert not _process_memory_contains(int(k), seed), f"the init ({k}) holds the signing key"
    finally:
        s.rm()


def test_a_killed_client_ends_its_silent_command(airlock, session):
    """`airlock exec` killed (not ^C: no chance to say anything) while its
    command writes nothing: the supervisor sees the connection hang up both
    ways and kills the command at once, not at its next write."""
    marker = f"98{os.getpid()}3"
    p = subprocess.Popen(airlock.cmd("exec", session.id, "--", "sleep", marker),
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # the client and the sleep inside both hold the marker
    assert wait_until(lambda: len(proc_cmdlines_with(marker)) >= 2), proc_cmdlines_with(marker)
    p.kill()
    p.wait()
    assert wait_until(lambda: not proc_cmdlines_with(marker), timeout=10), proc_cmdlines_with(marker)
    # the record follows the command's end (the init's report, then the log)
    assert wait_until(lambda: any(r["type"] == "session_exec_end" and r.get("signal") == signal.SIGKILL
                                  for r in session.records()), timeout=10), session.records()
