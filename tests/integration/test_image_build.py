"""`airlock image build FILE` (docs/images.md, "Building an image"): a small
Debian image (busybox as the shell, python3-minimal) from an image file,
built twice to the same digest; its extra files, users and packages are in
it, it runs and the run records its digest; a forbid list refuses the build
when the image has a forbidden category (naming the findings, storing
nothing) and refuses a run of a stored image whose forbid list names a
category present in it (recorded, exit 125). Rootless builds need
subordinate ids (mmdebstrap --mode=unshare): without them the build is
refused, saying so, before anything is downloaded.

The builds download from the Debian mirror (a few MB, cached between builds
in airlock's .deb cache) and take seconds each; the rootful pass builds,
the rootless pass only checks what differs rootless."""
import hashlib
import json
import os
import pwd
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import EXIT_SETUP, is_rootless, log_records

MMDEBSTRAP = Path("/usr/bin/mmdebstrap")
STORE = Path("/var/lib/airlock/images")

needs_mmdebstrap = pytest.mark.skipif(not MMDEBSTRAP.exists(),
                                      reason="needs mmdebstrap (Makefile TEST_DEPS)")
rootful_only = pytest.mark.skipif(is_rootless(), reason="builds run in the rootful pass")


def image_file(path, name, forbid, extra_files=""):
    path.write_text(f"""\
# a small image: busybox as the shell, python3 without its standard library extras
suite: bookworm
packages: [python3-minimal]
files:
  - {{path: /etc/motd, content: "built by airlock\\n", mode: "0644"}}
  - {{path: /usr/local/bin/task.py, content: "print('task ran')\\n", mode: "0755"}}
  - {{path: /linuxrc, content: "not a link any more\\n"}}
{extra_files}users:
  - {{name: agent, uid: 1000}}
forbid: [{", ".join(forbid)}]
name: {name}
""")
    return path


MIRROR_DOWN = (b"Failed to fetch", b"Could not resolve", b"Temporary failure resolving",
               b"Unable to connect")


def skip_if_mirror_down(rc, stderr):
    """No Debian mirror is an environment without the network, not a bug:
    skip, saying so (the build itself failed closed: nothing stored)."""
    if rc != 0 and any(m in stderr for m in MIRROR_DOWN):
        pytest.skip("the Debian mirror is not reachable: "
                    + stderr.decode(errors="replace")[-300:])


def build(airlock, f, *opts, env=None):
    r = airlock.run("image", "build", *opts, str(f), timeout=600, env=env)
    skip_if_mirror_down(r.rc, r.stderr)
    return r


@pytest.fixture(scope="module")
def built(airlock_bin, tmp_path_factory):
    """The small image, built once for the module (rootful)."""
    if is_rootless():
        pytest.skip("builds run in the rootful pass")
    if not MMDEBSTRAP.exists():
        pytest.skip("needs mmdebstrap (Makefile TEST_DEPS)")
    d = tmp_path_factory.mktemp("build")
    name = "airlock-test/built-" + secrets.token_hex(4) + ":1"
    f = image_file(d / "small.yaml", name, ["compilers", "setuid"])
    busybox = Path("/bin/busybox")
    before = hashlib.sha256(busybox.read_bytes()).hexdigest() if busybox.exists() else None
    cp = subprocess.run([str(airlock_bin), "image", "build", "--json", str(f)],
                        capture_output=True, timeout=600, stdin=subprocess.DEVNULL)
    skip_if_mirror_down(cp.returncode, cp.stderr)
    assert cp.returncode == 0, cp.stderr.decode(errors="replace")[-3000:]
    res = json.loads(cp.stdout)
    yield dict(file=f, name=name, res=res, stderr=cp.stderr.decode(), busybox_before=before)
    subprocess.run([str(airlock_bin), "image", "rm", name], capture_output=True)


@needs_mmdebstrap
@rootful_only
def test_build_twice_gives_the_same_digest(airlock, built, tmp_path):
    first = built["res"]
    print("first build:", first)
    assert first["digest"].startswith("sha256:") and first["name"] == built["name"]
    assert first["mode"] == "root"
    # the same file again (its .debs now cached): the same digest, from scratch
    second = build(airlock, built["file"], "--json")
    assert second.rc == 0, second.stderr.decode(errors="replace")[-3000:]
    res2 = json.loads(second.stdout)
    print("second build:", res2)
    assert res2["digest"] == first["digest"]
    assert res2["deb_cache"] is True
    v = airlock.run("image", "verify", built["name"])
    assert v.rc == 0 and b"OK" in v.stdout, v.describe()


@needs_mmdebstrap
@rootful_only
def test_built_image_has_its_files_users_and_packages(airlock, built):
    digest = built["res"]["digest"]
    root = STORE / ("sha256-" + digest[7:])
    assert (root / "etc/motd").read_text() == "built by airlock\n"
    task = root / "usr/local/bin/task.py"
    assert task.stat().st_mode & 0o7777 == 0o755
    # an absolute link in the image (/linuxrc -> /bin/busybox) is replaced,
    # never followed out to the host's /bin/busybox
    assert (root / "linuxrc").is_file() and not (root / "linuxrc").is_symlink()
    assert (root / "linuxrc").read_text() == "not a link any more\n"
    if built["busybox_before"]:
        assert hashlib.sha256(Path("/bin/busybox").read_bytes()).hexdigest() == \
            built["busybox_before"]
    passwd = (root / "etc/passwd").read_text()
    assert "agent:x:1000:1000::/home/agent:/bin/sh" in passwd
    home = (root / "home/agent").stat()
    assert (home.st_uid, home.st_gid) == (1000, 1000)
    # nothing host-specific
    assert not (root / "etc/resolv.conf").exists() and not (root / "etc/hostname").exists()
    # nothing setuid, no device nodes (dropped by the importer)
    for p in root.rglob("*"):
        st = p.lstat()
        assert not (st.st_mode & 0o6000 and p.is_file() and not p.is_symlink()), p
    ins = airlock.run("image", "inspect", built["name"])
    assert ins.rc == 0, ins.describe()
    info = json.loads(ins.stdout)
    names = {p["name"]: p["version"] for p in info["package_list"]}
    assert "python3-minimal" in names and "busybox" in names and "dpkg" in names
    assert info["packages"] == len(names)
    assert info["forbid"] == ["compilers", "setuid"]
    assert info["digest"] == digest


@needs_mmdebstrap
@rootful_only
def test_built_image_runs_and_the_run_records_its_digest(airlock, built, tmp_path):
    log = tmp_path / "run.jsonl"
    r = airlock.run("run", "--log", log, "--image", built["name"], "--",
                    "/bin/sh", "-c", "cat /etc/motd; python3 /usr/local/bin/task.py")
    assert r.rc == 0, r.describe()
    assert r.stdout == b"built by airlock\ntask ran\n"
    start = [x for x in log_records(log) if x["type"] == "run_start"][0]
    assert start["image_digest"] == built["res"]["digest"]


@needs_mmdebstrap
@rootful_only
def test_forbid_refuses_the_build_naming_the_findings(airlock, tmp_path):
    name = "airlock-test/forbidden-" + secrets.token_hex(4) + ":1"
    f = image_file(tmp_path / "f.yaml", name, ["shells", "interpreters"])
    r = build(airlock, f)
    assert r.rc == 1, r.describe()
    err = r.stderr.decode(errors="replace")
    assert "refused" in err and "forbid list" in err, err[-2000:]
    assert "shells /bin/sh" in err and "interpreters /usr/bin/python3" in err, err[-2000:]
    # nothing stored under the name
    assert airlock.run("image", "inspect", name).rc != 0
    assert not list(STORE.glob(".staging-*"))


@needs_mmdebstrap
@rootful_only
def test_forbid_refuses_a_run_of_a_stored_image(airlock, built, tmp_path):
    """The forbid list is kept with the image and checked at every run start
    with this airlock's rules. A list naming a category the image has (as
    one written by a stricter airlock would) refuses the run before anything
    starts; the log records why."""
    digest = built["res"]["digest"]
    forbid = STORE / ("sha256-" + digest[7:] + ".forbid")
    assert forbid.read_text() == "compilers\nsetuid\n"
    saved = forbid.read_bytes()
    try:
        forbid.write_text("compilers\nshells\n")
        log = tmp_path / "run.jsonl"
        r = airlock.run("run", "--log", log, "--image", built["name"], "--", "/bin/true")
        assert r.rc == EXIT_SETUP, r.describe()
        err = r.stderr.decode(errors="replace")
        assert "image forbid" in err and "shells /bin/sh" in err, err
        recs = log_records(log)
        assert recs[0]["type"] == "run_start" and recs[0]["image_digest"] == digest
        end = [x for x in recs if x["type"] == "run_end"][0]
        assert end["verdict"] == "setup-error"
        assert not [x for x in recs if x["type"] == "exec"]
        # the same directory however it is named: a path with a trailing
        # slash, a symlink to it
        path = STORE / ("sha256-" + digest[7:])
        link = tmp_path / "img-link"
        link.symlink_to(path)
        for spelled in (str(path) + "/", str(link)):
            r = airlock.run("run", "--image", spelled, "--", "/bin/true")
            assert r.rc == EXIT_SETUP and b"image forbid" in r.stderr, (spelled, r.describe())
        # a list that cannot be read refuses too (never permits)
        forbid.write_text("no-such-category\n")
        r = airlock.run("run", "--image", built["name"], "--", "/bin/true")
        assert r.rc == EXIT_SETUP and b"forbid list" in r.stderr, r.describe()
    finally:
        forbid.write_bytes(saved)
    r = airlock.run("run", "--image", built["name"], "--", "/bin/true")
    assert r.rc == 0, r.describe()


@needs_mmdebstrap
def test_image_file_errors_name_the_place(airlock, tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("suite: bookworm\npackages: [python3-minimal, \"--allow-unauthenticated\"]\n")
    r = build(airlock, f)
    assert r.rc == 1
    assert b"bad.yaml:2:29: packages: '--allow-unauthenticated' is not a Debian package" \
        in r.stderr, r.describe()
    f.write_text("suite: bookworm\nfiles: [{path: /etc/x, content: a, mode: \"4755\"}]\n")
    r = build(airlock, f)
    assert r.rc == 1 and b"setuid and setgid bits are not allowed" in r.stderr, r.describe()


def has_subids():
    user = pwd.getpwuid(os.geteuid()).pw_name
    for fn in ("/etc/subuid", "/etc/subgid"):
        try:
            lines = Path(fn).read_text().splitlines()
        except OSError:
            return False
        if not any(l.split(":")[0] in (user, str(os.geteuid())) for l in lines):
            return False
    return shutil.which("newuidmap") is not None


@needs_mmdebstrap
@pytest.mark.skipif(not is_rootless(), reason="the rootless pass")
def test_rootless_build_uses_unshare_or_says_why_not(airlock, tmp_path):
    data, cache = tmp_path / "data", tmp_path / "cache"
    data.mkdir(mode=0o700)
    cache.mkdir(mode=0o700)
    env = dict(os.environ, XDG_DATA_HOME=str(data), XDG_CACHE_HOME=str(cache))
    f = image_file(tmp_path / "small.yaml", "airlock-test/rootless:1", ["compilers"])
    r = airlock.run("image", "build", "--json", str(f), env=env, timeout=600)
    skip_if_mirror_down(r.rc, r.stderr)
    if not has_subids():
        assert r.rc == 1, r.describe()
        err = r.stderr.decode()
        assert "subordinate ids" in err and "--mode=unshare" in err, err
        assert b"I: running apt-get update" not in r.stderr  # refused before downloading
        assert not list((data / "airlock/images").glob("sha256-*")) \
            if (data / "airlock/images").exists() else True
        return
    assert r.rc == 0, r.describe()
    res = json.loads(r.stdout)
    assert res["mode"] == "unshare"
    again = build(airlock, f, "--json", env=env)
    assert again.rc == 0 and json.loads(again.stdout)["digest"] == res["digest"]
