#!/usr/bin/env python3
"""Canary kill latency (issue 10, docs/benchmarks.md): from the workload's
open() of a canary to the last process of the sandbox gone, with 1 and with
500 processes inside, over N trials (default 200): p50 and p99.

The workload (python3 from the image) forks the extra processes, waits
until they all exist, writes CLOCK_MONOTONIC just before open() to stdout,
then opens the canary. The sandbox's time namespace has no offset, so that
clock is the supervisor's. The kill record gives when the supervisor saw
the event (event_mono_ns) and how long until the last process was gone
(elapsed_ns): open->gone = event_mono_ns + elapsed_ns - t_open.

  python3 bench/canary_kill.py [--airlock build/src/cli/airlock] [--trials 200]
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile
from pathlib import Path

WORKLOAD = r"""
import os, sys, time
n = int(sys.argv[1])
for _ in range(n - 1):
    if os.fork() == 0:
        time.sleep(600)
        os._exit(0)
# all exist now (fork returned in the parent for each)
t = time.monotonic_ns()
os.write(1, b"T %d\n" % t)
open("/tmp/canary.csv").read()
time.sleep(5)
"""


def pct(xs, p):
    xs = sorted(xs)
    k = min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))
    return xs[k]


def trial(airlock, d, i, n, extra):
    log = Path(d) / f"k{n}-{i}.jsonl"
    spec = Path(d) / "spec.yaml"
    spec.write_text("canaries:\n  - {kind: file, path: /tmp/canary.csv}\n"
                    f"limits: {{pids: {n + 64}}}\n")
    cp = subprocess.run([airlock, "run", *extra, "--log", str(log), "--spec", str(spec), "--",
                         "/usr/bin/python3", "-c", WORKLOAD, str(n)],
                        capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
    recs = [json.loads(l) for l in log.read_text().splitlines() if l.strip()]
    kill = [r for r in recs if r["type"] == "kill"]
    out = (Path(str(log) + ".stdout").read_bytes() if Path(str(log) + ".stdout").exists()
           else cp.stdout)
    t_open = [int(l.split()[1]) for l in out.decode().splitlines() if l.startswith("T ")]
    for p in log.parent.glob(log.name + "*"):
        p.unlink()
    if cp.returncode != 123 or not kill or not t_open:
        return None
    k = kill[0]
    return ((k["event_mono_ns"] + k["elapsed_ns"] - t_open[0]), k["elapsed_ns"], k["method"],
            k.get("signal_ns", 0), k["event_mono_ns"] - t_open[0])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--airlock", default="build/src/cli/airlock")
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--procs", default="1,500")
    ap.add_argument("--extra", default="", help="extra airlock run options")
    a = ap.parse_args()
    extra = a.extra.split()
    with tempfile.TemporaryDirectory() as d:
        for n in map(int, a.procs.split(",")):
            tot, sup, sig, seen, methods, failed = [], [], [], [], set(), 0
            for i in range(a.trials):
                r = trial(os.path.abspath(a.airlock), d, i, n, extra)
                if r is None:
                    failed += 1
                    continue
                tot.append(r[0] / 1e6)
                sup.append(r[1] / 1e6)
                sig.append(r[3] / 1e6)
                seen.append(r[4] / 1e6)
                methods.add(r[2])
            if not tot:
                print(f"{n} process(es): every trial failed")
                continue
            print(f"{n:4d} process(es), {len(tot)} trials ({failed} failed), kill by "
                  f"{','.join(sorted(methods))}:\n"
                  f"     open() -> last process gone: p50 {pct(tot, 50):.2f} ms  "
                  f"p99 {pct(tot, 99):.2f} ms  max {max(tot):.2f} ms\n"
                  f"     supervisor saw it -> gone:   p50 {pct(sup, 50):.2f} ms  "
                  f"p99 {pct(sup, 99):.2f} ms  (mean {statistics.mean(tot):.2f} ms)\n"
                  f"     open() -> supervisor saw it: p50 {pct(seen, 50):.2f} ms  "
                  f"p99 {pct(seen, 99):.2f} ms\n"
                  f"     saw it -> SIGKILL sent:      p50 {pct(sig, 50):.3f} ms  "
                  f"p99 {pct(sig, 99):.3f} ms")


if __name__ == "__main__":
    main()
