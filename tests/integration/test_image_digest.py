"""Image digests (docs/images.md): `airlock image digest` is stable across
computations and cache hits; any change to the tree (content, mode, an entry
added or removed, a symlink retargeted) changes it, and a run pinned to the
old digest is refused before anything starts, naming the changed path;
run_start.image_digest is filled for the host and for a directory; `airlock
image lint` finds planted attack surface; hostile trees (link loops, links
out, names with newlines, 2000-deep nesting) are handled."""
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from conftest import EXIT_SETUP, log_records, mkdtemp_world
from test_image import rootfs  # noqa: F401  (the busybox rootfs fixture)

ZERO = "sha256:" + "0" * 64


def wait_out_racy_window():
    """Entries changed within 2 s of a digest are always hashed again (their
    identity cannot vouch for them yet): wait so the cache is used."""
    time.sleep(2.2)


@pytest.fixture
def cache_env(tmp_path):
    """A private digest cache for rootless runs (root's is fixed:
    /var/lib/airlock/cache)."""
    d = tmp_path / "xdg-cache"
    d.mkdir(mode=0o700)
    return dict(os.environ, XDG_CACHE_HOME=str(d))


def digest(airlock, image, env, *opts):
    res = airlock.run("image", "digest", "--json", *opts, str(image), env=env)
    assert res.rc == 0, res.describe()
    return json.loads(res.stdout)


def pinned_run(airlock, image, pin, log, env):
    return airlock.run("run", *airlock.extra, "--log", str(log), "--image", str(image),
                       "--image-digest", pin, "--", "/bin/echo", "ran", env=env)


def test_digest_is_stable_and_the_cache_changes_nothing(airlock, rootfs, cache_env):
    cold = digest(airlock, rootfs, cache_env, "--no-cache")
    first = digest(airlock, rootfs, cache_env)
    wait_out_racy_window()
    filled = digest(airlock, rootfs, cache_env)
    hit = digest(airlock, rootfs, cache_env)
    assert cold["digest"] == first["digest"] == filled["digest"] == hit["digest"]
    assert cold["digest"].startswith("sha256:") and len(cold["digest"]) == 71
    # the last one took nothing from the files but their stat identity
    assert hit["unchanged"] is True and hit["files_hashed"] == 0, hit
    assert hit["cache_hits"] > 0
    # the listing is exactly what is hashed: anyone can recompute the digest
    import hashlib
    listing = airlock.run("image", "digest", "--listing", str(rootfs), env=cache_env).stdout
    assert listing.startswith(b"airlock-image-listing 1\n")
    assert "sha256:" + hashlib.sha256(listing).hexdigest() == hit["digest"]


def _change_content(root):
    (root / "etc" / "motd").write_text("from-the-image, edited\n")
    return "/etc/motd", "content"


def _change_same_size(root):
    # same size, same second: only the content hash and ctime can tell
    (root / "etc" / "motd").write_text("FROM-the-image\n")
    return "/etc/motd", "content"


def _change_mode(root):
    (root / "etc" / "motd").chmod(0o600)
    return "/etc/motd", "mode"


def _add(root):
    (root / "etc" / "added").write_text("new\n")
    (root / "etc" / "added").chmod(0o644)
    return "/etc/added", "added"


def _remove(root):
    (root / "etc" / "motd").unlink()
    return "/etc/motd", "removed"


def _retarget(root):
    (root / "bin" / "cat").unlink()
    (root / "bin" / "cat").symlink_to("/bin/../bin/busybox")
    return "/bin/cat", "target"


@pytest.mark.parametrize("change", [_change_content, _change_same_size, _change_mode, _add,
                                    _remove, _retarget])
def test_a_changed_image_refuses_a_pinned_run_naming_the_path(airlock, rootfs, cache_env,
                                                              world_tmp, change):
    pin = digest(airlock, rootfs, cache_env)["digest"]
    wait_out_racy_window()
    ok = pinned_run(airlock, rootfs, pin, world_tmp / "ok.jsonl", cache_env)
    assert ok.rc == 0, ok.describe()
    assert b"ran" in ok.stdout
    assert log_records(world_tmp / "ok.jsonl")[0]["image_digest"] == pin

    path, what = change(rootfs)
    res = pinned_run(airlock, rootfs, pin, world_tmp / "drift.jsonl", cache_env)
    assert res.rc == EXIT_SETUP, res.describe()
    assert b"ran" not in res.stdout          # nothing started
    err = res.stderr.decode()
    assert "image drift" in err and path in err and what in err, err
    recs = log_records(world_tmp / "drift.jsonl")
    start = [r for r in recs if r["type"] == "run_start"][0]
    end = [r for r in recs if r["type"] == "run_end"][0]
    now = digest(airlock, rootfs, cache_env)["digest"]
    assert now != pin
    assert start["image_digest"] == now      # the record says what it found
    assert end["verdict"] == "setup-error" and path in end["error"]
    assert not [r for r in recs if r["type"] == "exit"]


def test_a_changed_image_is_noticed_without_the_racy_wait(airlock, rootfs, cache_env,
                                                          world_tmp):
    """The cache is filled and trusted, then a file changes within the same
    second: its ctime moved, so the cache must not vouch for it."""
    pin = digest(airlock, rootfs, cache_env)["digest"]
    wait_out_racy_window()
    assert digest(airlock, rootfs, cache_env)["digest"] == pin
    assert digest(airlock, rootfs, cache_env)["unchanged"] is True
    motd = rootfs / "etc" / "motd"
    st = motd.stat()
    with open(motd, "r+b") as f:  # same size, and mtime put back as it was
        f.write(b"X")
    os.utime(motd, ns=(st.st_atime_ns, st.st_mtime_ns))
    after = digest(airlock, rootfs, cache_env)
    assert after["digest"] != pin and after["files_hashed"] >= 1, after


def test_pin_without_the_old_listing_says_so(airlock, rootfs, cache_env, world_tmp):
    res = pinned_run(airlock, rootfs, ZERO, world_tmp / "x.jsonl", cache_env)
    assert res.rc == EXIT_SETUP, res.describe()
    err = res.stderr.decode()
    assert "image drift" in err and "cannot be named" in err, err
    assert digest(airlock, rootfs, cache_env)["digest"] in err


def test_bad_pins_are_usage_errors(airlock, rootfs, world_tmp):
    res = airlock.run("run", *airlock.extra, "--image-digest", "sha256:abc", "--", "/bin/true")
    assert res.rc == EXIT_SETUP and b"--image-digest" in res.stderr, res.describe()
    spec = world_tmp / "s.yaml"
    spec.write_text("image_digest: md5:1234\ncommand: [/bin/true]\n")
    res = airlock.run("run", *airlock.extra, "--spec", str(spec))
    assert res.rc == EXIT_SETUP and b"image_digest" in res.stderr, res.describe()


def test_spec_pin_is_enforced(airlock, rootfs, cache_env, world_tmp):
    pin = digest(airlock, rootfs, cache_env)["digest"]
    spec = world_tmp / "s.yaml"
    spec.write_text(f"image: {rootfs}\nimage_digest: {pin}\ncommand: [/bin/echo, ran]\n")
    res = airlock.run("run", *airlock.extra, "--spec", str(spec), env=cache_env)
    assert res.rc == 0 and b"ran" in res.stdout, res.describe()
    (rootfs / "bin" / "extra").write_text("x")
    res = airlock.run("run", *airlock.extra, "--spec", str(spec), env=cache_env)
    assert res.rc == EXIT_SETUP and b"/bin/extra" in res.stderr, res.describe()


def test_run_start_records_the_host_digest(airlock, cache_env, world_tmp):
    host = digest(airlock, "host", cache_env)["digest"]
    res = airlock.run("run", *airlock.extra, "--log", str(world_tmp / "h.jsonl"), "--",
                      "/bin/true", env=cache_env)
    assert res.rc == 0, res.describe()
    start = log_records(world_tmp / "h.jsonl")[0]
    assert start["type"] == "run_start" and start["image"] == "host"
    assert start["image_digest"] == host
    # and a host pin is checked too
    res = airlock.run("run", *airlock.extra, "--image-digest", host, "--", "/bin/true",
                      env=cache_env)
    assert res.rc == 0, res.describe()
    res = airlock.run("run", *airlock.extra, "--image-digest", ZERO, "--", "/bin/true",
                      env=cache_env)
    assert res.rc == EXIT_SETUP and b"image drift" in res.stderr, res.describe()


def test_run_start_records_the_dir_digest(airlock, rootfs, cache_env, world_tmp):
    want = digest(airlock, rootfs, cache_env)["digest"]
    res = airlock.run("run", *airlock.extra, "--log", str(world_tmp / "d.jsonl"), "--image",
                      str(rootfs), "--", "/bin/echo", env=cache_env)
    assert res.rc == 0, res.describe()
    assert log_records(world_tmp / "d.jsonl")[0]["image_digest"] == want


# ---- lint ----

def test_lint_finds_planted_attack_surface(airlock, rootfs, cache_env):
    usr_bin = rootfs / "usr" / "bin"
    usr_bin.mkdir(parents=True)
    (usr_bin / "gcc-12").write_bytes(b"\x7fELF fake compiler")
    (usr_bin / "gcc-12").chmod(0o755)
    (usr_bin / "python3").symlink_to("/bin/busybox")
    (usr_bin / "apt-get").write_bytes(b"#!/bin/sh\n")
    (usr_bin / "apt-get").chmod(0o755)
    (usr_bin / "helper").write_bytes(b"\x7fELF")
    (usr_bin / "helper").chmod(0o4755)          # setuid
    drop = rootfs / "drop"
    drop.mkdir()
    drop.chmod(0o777)                            # world-writable, no sticky bit
    home = rootfs / "home" / "dev" / ".ssh"
    home.mkdir(parents=True)
    (home / "deploy_key").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaA==\n"
                                     "-----END OPENSSH PRIVATE KEY-----\n")
    (rootfs / "app.env").write_text("x")
    (rootfs / ".env").write_text("DEBUG=1\nSTRIPE_SECRET_KEY=sk_live_123\n")

    res = airlock.run("image", "lint", "--json", str(rootfs), env=cache_env)
    assert res.rc == 1, res.describe()           # findings, none forbidden
    rep = json.loads(res.stdout)
    by = {(f["path"], f["category"]): f for f in rep["findings"]}
    assert ("/usr/bin/gcc-12", "compilers") in by
    assert ("/usr/bin/python3", "interpreters") in by
    assert ("/usr/bin/apt-get", "package-managers") in by
    assert ("/usr/bin/helper", "setuid") in by
    assert by[("/drop", "world-writable")]["severity"] == "high"
    assert ("/home/dev/.ssh/deploy_key", "credentials") in by
    assert ("/.env", "credentials") in by
    assert ("/bin/sh", "shells") in by and ("/bin/busybox", "shells") in by
    assert rep["digest"] == digest(airlock, rootfs, cache_env)["digest"]
    for f in rep["findings"]:
        assert f["reason"] and f["severity"] in ("high", "medium", "low")

    res = airlock.run("image", "lint", "--forbid", "compilers,setuid", str(rootfs),
                      env=cache_env)
    assert res.rc == 2, res.describe()
    out = res.stdout.decode()
    assert "FORBID" in out and "/usr/bin/gcc-12" in out and "[forbidden]" in out
    res = airlock.run("image", "lint", "--forbid", "network-tools", str(rootfs), env=cache_env)
    assert res.rc == 1, res.describe()           # none of that category planted
    res = airlock.run("image", "lint", "--forbid", "no-such", str(rootfs), env=cache_env)
    assert res.rc == 125, res.describe()


def test_lint_of_a_clean_tree_exits_0(airlock, world_tmp, cache_env):
    (world_tmp / "data.txt").write_text("hello\n")
    res = airlock.run("image", "lint", str(world_tmp), env=cache_env)
    assert res.rc == 0, res.describe()
    assert b"0 findings" in res.stdout


# ---- hostile trees ----

def test_hostile_tree_links_and_names(airlock, world_tmp, cache_env):
    root = world_tmp
    (root / "loop1").symlink_to("loop2")
    (root / "loop2").symlink_to("loop1")
    (root / "out").symlink_to("/etc")
    (root / "up").symlink_to("../../../../../../etc/shadow")
    (root / "new\nline").write_text("a")
    (root / "new").write_text("b")
    (root / "sp ace").mkdir()
    res = airlock.run("image", "digest", "--listing", str(root), env=cache_env)
    assert res.rc == 0, res.describe()
    lines = res.stdout.split(b"\n")[:-1]
    assert lines[0] == b"airlock-image-listing 1"
    assert b"/loop1 l 0777" in res.stdout and b"/out l 0777" in res.stdout
    assert b"/out/" not in res.stdout                # never followed
    assert any(l.startswith(b"/new%0Aline f ") for l in lines)
    assert any(l.startswith(b"/sp%20ace d ") for l in lines)
    # one record per entry: "/", 4 links, 2 files, 1 dir
    assert len(lines) == 1 + 8, lines
    # a name with a newline cannot forge a record: the digests differ
    # between "new\nline" and a file "new" plus something else
    d1 = digest(airlock, root, cache_env)["digest"]
    (root / "new\nline").unlink()
    d2 = digest(airlock, root, cache_env)["digest"]
    assert d1 != d2


@pytest.fixture
def deep_tmp():
    d = mkdtemp_world("airlock-deep-")
    yield d
    # rm, not shutil.rmtree: that recurses 2000 levels deep in Python
    subprocess.run(["rm", "-rf", "--one-file-system", str(d)], check=False)


def test_hostile_tree_deep_nesting_is_refused(airlock, deep_tmp, cache_env):
    world_tmp = deep_tmp
    fd = os.open(world_tmp, os.O_RDONLY)
    try:
        for _ in range(2000):
            os.mkdir("d", dir_fd=fd)
            nfd = os.open("d", os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = nfd
    finally:
        os.close(fd)
    res = airlock.run("image", "digest", str(world_tmp), env=cache_env)
    assert res.rc == 1, res.describe()
    assert b"nested deeper than 256 levels" in res.stderr
    res = airlock.run("run", *airlock.extra, "--image", str(world_tmp), "--", "/bin/true",
                      env=cache_env)
    assert res.rc == EXIT_SETUP and b"nested deeper" in res.stderr, res.describe()


def test_hostile_cache_dir_is_not_followed(airlock, rootfs, tmp_path):
    """A cache directory that is a symlink (someone else's place) is not
    used; the digest is still right."""
    if os.geteuid() == 0:
        pytest.skip("root's cache is /var/lib/airlock/cache")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    xdg = tmp_path / "xdg"
    xdg.mkdir()
    (xdg / "airlock").symlink_to(elsewhere)
    env = dict(os.environ, XDG_CACHE_HOME=str(xdg))
    d = digest(airlock, rootfs, env)
    assert d["digest"] == digest(airlock, rootfs, env, "--no-cache")["digest"]
    assert not any(elsewhere.iterdir())
