"""--workspace DIR: an overlay over the host directory. The original must stay
byte-identical whatever the workload does; the change report lists exactly
what changed; --export copies the changed files out (and nothing else, and
never anything of the host through a symlink)."""
import os
import re

import pytest

from conftest import log_records, make_world_writable, token, tree_snapshot

pytestmark = pytest.mark.usefixtures("airlock_works")


def make_workspace(root):
    ws = root / "task"
    (ws / "sub" / "deeper").mkdir(parents=True)
    (ws / "deldir" / "inner").mkdir(parents=True)
    (ws / "keep.txt").write_text("unchanged\n")
    (ws / "modify.txt").write_text("before\n")
    (ws / "delete.txt").write_text("doomed\n")
    (ws / "sub" / "deeper" / "data.bin").write_bytes(bytes(range(256)) * 64)
    (ws / "sub" / "append.txt").write_text("line 1\n")
    (ws / "deldir" / "inner" / "x.txt").write_text("x\n")
    (ws / "deldir" / "y.txt").write_text("y\n")
    os.symlink("keep.txt", ws / "link-to-keep")
    # world-writable: only the overlay, not file modes, may protect the original
    make_world_writable(ws)
    return ws


# what the workload does, and what the report must say
WORKLOAD = [
    "write", "/workspace/new.txt", "created inside", ",",
    "mkdir", "/workspace/newdir", ",",
    "write", "/workspace/newdir/inner.txt", "nested new", ",",
    "write", "/workspace/modify.txt", "after", ",",
    "write", "/workspace/sub/append.txt", "line 1\nline 2\n", ",",
    "rm", "/workspace/delete.txt", ",",
    "rm", "/workspace/deldir/inner/x.txt", ",",
    "rm", "/workspace/deldir/inner", ",",
    "rm", "/workspace/deldir/y.txt", ",",
    "rm", "/workspace/deldir", ",",
    "ls", "/workspace",
]
CREATED = {"new.txt", "newdir", "newdir/inner.txt"}
MODIFIED = {"modify.txt", "sub/append.txt"}
DELETED = {"delete.txt", "deldir"}
UNCHANGED = {"keep.txt", "sub/deeper/data.bin", "link-to-keep"}

SIZES = {"new.txt": 14, "newdir/inner.txt": 10, "modify.txt": 5, "sub/append.txt": 14}


def parse_report(stderr):
    """The change report airlock prints (src/supervisor/workspace.c):
        airlock: workspace changes: C created, M modified, D deleted
          + path (N bytes)      created     (directories: "  + dir/")
          ~ path (N bytes)      modified
          - path                deleted
    Returns ({kind: {path: size or None}}, (C, M, D))."""
    lines = stderr.splitlines()
    head = [i for i, l in enumerate(lines) if "workspace changes:" in l]
    assert head, f"no change report on stderr:\n{stderr}"
    m = re.search(r"(\d+) created, (\d+) modified, (\d+) deleted", lines[head[0]])
    assert m, lines[head[0]]
    counts = tuple(int(x) for x in m.groups())
    out = {"created": {}, "modified": {}, "deleted": {}}
    kinds = {"+": "created", "~": "modified", "-": "deleted"}
    for l in lines[head[0] + 1:]:
        m = re.match(r"^  ([+~-]) (.*?)(?: \((\d+) bytes\))?$", l)
        if not m:
            break
        path = m.group(2).rstrip("/")
        out[kinds[m.group(1)]][path] = int(m.group(3)) if m.group(3) else None
    return out, counts


def run_workspace(airlock, ws, extra=()):
    return airlock.probe(*WORKLOAD, opts=["--workspace", str(ws), *extra])


def test_workspace_changes_visible_inside_original_untouched(airlock, world_tmp):
    ws = make_workspace(world_tmp)
    before = tree_snapshot(ws)
    res = run_workspace(airlock, ws)
    assert res.rc == 0, res.describe()
    for rec in res.records:
        if rec["cmd"] != "ls":
            assert rec["ok"], f"workload could not change its workspace: {rec}\n{res.describe()}"
    listing = set(res.one("ls")["entries"])
    assert {"new.txt", "newdir", "modify.txt", "keep.txt"} <= listing
    assert not ({"delete.txt", "deldir"} & listing)
    after = tree_snapshot(ws)
    assert after == before, "the original workspace was modified:\n" + "\n".join(
        f"  {k}: {before.get(k)} -> {after.get(k)}"
        for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k))


def test_workspace_change_report_on_stderr(airlock, world_tmp):
    ws = make_workspace(world_tmp)
    res = run_workspace(airlock, ws)
    assert res.rc == 0, res.describe()
    err = res.stderr.decode(errors="replace")
    rep, counts = parse_report(err)
    assert set(rep["created"]) == CREATED, f"created: {sorted(rep['created'])}\n{err}"
    assert set(rep["modified"]) == MODIFIED, f"modified: {sorted(rep['modified'])}\n{err}"
    assert set(rep["deleted"]) == DELETED, f"deleted: {sorted(rep['deleted'])}\n{err}"
    assert counts == (len(CREATED), len(MODIFIED), len(DELETED)), err
    for path, size in SIZES.items():
        kind = "created" if path in CREATED else "modified"
        assert rep[kind][path] == size, f"{path}: reported {rep[kind][path]} bytes, is {size}\n{err}"


def test_workspace_change_report_in_log(airlock, world_tmp):
    ws = make_workspace(world_tmp)
    log = world_tmp / "run.jsonl"
    res = run_workspace(airlock, ws, ["--log", str(log)])
    assert res.rc == 0, res.describe()
    recs = [r for r in log_records(log) if r.get("type") == "workspace"]
    assert len(recs) == 1, f"expected one workspace record, got {len(recs)}"
    w = recs[0]
    got = {k: {e["path"]: e.get("size") for e in w.get(k, [])}
           for k in ("created", "modified", "deleted")}
    assert set(got["created"]) == CREATED, w
    assert set(got["modified"]) == MODIFIED, w
    assert set(got["deleted"]) == DELETED, w
    for path, size in SIZES.items():
        kind = "created" if path in CREATED else "modified"
        assert got[kind][path] == size, w


def test_export_gets_the_changed_files(airlock, world_tmp):
    ws = make_workspace(world_tmp)
    before = tree_snapshot(ws)
    export = world_tmp / "export"
    export.mkdir()
    res = run_workspace(airlock, ws, ["--export", str(export)])
    assert res.rc == 0, res.describe()
    assert (export / "new.txt").read_text() == "created inside"
    assert (export / "newdir" / "inner.txt").read_text() == "nested new"
    assert (export / "modify.txt").read_text() == "after"
    assert (export / "sub" / "append.txt").read_text() == "line 1\nline 2\n"
    assert not (export / "keep.txt").exists(), "an unchanged file was exported"
    assert not (export / "sub" / "deeper" / "data.bin").exists(), "an unchanged file was exported"
    assert not (export / "delete.txt").exists() or (export / "delete.txt").read_text() != "doomed\n"
    assert tree_snapshot(ws) == before, "export touched the original"


def test_export_does_not_follow_symlinks_to_the_host(airlock, world_tmp):
    """The workload plants symlinks to host paths in its workspace; the export
    (done by the supervisor, on the host) must not copy host files through
    them nor write outside the export directory."""
    tok = token()
    secret = world_tmp / "host-secret.txt"
    secret.write_text(tok)
    secret.chmod(0o644)
    outside = world_tmp / "outside"
    outside.mkdir()
    ws = make_workspace(world_tmp)
    export = world_tmp / "export"
    export.mkdir()
    res = airlock.probe("symlink", str(secret), "/workspace/steal", ",",
                        "symlink", str(outside), "/workspace/escape", ",",
                        "symlink", "../../outside", "/workspace/rel-escape", ",",
                        "write", "/workspace/modify.txt", "after",
                        opts=["--workspace", str(ws), "--export", str(export)])
    assert res.rc == 0, res.describe()
    for dirpath, _, files in os.walk(export):
        for f in files:
            p = os.path.join(dirpath, f)
            if not os.path.islink(p):
                assert tok not in open(p, errors="replace").read(), f"host secret copied into {p}"
    assert os.listdir(outside) == [], "export wrote outside the export directory"
    for name in ("steal", "escape", "rel-escape"):
        p = export / name
        assert not p.exists() or p.is_symlink(), f"{name} exported as a real file/dir"


def test_workspace_symlinks_do_not_reach_the_host(airlock, world_tmp):
    """Symlinks already in the host workspace (absolute and relative, to a
    file beside it) resolve inside the sandbox, never to the host."""
    tok = token()
    secret = world_tmp / "beside-the-workspace.txt"
    secret.write_text(tok)
    secret.chmod(0o644)
    ws = make_workspace(world_tmp)
    os.symlink(str(secret), ws / "abs-escape")
    os.symlink("../beside-the-workspace.txt", ws / "rel-escape")
    os.symlink(str(world_tmp), ws / "dir-escape")
    res = airlock.probe("read", "/workspace/abs-escape", ",", "read", "/workspace/rel-escape", ",",
                        "read", "/workspace/dir-escape/beside-the-workspace.txt", ",",
                        "read", "/workspace/keep.txt",
                        opts=["--workspace", str(ws), "--user", "0"])
    assert res.rc == 0, res.describe()
    assert tok.encode() not in res.stdout, f"host file read through a workspace symlink\n{res.describe()}"
    reads = res.all("read")
    assert reads[-1]["ok"] and reads[-1]["data"] == "unchanged\n", res.describe()
    for r in reads[:-1]:
        assert r["ok"] is False and r["errno"] == "ENOENT", res.describe()


def test_workspace_is_not_persistent(airlock, world_tmp):
    ws = make_workspace(world_tmp)
    res = airlock.probe("write", "/workspace/new.txt", "x", opts=["--workspace", str(ws)])
    assert res.rc == 0 and res.one("write")["ok"], res.describe()
    res = airlock.probe("stat", "/workspace/new.txt", ",", "read", "/workspace/modify.txt",
                        opts=["--workspace", str(ws)])
    assert res.rc == 0, res.describe()
    assert res.one("stat")["errno"] == "ENOENT"
    assert res.one("read")["data"] == "before\n"


def test_change_report_survives_hostile_file_names(airlock, world_tmp):
    """A workload names files to forge report lines or drive the caller's
    terminal: newline + a fake report line, an escape sequence. The report
    prints them escaped: no raw control byte reaches stderr, and the forged
    line does not appear as a line of its own."""
    ws = make_workspace(world_tmp)
    forged = "x\nairlock: workspace changes: 0 created, 0 modified, 0 deleted\n  - keep.txt"
    escape = "red\x1b[31m\x07bell"
    res = airlock.probe("write", "/workspace/" + forged, "1", ",",
                        "write", "/workspace/" + escape, "2",
                        opts=["--workspace", str(ws)])
    assert res.rc == 0, res.describe()
    assert all(r["ok"] for r in res.all("write")), res.describe()
    err = res.stderr.decode(errors="replace")
    assert "\x1b" not in err and "\x07" not in err, f"raw control bytes on stderr: {err!r}"
    heads = [l for l in err.splitlines() if l.startswith("airlock: workspace changes:")]
    assert len(heads) == 1, f"a forged report header appears as its own line:\n{err}"
    rep, counts = parse_report(err)
    assert counts == (2, 0, 0), err
    assert "keep.txt" not in rep["deleted"], f"forged deletion accepted:\n{err}"


def test_export_survives_fifos(airlock, world_tmp):
    """The supervisor reads what the workload left: a FIFO must not hang it
    (opening one for reading blocks) nor be exported as a file."""
    ws = make_workspace(world_tmp)
    export = world_tmp / "export"
    export.mkdir()
    res = airlock.probe("mkfifo", "/workspace/pipe", ",", "write", "/workspace/modify.txt", "after",
                        opts=["--workspace", str(ws), "--export", str(export)], timeout=60)
    assert res.rc == 0, res.describe()
    assert res.one("mkfifo")["ok"], res.describe()
    assert (export / "modify.txt").read_text() == "after", res.describe()
    assert not (export / "pipe").exists() or not (export / "pipe").is_file()


@pytest.mark.parametrize("depth", [40, 80, 300])
def test_deep_tree_is_reported_and_does_not_crash_airlock(airlock, world_tmp, depth):
    """A hostile workload builds a very deep directory tree in the workspace.
    The supervisor must survive reading it (a crash there loses run_end and
    the teardown check: the record of the run is cut short by the workload),
    and the change at the bottom must be reported -- or its omission said --
    not silently dropped."""
    ws = make_workspace(world_tmp)
    log = world_tmp / "run.jsonl"
    cmds, path = [], "/workspace"
    for _ in range(depth):
        path += "/d"
        cmds += ["mkdir", path, ","]
    res = airlock.probe(*cmds, "write", path + "/leaf.txt", "deep",
                        opts=["--workspace", str(ws), "--log", str(log)], timeout=120)
    assert res.rc == 0, f"airlock exit status {res.rc} (negative: killed by that signal)\n" + \
        res.describe()[-1500:]
    types = [r.get("type") for r in log_records(log)]
    assert "run_end" in types and "teardown" in types, f"the record was cut short: {types[-5:]}"
    err = res.stderr.decode(errors="replace")
    leaf = "d/" * depth + "leaf.txt"
    assert leaf in err or re.search(r"more not listed|omitted|too deep", err), (
        f"the change at depth {depth} is neither reported nor said to be omitted:\n{err[-800:]}")


def test_workspace_host_path_not_revealed(airlock, world_tmp):
    """The workload learns nothing of where its workspace lives on the host:
    not from the mount table, nor from any process's argv or environment."""
    secret_parent = world_tmp / ("client-project-" + os.urandom(6).hex())
    secret_parent.mkdir()
    secret_parent.chmod(0o755)
    ws = make_workspace(secret_parent)
    res = airlock.probe("read", "/proc/self/mountinfo", ",", "proc-all", "cmdline", ",",
                        "proc-all", "environ", ",", "readlink", "/proc/self/cwd",
                        opts=["--workspace", str(ws), "--user", "0"])
    assert res.rc == 0, res.describe()
    assert res.one("read")["ok"], res.describe()
    out = res.stdout.decode(errors="replace")
    assert secret_parent.name not in out, (
        "the workspace's host path is visible inside:\n"
        + "\n".join(l for l in out.splitlines() if secret_parent.name in l)[:1500])


def test_unreadable_changes_are_still_reported(airlock, world_tmp):
    """A workload makes what it created unreadable (mode 000) to hide it from
    the change report. It must still be reported -- at least the directory
    itself, and its content or the fact that it could not be listed. (As
    root the supervisor can read anything; rootless it cannot.)"""
    ws = make_workspace(world_tmp)
    res = airlock.probe("mkdir", "/workspace/hidden", ",",
                        "write", "/workspace/hidden/payload", "exfil", ",",
                        "chmod", "000", "/workspace/hidden", ",",
                        "write", "/workspace/sealed.txt", "sealed", ",",
                        "chmod", "000", "/workspace/sealed.txt",
                        opts=["--workspace", str(ws)])
    assert all(r["ok"] for r in res.records), res.describe()
    err = res.stderr.decode(errors="replace")
    rep, _ = parse_report(err)
    assert "sealed.txt" in rep["created"], f"unreadable file missing from the report:\n{err}"
    assert "hidden" in rep["created"], f"unreadable directory missing from the report:\n{err}"
    assert "hidden/payload" in rep["created"] or re.search(r"unreadable|could not|omitted|not listed", err), (
        f"the content of the unreadable directory is silently dropped:\n{err}")


def test_export_of_unreadable_file_is_complete_or_absent(airlock, world_tmp):
    """--export never leaves a truncated copy: a changed file the workload
    made unreadable is exported whole, or not at all (and the error said)."""
    ws = make_workspace(world_tmp)
    export = world_tmp / "export"
    export.mkdir()
    res = airlock.probe("write", "/workspace/sealed.txt", "sealed", ",",
                        "chmod", "000", "/workspace/sealed.txt",
                        opts=["--workspace", str(ws), "--export", str(export)])
    assert all(r["ok"] for r in res.records), res.describe()
    p = export / "sealed.txt"
    if p.exists():
        assert p.stat().st_size == len("sealed"), (
            f"exported copy is truncated ({p.stat().st_size} bytes of 6)\n{res.stderr.decode()}")
    else:
        assert b"could not be exported" in res.stderr or b"error" in res.stderr, res.describe()


def test_renames_are_reported_as_delete_and_create(airlock, world_tmp):
    """Renaming a file of the original: the old name is deleted, the new one
    created with the content; the original is untouched. (A directory of the
    original cannot be renamed on this overlay -- EXDEV, as without
    redirect_dir; `mv` then copies, which the other tests cover.)"""
    ws = make_workspace(world_tmp)
    before = tree_snapshot(ws)
    res = airlock.probe("rename", "/workspace/keep.txt", "/workspace/kept.txt", ",",
                        "rename", "/workspace/sub/deeper/data.bin", "/workspace/moved.bin",
                        opts=["--workspace", str(ws)])
    err = res.stderr.decode(errors="replace")
    assert res.rc == 0 and all(r["ok"] for r in res.records), res.describe()
    rep, _ = parse_report(err)
    assert set(rep["deleted"]) == {"keep.txt", "sub/deeper/data.bin"}, err
    assert set(rep["created"]) == {"kept.txt", "moved.bin"}, err
    assert rep["created"]["moved.bin"] == 256 * 64, err
    assert tree_snapshot(ws) == before
