#!/bin/bash
# Image digest on run start (issue 13): what computing run_start.image_digest
# costs for a 500 MiB image directory, cold (no digest cache: every byte is
# hashed) and warm (the cache vouches for unchanged inodes: one fstatat per
# entry), and what it adds to a whole `airlock run` start.
#
#   bench/image_digest.sh [FILES] [FILE_KIB] [RUNS]
#
# Defaults: 5000 files of 100 KiB (~500 MiB) in 50 directories, 20 runs.
# Environment: AIRLOCK_BIN (default build/src/cli/airlock), BENCH_DIR (default
# a fresh directory under /var/tmp, removed at the end).
set -eu -o pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
AIRLOCK=${AIRLOCK_BIN:-$REPO/build/src/cli/airlock}
FILES=${1:-5000}
KIB=${2:-100}
RUNS=${3:-20}
DIR=${BENCH_DIR:-$(mktemp -d /var/tmp/airlock-bench-image-XXXXXX)}
CACHE=$(mktemp -d /var/tmp/airlock-bench-cache-XXXXXX)
trap 'rm -rf "$DIR" "$CACHE"' EXIT

# rootless runs keep their cache under $XDG_CACHE_HOME: a private one here
export XDG_CACHE_HOME=$CACHE

echo "making $FILES files of $KIB KiB under $DIR ..."
python3 - "$DIR" "$FILES" "$KIB" <<'EOF'
import os, sys
d, n, kib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
block = os.urandom(kib * 1024)
for i in range(n):
    sub = os.path.join(d, "data", "d%02d" % (i % 50))
    os.makedirs(sub, exist_ok=True)
    with open(os.path.join(sub, "f%05d" % i), "wb") as f:
        f.write(block[i % 997:] + block[:i % 997])  # distinct contents
EOF
# a runnable root: busybox (static) for `airlock run`
mkdir -p "$DIR/bin"
if [ -x /bin/busybox ]; then
	cp /bin/busybox "$DIR/bin/busybox"
	ln -sf busybox "$DIR/bin/true"
fi
chmod -R a+rX "$DIR"
du -sh --apparent-size "$DIR"
sleep 2.2 # past the racy window (files changed within 2 s are always rehashed)

field() { python3 -c "import json,sys; print(json.loads(sys.stdin.read())['$1'])"; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo
echo "cold (--no-cache: every byte hashed), 3 runs, ms:"
for i in 1 2 3; do
	"$AIRLOCK" image digest --no-cache --json "$DIR" | field elapsed_ns
done | awk '{printf "  %.1f\n", $1/1e6}'

"$AIRLOCK" image digest --json "$DIR" >/dev/null # fills the cache
sleep 0.1
echo "warm (cache hit, image unchanged), median of $RUNS, ms (in-process, the run-start code path):"
for i in $(seq "$RUNS"); do
	"$AIRLOCK" image digest --json "$DIR" | field elapsed_ns
done | median | awk '{printf "  %.2f\n", $1/1e6}'
"$AIRLOCK" image digest --json "$DIR"

echo "reference: find -size (one fstatat per entry, no hashing, includes exec), median of 5, ms:"
for i in 1 2 3 4 5; do
	s=$(date +%s%N)
	find "$DIR" -size -1G -printf '' >/dev/null
	e=$(date +%s%N)
	echo $((e - s))
done | median | awk '{printf "  %.2f\n", $1/1e6}'
echo "one file changed (append), then warm again, ms:"
echo x >>"$DIR/data/d00/f00000"
"$AIRLOCK" image digest --json "$DIR" | field elapsed_ns | awk '{printf "  changed: %.2f\n", $1/1e6}'

echo "host digest (image: host), median of $RUNS, ms:"
"$AIRLOCK" image digest --json host >/dev/null
for i in $(seq "$RUNS"); do
	"$AIRLOCK" image digest --json host | field elapsed_ns
done | median | awk '{printf "  %.2f\n", $1/1e6}'

if [ -x "$DIR/bin/busybox" ]; then
	extra=()
	[ "$(id -u)" = 0 ] || extra=(--allow-degraded cgroup)
	small=$(mktemp -d /var/tmp/airlock-bench-small-XXXXXX)
	mkdir -p "$small/bin" && cp /bin/busybox "$small/bin/" && ln -s busybox "$small/bin/true"
	chmod -R a+rX "$small"
	sleep 2.2
	for img in "$small" "$DIR"; do
		"$AIRLOCK" run "${extra[@]}" --image "$img" -- /bin/true
		for i in $(seq "$RUNS"); do
			s=$(date +%s%N)
			"$AIRLOCK" run "${extra[@]}" --image "$img" -- /bin/true
			e=$(date +%s%N)
			echo $((e - s))
		done | median | awk -v img="$img" '{printf "airlock run --image %s -- /bin/true: median %.1f ms\n", img, $1/1e6}'
	done
	rm -rf "$small"
fi
