"""`airlock cp` into and out of a session. Hostile cases first: links the
sandbox plants (symlinks to host paths, `..`, magic links, hard links),
files over the size limit, set-id files, devices and fifos, a host-side
destination that is a link, another uid. The sandbox side is resolved with
openat2(RESOLVE_IN_ROOT) from the sandbox's root and done as the sandbox's
user; the host side is built beside the destination and renamed."""
import hashlib
import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from conftest import is_rootless
from test_sessions import Session


@pytest.fixture(scope="module")
def sess(airlock):
    s = Session(airlock)
    yield s
    if s.status() is not None:
        s.rm()


def sh(s, script, rc=0):
    r = s.exec("sh", "-c", script)
    assert r.rc == rc, r.describe()
    return r.stdout.decode()


def cp(airlock, *args, timeout=60):
    return airlock.run("cp", *args, timeout=timeout)


@pytest.fixture
def host_secret(tmp_path):
    """A host file whose content must never come out of, or be changed by, cp."""
    d = tmp_path / "hostdir"
    d.mkdir()
    f = d / "secret"
    f.write_text("HOST-SECRET-7f3a\n")
    return f


def no_secret_under(root, text="HOST-SECRET-7f3a"):
    for p in Path(root).rglob("*") if Path(root).is_dir() else [Path(root)]:
        if p.is_file() and not p.is_symlink():
            assert text not in p.read_text(errors="replace"), p


def test_roundtrip_binary_tree_modes_and_parents(airlock, sess, tmp_path):
    src = tmp_path / "src"
    (src / "a" / "b").mkdir(parents=True)
    blob = bytes(range(256)) * 4099 + b"\r\n\x00"
    (src / "a" / "b" / "blob.bin").write_bytes(blob)
    (src / "run.sh").write_text("#!/bin/sh\necho ran\n")
    (src / "run.sh").chmod(0o750)
    (src / "private").write_text("p")
    (src / "private").chmod(0o600)
    (src / "a").chmod(0o751)
    (src / "rel-link").symlink_to("a/b/blob.bin")
    (src / "empty").write_bytes(b"")
    r = cp(airlock, src, f"{sess.id}:/tmp/new/deeper/tree")
    assert r.rc == 0, r.describe()
    out = sh(sess, "cd /tmp/new/deeper/tree && sha256sum a/b/blob.bin && stat -c '%n %a' run.sh private a"
             " && readlink rel-link && ./run.sh")
    assert hashlib.sha256(blob).hexdigest() in out
    assert "run.sh 750" in out and "private 600" in out and "a 751" in out
    assert "a/b/blob.bin" in out and "ran" in out
    # relative paths are relative to the sandbox's working directory
    r = cp(airlock, src / "a" / "b" / "blob.bin", f"{sess.id}:rel/blob.bin")
    assert r.rc == 0, r.describe()
    assert hashlib.sha256(blob).hexdigest() in sh(sess, "sha256sum rel/blob.bin")

    back = tmp_path / "back" / "x"
    r = airlock.run("cp", "--json", f"{sess.id}:/tmp/new/deeper/tree", back)
    assert r.rc == 0, r.describe()
    assert json.loads(r.stdout)["files"] == 4
    assert (back / "a" / "b" / "blob.bin").read_bytes() == blob
    assert stat.S_IMODE((back / "run.sh").stat().st_mode) == 0o750
    assert stat.S_IMODE((back / "private").stat().st_mode) == 0o600
    assert stat.S_IMODE((back / "a").stat().st_mode) == 0o751
    assert os.readlink(back / "rel-link") == "a/b/blob.bin"
    assert (back / "empty").read_bytes() == b""
    # into an existing directory: under the source's name
    r = cp(airlock, f"{sess.id}:/tmp/new/deeper/tree/run.sh", tmp_path / "back")
    assert r.rc == 0 and (tmp_path / "back" / "run.sh").read_text().startswith("#!/bin/sh")
    # nothing temporary is left on either side
    assert not [p for p in (tmp_path / "back").iterdir() if p.name.startswith(".airlock-cp")]
    assert ".airlock-cp" not in sh(sess, "ls -a /tmp/new/deeper")
    total = sum(p.stat().st_size for p in src.rglob("*") if p.is_file() and not p.is_symlink())
    recs = [x for x in sess.records() if x["type"] == "session_cp"]
    assert any(x["direction"] == "in" and x["path"] == "/tmp/new/deeper/tree" and x["bytes"] == total
               and x["files"] == 4 and x["peer_uid"] == os.geteuid() for x in recs), recs
    assert any(x["direction"] == "out" and x["bytes"] == total for x in recs), recs


def test_out_through_planted_links_never_reads_the_host(airlock, sess, tmp_path, host_secret):
    hp = str(host_secret)
    sh(sess, f"mkdir -p /tmp/l && cd /tmp/l && ln -sf {hp} abs && ln -sf ../../../../../../..{hp} dots"
             f" && ln -sf /proc/1/root{hp} magic && ln -sf /proc/self/root{hp} self"
             f" && ln -sf {host_secret.parent} dirlink && mkdir -p tree && ln -sf {hp} tree/abs")
    for name in ("abs", "dots", "magic", "self", "dirlink"):
        dst = tmp_path / f"out-{name}"
        r = cp(airlock, f"{sess.id}:/tmp/l/{name}", dst)
        assert r.rc == 125, r.describe()
        assert not dst.exists() or no_secret_under(dst) is None
    # `..` in the asked path is clamped at the sandbox's root
    r = cp(airlock, f"{sess.id}:/../../../../{hp}", tmp_path / "o-dd")
    assert r.rc == 125 and not (tmp_path / "o-dd").exists(), r.describe()
    r = cp(airlock, f"{sess.id}:../../../../../{hp}", tmp_path / "o-rel")
    assert r.rc == 125 and not (tmp_path / "o-rel").exists(), r.describe()
    # below the top a link is copied as a link, never followed
    r = cp(airlock, f"{sess.id}:/tmp/l/tree", tmp_path / "o-tree")
    assert r.rc == 0, r.describe()
    assert (tmp_path / "o-tree" / "abs").is_symlink()
    no_secret_under(tmp_path / "o-tree")
    assert host_secret.read_text() == "HOST-SECRET-7f3a\n"


def test_in_through_planted_links_never_writes_the_host(airlock, sess, tmp_path, host_secret):
    hp, hd = str(host_secret), str(host_secret.parent)
    sh(sess, f"mkdir -p /tmp/w && cd /tmp/w && ln -sf {hp} file && ln -sf {hd} dir"
             f" && ln -sf ../../../../../../..{hd} dots")
    payload = tmp_path / "payload"
    payload.write_text("FROM-CP\n")
    for dst in ("/tmp/w/file", "/tmp/w/dir/secret", "/tmp/w/dir", f"/tmp/w/dots/secret", f"/../../..{hp}"):
        r = cp(airlock, payload, f"{sess.id}:{dst}")
        # each lands inside the sandbox (or fails); the host is untouched
        assert r.rc in (0, 125), r.describe()
    assert host_secret.read_text() == "HOST-SECRET-7f3a\n"
    assert sorted(p.name for p in host_secret.parent.iterdir()) == ["secret"]
    # the link named as the destination was replaced, not followed
    assert sh(sess, "test -f /tmp/w/file && ! test -L /tmp/w/file && cat /tmp/w/file") == "FROM-CP\n"


def test_hard_links_and_the_sandbox_users_permissions(airlock, sess, tmp_path):
    # A hard link made inside can only name a file the sandbox already sees
    # on the same mount: the kernel refuses links across mounts (EXDEV), so
    # nothing of the host outside the sandbox's mounts can be linked in.
    out = sh(sess, "ln /usr/bin/env /tmp/envlink 2>&1; echo rc=$?; ln /etc/hostname /tmp/hn 2>&1; echo rc=$?")
    assert out.count("rc=0") == 0, out
    # And cp reads and writes as the sandbox's user, never as the
    # supervisor: a file the sandbox's user cannot read stays unread, even
    # through a hard link to it.
    sh(sess, "echo NOREAD > /tmp/noread && ln /tmp/noread /tmp/noread-link && chmod 000 /tmp/noread")
    for p in ("/tmp/noread", "/tmp/noread-link"):
        r = cp(airlock, f"{sess.id}:{p}", tmp_path / "nr")
        assert r.rc == 125 and b"Permission denied" in r.stderr, r.describe()
        assert not (tmp_path / "nr").exists()
    # a read-only place stays read-only
    payload = tmp_path / "p"
    payload.write_text("x")
    r = cp(airlock, payload, f"{sess.id}:/usr/bin/planted")
    assert r.rc == 125, r.describe()


def test_size_limits(airlock, sess, tmp_path):
    sh(sess, "head -c 2000000 /dev/zero > /tmp/two-mb && mkdir -p /tmp/ld && head -c 700000 /dev/zero > /tmp/ld/a"
             " && head -c 700000 /dev/zero > /tmp/ld/b")
    r = cp(airlock, "--max-size", "1MiB", f"{sess.id}:/tmp/two-mb", tmp_path / "big")
    assert r.rc == 125 and b"limit of 1 MiB" in r.stderr, r.describe()
    assert not (tmp_path / "big").exists()
    r = cp(airlock, "--max-size", "1MiB", f"{sess.id}:/tmp/ld", tmp_path / "bigdir")
    assert r.rc == 125 and b"limit of 1 MiB" in r.stderr, r.describe()
    assert not (tmp_path / "bigdir").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".airlock-cp")]
    big = tmp_path / "big-in"
    big.write_bytes(b"\0" * 2000000)
    r = cp(airlock, "--max-size", "1MiB", big, f"{sess.id}:/tmp/big-in")
    assert r.rc == 125 and b"limit of 1 MiB" in r.stderr, r.describe()
    assert sh(sess, "ls -a /tmp | grep -c -e big-in -e airlock-cp || true").strip() == "0"


def test_out_never_makes_setid_files_devices_or_fifos(airlock, sess, tmp_path):
    suid = sh(sess, "find /usr/bin /bin -maxdepth 1 -perm -4000 -type f 2>/dev/null | head -1").strip()
    if suid:
        r = cp(airlock, f"{sess.id}:{suid}", tmp_path / "suid")
        assert r.rc == 0, r.describe()
        assert (tmp_path / "suid").stat().st_mode & (stat.S_ISUID | stat.S_ISGID) == 0
    sh(sess, "mkdir -p /tmp/sp && mkfifo /tmp/sp/fifo && mkfifo /tmp/fifo && echo ok > /tmp/sp/file")
    for p in ("/dev/null", "/dev/zero", "/tmp/fifo", "/proc/1/environ", "/proc/self/status", "/sys/kernel"):
        r = cp(airlock, f"{sess.id}:{p}", tmp_path / "x", timeout=30)
        assert r.rc == 125, r.describe()
        assert not (tmp_path / "x").exists()
    r = airlock.run("cp", "--json", f"{sess.id}:/tmp/sp", tmp_path / "sp", timeout=30)
    assert r.rc == 0, r.describe()
    assert json.loads(r.stdout)["skipped"] == 1
    assert sorted(p.name for p in (tmp_path / "sp").iterdir()) == ["file"]
    # copies in never make set-id files inside either
    f = tmp_path / "sgid"
    f.write_text("x")
    f.chmod(0o2755 if os.geteuid() == 0 else 0o755)
    if os.geteuid() == 0:
        f.chmod(0o4755)
    r = cp(airlock, f, f"{sess.id}:/tmp/setid")
    assert r.rc == 0, r.describe()
    assert sh(sess, "stat -c %a /tmp/setid").strip() == "755"


def test_host_destination_links_are_replaced_not_followed(airlock, sess, tmp_path, host_secret):
    sh(sess, "echo FROM-SANDBOX > /tmp/plain")
    dst = tmp_path / "dst"
    dst.symlink_to(host_secret)
    r = cp(airlock, f"{sess.id}:/tmp/plain", dst)
    assert r.rc == 0, r.describe()
    assert not dst.is_symlink() and dst.read_text() == "FROM-SANDBOX\n"
    assert host_secret.read_text() == "HOST-SECRET-7f3a\n"


@pytest.mark.skipif(is_rootless(), reason="needs root to run a client as another uid")
def test_another_uid_cannot_copy(airlock, sess, tmp_path):
    user = os.environ.get("AIRLOCK_TEST_USER", "airlock-test")
    sh(sess, "echo MINE > /tmp/mine")
    d = tmp_path / "o"
    d.mkdir()
    os.chmod(tmp_path, 0o777)
    os.chmod(d, 0o777)
    for args in ([f"{sess.id}:/tmp/mine", str(d / "x")], ["/etc/hostname", f"{sess.id}:/tmp/theirs"]):
        r = subprocess.run(["setpriv", "--reuid", user, "--regid", user, "--clear-groups",
                            str(airlock.binary), "cp", *args], capture_output=True, timeout=30)
        assert r.returncode == 125, (r.returncode, r.stderr)
    assert not (d / "x").exists()
    assert sh(sess, "test -e /tmp/theirs; echo $?").strip() == "1"


def test_a_canary_copied_out_trips_the_wire(airlock, tmp_path):
    """An agent can bait the harness: a file it is asked for becomes a link
    to a canary. cp reads inside as the sandbox's user, so the canary's
    watch sees it like any read: rootful (fanotify permission events) the
    open is refused and nothing leaves; the default rule kills the session.
    Rootless canaries are inotify, after the fact: the session is killed
    but the bytes may already have been copied (docs/tripwires.md)."""
    spec = tmp_path / "can.yaml"
    spec.write_text("canaries:\n  - kind: aws-credentials\n")
    s = Session(airlock, "--spec", spec)
    r = s.exec("sh", "-c", "ln -s ~/.aws/credentials /tmp/report.txt")
    assert r.rc == 0, r.describe()
    out = tmp_path / "report.txt"
    r = cp(airlock, f"{s.id}:/tmp/report.txt", out)
    from test_sessions import wait_until
    assert wait_until(lambda: any(x["type"] == "run_end" for x in s.records()), 20)
    recs = s.records()
    assert any(x["type"] == "rule_fired" and x.get("event") == "canary" for x in recs), recs[-5:]
    end = [x for x in recs if x["type"] == "run_end"][0]
    assert end["verdict"] == "policy", end
    if not is_rootless():
        assert r.rc == 125 and not out.exists(), r.describe()
