#!/bin/bash
# Chaos overhead: what a syscall named in chaos.syscalls costs (it goes to the
# supervisor and back), and that an unrelated hot syscall costs nothing extra.
# The probe times N getpid calls (never supervised) and N getppid calls in one
# process; each round runs it once without chaos and once with a chaos spec
# naming getppid (a rule that never fires: every call is supervised and
# continued, the common case), interleaved, same machine, same binary.
#
#   bench/chaos_overhead.sh [-n ROUNDS] [-c CALLS] [--no-doc]
#
# Prints a table and writes it into the "Chaos overhead" section of
# docs/benchmarks.md. AIRLOCK_BIN / AIRLOCK_PROBE select the binaries.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
airlock=${AIRLOCK_BIN:-$repo/build/src/cli/airlock}
probe=${AIRLOCK_PROBE:-$repo/build/tests/probe/probe}
rounds=7 calls=200000 write_doc=1
while [ $# -gt 0 ]; do
	case "$1" in
	-n) rounds=$2; shift 2 ;;
	-c) calls=$2; shift 2 ;;
	--no-doc) write_doc=0; shift ;;
	*) echo "usage: $0 [-n ROUNDS] [-c CALLS] [--no-doc]" >&2; exit 2 ;;
	esac
done
work=$(mktemp -d /tmp/airlock-chaos-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
cp "$probe" "$work/probe"
chmod 755 "$work/probe"
printf 'chaos:\n  seed: 1\n' > "$work/none.yaml"   # a chaos section with nothing diverted
printf 'chaos:\n  seed: 1\n  syscalls:\n    - {syscall: getppid, errno: EIO, every: 1000000000000}\n' \
	> "$work/named.yaml"
extra=()
[ "$(id -u)" = 0 ] || extra=(--allow-degraded cgroup)
for i in $(seq "$rounds"); do
	for mode in plain none named; do
		spec=()
		[ "$mode" = plain ] || spec=(--spec "$work/$mode.yaml")
		"$airlock" run -q "${extra[@]}" "${spec[@]}" -v "$work:/b:ro" -- /b/probe bench-calls "$calls" \
			| sed -n "s/^/$mode /p" >> "$work/out"
	done
done
report=$(/usr/bin/python3 - "$work/out" "$calls" "$rounds" <<'PY'
import json, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    mode, js = line.split(" ", 1)
    r = json.loads(js)
    rows.setdefault(mode, []).append(r)
calls, rounds = int(sys.argv[2]), int(sys.argv[3])
def med(mode, key):
    return statistics.median(r[key] for r in rows[mode]) / calls
names = {"plain": "no chaos section", "none": "chaos section, no syscall named",
         "named": "chaos naming getppid (never fires)"}
print(f"| run | getpid (unrelated, ns/call) | getppid (ns/call) |")
print(f"| --- | ---: | ---: |")
for m in ("plain", "none", "named"):
    print(f"| {names[m]} | {med(m, 'getpid_ns_total'):.0f} | {med(m, 'getppid_ns_total'):.0f} |")
print()
print(f"Median of {rounds} rounds, {calls} calls each, one process; the three runs interleaved.")
PY
)
echo "$report"
[ "$write_doc" = 1 ] || exit 0
/usr/bin/python3 - "$repo/docs/benchmarks.md" "$report" "$(uname -r)" "$(nproc)" <<'PY'
import datetime, sys
from pathlib import Path
doc, report, kernel, cpus = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
begin, end = "<!-- chaos:begin (bench/chaos_overhead.sh writes this) -->", "<!-- chaos:end -->"
text = doc.read_text()
body = (f"{begin}\n_{datetime.date.today()}, kernel {kernel}, {cpus} CPUs_\n\n{report}\n{end}")
if begin in text:
    a, rest = text.split(begin, 1)
    text = a + body + rest.split(end, 1)[1]
else:
    text = text.rstrip("\n") + "\n\n## Chaos overhead\n\n" + \
        "A syscall named in `chaos.syscalls` goes to the supervisor and back (a seccomp\n" + \
        "user-notification round trip plus the policy check, the rule and a CONTINUE);\n" + \
        "every other syscall keeps its in-kernel path (docs/chaos.md).\n\n" + body + "\n"
doc.write_text(text)
PY
