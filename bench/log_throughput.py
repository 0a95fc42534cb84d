#!/usr/bin/env python3
"""Event log benchmarks (issue 4), in one run on this machine:

1. records/s appended with hashing and checkpointing (every 1000 records and
   every second, each checkpoint signed with Ed25519 and fsync'd) to a local
   file, by evgen (tests/unit/evidence/evgen.c: the real library, records
   shaped like the supervisor's), without and with workload output;
2. `airlock log verify` of the 1,000,000-event log: time and peak RSS;
3. the cost of the log on an exec-heavy workload: 1000 execs inside a
   sandbox, with and without --log, interleaved.

Usage: bench/log_throughput.py [--build DIR] [--runs N] [--no-write]
Writes its section of docs/benchmarks.md between the log_throughput markers.
A benchmark, not a test: nothing here passes or fails.
"""
import argparse
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- log_throughput:begin -->", "<!-- log_throughput:end -->"


def cpu_children():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def evgen_rate(evgen, d, n, *opts):
    log = Path(d) / "b.jsonl"
    for p in Path(d).glob("b.jsonl*"):
        p.unlink()
    c0 = cpu_children()
    cp = subprocess.run([str(evgen), "--bench", *opts, str(log), str(n)], capture_output=True,
                        text=True, check=True)
    cpu = cpu_children() - c0
    m = re.search(r"records=(\d+) seconds=([\d.]+)", cp.stderr)
    records, secs = int(m.group(1)), float(m.group(2))
    return records / secs, records / cpu, records, log


def exec_loop(airlock, d, with_log, i):
    script = "i=0; while [ $i -lt 1000 ]; do /bin/true; i=$((i+1)); done"
    args = [str(airlock), "run", "-q"]
    if with_log:
        args += ["--log", str(Path(d) / f"exec-{i}.jsonl")]
    t0 = time.perf_counter()
    subprocess.run(args + ["--", "/bin/sh", "-c", script], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.environ.get("AIRLOCK_BUILD", str(REPO / "build")))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args()
    build = Path(a.build)
    evgen = build / "tests/unit/evidence/evgen"
    airlock = build / "src/cli/airlock"
    d = tempfile.mkdtemp(prefix="airlock-logbench-", dir=os.environ.get("TMPDIR", "/tmp"))
    fs = subprocess.run(["findmnt", "-n", "-o", "FSTYPE", "-T", d], capture_output=True, text=True).stdout.strip()
    rows = []
    try:
        n = 1_000_000
        for label, opts in (("events only", ()),
                            ("events + output every 4th event (hostile bytes, 2 streams)", ("--output",))):
            walls, cpus = [], []
            for _ in range(a.runs):
                w, c, records, log = evgen_rate(evgen, d, n, *opts)
                walls.append(w)
                cpus.append(c)
            rows.append((label, records, statistics.median(walls), min(walls), max(walls),
                         statistics.median(cpus)))
        if os.path.isdir("/dev/shm"):
            # the same on tmpfs: fsync is free there, which shows what the disk costs
            shm = tempfile.mkdtemp(prefix="airlock-logbench-", dir="/dev/shm")
            try:
                walls, cpus = [], []
                for _ in range(a.runs):
                    w, c, records, _log = evgen_rate(evgen, shm, n)
                    walls.append(w)
                    cpus.append(c)
                rows.append(("events only, log on tmpfs (/dev/shm)", records, statistics.median(walls),
                             min(walls), max(walls), statistics.median(cpus)))
            finally:
                shutil.rmtree(shm, ignore_errors=True)
        # verify a plain 1,000,000-event log
        w, c, vrecords, log = evgen_rate(evgen, d, n)
        size = log.stat().st_size
        vt = subprocess.run(["/usr/bin/time", "-f", "%e %M", str(airlock), "log", "verify", str(log)],
                            capture_output=True, text=True)
        assert vt.returncode == 0, vt.stdout + vt.stderr
        vsecs, vrss = vt.stderr.strip().splitlines()[-1].split()
        for p in Path(d).glob("b.jsonl*"):
            p.unlink()

        execs = {False: [], True: []}
        exec_loop(airlock, d, True, -1)  # warm-up
        for i in range(a.runs * 2):
            for with_log in ((False, True) if i % 2 == 0 else (True, False)):
                execs[with_log].append(exec_loop(airlock, d, with_log, i))
        e0, e1 = statistics.median(execs[False]), statistics.median(execs[True])
        exec_records = sum(1 for line in open(Path(d) / "exec-0.jsonl")
                           if '"type":"exec"' in line)
    finally:
        shutil.rmtree(d, ignore_errors=True)

    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    load = os.getloadavg()
    out = [BEGIN,
           f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by `bench/log_throughput.py` "
           f"(airlock at commit {commit}), {os.cpu_count()} CPUs, Linux {platform.release()}, "
           f"log on {fs}; load average at the end {load[0]:.1f}"
           + (" (other work was running: wall figures vary with it, CPU figures less)."
              if load[0] > (os.cpu_count() or 1) else "."),
           "",
           f"Appending (evgen, the real library; {a.runs} runs of 1,000,000 events each; checkpoint every "
           "1000 records and every 1 s, each Ed25519-signed with a ratcheted key and fsync'd):",
           "",
           "| workload | records | median records/s (wall) | min..max | records per CPU-second |",
           "|---|---:|---:|---:|---:|"]
    for label, records, med, lo, hi, cpu in rows:
        out.append(f"| {label} | {records:,} | {med:,.0f} | {lo:,.0f}..{hi:,.0f} | {cpu:,.0f} |")
    out += ["",
            f"`airlock log verify` of the 1,000,000-event log ({vrecords:,} records, {size / 1e6:.0f} MB): "
            f"{float(vsecs):.2f} s, peak RSS {int(vrss) / 1024:.1f} MiB (`/usr/bin/time -f %M`).",
            "",
            f"Exec-heavy workload (`sh` running `/bin/true` 1000 times in the sandbox, {a.runs * 2} "
            f"interleaved runs each; {exec_records} exec records per logged run):",
            "",
            "| | median s |",
            "|---|---:|",
            f"| no --log (records chained in memory only) | {e0:.3f} |",
            f"| --log FILE | {e1:.3f} |",
            f"| overhead | {100 * (e1 - e0) / e0:+.1f}% |",
            END]
    text = "\n".join(out)
    print(text)
    if not a.no_write:
        bm = REPO / "docs/benchmarks.md"
        cur = bm.read_text()
        if BEGIN in cur:
            cur = cur[:cur.index(BEGIN)] + text + cur[cur.index(END) + len(END):]
        else:
            cur = cur.rstrip("\n") + "\n\n## Event log\n\n" + text + "\n"
        bm.write_text(cur)


if __name__ == "__main__":
    main()
