"""`airlock image import` and the local store (docs/images.md): a
docker-archive, an OCI archive (gzip layers) and an OCI layout directory of
the same layers give the same files, whiteouts and opaque directories are
applied, device nodes and setuid bits are dropped; hostile layers (`../`
paths, writes through a symlink pointing out, hard links out of the tree)
are refused and leave nothing behind; a stored image runs by name, is
recorded by digest, and a store changed behind airlock's back is refused."""
import json
import os
import secrets
import subprocess
import tarfile
from pathlib import Path

import pytest

from conftest import EXIT_SETUP, log_records, mkdtemp_world
from oci_fixtures import docker_archive, layer, oci_archive, oci_dir, ti

BUSYBOX = Path("/bin/busybox")


@pytest.fixture
def store_env(tmp_path):
    """A private store and cache rootless; root's store is fixed
    (/var/lib/airlock/images), so names are unique per test."""
    data = tmp_path / "xdg-data"
    cache = tmp_path / "xdg-cache"
    data.mkdir(mode=0o700)
    cache.mkdir(mode=0o700)
    return dict(os.environ, XDG_DATA_HOME=str(data), XDG_CACHE_HOME=str(cache))


@pytest.fixture
def name():
    n = "airlock-test/img-" + secrets.token_hex(4)
    yield n
    # best effort: leave root's store as it was
    subprocess.run([os.environ.get("AIRLOCK_BIN", "airlock"), "image", "rm", n + ":1"],
                   capture_output=True)


def busybox_layers():
    if not BUSYBOX.exists():
        pytest.skip("needs busybox-static")
    bb = BUSYBOX.read_bytes()
    l1 = layer([
        ti("bin", tarfile.DIRTYPE, 0o755), ti("bin/busybox", mode=0o755, data=bb),
        ti("bin/sh", tarfile.SYMTYPE, 0o777, linkname="busybox"),
        ti("bin/cat", tarfile.SYMTYPE, 0o777, linkname="busybox"),
        ti("bin/ls", tarfile.SYMTYPE, 0o777, linkname="busybox"),
        ti("bin/stat", tarfile.SYMTYPE, 0o777, linkname="/bin/busybox"),  # absolute: fine inside
        ti("etc", tarfile.DIRTYPE, 0o755), ti("etc/motd", data=b"one\n"),
        ti("etc/gone", data=b"x"), ti("etc/hard", tarfile.LNKTYPE, linkname="etc/motd"),
        ti("opq", tarfile.DIRTYPE, 0o755), ti("opq/lower", data=b"a"),
        ti("bin/su", mode=0o4755, data=b"#!/bin/sh\n"),
        ti("dev", tarfile.DIRTYPE, 0o755),
        ti("dev/sda", tarfile.BLKTYPE, 0o666, devmajor=8, devminor=0),
        ti("data", tarfile.DIRTYPE, 0o555), ti("data/ro", data=b"read-only dir\n"),
    ])
    l2 = layer([
        ti("etc/.wh.gone"), ti("opq/.wh..wh..opq"), ti("opq/upper", data=b"b"),
        ti("etc/motd", data=b"two\n"),
    ])
    return [l1, l2]


def imp(airlock, src, env, *opts):
    return airlock.run("image", "import", *opts, str(src), env=env)


@pytest.mark.parametrize("fmt", ["docker-archive", "oci-archive", "oci-dir"])
def test_import_formats_apply_layers(airlock, store_env, name, world_tmp, fmt):
    layers = busybox_layers()
    src = world_tmp / "img"
    if fmt == "docker-archive":
        docker_archive(src, layers, name + ":1")
        res = imp(airlock, src, store_env)
    elif fmt == "oci-archive":
        oci_archive(src, layers, "1")
        res = imp(airlock, src, store_env, "--name", name + ":1")
    else:
        src.mkdir()
        oci_dir(src, layers, None, gz=False)
        res = imp(airlock, src, store_env, "--name", name + ":1")
    assert res.rc == 0, res.describe()
    digest = res.stdout.decode().strip()
    err = res.stderr.decode()
    assert "2 whiteouts" in err and "1 device node" in err and "1 setuid" in err, err

    listing = airlock.run("image", "digest", "--listing", name + ":1", env=store_env)
    assert listing.rc == 0, listing.describe()
    out = listing.stdout.decode()
    assert "/etc/gone " not in out and "/opq/lower " not in out   # whiteout, opaque
    assert "/opq/upper f " in out and "/etc/hard f 0644" in out
    assert "/dev/sda" not in out                                  # device dropped
    assert "/bin/su f 0755 " in out                               # setuid dropped
    assert "/data d 0555 " in out                                 # modes kept
    assert "/bin/stat l 0777 0 0 /bin/busybox" in out or os.geteuid() != 0

    # the same layers give the same tree, whichever format carried them
    ls = json.loads(airlock.run("image", "ls", "--json", env=store_env).stdout)
    assert any(i["digest"] == digest and name + ":1" in i["names"] for i in ls)

    log = world_tmp / "run.jsonl"
    run = airlock.run("run", *airlock.extra, "--log", str(log), "--image", name + ":1", "--",
                      "/bin/sh", "-c", "cat /etc/motd; ls /opq; cat /etc/hard; stat -c %a /bin/su",
                      env=store_env)
    assert run.rc == 0, run.describe()
    # the upper layer's motd is a new file: the lower hard link keeps the old one
    assert run.stdout.decode().split() == ["two", "upper", "one", "755"]
    start = log_records(log)[0]
    assert start["image_digest"] == digest


def test_same_layers_same_digest_across_formats(airlock, store_env, name, world_tmp):
    layers = busybox_layers()
    docker_archive(world_tmp / "d.tar", layers, None)
    oci_archive(world_tmp / "o.tar", layers, None)
    a = imp(airlock, world_tmp / "d.tar", store_env, "--name", name + ":1")
    b = imp(airlock, world_tmp / "o.tar", store_env, "--name", name + ":2")
    assert a.rc == 0 and b.rc == 0, a.describe() + b.describe()
    assert a.stdout == b.stdout
    airlock.run("image", "rm", name + ":2", env=store_env)


def store_root(env):
    if os.geteuid() == 0:
        return Path("/var/lib/airlock/images")
    return Path(env["XDG_DATA_HOME"]) / "airlock" / "images"


@pytest.mark.parametrize("hostile,why", [
    ([ti("../escape", data=b"x")], "path escape"),
    ([ti("ok/../../escape", data=b"x")], "path escape"),
    ([ti("evil", tarfile.SYMTYPE, 0o777, linkname="/tmp"), ti("evil/pwned", data=b"x")],
     "symlink"),
    ([ti("up", tarfile.SYMTYPE, 0o777, linkname="../../../../tmp"), ti("up/pwned", data=b"x")],
     "symlink"),
    ([ti("hl", tarfile.LNKTYPE, linkname="../../../../etc/passwd")], "hard link"),
    ([ti("hl", tarfile.LNKTYPE, linkname="/etc/passwd")], "hard link"),
    ([ti("d", tarfile.DIRTYPE, 0o755), ti("d/l", tarfile.SYMTYPE, linkname="/etc"),
      ti("hl", tarfile.LNKTYPE, linkname="d/l/passwd")], "hard link"),
])
def test_hostile_layers_are_refused(airlock, store_env, name, world_tmp, hostile, why):
    marker = Path("/tmp/pwned")
    before = set(store_root(store_env).glob("*")) if store_root(store_env).exists() else set()
    src = world_tmp / "bad.tar"
    docker_archive(src, [layer([ti("base", data=b"b")]), layer(hostile)], name + ":1")
    res = imp(airlock, src, store_env)
    assert res.rc == 1, res.describe()
    assert b"refused" in res.stderr and why.encode() in res.stderr, res.describe()
    assert not (world_tmp.parent / "escape").exists() and not Path("/escape").exists()
    assert not marker.exists()
    # nothing half-imported stays in the store, no tag points anywhere
    after = set(store_root(store_env).glob("*"))
    assert {p for p in after - before if p.name.startswith((".staging", "sha256-"))} == set()
    assert airlock.run("run", *airlock.extra, "--image", name + ":1", "--", "/bin/true",
                       env=store_env).rc == EXIT_SETUP


def test_tampered_store_is_refused(airlock, store_env, name, world_tmp):
    docker_archive(world_tmp / "d.tar", busybox_layers(), name + ":1")
    res = imp(airlock, world_tmp / "d.tar", store_env)
    assert res.rc == 0, res.describe()
    digest = res.stdout.decode().strip()
    motd = store_root(store_env) / ("sha256-" + digest[7:]) / "etc" / "motd"
    motd.write_text("tampered\n")
    run = airlock.run("run", *airlock.extra, "--image", name + ":1", "--", "/bin/cat",
                      "/etc/motd", env=store_env)
    assert run.rc == EXIT_SETUP, run.describe()
    assert b"tampered" not in run.stdout
    assert b"image drift" in run.stderr and b"/etc/motd" in run.stderr, run.describe()


def test_inspect_and_rm(airlock, store_env, name, world_tmp):
    docker_archive(world_tmp / "d.tar", busybox_layers(), name + ":1")
    res = imp(airlock, world_tmp / "d.tar", store_env)
    assert res.rc == 0, res.describe()
    digest = res.stdout.decode().strip()
    ins = airlock.run("image", "inspect", name + ":1", env=store_env)
    assert ins.rc == 0, ins.describe()
    info = json.loads(ins.stdout)
    assert info["digest"] == digest and info["entries"] > 5
    assert info["lint"]["counts"]["shells"] >= 1
    by_digest = airlock.run("image", "inspect", digest, env=store_env)
    assert json.loads(by_digest.stdout)["digest"] == digest
    rm = airlock.run("image", "rm", name + ":1", env=store_env)
    assert rm.rc == 0, rm.describe()
    assert not (store_root(store_env) / ("sha256-" + digest[7:])).exists()
    run = airlock.run("run", *airlock.extra, "--image", name + ":1", "--", "/bin/true",
                      env=store_env)
    assert run.rc == EXIT_SETUP and b"no image" in run.stderr, run.describe()


def test_bad_archives_fail_cleanly(airlock, store_env, world_tmp):
    junk = world_tmp / "junk.tar"
    junk.write_bytes(os.urandom(4096))
    res = imp(airlock, junk, store_env)
    assert res.rc == 1, res.describe()
    # a layer whose bytes do not match its OCI digest
    src = world_tmp / "oci"
    src.mkdir()
    oci_dir(src, [layer([ti("a", data=b"a")])], None, gz=False)
    blob = next(p for p in (src / "blobs" / "sha256").iterdir()
                if p.stat().st_size > 1000)  # the layer tar
    data = bytearray(blob.read_bytes())
    data[600] ^= 1
    blob.write_bytes(bytes(data))
    res = imp(airlock, src, store_env, "--name", "x/y:1")
    assert res.rc == 1 and b"does not match its digest" in res.stderr, res.describe()
    assert airlock.run("image", "import", "--name", "Bad Name", str(src), env=store_env).rc == 125


def test_verify_names_the_change_and_reimport_repairs(airlock, store_env, name, world_tmp):
    docker_archive(world_tmp / "d.tar", busybox_layers(), name + ":1")
    res = imp(airlock, world_tmp / "d.tar", store_env)
    assert res.rc == 0, res.describe()
    digest = res.stdout.decode().strip()
    ok = airlock.run("image", "verify", name + ":1", env=store_env)
    assert ok.rc == 0 and b"OK" in ok.stdout, ok.describe()
    motd = store_root(store_env) / ("sha256-" + digest[7:]) / "etc" / "motd"
    motd.write_text("tampered\n")
    bad = airlock.run("image", "verify", name + ":1", env=store_env)
    assert bad.rc == 1, bad.describe()
    assert b"CHANGED" in bad.stdout and b"changed /etc/motd (content)" in bad.stdout
    # importing the same archive again puts the image back as it was
    again = imp(airlock, world_tmp / "d.tar", store_env)
    assert again.rc == 0 and again.stdout.decode().strip() == digest, again.describe()
    assert motd.read_text() == "two\n"
    assert airlock.run("image", "verify", name + ":1", env=store_env).rc == 0


def test_diff_files_and_packages(airlock, world_tmp, store_env):
    a, b = world_tmp / "a", world_tmp / "b"
    for root, pkgs, extra in ((a, [("curl", "7.88"), ("gone", "1")], "x"),
                              (b, [("curl", "8.0"), ("new", "2")], "y")):
        (root / "var" / "lib" / "dpkg").mkdir(parents=True)
        (root / "var" / "lib" / "dpkg" / "status").write_text("".join(
            f"Package: {p}\nStatus: install ok installed\nVersion: {v}\n\n" for p, v in pkgs))
        (root / "bin").mkdir()
        (root / "bin" / extra).write_text(extra)
        (root / "same").write_text("same\n")
    res = airlock.run("image", "diff", str(a), str(b), env=store_env)
    assert res.rc == 1, res.describe()
    out = res.stdout.decode().splitlines()
    assert "removed /bin/x" in out and "added /bin/y" in out
    assert "changed /var/lib/dpkg/status (content)" in out
    assert "package curl: 7.88 -> 8.0" in out
    assert "package removed gone 1" in out and "package added new 2" in out
    assert not any("/same" in l for l in out)
    same = airlock.run("image", "diff", str(a), str(a), env=store_env)
    assert same.rc == 0, same.describe()


def test_inspect_does_not_follow_links_out(airlock, world_tmp, store_env):
    """An image whose /var is a link to the host's / must not report the
    host's packages (nor read anything through the link)."""
    (world_tmp / "var").symlink_to("/")
    (world_tmp / "etc").mkdir()
    res = airlock.run("image", "inspect", str(world_tmp), env=store_env)
    assert res.rc == 0, res.describe()
    assert json.loads(res.stdout)["packages"] is None
    (world_tmp / "var").unlink()
    (world_tmp / "var").mkdir()
    (world_tmp / "var" / "lib").symlink_to("/var/lib")
    res = airlock.run("image", "inspect", str(world_tmp), env=store_env)
    assert json.loads(res.stdout)["packages"] is None, res.describe()
    (world_tmp / "var" / "lib").unlink()
    (world_tmp / "var" / "lib" / "dpkg").mkdir(parents=True)
    (world_tmp / "var" / "lib" / "dpkg" / "status").write_text(
        "Package: a\nStatus: install ok installed\nVersion: 1\n\n"
        "Package: b\nStatus: deinstall ok config-files\nVersion: 1\n\n")
    res = airlock.run("image", "inspect", str(world_tmp), env=store_env)
    assert json.loads(res.stdout)["packages"] == 1, res.describe()
