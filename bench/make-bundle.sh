#!/bin/sh
# Build a tiny OCI bundle in DIR for the crun/runc/runsc startup benchmark:
# a busybox-static rootfs with applet links, and a config.json from
# `crun spec` edited to run /bin/true, no terminal, read-only root.
#   bench/make-bundle.sh DIR [--rootless]
set -eu
dir=${1:?usage: make-bundle.sh DIR [--rootless]}
rootless=${2:-}
busybox=$(command -v busybox || true)
[ -n "$busybox" ] && file -L "$busybox" | grep -q 'statically linked' || {
	echo "make-bundle: needs busybox-static (apt-get install busybox-static)" >&2
	exit 1
}
mkdir -p "$dir/rootfs/bin" "$dir/rootfs/proc" "$dir/rootfs/dev" "$dir/rootfs/sys" "$dir/rootfs/tmp"
cp "$busybox" "$dir/rootfs/bin/busybox"
for applet in true sh sleep cat echo; do
	ln -sf busybox "$dir/rootfs/bin/$applet"
done
cd "$dir"
rm -f config.json
if [ "$rootless" = --rootless ]; then crun spec --rootless; else crun spec; fi
/usr/bin/python3 - config.json <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["process"]["args"] = ["/bin/true"]
c["process"]["terminal"] = False
c["root"] = {"path": "rootfs", "readonly": True}
json.dump(c, open(p, "w"), indent=1)
PY
chmod -R a+rX "$dir"
echo "$dir"
