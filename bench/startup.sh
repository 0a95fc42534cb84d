#!/bin/bash
# Startup benchmark of `airlock run -- /bin/true` against bare /bin/true,
# unshare, hardened bwrap (+ seccomp), crun, runc and runsc: one run, the
# same machine, interleaved, many iterations. Prints the tables and writes
# them into the "Startup" section of docs/benchmarks.md (the other sections
# of that file are left as they are).
#
#   bench/startup.sh [-n ITERATIONS] [--only NAMES] [--no-doc] [startup.py options]
#
# AIRLOCK_BIN (default build/src/cli/airlock) selects the binary. Run as root.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
doc="$repo/docs/benchmarks.md"
write_doc=1
args=()
for a in "$@"; do
	if [ "$a" = --no-doc ]; then write_doc=0; else args+=("$a"); fi
done

report=$(mktemp /tmp/airlock-startup-XXXXXX.md)
trap 'rm -f "$report"' EXIT
STARTUP_REPORT="$report" /usr/bin/python3 "$here/startup.py" "${args[@]}"

[ "$write_doc" = 1 ] || exit 0
/usr/bin/python3 - "$doc" "$report" <<'PY'
import re, sys
from pathlib import Path
doc, report = Path(sys.argv[1]), Path(sys.argv[2]).read_text()
begin, end = "<!-- startup:begin (bench/startup.sh writes this) -->", "<!-- startup:end -->"
section = f"## Startup\n\n{begin}\n{report}{end}\n"
text = doc.read_text() if doc.exists() else (
    "# Benchmarks\n\nTimings from `bench/`, measured on this kind of machine; every figure says "
    "how it was measured. A benchmark is not a test: nothing here is a pass/fail threshold.\n\n")
if begin in text and end in text:
    text = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda m: f"{begin}\n{report}{end}",
                  text, flags=re.S)
elif "## Startup" in text:
    text = text.replace("## Startup\n", section.rstrip("\n") + "\n", 1)
else:
    text = text.rstrip("\n") + "\n\n" + section
doc.write_text(text)
print(f"wrote {doc}")
PY
