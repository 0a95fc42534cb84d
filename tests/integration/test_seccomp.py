"""Seccomp inside the real sandbox, proven by evidence.

The static try_syscall probe (tests/probe/try_syscall.c) calls every syscall
the policy denies, with harmless arguments, and prints one JSON line per
attempt. Each must fail with EPERM *and* appear in the event log as a
syscall_denied record (the supervisor answered it through the seccomp
listener). Every exec appears as an exec record with its argv. Ordinary
workloads (python3, shell pipelines, coreutils, git) run with no denial.
"""
import json
import os
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from conftest import host_has_ipv6, log_records, mkdtemp_world

TS_DIR = "/ts"
TS = TS_DIR + "/try_syscall"


@pytest.fixture(scope="session")
def try_syscall_bin(probe_bin):
    p = Path(os.environ.get("AIRLOCK_TRY_SYSCALL", probe_bin.parent / "try_syscall"))
    if not p.is_file():
        pytest.fail(f"try_syscall probe not found: {p} (build it with ninja)")
    return p


@pytest.fixture(scope="session")
def ts_dir(try_syscall_bin):
    """A world-readable copy of try_syscall, mounted read-only at /ts
    (read-only volumes are executable unless noexec)."""
    d = mkdtemp_world("airlock-ts-")
    shutil.copy2(try_syscall_bin, d / "try_syscall")
    (d / "try_syscall").chmod(0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def cases(try_syscall_bin):
    """{'denied': [...], 'enosys': [...], 'allowed': [...], 'killed': [...]}"""
    out = subprocess.run([str(try_syscall_bin), "list"], capture_output=True, text=True,
                         check=True).stdout
    kinds = {}
    for line in out.splitlines():
        kind, name = line.split()
        kinds.setdefault(kind, []).append(name)
    return kinds


def run_logged(airlock, ts_dir, world_tmp, *cmd, opts=()):
    log = world_tmp / f"run-{len(list(world_tmp.iterdir()))}.jsonl"
    res = airlock.run("run", *airlock.extra, "--log", str(log), "-v", f"{ts_dir}:{TS_DIR}:ro",
                      *opts, "--", *cmd, timeout=120)
    recs = log_records(log) if log.exists() else []
    return res, recs


def probe_lines(res):
    return {r["syscall"]: r for r in res.records if "syscall" in r}


def of_type(recs, t):
    return [r for r in recs if r.get("type") == t]


@pytest.fixture(scope="module")
def all_run(airlock, ts_dir, airlock_works, tmp_path_factory):
    d = tmp_path_factory.mktemp("seccomp-all")
    d.chmod(0o755)
    return run_logged(airlock, ts_dir, d, TS, "all")


def test_every_denied_syscall_gets_eperm(all_run, cases):
    res, _ = all_run
    assert res.rc == 0, res.describe()
    got = probe_lines(res)
    assert len(cases["denied"]) >= 50
    bad = {n: got.get(n) for n in cases["denied"] if got.get(n, {}).get("errno") != "EPERM"}
    assert not bad, f"not EPERM: {bad}\n{res.describe()}"


def test_every_denied_syscall_is_recorded(all_run, cases):
    res, recs = all_run
    got = probe_lines(res)
    denied = of_type(recs, "syscall_denied")
    # one record per attempt, same syscall numbers, from the probe's pid
    want = Counter(got[n]["nr"] for n in cases["denied"])
    have = Counter(r["nr"] for r in denied)
    assert have == want, f"records {have} != attempts {want}"
    pids = {r["pid"] for r in denied}
    assert len(pids) == 1 and pids != {None}, pids
    for r in denied:
        assert r["errno"] == 1 and r["syscall"] and r["reason"], r
    names = {r["syscall"] for r in denied}
    for n in ("bpf", "io_uring_setup", "keyctl", "ptrace", "mount", "open_tree", "unshare",
              "setns", "kexec_load", "init_module", "open_by_handle_at", "clock_settime",
              "personality", "ioctl", "socket", "clone"):
        assert n in names, f"no syscall_denied record names {n}: {sorted(names)}"


def bare_host_result(try_syscall_bin, name):
    """How this host answers a foreign-ABI case with no sandbox at all: some
    kernels refuse the i386 entry themselves (int $0x80 -> SIGSEGV when ia32
    emulation is off), so the sandbox's answer is judged against this."""
    out = subprocess.run([str(try_syscall_bin), name], capture_output=True, text=True,
                         check=True, timeout=30).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_foreign_abis_are_killed(all_run, cases, try_syscall_bin):
    """The property: a foreign-ABI call never executes. Where the bare host
    executes it, the filter must kill the caller with SIGSYS; where the host
    refuses the entry itself, the sandboxed call must die the same way."""
    res, _ = all_run
    got = probe_lines(res)
    for n in cases["killed"]:
        bare = bare_host_result(try_syscall_bin, n)
        assert "exit" not in got[n], (n, got[n])
        if "exit" in bare:
            assert got[n].get("signal") == "SIGSYS", (n, got[n])
        else:
            assert "signal" in bare, (n, bare)
            assert got[n].get("signum") == bare["signum"], (n, got[n], bare)


def test_clone3_is_enosys_and_unrecorded(all_run):
    res, recs = all_run
    assert probe_lines(res)["clone3"]["errno"] == "ENOSYS"
    assert not [r for r in of_type(recs, "syscall_denied") if r["syscall"] == "clone3"]


def test_allowed_calls_pass_unrecorded(all_run, cases):
    res, recs = all_run
    got = probe_lines(res)
    for n in cases["allowed"]:
        # EBADF/EFAULT: the harmless bad fd or path the kernel itself refuses;
        # a kernel without IPv6 refuses AF_INET6 itself, with no filter involved
        ok = (None, "EBADF", "EFAULT") + (() if host_has_ipv6() else ("EAFNOSUPPORT",))
        assert got[n].get("errno") in ok, got[n]
    assert not [r for r in of_type(recs, "syscall_denied") if r["syscall"] == "getppid"]


def test_io_uring_cannot_be_set_up(airlock, ts_dir, world_tmp, airlock_works):
    res, recs = run_logged(airlock, ts_dir, world_tmp, TS, "io_uring_setup")
    assert probe_lines(res)["io_uring_setup"]["errno"] == "EPERM", res.describe()
    assert [r for r in of_type(recs, "syscall_denied") if r["syscall"] == "io_uring_setup"]


def test_nested_user_namespace_cannot_be_created(airlock, ts_dir, world_tmp, airlock_works):
    res, recs = run_logged(airlock, ts_dir, world_tmp, TS, "unshare", "clone_newuser")
    got = probe_lines(res)
    assert got["unshare"]["errno"] == "EPERM", res.describe()
    assert got["clone_newuser"]["errno"] == "EPERM", res.describe()
    # and with the real tool, as a user would try it
    if Path("/usr/bin/unshare").exists():
        res2, recs2 = run_logged(airlock, ts_dir, world_tmp, "/usr/bin/unshare", "-U", "-r",
                                 "/bin/true")
        assert res2.rc != 0, res2.describe()
        assert [r for r in of_type(recs2, "syscall_denied") if r["syscall"] == "unshare"]


def test_every_exec_is_recorded_with_argv(airlock, ts_dir, world_tmp, airlock_works):
    script = '/bin/echo "two words" x >/dev/null; /bin/true; exec /usr/bin/env -i /bin/echo last'
    res, recs = run_logged(airlock, ts_dir, world_tmp, "/bin/sh", "-c", script)
    assert res.rc == 0 and res.stdout == b"last\n", res.describe()
    execs = [r for r in of_type(recs, "exec") if r.get("source") == "seccomp"]
    argvs = [r["argv"] for r in execs]
    assert ["/bin/sh", "-c", script] in argvs, argvs
    assert ["/bin/echo", "two words", "x"] in argvs, argvs
    assert ["/bin/true"] in argvs, argvs
    assert ["/usr/bin/env", "-i", "/bin/echo", "last"] in argvs, argvs
    assert ["/bin/echo", "last"] in argvs, argvs
    by_argv = {tuple(r["argv"]): r for r in execs}
    sh = by_argv[("/bin/sh", "-c", script)]
    echo = by_argv[("/bin/echo", "two words", "x")]
    assert echo["path"] == "/bin/echo"
    assert echo["ppid"] == sh["pid"], (sh, echo)  # forked by the shell
    # exec replaces the process: env and the echo it execs share a pid
    env = by_argv[("/usr/bin/env", "-i", "/bin/echo", "last")]
    assert by_argv[("/bin/echo", "last")]["pid"] == env["pid"]


def test_protections_are_recorded(airlock, ts_dir, world_tmp, airlock_works):
    res, recs = run_logged(airlock, ts_dir, world_tmp, "/bin/true")
    assert res.rc == 0, res.describe()
    prot = of_type(recs, "run_start")[0]["protections"]
    sc = prot["seccomp"]
    assert sc["mode"] == "allowlist" and sc["notify"] is True and sc["foreign_arch"] == "kill"


# ---------- ordinary workloads keep working ----------

PY = r'''
import multiprocessing, os, socket, subprocess, sys, threading
def sq(x): return x * x
if __name__ == "__main__":
    out = {}
    ts = [threading.Thread(target=out.__setitem__, args=(i, i)) for i in range(8)]
    [t.start() for t in ts]; [t.join() for t in ts]
    assert len(out) == 8
    r = subprocess.run(["sh", "-c", "echo sub | tr a-z A-Z"], capture_output=True, text=True)
    assert r.stdout == "SUB\n", r
    a, b = socket.socketpair(); a.sendall(b"unix"); assert b.recv(4) == b"unix"
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 0))
    v = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); v.sendto(b"udp", u.getsockname())
    assert u.recv(3) == b"udp"
    if HAVE6:  # set by the test from the bare host: no IPv6 at all with ipv6.disable=1
        u6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); u6.bind(("::1", 0))
    with multiprocessing.Pool(2) as p: assert p.map(sq, range(6)) == [0, 1, 4, 9, 16, 25]
    q = multiprocessing.Queue(); pr = multiprocessing.Process(target=q.put, args=(42,))
    pr.start(); assert q.get(timeout=30) == 42; pr.join()
    print("python ok")
'''

SHELL = r'''
set -e
cd /workspace
seq 1 2000 | sort -rn | head -3 | tr '\n' ' ' | grep -q '^2000 1999 1998'
cp /etc/passwd p && sha256sum p | cut -c1-8 >/dev/null && wc -l < p >/dev/null
mkdir -p d/e && touch d/e/f && mv d/e/f d/g && ln -s g d/h && ls -la d >/dev/null
tar cf /tmp/t.tar d && tar tf /tmp/t.tar >/dev/null && gzip -k /tmp/t.tar
find /usr/share/zoneinfo -maxdepth 1 -name UTC | grep -q UTC
awk 'BEGIN{s=0; for(i=0;i<100;i++) s+=i; print s}' | grep -q 4950
sed 's/a/b/' p >/dev/null && sort -u p | uniq -c >/dev/null && date >/dev/null && id >/dev/null
mkfifo /tmp/ff && (echo fifo > /tmp/ff &) && read x < /tmp/ff && test "$x" = fifo
echo shell ok
'''

GIT = r'''
set -e
cd /workspace && git init -q repo && cd repo
git config user.email a@example.org && git config user.name agent
echo one > f && git add f && git commit -qm one
git checkout -qb topic && echo two >> f && git commit -qam two
git checkout -q - 2>/dev/null || git checkout -q master 2>/dev/null || git checkout -q main
git merge -q topic && git log --oneline | wc -l | grep -q 2
git gc -q && git fsck 2>/dev/null && echo git ok
'''


@pytest.mark.parametrize("name,cmd,expect", [
    ("python3", ["/usr/bin/python3", "-c", PY], b"python ok\n"),
    ("shell", ["/bin/sh", "-c", SHELL], b"shell ok\n"),
    ("git", ["/bin/sh", "-c", GIT], b"git ok\n"),
])
def test_ordinary_workloads_run_clean(airlock, ts_dir, world_tmp, airlock_works, name, cmd,
                                      expect):
    if not Path(cmd[0]).exists() or (name == "git" and not Path("/usr/bin/git").exists()):
        pytest.skip(f"{cmd[0]} not installed on this host (the default image)")
    if name == "python3":
        cmd = [cmd[0], cmd[1], f"HAVE6 = {host_has_ipv6()}\n" + cmd[2]]
    res, recs = run_logged(airlock, ts_dir, world_tmp, *cmd)
    assert res.rc == 0 and res.stdout.endswith(expect), res.describe()
    denied = of_type(recs, "syscall_denied")
    assert not denied, f"{name} hit the filter: {json.dumps(denied)[:2000]}"
    assert len(of_type(recs, "exec")) >= 2


def test_denial_flood_is_capped_not_fatal(airlock, ts_dir, world_tmp, airlock_works):
    # a workload looping on a denied call: every call refused, the log bounded
    res, recs = run_logged(airlock, ts_dir, world_tmp, TS, "repeat", "10100", "sysfs")
    assert res.rc == 0, res.describe()
    line = probe_lines(res)["sysfs"]
    assert line["eperm"] == 10100, line
    assert len(of_type(recs, "syscall_denied")) == 10000
    assert len(of_type(recs, "syscall_denied_unrecorded")) == 1
