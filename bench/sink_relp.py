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
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from rsyslog import Rsyslog, have_tls  # noqa: E402

BUILD = os.environ.get("AIRLOCK_BUILDDIR", os.path.join(ROOT, "build"))
SINKDRIVE = os.path.join(BUILD, "tests", "unit", "evidence", "sinkdrive")


def one_run(rs, scheme, n, size):
    before = len(rs.records())
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
    return n / stats["seconds"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=100000)
    ap.add_argument("--size", type=int, default=200)
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    if not os.path.exists(SINKDRIVE):
        raise SystemExit("build first: %s missing" % SINKDRIVE)
    schemes = ["relp", "tcp"] + (["tls"] if have_tls() else [])
    print("sink throughput: %d records of ~%d bytes per run, %d runs, median records/s"
          % (a.records, a.size + 120, a.runs))
    print("| rsyslog config | " + " | ".join(schemes) + " |")
    print("|---|" + "---|" * len(schemes))
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
        print("| %s | " % ("durable" if durable else "queued")
              + " | ".join("%.0f" % statistics.median(rates[s]) for s in schemes) + " |")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
