#!/usr/bin/env python3
"""Records per second shipped by airlock's sink over RELP to a local rsyslogd
(target: at least 50,000/s), with tcp:// and tls:// alongside for context.

Each run sends N generated records (shaped like event-log records, about
--size bytes of payload) through al_sink_send exactly as the supervisor does
(tests/unit/evidence/sinkdrive, SIGPIPE ignored as in the supervisor), then
al_sink_close, which for RELP waits for every acknowledgement -- so the time
covers delivery, not just writing into a socket. Runs alternate schemes;
the median is reported. rsyslog's output is counted after every run: a run
that lost records is an error, not a figure.

Two rsyslog configurations, both from tests/integration/rsyslog.py:
  queued  rsyslog's usual in-memory main queue (acknowledged once queued)
  durable Direct queues (acknowledged once written to the output file)

usage: bench/sink_relp.py [--records N] [--size BYTES] [--runs K]
       (AIRLOCK_BUILDDIR: build directory, default ./build)
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from rsyslog import Rsyslog, have_tls  # noqa: E402

BUILD = os.environ.get("AIRLOCK_BUILDDIR", os.path.join(ROOT, "build"))
SINKDRIVE = os.path.join(BUILD, "tests", "unit", "evidence", "sinkdrive")


def proc_cpu(pid):
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def one_run(rs, scheme, n, size):
    """records/s, client CPU us/record, rsyslogd CPU us/record"""
    before = len(rs.records())
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    srv0 = proc_cpu(rs.proc.pid)
    args = [SINKDRIVE, "--url", rs.url(scheme), "--run", "bench", "--generate", str(n),
            "--size", str(size), "--sigpipe-ignored"]
    if scheme == "tls":
        args += ["--ca", rs.ca]
    p = subprocess.run(args, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit("sinkdrive %s failed (%d): %s" % (scheme, p.returncode, p.stderr))
    stats = json.loads(p.stderr.strip().splitlines()[-1])
    # Delivered means in rsyslog's output: wait for the file to catch up.
    deadline = time.monotonic() + 30
    while len(rs.records()) - before < n and time.monotonic() < deadline:
        time.sleep(0.05)
    got = len(rs.records()) - before
    if got != n:
        raise SystemExit("%s: rsyslog wrote %d of %d records" % (scheme, got, n))
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cli = (ru1.ru_utime - ru0.ru_utime + ru1.ru_stime - ru0.ru_stime) / n * 1e6
    srv = (proc_cpu(rs.proc.pid) - srv0) / n * 1e6
    return n / stats["seconds"], cli, srv


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=100000)
    ap.add_argument("--size", type=int, default=200)
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    if not os.path.exists(SINKDRIVE):
        raise SystemExit("build first: %s missing" % SINKDRIVE)
    schemes = ["relp", "tcp"] + (["tls"] if have_tls() else [])
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    rsv = subprocess.run(["rsyslogd", "-v"], capture_output=True, text=True).stdout.split("(")[0]
    print("measured %s by bench/sink_relp.py (airlock at %s, %s), load average before: %s"
          % (time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), commit, rsv.strip(),
             open("/proc/loadavg").read().split()[0]))
    print("sink throughput: %d records of ~%d bytes per run, %d runs, median records/s"
          % (a.records, a.size + 120, a.runs))
    print("records/s (median); in brackets CPU us per record: airlock's sender / rsyslogd")
    print("| rsyslog config | " + " | ".join(schemes) + " |")
    print("|---|" + "---:|" * len(schemes))
    for durable in (False, True):
        rs = Rsyslog(durable=durable)
        rs.start()
        try:
            rates = {s: [] for s in schemes}
            for _ in range(a.runs):
                for s in schemes:
                    rates[s].append(one_run(rs, s, a.records, a.size))
        finally:
            rs.cleanup()
        cells = []
        for s in schemes:
            med = lambda i: statistics.median(r[i] for r in rates[s])  # noqa: E731
            cells.append("%.0f (%.1f / %.1f)" % (med(0), med(1), med(2)))
        print("| %s | " % ("durable" if durable else "queued") + " | ".join(cells) + " |")
        sys.stdout.flush()
    print("load average after: %s" % open("/proc/loadavg").read().split()[0])


if __name__ == "__main__":
    main()
