"""Limits, proved by evidence: a fork bomb stays within pids.max while the
host keeps working, a memory balloon is OOM-killed inside the sandbox and
reported, a disk fill stops at the tmpfs size with ENOSPC, fd exhaustion
stops at RLIMIT_NOFILE, and no cgroup of the run is left behind.

The workloads are small python3 scripts run from the host image (/usr);
each prints one JSON line with what it saw. Rootless without a delegated
cgroup, airlock must refuse (and say how to delegate) unless
--allow-degraded cgroup is given; those cases are tested in the rootless
pass (tests/run-integration.sh)."""
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from conftest import log_records, marker, pids_with

pytestmark = pytest.mark.usefixtures("airlock_works")

PY = "/usr/bin/python3"
MiB = 1024 * 1024


def degrade_opts(rootless):
    # rootless on a host without delegation: accept rlimits only, so that the
    # tests below that do not depend on the cgroup still run
    return ["--allow-degraded", "cgroup"] if rootless else []


def needs_cgroup(rootless):
    if rootless:
        pytest.skip("rootless without a delegated cgroup: memory and pids are not enforced "
                    "(the refusal and the degraded mode are tested instead)")


def write_spec(dirpath, limits):
    p = Path(dirpath) / "spec.yaml"
    p.write_text("limits: " + json.dumps(limits) + "\n")
    return p


def last_json(res):
    for line in reversed(res.stdout.splitlines()):
        line = line.strip()
        if line.startswith(b"{"):
            return json.loads(line)
    raise AssertionError("the workload printed no JSON line\n" + res.describe())


def records_of(log, type_):
    return [r for r in log_records(log) if r.get("type") == type_]


def run_id_of(log):
    return log_records(log)[0]["run"]


# ---------- pids ----------

FORK_BOMB = r"""
import json, os, sys, time
deadline = time.monotonic() + float(sys.argv[1])
me = os.getpid()
failures = 0
# every process keeps forking until the deadline: exponential if unlimited
while time.monotonic() < deadline:
    try:
        if os.fork() == 0:
            continue
    except OSError:
        failures += 1
        time.sleep(0.005)
if os.getpid() == me:
    print(json.dumps({"fork_failures": failures}), flush=True)
    os._exit(0)
os._exit(0)
"""


def test_fork_bomb_stays_within_pids_max(airlock, world_tmp, rootless):
    needs_cgroup(rootless)
    pids = 24
    # nproc well above pids: this test is about the cgroup's pids.max
    spec = write_spec(world_tmp, {"pids": pids, "nproc": 4096})
    log = world_tmp / "run.jsonl"
    mark = marker()
    p = airlock.popen("run", "--spec", spec, "--log", log, "--timeout", "60s", "--",
                      PY, "-c", FORK_BOMB, "4", mark)
    seen_max = 0
    host_ok = 0
    try:
        end = time.monotonic() + 3.5
        while time.monotonic() < end and p.poll() is None:
            seen_max = max(seen_max, len(pids_with(mark, exclude=(p.pid,))))
            # the host keeps working: it can still fork and exec
            subprocess.run(["/bin/true"], check=True, timeout=30)
            host_ok += 1
            time.sleep(0.05)
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, err
    rec = json.loads(out.strip().splitlines()[-1])
    assert rec["fork_failures"] > 0, "the bomb never hit a limit"
    assert 0 < seen_max <= pids, f"{seen_max} bomb processes seen on the host, pids.max {pids}"
    assert host_ok > 0
    limits = [r for r in records_of(log, "limit") if r.get("kind") == "pids"]
    assert limits, "no pids limit event in the log"
    end_rec = records_of(log, "run_end")[-1]
    peak = end_rec["peaks"]["pids"]
    assert 1 < peak <= pids, end_rec
    # nothing of the bomb survives the run
    assert pids_with(mark) == []


# ---------- memory ----------

BALLOON = r"""
import json
chunks = []
try:
    for i in range(4096):
        chunks.append(bytearray(16 * 1024 * 1024))  # zero-filled: really touched
except MemoryError:
    print(json.dumps({"memory_error_after_mib": 16 * len(chunks)}), flush=True)
print(json.dumps({"survived_mib": 16 * len(chunks)}), flush=True)
"""


def test_memory_balloon_is_oom_killed_inside(airlock, world_tmp, rootless):
    needs_cgroup(rootless)
    log = world_tmp / "run.jsonl"
    res = airlock.run("run", "--memory", "128MiB", "--log", log, "--timeout", "60s", "--",
                      PY, "-c", BALLOON, timeout=120)
    # the kernel's OOM killer, acting inside the cgroup, kills the balloon
    assert res.rc == 128 + 9, res.describe()
    assert b"survived_mib" not in res.stdout, res.describe()
    ooms = [r for r in records_of(log, "limit") if r.get("kind") == "oom"]
    assert ooms, "no oom limit event in the log\n" + res.describe()
    # the supervisor (outside) lived on to record the end of the run
    end_rec = records_of(log, "run_end")[-1]
    peak = end_rec["peaks"]["memory_bytes"]
    assert 64 * MiB < peak <= 128 * MiB, end_rec


# ---------- disk ----------

DISK_FILL = r"""
import errno, json, os
total, err, i = 0, None, 0
buf = b"x" * (1024 * 1024)
# 1 MiB files: the tmpfs size must stop this, not RLIMIT_FSIZE (per file)
while err is None:
    try:
        with open(f"/tmp/fill-{i}", "wb") as f:
            n = f.write(buf)
            f.flush()
            os.fsync(f.fileno())
        total += n
        i += 1
    except OSError as e:
        err = errno.errorcode.get(e.errno, str(e.errno))
    if i > 100000:
        break
print(json.dumps({"written": total, "errno": err}), flush=True)
"""


def test_defaults_fit_a_500MiB_file_in_tmp(airlock, rootless):
    """Ordinary data work fits the defaults: a 500 MiB download and its
    unpacked copy side by side in /tmp (the tmpfs pages count against the
    memory limit too; docs/limits.md)."""
    res = airlock.run("run", *degrade_opts(rootless), "--timeout", "120s", "--", "/bin/sh", "-c",
                      "head -c 524288000 /dev/zero > /tmp/big && cp /tmp/big /tmp/big.unpacked && "
                      "stat -c %s /tmp/big /tmp/big.unpacked",
                      timeout=180)
    assert res.rc == 0, res.describe()
    assert res.stdout == b"524288000\n524288000\n", res.describe()


def test_disk_fill_stops_at_tmpfs_limit(airlock, world_tmp, rootless):
    disk = 16 * MiB
    log = world_tmp / "run.jsonl"
    res = airlock.run("run", "--disk", "16MiB", *degrade_opts(rootless), "--timeout", "60s",
                      "--log", log, "--", PY, "-c", DISK_FILL, timeout=120)
    assert res.rc == 0, res.describe()
    rec = last_json(res)
    assert rec["errno"] == "ENOSPC", rec
    assert disk - 2 * MiB <= rec["written"] <= disk, rec
    # the supervisor saw it from outside: one disk limit event for /tmp
    hits = [r for r in records_of(log, "limit") if r.get("kind") == "disk"]
    assert [h["path"] for h in hits] == ["/tmp"], hits
    assert hits[0]["exhausted"] == "space" and hits[0]["limit_bytes"] == disk, hits


def test_filling_nothing_reports_no_disk_event(airlock, world_tmp, rootless):
    """The disk event is evidence of a fill, not noise: a run that writes a
    little records none."""
    log = world_tmp / "run.jsonl"
    res = airlock.run("run", "--disk", "16MiB", *degrade_opts(rootless), "--log", log, "--",
                      "/bin/sh", "-c", "head -c 1000000 /dev/zero > /tmp/f", timeout=60)
    assert res.rc == 0, res.describe()
    assert [r for r in records_of(log, "limit") if r.get("kind") == "disk"] == []


# ---------- open files ----------

FD_EXHAUST = r"""
import errno, json, os, resource
fds, err = [], None
while err is None and len(fds) < 1000000:
    try:
        fds.append(os.open("/dev/null", os.O_RDONLY))
    except OSError as e:
        err = errno.errorcode.get(e.errno, str(e.errno))
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
try:
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard + 1, hard + 1))
    raised = True
except (ValueError, OSError):
    raised = False
print(json.dumps({"opened": len(fds), "errno": err, "soft": soft, "hard": hard,
                  "raised": raised}), flush=True)
"""


def test_fd_exhaustion_stops_at_rlimit(airlock, world_tmp, rootless):
    spec = write_spec(world_tmp, {"open_files": 64})
    res = airlock.run("run", "--spec", spec, *degrade_opts(rootless), "--timeout", "60s", "--",
                      PY, "-c", FD_EXHAUST, timeout=120)
    assert res.rc == 0, res.describe()
    rec = last_json(res)
    assert rec["errno"] == "EMFILE", rec
    assert rec["soft"] == 64 and rec["hard"] == 64, rec
    # python holds a few fds of its own; the rest of the 64 were ours
    assert 48 <= rec["opened"] < 64, rec
    assert rec["raised"] is False, "the workload raised its own hard limit"


def test_no_core_dumps(airlock, rootless, world_tmp):
    """RLIMIT_CORE is 1/1 -- below a page, so no core file, and the value at
    which the kernel refuses pipe dumps to a host helper (apport,
    systemd-coredump), which a limit of 0 does not stop -- and the workload
    cannot lower it to 0 (EPERM, recorded). A crash leaves no core file."""
    log = world_tmp / "core.jsonl"
    code = ("import json, os, resource, subprocess\n"
            "lim = resource.getrlimit(resource.RLIMIT_CORE)\n"
            "try:\n"
            "    resource.setrlimit(resource.RLIMIT_CORE, (0, 0)); lowered = 'ok'\n"
            "except ValueError as e:\n"   # how Python reports EPERM from prlimit
            "    lowered = 'EPERM' if 'not allowed' in str(e) else str(e)\n"
            "os.chdir('/workspace')\n"
            "crash = subprocess.run(['/usr/bin/python3', '-c', 'import os; os.abort()']).returncode\n"
            "print(json.dumps([lim, lowered, crash, sorted(os.listdir('/workspace'))]))\n")
    import resource
    want = 1 if resource.getrlimit(resource.RLIMIT_CORE)[1] != 0 else 0  # airlock inherits ours
    helper = Path("/proc/sys/kernel/core_pattern").read_text()[:1] in ("|", "@")
    res = airlock.run("run", *degrade_opts(rootless), "--log", str(log), "--", PY, "-c", code)
    if want == 0 and helper:
        # a hard limit of 0 cannot become 1, and 0 would not stop the helper: refused
        assert res.rc == 125 and b"ulimit -Hc 1" in res.stderr, res.describe()
        return
    assert res.rc == 0, res.describe()
    lim, lowered, crash, files = last_json_list(res)
    assert lim == [want, want], lim
    assert lowered == "EPERM", lowered
    assert crash == -6 and files == [], (crash, files)
    denied = [r for r in log_records(log) if r.get("type") == "syscall_denied"]
    assert [r["syscall"] for r in denied] == ["prlimit64"], denied


def last_json_list(res):
    for line in reversed(res.stdout.splitlines()):
        line = line.strip()
        if line.startswith(b"["):
            return json.loads(line)
    raise AssertionError(res.describe())


# ---------- cgroup lifecycle ----------

def cgroup_dirs_of(run_id):
    root = Path("/sys/fs/cgroup")
    found = []
    for p in [root / "airlock" / run_id, *root.glob(f"*/airlock/{run_id}"),
              *root.glob(f"**/airlock/{run_id}")]:
        if p.exists():
            found.append(str(p))
    return found


def test_cgroups_exist_during_and_are_removed_after_the_run(airlock, world_tmp, rootless):
    needs_cgroup(rootless)
    log = world_tmp / "run.jsonl"
    mark = marker()
    p = airlock.popen("run", "--log", log, "--timeout", "60s", "--", PY, "-c",
                      "import time, sys; print('up', flush=True); time.sleep(30)", mark)
    try:
        assert p.stdout.readline().strip() == b"up"
        start = records_of(log, "run_start")[0]
        cg = start["protections"]["cgroup"]
        assert cg["mode"] in ("v1", "v2"), cg
        paths = list(cg["paths"].values()) if cg["mode"] == "v1" else [cg["path"]]
        # the workload really is in the run's cgroup(s), with the limits written
        wpid = pids_with(mark, exclude=(p.pid,))
        assert wpid
        for path in paths:
            procs = Path(path, "cgroup.procs").read_text().split()
            assert str(wpid[0]) in procs, (path, procs, wpid)
        if cg["mode"] == "v1":
            mem = Path(cg["paths"]["memory"], "memory.limit_in_bytes").read_text().strip()
            pids = Path(cg["paths"]["pids"], "pids.max").read_text().strip()
        else:
            mem = Path(cg["path"], "memory.max").read_text().strip()
            pids = Path(cg["path"], "pids.max").read_text().strip()
        assert int(mem) == 4096 * MiB and int(pids) == 256, (mem, pids)  # the defaults
        p.terminate()
        p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    for path in paths:
        assert not Path(path).exists(), f"{path} left behind"
    assert cgroup_dirs_of(run_id_of(log)) == []
    td = records_of(log, "teardown")
    assert td and td[-1]["cgroup_removed"] is True, td


# ---------- rootless ----------

def test_rootless_without_delegation_refuses_with_instructions(airlock, rootless):
    if not rootless:
        pytest.skip("rootless only (tests/run-integration.sh runs the suite as an unprivileged user)")
    res = airlock.run("run", "--", "/bin/true")
    if res.rc == 0:
        pytest.skip("this user has a delegated cgroup: nothing to refuse")
    assert res.rc == 125, res.describe()
    assert b"delegat" in res.stderr and b"--allow-degraded cgroup" in res.stderr, res.describe()


def test_rootless_degraded_is_recorded(airlock, world_tmp, rootless):
    if not rootless:
        pytest.skip("rootless only (tests/run-integration.sh runs the suite as an unprivileged user)")
    log = world_tmp / "run.jsonl"
    res = airlock.run("run", "--allow-degraded", "cgroup", "--log", log, "--", "/bin/true")
    assert res.rc == 0, res.describe()
    start = records_of(log, "run_start")[0]
    cg = start["protections"]["cgroup"]
    if cg["mode"] in ("v1", "v2"):
        pytest.skip("this user has a delegated cgroup: no degradation happened")
    assert cg["mode"] == "none (rlimits only)", cg
    assert "cgroup" in start["degraded"], start


# ---------- rootless with a delegated cgroup (driven by root) ----------

def _unprivileged_uid():
    import pwd
    name = os.environ.get("AIRLOCK_TEST_USER", "airlock-test")
    try:
        pw = pwd.getpwnam(name)
        return pw.pw_uid, pw.pw_gid
    except KeyError:
        return 65534, 65534


def _layout():
    root = Path("/sys/fs/cgroup")
    if (root / "cgroup.controllers").exists():
        return "v2"
    if (root / "memory" / "tasks").exists():
        return "v1"
    return None


def test_rootless_with_delegated_cgroup_is_limited(airlock, world_tmp, rootless):
    """Follow docs/limits.md's delegation steps as root, then run airlock as an
    unprivileged user from a shell placed in the delegated cgroup: the run
    must get real limits, not the degraded mode."""
    if rootless:
        pytest.skip("needs root to delegate a cgroup to an unprivileged user")
    layout = _layout()
    if layout is None:
        pytest.skip("no cgroup hierarchy at /sys/fs/cgroup")
    uid, gid = _unprivileged_uid()
    name = f"airlock-deleg-{os.getpid()}"
    root = Path("/sys/fs/cgroup")
    made = []
    log = world_tmp / "deleg.jsonl"
    os.chmod(world_tmp, 0o777)
    try:
        if layout == "v1":
            for ctl in ("memory", "pids", "cpu", "freezer"):
                d = root / ctl / name
                d.mkdir()
                made.append(d)
                for p in [d, *d.iterdir()]:
                    os.chown(p, uid, gid)
            shell_dirs = made
        else:
            d = root / name
            d.mkdir()
            made.append(d)
            (d / "shell").mkdir()
            made.insert(0, d / "shell")
            for ctl in ("+memory", "+pids", "+cpu"):
                (root / "cgroup.subtree_control").write_text(ctl)
                (d / "cgroup.subtree_control").write_text(ctl)
            for p in (d, d / "cgroup.procs", d / "cgroup.subtree_control", d / "shell",
                      d / "shell" / "cgroup.procs"):
                os.chown(p, uid, gid)
            shell_dirs = [d / "shell"]
        script = (f"read go; exec {airlock.binary} run --pids 17 --log {log} -- "
                  f"{PY} -c 'print(open(\"/proc/self/cgroup\").read())'")
        p = subprocess.Popen(["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups",
                              "env", "-i", "PATH=/usr/bin:/bin", "HOME=/tmp", "sh", "-c", script],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for d in shell_dirs:
            (d / "cgroup.procs").write_text(str(p.pid))
        out, err = p.communicate(b"go\n", timeout=60)
        assert p.returncode == 0, err
        start = records_of(log, "run_start")[0]
        cg = start["protections"]["cgroup"]
        assert cg["mode"] == layout, cg
        assert cg["pids_max"] == 17, cg
        assert "cgroup" not in start["degraded"]
        run = run_id_of(log)
        paths = list(cg["paths"].values()) if layout == "v1" else [cg["path"]]
        for path in paths:
            assert f"/{name}/airlock/{run}" in path, paths
        # inside, through the cgroup namespace, the workload sees the run's cgroup
        assert f"/airlock/{run}\n".encode() in out, out
        assert records_of(log, "teardown")[-1]["cgroup_removed"] is True
    finally:
        for d in made:
            for _ in range(100):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.05)


# ---------- RLIMIT_NPROC ----------

FORK_COUNT = r"""
import errno, json, os, signal, sys, time
kids, err = [], None
while err is None and len(kids) < 1000:
    try:
        pid = os.fork()
    except OSError as e:
        err = errno.errorcode.get(e.errno, str(e.errno))
        break
    if pid == 0:
        time.sleep(60)
        os._exit(0)
    kids.append(pid)
for k in kids:
    os.kill(k, signal.SIGKILL)
print(json.dumps({"forked": len(kids), "errno": err}), flush=True)
"""


def test_nproc_limits_the_workload_uid(airlock, world_tmp, rootless):
    # pids far above nproc: the rlimit, not the cgroup, must stop the forks
    spec = write_spec(world_tmp, {"pids": 1000, "nproc": 12})
    res = airlock.run("run", "--spec", spec, *degrade_opts(rootless), "--timeout", "60s", "--",
                      PY, "-c", FORK_COUNT, timeout=120)
    assert res.rc == 0, res.describe()
    rec = last_json(res)
    assert rec["errno"] == "EAGAIN", rec
    # the sandbox init (pid 1, running as the workload's uid after its
    # identity step) and the workload itself are two of the 12
    assert rec["forked"] == 10, rec


def test_nproc_counts_only_the_sandbox_not_the_users_other_processes(airlock, world_tmp, rootless):
    """RLIMIT_NPROC is charged per (user namespace, uid): the user's processes
    outside the sandbox must not eat the sandbox's allowance (and so cannot be
    used to make a sandbox fail, nor the reverse)."""
    if rootless:
        pytest.skip("needs root to start processes as another user")
    uid, gid = _unprivileged_uid()
    os.chmod(world_tmp, 0o777)
    spec = write_spec(world_tmp, {"pids": 1000, "nproc": 12})
    os.chmod(spec, 0o644)
    outside = [subprocess.Popen(["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups",
                                 "sleep", "60"]) for _ in range(20)]
    try:
        cp = subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups",
                             "env", "-i", "PATH=/usr/bin:/bin", "HOME=/tmp",
                             str(airlock.binary), "run", "--spec", str(spec),
                             "--allow-degraded", "cgroup", "--", PY, "-c", FORK_COUNT],
                            capture_output=True, timeout=120)
    finally:
        for p in outside:
            p.kill()
            p.wait()
    assert cp.returncode == 0, cp.stderr
    rec = json.loads(cp.stdout.strip().splitlines()[-1])
    # the same 10 as when the user has no other processes (init + workload + 10)
    assert rec["errno"] == "EAGAIN" and rec["forked"] == 10, rec


def test_cpu_time_peak_reflects_the_work(airlock, world_tmp, rootless):
    """run_end.peaks.cpu_ns is the run's CPU time, from the cgroup or (v1
    without a co-mounted cpuacct, or rlimits only) the init's rusage, which
    includes every process it reaped -- here a child of the workload."""
    log = world_tmp / "run.jsonl"
    burn = "import time\nt=time.process_time()\nwhile time.process_time()-t < 0.3: pass"
    res = airlock.run("run", *degrade_opts(rootless), "--log", log, "--", "/bin/sh", "-c",
                      f"{PY} -c '{burn}' & wait", timeout=60)
    assert res.rc == 0, res.describe()
    cpu = records_of(log, "run_end")[-1]["peaks"]["cpu_ns"]
    assert 0.25e9 <= cpu <= 5e9, cpu
