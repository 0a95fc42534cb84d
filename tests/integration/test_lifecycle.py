"""Lifecycle: exit statuses, byte-exact relay, stdin, timeout, signals to
airlock, supervisor death, daemons, persistence, teardown, the event log.

Processes of a run are found from the host by a unique marker in their argv
(the probe ignores --marker=...), scanning /proc before and after."""
import hashlib
import os
import signal
import subprocess
import time

import pytest

from conftest import (EXIT_TIMEOUT, SANDBOX_PROBE, descendants, kill_all, log_records,
                      make_world_writable, marker, pids_with, still_alive, wait_for_line, wait_until)

pytestmark = pytest.mark.usefixtures("airlock_works")


def sandbox_pids(mark, airlock_pid):
    return [p for p in pids_with(mark) if p != airlock_pid]


def heartbeat_stopped(path, settle=1.0):
    """True when the daemon's heartbeat file no longer grows."""
    size = path.stat().st_size if path.exists() else 0
    time.sleep(settle)
    return (path.stat().st_size if path.exists() else 0) == size


# ---------- exit status ----------

@pytest.mark.parametrize("code", [0, 1, 42, 255])
def test_exit_status_passes_through(airlock, code):
    res = airlock.probe("exit", str(code))
    assert res.rc == code, res.describe()


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGSEGV, signal.SIGABRT])
def test_death_by_signal_is_128_plus_n(airlock, sig):
    res = airlock.probe("signal", str(int(sig)))
    assert res.rc == 128 + int(sig), res.describe()


def test_command_not_found_and_not_executable(airlock, world_tmp):
    res = airlock.run("run", *airlock.extra, "--", "/nonexistent/command")
    assert res.rc == 127, res.describe()
    (world_tmp / "noexec").write_text("#!/bin/sh\necho hi\n")
    (world_tmp / "noexec").chmod(0o644)
    res = airlock.run("run", *airlock.extra, "-v", f"{world_tmp}:/x", "--", "/x/noexec")
    assert res.rc == 126, res.describe()


# ---------- output and input ----------

def _host_probe(probe_dir, *args):
    return subprocess.run([str(probe_dir / "probe"), *args], capture_output=True, check=True).stdout


def test_stdout_stderr_byte_exact_binary(airlock):
    """~1 MiB of pseudo-random bytes on each stream, relayed unchanged and
    kept apart (compared with the same probe run on the host)."""
    n = str(1 << 20)
    want_out = hashlib.sha256(_host_probe(airlock.probe_dir, "emit-binary", n, "7", "1")).hexdigest()
    want_err = hashlib.sha256(
        subprocess.run([str(airlock.probe_dir / "probe"), "emit-binary", n, "9", "2"],
                       capture_output=True, check=True).stderr).hexdigest()
    res = airlock.probe("emit-binary", n, "7", "1", ",", "emit-binary", n, "9", "2",
                        opts=["-q"])
    assert res.rc == 0, res.describe()
    assert len(res.stdout) == 1 << 20, f"stdout: {len(res.stdout)} bytes"
    assert hashlib.sha256(res.stdout).hexdigest() == want_out, "stdout altered"
    assert len(res.stderr) == 1 << 20, f"stderr: {len(res.stderr)} bytes: {res.stderr[:300]!r}"
    assert hashlib.sha256(res.stderr).hexdigest() == want_err, "stderr altered"


def test_stdin_forwarded_when_not_a_tty(airlock):
    data = os.urandom(1 << 20) + b"\n\0tail"
    res = airlock.probe("cat-stdin-to-stdout", input=data, opts=["-q"])
    assert res.rc == 0, res.describe()
    assert hashlib.sha256(res.stdout).hexdigest() == hashlib.sha256(data).hexdigest(), (
        f"stdin not relayed byte-exact: got {len(res.stdout)} of {len(data)} bytes")


def test_output_is_relayed_promptly(airlock):
    """A line the workload prints reaches the caller while it still runs."""
    mark = marker()
    p = airlock.popen(*airlock.probe_args("echo", "first", ",", "sleep", "30", mark))
    try:
        got = wait_for_line(p.stdout, b"first", timeout=20)
        assert b"first" in got, "output held back until the workload exits"
        assert p.poll() is None
    finally:
        p.kill()
        p.wait()
        kill_all(pids_with(mark))


# ---------- timeout ----------

def test_timeout_gives_124_and_sandbox_is_gone(airlock, world_tmp):
    mark = marker()
    log = world_tmp / "run.jsonl"
    before = {}
    p = airlock.popen(*airlock.probe_args("ignore-signals", ",", "echo", "ready", ",",
                                          "sleep", "120", mark,
                                          opts=["--timeout", "2s", "--log", str(log)]))
    try:
        assert b"ready" in wait_for_line(p.stdout, b"ready"), "workload never started"
        before = descendants(p.pid)
        out, err = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        raise
    finally:
        leftover = sorted(set(pids_with(mark)) | set(still_alive(before)))
        kill_all(leftover)
    assert p.returncode == EXIT_TIMEOUT, (p.returncode, err)
    assert len(before) >= 2, f"init + workload not found: {before}"
    assert leftover == [], f"processes of the run survive the timeout: {leftover}"
    end = [r for r in log_records(log) if r.get("type") == "run_end"]
    assert end and end[-1].get("verdict") == "timeout", f"run_end: {end}"


def test_timeout_kills_spinning_and_forking_workload(airlock):
    mark = marker()
    res = airlock.run(*airlock.probe_args("daemonize", "/tmp/hb", ",", "spin", mark,
                                          opts=["--timeout", "1s"]), timeout=60)
    leftover = pids_with(mark)
    kill_all(leftover)
    assert res.rc == EXIT_TIMEOUT, res.describe()
    assert leftover == [], f"processes survive: {leftover}"


# ---------- signals to airlock ----------

@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
@pytest.mark.parametrize("hostile", [False, True], ids=["polite", "ignores-signals"])
def test_signal_to_airlock_kills_sandbox(airlock, world_tmp, sig, hostile):
    """SIGTERM / Ctrl-C (SIGINT to the whole foreground process group) /
    SIGHUP to airlock: the whole sandbox dies, airlock exits 128+N with the
    verdict "interrupted" (docs/exit-codes.md), even if the workload ignores
    the signal."""
    mark = marker()
    log = world_tmp / "run.jsonl"
    pre = ["ignore-signals", ","] if hostile else []
    p = airlock.popen(*airlock.probe_args(*pre, "echo", "ready", ",", "sleep", "120", mark,
                                          opts=["--log", str(log)]),
                      start_new_session=True)
    try:
        got = wait_for_line(p.stdout, b"ready")
        assert b"ready" in got, "workload never started"
        assert sandbox_pids(mark, p.pid), "sandbox processes not found"
        before = descendants(p.pid)
        if sig == signal.SIGINT:
            os.killpg(p.pid, sig)  # what the terminal does on Ctrl-C
        else:
            p.send_signal(sig)
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pytest.fail(f"airlock did not exit within 30 s of {sig.name}")
        gone = wait_until(lambda: not pids_with(mark) and not still_alive(before), timeout=10)
        leftover = sorted(set(pids_with(mark)) | set(still_alive(before)))
        assert gone and not leftover, f"processes survive {sig.name}: {leftover}"
        assert p.returncode == 128 + int(sig), f"{sig.name}: exit status {p.returncode}"
        end = [r for r in log_records(log) if r.get("type") == "run_end"]
        assert end and end[-1].get("verdict") == "interrupted", f"run_end: {end}"
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        kill_all(pids_with(mark))


@pytest.mark.parametrize("with_daemon", [False, True], ids=["plain", "with-daemon"])
def test_supervisor_sigkill_leaves_zero_processes(airlock, world_tmp, with_daemon):
    mark = marker()
    out = world_tmp / "out"
    out.mkdir()
    make_world_writable(out)
    pre = ["daemonize", "/out/hb", ","] if with_daemon else []
    p = airlock.popen(*airlock.probe_args(*pre, "echo", "ready", ",", "sleep", "120", mark,
                                          opts=["-v", f"{out}:/out:rw,owner=root"]))
    try:
        got = wait_for_line(p.stdout, b"ready")
        assert b"ready" in got, "workload never started"
        if with_daemon:
            assert wait_until(lambda: (out / "hb").exists(), 10), "daemon never wrote"
        before = descendants(p.pid)
        assert len(before) >= (3 if with_daemon else 2), f"expected init+workload(+daemon): {before}"
        p.kill()
        p.wait()
        gone = wait_until(lambda: not pids_with(mark) and not still_alive(before), timeout=10)
        leftover = sorted(set(pids_with(mark)) | set(still_alive(before)))
        assert gone and not leftover, f"processes survive the supervisor's SIGKILL: {leftover}"
        if with_daemon:
            assert heartbeat_stopped(out / "hb"), "the daemon still writes its heartbeat"
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        kill_all(pids_with(mark))


def test_daemon_does_not_survive_the_run(airlock, world_tmp):
    """A double-forked, setsid, signal-ignoring daemon dies with the run."""
    mark = marker()
    out = world_tmp / "out"
    out.mkdir()
    make_world_writable(out)
    p = airlock.popen(*airlock.probe_args("daemonize", "/out/hb", ",", "echo", "ready", ",",
                                          "sleep", "0.5", mark, opts=["-v", f"{out}:/out:rw,owner=root"]))
    try:
        got = wait_for_line(p.stdout, b"ready")
        assert b'"daemonize","ok":true' in got, got
        before = descendants(p.pid)
        p.communicate(timeout=60)
        assert p.returncode == 0, p.returncode
        assert (out / "hb").exists(), "the daemon never ran (test proves nothing)"
        assert len(before) >= 3, f"init + workload + daemon not found: {before}"
        leftover = sorted(set(pids_with(mark)) | set(still_alive(before)))
        assert not leftover, f"processes survive the run: {leftover}"
        assert heartbeat_stopped(out / "hb"), "the daemon still writes its heartbeat"
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        kill_all(pids_with(mark))


# ---------- nothing persists ----------

def test_writes_do_not_persist(airlock, host_secrets):
    name = "airlock-persist-" + os.urandom(6).hex()
    places = ["/tmp", "/var/tmp", "/workspace", "/dev/shm", "/home/agent"]
    res = airlock.probe("env")
    home = dict(e.split("=", 1) for e in res.one("env")["env"]).get("HOME")
    if home:
        places[-1] = home
    cmds = []
    for d in places:
        cmds += ["write", f"{d}/{name}", "persist?", ","]
    res = airlock.probe(*cmds[:-1], cwd=host_secrets.cwd)
    assert res.rc == 0, res.describe()
    wrote = [r["path"] for r in res.all("write") if r["ok"]]
    assert len(wrote) >= 4, f"writable areas missing (test would prove little)\n{res.describe()}"
    cmds = []
    for pth in wrote:
        cmds += ["stat", pth, ","]
    res2 = airlock.probe(*cmds[:-1])
    assert res2.rc == 0, res2.describe()
    for rec in res2.all("stat"):
        assert rec["ok"] is False and rec["errno"] == "ENOENT", f"{rec['path']} persisted"
    found = subprocess.run(["find", "/tmp", "/var/tmp", "/dev/shm", "/home", "/root",
                            str(host_secrets.cwd), "-name", name],
                           capture_output=True, text=True).stdout.split()
    assert not found, f"the sandbox's files appeared on the host: {found}"


# ---------- teardown ----------

def _cgroup_dirs_named(needle):
    found = []
    for root, dirs, _ in os.walk("/sys/fs/cgroup"):
        found += [os.path.join(root, d) for d in dirs if needle in d]
    return found


def test_teardown_leaves_no_process_mount_or_cgroup(airlock, world_tmp):
    """After the run: no process with the run's marker, no mount of the run's
    paths in the host's mount table, no cgroup named after the run id, and
    the teardown record says it checked. (Other runs may be going on on this
    machine: only what belongs to this run is looked at.)"""
    mark = marker()
    log = world_tmp / "run.jsonl"
    res = airlock.probe("echo", "x", mark, opts=["--log", str(log)])
    assert res.rc == 0, res.describe()
    assert not pids_with(mark), "processes remain"
    recs = log_records(log)
    run_id = recs[0]["run"]
    mounts = open("/proc/self/mountinfo").read()
    assert str(airlock.probe_dir) not in mounts and run_id not in mounts, "the run's mounts remain"
    assert _cgroup_dirs_named(run_id) == [], f"cgroups remain: {_cgroup_dirs_named(run_id)}"
    td = [r for r in recs if r.get("type") == "teardown"]
    assert td and td[-1].get("ok") is True, f"teardown not verified: {td}"


# ---------- the event log ----------

def _status_of(rec):
    for k in ("exit_status", "status", "exit_code", "code"):
        if k in rec:
            return rec[k]
    return None


def test_event_log_records_the_run(airlock, world_tmp):
    log = world_tmp / "run.jsonl"
    res = airlock.probe("exit", "42", opts=["--log", str(log)])
    assert res.rc == 42, res.describe()
    recs = log_records(log)
    types = [r.get("type") for r in recs]
    for t in ("run_start", "exec", "exit", "teardown", "run_end"):
        assert t in types, f"no {t} record: {types}"
    assert types[0] == "run_start", types
    order = [types.index(t) for t in ("run_start", "exec", "exit", "teardown", "run_end")]
    assert order == sorted(order), f"records out of order: {types}"
    for r in recs:
        for k in ("seq", "run", "type"):
            assert k in r, f"record without {k}: {r}"
    assert len({r["run"] for r in recs}) == 1
    assert [r["seq"] for r in recs] == sorted(r["seq"] for r in recs)
    start = recs[types.index("run_start")]
    assert any(len(str(v)) == 64 for k, v in start.items() if "hash" in k or "spec" in k), (
        f"run_start has no spec hash: {start}")
    end = recs[types.index("run_end")]
    assert _status_of(end) == 42, f"run_end does not carry the exit status 42: {end}"
    assert "verdict" in end, end
    assert SANDBOX_PROBE in str(recs[types.index("exec")]), "exec record does not name the command"


def test_exit_is_recorded_before_the_workspace_report(airlock, world_tmp):
    """The workload's `exit` is written as soon as the sandbox is gone, before
    the workspace report and export (which take time and can be interrupted):
    a supervisor killed during the report still leaves how the workload ended."""
    ws = world_tmp / "ws"
    ws.mkdir()
    (ws / "a.txt").write_text("before\n")
    make_world_writable(ws)
    log = world_tmp / "run.jsonl"
    res = airlock.probe("write", "/workspace/new.txt", "x", ",", "exit", "7",
                        opts=["--workspace", str(ws), "--log", str(log)])
    assert res.rc == 7, res.describe()
    types = [r.get("type") for r in log_records(log)]
    assert "workspace" in types and "exit" in types, types
    assert types.index("exit") < types.index("workspace"), f"exit recorded after the report: {types}"


def test_signal_during_the_export_is_recorded_not_fatal(airlock, world_tmp):
    """SIGTERM to airlock after the workload ended, while the export copies:
    the export stops (left incomplete), and airlock still writes teardown and
    run_end -- verdict interrupted, exit 143, the same in the log and in the
    exit status -- and the log verifies. Before, airlock died of the signal
    when it unblocked it, with no run_end."""
    ws = world_tmp / "ws"
    ws.mkdir()
    make_world_writable(ws)
    log = world_tmp / "run.jsonl"
    export = world_tmp / "out"
    p = airlock.popen("run", *airlock.extra, "--workspace", str(ws), "--export", str(export),
                      "--log", str(log), "--",
                      "sh", "-c", "dd if=/dev/zero of=/workspace/big bs=1M count=1500 2>/dev/null")
    try:
        # the exit record is written before the report and export begin
        assert wait_until(lambda: log.exists() and '"type":"exit"' in log.read_text(), 60), \
            "the workload's exit was never recorded"
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=60)
    finally:
        kill_all([p.pid])
    recs = log_records(log)
    end = [r for r in recs if r.get("type") == "run_end"]
    assert end, f"no run_end: airlock died of the signal\n{err.decode(errors='replace')}"
    ws_rec = [r for r in recs if r.get("type") == "workspace"]
    if end[0]["verdict"] == "interrupted":
        assert p.returncode == 128 + signal.SIGTERM, (p.returncode, end[0])
        assert end[0]["exit_status"] == p.returncode
        assert ws_rec and ws_rec[0].get("export_complete") is not True, ws_rec
        assert not export.exists(), "an interrupted export was put in place"
    else:
        # the export won the race: an ordinary ending, still recorded whole
        assert end[0]["verdict"] == "exited" and p.returncode == 0, (p.returncode, end[0])
    v = airlock.run("log", "verify", str(log))
    assert v.rc == 0, v.describe()
