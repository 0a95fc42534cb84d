"""The tamper-evident event log, driven as a user would: `airlock keygen`,
`airlock log verify`, `airlock log show` on logs written by evgen (a small
generator linking the real evidence library) and by real `airlock run`s,
including a supervisor killed mid-run.

Exit statuses of `airlock log verify` (docs/events.md)."""
import hashlib
import json
import os
import resource
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import REPO, log_records, wait_until

OK, MALFORMED, EDITED, SEQUENCE, TRUNCATED, BAD_SIG, WRONG_KEY, USAGE = 0, 1, 2, 3, 4, 5, 6, 64
STREAM_MISSING, WRONG_RUN = 7, 8


@pytest.fixture(scope="session")
def evgen(airlock_bin):
    p = os.environ.get("AIRLOCK_EVGEN")
    p = Path(p) if p else airlock_bin.parents[2] / "tests" / "unit" / "evidence" / "evgen"
    if not p.is_file():
        pytest.fail(f"evgen not found at {p} (set AIRLOCK_EVGEN)")
    return p


def gen(evgen, path, n, *opts):
    cp = subprocess.run([str(evgen), *map(str, opts), str(path), str(n)], capture_output=True,
                        text=True, timeout=300)
    return cp


def make(evgen, path, n=10, *opts):
    cp = gen(evgen, path, n, "--every", "4", "--output", *opts)
    assert cp.returncode == 0, cp.stderr
    return cp.stdout.split()[1]  # "pubkey HEX"


def verify(airlock_bin, path, *opts):
    return subprocess.run([str(airlock_bin), "log", "verify", str(path), *map(str, opts)],
                          capture_output=True, text=True, timeout=300)


def lines_of(path):
    return Path(path).read_bytes().split(b"\n")[:-1]


def write_lines(path, lines):
    Path(path).write_bytes(b"".join(l + b"\n" for l in lines))


def checkpoint_lines(lines):
    return [i for i, l in enumerate(lines) if json.loads(l)["type"] == "checkpoint"]


# --- keygen -----------------------------------------------------------------

def test_keygen_writes_private_key_and_refuses_overwrite(airlock_bin, tmp_path):
    prefix = tmp_path / "signer"
    cp = subprocess.run([str(airlock_bin), "keygen", "-o", str(prefix)], capture_output=True,
                        text=True)
    assert cp.returncode == 0, cp.stderr
    key, pub = Path(f"{prefix}.key"), Path(f"{prefix}.pub")
    assert key.stat().st_mode & 0o777 == 0o600
    pubhex = pub.read_text().strip()
    assert len(pubhex) == 64 and int(pubhex, 16) >= 0
    assert pubhex in cp.stdout
    before = key.read_bytes()
    cp = subprocess.run([str(airlock_bin), "keygen", "-o", str(prefix)], capture_output=True,
                        text=True)
    assert cp.returncode == 1  # docs/exit-codes.md: refused
    assert "refusing to overwrite" in cp.stderr
    assert key.read_bytes() == before


def test_signed_with_keygen_key(airlock_bin, evgen, tmp_path):
    prefix = tmp_path / "k"
    subprocess.run([str(airlock_bin), "keygen", "-o", str(prefix)], check=True,
                   capture_output=True)
    log = tmp_path / "run.jsonl"
    pub = make(evgen, log, 20, "--key", f"{prefix}.key")
    assert pub == Path(f"{prefix}.pub").read_text().strip()
    for k in (f"{prefix}.pub", pub):
        r = verify(airlock_bin, log, "--pubkey", k)
        assert r.returncode == OK, r.stdout + r.stderr
        assert "the key given with --pubkey" in r.stdout
    # another key: the log names the right run but not that signer
    other = tmp_path / "other"
    subprocess.run([str(airlock_bin), "keygen", "-o", str(other)], check=True,
                   capture_output=True)
    r = verify(airlock_bin, log, "--pubkey", f"{other}.pub")
    assert r.returncode == WRONG_KEY, r.stdout
    assert "line 1 " in r.stdout


# --- verify: each class of tampering ----------------------------------------

def test_intact_log_verifies(airlock_bin, evgen, tmp_path):
    log = tmp_path / "run.jsonl"
    pub = make(evgen, log)
    r = verify(airlock_bin, log)
    assert r.returncode == OK, r.stdout
    n = len(lines_of(log))
    assert r.stdout.startswith(f"OK: {log}: {n} records")
    assert pub in r.stdout
    # "-" reads the log from stdin
    with open(log, "rb") as f:
        r = subprocess.run([str(airlock_bin), "log", "verify", "-", "--pubkey", pub], stdin=f,
                           capture_output=True, text=True)
    assert r.returncode == OK, r.stdout


def test_flipped_byte_is_edited(airlock_bin, evgen, tmp_path):
    log = tmp_path / "run.jsonl"
    make(evgen, log)
    lines = lines_of(log)
    i = next(i for i, l in enumerate(lines) if b"\"syscall\":\"ptrace\"" in l)
    lines[i] = lines[i].replace(b"ptrace", b"ptracf")
    write_lines(log, lines)
    r = verify(airlock_bin, log)
    assert r.returncode == EDITED, r.stdout
    assert f"line {i + 1} (seq {i})" in r.stdout


def test_deleted_line_is_a_gap(airlock_bin, evgen, tmp_path):
    log = tmp_path / "run.jsonl"
    make(evgen, log)
    lines = lines_of(log)
    del lines[3]
    write_lines(log, lines)
    r = verify(airlock_bin, log)
    assert r.returncode == SEQUENCE, r.stdout
    assert "line 4 (seq 4)" in r.stdout and "where 3 was expected" in r.stdout


def test_swapped_lines_are_reordered(airlock_bin, evgen, tmp_path):
    log = tmp_path / "run.jsonl"
    make(evgen, log)
    lines = lines_of(log)
    lines[2], lines[3] = lines[3], lines[2]
    write_lines(log, lines)
    r = verify(airlock_bin, log)
    assert r.returncode == SEQUENCE, r.stdout
    assert "line 3 " in r.stdout


def test_truncated_log_reports_verified_prefix(airlock_bin, evgen, tmp_path):
    log = tmp_path / "run.jsonl"
    make(evgen, log, 20)
    lines = lines_of(log)
    cps = checkpoint_lines(lines)
    assert len(cps) >= 3
    keep = cps[1] + 3
    write_lines(log, lines[:keep])
    r = verify(airlock_bin, log)
    assert r.returncode == TRUNCATED, r.stdout
    assert f"lines 1-{cps[1] + 1} (seq 0-{cps[1]}) verify up to the checkpoint" in r.stdout
    assert "2 record(s) after it" in r.stdout
    # a torn last line (crash mid-write) is truncation too, not malformation
    log.write_bytes(b"".join(l + b"\n" for l in lines[:keep]) + lines[keep][:40])
    r = verify(airlock_bin, log)
    assert r.returncode == TRUNCATED, r.stdout
    assert "torn" in r.stdout


def test_bad_signature(airlock_bin, evgen, tmp_path):
    log = tmp_path / "run.jsonl"
    make(evgen, log)
    lines = lines_of(log)
    c = checkpoint_lines(lines)[0]
    rec = json.loads(lines[c])
    sig = rec["sig"]
    bad = ("0" if sig[0] != "0" else "1") + sig[1:]
    lines[c] = lines[c].replace(sig.encode(), bad.encode())
    write_lines(log, lines)
    r = verify(airlock_bin, log)
    assert r.returncode == BAD_SIG, r.stdout
    assert f"line {c + 1} " in r.stdout


def test_malformed_and_usage(airlock_bin, evgen, tmp_path):
    log = tmp_path / "run.jsonl"
    make(evgen, log)
    lines = lines_of(log)
    lines.insert(2, b"\x1b]0;pwned\x07 not json")
    write_lines(log, lines)
    r = verify(airlock_bin, log)
    assert r.returncode == MALFORMED, r.stdout
    assert "line 3: not a JSON object" in r.stdout
    assert "\x1b" not in r.stdout
    assert verify(airlock_bin, tmp_path / "missing.jsonl").returncode == USAGE
    assert verify(airlock_bin, log, "--pubkey", "nothex").returncode == USAGE
    cp = subprocess.run([str(airlock_bin), "log", "verify"], capture_output=True)
    assert cp.returncode == USAGE


def test_killed_writer_leaves_verifiable_prefix(airlock_bin, evgen, tmp_path):
    """evgen dies by SIGKILL after 30 records, as a killed supervisor would:
    everything up to its last checkpoint still verifies."""
    log = tmp_path / "run.jsonl"
    cp = gen(evgen, log, 100, "--every", "8", "--kill-after", "30")
    assert cp.returncode == -signal.SIGKILL
    lines = lines_of(log)
    cps = checkpoint_lines(lines)
    assert cps, "no checkpoint before the kill"
    r = verify(airlock_bin, log)
    assert r.returncode == TRUNCATED, r.stdout
    assert f"up to the checkpoint at line {cps[-1] + 1}" in r.stdout


def test_endless_line_is_rejected_at_the_limit(airlock_bin, tmp_path):
    """A line over the 1 MiB record limit is judged when the limit is
    passed, not read to its end: /dev/zero (one endless line) returns, and
    so does a 200 MiB single line in a regular file (timeouts are a guard
    against the old hang, not a measurement)."""
    r = subprocess.run([str(airlock_bin), "log", "verify", "/dev/zero"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == MALFORMED, r.stdout + r.stderr
    assert "longer than" in r.stdout
    cat = subprocess.Popen(["cat", "/dev/zero"], stdout=subprocess.PIPE)
    try:
        r = subprocess.run([str(airlock_bin), "log", "verify", "-"], stdin=cat.stdout,
                           capture_output=True, text=True, timeout=60)
    finally:
        cat.kill()
        cat.wait()
    assert r.returncode == MALFORMED, r.stdout + r.stderr
    big = tmp_path / "big.jsonl"
    with open(big, "wb") as f:
        f.truncate(200 << 20)  # sparse: 200 MiB of NULs, no newline
    r = verify(airlock_bin, big)
    assert r.returncode == MALFORMED, r.stdout
    assert "line 1: line longer than" in r.stdout


def test_fifo_in_place_of_a_log_does_not_hang(airlock_bin, tmp_path):
    fifo = tmp_path / "run.jsonl"
    os.mkfifo(fifo)
    r = subprocess.run([str(airlock_bin), "log", "verify", str(fifo)], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == USAGE, r.stdout + r.stderr
    assert "not a file" in r.stderr


def test_stream_files_missing_or_replaced_fail(airlock_bin, evgen, tmp_path):
    """A stream file the log names is evidence: gone, a symlink, a FIFO or a
    directory fails verification (7), and a FIFO is never opened for a
    blocking read. --no-streams checks the log alone, and says so."""
    log = tmp_path / "run.jsonl"
    make(evgen, log)
    assert verify(airlock_bin, log).returncode == OK
    out = Path(f"{log}.stdout")
    keep = tmp_path / "kept"
    out.rename(keep)
    for plant in (lambda: None, lambda: out.symlink_to(keep), lambda: os.mkfifo(out),
                  lambda: out.mkdir()):
        plant()
        r = subprocess.run([str(airlock_bin), "log", "verify", str(log)], capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == STREAM_MISSING, r.stdout
        assert "run.jsonl.stdout" in r.stdout
        if out.is_dir() and not out.is_symlink():
            out.rmdir()
        elif out.exists() or out.is_symlink():
            out.unlink()
    r = verify(airlock_bin, log, "--no-streams")
    assert r.returncode == OK, r.stdout
    assert "not checked (--no-streams)" in r.stdout
    keep.rename(out)
    assert verify(airlock_bin, log).returncode == OK
    # a stream file grown to 1 TiB (sparse) is judged by its length, not read
    data = out.read_bytes()
    with open(out, "r+b") as f:
        f.truncate(1 << 40)
    r = subprocess.run([str(airlock_bin), "log", "verify", str(log)], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == EDITED, r.stdout
    out.write_bytes(data)


def test_substituted_log_of_another_run_fails_with_run_and_key(airlock_bin, evgen, tmp_path):
    """Another run's valid log in place of this one verifies on its own (it
    is a valid log); --run (the id this run was given) and --pubkey (this
    run's key) each refuse it."""
    mine, other = tmp_path / "mine.jsonl", tmp_path / "other.jsonl"
    key = make(evgen, mine, 10, "--run", "run-mine")
    make(evgen, other, 10, "--run", "run-other")
    assert verify(airlock_bin, other).returncode == OK
    r = verify(airlock_bin, other, "--run", "run-mine")
    assert r.returncode == WRONG_RUN, r.stdout
    assert "run-other" in r.stdout and "run-mine" in r.stdout
    assert verify(airlock_bin, other, "--pubkey", key).returncode == WRONG_KEY
    r = verify(airlock_bin, mine, "--run", "run-mine", "--pubkey", key)
    assert r.returncode == OK, r.stdout
    assert "as expected" in r.stdout
    assert verify(airlock_bin, mine, "--run", "bad/id").returncode == USAGE
    # host facts: run_start.host must be the one expected
    assert verify(airlock_bin, mine, "--host", "testhost").returncode == OK
    r = verify(airlock_bin, mine, "--host", "elsewhere")
    assert r.returncode == WRONG_RUN and "elsewhere" in r.stdout, r.stdout


# --- show ---------------------------------------------------------------------

def test_show_is_readable_and_safe(airlock_bin, evgen, tmp_path):
    log = tmp_path / "run.jsonl"
    make(evgen, log, 8)
    with open(log, "ab") as f:
        f.write(b"garbage \x1b[2J\xff\n{\"type\":\"future_thing\",\"x\":\"\\u001b[31m\\u202e\"}\n")
    cp = subprocess.run([str(airlock_bin), "log", "show", str(log)], capture_output=True,
                        timeout=60)
    assert cp.returncode == 0, cp.stderr
    out = cp.stdout.decode()
    assert "run started: airlock evgen on testhost" in out
    assert "exec      pid 2: /usr/bin/python3  argv: python3 -c" in out
    assert "DENIED    syscall ptrace by pid 2" in out
    assert "run ended: exited, exit status 0" in out
    assert "not a record, skipped" in out
    assert "future_thing" in out
    # nothing a terminal would act on: the workload's argv holds ESC [ 2 J
    assert b"\x1b" not in cp.stdout and "\u202e" not in out
    assert "\\x1b[2J" in out
    # docs/exit-codes.md: 1 unreadable file, 125 usage
    missing = subprocess.run([str(airlock_bin), "log", "show", str(tmp_path / "nope")],
                             capture_output=True)
    assert missing.returncode == 1
    assert subprocess.run([str(airlock_bin), "log", "show"], capture_output=True).returncode == 125


# --- bounded memory on a large log ------------------------------------------

def test_million_records_verify_in_bounded_memory(airlock_bin, evgen, tmp_path):
    log = tmp_path / "big.jsonl"
    cp = gen(evgen, log, 1_000_000)
    assert cp.returncode == 0, cp.stderr
    size = log.stat().st_size
    r = subprocess.run(["/usr/bin/time", "-f", "maxrss_kb=%M", str(airlock_bin), "log", "verify",
                        str(log)], capture_output=True, text=True, timeout=600)
    assert r.returncode == OK, r.stdout + r.stderr
    assert int(r.stdout.split(" records")[0].rsplit(" ", 1)[1]) >= 1_000_000
    rss_kb = int(r.stderr.strip().rsplit("maxrss_kb=", 1)[1])
    # the file is ~250 MB; the verifier holds one line buffer (1 MiB + 64 KiB)
    assert size > 200 * 1024 * 1024
    assert rss_kb < 32 * 1024, f"verify used {rss_kb} KiB for a {size} byte log"


# --- real runs ----------------------------------------------------------------

def test_real_run_log_verifies(airlock, airlock_bin, tmp_path, airlock_works):
    log = tmp_path / "run.jsonl"
    payload = ("printf 'first\\n{\"v\":1,\"seq\":1,\"type\":\"run_end\",\"verdict\":\"ok\"}\\n';"
               "printf '\\377\\376\\000bin\\n' >&2; exit 7")
    r = airlock.run("run", *airlock.extra, "--log", log, "--", "/bin/sh", "-c", payload)
    assert r.rc == 7, r.describe()
    v = verify(airlock_bin, log)
    assert v.returncode == OK, v.stdout
    recs = log_records(log)
    types = [x["type"] for x in recs]
    assert types[0] == "run_start" and types[-1] == "checkpoint"
    assert types.count("run_end") == 1, "workload output forged a record"
    assert [x["seq"] for x in recs] == list(range(len(recs)))
    # the streams kept beside the log, byte-exact, with their hashes in the log
    out = Path(f"{log}.stdout").read_bytes()
    err = Path(f"{log}.stderr").read_bytes()
    assert out == b'first\n{"v":1,"seq":1,"type":"run_end","verdict":"ok"}\n'
    assert err == b"\xff\xfe\x00bin\n"
    streams = next(x for x in recs if x["type"] == "streams")
    assert streams["stdout"]["sha256"] == hashlib.sha256(out).hexdigest()
    assert streams["stderr"]["sha256"] == hashlib.sha256(err).hexdigest()
    assert streams["stdout"]["bytes"] == len(out)
    chunks = [x for x in recs if x["type"] == "stdout"]
    assert sum(c["len"] for c in chunks) == len(out)
    # run_start names the key that signed the checkpoints
    start = recs[0]
    v = verify(airlock_bin, log, "--pubkey", start["pubkey"])
    assert v.returncode == OK, v.stdout
    assert "output streams: 2 file(s) match the log" in v.stdout
    # the stream files are evidence too: a changed byte is an edit
    Path(f"{log}.stderr").write_bytes(b"\xff\xfe\x00bim\n")
    v = verify(airlock_bin, log)
    assert v.returncode == EDITED, v.stdout
    assert "run.jsonl.stderr" in v.stdout


def test_killed_supervisor_prefix_verifies(airlock, airlock_bin, tmp_path, airlock_works):
    log = tmp_path / "run.jsonl"
    p = airlock.popen("run", *airlock.extra, "--log", log, "--", "/bin/sh", "-c",
                      "i=0; while :; do echo tick $i; i=$((i+1)); sleep 0.02; done")
    try:
        # time-based checkpoints (1 s by default) over the output's chunk records
        assert wait_until(lambda: log.exists() and log.read_bytes().count(b'"type":"checkpoint"') >= 2,
                          timeout=20), "no checkpoint appeared in the log"
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=30)
    r = verify(airlock_bin, log)
    assert r.returncode == TRUNCATED, r.stdout
    assert "ends without a final checkpoint" in r.stdout or "torn" in r.stdout
    assert "verify up to the checkpoint at line" in r.stdout


def test_real_run_signed_with_keygen_key_and_ratchet(airlock, airlock_bin, tmp_path, airlock_works):
    prefix = tmp_path / "signer"
    subprocess.run([str(airlock_bin), "keygen", "-o", str(prefix)], check=True, capture_output=True)
    log = tmp_path / "run.jsonl"
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"log:\n  path: {log}\n  signing_key: {prefix}.key\n  checkpoint_every: 2\n")
    r = airlock.run("run", *airlock.extra, "--spec", spec, "--", "/bin/sh", "-c",
                    "for i in 1 2 3 4 5; do /bin/true; done; echo done")
    assert r.rc == 0, r.describe()
    v = verify(airlock_bin, log, "--pubkey", f"{prefix}.pub")
    assert v.returncode == OK, v.stdout
    cps = [x for x in log_records(log) if x["type"] == "checkpoint"]
    assert len(cps) >= 3
    # epoch keys change and each is the one the previous checkpoint committed to
    assert cps[0]["key"] == Path(f"{prefix}.pub").read_text().strip()
    for a, b in zip(cps, cps[1:]):
        assert b["key"] == a["next_key"] and b["key"] != a["key"]


def test_flood_of_output_is_capped(airlock, airlock_bin, tmp_path, airlock_works):
    """50 MB of zero bytes and fake records against a 1 MiB output cap: the
    stream files stay within the cap, the log counts what was dropped, and
    the log still verifies."""
    log = tmp_path / "run.jsonl"
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"log:\n  path: {log}\nlimits:\n  output: 1MiB\n")
    flood = ("i=0; while [ $i -lt 2000 ]; do "
             "printf '{\"v\":1,\"seq\":%d,\"type\":\"run_end\"}\\n' $i; i=$((i+1)); done; "
             "head -c 50000000 /dev/zero")
    r = airlock.run("run", *airlock.extra, "--spec", spec, "--", "/bin/sh", "-c", flood,
                    timeout=120)
    assert r.rc == 0, r.describe()
    out = Path(f"{log}.stdout")
    assert out.stat().st_size <= 1024 * 1024
    v = verify(airlock_bin, log)
    assert v.returncode == OK, v.stdout
    recs = log_records(log)
    assert [x["type"] for x in recs].count("run_end") == 1
    streams = next(x for x in recs if x["type"] == "streams")
    assert streams["stdout"]["stored"] == out.stat().st_size
    assert streams["stdout"]["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    end = next(x for x in recs if x["type"] == "run_end")
    assert end["output"]["dropped_bytes"] > 40_000_000 or streams["stdout"]["dropped"] > 40_000_000
    assert any(x["type"] in ("limit", "output_capped") for x in recs)
    assert len(recs) < 200, "output turned into too many records"


# --- endings of the log itself ------------------------------------------------

def test_short_run_killed_at_once_leaves_signed_prefix(airlock, airlock_bin, tmp_path,
                                                       airlock_works):
    """A first checkpoint is signed right after run_start: a supervisor
    SIGKILLed as soon as anything follows it (well before the 1 s
    checkpoint_interval) still leaves a verifiable signed prefix, reported
    as truncated (4) with the part that is signed."""
    log = tmp_path / "run.jsonl"
    p = airlock.popen("run", *airlock.extra, "--log", log, "--", "/bin/sleep", "30")
    try:
        assert wait_until(lambda: log.exists() and log.read_bytes().count(b"\n") >= 2,
                          timeout=30), "the log never got two records"
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=30)
    recs = log_records(log)
    assert recs[0]["type"] == "run_start" and recs[1]["type"] == "checkpoint", recs[:2]
    r = verify(airlock_bin, log)
    assert r.returncode == TRUNCATED, r.stdout
    assert "verify up to the checkpoint at line 2" in r.stdout, r.stdout
    r = verify(airlock_bin, log, "--pubkey", recs[0]["pubkey"], "--run", recs[0]["run"])
    assert r.returncode == TRUNCATED, r.stdout


def test_log_directory_removed_mid_run_fails_closed(airlock, tmp_path, airlock_works):
    """Records written to a log nobody can find are no log: removing the
    log's directory mid-run is noticed (on the supervisor's tick) and kills
    the run with the reason, instead of exit 0 and no log."""
    d = tmp_path / "logs"
    d.mkdir()
    log = d / "run.jsonl"
    p = airlock.popen("run", *airlock.extra, "--log", log, "--", "/bin/sh", "-c",
                      "sleep 20; echo finished")
    try:
        assert wait_until(lambda: log.exists() and log.stat().st_size > 0, timeout=30)
        for f in d.iterdir():
            f.unlink()
        d.rmdir()
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 125, (p.returncode, err)
    assert b"no longer reachable by its path" in err, err
    assert b"finished" not in out


def test_log_size_cap_kills_an_exec_loop(airlock, airlock_bin, tmp_path, airlock_works):
    """log.max_size bounds the log: an exec loop fills 1 MiB, a limit record
    {kind: log_size} says so, the run is killed by policy (123), the final
    records still fit, the file stays within the cap, and it verifies."""
    log = tmp_path / "run.jsonl"
    r = airlock.run("run", *airlock.extra, "--log", log, "--log-max-size", "1MiB", "--",
                    "/bin/sh", "-c", "while :; do /bin/true; done", timeout=120)
    assert r.rc == 123, r.describe()
    assert log.stat().st_size <= 1 << 20
    recs = log_records(log)
    lim = [x for x in recs if x["type"] == "limit" and x.get("kind") == "log_size"]
    assert len(lim) == 1 and lim[0]["limit_bytes"] == 1 << 20 and lim[0]["action"] == "kill"
    end = [x for x in recs if x["type"] == "run_end"]
    assert end and end[0]["verdict"] == "policy" and end[0]["exit_status"] == 123, end
    assert "max_size" in end[0].get("reason", "")
    v = verify(airlock_bin, log)
    assert v.returncode == OK, v.stdout


def test_full_disk_names_the_error(airlock, airlock_bin, tmp_path, airlock_works):
    """The log's first failure (ENOSPC on a 64 KiB tmpfs) is the message
    the user sees, with the path -- not 'failed earlier'."""
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a small tmpfs in a private mount namespace")
    if not shutil.which("unshare"):
        pytest.skip("unshare(1) not installed")
    d = tmp_path / "tiny"
    d.mkdir()
    script = (f"mount -t tmpfs -o size=64k tmpfs {d} && "
              f"exec {airlock_bin} run --log {d}/run.jsonl -- /bin/sh -c "
              "'head -c 400000 /dev/zero; sleep 5'")
    cp = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                        capture_output=True, timeout=120)
    assert cp.returncode == 125, cp.stderr
    assert b"No space left on device" in cp.stderr, cp.stderr
    assert f"{d}/run.jsonl".encode() in cp.stderr, cp.stderr
    assert b"failed earlier" not in cp.stderr, cp.stderr


def test_log_push_refuses_hostile_spools(airlock_bin, tmp_path):
    """`airlock log push` reads a file an operator points it at: a symlink,
    a FIFO, a torn entry, or a spool a running airlock still holds (flock)
    is refused before anything is sent -- the sink URL here has no server,
    so any attempt to connect would show as a connection error instead."""
    import fcntl
    import struct

    def push(p):
        return subprocess.run([str(airlock_bin), "log", "push", str(p), "--sink",
                               "relp://127.0.0.1:9"], capture_output=True, text=True,
                              timeout=60)

    rec = b'{"v":1,"seq":5,"time":"2026-01-01T00:00:00.000000000Z","mono_ns":1,"run":"r1","type":"x","prev":"' + b"0" * 64 + b'"}'
    good = tmp_path / "r1.sink-spool"
    good.write_bytes(struct.pack("<QI", 5, len(rec)) + rec)
    torn = tmp_path / "torn.sink-spool"
    torn.write_bytes(good.read_bytes() + struct.pack("<QI", 6, 1000) + b"short")
    r = push(torn)
    assert r.returncode == 1 and "damaged entry" in r.stderr, r.stderr
    assert torn.exists()
    link = tmp_path / "link.sink-spool"
    link.symlink_to(good)
    r = push(link)
    assert r.returncode == 1 and "Too many levels of symbolic links" in r.stderr, r.stderr
    fifo = tmp_path / "fifo.sink-spool"
    os.mkfifo(fifo)
    r = push(fifo)
    assert r.returncode == 1 and "not a regular file" in r.stderr, r.stderr
    with open(good, "rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        r = push(good)
    assert r.returncode == 1 and "in use" in r.stderr, r.stderr
    # whole, unlocked: it gets as far as the (absent) server, and is kept
    r = push(good)
    assert r.returncode == 1 and "connect" in r.stderr.lower(), r.stderr
    assert good.exists()
    assert subprocess.run([str(airlock_bin), "log", "push", str(good)],
                          capture_output=True).returncode == 125  # no --sink
