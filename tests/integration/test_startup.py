"""What a run loads (docs/benchmarks.md, startup): the libraries only some
runs need -- libnftables and the five libraries behind it (proxy mode's
rules), c-ares (the egress proxy's resolver), zlib (gzip/deflate decoding),
gnutls and librelp (tls:// and relp:// sinks) -- are dlopen'ed where they
are used, never linked into airlock. Linked, every run paid for mapping and
relocating them (`airlock --version` went from 1.4 to 2.2 ms).

Evidence, not timing: the binary's DT_NEEDED entries, and the memory maps of
the supervisor while the workload runs (and of the proxy in proxy mode).
"""
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from conftest import descendants, is_rootless

# file-name stems of the optional libraries (libgmp and libjansson come
# with libnftables; nothing else of airlock uses them)
OPTIONAL = ("libnftables.", "libnftnl.", "libmnl.", "libxtables.", "libjansson.", "libgmp.",
            "libcares.", "libz.", "libgnutls.", "librelp.")
NFT_STACK = OPTIONAL[:6]


def mapped_libs(pid):
    """The file names of the shared objects mapped by host pid."""
    names = set()
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            parts = line.split(None, 5)
            if len(parts) == 6 and ".so" in parts[5]:
                names.add(Path(parts[5].strip()).name)
    return names


def optional_in(names, stems=OPTIONAL):
    return sorted(n for n in names if n.startswith(stems))


def comm(pid):
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def cmdline(pid):
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
    except OSError:
        return ""


def start_sleeping_run(airlock, *opts):
    """airlock run -- sleep 30, returned once the sleep runs inside."""
    p = airlock.popen("run", *airlock.extra, *opts, "--", "/bin/sleep", "30")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if p.poll() is not None:
            out, err = p.communicate()
            pytest.fail(f"airlock exited {p.returncode} before the sleep ran: {err!r}")
        if any(comm(pid) == "sleep" for pid in descendants(p.pid)):
            return p
        time.sleep(0.02)
    p.kill()
    p.communicate()
    pytest.fail("the sleep never started inside the sandbox")


def stop(p):
    p.terminate()
    try:
        p.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()


def test_binary_links_none_of_the_optional_libraries(airlock_bin):
    out = subprocess.run(["readelf", "-d", str(airlock_bin)], capture_output=True, text=True,
                         check=True).stdout
    needed = [line.split("[", 1)[1].split("]", 1)[0] for line in out.splitlines()
              if "(NEEDED)" in line]
    assert needed, out
    assert optional_in(needed) == [], f"linked: {needed}"


def test_default_run_maps_none_of_them(airlock, airlock_works):
    """The supervisor of a default (air-gapped) run, while its workload
    sleeps: none of the optional libraries is mapped."""
    p = start_sleeping_run(airlock)
    try:
        libs = mapped_libs(p.pid)
    finally:
        stop(p)
    assert optional_in(libs, ("libc.",)), libs  # the maps were read at all
    assert optional_in(libs) == [], f"mapped by the supervisor: {sorted(libs)}"


def test_proxy_mode_loads_each_library_where_it_is_used(airlock, airlock_works):
    """Proxy mode: the supervisor has libnftables (loaded at plan time for
    the init's rules) but not c-ares; the proxy process (re-executed) has
    c-ares and none of the nftables stack."""
    p = start_sleeping_run(airlock, "--net", "proxy")
    try:
        sup = mapped_libs(p.pid)
        deadline = time.monotonic() + 10
        while True:  # forked, then re-executed: wait for the exec
            proxies = [pid for pid in descendants(p.pid)
                       if cmdline(pid) == "airlock-egress-proxy"]
            if proxies or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        assert len(proxies) == 1, {pid: cmdline(pid) for pid in descendants(p.pid)}
        # the workload does not wait for the proxy (its sockets are bound
        # and listening before it starts): give it time to load c-ares
        while True:
            try:
                prox = mapped_libs(proxies[0])
            except PermissionError:
                prox = None  # rootless: the proxy is not dumpable, its maps are root's
            if prox is None or optional_in(prox, ("libcares.",)) or time.monotonic() > deadline:
                break
            time.sleep(0.02)
    finally:
        stop(p)
    assert optional_in(sup, ("libnftables.",)), sorted(sup)
    assert not optional_in(sup, ("libcares.", "libgnutls.", "librelp.")), sorted(sup)
    if prox is None:
        if is_rootless():
            return
        pytest.fail("the proxy's maps could not be read as root")
    assert optional_in(prox, ("libcares.",)), sorted(prox)
    assert optional_in(prox, NFT_STACK) == [], sorted(prox)


def test_first_exec_is_judged_by_the_rules(airlock, airlock_works, world_tmp):
    """The rules' monitor (and its scan of the image's package managers) is
    opened while the init builds the sandbox, not before the clone: it must
    still judge the workload's very first exec. The command itself is a
    symlink, under an innocent name, to the image's dpkg: caught by
    identity, the run killed by the default rules before dpkg runs."""
    vol = Path(world_tmp) / "vol"
    vol.mkdir()
    vol.chmod(0o755)
    (vol / "tool").symlink_to("/usr/bin/dpkg")
    log = Path(world_tmp) / "run.jsonl"
    r = airlock.run("run", *airlock.extra, "--log", log, "-v", f"{vol}:/v:ro",
                    "--", "/v/tool", "--version")
    assert r.rc == 123, r.describe()
    assert b"Debian" not in r.stdout, r.stdout  # dpkg --version never printed
    recs = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    fired = [x for x in recs if x["type"] == "rule_fired"]
    assert fired and "is the image's package manager dpkg" in fired[0].get("package_install", ""), fired
    execs = [x for x in recs if x["type"] == "exec"]
    assert execs and execs[0]["path"] == "/v/tool", execs[:1]


def test_v1_init_moves_itself_into_the_run_cgroup(airlock, airlock_works, world_tmp, rootless):
    """v1 hosts: the run's "tasks" files come to the init with the second
    go and it writes "0" to each before forking the workload (no RCU wait,
    unlike a move by the supervisor). Evidence: the init and the workload
    are in the run's cgroup in every hierarchy, the supervisor is not, and
    the init kept no fd of a cgroup file (nor does the workload)."""
    if rootless:
        pytest.skip("rootless here has no delegated cgroup (rlimits only)")
    log = Path(world_tmp) / "run.jsonl"
    p = airlock.popen("run", "--log", log, "--", "/bin/sh", "-c",
                      "ls -l /proc/self/fd/ 2>&1; echo up; exec /bin/sleep 30")
    try:
        out = b""
        while b"up\n" not in out:
            line = p.stdout.readline()
            assert line, p.stderr.read()
            out += line
        recs = [json.loads(x) for x in log.read_text().splitlines() if x.strip()]
        cg = recs[0]["protections"]["cgroup"]
        if cg.get("mode") != "v1":
            pytest.skip(f"cgroup mode {cg.get('mode')}: clone3 places the init (CLONE_INTO_CGROUP)")
        deadline = time.monotonic() + 30
        while True:
            kids = descendants(p.pid)
            init = [pid for pid in kids if cmdline(pid) == "airlock-init"]
            sleep = [pid for pid in kids if comm(pid) == "sleep"]
            if sleep or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        assert len(init) == 1 and len(sleep) == 1, {pid: cmdline(pid) for pid in kids}
        for ctl, path in cg["paths"].items():
            procs = Path(path, "cgroup.procs").read_text().split()
            assert str(init[0]) in procs and str(sleep[0]) in procs, (ctl, procs, init, sleep)
            assert str(p.pid) not in procs, (ctl, procs)
        for pid in init + sleep:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                try:
                    target = os.readlink(fd)
                except OSError:
                    continue
                assert "/sys/fs/cgroup" not in target and not target.endswith("/tasks"), \
                    (pid, fd.name, target)
        assert b"cgroup" not in out, out
    finally:
        stop(p)
