"""The output relay never lets the caller's side stall the supervisor: with a
reader that stops reading, the workload is held back (back-pressure), and
the timeout still kills the sandbox on time."""
import json
import os
import subprocess
import time

from conftest import kill_all, log_records, marker, pids_with, wait_until


def test_timeout_fires_while_the_reader_stalls(airlock, world_tmp):
    log = world_tmp / "run.jsonl"
    mark = marker()
    r, w = os.pipe()  # nobody reads r until the end: the pipe fills, writes would block
    try:
        t0 = time.monotonic()
        p = subprocess.Popen(airlock.cmd("run", *airlock.extra, "--timeout", "1s", "--log", str(log),
                                         "--", "/usr/bin/yes", "--", mark),
                             stdout=w, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        os.close(w)
        w = -1
        # the supervisor's own argv holds the marker too: look at the rest
        inside = lambda: pids_with(mark, exclude=(p.pid,))
        assert wait_until(inside, 10), "the workload never started"
        # the workload must die at the timeout although airlock's stdout is full
        gone = wait_until(lambda: not inside(), 15)
        killed_after = time.monotonic() - t0
        os.close(r)  # now let airlock finish
        r = -1
        p.wait(timeout=30)
        assert gone, "the workload outlived its timeout while the reader stalled"
        assert killed_after < 10, killed_after
        end = [x for x in log_records(log) if x["type"] == "run_end"][-1]
        assert end["verdict"] == "timeout", end
        assert p.returncode == 124, p.returncode
    finally:
        for fd in (r, w):
            if fd >= 0:
                os.close(fd)
        kill_all(pids_with(mark))


def test_large_output_is_relayed_completely_to_a_slow_reader(airlock):
    """Back-pressure loses nothing: 8 MiB through a reader that sips."""
    p = subprocess.Popen(airlock.cmd("run", *airlock.extra, "--", "/bin/sh", "-c",
                                     "head -c 8388608 /dev/zero | tr '\\0' 'a'"),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    got = 0
    while True:
        chunk = p.stdout.read(65536)
        if not chunk:
            break
        assert set(chunk) == {ord("a")}
        got += len(chunk)
        time.sleep(0.001)
    assert p.wait(timeout=60) == 0
    assert got == 8388608


def test_callers_stdin_flags_are_left_alone(airlock):
    """Relaying stdin must not change the caller's open file description
    (O_NONBLOCK there would break the next reader of the same pipe)."""
    r, w = os.pipe()
    try:
        os.write(w, b"input\n")
        before = __import__("fcntl").fcntl(r, __import__("fcntl").F_GETFL)
        p = subprocess.run(airlock.cmd("run", *airlock.extra, "--", "/usr/bin/head", "-c", "3"),
                           stdin=r, capture_output=True, timeout=60)
        after = __import__("fcntl").fcntl(r, __import__("fcntl").F_GETFL)
        assert p.returncode == 0 and p.stdout == b"inp", p
        assert after == before and not after & os.O_NONBLOCK, (before, after)
    finally:
        os.close(r)
        os.close(w)
