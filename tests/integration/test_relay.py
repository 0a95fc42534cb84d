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


def _run_with_stalled_reader(airlock, log, *args, stderr_too=False):
    """Start airlock with a stdout pipe (and with stderr_too, stderr: 2>&1)
    that nobody ever reads; return (returncode or None if airlock did not
    end, stderr)."""
    r, w = os.pipe()
    p = subprocess.Popen(airlock.cmd("run", *airlock.extra, "--log", str(log), *args),
                         stdout=w, stderr=w if stderr_too else subprocess.PIPE,
                         stdin=subprocess.DEVNULL)
    os.close(w)
    try:
        try:
            # generous liveness bound, not a timing check: before the fix
            # airlock waited for the reader forever
            _, err = p.communicate(timeout=90)
            return p.returncode, err
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            return None, b""
    finally:
        os.close(r)  # only now does the reader go away


def test_airlock_ends_at_the_timeout_while_the_reader_stalls(airlock, world_tmp):
    """The timeout bounds the whole run: with a stdout reader that never
    reads, airlock itself ends (not only the sandbox), records teardown and
    run_end, and counts the output it could not deliver."""
    log = world_tmp / "run.jsonl"
    rc, err = _run_with_stalled_reader(airlock, log, "--timeout", "1s", "--", "/usr/bin/yes")
    assert rc == 124, (rc, err)
    recs = log_records(log)
    types = [x["type"] for x in recs]
    assert "teardown" in types, types
    end = recs[-1] if recs[-1]["type"] == "run_end" else [x for x in recs if x["type"] == "run_end"][-1]
    assert end["verdict"] == "timeout", end
    assert end["exit_status"] == 124, end
    assert end["output"]["undelivered_bytes"] > 0, end
    assert b"not delivered" in err, err


def test_stalled_reader_after_a_normal_exit_is_a_bounded_drain(airlock, world_tmp):
    """The workload ends on its own but its output (which fits the pipes and the relay buffer) is not read by
    a caller who never reads: airlock gives up after the documented drain
    bound, keeps the workload's status, and says how much was not delivered."""
    log = world_tmp / "run.jsonl"
    rc, err = _run_with_stalled_reader(airlock, log, "--", "/bin/sh", "-c",
                                       "head -c 120000 /dev/zero; exit 3")
    assert rc == 3, (rc, err)
    recs = log_records(log)
    end = [x for x in recs if x["type"] == "run_end"][-1]
    assert end["verdict"] == "exited" and end["exit_status"] == 3, end
    assert end["output"]["stdout_bytes"] == 120000, end
    assert 0 < end["output"]["undelivered_bytes"] < 120000, end


# ---- every kind of stdin ---------------------------------------------------

def _stdin_run(airlock, stdin, *cmd, **kw):
    # a timeout well above any honest run: a hang shows up as 124, not as a stuck test
    return subprocess.run(airlock.cmd("run", *airlock.extra, "-q", "--timeout", "30s", "--", *cmd),
                          stdin=stdin, capture_output=True, timeout=90, **kw)


def test_stdin_dev_null_reaches_eof(airlock):
    """</dev/null (CI, cron, ssh -n): epoll refuses character devices with
    EPERM; the relay must read them directly, not wait for the timeout."""
    with open("/dev/null", "rb") as f:
        p = _stdin_run(airlock, f, "/bin/cat")
    assert p.returncode == 0 and p.stdout == b"", p


def test_stdin_closed_reaches_eof(airlock):
    """airlock started with fd 0 closed: the workload sees an empty stdin."""
    p = subprocess.run(["/bin/sh", "-c", 'exec "$@" <&-', "sh",
                        *airlock.cmd("run", *airlock.extra, "-q", "--timeout", "30s", "--", "/bin/cat")],
                       capture_output=True, timeout=90)
    assert p.returncode == 0 and p.stdout == b"", p


def test_stdin_dev_zero_is_bounded_by_the_workload(airlock):
    """</dev/zero never ends: the workload takes what it reads and exits;
    a workload that does not read it is not held up."""
    with open("/dev/zero", "rb") as f:
        p = _stdin_run(airlock, f, "/bin/sh", "-c", "head -c 300000 | wc -c")
        assert p.returncode == 0 and p.stdout.strip() == b"300000", p
        f.seek(0)
        p = _stdin_run(airlock, f, "/bin/true")
        assert p.returncode == 0, p


def test_stdin_regular_file_is_relayed_completely(airlock, world_tmp):
    data = b"".join(b"line %d\n" % i for i in range(100000))
    path = world_tmp / "input.txt"
    path.write_bytes(data)
    with open(path, "rb") as f:
        p = _stdin_run(airlock, f, "/bin/cat")
    assert p.returncode == 0 and p.stdout == data, (p.returncode, len(p.stdout), p.stderr)


def test_stdin_pipe_is_relayed_completely(airlock):
    data = os.urandom(1 << 20)
    p = subprocess.run(airlock.cmd("run", *airlock.extra, "-q", "--timeout", "30s", "--", "/bin/cat"),
                       input=data, capture_output=True, timeout=90)
    assert p.returncode == 0 and p.stdout == data, (p.returncode, len(p.stdout), p.stderr)


def test_stdin_socket_is_relayed(airlock):
    import socket
    a, b = socket.socketpair()
    try:
        a.sendall(b"over a socket\n" * 100)
        a.shutdown(socket.SHUT_WR)
        p = _stdin_run(airlock, b, "/bin/cat")
    finally:
        a.close()
        b.close()
    assert p.returncode == 0 and p.stdout == b"over a socket\n" * 100, p


def test_stdin_terminal_never_reaches_the_workload(airlock):
    """A terminal as stdin is not relayed: the workload gets no terminal
    (no TIOCSTI, no job control on the caller's tty) and an empty stdin."""
    import pty
    m, s = pty.openpty()
    try:
        os.write(m, b"typed by the user\n")
        p = _stdin_run(airlock, s, "/bin/sh", "-c",
                       "if [ -t 0 ]; then echo tty; else echo notty; fi; cat; echo end")
    finally:
        os.close(m)
        os.close(s)
    assert p.returncode == 0 and p.stdout == b"notty\nend\n", p


def test_stdin_read_error_is_reported_not_hidden(airlock, world_tmp):
    """A stdin that cannot be read (a directory) ends the workload's input
    and the record says why."""
    log = world_tmp / "run.jsonl"
    fd = os.open("/", os.O_RDONLY | os.O_DIRECTORY)
    try:
        p = subprocess.run(airlock.cmd("run", *airlock.extra, "--timeout", "30s", "--log", str(log),
                                       "--", "/bin/cat"),
                           stdin=fd, capture_output=True, timeout=90)
    finally:
        os.close(fd)
    assert p.returncode == 0, p
    assert b"reading stdin" in p.stderr, p
    end = [x for x in log_records(log) if x["type"] == "run_end"][-1]
    assert end["output"].get("stdin_error"), end


def test_airlock_ends_at_the_timeout_with_2_to_1_into_a_stalled_reader(airlock, world_tmp):
    """stdout and stderr are the same full pipe (2>&1): airlock's own closing
    messages must not block on it either."""
    log = world_tmp / "run.jsonl"
    # only stdout is written by the workload: the full pipe is also airlock's stderr
    rc, _ = _run_with_stalled_reader(airlock, log, "--timeout", "1s", "--", "/usr/bin/yes",
                                     stderr_too=True)
    assert rc == 124, rc
    end = [x for x in log_records(log) if x["type"] == "run_end"][-1]
    assert end["verdict"] == "timeout" and end["output"]["undelivered_bytes"] > 0, end
