"""Volumes give the host nothing privileged, proven on the host's side.

The rule (docs/isolation.md): nothing the sandbox writes through a volume is
privileged on the host. Rootful, a volume's owner is idmapped to the sandbox
user, but never host uid/gid 0 unless the caller says owner=root: a
read-write volume on a root-owned directory is refused, a read-only one shows
root's files as nobody's. In both modes the seccomp filter refuses every
setuid/setgid mode (chmod family, open/creat/mkdir/mknod with a mode), and
the kernel refuses file capabilities (no CAP_SETFCAP). Each test attacks from
inside (as sandbox root where that is the stronger attacker) and then looks
at the files on the host.
"""
import json
import os
import shutil
import stat
import subprocess
import textwrap
from pathlib import Path

import pytest

from conftest import EXIT_SETUP, is_rootless, mkdtemp_world

PY = "/usr/bin/python3"
# an unprivileged host owner for rootful volumes (no such user needs to exist)
UNPRIV = 54321


@pytest.fixture(autouse=True)
def _need(airlock_works):
    if not Path(PY).exists():
        pytest.skip("python3 not on this host (the default image)")


@pytest.fixture
def vol():
    """A volume directory owned by an unprivileged host user: rootful, a
    made-up uid/gid; rootless, the caller."""
    d = mkdtemp_world("airlock-vol-")
    if not is_rootless():
        os.chown(d, UNPRIV, UNPRIV)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def expected_owner():
    return (os.getuid(), os.getgid()) if is_rootless() else (UNPRIV, UNPRIV)


def run_py(airlock, code, opts=(), user=None):
    args = ["run", *airlock.extra, *opts]
    if user is not None:
        args += ["--user", user]
    res = airlock.run(*args, "--", PY, "-c", textwrap.dedent(code), timeout=60)
    return res


# struct vfs_cap_data, revision 2, effective, permitted = CAP_SETUID (7)
CAP_SETUID_XATTR = "struct.pack('<IIIII', 0x02000001, 1 << 7, 0, 0, 0)"

ATTACK = f"""
import errno, json, os, shutil, stat, struct
res = {{}}
def t(name, f):
    try:
        f()
        res[name] = "ok"
    except OSError as e:
        res[name] = errno.errorcode[e.errno]
shutil.copyfile('/bin/sh', '/vol/sh')
os.chmod('/vol/sh', 0o755)
t('chmod_6755', lambda: os.chmod('/vol/sh', 0o6755))
t('chmod_4755', lambda: os.chmod('/vol/sh', 0o4755))
t('chmod_2755', lambda: os.chmod('/vol/sh', 0o2755))
t('fchmod_4755', lambda: os.fchmod(os.open('/vol/sh', os.O_RDONLY), 0o4755))
t('chmod_at_2711', lambda: os.chmod('sh', 0o2711, dir_fd=os.open('/vol', os.O_RDONLY)))
t('open_creat_4755', lambda: os.close(os.open('/vol/c1', os.O_CREAT | os.O_WRONLY, 0o4755)))
t('open_creat_2755', lambda: os.close(os.open('/vol/c2', os.O_CREAT | os.O_WRONLY, 0o2755)))
t('open_tmpfile_6755', lambda: os.close(os.open('/vol', os.O_TMPFILE | os.O_WRONLY, 0o6755)))
t('mkdir_2775', lambda: os.mkdir('/vol/d1', 0o2775))
t('mkdir_4775', lambda: os.mkdir('/vol/d2', 0o4775))
t('mknod_reg_4755', lambda: os.mknod('/vol/n1', stat.S_IFREG | 0o4755))
t('mknod_fifo_2644', lambda: os.mknod('/vol/n2', stat.S_IFIFO | 0o2644))
t('chown_1_1', lambda: os.chown('/vol/sh', 1, 1))
t('chown_65534', lambda: os.chown('/vol/sh', 65534, 65534))
t('setcap', lambda: os.setxattr('/vol/sh', 'security.capability', {CAP_SETUID_XATTR}))
t('setcap_dir', lambda: os.setxattr('/vol', 'security.capability', {CAP_SETUID_XATTR}))
# what must still work: plain modes and files
t('chmod_plain', lambda: os.chmod('/vol/sh', 0o750))
t('creat_plain', lambda: os.close(os.open('/vol/plain', os.O_CREAT | os.O_WRONLY, 0o755)))
t('mkdir_plain', lambda: os.mkdir('/vol/dplain', 0o1777))
print(json.dumps(res))
"""

SETID_ATTEMPTS = ("chmod_6755", "chmod_4755", "chmod_2755", "fchmod_4755", "chmod_at_2711",
                  "open_creat_4755", "open_creat_2755", "open_tmpfile_6755", "mkdir_2775",
                  "mkdir_4775", "mknod_reg_4755", "mknod_fifo_2644")


def host_privileges(root):
    """Everything on the host under root that would be a privilege: set-id
    bits on anything but a directory, set-uid anywhere, a file capability,
    or (rootful) an owner of uid/gid 0."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames + ["."]:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            if st.st_mode & stat.S_ISUID:
                found.append(f"{p}: setuid {oct(st.st_mode)}")
            if st.st_mode & stat.S_ISGID and not stat.S_ISDIR(st.st_mode):
                found.append(f"{p}: setgid {oct(st.st_mode)}")
            if st.st_uid == 0 or st.st_gid == 0:
                found.append(f"{p}: owned by {st.st_uid}:{st.st_gid}")
            if not stat.S_ISLNK(st.st_mode):
                try:
                    os.getxattr(p, "security.capability", follow_symlinks=False)
                    found.append(f"{p}: has a file capability")
                except OSError:
                    pass
    return found


@pytest.mark.parametrize("user", ["0", None], ids=["sandbox-root", "default-user"])
def test_rw_volume_yields_no_setid_file_owner_or_capability(airlock, vol, user):
    res = run_py(airlock, ATTACK, ["-v", f"{vol}:/vol:rw"], user)
    assert res.rc == 0, res.describe()
    got = json.loads(res.stdout.decode().strip().splitlines()[-1])
    for name in SETID_ATTEMPTS:
        assert got[name] == "EPERM", (name, got)
    # no CAP_CHOWN, and other ids are not mapped through the volume
    assert got["chown_1_1"] != "ok" and got["chown_65534"] != "ok", got
    # no CAP_SETFCAP in any namespace: the kernel refuses file capabilities
    assert got["setcap"] == "EPERM" and got["setcap_dir"] == "EPERM", got
    assert got["chmod_plain"] == "ok" and got["creat_plain"] == "ok", got
    assert got["mkdir_plain"] == "ok", got
    assert host_privileges(vol) == [], host_privileges(vol)
    st = os.stat(vol / "sh")
    assert (st.st_uid, st.st_gid) == expected_owner(), st
    assert stat.S_IMODE(st.st_mode) == 0o750
    assert not (vol / "c1").exists() and not (vol / "d1").exists() and not (vol / "n1").exists()


def test_setgid_directory_gives_no_setgid_file(airlock, vol):
    """A setgid directory in a volume: what is created in it gets the
    directory's group (and a new directory its setgid bit, as the kernel
    does), but no file becomes setgid or setuid, whichever way it is made."""
    sg = vol / "sg"
    sg.mkdir()
    if not is_rootless():
        os.chown(sg, UNPRIV, UNPRIV)
    sg.chmod(0o2777)
    code = """
    import errno, json, os, shutil
    res = {}
    def t(name, f):
        try:
            f(); res[name] = "ok"
        except OSError as e:
            res[name] = errno.errorcode[e.errno]
    t('file', lambda: os.close(os.open('/vol/sg/f', os.O_CREAT | os.O_WRONLY, 0o755)))
    t('exe', lambda: shutil.copy('/bin/true', '/vol/sg/true'))
    t('dir', lambda: os.mkdir('/vol/sg/d', 0o755))
    t('file_in_subdir', lambda: os.close(os.open('/vol/sg/d/g', os.O_CREAT | os.O_WRONLY, 0o775)))
    t('file_2755', lambda: os.close(os.open('/vol/sg/h', os.O_CREAT | os.O_WRONLY, 0o2755)))
    t('chmod_g+s', lambda: os.chmod('/vol/sg/f', 0o2755))
    t('copy_keeps_mode', lambda: shutil.copy2('/vol/sg/f', '/vol/sg/f2'))
    print(json.dumps(res))
    """
    for user in ("0", None):
        res = run_py(airlock, code, ["-v", f"{vol}:/vol:rw"], user)
        assert res.rc == 0, res.describe()
        got = json.loads(res.stdout.decode().strip().splitlines()[-1])
        assert got["file"] == "ok" and got["dir"] == "ok" and got["exe"] == "ok", got
        assert got["file_in_subdir"] == "ok", got
        assert got["file_2755"] == "EPERM" and got["chmod_g+s"] == "EPERM", got
        assert host_privileges(vol) == [], host_privileges(vol)
        for f in ("f", "true", "d/g"):
            st = os.stat(sg / f)
            assert not st.st_mode & (stat.S_ISUID | stat.S_ISGID), (f, oct(st.st_mode))
        assert os.stat(sg / "d").st_mode & stat.S_ISGID  # inherited by directories only
        shutil.rmtree(sg)
        sg.mkdir()
        if not is_rootless():
            os.chown(sg, UNPRIV, UNPRIV)
        sg.chmod(0o2777)


@pytest.mark.skipif(is_rootless(), reason="rootless: the caller cannot own root's directories, "
                    "and root's ids are not mapped at all")
def test_rw_volume_on_root_owned_directory_is_refused(airlock):
    """The reported escape: `-v $PWD/vol:/vol:rw` with a root-owned vol, then
    cp /bin/sh + chmod 6755 left a setuid-root shell on the host."""
    d = mkdtemp_world("airlock-vol-")
    try:
        for owner in ((0, 0), (UNPRIV, 0), (0, UNPRIV)):
            os.chown(d, *owner)
            res = airlock.run("run", "-v", f"{d}:/vol:rw", "--", "/bin/sh", "-c",
                              "cp /bin/sh /vol/rootsh && chmod 6755 /vol/rootsh")
            assert res.rc == EXIT_SETUP, (owner, res.describe())
            err = res.stderr.decode()
            assert "owner=root" in err and str(d) in err, err
            assert not (Path(d) / "rootsh").exists()
        # explicitly asked for: root-owned files, but still never set-id
        os.chown(d, 0, 0)
        for opt in ("rw,owner=root", "owner=root,rw"):
            res = airlock.run("run", "-v", f"{d}:/vol:{opt}", "--", "/bin/sh", "-c",
                              "cp /bin/sh /vol/rootsh; chmod 6755 /vol/rootsh; echo rc=$?")
            assert res.rc == 0 and b"rc=1" in res.stdout, res.describe()
            st = os.stat(Path(d) / "rootsh")
            assert st.st_uid == 0 and not st.st_mode & (stat.S_ISUID | stat.S_ISGID), oct(st.st_mode)
            os.unlink(Path(d) / "rootsh")
        spec = Path(d) / "spec.yaml"
        spec.write_text(f"volumes:\n  - {{host: {d}, path: /vol, mode: rw, owner: root}}\n")
        spec.chmod(0o644)
        res = airlock.run("run", "--spec", str(spec), "--", "/bin/sh", "-c", "echo x > /vol/f")
        assert res.rc == 0 and os.stat(Path(d) / "f").st_uid == 0, res.describe()
        spec.write_text(f"volumes:\n  - {{host: {d}, path: /vol, mode: rw, owner: nobody}}\n")
        res = airlock.run("run", "--spec", str(spec), "--", "/bin/true")
        assert res.rc == EXIT_SETUP and b"owner" in res.stderr, res.describe()
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.mark.skipif(is_rootless(), reason="rootless: the test cannot make root-owned files; "
                    "root's ids are not in the user namespace's map at all")
def test_read_only_volume_shows_root_files_as_nobody(airlock):
    """A read-only volume of root's: its 0600 files stay unreadable (they
    appear as nobody's, not the sandbox user's), 0644 ones are readable."""
    d = mkdtemp_world("airlock-vol-")
    try:
        (d / "secret").write_text("root-only\n")
        (d / "secret").chmod(0o600)
        (d / "public").write_text("everyone\n")
        (d / "public").chmod(0o644)
        code = """
        import errno, json, os
        res = {}
        for f in ('secret', 'public'):
            try:
                res[f] = open('/vol/' + f).read()
            except OSError as e:
                res[f] = errno.errorcode[e.errno]
            res[f + '_uid'] = os.stat('/vol/' + f).st_uid
        print(json.dumps(res))
        """
        for user in ("0", None):
            for mode in ("", ":ro"):
                res = run_py(airlock, code, ["-v", f"{d}:/vol{mode}"], user)
                assert res.rc == 0, res.describe()
                got = json.loads(res.stdout.decode().strip().splitlines()[-1])
                assert got["secret"] == "EACCES", got
                assert got["public"] == "everyone\n", got
                assert got["secret_uid"] == 65534 and got["public_uid"] == 65534, got
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_volume_option_errors(airlock, vol):
    for bad in ("ro,rw", "rw,", "exec", "noexec,noexec", "owner=nobody", ""):
        res = airlock.run("run", *airlock.extra, "-v", f"{vol}:/vol:{bad}", "--", "/bin/true")
        assert res.rc == EXIT_SETUP, (bad, res.describe())
