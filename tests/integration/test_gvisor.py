"""The gVisor tier (isolation: gvisor, docs/gvisor.md): the workload runs under
Debian's runsc, its syscalls served by gVisor's kernel, while airlock keeps
the cgroup, the timeout, the relay, the workspace report, the event log and
the egress proxy around it.

Evidence that gVisor served the syscalls: uname(2) and /proc/version answer
gVisor's fixed kernel (4.4.0, "Sun Jan 10 15:06:54 PST 2016"), not the host's,
and the kernel log (dmesg) is gVisor's own. Every run here starts a real
runsc (about a third of a second each); the refusals start none.

Rootless: runsc must be root of airlock's user namespace, which rootless maps
only the caller's id into -- so rootless gVisor runs need --user 0 and are
refused otherwise (tested). Servers for the egress test listen on the
host's loopback only (127.0.0.2, 127.0.0.4).
"""
import http.server
import json
import os
import shutil
import socket
import subprocess
import threading
from pathlib import Path

import pytest

from conftest import EXIT_SETUP, EXIT_TIMEOUT, EXIT_POLICY, is_rootless, mkdtemp_world

RUNSC = shutil.which("runsc")
pytestmark = pytest.mark.skipif(RUNSC is None, reason="runsc (Debian's gVisor) is not installed")

GVISOR_RELEASE = "4.4.0"  # what gVisor's uname(2) says (this version)


def gv_args(airlock, *opts):
    """`airlock run` under gVisor; rootless only as user 0 (see module doc)."""
    user = ["--user", "0"] if is_rootless() else []
    return ["run", *airlock.extra, "--isolation", "gvisor", *user, *opts]


def records(log):
    return [json.loads(line) for line in Path(log).read_text().splitlines() if line.strip()]


def of_type(recs, t):
    return [r for r in recs if r["type"] == t]


def verify(airlock, log):
    r = airlock.run("log", "verify", log)
    assert r.rc == 0, r.describe()


def test_workload_runs_under_gvisor(airlock, world_tmp):
    log = world_tmp / "run.jsonl"
    r = airlock.run(*gv_args(airlock, "--log", log), "--",
                    "/bin/sh", "-c", "uname -r; cat /proc/version; dmesg | head -1; id -u",
                    timeout=60)
    assert r.rc == 0, r.describe()
    lines = r.stdout.decode().splitlines()
    assert lines[0] == GVISOR_RELEASE, r.describe()
    assert lines[0] != os.uname().release
    assert "Sun Jan 10 15:06:54 PST 2016" in lines[1], r.describe()
    assert "gVisor" in lines[2], r.describe()
    assert lines[3] == ("0" if is_rootless() else "1000"), r.describe()
    recs = records(log)
    prot = of_type(recs, "run_start")[0]["protections"]
    assert prot["isolation"] == "gvisor"
    assert prot["gvisor"]["runsc"] == os.path.realpath(RUNSC)
    assert prot["gvisor"]["platform"] == "ptrace"
    assert set(prot["gvisor"]["recorded"]) == {"exec"}  # opens: --trace-opens
    assert {"syscall_denied", "file_open"} <= set(prot["gvisor"]["not_recorded"])
    assert prot["seccomp"] is None and prot["landlock"] is None
    assert prot["pivot_root"] is False and prot["capabilities"].startswith("none inside gVisor")
    assert of_type(recs, "run_start")[0]["spec"]["isolation"] == "gvisor"
    td = of_type(recs, "teardown")[0]
    assert td["ok"] and td["processes_left"] == 0 and td["fds_left"] == 0, td
    end = of_type(recs, "run_end")[0]
    assert end["verdict"] == "exited" and end["exit_status"] == 0
    verify(airlock, log)


def test_namespaces_tier_is_recorded_as_such(airlock, world_tmp):
    log = world_tmp / "run.jsonl"
    r = airlock.run("run", *airlock.extra, "--log", log, "--", "/bin/true")
    assert r.rc == 0, r.describe()
    start = of_type(records(log), "run_start")[0]
    assert start["protections"]["isolation"] == "namespaces"
    assert "gvisor" not in start["protections"]
    assert "isolation" not in start["spec"]  # the default keeps old spec hashes


def test_stdout_stderr_and_exit_status(airlock, world_tmp):
    log = world_tmp / "run.jsonl"
    r = airlock.run(*gv_args(airlock, "--log", log), "--",
                    "/bin/sh", "-c", "echo to-out; echo to-err >&2; exit 7")
    assert r.rc == 7, r.describe()
    assert r.stdout == b"to-out\n"
    assert b"to-err\n" in r.stderr
    recs = records(log)
    assert of_type(recs, "exit")[0]["status"] == 7
    end = of_type(recs, "run_end")[0]
    assert end["verdict"] == "exited" and end["exit_status"] == 7
    assert end["output"]["stdout_bytes"] == 7 and end["output"]["stderr_bytes"] == 7
    # a signal that kills the workload inside gVisor comes out as 128+N
    r = airlock.run(*gv_args(airlock), "--", "/bin/sh", "-c", "kill -TERM $$")
    assert r.rc == 128 + 15, r.describe()


def test_stdin_is_relayed(airlock):
    r = airlock.run(*gv_args(airlock), "--", "/bin/cat", input=b"through gVisor\n")
    assert r.rc == 0, r.describe()
    assert r.stdout == b"through gVisor\n"


def test_timeout_kills_the_whole_sandbox(airlock, world_tmp):
    log = world_tmp / "run.jsonl"
    r = airlock.run(*gv_args(airlock, "--log", log, "--timeout", "2s"), "--",
                    "/bin/sh", "-c", "sleep 60 & sleep 60", timeout=60)
    assert r.rc == EXIT_TIMEOUT, r.describe()
    recs = records(log)
    assert of_type(recs, "run_end")[0]["verdict"] == "timeout"
    td = of_type(recs, "teardown")[0]
    assert td["ok"] and td["processes_left"] == 0, td
    verify(airlock, log)


@pytest.mark.skipif(is_rootless(), reason="no delegated cgroup on this host for the rootless "
                    "pass (it runs with --allow-degraded cgroup): no memory limit to test")
def test_memory_limit_holds(airlock, world_tmp):
    log = world_tmp / "run.jsonl"
    r = airlock.run(*gv_args(airlock, "--log", log, "--memory", "128MiB"), "--",
                    "python3", "-c", "b = bytearray(400 << 20); b[::4096] = b'x' * len(b[::4096]);"
                    " print('allocated')", timeout=60)
    assert b"allocated" not in r.stdout, r.describe()
    assert r.rc != 0, r.describe()
    recs = records(log)
    start = of_type(recs, "run_start")[0]["protections"]["cgroup"]
    assert start["memory_limit_in_bytes"] == 128 << 20, start
    end = of_type(recs, "run_end")[0]
    assert end["peaks"]["memory_bytes"] <= 128 << 20, end
    assert of_type(recs, "teardown")[0]["ok"]


def test_workspace_changes_are_reported_and_original_untouched(airlock, world_tmp):
    ws = world_tmp / "ws"
    ws.mkdir()
    (ws / "keep.txt").write_text("original\n")
    (ws / "gone.txt").write_text("bye\n")
    for p in (ws, ws / "keep.txt", ws / "gone.txt"):
        p.chmod(0o777 if p.is_dir() else 0o666)
    log = world_tmp / "run.jsonl"
    r = airlock.run(*gv_args(airlock, "--log", log, "--workspace", ws), "--",
                    "/bin/sh", "-c", "echo changed >> keep.txt; rm gone.txt; echo new > new.txt")
    assert r.rc == 0, r.describe()
    assert (ws / "keep.txt").read_text() == "original\n"
    assert (ws / "gone.txt").exists() and not (ws / "new.txt").exists()
    w = of_type(records(log), "workspace")[0]
    assert [c["path"] for c in w["created"]] == ["new.txt"], w
    assert [c["path"] for c in w["modified"]] == ["keep.txt"], w
    assert [c["path"] for c in w["deleted"]] == ["gone.txt"], w
    verify(airlock, log)


def test_the_host_stays_out_of_reach(airlock, world_tmp):
    """gVisor's gofer serves only airlock's root: the host's files outside
    it, and the host's processes, are not there."""
    secret = world_tmp / "host-secret"
    secret.write_text("host only\n")
    secret.chmod(0o644)
    r = airlock.run(*gv_args(airlock), "--", "/bin/sh", "-c",
                    f"cat {secret} 2>&1; echo; ls /proc | grep -c '^[0-9]'; "
                    "cat /oldroot/etc/hostname 2>&1; hostname")
    assert r.rc == 0, r.describe()
    out = r.stdout.decode()
    assert "host only" not in out, r.describe()
    lines = out.splitlines()
    # the shell, ls, grep and the pipe's other end: a handful, not the host's hundreds
    assert int(lines[2]) < 10, r.describe()
    assert lines[-1] == "airlock", r.describe()


class _Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"hello through the proxy\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


@pytest.fixture
def servers():
    allowed = http.server.ThreadingHTTPServer(("127.0.0.2", 0), _Hello)
    threading.Thread(target=allowed.serve_forever, daemon=True).start()
    # the forbidden one only counts connections
    denied = socket.socket()
    denied.bind(("127.0.0.4", 0))
    denied.listen(16)
    denied.settimeout(0.2)
    yield allowed.server_address[1], denied
    allowed.shutdown()
    allowed.server_close()
    denied.close()


def test_egress_allowlist_holds_under_gvisor(airlock, world_tmp, servers):
    port, denied = servers
    dport = denied.getsockname()[1]
    log = world_tmp / "run.jsonl"
    script = (
        f"curl -fsS --max-time 15 http://mirror.test:{port}/; echo rc1=$?; "
        # the proxy refuses a name that is not allowed ...
        f"curl -fsS --max-time 15 http://evil.test:{dport}/; echo rc2=$?; "
        # ... and a direct connection, ignoring the proxy variables, is
        # redirected to the proxy too (the transparent path), then refused
        f"curl -fsS --noproxy '*' --max-time 15 http://127.0.0.4:{dport}/; echo rc3=$?; "
        f"curl -fsS --noproxy '*' --max-time 15 http://mirror.test:{port}/; echo rc4=$?; "
        # UDP past the proxy: gVisor's host stack is the sandbox netns's, whose
        # rules drop it
        f"python3 -c \"import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
        f"try: s.sendto(b'x', ('127.0.0.4', {dport})); print('udp-sent')\n"
        f"except OSError: print('udp-refused')\"")
    r = airlock.run(*gv_args(airlock, "--log", log, "--net", "proxy",
                             "--allow-domain", "mirror.test",
                             "--add-host", f"mirror.test:127.0.0.2",
                             "--add-host", f"evil.test:127.0.0.4",
                             "--allow-cidr", "127.0.0.2", "--allow-port", str(port)),
                    "--", "/bin/sh", "-c", script, timeout=90)
    assert r.rc == 0, r.describe()
    out = r.stdout.decode()
    assert out.count("hello through the proxy") == 2, r.describe()
    assert "rc1=0" in out and "rc4=0" in out
    assert "rc2=0" not in out and "rc3=0" not in out, r.describe()
    assert "udp-refused" in out, r.describe()
    try:
        c, _ = denied.accept()
        c.close()
        pytest.fail("the denied server was contacted")
    except socket.timeout:
        pass
    recs = records(log)
    assert of_type(recs, "run_start")[0]["protections"]["gvisor"]["network"].startswith("host stack")
    conns = of_type(recs, "net_connect")
    allowed = [c for c in conns if c["allowed"]]
    refused = [c for c in conns if not c["allowed"]]
    assert {c["proto"] for c in allowed} == {"http", "transparent"}, conns
    assert all(c["addr"] == "127.0.0.2" for c in allowed), conns
    assert len(refused) >= 2, conns
    verify(airlock, log)


def test_refused_without_runsc_no_fallback(airlock, world_tmp):
    log = world_tmp / "run.jsonl"
    r = airlock.run(*gv_args(airlock, "--log", log, "--runsc", world_tmp / "no-runsc"), "--",
                    "/bin/sh", "-c", "echo ran")
    assert r.rc == EXIT_SETUP, r.describe()
    assert b"ran" not in r.stdout
    assert b"no fallback" in r.stderr and b"no-runsc" in r.stderr, r.describe()
    assert not log.exists()
    # not a regular executable file: refused the same way
    d = world_tmp / "dir-runsc"
    d.mkdir()
    r = airlock.run(*gv_args(airlock, "--runsc", d), "--", "/bin/true")
    assert r.rc == EXIT_SETUP, r.describe()
    # found through PATH, or refused: a PATH without runsc
    env = {"PATH": str(world_tmp)}
    r = airlock.run(*gv_args(airlock), "--", "/bin/sh", "-c", "echo ran", env=env)
    assert r.rc == EXIT_SETUP, r.describe()
    assert b"no runsc in PATH" in r.stderr and b"ran" not in r.stdout, r.describe()


def test_spec_file_isolation_and_microvm_refused(airlock, world_tmp):
    spec = world_tmp / "s.yaml"
    spec.write_text(f"isolation: gvisor\nrunsc: {RUNSC}\ncommand: [uname, -r]\n"
                    + ("user: 0\n" if is_rootless() else ""))
    r = airlock.run("run", *airlock.extra, "--spec", spec)
    assert r.rc == 0, r.describe()
    assert r.stdout.decode().strip() == GVISOR_RELEASE
    for args in (["--isolation", "microvm"], ["--spec", world_tmp / "m.yaml"]):
        (world_tmp / "m.yaml").write_text("isolation: microvm\n")
        r = airlock.run("run", *airlock.extra, *args, "--", "/bin/sh", "-c", "echo ran")
        assert r.rc == EXIT_SETUP, r.describe()
        assert b"microvm is not available" in r.stderr and b"ran" not in r.stdout, r.describe()
    (world_tmp / "b.yaml").write_text("isolation: firecracker\n")
    r = airlock.run("run", "--spec", world_tmp / "b.yaml", "--", "/bin/true")
    assert r.rc == EXIT_SETUP and b"expected namespaces, gvisor or microvm" in r.stderr, r.describe()


def test_what_gvisor_cannot_serve_is_refused(airlock, world_tmp):
    """Settings that act through airlock's seccomp filter or time namespace
    would do nothing under gVisor: refused, not silently ignored."""
    cases = {
        "chaos:\n  syscalls:\n    - {syscall: openat, errno: EIO, rate: 1}\n": b"chaos.syscalls",
        "chaos:\n  clock: {offset: +1h}\n": b"chaos.clock",
        "rules:\n  - {on: exec, action: deny}\n": b"action deny",
        "rules:\n  - {on: exec, match: {origin: image}, action: log}\n": b"with origin",
        "rules:\n  - {on: syscall-denied, action: log}\n": b"on: syscall-denied",
    }
    for i, (text, what) in enumerate(cases.items()):
        spec = world_tmp / f"c{i}.yaml"
        spec.write_text("isolation: gvisor\n" + text)
        r = airlock.run("run", *airlock.extra, "--spec", spec, "--", "/bin/true")
        assert r.rc == EXIT_SETUP, (text, r.describe())
        assert what in r.stderr, (text, r.describe())
    r = airlock.run("run", "--runsc", RUNSC, "--", "/bin/true")
    assert r.rc == EXIT_SETUP and b"only meaningful with isolation: gvisor" in r.stderr
    r = airlock.run("run", "--trace-opens", "--", "/bin/true")
    assert r.rc == EXIT_SETUP and b"only meaningful with isolation: gvisor" in r.stderr


def test_trace_points_record_execs_and_opens(airlock, world_tmp):
    """gVisor's own trace points (runsc --pod-init-config, remote sink) reach
    the supervisor over the socket the init bound: each exec inside gVisor
    and each open/openat/creat is a record, hash-chained like the rest."""
    log = world_tmp / "run.jsonl"
    r = airlock.run(*gv_args(airlock, "--log", log, "--trace-opens"), "--", "/bin/sh", "-c",
                    "cat /etc/hostname > /dev/null; /bin/echo 'x\ny' \"$(printf 'q\x01')\" >/tmp/o")
    assert r.rc == 0, r.describe()
    recs = records(log)
    execs = [e for e in of_type(recs, "exec") if e["source"] == "gvisor"]
    cat = [e for e in execs if e["path"] == "/usr/bin/cat"]
    assert cat and cat[0]["argv"] == ["cat", "/etc/hostname"] and cat[0]["argc"] == 2, execs
    echo = [e for e in execs if e["path"].endswith("/echo")]
    # arbitrary bytes in arguments come through escaped, byte-exact
    assert echo and echo[0]["argv"] == ["/bin/echo", "x\ny", "q\x01"], execs
    opens = of_type(recs, "file_open")
    assert all(o["source"] == "gvisor" for o in opens)
    hn = [o for o in opens if o["path"] == "/etc/hostname"]
    assert hn and hn[0]["syscall"] == "openat" and hn[0]["cwd"] == "/workspace", opens[:5]
    created = [o for o in opens if o["path"] == "/tmp/o"]
    assert created and created[0]["flags"] & os.O_CREAT, opens
    end = of_type(recs, "run_end")[0]
    t = end["gvisor_trace"]
    assert t["connected"] and t["execs"] >= 2 and t["opens"] == len(opens), t
    assert t["dropped"] == 0 and t["refused_connections"] == 0, t
    start = of_type(recs, "run_start")[0]
    assert set(start["protections"]["gvisor"]["recorded"]) == {"exec", "file_open"}
    assert start["spec"]["trace_opens"] is True
    verify(airlock, log)
    # without --trace-opens: execs only, a busy opener runs to its end
    log2 = world_tmp / "execs.jsonl"
    r = airlock.run(*gv_args(airlock, "--log", log2), "--", "python3", "-c",
                    "import os\nfor i in range(20000): os.close(os.open('/etc/hostname', os.O_RDONLY))\n"
                    "print('done')", timeout=120)
    assert r.rc == 0 and r.stdout == b"done\n", r.describe()
    recs = records(log2)
    assert not of_type(recs, "file_open")
    assert of_type(recs, "run_end")[0]["gvisor_trace"]["dropped"] == 0


def test_exec_rule_kills_under_gvisor(airlock, world_tmp):
    spec = world_tmp / "r.yaml"
    spec.write_text("isolation: gvisor\n" + ("user: 0\n" if is_rootless() else "")
                    + "rules:\n  - {on: exec, match: {path: '*/cat'}, action: kill}\n")
    log = world_tmp / "run.jsonl"
    r = airlock.run("run", *airlock.extra, "--spec", spec, "--log", log, "--", "/bin/sh", "-c",
                    "echo before; cat /etc/hostname; sleep 5; echo survived", timeout=60)
    assert r.rc == EXIT_POLICY, r.describe()
    assert b"survived" not in r.stdout
    recs = records(log)
    fired = of_type(recs, "rule_fired")
    assert fired and fired[0]["rule_def"]["on"] == "exec", fired
    assert of_type(recs, "run_end")[0]["verdict"] == "policy"
    verify(airlock, log)


@pytest.mark.skipif(is_rootless(), reason="needs the run's cgroup to find its processes "
                    "(the rootless pass has none here)")
def test_nothing_of_gvisor_can_change_the_proxy_rules(airlock, world_tmp):
    """runsc is root of airlock's user namespace, which owns the sandbox's
    network namespace and its redirect rules to the proxy: no process of the
    run in that user namespace may hold CAP_NET_ADMIN (or CAP_NET_RAW) past
    runsc's exec -- the bounding set is cut before it."""
    log = world_tmp / "run.jsonl"
    p = airlock.popen(*gv_args(airlock, "--log", log, "--net", "proxy",
                                      "--allow-domain", "x.test"),
                      "--", "/bin/sh", "-c", "echo ready; sleep 30")
    try:
        assert p.stdout.readline() == b"ready\n"
        start = of_type(records(log), "run_start")[0]
        procs = Path(start["protections"]["cgroup"]["paths"]["pids"]) / "cgroup.procs"
        seen = []
        for pid in procs.read_text().split():
            try:
                st = Path(f"/proc/{pid}/status").read_text()
                userns = os.readlink(f"/proc/{pid}/ns/user")
                name = Path(f"/proc/{pid}/comm").read_text().strip()
            except OSError:
                continue
            bnd = int([ln for ln in st.splitlines() if ln.startswith("CapBnd:")][0].split()[1], 16)
            seen.append((name, userns, bnd))
        # the user namespace runsc runs in (airlock's: it owns the netns)
        init_ns = [u for n, u, _ in seen if n == "runsc"]
        assert init_ns, seen
        for name, userns, bnd in seen:
            if userns == init_ns[0]:  # caps there would reach the netns
                assert not bnd & (1 << 12), (name, hex(bnd))  # CAP_NET_ADMIN
                assert not bnd & (1 << 13), (name, hex(bnd))  # CAP_NET_RAW
    finally:
        p.kill()
        p.wait(timeout=30)


@pytest.mark.skipif(is_rootless(), reason="rootless canaries are inotify, after the fact; "
                    "the rootful fanotify path is the one that names the opener")
def test_canary_open_inside_gvisor_kills(airlock, world_tmp):
    spec = world_tmp / "c.yaml"
    spec.write_text("isolation: gvisor\n"
                    "canaries:\n  - {path: /home/agent/.aws/credentials, kind: aws-credentials}\n")
    log = world_tmp / "run.jsonl"
    r = airlock.run("run", "--spec", spec, "--log", log, "--", "/bin/sh", "-c",
                    "cat /home/agent/.aws/credentials >/dev/null; sleep 5; echo survived",
                    timeout=60)
    assert r.rc == EXIT_POLICY, r.describe()
    assert b"survived" not in r.stdout
    recs = records(log)
    cs = of_type(recs, "canary")
    assert cs and all(c["path"] == "/home/agent/.aws/credentials" for c in cs), cs
    assert {c["source"] for c in cs} <= {"gvisor", "fanotify"}, cs
    # the opener the host sees is gVisor's gofer, serving the workload's open
    # (when the trace's record, which comes first, has not already killed it)
    assert all(c["argv"][0] == "runsc-gofer" for c in cs if c["source"] == "fanotify"), cs
    assert of_type(recs, "run_end")[0]["verdict"] == "policy"
    verify(airlock, log)


def test_canary_open_seen_through_gvisor_trace(airlock, world_tmp):
    """gVisor's open trace point names the canary even when the workload
    reaches it by a relative path with dot segments, rootful and rootless
    (where the host's own watch is inotify, after the fact)."""
    spec = world_tmp / "c.yaml"
    spec.write_text("isolation: gvisor\ntrace_opens: true\n" + ("user: 0\n" if is_rootless() else "")
                    + "canaries:\n  - {path: /tmp/bait/notes.txt, kind: file}\n")
    log = world_tmp / "run.jsonl"
    r = airlock.run("run", *airlock.extra, "--spec", spec, "--log", log, "--", "/bin/sh", "-c",
                    "cd /tmp/bait && cat ./../bait/./notes.txt >/dev/null; sleep 5; echo survived",
                    timeout=60)
    assert r.rc == EXIT_POLICY, r.describe()
    assert b"survived" not in r.stdout
    recs = records(log)
    c = [x for x in of_type(recs, "canary") if x.get("source") == "gvisor"]
    assert c and c[0]["path"] == "/tmp/bait/notes.txt" and c[0]["access"] == "open", \
        of_type(recs, "canary")
    assert of_type(recs, "run_end")[0]["verdict"] == "policy"
    verify(airlock, log)


@pytest.fixture(scope="module")
def fake_sentry(probe_bin):
    """tests/probe/fake_sentry: a compromised gVisor sentry, given as --runsc."""
    src = probe_bin.parent / "fake_sentry"
    if not src.is_file():
        pytest.fail(f"{src} not built (ninja -C build)")
    d = mkdtemp_world("airlock-fake-sentry-")
    shutil.copy2(src, d / "fake_sentry")
    (d / "fake_sentry").chmod(0o755)
    yield d / "fake_sentry"
    shutil.rmtree(d, ignore_errors=True)


@pytest.mark.parametrize("mode,reason", [
    ("malformed", "malformed message"),
    ("oversize", "message over 64 KiB"),
    ("badhandshake", "bad handshake"),
    ("dropped", "3 trace point(s) dropped"),
])
def test_hostile_sentry_fails_the_run_closed(airlock, world_tmp, fake_sentry, mode, reason):
    """What a compromised sentry sends on the trace socket is parsed strictly:
    anything airlock cannot record kills the run (airlock-error, 125), and
    the log still verifies."""
    log = world_tmp / "run.jsonl"
    r = airlock.run(*gv_args(airlock, "--runsc", fake_sentry, "--log", log), "--",
                    f"hostile-{mode}", timeout=60)
    assert r.rc == EXIT_SETUP, r.describe()
    assert b"not killed" not in r.stdout
    recs = records(log)
    end = of_type(recs, "run_end")[0]
    assert end["verdict"] == "airlock-error" and reason in end["reason"], end
    assert of_type(recs, "teardown")[0]["ok"]
    verify(airlock, log)


def test_hostile_sentry_gets_one_connection_and_a_bounded_log(airlock, world_tmp, fake_sentry):
    log = world_tmp / "run.jsonl"
    r = airlock.run(*gv_args(airlock, "--runsc", fake_sentry, "--log", log), "--",
                    "hostile-second", timeout=60)
    assert r.rc == 0, r.describe()
    # the listening socket is gone once the sentry connected
    assert b"second connection: refused" in r.stdout, r.describe()
    recs = records(log)
    ex = [e for e in of_type(recs, "exec") if e["source"] == "gvisor"]
    assert [e["path"] for e in ex] == ["/bin/fak"] and ex[0]["argv"] == ["one"], ex
    # a flood of opens: 20,000 recorded, the rest counted, the run unharmed
    log2 = world_tmp / "flood.jsonl"
    r = airlock.run(*gv_args(airlock, "--runsc", fake_sentry, "--log", log2), "--",
                    "hostile-flood", timeout=120)
    assert r.rc == 0 and b"flood sent" in r.stdout, r.describe()
    recs = records(log2)
    t = of_type(recs, "run_end")[0]["gvisor_trace"]
    assert t["opens"] == 25000 and t["opens_unrecorded"] == 5000, t
    assert len(of_type(recs, "file_open")) == 20000
    verify(airlock, log2)


@pytest.mark.skipif(not is_rootless(), reason="the rootless refusal")
def test_rootless_needs_user_zero(airlock):
    r = airlock.run("run", *airlock.extra, "--isolation", "gvisor", "--", "/bin/sh", "-c",
                    "echo ran")
    assert r.rc == EXIT_SETUP, r.describe()
    assert b"needs --user 0" in r.stderr and b"ran" not in r.stdout, r.describe()
