"""`airlock exec -t` and `airlock shell`: the pseudo-terminal is made in the
sandbox's own devpts instance (never the caller's terminal), relayed both
ways, sized like the caller's and resized with it. Driven from a real pty on
the caller's side (python's pty module)."""
import fcntl
import os
import pty
import select
import struct
import termios
import time

import pytest

from test_sessions import Session


@pytest.fixture(scope="module")
def sess(airlock):
    s = Session(airlock)
    yield s
    if s.status() is not None:
        s.rm()


def drive(airlock, args, steps=(), size=(33, 111), timeout=20):
    """Run airlock ARGS on a new pty of the caller's; steps: (wait-for-bytes,
    action) where action is bytes to type or a (rows, cols) resize."""
    pid, fd = pty.fork()
    if pid == 0:
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", size[0], size[1], 0, 0))
        os.execv(str(airlock.binary), [str(airlock.binary), *map(str, args)])
    out, steps, t0 = b"", list(steps), time.time()
    while time.time() - t0 < timeout:
        if steps and steps[0][0] in out:
            _, act = steps.pop(0)
            if isinstance(act, tuple):
                fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", act[0], act[1], 0, 0))
            else:
                os.write(fd, act)
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                d = os.read(fd, 65536)
            except OSError:
                break
            if not d:
                break
            out += d
    _, st = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(st), out.decode(errors="replace")


def test_tty_is_the_sandboxs_own(airlock, sess):
    rc, out = drive(airlock, ["exec", sess.id, "-t", "-i", "--", "sh", "-c",
                              "tty; stty size; ls /dev/pts; echo TERM=$TERM; read x; echo got:$x; exit 3"],
                    steps=[(b"TERM=", b"hello\r")])
    assert rc == 3, out
    lines = out.replace("\r", "").split("\n")
    assert lines[0] == "/dev/pts/0", out            # the first pty of the sandbox's devpts
    assert lines[1] == "33 111", out                 # the caller's size
    assert lines[2].split() == ["0", "ptmx"], out    # no host pty is visible inside
    assert "got:hello" in out, out
    recs = [r for r in sess.records() if r["type"] == "session_exec" and r.get("tty")]
    assert recs, "the exec record says it had a tty"


def test_tty_cannot_inject_into_the_callers_terminal(airlock, sess):
    # TIOCSTI (type into a terminal) is refused; and the terminal the command
    # holds is the sandbox's, so nothing reaches the caller's shell anyway
    rc, out = drive(airlock, ["exec", sess.id, "-t", "--", "python3", "-c",
                              "import fcntl, termios\n"
                              "try:\n    fcntl.ioctl(0, termios.TIOCSTI, b'x'); print('INJECTED')\n"
                              "except OSError as e:\n    print('refused', e.errno)"])
    assert rc == 0 and "refused 1" in out and "INJECTED" not in out, out


def test_resize_is_relayed(airlock, sess):
    rc, out = drive(airlock, ["exec", sess.id, "-t", "-i", "--", "sh", "-c",
                              "stty size; echo ready; read x; stty size"],
                    steps=[(b"ready", (50, 160)), (b"ready", b"go\r")])
    assert rc == 0, out
    assert "33 111" in out and "50 160" in out, out


def test_without_t_there_is_no_tty(airlock, sess):
    r = sess.exec("sh", "-c", "tty; true")
    assert b"not a tty" in r.stdout, r.describe()


def test_shell_is_an_interactive_login_shell(airlock, sess):
    rc, out = drive(airlock, ["shell", sess.id],
                    steps=[(b"$", b"echo SHELL-OK $(id -u) $-; exit 7\r")])
    assert rc == 7, out
    assert "SHELL-OK" in out and "i" in out.split("SHELL-OK")[-1].split("\n")[0], out
