"""Fixtures for the airlock integration tests.

The tests drive the real `airlock` binary as a user would, and prove
confinement by evidence: the static probe (tests/probe/probe.c) is mounted
read-only into the sandbox at /probe/probe, tries the forbidden thing and
prints one JSON line per attempt.

Environment:
  AIRLOCK_BIN    the airlock binary (default: <repo>/build/src/cli/airlock)
  AIRLOCK_PROBE  the probe (default: <repo>/build/tests/probe/probe)
"""
import json
import os
import pwd
import secrets as pysecrets
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SANDBOX_PROBE_DIR = "/probe"
SANDBOX_PROBE = SANDBOX_PROBE_DIR + "/probe"
PROBE_MOUNT_MODE = os.environ.get("AIRLOCK_PROBE_MOUNT", "ro")

# airlock's own exit statuses (docs/exit-codes.md, src/supervisor/run.h)
EXIT_POLICY = 123
EXIT_TIMEOUT = 124
EXIT_SETUP = 125
EXIT_NOEXEC = 126
EXIT_NOTFOUND = 127


def _find(env, default):
    p = os.environ.get(env)
    if p:
        return Path(p).resolve()
    return default


def is_rootless():
    return os.geteuid() != 0


def host_has_ipv6():
    """Whether this kernel has IPv6 at all (ipv6.disable=1 removes the family:
    AF_INET6 sockets fail with EAFNOSUPPORT everywhere, the sandbox included).
    Tests that use IPv6 inside judge against this instead of assuming it."""
    import socket
    try:
        socket.socket(socket.AF_INET6, socket.SOCK_DGRAM).close()
        return True
    except OSError:
        return False


def mkdtemp_world(prefix="airlock-test-"):
    """A fresh directory under /tmp that any uid may read and traverse.

    In rootful mode the sandbox's uids map to an unprivileged host range, so
    whatever is mounted into the sandbox must be world-readable."""
    d = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    d.chmod(0o755)
    return d


def make_world_writable(path):
    """chmod a tree so that any sandbox uid may change it: then only the
    sandbox's own protections (read-only mounts, overlay) can stop a write,
    and a test that sees EROFS knows which protection worked."""
    path = Path(path)
    for p in [path, *path.rglob("*")]:
        if p.is_symlink():
            continue
        p.chmod(0o777 if p.is_dir() else 0o666)


@pytest.fixture(scope="session")
def airlock_bin():
    p = _find("AIRLOCK_BIN", REPO / "build" / "src" / "cli" / "airlock")
    if not p.is_file() or not os.access(p, os.X_OK):
        pytest.fail(f"airlock binary not found or not executable: {p} (set AIRLOCK_BIN)")
    return p


@pytest.fixture(scope="session")
def probe_bin():
    p = _find("AIRLOCK_PROBE", REPO / "build" / "tests" / "probe" / "probe")
    if not p.is_file():
        pytest.fail(f"probe not found: {p} (set AIRLOCK_PROBE; build it with ninja)")
    return p


@pytest.fixture(scope="session")
def probe_dir(probe_bin):
    """A world-readable copy of the probe, mounted at /probe in sandboxes."""
    d = mkdtemp_world("airlock-probe-")
    shutil.copy2(probe_bin, d / "probe")
    (d / "probe").chmod(0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def rootless():
    return is_rootless()


@pytest.fixture
def world_tmp():
    """Like tmp_path, but world-readable (for volumes and workspaces)."""
    d = mkdtemp_world()
    yield d
    shutil.rmtree(d, ignore_errors=True)


class Result:
    """A finished airlock run: rc, raw stdout/stderr, and the probe's JSON lines."""

    def __init__(self, args, cp):
        self.args = args
        self.rc = cp.returncode
        self.stdout = cp.stdout
        self.stderr = cp.stderr
        self.records = []
        for line in cp.stdout.splitlines():
            line = line.strip()
            if line.startswith(b"{"):
                try:
                    self.records.append(json.loads(line))
                except ValueError:
                    pass

    def one(self, cmd, index=0):
        found = [r for r in self.records if r.get("cmd") == cmd]
        assert len(found) > index, (
            f"probe printed no '{cmd}' record (#{index}).\n{self.describe()}")
        return found[index]

    def all(self, cmd):
        return [r for r in self.records if r.get("cmd") == cmd]

    def describe(self):
        return (f"command: {' '.join(map(str, self.args))}\nexit status: {self.rc}\n"
                f"stdout: {self.stdout[:2000]!r}\nstderr: {self.stderr[:3000]!r}")


def rootless_extra_args():
    """Rootless without a delegated cgroup, airlock refuses to run unless the
    degradation is accepted (docs: limits). The sandbox tests here are about
    isolation, not limits, so in the rootless pass they accept it
    (AIRLOCK_ROOTLESS_DEGRADE=0 turns this off, e.g. with a delegated cgroup)."""
    if is_rootless() and os.environ.get("AIRLOCK_ROOTLESS_DEGRADE", "1") != "0":
        return ["--allow-degraded", "cgroup"]
    return []


class Airlock:
    """Runs airlock; `probe(...)` runs the probe inside a sandbox.

    `extra` holds the options every sandbox run of these tests adds (see
    rootless_extra_args); `run()` passes its arguments unchanged."""

    def __init__(self, binary, probe_dir):
        self.binary = binary
        self.probe_dir = probe_dir
        self.extra = rootless_extra_args()

    def cmd(self, *args):
        return [str(self.binary), *map(str, args)]

    def run(self, *args, timeout=60, input=None, env=None, cwd=None, **kw):
        argv = self.cmd(*args)
        if input is None and "stdin" not in kw:
            kw["stdin"] = subprocess.DEVNULL
        cp = subprocess.run(argv, input=input, capture_output=True, timeout=timeout,
                            env=env, cwd=cwd, **kw)
        return Result(argv, cp)

    def probe_args(self, *probe_cmd, opts=()):
        """airlock run arguments that run the probe with probe_cmd.

        The probe's directory is mounted read-only (volumes are executable
        unless noexec): a read-write volume of root's is refused in rootful
        mode, and the probe has no reason to write there."""
        return ["run", *self.extra, "-v", f"{self.probe_dir}:{SANDBOX_PROBE_DIR}:{PROBE_MOUNT_MODE}",
                *opts, "--", SANDBOX_PROBE, *probe_cmd]

    def probe(self, *probe_cmd, opts=(), **kw):
        return self.run(*self.probe_args(*probe_cmd, opts=opts), **kw)

    def popen(self, *args, **kw):
        kw.setdefault("stdin", subprocess.DEVNULL)
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.PIPE)
        return subprocess.Popen(self.cmd(*args), **kw)


@pytest.fixture(scope="session")
def airlock(airlock_bin, probe_dir):
    return Airlock(airlock_bin, probe_dir)


@pytest.fixture(scope="session")
def run_airlock(airlock):
    """run_airlock(*args, timeout=60, input=None, **kw) -> Result"""
    return airlock.run


@pytest.fixture(scope="session")
def airlock_works(airlock):
    """Fail fast (once, clearly) if airlock cannot run anything at all."""
    r = airlock.probe("echo", "alive", timeout=60)
    if r.rc != 0 or not r.all("echo"):
        pytest.fail("airlock cannot run the probe at all; every sandbox test would "
                    "fail the same way.\n" + r.describe())
    return True


def token():
    return "AIRLOCK-SECRET-" + pysecrets.token_hex(16)


class PlantedSecrets:
    def __init__(self):
        self.token = token()
        self.files = {}   # label -> host path
        self._cleanup = []

    def plant(self, label, path, mkdir_mode=None):
        path = Path(path)
        if mkdir_mode is not None and not path.parent.exists():
            path.parent.mkdir(parents=True)
            path.parent.chmod(mkdir_mode)
            self._cleanup.append(path.parent)
        path.write_text(self.token + "\n")
        # world-readable on purpose: only the sandbox, not file modes, may stop the read
        path.chmod(0o644)
        self._cleanup.append(path)
        self.files[label] = path

    def cleanup(self):
        for p in reversed(self._cleanup):
            try:
                if p.is_dir() and not p.is_symlink():
                    shutil.rmtree(p)
                else:
                    p.unlink()
            except FileNotFoundError:
                pass


@pytest.fixture
def host_secrets(tmp_path):
    """Plant a file holding a random token in /root (or $HOME when rootless),
    /tmp, /home/<someone> and the test's cwd (a fresh directory, returned as
    .cwd). All world-readable: a sandbox that sees them could read them."""
    s = PlantedSecrets()
    name = f"airlock-secret-{pysecrets.token_hex(4)}.txt"
    home = Path(os.environ.get("HOME") or pwd.getpwuid(os.geteuid()).pw_dir)
    if not is_rootless():
        s.plant("root", Path("/root") / name)
        s.plant("home", Path("/home") / f"airlock-victim-{pysecrets.token_hex(4)}" / name,
                mkdir_mode=0o755)
    else:
        if os.access(home, os.W_OK):
            s.plant("home", home / name)
    s.plant("tmp", Path("/tmp") / name)
    cwd = mkdtemp_world("airlock-cwd-")
    s._cleanup.insert(0, cwd)
    s.plant("cwd", cwd / name)
    s.cwd = cwd
    yield s
    s.cleanup()


# --- host-side process scanning: find a run's processes by a unique marker ---

def marker():
    return "--marker=airlock-test-" + pysecrets.token_hex(8)


def pids_with(mark, exclude=()):
    """Host pids whose argv contains mark (any process, any uid)."""
    found = []
    needle = mark.encode()
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) in exclude or int(d) == os.getpid():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        if needle in cmdline:
            try:
                with open(f"/proc/{d}/stat") as f:
                    state = f.read().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if state != "Z":
                found.append(int(d))
    return found


def _stat_fields(pid):
    """(ppid, starttime, state) of a host process, or None if gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            rest = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(rest[1]), int(rest[19]), rest[0]


def descendants(root):
    """{pid: starttime} of every living descendant of host pid root (the
    sandbox init blanks its argv, so the marker alone does not find it)."""
    children = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            f = _stat_fields(int(d))
            if f:
                children.setdefault(f[0], []).append((int(d), f[1]))
    out, todo = {}, [root]
    while todo:
        for pid, start in children.get(todo.pop(), []):
            out[pid] = start
            todo.append(pid)
    return out


def still_alive(procs):
    """The processes of {pid: starttime} that still exist (same pid AND same
    start time: not a reused pid) and are not zombies."""
    alive = []
    for pid, start in procs.items():
        f = _stat_fields(pid)
        if f and f[1] == start and f[2] != "Z":
            alive.append(pid)
    return alive


def wait_until(pred, timeout=10.0, interval=0.05):
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() > end:
            return v
        time.sleep(interval)


def wait_for_line(stream, needle, timeout=30.0):
    """Read lines from a pipe until one contains needle (bytes); returns all read."""
    import selectors
    sel = selectors.DefaultSelector()
    sel.register(stream, selectors.EVENT_READ)
    buf = b""
    end = time.monotonic() + timeout
    fd = stream.fileno()
    while needle not in buf:
        left = end - time.monotonic()
        if left <= 0 or not sel.select(left):
            break
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        buf += chunk
    sel.close()
    return buf


def kill_all(pids):
    for p in pids:
        try:
            os.kill(p, signal.SIGKILL)
        except OSError:
            pass


# --- the event log (docs/events.md): JSON Lines ---

def log_records(path):
    """Parse a JSON Lines event log; every line must be one JSON object."""
    out = []
    with open(path, "rb") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip(b"\n")
            if not line:
                continue
            rec = json.loads(line)
            assert isinstance(rec, dict), f"{path}:{n}: not a JSON object"
            out.append(rec)
    return out


def tree_snapshot(root):
    """Everything about a tree that a modification could change: per path its
    type, mode, size, mtime, content hash or link target."""
    import hashlib
    root = Path(root)
    snap = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for n in sorted(dirnames + filenames):
            p = Path(dirpath) / n
            st = p.lstat()
            rel = str(p.relative_to(root))
            if stat.S_ISLNK(st.st_mode):
                snap[rel] = ("l", os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                snap[rel] = ("d", stat.S_IMODE(st.st_mode), st.st_mtime_ns)
            else:
                snap[rel] = ("f", stat.S_IMODE(st.st_mode), st.st_size, st.st_mtime_ns,
                             hashlib.sha256(p.read_bytes()).hexdigest())
    st = root.lstat()
    snap["."] = ("d", stat.S_IMODE(st.st_mode), st.st_mtime_ns)
    return snap
