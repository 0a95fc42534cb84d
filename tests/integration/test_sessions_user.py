"""`airlock exec --user`: root and other users inside a rootful session.
Root is uid 0 of the sandbox's user namespace with a small set of
capabilities that reach only the sandbox's own ids: the probes prove it
cannot mount, unshare, ptrace, load modules, read host files of unmapped
ids, or raise what it holds. /etc is the session's own copy, so a user that
root adds is usable by the next exec. Rootless sessions map one uid: there
is no root to become (refused, clearly)."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import is_rootless, mkdtemp_world
from test_sessions import Session

pytestmark = pytest.mark.skipif(is_rootless(), reason="a rootless session maps one uid: no root inside")

# capabilities root keeps in a session (src/sandbox/caps.c SESSION_ROOT_CAPS):
# CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID NET_BIND_SERVICE
ROOT_CAPS = 0x4FF


@pytest.fixture(scope="module")
def tools(probe_bin):
    d = mkdtemp_world("airlock-user-")
    for b in (probe_bin, probe_bin.parent / "try_syscall"):
        shutil.copy2(b, d / b.name)
        (d / b.name).chmod(0o755)
    secret = d / "root-only"
    secret.write_text("HOST-ROOT-ONLY\n")
    secret.chmod(0o600)  # owned by host root: unmapped inside
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def sess(airlock, tools):
    s = Session(airlock, "-v", f"{tools}:/t:ro")
    yield s
    if s.status() is not None:
        s.rm()


def caps(out):
    return {l.split(":")[0]: int(l.split()[1], 16) for l in out.splitlines() if l.startswith("Cap")}


def test_root_and_the_default_user(sess):
    r = sess.exec("sh", "-c", "id -u; grep ^Cap /proc/self/status", opts=("--user", "root"))
    assert r.rc == 0, r.describe()
    out = r.stdout.decode()
    assert out.splitlines()[0] == "0"
    c = caps(out)
    assert c["CapEff"] == ROOT_CAPS and c["CapPrm"] == ROOT_CAPS and c["CapBnd"] == ROOT_CAPS, c
    assert c["CapInh"] == 0 and c["CapAmb"] == 0, c
    # the default user and any other: nothing at all
    for opts in ((), ("--user", "4321")):
        r = sess.exec("sh", "-c", "id -u; grep ^Cap /proc/self/status; grep NoNewPrivs /proc/self/status",
                      opts=opts)
        assert r.rc == 0, r.describe()
        out = r.stdout.decode()
        c = caps(out)
        assert c["CapEff"] == 0 and c["CapPrm"] == 0 and c["CapInh"] == 0 and c["CapAmb"] == 0, c
        assert "NoNewPrivs:\t1" in out
    assert sess.exec("id", "-u", opts=("--user", "4321")).stdout == b"4321\n"
    assert sess.exec("id", "-u", opts=("--user", "0")).stdout == b"0\n"


def test_root_adds_a_user_the_next_exec_can_be(sess):
    r = sess.exec("sh", "-c", "echo 'eve:x:2345:2346:Eve:/tmp:/bin/sh' >> /etc/passwd && "
                  "mkdir -p /var/tmp/tools && chown 2345:2346 /var/tmp/tools", opts=("--user", "root"))
    assert r.rc == 0, r.describe()
    r = sess.exec("sh", "-c", "id -u; id -g; touch /var/tmp/tools/x && stat -c %u:%g /var/tmp/tools/x",
                  opts=("--user", "eve"))
    assert r.rc == 0, r.describe()
    assert r.stdout.decode().split() == ["2345", "2346", "2345:2346"]
    # unknown names are refused, not run as someone else
    r = sess.exec("id", opts=("--user", "mallory"))
    assert r.rc == 125 and b"no such user" in r.stderr, r.describe()
    r = sess.exec("id", opts=("--user", "../etc"))
    assert r.rc == 125, r.describe()
    # the default user cannot change /etc; the host's /etc is untouched
    assert sess.exec("sh", "-c", "echo x >> /etc/passwd").rc != 0
    assert "eve:x:2345" not in Path("/etc/passwd").read_text()


def test_a_hostile_passwd_is_bounded(sess):
    script = ("python3 - <<'EOF'\n"
              "with open('/etc/passwd', 'a') as f:\n"
              "    f.write('x' * 300000 + '\\n')\n"
              "    f.write('a:b\\n::::\\nbad:x:99999999:1::/:/bin/sh\\nneg:x:-1:-1::/:/bin/sh\\n')\n"
              "    f.write('far:x:3456:3456::/:/bin/sh\\n')\n"
              "EOF")
    assert sess.exec("sh", "-c", script, opts=("--user", "root")).rc == 0
    for u in ("bad", "neg", "far"):  # "far" lies past the 256 KiB read: not found
        r = sess.exec("id", "-u", opts=("--user", u))
        assert r.rc == 125, r.describe()
    r = sess.exec("id", "-u", opts=("--user", "eve"))
    assert r.rc == 0 and r.stdout == b"2345\n", r.describe()


def test_root_has_nothing_that_matters_outside(sess, tools):
    # the syscalls the sandbox refuses, refused to root just the same
    r = sess.exec("/t/try_syscall", "mount", "umount2", "unshare", "setns", "ptrace", "init_module",
                  "bpf", "kexec_load", "chroot", "pivot_root", "open_by_handle_at", "reboot", "swapon",
                  opts=("--user", "root"))
    assert r.rc == 0, r.describe()
    lines = r.stdout.decode().splitlines()
    assert len(lines) == 13, lines
    for line in lines:
        assert '"ret":-1' in line or '"signal"' in line, line
    # a host file of an unmapped owner: CAP_DAC_OVERRIDE does not reach it
    r = sess.exec("/t/probe", "read", "/t/root-only", opts=("--user", "root"))
    assert '"ok":false' in r.stdout.decode() and "EACCES" in r.stdout.decode(), r.describe()
    # nor can root take an unmapped id, or write the kernel's knobs
    r = sess.exec("/t/probe", "sysctl-write", opts=("--user", "root"))
    assert '"ok":false' in r.stdout.decode(), r.describe()
    r = sess.exec("python3", "-c", "import os\ntry:\n os.setuid(70000)\nexcept OSError as e:\n print(e.errno)",
                  opts=("--user", "root"))
    assert r.stdout.strip() == b"22", r.describe()
    # the sandbox's init (pid 1) is out of its reach
    r = sess.exec("sh", "-c", "cat /proc/1/environ >/dev/null 2>&1; echo $?; kill -9 1; echo $?",
                  opts=("--user", "root"))
    assert r.stdout.decode().split()[0] != "0", r.describe()
    assert sess.exec("true").rc == 0


def test_exec_records_say_who(sess):
    assert sess.exec("true", opts=("--user", "root")).rc == 0
    recs = [r for r in sess.records() if r["type"] == "session_exec" and r.get("user") == "root"]
    assert recs, [r for r in sess.records() if r["type"] == "session_exec"][-3:]


def test_cp_as_root_and_the_tool_injection_sequence_as_root(airlock, sess, tmp_path):
    import asyncio, io, sys, tarfile
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "clients" / "python"))
    from airlock_sandbox import Sandbox
    # cp --user root writes root's files, with no capability: still within
    # the permissions of what it writes into
    f = tmp_path / "f"
    f.write_text("rooted\n")
    assert airlock.run("cp", "--user", "root", f, f"{sess.id}:/etc/airlock-test").rc == 0
    r = sess.exec("stat", "-c", "%u:%g %a", "/etc/airlock-test")
    assert r.stdout == b"0:0 644\n", r.describe()
    assert airlock.run("cp", f, f"{sess.id}:/etc/not-agents").rc == 125
    r = airlock.run("cp", "--user", "../x", f, f"{sess.id}:/tmp/y")
    assert r.rc == 125, r.describe()
    tool = Path("/usr/bin/true").read_bytes()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        info = tarfile.TarInfo("tools/inspect-tool")
        info.size = len(tool)
        info.mode = 0o644
        tf.addfile(info, io.BytesIO(tool))
    sb = Sandbox(sess.id, str(airlock.binary))

    async def go():
        d = "/var/tmp/.inspect-tools-root"
        assert (await sb.exec(["mkdir", "-p", d], user="root")).success
        await sb.write_file(f"{d}/tools.tar.gz", buf.getvalue(), user="root")
        r = await sb.exec(["tar", "xzf", f"{d}/tools.tar.gz", "-C", d], user="root")
        assert r.success, r.stderr
        assert (await sb.exec(["chmod", "700", f"{d}/tools/inspect-tool"], user="root")).success
        r = await sb.exec([f"{d}/tools/inspect-tool"], user="root")
        assert r.success and r.returncode == 0, r
        # root's 0700 tool is not the default user's
        r = await sb.exec([f"{d}/tools/inspect-tool"])
        assert r.returncode == 126, r
        assert await sb.read_file(f"{d}/tools.tar.gz", text=False, user="root") == buf.getvalue()
    asyncio.run(go())
