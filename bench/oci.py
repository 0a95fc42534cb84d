#!/usr/bin/env python3
"""The OCI runtime face: container start to exit.

1. The runtime alone, over one bundle (bench/make-bundle.sh: busybox-static,
   /bin/true, read-only root): `create; start; wait for the exit; delete`
   with airlock-runc, crun and runc. This driver is a child subreaper, as
   conmon and the containerd shim are, so it waits for the pid each runtime
   writes to --pid-file (airlock: the supervisor; crun/runc: the container's
   process) exactly as a client does.
2. Through podman: `podman run --rm --network=none IMAGE /bin/true` with
   --runtime airlock-runc, crun and runc (private podman storage; the image
   is the same rootfs, imported).

Interleaved rounds, medians, as root; the whole driver runs in a private
mount namespace without /sys/fs/cgroup/unified (crun and podman refuse this
machine's hybrid cgroups otherwise; /work/shared/PEERS.md).

    unshare -m --propagation private sh -c \
        'umount /sys/fs/cgroup/unified; python3 bench/oci.py [ROUNDS] [PODMAN_ROUNDS]'
"""
import ctypes
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
AIRLOCK = Path(os.environ.get("AIRLOCK_BIN", REPO / "build" / "src" / "cli" / "airlock")).resolve()
PR_SET_CHILD_SUBREAPER = 36


def lifecycle(argv0, root, bundle, cid):
    pidf = Path(root) / f"{cid}.pid"
    t0 = time.perf_counter()
    subprocess.run([*argv0, "--root", root, "create", "--bundle", bundle, "--pid-file", str(pidf), cid],
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    pid = int(pidf.read_text())
    subprocess.run([*argv0, "--root", root, "start", cid], check=True, stdout=subprocess.DEVNULL)
    os.waitpid(pid, 0)  # adopted by us, the subreaper
    subprocess.run([*argv0, "--root", root, "delete", cid], check=True, stdout=subprocess.DEVNULL)
    t = time.perf_counter() - t0
    pidf.unlink()
    return t


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    prounds = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.exit("prctl(PR_SET_CHILD_SUBREAPER) failed")
    t = Path(tempfile.mkdtemp(prefix="airlock-bench-oci-", dir="/tmp"))
    t.chmod(0o755)
    try:
        subprocess.run(["sh", str(REPO / "bench" / "make-bundle.sh"), str(t / "bundle")], check=True,
                       stdout=subprocess.DEVNULL)
        (t / "bin").mkdir()
        (t / "bin" / "airlock-runc").symlink_to(AIRLOCK)
        runtimes = {"airlock-runc": [str(t / "bin" / "airlock-runc")], "crun": ["crun"], "runc": ["runc"]}
        times = {k: [] for k in runtimes}
        for i in range(rounds + 3):
            for name, argv0 in runtimes.items():
                root = str(t / ("root-" + name))
                dt = lifecycle(argv0, root, str(t / "bundle"), f"b{i}")
                if i >= 3:  # warm-up
                    times[name].append(dt)
        base = statistics.median(times["crun"])
        print(f"runtime alone: create; start; wait; delete of /bin/true ({rounds} rounds)")
        for name, v in times.items():
            m = statistics.median(v)
            print(f"  {name:14s} median {m*1000:7.2f} ms  p10 {sorted(v)[len(v)//10]*1000:7.2f}"
                  f"  p90 {sorted(v)[len(v)*9//10]*1000:7.2f}  vs crun {m/base:4.2f}x")

        if shutil.which("podman") and prounds > 0:
            pm = ["podman", "--root", str(t / "storage"), "--runroot", str(t / "run"), "--storage-driver", "vfs",
                  "--cgroup-manager=cgroupfs", "--events-backend=file"]
            tar = t / "rootfs.tar"
            subprocess.run(["tar", "-C", str(t / "bundle" / "rootfs"), "-cf", str(tar), "."], check=True)
            subprocess.run([*pm, "import", str(tar), "localhost/bench-oci:1"], check=True, stdout=subprocess.DEVNULL)
            prt = {"airlock-runc": str(t / "bin" / "airlock-runc"), "crun": shutil.which("crun"),
                   "runc": shutil.which("runc")}
            ptimes = {k: [] for k in prt}
            for i in range(prounds + 1):
                for name, path in prt.items():
                    t0 = time.perf_counter()
                    subprocess.run([*pm, "--runtime", path, "run", "--rm", "--network=none", "--ulimit",
                                    "nofile=1024:1024", "--ulimit", "nproc=4096:4096", "localhost/bench-oci:1",
                                    "/bin/true"], check=True, stdout=subprocess.DEVNULL)
                    if i >= 1:
                        ptimes[name].append(time.perf_counter() - t0)
            pbase = statistics.median(ptimes["crun"])
            print(f"podman run --rm --network=none IMAGE /bin/true ({prounds} rounds)")
            for name, v in ptimes.items():
                m = statistics.median(v)
                print(f"  {name:14s} median {m*1000:7.1f} ms  vs crun {m/pbase:4.2f}x")
            subprocess.run([*pm, "system", "reset", "-f"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    finally:
        shutil.rmtree(t, ignore_errors=True)


if __name__ == "__main__":
    main()
