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
