#!/usr/bin/python3
"""Syscall overhead of airlock's seccomp filter (and of exec supervision),
against bare, bwrap with a minimal cacheable filter, and runsc: one run, the
same machine, interleaved, medians and ratios. Writes the "Syscall overhead"
section of docs/benchmarks.md (between its markers; other sections are left
as they are).

    bench/syscall_overhead.py [--rounds K] [--no-doc] [--no-runsc]

Run as root. AIRLOCK_BIN (default build/src/cli/airlock) and BUILD_DIR
(default build) select the build. Workloads (bench/syscall_loop.c, static,
timing only its own loop so sandbox startup is excluded):
  getppid   1e6 x getppid()                  hot, plain allow: the kernel's cached path
  ioctl     1e6 x ioctl(FIONREAD) on a pipe  argument-checked in airlock: runs the BPF
  rw1       5e5 x (read 1 B /dev/zero, write 1 B /dev/null)
  dd bs=1   dd if=/dev/zero of=/dev/null bs=1 count=5e5 (real dd, its own timing)
  exec      1000 x fork + execve(/bin/true) + wait (airlock: each exec is supervised)
  tar       tar of /usr/share/doc and /usr/lib/python3.11 into a pipe (realistic)
  python    a python3 "test run": imports, json, regex, files, subprocesses
and, in isolation, exec supervision with and without the listener
(bench/exec_notify.c, linked with airlock's own libraries).
"""
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BUILD = Path(os.environ.get("BUILD_DIR", REPO / "build")).resolve()
AIRLOCK = Path(os.environ.get("AIRLOCK_BIN", BUILD / "src" / "cli" / "airlock")).resolve()
DOC = REPO / "docs" / "benchmarks.md"
BEGIN = "<!-- syscall:begin (bench/syscall_overhead.py writes this) -->"
END = "<!-- syscall:end -->"

BWRAP = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
         "--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib",
         "--symlink", "usr/lib64", "/lib64", "--symlink", "usr/sbin", "/sbin", "--proc", "/proc",
         "--dev", "/dev", "--tmpfs", "/tmp", "--clearenv", "--setenv", "PATH", "/usr/bin"]

PY_TEST_RUN = r'''
import json, re, os, subprocess, tempfile, hashlib, collections, itertools
d = tempfile.mkdtemp()
for i in range(200):
    p = os.path.join(d, f"case{i}.json")
    with open(p, "w") as f: json.dump({"i": i, "s": "x" * i, "l": list(range(i % 50))}, f)
    with open(p) as f: assert json.load(f)["i"] == i
    assert re.fullmatch(r"case\d+\.json", os.path.basename(p))
    hashlib.sha256(open(p, "rb").read()).hexdigest()
c = collections.Counter(itertools.chain.from_iterable(str(i) for i in range(20000)))
for i in range(10): subprocess.run(["/bin/true"], check=True)
'''


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def build(tmp):
    cc = ["cc", "-O2"]
    sh(cc + ["-static", "-o", str(tmp / "syscall_loop"), str(HERE / "syscall_loop.c")])
    sh(cc + ["-o", str(tmp / "seccomp-bpf"), str(HERE / "seccomp-bpf.c"), "-lseccomp"])
    sh([str(tmp / "seccomp-bpf"), str(tmp / "filter.bpf")])
    libs = [BUILD / "src" / d / f"libal_{d}.a" for d in
            ("supervisor", "sandbox", "evidence", "spec", "util")]
    sh(cc + ["-I", str(REPO), "-I", str(REPO / "src"), "-I", str(BUILD), "-o",
             str(tmp / "exec_notify"), str(HERE / "exec_notify.c"), *map(str, libs),
             "-lseccomp", "-lsodium", "-lfyaml", "-lrelp", "-lgnutls", "-lm"])
    (tmp / "test_run.py").write_text(PY_TEST_RUN)
    for p in tmp.iterdir():
        p.chmod(0o755)
    tmp.chmod(0o755)


def environments(tmp, with_runsc):
    loop = "/b/syscall_loop"
    envs = {
        "bare": lambda argv: [str(tmp / "syscall_loop"), *argv],
        "bwrap + minimal filter": lambda argv: BWRAP + ["--ro-bind", str(tmp), "/b", "--seccomp",
                                                        "9", loop, *argv],
        "airlock": lambda argv: [str(AIRLOCK), "run", "-q", "-v", f"{tmp}:/b:ro", "--", loop, *argv],
    }
    if with_runsc and shutil.which("runsc"):
        envs["runsc"] = lambda argv: ["runsc", "--network=none", "do", str(tmp / "syscall_loop"),
                                      *argv]
    return envs


def workloads(tmp, runsc):
    # (name, argv for syscall_loop, unit, iterations scale-down for runsc)
    dd = ["run", "3", "/bin/sh", "-c", "dd if=/dev/zero of=/dev/null bs=1 count=500000 2>/dev/null"]
    tar = ["run", "3", "/bin/sh", "-c", "tar cf - /usr/share/doc /usr/lib/python3.11 2>/dev/null | cat >/dev/null"]
    py_path = "/b/test_run.py"
    return [
        ("getppid", ["getppid", "1000000"], ["getppid", "20000"]),
        ("ioctl (argument-checked)", ["ioctl", "1000000"], ["ioctl", "20000"]),
        ("read+write 1 B (rw1)", ["rw1", "500000"], ["rw1", "10000"]),
        ("dd bs=1 count=5e5", dd, None),
        ("exec /bin/true", ["exec", "1000"], ["exec", "50"]),
        ("tar /usr/share/doc + python3.11 lib", tar, None),
        ("python3 test run", ["run", "5", "/usr/bin/python3", py_path], None),
    ]


def run_one(cmd, pass_fds=(), bpf=None, timeout=600):
    kw = {}
    if bpf is not None:
        fd = os.open(bpf, os.O_RDONLY)
        os.dup2(fd, 9)
        os.close(fd)
        kw["pass_fds"] = (9,)
    try:
        cp = subprocess.run(cmd, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL, **kw)
    finally:
        if bpf is not None:
            os.close(9)
    if cp.returncode != 0:
        raise RuntimeError(f"{cmd}: exit {cp.returncode}: {cp.stderr[-500:]!r}")
    line = [l for l in cp.stdout.splitlines() if l.startswith(b"{")][-1]
    return json.loads(line), cp


def main():
    args = sys.argv[1:]
    rounds = int(args[args.index("--rounds") + 1]) if "--rounds" in args else 3
    tmp = Path(tempfile.mkdtemp(prefix="airlock-sysbench-", dir="/tmp"))
    try:
        build(tmp)
        envs = environments(tmp, "--no-runsc" not in args)
        wls = workloads(tmp, "runsc" in envs)
        results = {}   # (workload, env) -> [values]
        units = {}
        t_start = time.time()
        load0 = os.getloadavg()
        rng = random.Random(1)
        for r in range(rounds):
            for wname, argv, runsc_argv in wls:
                order = list(envs)
                rng.shuffle(order)
                for ename in order:
                    if ename == "runsc" and (runsc_argv is None or r > 0):
                        continue  # runsc: small counts, one round (it is ~100x slower)
                    a = runsc_argv if ename == "runsc" else argv
                    if wname.startswith("python") and ename == "bare":
                        a = a[:-1] + [str(tmp / "test_run.py")]
                    cmd = envs[ename](a)
                    bpf = tmp / "filter.bpf" if ename.startswith("bwrap") else None
                    rec, cp = run_one(cmd, bpf=bpf)
                    unit = rec["unit"]
                    cpu, wall = rec["cpu"], rec["wall"]
                    if wname.startswith("dd"):  # per byte copied (1 read + 1 write)
                        cpu, wall, unit = cpu * 1e6 / 500000, wall * 1e6 / 500000, "ns"
                    results.setdefault((wname, ename), []).append((cpu, wall))
                    units[wname] = unit
                    print(f"  round {r + 1} {wname:38s} {ename:24s} cpu {cpu:12.3f} wall "
                          f"{wall:12.3f} {unit}", flush=True)
        ab = json.loads(subprocess.run([str(tmp / "exec_notify"), "1000", "7", str(tmp)],
                                       capture_output=True, check=True).stdout)
        elapsed = time.time() - t_start
        load1 = os.getloadavg()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    env_names = list(envs)
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    out = [f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by "
           f"`bench/syscall_overhead.py` (airlock at commit {commit}), as root, {rounds} interleaved "
           f"rounds ({elapsed:.0f} s). Machine: {cpu}, {os.cpu_count()} CPUs, Linux "
           f"{os.uname().release}; load average {load0[0]:.1f} before, {load1[0]:.1f} after "
           f"(the machine is shared: other work ran at the same time).",
           "Each figure is the median over rounds of the in-sandbox median of 5 timed loops "
           "(sandbox startup excluded). **CPU time** (the loop's thread, plus its waited-for "
           "children) is the primary figure: on a shared, loaded machine elapsed time mostly "
           "measures waiting for a CPU; elapsed (wall) medians follow in the second table. "
           "runsc ran one round with small counts (its syscalls are handled by its Sentry, "
           "whose CPU time the in-sandbox clock does not see: compare its wall figures).",
           ""]

    def table(idx, title):
        rows = [f"{title}", "",
                "| workload | unit | " + " | ".join(env_names) +
                " | airlock / bare | airlock / bwrap + filter |",
                "|---|---|" + "---:|" * len(env_names) + "---:|---:|"]
        for wname, _, _ in wls:
            meds = {e: statistics.median(v[idx] for v in results[(wname, e)])
                    for e in env_names if (wname, e) in results}
            row = [wname, units[wname]] + [f"{meds[e]:.1f}" if e in meds else "n/a"
                                           for e in env_names]
            a = meds.get("airlock")
            row.append(f"{a / meds['bare']:.3f}x" if a and meds.get("bare") else "")
            bw = meds.get("bwrap + minimal filter")
            row.append(f"{a / bw:.3f}x" if a and bw else "")
            rows.append("| " + " | ".join(row) + " |")
        return rows + [""]

    out += table(0, "CPU time per operation:")
    out += table(1, "Elapsed (wall) time per operation:")
    out += ["bwrap's filter: default allow, EPERM for 53 syscalls (bench/seccomp-bpf.c): every "
            "allowed syscall is constant, so the kernel caches it: the floor for any filter. "
            "airlock's getppid/read/write are plain allow rows too (cached); ioctl carries an "
            "argument rule (TIOCSTI/TIOCLINUX), so it runs the BPF program every time. Inside "
            "airlock the exec loop's figures do not include the supervisor's work for each "
            "exec (it runs outside the sandbox): that is measured in isolation below.",
            "",
            f"Exec supervision in isolation (`bench/exec_notify.c`: airlock's own filter with and "
            f"without the listener, {ab['n']} fork+execs of /bin/true x {ab['rounds']} "
            f"alternating rounds, records written to a real hash-chained event log; CPU = the "
            f"exec'ing side plus the supervisor):",
            "",
            "| | with notification | without | added per exec |",
            "|---|---:|---:|---:|",
            f"| CPU µs per exec | {ab['cpu_notify']:.1f} | {ab['cpu_plain']:.1f} | "
            f"{ab['cpu_notify'] - ab['cpu_plain']:+.1f} |",
            f"| elapsed µs per exec | {ab['wall_notify']:.1f} | {ab['wall_plain']:.1f} | "
            f"{ab['wall_notify'] - ab['wall_plain']:+.1f} |",
            "",
            f"Each notification costs the supervisor {ab['handle_us_median']:.1f} µs of CPU "
            f"(median; p99 {ab['handle_us_p99']:.0f} µs, max {ab['handle_us_max']:.0f} µs): "
            f"receive, read path and argv from the target, translate pid and ppid into the "
            f"sandbox's pid namespace, append the record to the event log, answer. The tail is "
            f"the event log's signed checkpoints (every 1000 records or 1 s, with fsync).",
            ""]
    report = "\n".join(out)
    print(report)
    if "--no-doc" in args:
        return
    section = f"## Syscall overhead (seccomp)\n\n{BEGIN}\n{report}{END}\n"
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n\n"
    if BEGIN in text and END in text:
        text = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END),
                      lambda m: f"{BEGIN}\n{report}{END}", text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    DOC.write_text(text)


if __name__ == "__main__":
    main()
