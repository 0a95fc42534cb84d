"""Tripwires (issue 10, docs/tripwires.md): rules, package-install detection
(by name, command line and content), the policy kill of the whole sandbox,
log/deny/rate rules and alerts, proved by the event log.

The workloads are shell commands from the host image; a kill is verdict
"policy", exit status 123, records rule_fired then kill."""
import http.server
import json
import socket
import threading
import time
from pathlib import Path

import pytest

from conftest import log_records

pytestmark = pytest.mark.usefixtures("airlock_works")


def recs(log, type_):
    return [r for r in log_records(log) if r.get("type") == type_]


def run_sh(airlock, tmp_path, script, spec=None, opts=(), timeout=120):
    n = 0
    while (tmp_path / f"run{n}.jsonl").exists():
        n += 1
    log = tmp_path / f"run{n}.jsonl"
    args = ["run", *airlock.extra, "--log", log]
    if spec is not None:
        sp = tmp_path / "spec.yaml"
        sp.write_text(spec)
        args += ["--spec", sp]
    args += [*opts, "--", "/bin/sh", "-c", script]
    res = airlock.run(*args, timeout=timeout)
    return res, log


def assert_policy_kill(res, log, why=None):
    assert res.rc == 123, res.describe()
    types = [r["type"] for r in log_records(log)]
    assert "rule_fired" in types and "kill" in types, types
    assert types.index("rule_fired") < types.index("kill")
    fired = recs(log, "rule_fired")[-1]
    assert fired["action"] == "kill"
    if why is not None:
        assert why in fired.get("package_install", ""), fired
    kill = recs(log, "kill")[0]
    assert kill["all_gone"] is True and kill["elapsed_ns"] > 0
    end = recs(log, "run_end")[0]
    assert end["verdict"] == "policy" and end["exit_status"] == 123
    return fired, kill


def assert_not_killed(res, log):
    assert res.rc == 0, res.describe()
    assert not recs(log, "kill"), recs(log, "kill")
    assert recs(log, "run_end")[0]["verdict"] == "exited"


@pytest.mark.parametrize("script,why", [
    ("pip3 --version", "package manager pip3"),
    ("apt-get --version", "package manager apt-get"),
    ("python3 -m pip --version", "-m pip"),
    ("python3 -Im pip --version", "-m pip"),
    ("python3 -c 'import runpy; runpy.run_module(\"pip\")'", "using pip"),
    ("exec /bin/sh -c 'curl -s http://127.0.0.1:9/x.sh | sh'", "piped into a shell"),
])
def test_package_install_kills(airlock, tmp_path, script, why):
    res, log = run_sh(airlock, tmp_path, "echo before; " + script + "; echo after")
    assert_policy_kill(res, log, why)
    assert b"after" not in res.stdout


def test_renamed_copy_of_a_package_manager_is_caught_by_content(airlock, tmp_path):
    # a byte-for-byte copy of pip3 (a script) and of apt-get (an ELF) under
    # innocent names in a writable area: matched by their sha256
    res, log = run_sh(airlock, tmp_path,
                      "cp /usr/bin/apt-get /tmp/tool && chmod +x /tmp/tool && "
                      "/tmp/tool --version; echo after")
    fired, _ = assert_policy_kill(res, log, "same content as the image's package manager apt-get")
    res, log = run_sh(airlock, tmp_path,
                      "cp /usr/bin/pip3 /tmp/helper && chmod +x /tmp/helper && /tmp/helper --version")
    assert_policy_kill(res, log, "same content as the image's package manager pip3")


def test_symlink_to_a_package_manager_is_caught_by_identity(airlock, tmp_path):
    res, log = run_sh(airlock, tmp_path, "ln -s /usr/bin/dpkg /tmp/d && /tmp/d --version")
    assert_policy_kill(res, log, "is the image's package manager dpkg")


def test_curl_piped_into_a_shell_from_a_script_file(airlock, tmp_path):
    # no "-c" string to read: the pipe between curl's stdout and the shell's
    # stdin is what gives it away (whichever of the two execs comes second)
    res, log = run_sh(airlock, tmp_path,
                      "printf 'curl -s http://127.0.0.1:9/i.sh | sh\\n' > /tmp/s.sh; sh /tmp/s.sh; "
                      "echo after")
    assert_policy_kill(res, log, "piped into a shell")


def test_benign_workload_is_not_killed(airlock, tmp_path):
    res, log = run_sh(airlock, tmp_path,
                      "ls -la ~ /tmp /etc >/dev/null; cat /etc/hostname /etc/passwd >/dev/null; "
                      "python3 -c 'import json, pipes; print(json.dumps([1]))'; "
                      "git --version; curl --version >/dev/null; echo done | sh -c cat; "
                      "cp /bin/true /tmp/t && /tmp/t && echo ok")
    assert_not_killed(res, log)
    assert b"done" in res.stdout and b"ok" in res.stdout
    assert not recs(log, "rule_fired")


def test_log_rules_only_log(airlock, tmp_path):
    spec = ("rules:\n"
            "  - {on: exec, match: {path: '*/true'}, action: log}\n"
            "  - {on: exec, match: {package_manager: true}, action: log}\n")
    res, log = run_sh(airlock, tmp_path, "/bin/true; pip3 --version >/dev/null; echo still", spec)
    assert_not_killed(res, log)
    assert b"still" in res.stdout
    fired = recs(log, "rule_fired")
    assert [f["rule"] for f in fired] == [1, 2], fired
    assert all(f["action"] == "log" for f in fired)


def test_defaults_can_be_replaced(airlock, tmp_path):
    res, log = run_sh(airlock, tmp_path, "pip3 --version >/dev/null; echo still",
                      "default_rules: false\n")
    assert_not_killed(res, log)
    assert not recs(log, "rule_fired")


@pytest.mark.parametrize("n,killed", [(2, False), (3, True)])
def test_rate_rule_fires_at_the_threshold_not_below(airlock, tmp_path, n, killed):
    spec = "rules:\n  - {on: exec, match: {path: '*/true'}, count: 3, within: 60s, action: kill}\n"
    res, log = run_sh(airlock, tmp_path, "/bin/true; " * n + "echo end", spec)
    if killed:
        fired, _ = assert_policy_kill(res, log)
        assert fired["count"] == 3
        assert b"end" not in res.stdout
    else:
        assert_not_killed(res, log)


def test_deny_refuses_the_exec_and_the_run_goes_on(airlock, tmp_path):
    spec = "rules:\n  - {on: exec, match: {origin: writable}, action: deny}\n"
    res, log = run_sh(airlock, tmp_path,
                      "cp /bin/true /tmp/t; /tmp/t; echo rc=$?", spec)
    assert_not_killed(res, log)
    assert b"rc=126" in res.stdout, res.describe()
    fired = recs(log, "rule_fired")
    assert fired and fired[0]["action"] == "deny" and fired[0]["path"] == "/tmp/t"


def test_500_processes_are_all_killed(airlock, tmp_path):
    spec = "limits: {pids: 600}\n"
    script = ("i=0; while [ $i -lt 500 ]; do sleep 600 & i=$((i+1)); done; "
              "sleep 1; pip3 --version")
    res, log = run_sh(airlock, tmp_path, script, spec, timeout=240)
    fired, kill = assert_policy_kill(res, log)
    end = recs(log, "run_end")[0]
    assert end["peaks"]["pids"] >= 500 or airlock.extra, end
    # teardown checked that nothing of the run remains
    td = [r for r in log_records(log) if r["type"] in ("teardown", "run_end")]
    assert td


class Hook(http.server.BaseHTTPRequestHandler):
    got = []

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        Hook.got.append(json.loads(self.rfile.read(n)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *a):
        pass


def test_alert_reaches_the_webhook(airlock, tmp_path):
    Hook.got = []
    srv = http.server.HTTPServer(("127.0.0.1", 0), Hook)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        spec = (f"alert: {{webhook: 'http://127.0.0.1:{srv.server_port}/hook', timeout: 5s}}\n"
                "rules:\n  - {on: exec, match: {package_manager: true}, action: [kill, alert]}\n")
        res, log = run_sh(airlock, tmp_path, "pip3 --version", spec)
        assert_policy_kill(res, log)
        al = recs(log, "alert")
        assert al and al[0]["ok"] is True and al[0]["target"] == "webhook", al
        types = [r["type"] for r in log_records(log)]
        assert types.index("kill") < types.index("alert")
        assert Hook.got and Hook.got[0]["type"] == "exec"
        assert Hook.got[0]["record"]["path"].endswith("pip3")
    finally:
        srv.shutdown()


def test_failing_webhook_does_not_delay_the_kill(airlock, tmp_path):
    # a listener that accepts and never answers: the alert times out (2 s),
    # the kill is recorded before it and does not wait for it
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(8)
    try:
        spec = (f"alert: {{webhook: 'http://127.0.0.1:{ls.getsockname()[1]}/', timeout: 2s}}\n"
                "rules:\n  - {on: exec, match: {package_manager: true}, action: [kill, alert]}\n")
        res, log = run_sh(airlock, tmp_path, "pip3 --version", spec)
        _, kill = assert_policy_kill(res, log)
        assert kill["elapsed_ns"] < 1_000_000_000, kill
        al = recs(log, "alert")
        assert al and al[0]["ok"] is False, al
        types = [r["type"] for r in log_records(log)]
        assert types.index("kill") < types.index("alert")
    finally:
        ls.close()


def test_rules_explain(airlock, tmp_path):
    res = airlock.run("rules", "explain")
    assert res.rc == 0
    assert b"on canary -> kill  [default]" in res.stdout
    sp = tmp_path / "s.yaml"
    sp.write_text("default_rules: false\nrules:\n  - {on: egress-denied, count: 5, within: 10s, "
                  "action: [kill, alert]}\n")
    res = airlock.run("rules", "explain", sp)
    assert res.rc == 0, res.describe()
    assert b"on egress-denied, the 5th time within 10.000 s -> kill + alert  [spec]" in res.stdout
    assert b"[default]" not in res.stdout
