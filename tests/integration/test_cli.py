"""The command line and the spec as a user meets them: --version, --help,
bad options, bad specs (exit 125, file:line:col, nothing started), and a good
spec that the sandbox really follows (command-line options override it)."""
import re
import textwrap

import pytest

from conftest import (EXIT_SETUP, PROBE_MOUNT_MODE, REPO, SANDBOX_PROBE, SANDBOX_PROBE_DIR,
                      make_world_writable)


def project_version():
    m = re.search(r"version\s*:\s*'([^']+)'", (REPO / "meson.build").read_text())
    return m.group(1)


def test_version(airlock):
    for args in (["--version"], ["version"]):
        res = airlock.run(*args)
        assert res.rc == 0, res.describe()
        assert project_version() in res.stdout.decode(), res.describe()


@pytest.mark.parametrize("args", [["--help"], ["help"], ["help", "run"], ["run", "--help"]])
def test_help(airlock, args):
    res = airlock.run(*args)
    assert res.rc == 0, res.describe()
    text = res.stdout.decode()
    assert "run" in text
    if "run" in args:
        for opt in ("--volume", "--workspace", "--workdir", "--env", "--user", "--hostname",
                    "--image", "--timeout", "--spec", "--log", "--quiet", "--export"):
            assert opt in text, f"`airlock {' '.join(args)}` does not mention {opt}"


@pytest.mark.parametrize("args", [
    ["run", "--no-such-option", "--", "/bin/true"],
    ["run", "-Z", "--", "/bin/true"],
    ["no-such-command"],
    ["run", "--timeout", "soon", "--", "/bin/true"],
    ["run", "--user", "root-please", "--", "/bin/true"],
    ["run", "-v", "/tmp", "--", "/bin/true"],
    ["run", "-v", "/tmp:relative/path", "--", "/bin/true"],
    ["run", "-v", "/tmp:/x:rwx", "--", "/bin/true"],
    ["run", "-e", "NOEQUALS", "--", "/bin/true"],
    ["run"],
])
def test_bad_command_line_is_125(airlock, args):
    res = airlock.run(*args)
    assert res.rc == EXIT_SETUP, res.describe()
    assert res.stderr.strip(), "no error message"
    assert res.stdout == b"", "something ran"


# ---------- the spec ----------

def _started_probe(world_tmp):
    """A volume the probe would write 'started' into: proof that nothing ran."""
    out = world_tmp / "out"
    out.mkdir()
    make_world_writable(out)
    return out


BAD_SPECS = [
    # (name, spec text, line of the error, key named)
    ("unknown-key", """\
        hostname: box
        imagee: host
        """, 2, "imagee"),
    ("unknown-nested-key", """\
        limits:
          memory: 1GiB
          memroy: 2GiB
        """, 3, "memroy"),
    ("wrong-type", """\
        hostname: box
        limits:
          pids: [1, 2]
        """, 3, "pids"),
    ("wrong-type-string-for-map", """\
        env: "A=B"
        """, 1, "env"),
    ("bad-size", """\
        limits:
          memory: 12 parsecs
        """, 2, "memory"),
    ("bad-duration", """\
        limits:
          timeout: soonish
        """, 2, "timeout"),
    ("negative-size", """\
        limits: { disk: -5MiB }
        """, 1, "disk"),
    ("syntax-error", """\
        hostname: box
        env: { A: [unclosed
        """, None, None),
]


@pytest.mark.parametrize("name,text,line,key", BAD_SPECS, ids=[b[0] for b in BAD_SPECS])
def test_bad_spec_is_125_with_location_and_nothing_starts(airlock, world_tmp, name, text, line, key):
    out = _started_probe(world_tmp)
    spec = world_tmp / f"{name}.yaml"
    spec.write_text(textwrap.dedent(text))
    res = airlock.probe("write", "/out/started", "yes",
                        opts=["--spec", str(spec), "-v", f"{out}:/out:rw,owner=root"])
    assert res.rc == EXIT_SETUP, res.describe()
    err = res.stderr.decode()
    m = re.search(re.escape(str(spec)) + r":(\d+):(\d+)", err)
    assert m, f"error does not name file:line:col: {err!r}"
    if line is not None:
        assert int(m.group(1)) == line, f"error at line {m.group(1)}, expected {line}: {err!r}"
    assert int(m.group(2)) >= 1
    if key:
        assert key in err, f"error does not name the key {key}: {err!r}"
    assert not (out / "started").exists(), "the workload ran despite the bad spec"
    assert res.stdout == b""


def test_missing_spec_file_is_125(airlock, world_tmp):
    res = airlock.run("run", "--spec", str(world_tmp / "nope.yaml"), "--", "/bin/true")
    assert res.rc == EXIT_SETUP, res.describe()
    assert "nope.yaml" in res.stderr.decode()


def test_json_spec_error_location(airlock, world_tmp):
    spec = world_tmp / "s.json"
    spec.write_text('{\n  "hostname": "box",\n  "bogus": 1\n}\n')
    res = airlock.run("run", "--spec", str(spec), "--", "/bin/true")
    assert res.rc == EXIT_SETUP, res.describe()
    assert re.search(re.escape(str(spec)) + r":3:\d+", res.stderr.decode()), res.describe()


@pytest.mark.usefixtures("airlock_works")
def test_good_spec_is_followed_and_cli_overrides(airlock, world_tmp):
    spec = world_tmp / "good.yaml"
    spec.write_text(textwrap.dedent(f"""\
        # a spec with the settings a user would set
        hostname: from-spec
        user: 2000
        workdir: /tmp
        env:
          FROM_SPEC: "yes"
          OVERRIDDEN: spec
        volumes:
          - {airlock.probe_dir}:{SANDBOX_PROBE_DIR}:{PROBE_MOUNT_MODE}
        command: [{SANDBOX_PROBE}, status, ",", hostname, ",", env, ",", cwd]
        """))
    res = airlock.run("run", *airlock.extra, "--spec", str(spec))
    assert res.rc == 0, res.describe()
    st, hn, cwd = res.one("status"), res.one("hostname"), res.one("cwd")
    env = dict(e.split("=", 1) for e in res.one("env")["env"])
    assert st["uid"] == 2000 and hn["nodename"] == "from-spec" and cwd["cwd"] == "/tmp", res.describe()
    assert env.get("FROM_SPEC") == "yes" and env.get("OVERRIDDEN") == "spec", env
    # the command line wins over the spec
    res = airlock.run("run", *airlock.extra, "--spec", str(spec), "--hostname", "from-cli", "-e", "OVERRIDDEN=cli",
                      "--user", "3000", "--", SANDBOX_PROBE, "status", ",", "hostname", ",", "env")
    assert res.rc == 0, res.describe()
    env = dict(e.split("=", 1) for e in res.one("env")["env"])
    assert res.one("status")["uid"] == 3000
    assert res.one("hostname")["nodename"] == "from-cli"
    assert env.get("OVERRIDDEN") == "cli" and env.get("FROM_SPEC") == "yes", env


@pytest.mark.usefixtures("airlock_works")
def test_quiet_prints_nothing_of_airlock(airlock):
    res = airlock.probe("echo", "hi", opts=["-q"])
    assert res.rc == 0 and res.stderr == b"", res.describe()


# ---- human output is escaped one way everywhere (util/escape.c) -------------

# what a terminal acts on: C0 (ESC, BEL, CR), DEL, C1 (CSI, NEL), bidi overrides
# and isolates. Newlines are checked separately (a message is one line).
TERMINAL_ACTIVE = ["\x1b", "\x07", "\r", "\x7f", "\u009b", "\u0085", "\u202e", "\u202a",
                   "\u2066", "\u2069"]


def raw_controls(data: bytes):
    text = data.decode("utf-8", errors="surrogateescape")
    return [c for c in TERMINAL_ACTIVE if c in text]


def test_error_messages_escape_what_the_spec_says(airlock, world_tmp):
    """A hostile value quoted in an error (the hostname here) reaches the
    caller's terminal escaped: no ESC/BEL/C1/bidi, no line of its own."""
    hostile = "a\nairlock: fake line\x1b[31m\x07\u009b2J\u202eevil\u2066"
    res = airlock.run("run", "--hostname", hostile, "--", "/bin/true")
    assert res.rc == EXIT_SETUP, res.describe()
    assert raw_controls(res.stderr) == [], res.stderr
    lines = res.stderr.decode().splitlines()
    assert len(lines) == 1 and "hostname" in lines[0], lines
    for shown in ("\\n", "\\x1b[31m", "\\x07", "\\x9b2J", "\\u202eevil", "\\u2066"):
        assert shown in lines[0], (shown, lines[0])
    # the same through a spec file (JSON escapes give the loader raw bytes)
    spec = world_tmp / "hostile.json"
    spec.write_text('{"hostname": "x\\n\\u001b]0;pwned\\u0007\\u202e"}\n')
    res = airlock.run("run", "--spec", str(spec), "--", "/bin/true")
    assert res.rc == EXIT_SETUP, res.describe()
    assert raw_controls(res.stderr) == [] and len(res.stderr.decode().splitlines()) == 1, res.stderr


def test_workspace_summary_escapes_c1_and_bidi(airlock, world_tmp):
    """File names the workload chose are printed in the change summary with
    the same escaping as `log show`: C1 controls and bidi overrides too (the
    summary used JSON escaping, which lets both through)."""
    ws = world_tmp / "ws"
    ws.mkdir()
    make_world_writable(ws)
    names = ["csi\u009b2J", "nel\u0085x", "rlo\u202etxt.exe", "iso\u2066x\u2069", "del\x7fx"]
    cmd = []
    for n in names:
        cmd += ["write", "/workspace/" + n, "x", ","]
    res = airlock.run("run", *airlock.extra, "-v",
                      f"{airlock.probe_dir}:{SANDBOX_PROBE_DIR}:{PROBE_MOUNT_MODE}",
                      "--workspace", str(ws), "--", SANDBOX_PROBE, *cmd[:-1])
    assert res.rc == 0, res.describe()
    err = res.stderr
    assert b"workspace changes: 5 created" in err, err
    assert raw_controls(err) == [], err
    for shown in ("csi\\x9b2J", "nel\\x85x", "rlo\\u202etxt.exe", "iso\\u2066x\\u2069", "del\\x7fx"):
        assert shown.encode() in err, (shown, err)
