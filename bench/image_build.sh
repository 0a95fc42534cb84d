#!/bin/bash
# `airlock image build` of the small image of issue 13 (busybox as the shell,
# python3-minimal): wall time of RUNS builds in a row and the digest of each
# (they must all be the same). The first build downloads whatever the .deb
# cache (debs/ under airlock's cache directory) does not hold yet; later ones
# download only the package index.
#
#   bench/image_build.sh [RUNS]
#
# Environment: AIRLOCK_BIN (default build/src/cli/airlock). Needs mmdebstrap and
# the Debian mirror; rootless it needs subordinate ids (docs/images.md).
set -eu -o pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
AIRLOCK=${AIRLOCK_BIN:-$REPO/build/src/cli/airlock}
RUNS=${1:-3}
DIR=$(mktemp -d /tmp/airlock-bench-build-XXXXXX)
trap 'rm -rf "$DIR"' EXIT

cat >"$DIR/small.yaml" <<'YAML'
suite: bookworm
packages: [python3-minimal]
files:
  - {path: /usr/local/bin/task.py, content: "print('task ran')\n", mode: "0755"}
forbid: [compilers, setuid]
name: airlock-bench/small:1
YAML

echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
for i in $(seq "$RUNS"); do
	"$AIRLOCK" image build --json "$DIR/small.yaml" 2>/dev/null |
		python3 -c 'import json,sys; d=json.load(sys.stdin); print("build: %.1f s (mmdebstrap %.1f s, %d entries, %.0f MiB) %s" % (d["elapsed_ms"]/1000, d["mmdebstrap_ms"]/1000, d["entries"], d["bytes"]/2**20, d["digest"]))'
done
"$AIRLOCK" image rm airlock-bench/small:1 >/dev/null
