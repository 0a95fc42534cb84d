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


# ---------- exec records say what ran (issue 7 item 4) ----------

def sha256_of(path):
    import hashlib
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def seccomp_execs(recs):
    return [r for r in of_type(recs, "exec") if r.get("source") == "seccomp"]


@pytest.mark.parametrize("what", ["path", "argv", "env", "all"])
def test_exec_strings_on_write_only_pages_are_read(airlock, ts_dir, world_tmp, airlock_works,
                                                   what):
    # PROT_WRITE-only pages: the kernel reads them, process_vm_readv cannot.
    # The exec runs, so its record must hold the whole path, argv and LD_ env.
    res, recs = run_logged(airlock, ts_dir, world_tmp, TS, "exec_wronly", what, "/bin/echo",
                           "hi", what)
    assert res.rc == 0 and res.stdout == f"hi {what}\n".encode(), res.describe()
    execs = [r for r in seccomp_execs(recs) if r.get("argv", [None])[0] == "/bin/echo"]
    assert len(execs) == 1, seccomp_execs(recs)
    e = execs[0]
    assert e["path"] == "/bin/echo" and e["argv"] == ["/bin/echo", "hi", what], e
    assert "LD_LIBRARY_PATH=/probe-ld-path" in e["ld_env"], e
    assert not e.get("refused") and not e.get("argv_truncated"), e


def test_exec_path_ending_at_a_mapping_end_is_read(airlock, ts_dir, world_tmp, airlock_works):
    res, recs = run_logged(airlock, ts_dir, world_tmp, TS, "exec_path_at_end", "/bin/echo", "end")
    assert res.rc == 0 and res.stdout == b"end\n", res.describe()
    e = [r for r in seccomp_execs(recs) if r.get("argv") == ["/bin/echo", "end"]]
    assert len(e) == 1 and e[0]["path"] == "/bin/echo" and not e[0].get("path_truncated"), recs


@pytest.mark.parametrize("case", ["exec_path_unmapped", "exec_argv_unmapped"])
def test_exec_partly_unreadable_is_refused_and_recorded(airlock, ts_dir, world_tmp,
                                                        airlock_works, case):
    # a string or the argv array running into an unmapped page: what the
    # supervisor read is partial, so the exec is refused (EFAULT), on record
    res, recs = run_logged(airlock, ts_dir, world_tmp, TS, case, "/bin/echo")
    assert res.rc == 0, res.describe()
    assert probe_lines(res)[case]["errno"] == "EFAULT", res.describe()
    refused = [r for r in seccomp_execs(recs) if r.get("refused")]
    assert len(refused) == 1, seccomp_execs(recs)
    assert refused[0]["read_error"] == 14 and refused[0]["errno"] == 14, refused


def test_fexecve_of_a_memfd_is_recorded_with_its_content(airlock, ts_dir, world_tmp,
                                                         airlock_works, try_syscall_bin):
    res, recs = run_logged(airlock, ts_dir, world_tmp, TS, "fexecve_memfd", TS, "getppid")
    assert res.rc == 0 and "getppid" in probe_lines(res), res.describe()
    e = [r for r in seccomp_execs(recs) if r.get("syscall") == "execveat"]
    assert len(e) == 1, seccomp_execs(recs)
    f = e[0]["file"]
    assert e[0]["path"] == "" and e[0]["flags"] == 0x1000, e
    assert f["image"] is False and f["sha256"] == sha256_of(try_syscall_bin), e


def test_exec_record_names_the_file_not_argv0(airlock, ts_dir, world_tmp, airlock_works,
                                              airlock_bin):
    # os.execv("/tmp/evil", ["/usr/bin/true"]): the record, and log show, must
    # name /tmp/evil and what it holds, not the argv[0] it claims
    script = f"cp /bin/echo /tmp/evil && exec {TS} execv /tmp/evil /usr/bin/true lie"
    res, recs = run_logged(airlock, ts_dir, world_tmp, "/bin/sh", "-c", script)
    assert res.rc == 0 and res.stdout == b"lie\n", res.describe()
    e = [r for r in seccomp_execs(recs) if r.get("path") == "/tmp/evil"]
    assert len(e) == 1, seccomp_execs(recs)
    assert e[0]["argv"] == ["/usr/bin/true", "lie"], e
    f = e[0]["file"]
    assert f["image"] is False and f["sha256"] == sha256_of(os.path.realpath("/bin/echo")), f
    assert f["ino"] > 0 and f["dev"], f
    # a file of the read-only image is identified, not hashed
    cp = [r for r in seccomp_execs(recs) if r.get("argv", [None])[0] == "cp"]
    assert cp and cp[0]["file"]["image"] is True and "sha256" not in cp[0]["file"], cp
    log = sorted(world_tmp.glob("run-*.jsonl"), key=lambda p: p.stat().st_mtime)[-1]
    shown = subprocess.run([str(airlock_bin), "log", "show", str(log)], capture_output=True,
                           text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    line = [ln for ln in shown.stdout.splitlines()
            if "/usr/bin/true lie" in ln and "try_syscall" not in ln]
    assert len(line) == 1 and ": /tmp/evil  argv: /usr/bin/true lie" in line[0], shown.stdout
    assert f["sha256"] in line[0], line


def test_exec_of_a_missing_file_is_refused_as_the_kernel_would(airlock, ts_dir, world_tmp,
                                                               airlock_works):
    # the supervisor could not identify the file: the exec is answered with the
    # error it got (the kernel's own answer, unless the file appears meanwhile)
    res, recs = run_logged(airlock, ts_dir, world_tmp, TS, "execv", "/nonexistent/x", "x")
    assert probe_lines(res)["execv"]["errno"] == "ENOENT", res.describe()
    e = [r for r in seccomp_execs(recs) if r.get("path") == "/nonexistent/x"]
    assert len(e) == 1 and e[0]["refused"] is True and e[0]["file"] is None, e
    assert e[0]["file_error"] == 2 and e[0]["errno"] == 2, e


def test_denials_beyond_the_cap_are_counted_by_name(airlock, ts_dir, world_tmp, airlock_works):
    res, recs = run_logged(airlock, ts_dir, world_tmp, "/bin/sh", "-c",
                           f"{TS} repeat 10005 sysfs && {TS} repeat 7 bpf")
    assert res.rc == 0, res.describe()
    sc = of_type(recs, "run_end")[0]["syscalls"]
    assert sc["denied_unrecorded"] == 12, sc
    assert sc["unrecorded_by_syscall"] == {"sysfs": 5, "bpf": 7}, sc


def test_exec_file_is_resolved_in_the_process_view(airlock, ts_dir, world_tmp, airlock_works):
    # relative paths (from the cwd, climbing out of it with ..), absolute
    # symlinks (resolved in the sandbox's root, never the host's), and
    # /proc/self/exe: each record names the file the kernel ran
    script = ("mkdir -p /tmp/a && cp /bin/echo /tmp/evil && ln -s /bin/echo /tmp/ln && "
              "cd /tmp/a && ../evil up && cd /tmp && ./evil here && /tmp/ln link && "
              f"{TS} execveat /proc/self/exe getppid")
    res, recs = run_logged(airlock, ts_dir, world_tmp, "/bin/sh", "-c", script)
    assert res.rc == 0 and res.stdout.startswith(b"up\nhere\nlink\n"), res.describe()
    execs = seccomp_execs(recs)
    by_path = {r["path"]: r for r in execs}
    echo = sha256_of(os.path.realpath("/bin/echo"))
    for p, how in (("../evil", "cwd"), ("./evil", "cwd")):
        f = by_path[p]["file"]
        assert f["sha256"] == echo and f["resolved"] == how and not f["image"], by_path[p]
    assert by_path["../evil"]["file"]["ino"] == by_path["./evil"]["file"]["ino"]
    f = by_path["/tmp/ln"]["file"]
    assert f["image"] is True and f["resolved"] == "root" and "sha256" not in f, f
    f = by_path["/proc/self/exe"]["file"]
    assert f["resolved"] == "proc" and f["ino"] == by_path[TS]["file"]["ino"], execs
    # the probe comes from a read-only volume: identified, and hashed only
    # where its mount is writable (docs/events.md, exec)
    assert f.get("sha256") == by_path[TS]["file"].get("sha256"), execs
    assert f["image"] == by_path[TS]["file"]["image"], execs
    assert not [r for r in execs if r.get("refused")], execs


def test_exec_of_files_the_kernel_refuses_reads_nothing(airlock, ts_dir, world_tmp,
                                                       airlock_works):
    # /proc/kmsg (root-only, and reading it consumes the host's kernel log),
    # a file without execute bits: the kernel refuses them, so the supervisor
    # identifies them but never opens them for reading
    script = (f"echo x > /tmp/plain && {TS} execv /proc/kmsg k; {TS} execv /tmp/plain p; "
              "echo done")
    res, recs = run_logged(airlock, ts_dir, world_tmp, "/bin/sh", "-c", script)
    assert res.rc == 0 and res.stdout.endswith(b"done\n"), res.describe()
    by_path = {r["path"]: r for r in seccomp_execs(recs)}
    assert by_path["/proc/kmsg"]["file"]["hash_skipped"] in ("noexec", "not-executable"), by_path
    assert by_path["/tmp/plain"]["file"]["hash_skipped"] == "not-executable", by_path
    assert "sha256" not in by_path["/tmp/plain"]["file"], by_path


def test_script_interpreters_are_identified(airlock, ts_dir, world_tmp, airlock_works):
    # the kernel runs a script's "#!" interpreter without another exec call:
    # the record of the script names it (and a script interpreting a script)
    script = ("cp /bin/echo /tmp/evil && printf '#!/tmp/evil from-s1\\n' > /tmp/s1 && "
              "printf '#! /tmp/s1\\n' > /tmp/s2 && printf '#!/nonexistent\\n' > /tmp/s3 && "
              "chmod +x /tmp/s1 /tmp/s2 /tmp/s3 && /tmp/s2; /tmp/s3; echo rc=$?")
    res, recs = run_logged(airlock, ts_dir, world_tmp, "/bin/sh", "-c", script)
    assert res.rc == 0, res.describe()
    assert res.stdout.startswith(b"from-s1 /tmp/s1 /tmp/s2\n"), res.describe()
    by_path = {r["path"]: r for r in seccomp_execs(recs)}
    chain = by_path["/tmp/s2"]["interpreters"]
    assert [i["path"] for i in chain[:2]] == ["/tmp/s1", "/tmp/evil"], chain
    assert [i["kind"] for i in chain[:2]] == ["script", "script"], chain
    assert chain[1]["file"]["sha256"] == sha256_of(os.path.realpath("/bin/echo")), chain
    assert "sha256" in chain[0]["file"] and not chain[0]["file"]["image"], chain
    # /tmp/evil is a dynamic program: its loader (of the image) ends the chain
    assert len(chain) == 3 and chain[2]["kind"] == "elf" and chain[2]["file"]["image"], chain
    s3 = by_path["/tmp/s3"]
    assert s3["refused"] is True and s3["errno"] == 2, s3
    assert s3["interpreters"] == [{"path": "/nonexistent", "kind": "script",
                                   "file_error": 2}], s3


def test_scripts_cannot_hide_their_interpreter(airlock, ts_dir, world_tmp, airlock_works):
    # padded past the hash bound: the "#!" line is still read; unreadable to
    # the supervisor (rootless, mode 0111): refused, never run unrecorded
    script = ("cp /bin/echo /tmp/evil && "
              "{ printf '#!/tmp/evil pad\\n'; head -c 17000000 /dev/zero; } > /tmp/big && "
              "chmod +x /tmp/big && /tmp/big; printf '#!/tmp/evil x\\n' > /tmp/hidden && "
              "chmod 0111 /tmp/hidden && /tmp/hidden; echo done")
    res, recs = run_logged(airlock, ts_dir, world_tmp, "/bin/sh", "-c", script)
    assert res.rc == 0 and res.stdout.startswith(b"pad /tmp/big\n"), res.describe()
    by_path = {r["path"]: r for r in seccomp_execs(recs)}
    big = by_path["/tmp/big"]
    assert big["file"]["hash_skipped"] == "size", big
    assert [i["path"] for i in big["interpreters"]][:1] == ["/tmp/evil"], big
    assert big["interpreters"][0]["file"]["sha256"] == sha256_of(os.path.realpath("/bin/echo"))
    hidden = by_path["/tmp/hidden"]
    if hidden.get("refused"):
        assert hidden["errno"] == 13 and hidden["file"]["hash_skipped"] == "unreadable", hidden
        assert b"x /tmp/hidden" not in res.stdout, res.describe()
    else:
        assert [i["path"] for i in hidden["interpreters"]][:1] == ["/tmp/evil"], hidden


def test_path_at_the_kernel_limit(airlock, ts_dir, world_tmp, airlock_works):
    # PATH_MAX counts the NUL: 4095 characters run, 4096 are the kernel's
    # ENAMETOOLONG -- the supervisor must draw the line at the same place
    ok = "/" * (4095 - len("bin/echo")) + "bin/echo"
    long = "/" * (4096 - len("bin/echo")) + "bin/echo"
    res, recs = run_logged(airlock, ts_dir, world_tmp, "/bin/sh", "-c",
                           f'{TS} execv "$1" echo fits; {TS} execv "$2" echo long', "sh", ok, long)
    assert res.stdout.startswith(b"fits\n"), res.describe()
    assert probe_lines(res)["execv"]["errno"] == "ENAMETOOLONG", res.describe()
    execs = seccomp_execs(recs)
    fits = [r for r in execs if r.get("argv") == ["echo", "fits"]]
    assert len(fits) == 1 and fits[0]["path"] == ok and not fits[0].get("refused"), execs
    refused = [r for r in execs if r.get("path_truncated")]
    assert len(refused) == 1 and refused[0]["errno"] == 36 and refused[0]["refused"], refused


def test_a_custom_elf_loader_is_identified(airlock, ts_dir, world_tmp, airlock_works):
    # a program from a writable area whose PT_INTERP names a loader there:
    # the kernel maps and runs that loader with no exec call of its own
    echo = Path(os.path.realpath("/bin/echo")).read_bytes()
    std = b"/lib64/ld-linux-x86-64.so.2\0"
    if std not in echo:
        pytest.skip("/bin/echo has another loader on this host")
    d = mkdtemp_world("airlock-ldtest-")
    try:
        (d / "xyz").mkdir()
        (d / "xyz").chmod(0o755)
        loader = d / "xyz" / "ld-linux-x86-64.so.2"
        shutil.copy2(os.path.realpath("/lib64/ld-linux-x86-64.so.2"), loader)
        loader.chmod(0o755)
        prog = d / "e2"
        prog.write_bytes(echo.replace(std, b"/w/xyz/ld-linux-x86-64.so.2\0", 1))
        prog.chmod(0o755)
        res, recs = run_logged(airlock, ts_dir, world_tmp, "/w/e2", "via", "loader",
                               opts=("-v", f"{d}:/w:rw,owner=root"))
        assert res.rc == 0 and res.stdout == b"via loader\n", res.describe()
        e = [r for r in seccomp_execs(recs) if r.get("path") == "/w/e2"]
        assert len(e) == 1 and e[0]["file"]["sha256"] == sha256_of(prog), e
        assert e[0]["interpreters"] == [{
            "path": "/w/xyz/ld-linux-x86-64.so.2", "kind": "elf",
            "file": e[0]["interpreters"][0]["file"]}], e
        f = e[0]["interpreters"][0]["file"]
        assert f["image"] is False and f["sha256"] == sha256_of(loader), f
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_execveat_resolves_beneath_its_dirfd(airlock, ts_dir, world_tmp, airlock_works):
    script = (f"mkdir -p /tmp/a && cp /bin/echo /tmp/evil && {TS} execveat_dirfd /tmp evil in; "
              f"{TS} execveat_dirfd /tmp/a ../evil up; {TS} execveat_dirfd /tmp nope x")
    res, recs = run_logged(airlock, ts_dir, world_tmp, "/bin/sh", "-c", script)
    assert res.stdout.startswith(b"in\nup\n"), res.describe()
    assert probe_lines(res)["execveat_dirfd"]["errno"] == "ENOENT", res.describe()
    execs = [r for r in seccomp_execs(recs) if r.get("syscall") == "execveat"]
    echo = sha256_of(os.path.realpath("/bin/echo"))
    by_path = {r["path"]: r for r in execs}
    for p in ("evil", "../evil"):
        f = by_path[p]["file"]
        assert f["resolved"] == "dirfd" and f["sha256"] == echo, by_path[p]
    assert by_path["nope"]["refused"] and by_path["nope"]["file_error"] == 2, by_path
