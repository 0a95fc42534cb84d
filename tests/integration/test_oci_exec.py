"""`airlock-runc exec` (docs/oci.md "exec"): a command in a running
container, forked by the sandbox's own init through the session engine, so
it has the container's seccomp filter, Landlock domain, namespaces and
identity -- proven by the probe's report from inside.

Over a bundle: status, stdout/stderr, env, cwd, --process, refused user and
capabilities, --detach with --pid-file (the relay's pid exits with the
command's status, as conmon and the shim wait for it), --tty with
--console-socket (the master arrives with SCM_RIGHTS and is the caller's),
every exec in the container's event log, which verifies. Then `podman exec`
into a container started with --runtime airlock-runc (rootful only, as the
other client tests).
"""
import array
import json
import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import mkdtemp_world, wait_until
# fixtures and helpers of the OCI tests (only non-test names: nothing is collected twice)
from test_oci import (_hybrid, _rootful_client, _rootfs_tar, assert_confined, base_config, probe_records,  # noqa: F401
                      rc, records, rootfs, runc, verify)


def running(rc, rootfs, cid, **proc):
    cfg = base_config(["/bin/sleep", "120"], rootfs)
    cfg["process"]["env"] = ["PATH=/bin", "FOO=from-config"]
    cfg["process"].update(proc)
    b = rc.bundle("b-" + cid, cfg)
    r, _ = rc.create(cid, b)
    assert r.returncode == 0, rc.err(cid)
    assert rc("start", cid).returncode == 0
    assert wait_until(lambda: rc.state(cid)["status"] == "running", timeout=20)
    return b


def exec_records(log):
    recs = records(log)
    return [x for x in recs if x["type"] == "session_exec"], [x for x in recs if x["type"] == "session_exec_end"]


def test_exec_status_streams_env_cwd_and_record(rc, rootfs, airlock_bin):
    running(rc, rootfs, "e1")
    r = rc("exec", "--env", "X=given", "--cwd", "/tmp", "e1", "/bin/sh", "-c",
           "echo out $FOO $X $(pwd); echo err >&2; exit 7", stdin=subprocess.DEVNULL)
    assert r.returncode == 7, r.stderr
    assert r.stdout == "out from-config given /tmp\n" and r.stderr == "err\n", r
    # stdin is relayed
    r = rc("exec", "e1", "/bin/cat", input="piped\n")
    assert r.returncode == 0 and r.stdout == "piped\n", r
    # the command is not found / not executable: runc's statuses
    r = rc("exec", "e1", "/bin/nosuch", stdin=subprocess.DEVNULL)
    assert r.returncode == 127 and "not found" in r.stderr, r
    r = rc("exec", "e1", "/tmp", stdin=subprocess.DEVNULL)
    assert r.returncode == 126, r
    r = rc("exec", "--cwd", "/nonexistent", "e1", "/bin/true", stdin=subprocess.DEVNULL)
    assert r.returncode == 1 and "chdir" in r.stderr, r
    log = rc.state("e1")["dev.airlock.log"]
    starts, ends = exec_records(log)
    first = [x for x in starts if x["argv"][:1] == ["/bin/sh"]][0]
    assert first["via"] == "oci" and first["cwd"] == "/tmp" and "X=given" in first["env"], first
    end = [x for x in ends if x["exec"] == first["exec"]][0]
    assert end["exit_status"] == 7 and end["stdout_bytes"] == len("out from-config given /tmp\n"), end
    assert rc("delete", "--force", "e1").returncode == 0
    verify(airlock_bin, log)


def test_exec_is_confined_like_the_container(rc, rootfs):
    running(rc, rootfs, "e2")
    r = rc("exec", "e2", "/probe/probe", "status", ",", "ifaces", stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    assert_confined(probe_records(r.stdout, "status")[0])
    ifaces = probe_records(r.stdout, "ifaces")
    assert ifaces and "eth0" not in json.dumps(ifaces[0]), r.stdout
    # its pid namespace is the container's: the init is pid 1, the workload beside it
    r = rc("exec", "e2", "/bin/cat", "/proc/1/cmdline", stdin=subprocess.DEVNULL)
    assert r.returncode == 0 and r.stdout.startswith("airlock-init"), r


def _process(tmp, **over):
    p = {"terminal": False, "user": {"uid": 0, "gid": 0}, "args": ["/bin/sh", "-c", "echo $FOO $Y; pwd"],
         "env": ["PATH=/bin", "Y=from-process"], "cwd": "/tmp",
         "capabilities": {k: ["CAP_KILL"] for k in ["bounding", "effective", "permitted"]},
         "noNewPrivileges": True}
    p.update(over)
    f = tmp / ("process-%d.json" % time.monotonic_ns())
    f.write_text(json.dumps(p))
    return f


def test_exec_process_json_and_refusals(rc, rootfs):
    running(rc, rootfs, "e3")
    r = rc("exec", "--process", str(_process(rc.tmp)), "e3", stdin=subprocess.DEVNULL)
    assert r.returncode == 0 and r.stdout == "from-config from-process\n/tmp\n", r
    # what would weaken the sandbox, or another identity, is refused by name
    for over, needle in [({"user": {"uid": 1000, "gid": 0}}, "user"),
                         ({"user": {"uid": 0, "gid": 5}}, "user"),
                         ({"capabilities": {"effective": ["CAP_SYS_ADMIN"]}}, "CAP_SYS_ADMIN")]:
        r = rc("exec", "--process", str(_process(rc.tmp, **over)), "e3", stdin=subprocess.DEVNULL)
        assert r.returncode == 1 and needle in r.stderr, (over, r)
    for args in [["--cap", "CAP_SYS_ADMIN"], ["--user", "1000"], ["--preserve-fds", "2"], ["--additional-gids", "5"]]:
        r = rc("exec", *args, "e3", "/bin/true", stdin=subprocess.DEVNULL)
        assert r.returncode == 1 and "refused" in r.stderr or "not supported" in r.stderr, (args, r)
    # hostile process.json: not JSON, a FIFO, a symlink, too large
    bad = rc.tmp / "bad.json"
    bad.write_text("{\"args\": [")
    r = rc("exec", "--process", str(bad), "e3", stdin=subprocess.DEVNULL)
    assert r.returncode == 1 and "process.json" in r.stderr, r
    fifo = rc.tmp / "fifo.json"
    os.mkfifo(fifo)
    r = rc("exec", "--process", str(fifo), "e3", stdin=subprocess.DEVNULL, timeout=10)
    assert r.returncode == 1, r
    link = rc.tmp / "link.json"
    link.symlink_to(_process(rc.tmp))
    r = rc("exec", "--process", str(link), "e3", stdin=subprocess.DEVNULL)
    assert r.returncode == 1, r
    big = rc.tmp / "big.json"
    big.write_text(json.dumps({"args": ["/bin/true"], "env": ["A=" + "x" * 60000] * 20}))
    r = rc("exec", "--process", str(big), "e3", stdin=subprocess.DEVNULL)
    assert r.returncode == 1 and "larger" in r.stderr, r
    # a container that is not running takes no exec
    cfg = base_config(["/bin/true"], rootfs)
    r, _ = rc.create("e3b", rc.bundle("b-e3b", cfg))
    assert r.returncode == 0
    r = rc("exec", "e3b", "/bin/true", stdin=subprocess.DEVNULL)
    assert r.returncode == 1 and "created" in r.stderr, r
    r = rc("exec", "nosuch", "/bin/true", stdin=subprocess.DEVNULL)
    assert r.returncode == 1 and "does not exist" in r.stderr, r


# The caller of `exec --detach` (conmon, the shim) is a subreaper that waits
# for the pid in --pid-file: here a small Python subreaper does the same.
SUBREAPER = r"""
import ctypes, os, subprocess, sys, json
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
argv, pidf, outf = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
with open(outf, "w") as out:
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
pid = int(open(pidf).read())
_, st = os.waitpid(pid, 0)
print(json.dumps({"rc": r.returncode, "pid": pid, "status": os.waitstatus_to_exitcode(st)}))
"""


def test_exec_detach_pid_file_is_waited_for(rc, rootfs, runc):
    running(rc, rootfs, "e4")
    pidf, outf = rc.tmp / "e4.exec.pid", rc.tmp / "e4.exec.out"
    argv = [str(runc), "--root", str(rc.root), "exec", "--detach", "--pid-file", str(pidf), "e4",
            "/bin/sh", "-c", "sleep 0.5; echo detached-out; exit 5"]
    r = subprocess.run([sys.executable, "-c", SUBREAPER, json.dumps(argv), str(pidf), str(outf)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["rc"] == 0 and res["status"] == 5, res
    assert outf.read_text() == "detached-out\n"
    # a command that cannot start fails the exec itself; no pid file
    pidf.unlink()
    r = rc("exec", "--detach", "--pid-file", str(pidf), "e4", "/bin/nosuch", stdin=subprocess.DEVNULL)
    assert r.returncode == 127 and not pidf.exists(), r
    # the relay's end (killed) ends the command it relays
    # (the relay keeps the caller's stdio, the command's streams: a file here)
    with open(rc.tmp / "e4.sleep.out", "w") as f:
        r = subprocess.run([str(runc), "--root", str(rc.root), "exec", "--detach", "--pid-file", str(pidf), "e4",
                            "/bin/sleep", "77"], stdin=subprocess.DEVNULL, stdout=f, stderr=f, timeout=30)
    assert r.returncode == 0, (rc.tmp / "e4.sleep.out").read_text()
    pid = int(pidf.read_text())
    assert wait_until(lambda: "77" in rc("exec", "e4", "/bin/sh", "-c", "cat /proc/[0-9]*/cmdline",
                                         stdin=subprocess.DEVNULL).stdout, timeout=10)
    os.kill(pid, 9)
    assert wait_until(lambda: "77" not in rc("exec", "e4", "/bin/sh", "-c", "cat /proc/[0-9]*/cmdline",
                                             stdin=subprocess.DEVNULL).stdout, timeout=10)
    log = rc.state("e4")["dev.airlock.log"]
    starts, ends = exec_records(log)
    assert any(e["exit_status"] == 5 for e in ends), ends
    assert any(e.get("signal") == 9 for e in ends), ends


def _console(rc, cid, extra=(), cmd="tty; read x; echo got-$x; exit 4"):
    path = str(rc.tmp / f"{cid}-{time.monotonic_ns()}.console")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    srv.settimeout(20)
    p = subprocess.Popen([str(rc.bin), "--root", str(rc.root), "exec", "--tty", "--console-socket", path, *extra,
                          cid, "/bin/sh", "-c", cmd], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    conn, _ = srv.accept()
    fds = array.array("i")
    msg, anc, _, _ = conn.recvmsg(256, socket.CMSG_SPACE(4 * fds.itemsize))
    for lvl, typ, data in anc:
        assert (lvl, typ) == (socket.SOL_SOCKET, socket.SCM_RIGHTS)
        fds.frombytes(data[:len(data) - len(data) % fds.itemsize])
    conn.close()
    srv.close()
    assert msg == b"/dev/ptmx" and len(fds) == 1, (msg, list(fds))
    return p, fds[0]


def _talk(m):
    st = os.fstat(m)
    assert stat.S_ISCHR(st.st_mode) and os.major(st.st_rdev) == 5, st  # a pty master (ptmx)
    os.write(m, b"hello\n")
    out = b""
    end = time.monotonic() + 20
    # to the end (EIO once the command's side is closed): closing the master
    # before the command exits would hang it up (SIGHUP)
    while time.monotonic() < end:
        try:
            d = os.read(m, 4096)
        except OSError:
            break
        if not d:
            break
        out += d
    os.close(m)
    return out


def test_exec_tty_console_socket_gets_the_master(rc, rootfs, runc):
    running(rc, rootfs, "e5")
    p, m = _console(rc, "e5")
    out = _talk(m)
    assert b"/dev/pts/" in out and b"got-hello" in out, out
    assert p.wait(timeout=20) == 4, p.stderr.read()
    # detached: the relay's pid exits with the command's status
    pidf = rc.tmp / "e5.pid"
    p, m = _console(rc, "e5", extra=("--detach", "--pid-file", str(pidf)))
    assert p.wait(timeout=20) == 0, p.stderr.read()
    pid = int(pidf.read_text())
    out = _talk(m)
    assert b"got-hello" in out, out
    assert wait_until(lambda: not Path(f"/proc/{pid}").exists() or
                      Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] == "Z", timeout=20)
    log = rc.state("e5")["dev.airlock.log"]
    starts, ends = exec_records(log)
    assert sum(1 for s in starts if s.get("tty") and "caller" in s.get("terminal", "")) == 2, starts
    # a foreground terminal without a console socket is relayed by the supervisor
    r = rc("exec", "--tty", "e5", "/bin/sh", "-c", "tty; exit 2", stdin=subprocess.DEVNULL)
    assert r.returncode == 2 and r.stdout.startswith("/dev/pts/"), r
    # --console-socket without a terminal, and a detached terminal without one, are refused
    r = rc("exec", "--console-socket", str(rc.tmp / "x"), "e5", "/bin/true", stdin=subprocess.DEVNULL)
    assert r.returncode == 1 and "terminal" in r.stderr, r
    r = rc("exec", "--tty", "--detach", "e5", "/bin/true", stdin=subprocess.DEVNULL)
    assert r.returncode == 1 and "console-socket" in r.stderr, r


def test_podman_exec(runc, rootfs, airlock_bin):
    _rootful_client("podman")
    t = mkdtemp_world("airlock-podman-exec-")
    try:
        tar = _rootfs_tar(rootfs, t / "rootfs.tar")
        pm = (f"podman --root {t}/storage --runroot {t}/run --storage-driver vfs "
              f"--cgroup-manager=cgroupfs --events-backend=file")
        script = (
            f"{pm} import {tar} localhost/airlock-oci-exec:1 >/dev/null && "
            f"id=$({pm} --runtime {runc} run -d --network=none localhost/airlock-oci-exec:1 /bin/sleep 120) && "
            f"{pm} exec $id /bin/sh -c 'exit 3'; echo status=$?; "
            f"{pm} exec -e X=1 -w /tmp $id /bin/sh -c 'echo env=$X cwd=$(pwd)'; "
            f"echo piped | {pm} exec -i $id /bin/cat; "
            f"{pm} exec -t $id /bin/sh -c 'tty' </dev/null; "
            f"{pm} exec $id /probe/probe status; "
            f"{pm} exec $id /bin/nosuch; echo nosuch=$?; "
            f"{pm} exec -u 1000 $id /bin/true; echo user=$?; "
            f"{pm} --runtime {runc} run --rm -t --network=none localhost/airlock-oci-exec:1 "
            f"/bin/sh -c 'tty; exit 6' </dev/null; echo run-t=$?; "
            f"{pm} inspect --format 'log={{{{index .Config.Annotations \"dev.airlock.log\"}}}}' $id; "
            f"cat /run/airlock-runc/$id/state.json; echo; "
            f"{pm} rm -f $id >/dev/null")
        r = subprocess.run(_hybrid(script), capture_output=True, text=True, timeout=240)
        out = r.stdout
        assert "status=3" in out, out + r.stderr
        assert "env=1 cwd=/tmp" in out and "piped" in out, out
        assert "/dev/pts/" in out, out
        assert "run-t=6" in out and out.count("/dev/pts/") >= 2, out
        assert_confined(probe_records(out, "status")[0])
        assert "nosuch=127" in out, out + r.stderr
        assert "user=0" not in out and "user=" in out, out
        state = json.loads([l for l in out.splitlines() if l.startswith("{\"id\"")][0])
        starts, ends = exec_records(state["log"])
        assert len(starts) >= 6 and all(s["via"] == "oci" for s in starts), starts
        assert any(e["exit_status"] == 3 for e in ends), ends
        verify(airlock_bin, state["log"])
    finally:
        subprocess.run(_hybrid(f"podman --root {t}/storage --runroot {t}/run --storage-driver vfs rm -af "
                               f">/dev/null 2>&1; podman --root {t}/storage --runroot {t}/run "
                               f"--storage-driver vfs system reset -f >/dev/null 2>&1"),
                       capture_output=True, timeout=120)
        import shutil
        shutil.rmtree(t, ignore_errors=True)


def test_create_with_terminal_hands_the_master_to_the_console_socket(rc, rootfs, airlock_bin):
    cfg = base_config(["/bin/sh", "-c", "tty; read x; echo got-$x; exit 6"], rootfs)
    cfg["process"]["terminal"] = True
    b = rc.bundle("b-t1", cfg)
    path = str(rc.tmp / "t1.console")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    srv.settimeout(20)
    out = open(rc.tmp / "t1.out", "w")
    p = subprocess.Popen([str(rc.bin), "--root", str(rc.root), "create", "--bundle", str(b), "--console-socket",
                          path, "t1"], stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    conn, _ = srv.accept()
    fds = array.array("i")
    msg, anc, _, _ = conn.recvmsg(256, socket.CMSG_SPACE(4 * fds.itemsize))
    for lvl, typ, data in anc:
        fds.frombytes(data[:len(data) - len(data) % fds.itemsize])
    conn.close()
    srv.close()
    assert p.wait(timeout=30) == 0, (rc.tmp / "t1.out").read_text()
    out.close()
    assert msg == b"/dev/ptmx" and len(fds) == 1, (msg, list(fds))
    assert rc.state("t1")["status"] == "created"
    assert rc("start", "t1").returncode == 0
    got = _talk(fds[0])
    assert b"/dev/pts/" in got and b"got-hello" in got, got
    assert rc.wait_stopped("t1")
    log = rc.state("t1")["dev.airlock.log"]
    end = [x for x in records(log) if x["type"] == "run_end"][0]
    assert end["exit_status"] == 6, end
    verify(airlock_bin, log)
    # a terminal without a console socket, and a console socket without one, are refused
    r, _ = rc.create("t2", b)
    assert r.returncode == 1 and "process.terminal" in rc.err("t2"), rc.err("t2")
    cfg["process"]["terminal"] = False
    b3 = rc.bundle("b-t3", cfg)
    r = rc("create", "--bundle", str(b3), "--console-socket", path, "t3", stdin=subprocess.DEVNULL)
    assert r.returncode == 1 and "console-socket" in r.stderr, r


def test_containerd_ctr_task_exec(runc, rootfs, airlock_bin):
    """containerd's runc v2 shim (the RuntimeClass path): `ctr task exec`
    runs `airlock-runc exec --process F --detach --pid-file P` and waits
    for that pid."""
    _rootful_client("containerd")
    from test_oci import _docker_archive
    t = mkdtemp_world("airlock-ctr-exec-")
    try:
        img = _docker_archive(rootfs, t / "img.tar", "localhost/airlock-oci-exec:1")
        (t / "config.toml").write_text(f"""version = 2
root = "{t}/root"
state = "{t}/state"
[grpc]
  address = "{t}/c.sock"
[ttrpc]
  address = "{t}/c.sock.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  disable_apparmor = true
""")
        ctr = f"ctr --address {t}/c.sock"
        script = (f"containerd --config {t}/config.toml >{t}/containerd.log 2>&1 & CP=$!; "
                  f"for i in $(seq 100); do [ -S {t}/c.sock ] && break; sleep 0.1; done; "
                  f"{ctr} images import {img} >/dev/null && "
                  f"{ctr} run -d --runtime io.containerd.runc.v2 --runc-binary {runc} "
                  f"localhost/airlock-oci-exec:1 ctr-exec-test /bin/sleep 120 && "
                  f"{ctr} task exec --exec-id e1 ctr-exec-test /bin/sh -c 'echo in-ctr-exec; exit 3'; "
                  f"echo status=$?; "
                  f"{ctr} task exec --exec-id e2 ctr-exec-test /probe/probe status; "
                  f"cat /run/containerd/runc/default/ctr-exec-test/state.json; echo; "
                  f"{ctr} task kill -s KILL ctr-exec-test; sleep 1; {ctr} task rm ctr-exec-test >/dev/null 2>&1; "
                  f"{ctr} c rm ctr-exec-test; kill $CP; wait $CP")
        r = subprocess.run(_hybrid(script), capture_output=True, text=True, timeout=180)
        out = r.stdout
        assert "in-ctr-exec" in out and "status=3" in out, out + r.stderr + (t / "containerd.log").read_text()[-3000:]
        assert_confined(probe_records(out, "status")[0])
        state = json.loads([l for l in out.splitlines() if l.startswith("{\"id\"")][0])
        starts, ends = exec_records(state["log"])
        assert len(starts) == 2 and all(s["via"] == "oci" for s in starts), starts
        assert any(e["exit_status"] == 3 for e in ends), ends
        verify(airlock_bin, state["log"])
    finally:
        import shutil
        shutil.rmtree(t, ignore_errors=True)
