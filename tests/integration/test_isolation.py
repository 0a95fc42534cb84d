"""Isolation, proved by evidence: the probe inside tries the forbidden thing.

Each test is built to fail if the protection broke: a read must be refused
with the errno that shows the file is *absent* (not merely unreadable by file
modes: the planted secrets are world-readable), a write must be stopped by a
read-only mount (EROFS, on files any uid could otherwise write), and so on.
"""
import os
import re
import socket
import sys
import subprocess
import threading

import pytest

from conftest import (PROBE_MOUNT_MODE, SANDBOX_PROBE, is_rootless, make_world_writable, marker, pids_with,
                      wait_for_line, wait_until, kill_all)

pytestmark = pytest.mark.usefixtures("airlock_works")

NAMESPACES = ["user", "pid", "mnt", "net", "ipc", "uts", "cgroup", "time"]


def assert_secret_not_read(res, tok, rec, want_errno=("ENOENT",)):
    """rec: a probe read record. Must have failed with want_errno and the
    token must appear nowhere in the probe's output."""
    assert tok.encode() not in res.stdout, f"secret token leaked into the sandbox\n{res.describe()}"
    assert rec["ok"] is False, f"read of {rec['path']} succeeded\n{res.describe()}"
    assert rec["errno"] in want_errno, (
        f"read of {rec['path']}: {rec['errno']}, expected {want_errno} (the file must be "
        f"absent from the sandbox, not merely unreadable)\n{res.describe()}")


# ---------- host files outside the image ----------

@pytest.mark.parametrize("user", [None, "0"], ids=["default-user", "sandbox-root"])
def test_host_secrets_unreadable_by_path(airlock, host_secrets, user):
    """Secrets planted in /root, /home/<x>, /tmp and the caller's cwd are not
    in the sandbox. As sandbox root too (no DAC excuse: must be ENOENT)."""
    cmds = []
    for path in host_secrets.files.values():
        cmds += ["read", str(path), ","]
    opts = ["--user", user] if user else []
    res = airlock.probe(*cmds[:-1], opts=opts, cwd=host_secrets.cwd)
    assert res.rc == 0, res.describe()
    recs = res.all("read")
    assert len(recs) == len(host_secrets.files), res.describe()
    for rec in recs:
        # as the default uid a synthesized 0700 directory may answer EACCES;
        # as sandbox root only "not there" is acceptable
        assert_secret_not_read(res, host_secrets.token, rec,
                               ("ENOENT",) if user == "0" else ("ENOENT", "EACCES"))


def test_host_secrets_unreadable_via_proc_pid_root(airlock, host_secrets):
    """/proc/*/root of every visible process leads to the sandbox root only."""
    res = airlock.probe(*sum([["proc-all", "root" + str(p), ","]
                              for p in host_secrets.files.values()], [])[:-1],
                        opts=["--user", "0"])
    assert res.rc == 0, res.describe()
    assert host_secrets.token.encode() not in res.stdout, res.describe()
    for rec in res.all("proc-all"):
        assert rec["tries"], f"no process visible in /proc?\n{res.describe()}"
        for t in rec["tries"]:
            assert t["ok"] is False, f"{t['path']} readable\n{res.describe()}"


def test_host_secret_unreadable_via_dotdot_and_symlinks_from_volume(airlock, world_tmp):
    """A volume is a window onto exactly its directory: neither ../ nor a
    symlink planted in it (absolute or relative) reaches the host beside it."""
    from conftest import token
    tok = token()
    vol = world_tmp / "vol"
    vol.mkdir()
    vol.chmod(0o755)
    secret = world_tmp / "sibling-secret.txt"  # next to the volume on the host
    secret.write_text(tok)
    secret.chmod(0o644)
    (vol / "inside.txt").write_text("inside\n")
    (vol / "inside.txt").chmod(0o644)
    os.symlink(str(secret), vol / "abs-link")
    os.symlink("../sibling-secret.txt", vol / "rel-link")
    os.symlink("/proc/1/root" + str(secret), vol / "proc-link")
    os.symlink(str(world_tmp), vol / "dir-link")
    res = airlock.probe("read", "/data/inside.txt", ",",
                        "read", "/data/../sibling-secret.txt", ",",
                        "read", "/data/../../" + str(secret), ",",
                        "read", "/data/abs-link", ",",
                        "read", "/data/rel-link", ",",
                        "read", "/data/proc-link", ",",
                        "read", "/data/dir-link/sibling-secret.txt",
                        opts=["-v", f"{vol}:/data", "--user", "0"])
    assert res.rc == 0, res.describe()
    recs = res.all("read")
    assert recs[0]["ok"] and recs[0]["data"] == "inside\n", (
        f"the volume itself must be readable (else this test proves nothing)\n{res.describe()}")
    for rec in recs[1:]:
        # /proc/1/root/...: airlock's init is not ptrace-able, EACCES is fine there
        assert_secret_not_read(res, tok, rec,
                               ("ENOENT", "EACCES") if "proc-link" in rec["path"] else ("ENOENT",))


def test_root_listing_is_the_minimal_root(airlock):
    """No host directories beyond the image: no /sys, no /root of the host, no /work."""
    res = airlock.probe("ls", "/", ",", "stat", "/sys", ",", "ls", "/home",
                        opts=["--user", "0"])
    assert res.rc == 0, res.describe()
    entries = set(res.one("ls")["entries"])
    host_only = {"sys", "boot", "lost+found", "mnt", "media", "srv", "opt", "snap", "work"}
    assert not (entries & host_only), f"host directories visible: {entries & host_only}\n{res.describe()}"
    st = res.one("stat")
    assert st["ok"] is False, f"/sys present\n{res.describe()}"
    host_homes = set(os.listdir("/home")) if os.path.isdir("/home") else set()
    sandbox_homes = set(res.all("ls")[1].get("entries", []))
    assert not (host_homes & sandbox_homes - {"agent"}), (
        f"host home directories visible: {host_homes & sandbox_homes}\n{res.describe()}")


# ---------- read-only ----------

def test_read_only_volume_is_executable_unless_noexec(airlock, world_tmp):
    """`-v ./tools:/tools:ro` then `/tools/...` runs (docker, podman and
    bwrap allow it; conftest mounts the probe this way); `noexec` refuses."""
    import shutil
    shutil.copy2(airlock.probe_dir / "probe", world_tmp / "probe")
    res = airlock.run("run", *airlock.extra, "-v", f"{world_tmp}:/ro", "--", "/ro/probe", "echo", "x")
    assert res.rc == 0 and res.one("echo")["text"] == "x", res.describe()
    res = airlock.run("run", *airlock.extra, "-v", f"{world_tmp}:/ro:ro,noexec", "--",
                      "/ro/probe", "echo", "x")
    assert res.rc == 126, res.describe()


def test_read_only_paths_not_writable(airlock, world_tmp):
    """Creating a file in /, /usr, /usr/bin, /etc, /proc/sys and a volume
    without :rw fails with EROFS -- even as sandbox root, and even for a
    volume file that is world-writable on the host."""
    vol = world_tmp / "vol"
    vol.mkdir()
    (vol / "existing.txt").write_text("original\n")
    make_world_writable(vol)
    name = "airlock-probe-" + os.urandom(4).hex()
    targets = [f"/{name}", f"/usr/{name}", f"/usr/bin/{name}", f"/etc/{name}",
               f"/data/{name}", "/data/existing.txt"]
    cmds = []
    for t in targets:
        cmds += ["write", t, "pwned", ","]
    cmds += ["rm", "/data/existing.txt", ",", "mkdir", f"/data/{name}.d"]
    for user in (None, "0"):
        res = airlock.probe(*cmds, opts=["-v", f"{vol}:/data"] + (["--user", user] if user else []))
        assert res.rc == 0, res.describe()
        for rec in res.all("write") + res.all("rm") + res.all("mkdir"):
            assert rec["ok"] is False, f"{rec['cmd']} {rec['path']} succeeded\n{res.describe()}"
            assert rec["errno"] == "EROFS", (
                f"{rec['cmd']} {rec['path']}: {rec['errno']}, expected EROFS (a read-only "
                f"mount must be what stops it)\n{res.describe()}")
    assert (vol / "existing.txt").read_text() == "original\n"
    assert sorted(os.listdir(vol)) == ["existing.txt"]


def test_writable_mounts_are_only_the_documented_ones(airlock):
    """Parse /proc/self/mountinfo inside: every mount is nosuid; the only
    writable ones are the small tmpfs areas, /dev's pieces and /proc;
    every mount but /dev and its device binds (image, volumes, tmpfs areas)
    is nodev."""
    res = airlock.probe("read", "/proc/self/mountinfo")
    assert res.rc == 0, res.describe()
    info = res.one("read")
    assert info["ok"], res.describe()
    allowed_rw = re.compile(r"^(/tmp|/var/tmp|/workspace|/home/[^/]+|/dev(/.*)?|/proc)$")
    problems = []
    for line in info["data"].splitlines():
        fields = line.split()
        mnt, opts = fields[4], fields[5].split(",")
        sep = fields.index("-")
        fstype = fields[sep + 1]
        if "nosuid" not in opts:
            problems.append(f"{mnt} ({fstype}) is not nosuid")
        # device binds (/dev/null over masked /proc files, /dev's nodes, devpts) need dev
        if "nodev" not in opts and mnt != "/dev" and fstype not in ("devtmpfs", "devpts"):
            problems.append(f"{mnt} ({fstype}) is not nodev")
        if "rw" in opts and not allowed_rw.match(mnt):
            problems.append(f"{mnt} ({fstype}) is writable")
        if fstype == "tmpfs" and "rw" in opts and mnt != "/dev":
            if "size=" not in fields[-1]:
                problems.append(f"{mnt}: writable tmpfs without size limit: {fields[-1]}")
    assert not problems, "\n".join(problems) + "\n" + info["data"]


def test_workspace_and_volumes_are_nosuid_nodev(airlock, world_tmp):
    """The workspace overlay (and its lower layer), read-only and read-write
    volumes, and a noexec volume: every one nosuid and nodev; noexec where
    asked, and not elsewhere."""
    ws = world_tmp / "ws"
    ro = world_tmp / "ro"
    rw = world_tmp / "rw"
    for d in (ws, ro, rw):
        d.mkdir()
        d.chmod(0o755)
    if os.geteuid() == 0:
        os.chown(rw, 54321, 54321)   # an unprivileged owner: root's is refused rw
    res = airlock.probe("read", "/proc/self/mountinfo",
                        opts=["--workspace", str(ws), "-v", f"{ro}:/vro", "-v", f"{rw}:/vrw:rw",
                              "-v", f"{ro}:/vnx:ro,noexec"])
    assert res.rc == 0, res.describe()
    seen = {}
    for line in res.one("read")["data"].splitlines():
        fields = line.split()
        seen[fields[4]] = fields[5].split(",")
    for mnt in ("/workspace", "/vro", "/vrw", "/vnx"):
        assert mnt in seen, (mnt, sorted(seen))
        assert "nosuid" in seen[mnt] and "nodev" in seen[mnt], (mnt, seen[mnt])
    assert "noexec" in seen["/vnx"] and "noexec" not in seen["/vro"], seen
    assert "ro" in seen["/vro"] and "rw" in seen["/vrw"], seen


def test_proc_sensitive_paths_masked(airlock):
    res = airlock.probe("read", "/proc/kcore", ",", "write", "/proc/sysrq-trigger", "h", ",",
                        "read", "/proc/kallsyms", ",", "write", "/proc/sys/kernel/hostname", "x",
                        opts=["--user", "0"])
    assert res.rc == 0, res.describe()
    kcore, kallsyms = res.all("read")
    assert not kcore["ok"] or kcore["size"] == 0, res.describe()
    for w in res.all("write"):
        assert w["ok"] is False, f"write to {w['path']} succeeded\n{res.describe()}"
    if kallsyms["ok"] and kallsyms["size"]:
        # readable only with all addresses zeroed (kptr_restrict), never real ones
        addrs = {l.split()[0] for l in kallsyms["data"].splitlines() if l.strip()}
        assert addrs <= {"0" * 16}, f"kernel addresses visible\n{kallsyms['data'][:300]}"


def test_dev_is_minimal(airlock):
    res = airlock.probe("ls", "/dev", opts=["--user", "0"])
    assert res.rc == 0, res.describe()
    entries = set(res.one("ls")["entries"])
    expected = {"null", "zero", "full", "random", "urandom", "tty"}
    assert expected <= entries, f"missing: {expected - entries}\n{res.describe()}"
    allowed = expected | {"pts", "shm", "ptmx", "fd", "stdin", "stdout", "stderr", "console",
                          "core", "mqueue"}
    assert entries <= allowed, f"unexpected /dev entries: {entries - allowed}"


# ---------- namespaces, pids, hostname ----------

@pytest.mark.parametrize("ns", NAMESPACES)
def test_new_namespace(airlock, ns):
    if not os.path.exists(f"/proc/self/ns/{ns}"):
        pytest.skip(f"kernel has no {ns} namespaces")
    host = os.readlink(f"/proc/self/ns/{ns}")
    res = airlock.probe("readlink", f"/proc/self/ns/{ns}")
    assert res.rc == 0, res.describe()
    rec = res.one("readlink")
    assert rec["ok"], res.describe()
    assert rec["target"] != host, f"sandbox shares the host's {ns} namespace ({host})"


def test_no_host_pids_visible(airlock):
    """Only the sandbox's processes in /proc: pid 1 is airlock's init, the probe
    its child; a host process (with a unique marker) is neither seen nor killable."""
    mark = marker()
    host_proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)", mark[9:]])
    try:
        res = airlock.probe("pids", ",", "status", ",", "kill-pid", str(host_proc.pid), "9",
                            opts=["--user", "0"])
        assert res.rc == 0, res.describe()
        pids = res.one("pids")["pids"]
        by_pid = {p["pid"]: p for p in pids}
        assert mark[9:] not in res.stdout.decode(errors="replace"), "host process visible"
        assert 1 in by_pid, f"no pid 1 in the sandbox\n{res.describe()}"
        assert "airlock" in (by_pid[1].get("comm", "") + by_pid[1].get("cmdline", "")), (
            f"pid 1 is not airlock's init: {by_pid[1]}")
        st = res.one("status")
        assert st["ppid"] == 1, f"the workload is not a child of the sandbox init: {st}"
        # only pid 1 and the probe (and possibly short-lived helpers)
        assert len(pids) <= 3, f"too many processes visible: {pids}"
        host_pid1 = open("/proc/1/cmdline", "rb").read().split(b"\0")[0].decode()
        assert all(host_pid1 not in p.get("cmdline", "") for p in pids if p["pid"] != 1) and \
            host_pid1 not in by_pid[1].get("cmdline", ""), "host pid 1 visible"
        k = res.one("kill-pid")
        assert k["ok"] is False or host_proc.pid in by_pid, res.describe()
        assert host_proc.poll() is None, "the sandbox killed a host process"
    finally:
        host_proc.kill()
        host_proc.wait()


def test_hostname_differs(airlock):
    res = airlock.probe("hostname")
    assert res.rc == 0, res.describe()
    assert res.one("hostname")["nodename"] != socket.gethostname()
    res = airlock.probe("hostname", opts=["--hostname", "box-under-test"])
    assert res.rc == 0, res.describe()
    assert res.one("hostname")["nodename"] == "box-under-test"
    assert socket.gethostname() != "box-under-test"


# ---------- network ----------

def test_only_lo_and_up(airlock):
    res = airlock.probe("ifaces", ",", "routes")
    assert res.rc == 0, res.describe()
    rec = res.one("ifaces")
    names = [i["name"] for i in rec["interfaces"]]
    assert names == ["lo"], f"interfaces: {names}"
    if "nameindex" in rec:  # if_nameindex needs netlink, which seccomp may refuse
        assert rec["nameindex"] == ["lo"], rec
    lo = rec["interfaces"][0]
    assert lo["up"] and lo["loopback"], f"lo is not up: {lo}"
    routes = res.one("routes")
    assert routes["ipv4"] == [], f"IPv4 routes: {routes['ipv4']}"
    assert all(r.split()[-1] == "lo" for r in routes["ipv6"]), f"IPv6 routes: {routes['ipv6']}"


def _host_addresses():
    addrs = set()
    try:
        out = subprocess.run(["ip", "-o", "addr"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            f = line.split()
            if f[2] == "inet":
                addrs.add(f[3].split("/")[0])
    except OSError:
        pass
    addrs.discard("127.0.0.1")
    return sorted(addrs)


class Listener:
    """A host TCP listener that records every accepted connection."""

    def __init__(self, family=socket.AF_INET, addr="0.0.0.0"):
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((addr, 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted = []
        self._stop = False
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        self.sock.settimeout(0.2)
        while not self._stop:
            try:
                c, a = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            self.accepted.append(a)
            try:
                c.sendall(b"HOST-LISTENER")
            except OSError:
                pass
            c.close()

    def close(self):
        self._stop = True
        self.thread.join()
        self.sock.close()


def test_connect_to_host_listener_fails(airlock):
    """A listener on the host (all addresses, v4 and v6 loopback) is unreachable."""
    l4 = Listener()
    try:
        l6 = Listener(socket.AF_INET6, "::1")
    except OSError:
        l6 = None
    try:
        # sanity: the listener works from the host
        with socket.create_connection(("127.0.0.1", l4.port), timeout=2) as s:
            assert s.recv(64) == b"HOST-LISTENER"
        before = len(l4.accepted)
        cmds = ["connect", "127.0.0.1", str(l4.port)]
        for a in _host_addresses():
            cmds += [",", "connect", a, str(l4.port)]
        if l6:
            cmds += [",", "connect", "::1", str(l6.port)]
        res = airlock.probe(*cmds)
        assert res.rc == 0, res.describe()
        recs = res.all("connect")
        assert len(recs) == cmds.count("connect"), res.describe()
        for rec in recs:
            assert rec["ok"] is False, f"connected to host {rec['host']}:{rec['port']}\n{res.describe()}"
        assert b"HOST-LISTENER" not in res.stdout
        assert len(l4.accepted) == before and (not l6 or not l6.accepted), "the host accepted a connection"
    finally:
        l4.close()
        if l6:
            l6.close()


def test_sandbox_loopback_is_its_own(airlock):
    """lo inside works (so the failures above are isolation, not a broken
    stack): UDP to itself over 127.0.0.1 arrives. TCP connect to a closed port
    is refused (or denied by Landlock, which airlock also applies to TCP)."""
    res = airlock.probe("udp-self", ",", "connect", "127.0.0.1", "1")
    assert res.rc == 0, res.describe()
    assert res.one("udp-self")["ok"], res.describe()
    assert res.one("connect")["errno"] in ("ECONNREFUSED", "EACCES"), res.describe()


def test_udp_and_abstract_unix_to_host_do_not_arrive(airlock):
    """Landlock restricts TCP only; UDP and abstract unix sockets test the
    network namespace itself: a datagram to the host's 127.0.0.1 / other
    addresses never arrives, the host's abstract socket cannot be reached."""
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("0.0.0.0", 0))
    udp.settimeout(0.5)
    port = udp.getsockname()[1]
    name = "airlock-test-" + os.urandom(6).hex()
    ux = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ux.bind("\0" + name)
    ux.listen(4)
    ux.settimeout(0.5)
    try:
        cmds = ["udp-send", "127.0.0.1", str(port), "from-sandbox"]
        for a in _host_addresses():
            cmds += [",", "udp-send", a, str(port), "from-sandbox"]
        cmds += [",", "unix-connect", "@" + name]
        res = airlock.probe(*cmds)
        assert res.rc == 0, res.describe()
        assert res.all("udp-send"), res.describe()
        # sanity: the host socket does receive what is sent from the host
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.sendto(b"from-host", ("127.0.0.1", port))
        s.close()
        got = []
        while True:
            try:
                got.append(udp.recvfrom(64)[0])
            except socket.timeout:
                break
        assert b"from-host" in got, "the test's own UDP listener does not work"
        assert b"from-sandbox" not in got, "a datagram from the sandbox reached the host"
        uc = res.one("unix-connect")
        assert uc["ok"] is False, f"reached the host's abstract unix socket\n{res.describe()}"
        try:
            c, _ = ux.accept()
            c.close()
            pytest.fail("the host's abstract unix socket accepted a connection from the sandbox")
        except socket.timeout:
            pass
    finally:
        udp.close()
        ux.close()


# ---------- privileges ----------

@pytest.mark.parametrize("user", [None, "0"], ids=["default-user", "sandbox-root"])
def test_no_capabilities_and_no_new_privs(airlock, user):
    res = airlock.probe("status", opts=["--user", user] if user else [])
    assert res.rc == 0, res.describe()
    st = res.one("status")
    for k in ("CapEff", "CapBnd", "CapPrm", "CapInh", "CapAmb"):
        assert int(st[k], 16) == 0, f"{k} = {st[k]}"
    assert st["NoNewPrivs"] == "1", st


def test_default_uid_is_1000_and_user_option(airlock):
    res = airlock.probe("status", ",", "stat", "/proc/self/cwd")
    assert res.rc == 0, res.describe()
    st = res.one("status")
    assert (st["uid"], st["euid"], st["gid"]) == (1000, 1000, 1000), st
    res = airlock.probe("status", opts=["--user", "1234:4321"])
    assert res.rc == 0, res.describe()
    st = res.one("status")
    assert (st["uid"], st["euid"], st["gid"], st["egid"]) == (1234, 1234, 4321, 4321), st


def test_home_directory_exists_and_is_writable(airlock):
    res = airlock.probe("env")
    env = dict(e.split("=", 1) for e in res.one("env")["env"])
    assert "HOME" in env, env
    home = env["HOME"]
    res = airlock.probe("stat", home, ",", "write", home + "/probe.txt", "x")
    assert res.rc == 0, res.describe()
    st = res.one("stat")
    assert st["ok"] and st["type"] == "dir" and st["uid"] == 1000, res.describe()
    assert res.one("write")["ok"], res.describe()


def _uid_ranges(text):
    return [tuple(int(x) for x in l.split()) for l in text.splitlines() if l.strip()]


def test_uid_map_never_maps_host_root(airlock):
    """Inside: the uid map does not cover host uid 0. Outside: the sandbox's
    processes run as a host uid that is not 0."""
    res = airlock.probe("read", "/proc/self/uid_map", ",", "read", "/proc/self/gid_map",
                        opts=["--user", "0"])
    assert res.rc == 0, res.describe()
    for rec in res.all("read"):
        assert rec["ok"], res.describe()
        for inside, outside, count in _uid_ranges(rec["data"]):
            assert not (outside <= 0 < outside + count), f"{rec['path']} maps host 0: {rec['data']}"
    mark = marker()
    p = airlock.popen(*airlock.probe_args("echo", "ready", ",", "sleep", "30", mark,
                                          opts=["--user", "0"]))
    try:
        wait_for_line(p.stdout, b"ready")
        host_pidns = os.readlink("/proc/self/ns/pid")

        def other_pidns(q):
            try:
                return os.readlink(f"/proc/{q}/ns/pid") != host_pidns
            except PermissionError:  # rootless: not ours to inspect, so not in our namespaces
                return True
        sandbox = [q for q in pids_with(mark) if q != p.pid and other_pidns(q)]
        assert sandbox, "sandbox processes (in another pid namespace) not found from the host"
        for q in sandbox:
            with open(f"/proc/{q}/status") as f:
                uids = next(l for l in f if l.startswith("Uid:")).split()[1:]
            assert "0" not in uids, f"sandbox process {q} runs as host root: {uids}"
            with open(f"/proc/{q}/stat") as f:
                session = int(f.read().rsplit(")", 1)[1].split()[3])
            assert session != os.getsid(p.pid), f"sandbox process {q} is in airlock's session"
    finally:
        p.kill()
        p.wait()
        kill_all(pids_with(mark))


def test_sysctl_write_fails_even_as_sandbox_root(airlock):
    """Writing a global sysctl (its own value back: harmless if it worked)
    must fail, also for uid 0 inside and when airlock runs as root."""
    for user in ("0", None):
        res = airlock.probe("sysctl-write", ",", "sysctl-write", "/proc/sys/vm/overcommit_ratio",
                            ",", "sysctl-write", "/proc/sys/kernel/hostname",
                            opts=["--user", user] if user else [])
        assert res.rc == 0, res.describe()
        for rec in res.all("sysctl-write"):
            assert rec["ok"] is False, f"wrote {rec['path']} from inside\n{res.describe()}"


# ---------- what the caller has: fds, env, cwd, terminal ----------

def test_caller_fds_not_inherited(airlock, host_secrets):
    """Files and pipes the caller leaves open (inheritable) do not reach the
    workload: it sees exactly 0, 1, 2 (plus the probe's own listing fd)."""
    f = open(host_secrets.files["tmp"], "rb")
    os.set_inheritable(f.fileno(), True)
    r, w = os.pipe()
    os.set_inheritable(r, True)
    os.set_inheritable(w, True)
    try:
        res = airlock.probe("fds", pass_fds=(f.fileno(), r, w))
    finally:
        f.close()
        os.close(r)
        os.close(w)
    assert res.rc == 0, res.describe()
    rec = res.one("fds")
    fds = sorted(x["fd"] for x in rec["fds"] if x["fd"] != rec["own_dirfd"])
    assert fds == [0, 1, 2], f"fds visible in the workload: {rec['fds']}"
    assert str(host_secrets.files["tmp"]) not in res.stdout.decode(errors="replace")


def test_caller_env_secret_absent(airlock):
    from conftest import token
    tok = token()
    env = dict(os.environ, AIRLOCK_TEST_SECRET=tok, AWS_SECRET_ACCESS_KEY=tok)
    res = airlock.probe("env", ",", "proc-all", "environ",
                        opts=["-e", "GIVEN=value-1", "-e", "OTHER=a=b"], env=env)
    assert res.rc == 0, res.describe()
    assert tok.encode() not in res.stdout, f"caller's secret visible inside\n{res.describe()}"
    inside = dict(e.split("=", 1) for e in res.one("env")["env"])
    assert inside.get("GIVEN") == "value-1" and inside.get("OTHER") == "a=b", inside
    assert "AIRLOCK_TEST_SECRET" not in inside and "AWS_SECRET_ACCESS_KEY" not in inside
    # the same as sandbox root, which can read pid 1's environ if anyone can
    res = airlock.probe("proc-all", "environ", opts=["--user", "0"], env=env)
    assert tok.encode() not in res.stdout, f"caller's secret visible via /proc/*/environ\n{res.describe()}"


def test_caller_cwd_not_reachable(airlock, host_secrets):
    cwd = host_secrets.cwd
    res = airlock.probe("cwd", ",", "stat", str(cwd), ",", "readlink", "/proc/self/cwd",
                        cwd=cwd)
    assert res.rc == 0, res.describe()
    assert res.one("cwd")["cwd"] == "/workspace", res.describe()
    st = res.one("stat")
    assert st["ok"] is False and st["errno"] == "ENOENT", f"host cwd {cwd} exists inside: {st}"
    assert res.one("readlink")["target"] == "/workspace"
    res = airlock.probe("cwd", opts=["-w", "/tmp"], cwd=cwd)
    assert res.rc == 0, res.describe()
    assert res.one("cwd")["cwd"] == "/tmp"


def test_terminal_not_given_to_workload(airlock):
    """With the caller on a terminal, the workload gets no controlling
    terminal, not the terminal as stdin, and cannot push input (TIOCSTI)."""
    import fcntl
    import pty
    import termios
    master, slave = pty.openpty()
    try:
        def make_it_our_terminal():
            # like a shell's foreground job: the pty is airlock's controlling terminal
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)
        p = subprocess.Popen(airlock.cmd(*airlock.probe_args("tty")), stdin=slave,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             preexec_fn=make_it_our_terminal)
        out, err = p.communicate(timeout=60)
    finally:
        os.close(slave)
        os.close(master)
    import json
    recs = [json.loads(l) for l in out.splitlines() if l.startswith(b"{")]
    assert p.returncode == 0 and recs, (p.returncode, out, err)
    t = recs[0]
    assert t["isatty0"] is False, f"workload got the caller's terminal as stdin: {t}"
    assert t["ctty"] is False, f"workload has a controlling terminal: {t}"
    assert not any(x.get("injected") for x in t["tiocsti"]), f"TIOCSTI worked: {t}"


def test_supervisor_command_line_not_revealed(airlock, world_tmp):
    """The workload must not learn where the caller keeps the record of the
    run or its policy: the --log and --spec host paths appear nowhere in
    /proc/*/cmdline, /proc/*/environ or anything else the probe can list.
    (pid 1 is a clone of the supervisor: without care its argv is the
    caller's whole command line.) Volume sources are not checked: a bind
    mount's source path is visible in mountinfo by nature."""
    secret_dir = world_tmp / ("evidence-" + os.urandom(6).hex())
    secret_dir.mkdir()
    log = secret_dir / "run.jsonl"
    spec = secret_dir / "policy.yaml"
    spec.write_text("hostname: box\n")
    res = airlock.probe("proc-all", "cmdline", ",", "proc-all", "environ", ",", "pids",
                        opts=["--spec", str(spec), "--log", str(log), "--user", "0"])
    assert res.rc == 0, res.describe()
    out = res.stdout.decode(errors="replace")
    assert secret_dir.name not in out, (
        f"the workload can read the caller's log/spec location ({secret_dir}):\n"
        + "\n".join(l for l in out.splitlines() if secret_dir.name in l)[:1500])


# ---------- the root filesystem: synthesized /etc, exec areas, --image ----------

def test_etc_is_synthesized_not_the_hosts(airlock):
    """/etc/passwd and group are airlock's (the agent user, uid 1000), none of
    the host's accounts; /etc/shadow and the host's other files are absent."""
    res = airlock.probe("read", "/etc/passwd", ",", "read", "/etc/group", ",",
                        "read", "/etc/shadow", ",", "read", "/etc/hostname", ",",
                        "stat", "/etc/sudoers", ",", "stat", "/etc/ssh",
                        opts=["--user", "0", "--hostname", "etc-check"])
    assert res.rc == 0, res.describe()
    passwd, group, shadow, hostname = res.all("read")
    assert passwd["ok"], res.describe()
    users = {l.split(":")[0]: l.split(":") for l in passwd["data"].splitlines() if l.strip()}
    extra = set(users) - {"root", "agent", "nobody"}
    assert not extra, f"host accounts visible in /etc/passwd: {extra}"
    assert shadow["ok"] is False and shadow["errno"] == "ENOENT", res.describe()
    assert hostname["ok"] and hostname["data"].strip() == "etc-check", res.describe()
    for st in res.all("stat"):
        assert st["ok"] is False and st["errno"] == "ENOENT", f"{st['path']} present\n{res.describe()}"
    res = airlock.probe("read", "/etc/passwd")
    agent = [l.split(":") for l in res.one("read")["data"].splitlines() if l.startswith("agent:")]
    assert agent and agent[0][2] == "1000" and agent[0][5] == "/home/agent", res.one("read")


def test_var_tmp_allows_exec(airlock):
    """Agent tool installers need an exec-capable scratch area: /var/tmp."""
    res = airlock.run("run", *airlock.extra, "-v",
                      f"{airlock.probe_dir}:/probe:{PROBE_MOUNT_MODE}",
                      "--", "/bin/sh", "-c",
                      "cp /probe/probe /var/tmp/p && /var/tmp/p echo from-var-tmp")
    assert res.rc == 0, res.describe()
    assert res.one("echo")["text"] == "from-var-tmp"


@pytest.fixture
def busybox_image(world_tmp):
    import shutil
    bb = shutil.which("busybox")
    if not bb or b"statically linked" not in subprocess.run(["file", "-L", bb], capture_output=True).stdout:
        pytest.skip("busybox-static not installed")
    root = world_tmp / "rootfs"
    (root / "bin").mkdir(parents=True)
    shutil.copy2(bb, root / "bin" / "busybox")
    for applet in ("sh", "cat", "ls", "echo", "touch"):
        os.symlink("busybox", root / "bin" / applet)
    for d in ("usr/share", "etc", "tmp", "proc", "dev"):
        (root / d).mkdir(parents=True, exist_ok=True)
    # docs/isolation.md: the image provides /usr, /bin, /sbin, /lib*
    (root / "usr" / "share" / "image-marker").write_text("from the image\n")
    for p in [root, *root.rglob("*")]:
        if not p.is_symlink():
            p.chmod(0o755)
    return root


def test_image_dir_is_the_root(airlock, busybox_image):
    """--image DIR: the sandbox runs on that rootfs, read-only; the host's
    /usr is not there."""
    res = airlock.probe("read", "/usr/share/image-marker", ",", "stat", "/usr/bin/python3", ",",
                        "write", "/usr/share/image-marker", "x", ",",
                        "write", "/usr/share/new-in-image", "x", ",", "write", "/bin/new-in-image", "x",
                        opts=["--image", str(busybox_image), "--user", "0"])
    assert res.rc == 0, res.describe()
    marker_read, = res.all("read")
    assert marker_read["ok"] and marker_read["data"] == "from the image\n", res.describe()
    st = res.one("stat")
    assert st["ok"] is False and st["errno"] == "ENOENT", f"host /usr visible with --image\n{res.describe()}"
    for w in res.all("write"):
        assert w["ok"] is False and w["errno"] == "EROFS", res.describe()
    assert (busybox_image / "usr" / "share" / "image-marker").read_text() == "from the image\n"
    assert not (busybox_image / "usr" / "share" / "new-in-image").exists()
    assert not (busybox_image / "bin" / "new-in-image").exists()
    res = airlock.run("run", *airlock.extra, "--image", str(busybox_image), "--",
                      "/bin/sh", "-c", "echo shell-from-image")
    assert res.rc == 0 and res.stdout == b"shell-from-image\n", res.describe()
