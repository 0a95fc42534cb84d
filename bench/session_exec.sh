#!/bin/bash
# Sessions: the cost of one turn. `airlock exec ID -- /bin/true` into a live
# session against `crun exec`, `runc exec`, `runsc exec` into a running
# container and `nsenter -a` (the floor of entering namespaces); the Python
# client's exec round trip against the CLI alone; supervisor RSS of 50 idle
# sessions. Medians from hyperfine (many runs; this machine is noisy).
#   bench/session_exec.sh [RUNS]          (as root; see /work/shared/PEERS.md)
set -eu
RUNS=${1:-300}
REPO=$(cd "$(dirname "$0")/.." && pwd)
A=${AIRLOCK_BIN:-$REPO/build/src/cli/airlock}
T=$(mktemp -d /tmp/airlock-bench-XXXXXX)
cleanup() {
	"$A" rm --all >/dev/null 2>&1 || true
	[ -n "${CRUN_ID:-}" ] && nsenter --mount="$MNT" crun delete -f "$CRUN_ID" >/dev/null 2>&1 || true
	[ -n "${RUNC_ID:-}" ] && runc delete -f "$RUNC_ID" >/dev/null 2>&1 || true
	[ -n "${RUNSC_ID:-}" ] && runsc delete -force "$RUNSC_ID" >/dev/null 2>&1 || true
	[ -n "${HOLDER:-}" ] && kill "$HOLDER" 2>/dev/null || true
	# the sleep is pid 1 of its pid namespace: SIGTERM is ignored there, and
	# unshare waits for it (holding our stdout open)
	[ -n "${NSPID_IN:-}" ] && kill -KILL "$NSPID_IN" 2>/dev/null || true
	[ -n "${NSPID:-}" ] && kill "$NSPID" 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT

# a bundle whose process sleeps, to exec into
sh "$REPO/bench/make-bundle.sh" "$T/bundle" >/dev/null
python3 - "$T/bundle/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); c["process"]["args"] = ["/bin/sleep", "100000"]
json.dump(c, open(sys.argv[1], "w"))
PY
# crun refuses hybrid cgroups: a private mount namespace without the v2 mount
unshare -m --propagation private sh -c 'umount /sys/fs/cgroup/unified 2>/dev/null; exec sleep infinity' &
HOLDER=$!
sleep 0.3
MNT=/proc/$HOLDER/ns/mnt
CRUN_ID=bench-crun-$$; RUNC_ID=bench-runc-$$; RUNSC_ID=bench-runsc-$$
nsenter --mount="$MNT" crun run -d --bundle "$T/bundle" "$CRUN_ID" </dev/null >/dev/null 2>&1 || CRUN_ID=
runc run -d --bundle "$T/bundle" "$RUNC_ID" </dev/null >/dev/null 2>&1 || RUNC_ID=
# runsc keeps its sandbox's stdio: give it nothing of ours
if [ "${SKIP_RUNSC:-0}" = 1 ]; then RUNSC_ID=; else
	setsid runsc --network=none run -detach --bundle "$T/bundle" "$RUNSC_ID" </dev/null >/dev/null 2>&1 || RUNSC_ID=
fi
unshare -U -r -p -f -m -n -i -u -C --mount-proc sleep 100000 &
NSPID=$!
sleep 0.3
NSPID_IN=$(pgrep -P "$NSPID" sleep || echo "$NSPID")

ID=$("$A" create)
cmds=(-n "airlock exec" "$A exec $ID -- /bin/true"
      -n "nsenter -a" "nsenter -a -t $NSPID_IN /bin/true")
[ -n "$CRUN_ID" ] && cmds+=(-n "crun exec" "nsenter --mount=$MNT crun exec $CRUN_ID /bin/true"
                           -n "nsenter --mount (crun's wrapper alone)" "nsenter --mount=$MNT /bin/true")
[ -n "$RUNC_ID" ] && cmds+=(-n "runc exec" "runc exec $RUNC_ID /bin/true")
[ -n "$RUNSC_ID" ] && cmds+=(-n "runsc exec" "runsc exec $RUNSC_ID /bin/true")
hyperfine -N --warmup 20 --runs "$RUNS" --export-json "$T/exec.json" "${cmds[@]}" >/dev/null 2>&1 || \
hyperfine --warmup 20 --runs "$RUNS" --export-json "$T/exec.json" "${cmds[@]}" >/dev/null
python3 - "$T/exec.json" <<'PY'
import json, statistics, sys
r = json.load(open(sys.argv[1]))["results"]
by = {x["command"]: statistics.median(x["times"]) * 1000 for x in r}
print("| exec into a running sandbox/container | median ms | vs crun exec |")
print("|---|---|---|")
crun = by.get("crun exec")
for k, v in by.items():
    print(f"| {k} | {v:.2f} | {v / crun:.2f}x |" if crun else f"| {k} | {v:.2f} | |")
PY

# the Python client's round trip against the CLI alone
PYTHONPATH=$REPO/clients/python python3 - "$A" "$ID" <<'PY'
import asyncio, statistics, subprocess, sys, time
from airlock_sandbox import Sandbox
a, ident = sys.argv[1], sys.argv[2]
sb = Sandbox(ident, a)
async def py(n):
    t = []
    for _ in range(n):
        t0 = time.perf_counter(); await sb.exec(["/bin/true"]); t.append(time.perf_counter() - t0)
    return t
cli = []
for _ in range(200):
    t0 = time.perf_counter(); subprocess.run([a, "exec", ident, "--json", "--", "/bin/true"], stdout=subprocess.DEVNULL); cli.append(time.perf_counter() - t0)
pyt = asyncio.run(py(200))
print(f"| Python client exec round trip | {statistics.median(pyt)*1000:.2f} ms |")
print(f"| CLI `exec --json` from Python (subprocess.run) | {statistics.median(cli)*1000:.2f} ms |")
PY
"$A" rm "$ID" >/dev/null

# 50 idle sessions: each supervisor's RSS
for i in $(seq 1 50); do "$A" create >/dev/null; done
"$A" ls --json > "$T/ls.json"
python3 - "$T/ls.json" <<'PY'
import json, statistics, sys
rss = []
for s in json.load(open(sys.argv[1])):
    try:
        for l in open("/proc/%d/status" % s["supervisor_pid"]):
            if l.startswith("VmRSS:"):
                rss.append(int(l.split()[1]))
    except (OSError, KeyError):
        pass
print(f"| 50 idle sessions: supervisor RSS median / max | {statistics.median(rss)/1024:.2f} / {max(rss)/1024:.2f} MiB ({len(rss)} sessions) |")
PY
"$A" rm --all >/dev/null
