#!/bin/bash
# The gVisor tier's cost (docs/benchmarks.md, "gVisor tier"), one run, same
# machine: start to exit of /bin/true
#   - `airlock run --isolation gvisor -- /bin/true` (airlock's root, trace on)
#   - plain `runsc --network=none run` of a bundle (busybox rootfs, as in
#     bench/make-bundle.sh), and the same with airlock's runsc flags
#     (--rootless --ignore-cgroups inside `unshare -Urmnpf --mount-proc`, a host-/usr root)
#   - `airlock run -- /bin/true` (the namespaces tier)
# and the cost of a syscall inside (bench/syscall_loop.c, getppid and a
# 1-byte read+write, CPU ns per call) under both tiers.
#
#   bench/gvisor.sh [RUNS]      (default 30 per command; run as root)
# AIRLOCK_BIN selects the binary (default build/src/cli/airlock).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
airlock=${AIRLOCK_BIN:-$repo/build/src/cli/airlock}
runs=${1:-30}
[ "$(id -u)" = 0 ] || { echo "gvisor.sh: run as root" >&2; exit 1; }
command -v runsc >/dev/null && command -v hyperfine >/dev/null || {
	echo "gvisor.sh: needs runsc and hyperfine (make bench-deps)" >&2; exit 1; }

tmp=$(mktemp -d /tmp/airlock-gvbench-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
"$here/make-bundle.sh" "$tmp/busybox" >/dev/null

# a bundle shaped like airlock's: host /usr bound read-only, run the way
# airlock runs runsc (root of a user namespace, --rootless, no cgroups)
mkdir -p "$tmp/hostusr/rootfs" "$tmp/state"
(cd "$tmp/hostusr/rootfs" && mkdir -p usr proc dev tmp etc && ln -s usr/bin bin && ln -s usr/lib lib \
	&& ln -s usr/lib64 lib64)
/usr/bin/python3 - "$tmp/busybox/config.json" "$tmp/hostusr/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["root"] = {"path": "rootfs", "readonly": False}
c["mounts"].append({"destination": "/usr", "type": "bind", "source": "/usr",
                    "options": ["rbind", "ro"]})
c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "user"]
c["linux"].pop("uidMappings", None); c["linux"].pop("gidMappings", None)
json.dump(c, open(sys.argv[2], "w"))
PY

cd "$tmp"
export AIRLOCK_BIN=$airlock
# Noisy shared machines: several rounds, the order rotated each round,
# and the median of every command over all its runs.
names=("airlock gvisor" "runsc run (busybox bundle)" "runsc as airlock runs it" "airlock namespaces")
cmds=("$airlock run -q --isolation gvisor -- /bin/true"
	"runsc --root=$tmp/state --network=none run --bundle $tmp/busybox gvb"
	"unshare -Urmnpf --mount-proc runsc --root=$tmp/state2 --rootless --ignore-cgroups --network=none run --bundle $tmp/hostusr gva"
	"$airlock run -q -- /bin/true")
rounds=${ROUNDS:-3}
for r in $(seq 1 "$rounds"); do
	args=()
	for k in 0 1 2 3; do
		i=$(( (k + r) % 4 ))
		args+=(-n "${names[$i]}" "${cmds[$i]}")
	done
	hyperfine -N -i --warmup 2 --runs "$runs" --export-json "$tmp/round$r.json" "${args[@]}" >/dev/null
done
/usr/bin/python3 - "$tmp"/round*.json <<'PY'
import json, statistics, sys
times = {}
for f in sys.argv[1:]:
    for r in json.load(open(f))["results"]:
        times.setdefault(r["command"], []).extend(r["times"])
med = {k: statistics.median(v) * 1000 for k, v in times.items()}
base = med["runsc run (busybox bundle)"]
like = med["runsc as airlock runs it"]
print("| what | median ms | runs | vs runsc run | vs runsc as airlock runs it |")
print("|---|---:|---:|---:|---:|")
for k, v in med.items():
    print(f"| {k} | {v:.1f} | {len(times[k])} | {v / base:.2f}x | {v / like:.2f}x |")
PY

cc -O2 -static -o "$tmp/syscall_loop" "$here/syscall_loop.c"
chmod 755 "$tmp" "$tmp/syscall_loop"
for what in getppid rw1; do
	for tier in namespaces gvisor; do
		printf '%s %s: ' "$tier" "$what"
		"$airlock" run -q --isolation "$tier" -v "$tmp:/b:ro" -- /b/syscall_loop "$what" 200000
	done
	printf 'bare %s: ' "$what"
	"$tmp/syscall_loop" "$what" 200000
done
