#!/usr/bin/python3
"""Startup benchmark: `airlock run -- /bin/true` against its peers, in one
run on the same machine, interleaved (every iteration runs every peer once,
in a shuffled order), many iterations; medians, p90 and ratios to hardened
bwrap. Also the supervisor's peak RSS while a workload sleeps.

Run it through bench/startup.sh (which finds the build and writes the
results into docs/benchmarks.md). Needs root for the OCI runtimes; peers that
are missing or fail are reported as such, never silently dropped.

Every command is started the same way (subprocess without preexec_fn, i.e.
vfork + exec), so the spawning cost is the same for all and shows in the bare
/bin/true row. crun needs a wrapper here (nsenter into a mount namespace
without the cgroup v2 hierarchy); the wrapper alone has its own row.
"""
import argparse
import datetime
import json
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

BWRAP_HARDENED = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
                  "--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin",
                  "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
                  "--symlink", "usr/sbin", "/sbin", "--proc", "/proc", "--dev", "/dev",
                  "--tmpfs", "/tmp", "--clearenv", "--setenv", "PATH", "/usr/bin"]



class Peer:
    def __init__(self, name, argv, note="", pass_fds=(), rewind=None):
        self.name = name
        self.argv = argv      # items may be callables (fresh container ids)
        self.note = note
        self.pass_fds = pass_fds
        self.rewind = rewind  # fd to seek to 0 before each run (bwrap reads --seccomp FD)
        self.samples = []
        self.cpu = []
        self.error = None

    def run_once(self, cwd):
        argv = [a() if callable(a) else a for a in self.argv]
        if self.rewind is not None:
            os.lseek(self.rewind, 0, os.SEEK_SET)
        # no preexec_fn: Python then spawns with vfork, the cheapest way, the same for all
        t0 = time.perf_counter_ns()
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, cwd=cwd,
                             pass_fds=self.pass_fds, close_fds=True)
        _, status, ru = os.wait4(p.pid, 0)
        t1 = time.perf_counter_ns()
        p.returncode = os.waitstatus_to_exitcode(status)
        err = p.stderr.read()
        p.stderr.close()
        if p.returncode != 0:
            raise RuntimeError(f"exit {p.returncode}: {err.decode(errors='replace').strip()[:300]}")
        # CPU time of the process and every descendant it waited for: far less
        # sensitive to other load on the machine than wall time
        self.cpu.append((ru.ru_utime + ru.ru_stime) * 1e3)
        return (t1 - t0) / 1e6


def pct(xs, q):
    xs = sorted(xs)
    k = (len(xs) - 1) * q
    f = int(k)
    c = min(f + 1, len(xs) - 1)
    return xs[f] + (xs[c] - xs[f]) * (k - f)


def counter():
    n = [0]

    def next_id():
        n[0] += 1
        return f"bench-{os.getpid()}-{n[0]}"
    return next_id


def private_cgroup_mntns():
    """crun refuses hybrid cgroups: a mount namespace where
    /sys/fs/cgroup/unified is unmounted (nothing changes on the host)."""
    holder = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c",
                               "umount /sys/fs/cgroup/unified 2>/dev/null; echo ready; exec sleep infinity"],
                              stdout=subprocess.PIPE)
    holder.stdout.readline()
    return holder, f"/proc/{holder.pid}/ns/mnt"


def peak_rss_kib(argv, settle=0.6):
    """VmHWM of the process we start (the supervisor), read while its
    workload sleeps."""
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    time.sleep(settle)
    hwm = rss = None
    try:
        with open(f"/proc/{p.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
                elif line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
    except OSError:
        pass
    _, err = p.communicate(timeout=60)
    return hwm, rss, p.returncode, err.decode(errors="replace").strip()[:200]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--airlock", default=os.environ.get("AIRLOCK_BIN",
                                                         str(REPO / "build/src/cli/airlock")))
    ap.add_argument("-n", "--iterations", type=int, default=200)
    ap.add_argument("--runsc-iterations", type=int, default=None,
                    help="runsc is ~30x slower; default: iterations/4")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", help="write raw results here")
    ap.add_argument("--only", help="comma-separated peer names")
    ap.add_argument("--rootless-user", default=os.environ.get("AIRLOCK_TEST_USER", "airlock-test"),
                    help="also time rootless airlock and bwrap as this user (setpriv wrapper on "
                         "both, and alone); '' to skip")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("startup.py: run as root (the OCI runtimes and the rootful airlock need it)")

    tmp = Path(tempfile.mkdtemp(prefix="airlock-bench-"))
    os.chmod(tmp, 0o755)
    holder = None
    peers = []
    try:
        subprocess.run([str(HERE / "make-bundle.sh"), str(tmp / "bundle")], check=True,
                       stdout=subprocess.DEVNULL)
        bundle = str(tmp / "bundle")
        subprocess.run(["cc", "-O2", "-o", str(tmp / "seccomp-bpf"), str(HERE / "seccomp-bpf.c"),
                        "-lseccomp"], check=True)
        subprocess.run([str(tmp / "seccomp-bpf"), str(tmp / "filter.bpf")], check=True)
        bpf_fd = os.open(tmp / "filter.bpf", os.O_RDONLY)
        os.set_inheritable(bpf_fd, True)
        holder, mntns = private_cgroup_mntns()
        nid = counter()

        true = shutil.which("true") or "/bin/true"
        peers = [
            Peer("bare /bin/true", [true]),
            Peer("unshare (user+7 ns)", ["unshare", "-U", "-r", "-p", "-f", "-m", "-n", "-i", "-u", "-C",
                                         "-T", true]),
            Peer("bwrap hardened", BWRAP_HARDENED + ["/bin/true"]),
            Peer("bwrap hardened + seccomp", BWRAP_HARDENED + ["--seccomp", str(bpf_fd), "/bin/true"],
                 pass_fds=(bpf_fd,), rewind=bpf_fd,
                 note="deny list of 53 syscalls (bench/seccomp-bpf.c)"),
            Peer("airlock run", [args.airlock, "run", "--", "/bin/true"], note="defaults"),
            Peer("airlock --version", [args.airlock, "--version"],
                 note="no sandbox: exec + dynamic loading of airlock's libraries only"),
            Peer("nsenter --mount /bin/true", ["nsenter", f"--mount={mntns}", true],
                 note="the wrapper crun needs here, alone: subtract it from crun"),
            Peer("crun run", ["nsenter", f"--mount={mntns}", "crun", "run", "--bundle", bundle, nid],
                 note="via nsenter into a mount ns without the v2 hierarchy (hybrid work-around)"),
            Peer("runc run", ["runc", "run", "--bundle", bundle, nid]),
            Peer("runsc run", ["runsc", "--network=none", "run", "--bundle", bundle, nid],
                 note="ptrace platform"),
        ]
        if args.rootless_user:
            import pwd
            try:
                pw = pwd.getpwnam(args.rootless_user)
                wrap = ["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--clear-groups",
                        "env", "-i", "PATH=/usr/bin:/bin"]
                peers += [
                    Peer("setpriv wrapper alone (rootless)", wrap + [true],
                         note="subtract from the rootless rows"),
                    Peer("bwrap hardened (rootless)", wrap + BWRAP_HARDENED + ["/bin/true"]),
                    Peer("airlock run (rootless)", wrap + [args.airlock, "run", "--allow-degraded",
                                                          "cgroup", "--", "/bin/true"],
                         note="no delegated cgroup here: --allow-degraded cgroup (rlimits only)"),
                ]
            except KeyError:
                print(f"startup.py: no user {args.rootless_user}: rootless rows skipped", file=sys.stderr)
        if args.only:
            keep = set(args.only.split(","))
            peers = [p for p in peers if p.name in keep or p.name.split()[0] in keep]
        if not Path(args.airlock).exists():
            for p in peers:
                if p.name == "airlock run":
                    p.error = f"{args.airlock} not found"
        for p in peers:
            if p.error is None and shutil.which(p.argv[0]) is None:
                p.error = f"{p.argv[0]}: not installed"

        # warm-up, and find out which peers work at all
        for p in peers:
            if p.error:
                continue
            try:
                for _ in range(args.warmup):
                    p.run_once(str(tmp))
            except Exception as e:
                p.error = str(e)
            p.cpu = []

        load_before = open("/proc/loadavg").read().split()[:3]
        rng = random.Random(args.seed)
        runsc_every = max(1, args.iterations // (args.runsc_iterations or max(1, args.iterations // 4)))
        t_start = time.time()
        for i in range(args.iterations):
            order = [p for p in peers if not p.error]
            if i % runsc_every:
                order = [p for p in order if p.name != "runsc run"]
            rng.shuffle(order)
            for p in order:
                try:
                    p.samples.append(p.run_once(str(tmp)))
                except Exception as e:
                    p.error = f"iteration {i}: {e}"
        elapsed = time.time() - t_start
        args.load = (load_before, open("/proc/loadavg").read().split()[:3])

        # supervisor peak RSS while `sleep 1` runs
        rss = {}
        sleep_bin = shutil.which("sleep") or "/bin/sleep"
        rss_cmds = {
            "airlock run": [args.airlock, "run", "--", sleep_bin, "1"],
            "bwrap hardened": BWRAP_HARDENED + [sleep_bin, "1"],
        }
        for name, argv in rss_cmds.items():
            if any(p.name == name and not p.error for p in peers):
                rss[name] = peak_rss_kib(argv)
        if Path(args.airlock).exists():
            # the floor: what loading the binary and its libraries costs, no sandbox.
            # /usr/bin/time forks from a small process: a vfork from this Python
            # process would count Python's own RSS in ru_maxrss.
            t = subprocess.run(["/usr/bin/time", "-f", "%M", args.airlock, "--version"],
                               capture_output=True, text=True)
            kib = int(t.stderr.strip().splitlines()[-1]) if t.returncode == 0 else None
            p = t
            rss["airlock --version (libraries loaded, no run)"] = (kib, None, p.returncode, "")

        report(peers, rss, args, elapsed, tmp)
        if args.json:
            Path(args.json).write_text(json.dumps(
                {p.name: {"samples_ms": p.samples, "error": p.error} for p in peers}, indent=1))
    finally:
        if holder:
            holder.kill()
            holder.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def machine():
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{cpu}, {os.cpu_count()} CPUs, {mem:.0f} GiB, Linux {platform.release()}"


def versions():
    out = []
    for cmd in (["bwrap", "--version"], ["crun", "--version"], ["runc", "--version"],
                ["runsc", "--version"]):
        try:
            v = subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.splitlines()[0]
            out.append(v.strip())
        except Exception:
            pass
    return "; ".join(out)


def report(peers, rss, args, elapsed, tmp):
    base = next((p for p in peers if p.name == "bwrap hardened" and p.samples), None)
    base_med = statistics.median(base.samples) if base else None
    base_cpu = statistics.median(base.cpu) if base and base.cpu else None
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    rev = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True).stdout.strip()
    lines = [
        f"Measured {now} by `bench/startup.sh`, as root; airlock {args.airlock} built from the work "
        f"tree at commit {rev or '?'}.",
        f"Machine: {machine()}. Peers: {versions()}.",
        f"{args.iterations} interleaved iterations (shuffled order each, seed {args.seed}; "
        f"runsc in every {max(1, args.iterations // (args.runsc_iterations or max(1, args.iterations // 4)))}"
        f"th), {args.warmup} warm-up runs each, {elapsed:.0f} s in all. Wall time of spawn+wait "
        f"(vfork+exec) from a Python driver: the spawn cost is in every row (see bare /bin/true). "
        f"CPU: user+sys of the process and all it waited for (wait4 rusage); kernel work done "
        f"asynchronously (e.g. network namespace teardown) is in neither. "
        f"Load average (1/5/15 min) before: {' '.join(args.load[0])}, after: {' '.join(args.load[1])} "
        f"on {os.cpu_count()} CPUs -- other work on the machine inflates every row; compare ratios.",
        "",
        "| what | runs | median ms | p90 ms | ratio to bwrap hardened (median) | CPU ms (user+sys, median) | CPU ratio | note |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for p in peers:
        if p.samples:
            med = statistics.median(p.samples)
            ratio = f"{med / base_med:.2f}x" if base_med else "-"
            cpu = statistics.median(p.cpu) if p.cpu else None
            cpu_s = f"{cpu:.2f}" if cpu is not None else "-"
            cpu_r = f"{cpu / base_cpu:.2f}x" if cpu is not None and base_cpu else "-"
            lines.append(f"| {p.name} | {len(p.samples)} | {med:.2f} | {pct(p.samples, 0.9):.2f} | "
                         f"{ratio} | {cpu_s} | {cpu_r} | {p.note}{'; ' if p.note and p.error else ''}"
                         f"{'FAILED later: ' + p.error if p.error else ''} |")
        else:
            lines.append(f"| {p.name} | 0 | - | - | - | - | - | did not run: {p.error} |")
    if rss:
        lines += ["", "Supervisor memory while the workload sleeps (`/proc/PID/status` of the "
                  "process started, ~0.6 s in; the last row: `/usr/bin/time -f %M airlock --version`):", "",
                  "| supervisor | peak RSS (VmHWM) | RSS | note |", "|---|---:|---:|---|"]
        for name, (hwm, cur, rc, err) in rss.items():
            fmt = lambda k: f"{k / 1024:.1f} MiB" if k else "?"
            lines.append(f"| {name} | {fmt(hwm)} | {fmt(cur)} | "
                         f"{'' if rc == 0 else f'exit {rc}: {err}'} |")
    text = "\n".join(lines) + "\n"
    print(text)
    out = os.environ.get("STARTUP_REPORT")
    if out:
        Path(out).write_text(text)


if __name__ == "__main__":
    main()
