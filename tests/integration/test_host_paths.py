"""Nothing the sandbox can write is trusted by the host (docs/isolation.md,
"What the host trusts"): no host path the supervisor opens, creates or copies
to -- --export, the event log, its stream files, the sink spool -- may pass
through a place the sandbox can change (a rw volume, the workspace), checked
by identity (symlinks, "..", bind mounts), before the run; the export copies
out only plain files and links, without setuid/setgid bits, keeps holes,
links hard links once, is bounded by the run's time, exports exactly what is
reported, and is renamed into place only when complete."""
import json
import os
import subprocess
import threading
import time

import pytest

from conftest import is_rootless, log_records, tree_snapshot

pytestmark = pytest.mark.usefixtures("airlock_works")


def sh(airlock, script, opts=(), **kw):
    return airlock.run("run", *airlock.extra, *opts, "--", "sh", "-c", script, **kw)


def refused(res, *words):
    err = res.stderr.decode(errors="replace")
    assert res.rc == 125, f"layout accepted:\n{res.describe()}"
    for w in words:
        assert w in err, f"{w!r} not in the message:\n{err}"
    return err


def unprivileged_owner(path):
    """As root, give a rw volume's directory tree an unprivileged owner: airlock
    refuses to map a root-owned directory read-write (docs/isolation.md,
    "Volumes: what the host gets back"), and these tests are about host paths
    inside such a volume, not about its owner."""
    if os.geteuid() == 0:
        for root, dirs, files in os.walk(path):
            for n in [root] + [os.path.join(root, d) for d in dirs] + [os.path.join(root, f) for f in files]:
                os.chown(n, 65534, 65534, follow_symlinks=False)


def workspace(world_tmp):
    ws = world_tmp / "ws"
    ws.mkdir()
    (ws / "keep.txt").write_text("original\n")
    return ws


# ---- refusals: --export, log, stream files, spool ----------------------------

def test_export_inside_rw_volume_is_refused_even_through_a_planted_link(airlock, world_tmp):
    """issue 7.2: `--export vol/out` with vol/out -> a host directory (left by
    an earlier run's workload) wrote the export there. Now any export path
    inside a rw volume is refused before anything is created."""
    vol = world_tmp / "vol"
    vol.mkdir()
    unprivileged_owner(vol)
    target = world_tmp / "host-dir"
    target.mkdir()
    os.symlink(target, vol / "out")
    ws = workspace(world_tmp)
    for export in (vol / "out", vol / "out" / "deeper", vol / "fresh"):
        res = sh(airlock, "echo pwned > /workspace/owned",
                 ["-v", f"{vol}:/vol:rw", "--workspace", ws, "--export", export])
        refused(res, "--export", "rw volume", str(vol))
        assert os.listdir(target) == [], f"export wrote through the planted link: {os.listdir(target)}"
    assert sorted(os.listdir(vol)) == ["out"], "a refused export created something"


def test_export_refused_through_symlinks_dotdot_and_bind_mounts(airlock, world_tmp):
    """The comparison is by identity, not by string: a symlink outside the
    volume that leads into it, a path with "..", and (rootful) a second bind
    mount of the volume all name the same place."""
    vol = world_tmp / "vol"
    (vol / "sub").mkdir(parents=True)
    unprivileged_owner(vol)
    ws = workspace(world_tmp)
    os.symlink(vol / "sub", world_tmp / "alias")
    paths = [world_tmp / "alias" / "out", f"{world_tmp}/ws/../vol/sub/../out", f"{vol}/./sub/out"]
    mounts = []
    if not is_rootless():
        # a second mount of the volume, and one of a directory inside it
        for name, src in (("mnt", vol), ("mnt-sub", vol / "sub")):
            m = world_tmp / name
            m.mkdir()
            subprocess.run(["mount", "--bind", str(src), str(m)], check=True)
            mounts.append(m)
        paths += [world_tmp / "mnt" / "sub" / "out", world_tmp / "mnt-sub" / "out"]
    try:
        for export in paths:
            res = sh(airlock, "true", ["-v", f"{vol}:/vol:rw", "--workspace", ws, "--export", export])
            refused(res, "rw volume")
        if mounts:
            res = sh(airlock, "true", ["-v", f"{vol}:/vol:rw", "--log", mounts[1] / "run.jsonl"])
            refused(res, "log.path", "rw volume")
    finally:
        for m in mounts:
            subprocess.run(["umount", str(m)], check=True)
    assert sorted(os.listdir(vol / "sub")) == [], "a refused export created something"


def test_log_stream_files_and_spool_inside_rw_volume_are_refused(airlock, world_tmp):
    """issue 7.3: a log inside a rw volume can be swapped by the workload.
    log.path ({run} expanded), and the spool directory, are checked."""
    vol = world_tmp / "vol"
    (vol / "logs").mkdir(parents=True)
    unprivileged_owner(vol)
    os.symlink(vol / "logs", world_tmp / "logs-link")
    for log in (vol / "run.jsonl", world_tmp / "logs-link" / "{run}.jsonl", vol / "logs" / "{run}" ):
        res = sh(airlock, "true", ["-v", f"{vol}:/vol:rw", "--log", log])
        refused(res, "log.path", "rw volume")
    assert sorted(os.listdir(vol / "logs")) == [], "a refused log was created"

    spec = world_tmp / "spec.yaml"
    spec.write_text(json.dumps({"log": {"path": str(world_tmp / "ok.jsonl"), "sink": "tcp://127.0.0.1:9",
                                        "on_sink_failure": "spool", "spool_dir": str(vol / "spool")}}))
    res = sh(airlock, "true", ["-v", f"{vol}:/vol:rw", "--spec", spec])
    refused(res, "log.spool_dir", "rw volume")
    assert not (vol / "spool").exists()
    assert not (world_tmp / "ok.jsonl").exists(), "the log was created before the refusal"


def test_log_and_export_inside_the_workspace_are_refused(airlock, world_tmp):
    ws = workspace(world_tmp)
    before = tree_snapshot(ws)
    res = sh(airlock, "true", ["--workspace", ws, "--log", ws / "run.jsonl"])
    refused(res, "log.path", "the workspace")
    # issue 8: --workspace X --export X wrote into the original
    for export, word in ((ws, "is inside"), (ws / "sub" / "out", "lies inside"), (world_tmp, "contains")):
        res = sh(airlock, "echo changed > /workspace/keep.txt", ["--workspace", ws, "--export", export])
        refused(res, "--export", word, "the workspace")
    assert tree_snapshot(ws) == before, "the original workspace was modified"


def test_export_target_must_be_absent_or_empty(airlock, world_tmp):
    ws = workspace(world_tmp)
    out = world_tmp / "out"
    out.mkdir()
    (out / "old.txt").write_text("older export\n")
    res = sh(airlock, "echo new > /workspace/new.txt", ["--workspace", ws, "--export", out])
    refused(res, "not empty")
    assert os.listdir(out) == ["old.txt"]


def test_export_path_swapped_during_the_run_is_never_followed(airlock, world_tmp):
    """A race: one run's workload keeps swapping a component inside its rw
    volume between a directory and a link to a host directory while other
    runs try to export (or log) through it. Whatever state the component is
    in when a run starts, the path lies in the volume and is refused; the
    host directory never receives anything."""
    vol = world_tmp / "vol"
    vol.mkdir()
    unprivileged_owner(vol)
    target = world_tmp / "host-dir"
    target.mkdir()
    os.chmod(target, 0o777)
    os.chmod(vol, 0o777)
    ws = workspace(world_tmp)
    swapper = airlock.popen("run", *airlock.extra, "--timeout", "20s", "-v", f"{vol}:/vol:rw", "--",
                            "sh", "-c",
                            f"end=$(($(date +%s)+8)); while [ $(date +%s) -lt $end ]; do "
                            f"rm -rf /vol/c; mkdir /vol/c; rmdir /vol/c; ln -s {target} /vol/c; done")
    try:
        time.sleep(0.3)
        for i in range(15):
            res = sh(airlock, "echo x > /workspace/f",
                     ["-v", f"{vol}:/vol:rw", "--workspace", ws, "--export", vol / "c" / f"out{i}"])
            assert res.rc == 125, res.describe()
            res = sh(airlock, "true", ["-v", f"{vol}:/vol:rw", "--log", vol / "c" / f"log{i}"])
            assert res.rc == 125, res.describe()
    finally:
        swapper.kill()
        swapper.wait()
    assert os.listdir(target) == [], f"something was written through the swapped link: {os.listdir(target)}"


# ---- what an export contains -------------------------------------------------

def workspace_record(log):
    recs = [r for r in log_records(log) if r.get("type") == "workspace"]
    assert len(recs) == 1, recs
    return recs[0]


def test_export_keeps_holes_and_never_sets_setuid_bits(airlock, world_tmp):
    """issue 7.5: eight 512 MiB sparse files wrote 4 GB to the host (500 MiB
    here: the default RLIMIT_FSIZE is limits.disk, 512 MiB). Holes
    stay holes (only data extents are copied and counted); setuid/setgid
    bits and FIFOs never reach the host (a FIFO is skipped, recorded)."""
    ws = workspace(world_tmp)
    out = world_tmp / "out"
    log = world_tmp / "run.jsonl"
    script = ("for i in 1 2 3 4 5 6 7 8; do truncate -s 500M /workspace/sparse$i; "
              "printf tail >> /workspace/sparse$i; done; "
              "cp /bin/true /workspace/suid; chmod 6755 /workspace/suid; mkfifo /workspace/fifo")
    res = sh(airlock, script, ["--workspace", ws, "--export", out, "--log", log], timeout=120)
    assert res.rc == 0, res.describe()
    for i in range(1, 9):
        st = os.stat(out / f"sparse{i}")
        assert st.st_size == 500 * 1024 * 1024 + 4
        assert st.st_blocks * 512 < 1024 * 1024, f"sparse{i} exported in full: {st.st_blocks * 512} bytes"
        with open(out / f"sparse{i}", "rb") as f:
            f.seek(500 * 1024 * 1024)
            assert f.read() == b"tail"
    st = os.stat(out / "suid")
    assert st.st_mode & 0o7000 == 0, oct(st.st_mode)
    assert st.st_mode & 0o777 == 0o755
    assert not os.path.lexists(out / "fifo")
    w = workspace_record(log)
    assert w["export_complete"] is True, w
    assert w["exported_bytes"] < 8 * 1024 * 1024, w
    fifo = [e for e in w["created"] if e["path"] == "fifo"][0]
    assert fifo["exported"] is False and "special" in fifo["not_exported"], fifo
    assert w["export_skipped"] == 1, w


def test_export_links_hard_links_once(airlock, world_tmp):
    ws = workspace(world_tmp)
    out = world_tmp / "out"
    log = world_tmp / "run.jsonl"
    res = sh(airlock, "mkdir /workspace/d; head -c 100000 /dev/urandom > /workspace/a; "
                      "ln /workspace/a /workspace/d/b; ln /workspace/a /workspace/c",
             ["--workspace", ws, "--export", out, "--log", log])
    assert res.rc == 0, res.describe()
    a, b, c = (os.stat(p) for p in (out / "a", out / "d" / "b", out / "c"))
    assert a.st_ino == b.st_ino == c.st_ino and a.st_nlink == 3
    w = workspace_record(log)
    assert w["exported"] == 3 and w["exported_bytes"] == 100000, w


def test_export_replaces_an_empty_target_only_when_complete(airlock, world_tmp):
    """issue 8: the export is built beside the target under a name that says
    it is incomplete, and renamed into place at the end."""
    ws = workspace(world_tmp)
    out = world_tmp / "out"
    out.mkdir()
    res = sh(airlock, "echo new > /workspace/new.txt", ["--workspace", ws, "--export", out])
    assert res.rc == 0, res.describe()
    assert (out / "new.txt").read_text() == "new\n"
    assert sorted(os.listdir(world_tmp)) == ["out", "ws"], os.listdir(world_tmp)


def test_timeout_covers_the_report_and_export(airlock, world_tmp):
    """issue 7.5: the export ran 8.9 s against a 2 s timeout. The report and
    export get what is left of the run's time: a workload that uses all of
    it leaves an export marked incomplete (not renamed into place), the
    record says so and why, and the run ends 124."""
    ws = workspace(world_tmp)
    out = world_tmp / "out"
    log = world_tmp / "run.jsonl"
    res = sh(airlock, "echo new > /workspace/new.txt; sleep 30",
             ["--timeout", "1s", "--workspace", ws, "--export", out, "--log", log], timeout=60)
    assert res.rc == 124, res.describe()
    assert not out.exists(), "an incomplete export was put in place"
    partial = [n for n in os.listdir(world_tmp) if n.startswith("out.incomplete-")]
    assert len(partial) == 1, os.listdir(world_tmp)
    w = workspace_record(log)
    assert w["export_complete"] is False and w["export_incomplete"] == "timeout", w
    assert w["incomplete"] == "timeout" and w["export_partial"] == partial[0], w
    assert b"INCOMPLETE" in res.stderr, res.describe()


def test_export_is_exactly_what_is_reported(airlock, world_tmp):
    """issue 7.5: 10,006 files were exported while 6 were left out of the
    report. Now each reported file says whether it was exported, changes
    beyond the report's cap are not exported (counted), and such an export
    is not put in place as if complete."""
    ws = workspace(world_tmp)
    out = world_tmp / "out"
    log = world_tmp / "run.jsonl"
    res = sh(airlock, "cd /workspace && i=0; while [ $i -lt 10006 ]; do : > f$i; i=$((i+1)); done",
             ["--workspace", ws, "--export", out, "--log", log, "--quiet"], timeout=120)
    w = workspace_record(log)
    reported = {e["path"] for e in w["created"]}
    assert len(reported) + w["omitted"] == 10006, w["omitted"]
    assert w["omitted"] == 6 and w["export_omitted"] == 6, {k: w[k] for k in w if k not in ("created",)}
    assert all(e["exported"] for e in w["created"]), "a reported file was not exported"
    assert w["export_complete"] is False, "an export missing changes was put in place"
    partial = [n for n in os.listdir(world_tmp) if n.startswith("out.incomplete-")]
    assert len(partial) == 1
    assert set(os.listdir(world_tmp / partial[0])) == reported
    # the exit status stays the workload's: the record and the name say it
    assert res.rc == 0, res.describe()


# ---- rootless workspace ownership --------------------------------------------

@pytest.mark.skipif(not is_rootless(), reason="rootless only: the namespace maps just the caller's ids")
def test_rootless_workspace_with_unmapped_owner_is_refused_up_front(airlock):
    """issue 8: rootless, a workspace holding a file whose owner or group the
    namespace cannot map failed inside with EOVERFLOW ("Value too large for
    defined data type") when the workload changed it. /var is root's: its
    tmp is world-writable, so the workload would try."""
    res = sh(airlock, "echo x > /workspace/tmp/airlock-eoverflow-probe; echo rc=$?",
             ["--workspace", "/var"])
    err = refused(res, "rootless", "owned by uid 0")
    assert "chown" in err, err
    assert b"rc=" not in res.stdout, "the workload ran"


def test_export_that_outlasts_the_timeout_ends_the_run_as_a_timeout(airlock, world_tmp):
    """The workload ends just before its timeout, leaving more to export than
    the time left: the export stops at the deadline, is recorded incomplete,
    and the run ends 124 although the workload exited 0. (Should the workload
    be killed first on a loaded machine, the same must hold.)"""
    ws = workspace(world_tmp)
    out = world_tmp / "out"
    log = world_tmp / "run.jsonl"
    script = ("s=$(date +%s%N); head -c 300M /dev/zero > /workspace/big; "
              "e=$(( (1900000000 - ($(date +%s%N) - s)) / 1000000 )); "
              "[ $e -gt 0 ] && sleep $(printf '%d.%03d' $((e/1000)) $((e%1000))); exit 0")
    res = sh(airlock, script, ["--timeout", "2s", "--workspace", ws, "--export", out, "--log", log],
             timeout=60)
    assert res.rc == 124, res.describe()
    w = workspace_record(log)
    assert w["export_complete"] is False and w["export_incomplete"] == "timeout", {
        k: w[k] for k in w if k.startswith("export") or k == "incomplete"}
    assert not out.exists()
    ends = [r for r in log_records(log) if r.get("type") == "run_end"]
    assert ends and ends[-1]["verdict"] == "timeout" and ends[-1]["exit_status"] == 124, ends
